//! A stand-in for the X-Ray daemon Lambda runs: a UDP listener on a free loopback port that
//! keeps every segment document it receives (a JSON header line, then the document).

use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(Debug)]
pub struct XrayDaemon {
    /// `127.0.0.1:<port>`, for `AWS_XRAY_DAEMON_ADDRESS`.
    pub address: String,
    documents: Arc<Mutex<Vec<Value>>>,
}

impl XrayDaemon {
    pub fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("a loopback port for the daemon");
        socket.set_read_timeout(Some(Duration::from_millis(100))).expect("a read timeout");
        let address = socket.local_addr().expect("bound").to_string();
        let documents = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::downgrade(&documents);
        std::thread::spawn(move || {
            let mut buffer = vec![0; 70_000];
            // Until the daemon is dropped.
            while let Some(documents) = kept.upgrade() {
                let Ok(length) = socket.recv(&mut buffer) else { continue };
                let text = String::from_utf8_lossy(&buffer[..length]).into_owned();
                let document = match text.split_once('\n') {
                    Some((header, document))
                        if serde_json::from_str::<Value>(header).ok()
                            == Some(json!({"format": "json", "version": 1})) =>
                    {
                        serde_json::from_str(document).unwrap_or_else(|_| json!({"unreadable": document}))
                    }
                    _ => json!({"unreadable": text}),
                };
                documents.lock().expect("documents").push(document);
            }
        });
        Self { address, documents }
    }

    /// Everything received once nothing more has come for half a second (a process sends
    /// its last subsegments as its spans close, around its answer).
    pub fn documents(&self) -> Vec<Value> {
        let mut seen = usize::MAX;
        let started = Instant::now();
        loop {
            let now = self.documents.lock().expect("documents").len();
            if now == seen || started.elapsed() > Duration::from_secs(10) {
                return self.documents.lock().expect("documents").clone();
            }
            seen = now;
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Forgets what was received (between invocations).
    pub fn clear(&self) {
        self.documents.lock().expect("documents").clear();
    }
}

/// A dispatch for one test's spans, safe beside the other tests of the process.
///
/// While exactly one `Dispatch` exists in a process, tracing-core asks the *current thread's*
/// subscriber whether a callsite is wanted the first time the callsite is reached: another
/// test's thread, with none, caches "never" and the callsite stays silent for the process
/// (tokio-rs/tracing#3611, #2874). With a second live dispatch it asks every registered one.
/// The functions set one global subscriber at start and never meet this.
#[derive(Debug)]
pub struct TestDispatch {
    pub dispatch: tracing::Dispatch,
    _second: tracing::Dispatch,
}

impl TestDispatch {
    pub fn new(subscriber: impl tracing::Subscriber + Send + Sync + 'static) -> Self {
        let _second = tracing::Dispatch::new(tracing_subscriber::registry());
        Self { dispatch: tracing::Dispatch::new(subscriber), _second }
    }
}

/// A new trace for one invocation, as Lambda starts one: `(root, Lambda's segment id)`.
pub fn new_trace() -> (String, String) {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let random = format!("{}{}", shared::xray::new_segment_id(), shared::xray::new_segment_id());
    (format!("1-{seconds:08x}-{}", &random[..24]), shared::xray::new_segment_id())
}

/// The runtime's span for one invocation in a new sampled trace, as Lambda's active tracing
/// gives it: for the handlers the tests and the demo call in process.
pub fn lambda_invocation(request_id: &str) -> tracing::Span {
    let (root, parent) = new_trace();
    let header = format!("Root={root};Parent={parent};Sampled=1");
    tracing::info_span!("Lambda runtime invoke", requestId = request_id, xrayTraceId = header.as_str())
}
