//! A local Lambda that behaves like the real one where it matters to the functions: the
//! real binary (the artifact `cargo lambda build --release` makes, as `make package`
//! deploys it) run as a separate process against a Lambda Runtime API served here.
//!
//! - Each invocation gets a deadline (`Lambda-Runtime-Deadline-Ms`); a process that has
//!   not answered by then is killed, as Lambda kills it at its timeout, and that counts as
//!   an error. The next invocation starts a new process (a cold start).
//! - A process that exits (an abort, a crash) while an invocation is in flight answers
//!   nothing: that invocation is `Crashed`.
//! - The process's peak resident memory (`VmHWM` from `/proc/<pid>/status`) is sampled
//!   while it works, so a test can hold it to the memory size it was told it has.
//! - It is held to the function's memory size: in a cgroup of its own with the memory size
//!   as a hard limit (the kernel kills it past that, as Lambda does), cgroup v1 or v2, or,
//!   where no cgroup can be had (an ordinary user without a delegated cgroup), by
//!   measuring its peak and failing the invocation past the memory size
//!   ([`confinement`] says how, and each run says which). Optionally, Lambda's CPU
//!   share: one vCPU per 1,769 MB, which needs a cgroup; without one the runner fails,
//!   saying so, rather than run without the limit.
//!
//! - `invoke_async` is Lambda's asynchronous invoke (EventBridge Scheduler, S3, SNS): a
//!   function error, a timeout or a crash is retried up to twice more with the same event.
//!   Lambda waits about a minute, then two, between attempts; this runner does not wait.
//!
//! SQS redelivery is the caller's loop; one process serves one invocation at a time, as in
//! Lambda.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use super::workspace_root;

pub mod confinement;
pub use confinement::Confinement;

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function returned this result.
    Response(Value),
    /// The function reported an error (Lambda's `errorType` and `errorMessage`).
    Error { error_type: String, message: String },
    /// No answer before the deadline: the process was killed.
    TimedOut,
    /// The process exited without answering (an abort, a crash, running out of memory).
    Crashed(String),
}

impl Outcome {
    /// The function's result; panics, with the outcome and the process's log, otherwise.
    pub fn response(self, log: &str) -> Value {
        match self {
            Outcome::Response(value) => value,
            other => panic!("expected a response, got {other:?}; the function's log:\n{log}"),
        }
    }
}

/// One invocation's outcome, how long it took, and the process's peak memory so far.
#[derive(Debug, Clone)]
pub struct Invoked {
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// `VmHWM` of the process that served it, in KiB (the most it ever held resident).
    pub peak_rss_kib: u64,
}

struct Pending {
    request_id: String,
    payload: Vec<u8>,
    deadline_ms: u64,
    trace_header: Option<String>,
}

enum Reply {
    Response(Vec<u8>),
    Error(Vec<u8>),
}

#[derive(Default)]
struct Api {
    replies: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    init_error: Mutex<Option<String>>,
}

/// The limits Lambda puts on a function.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_mb: u32,
    /// Also limit the CPU to the share the memory size buys (slower; for benchmarks and
    /// tests of timing). Memory is always limited.
    pub cpu_share: bool,
}

/// A function: its binary, its environment, and the process serving it (if warm).
pub struct LocalLambda {
    binary: PathBuf,
    confinement: Confinement,
    memory_mb: u32,
    env: Vec<(String, String)>,
    api_address: String,
    api: Arc<Api>,
    invocations: mpsc::UnboundedSender<Pending>,
    child: Mutex<Option<Child>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for LocalLambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLambda").field("binary", &self.binary).field("api", &self.api_address).finish()
    }
}

impl LocalLambda {
    /// Serves the Runtime API on a free loopback port. The process starts at the first
    /// invocation. `env` is the function's configuration (the template's `Environment`),
    /// added to Lambda's own variables; `memory_mb` is the function's memory size.
    pub async fn start(binary: PathBuf, limits: Limits, env: &[(&str, &str)]) -> Self {
        Self::start_confined(binary, limits, env, Confinement::for_limits(limits)).await
    }

    /// [`LocalLambda::start`] held to its memory size in a given way (a test of the runner
    /// itself runs both ways on one machine).
    pub async fn start_confined(
        binary: PathBuf,
        limits: Limits,
        env: &[(&str, &str)],
        confinement: Confinement,
    ) -> Self {
        let memory_mb = limits.memory_mb;
        assert!(
            binary.is_file(),
            "{} is missing: `make test` builds it with `cargo lambda build --release` (the build `make package` deploys)",
            binary.display()
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port for the runtime API");
        let api_address = listener.local_addr().expect("bound").to_string();
        let api = Arc::new(Api::default());
        let (invocations, queue) = mpsc::unbounded_channel();
        let queue = Arc::new(tokio::sync::Mutex::new(queue));
        let served = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, served.clone(), queue.clone()));
            }
        });
        let name = binary.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("function");
        let mut full_env: Vec<(String, String)> = [
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/local"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "local"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        full_env.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(), memory_mb.to_string()));
        full_env.push(("AWS_LAMBDA_RUNTIME_API".to_owned(), api_address.clone()));
        full_env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Self {
            binary,
            confinement,
            memory_mb,
            env: full_env,
            api_address,
            api,
            invocations,
            child: Mutex::new(None),
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Invokes the function with `payload`, giving it `timeout`, as Lambda does.
    pub async fn invoke(&self, payload: &Value, timeout: Duration) -> Invoked {
        self.invoke_as(&new_request_id(), payload, timeout, None).await
    }

    /// [`LocalLambda::invoke`] in a trace: `trace_header` is what Lambda gives the runtime for
    /// the invocation (`Lambda-Runtime-Trace-Id`: `Root=...;Parent=...;Sampled=1`).
    pub async fn invoke_traced(&self, payload: &Value, timeout: Duration, trace_header: &str) -> Invoked {
        self.invoke_as(&new_request_id(), payload, timeout, Some(trace_header)).await
    }

    /// One invocation under a given request id.
    async fn invoke_as(
        &self,
        request_id: &str,
        payload: &Value,
        timeout: Duration,
        trace_header: Option<&str>,
    ) -> Invoked {
        let started = std::time::Instant::now();
        let pid = self.ensure_running();
        let request_id = request_id.to_owned();
        let deadline = SystemTime::now() + timeout;
        let deadline_ms =
            u64::try_from(deadline.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(0);
        let (sender, mut reply) = oneshot::channel();
        self.api.replies.lock().expect("replies").insert(request_id.clone(), sender);
        let payload = serde_json::to_vec(payload).expect("a JSON payload");
        self.invocations
            .send(Pending {
                request_id: request_id.clone(),
                payload,
                deadline_ms,
                trace_header: trace_header.map(str::to_owned),
            })
            .expect("the runtime API is serving");

        let mut peak_rss_kib = 0;
        let outcome = loop {
            peak_rss_kib = peak_rss_kib.max(vm_hwm_kib(pid).unwrap_or(0));
            if let Some(crash) = self.over_memory_size(peak_rss_kib) {
                break crash;
            }
            if let Some(reason) = self.init_error() {
                self.kill();
                break Outcome::Crashed(format!("init error: {reason}"));
            }
            match tokio::time::timeout(Duration::from_millis(20), &mut reply).await {
                Ok(Ok(Reply::Response(body))) => break Outcome::Response(json(&body)),
                Ok(Ok(Reply::Error(body))) => {
                    let error = json(&body);
                    break Outcome::Error {
                        error_type: error["errorType"].as_str().unwrap_or_default().to_owned(),
                        message: error["errorMessage"].as_str().unwrap_or_default().to_owned(),
                    };
                }
                Ok(Err(_)) => break Outcome::Crashed("the runtime API dropped the invocation".to_owned()),
                Err(_) => {}
            }
            if let Some(status) = self.exited() {
                break Outcome::Crashed(format!("the process exited without answering: {status}"));
            }
            if SystemTime::now() >= deadline {
                self.kill();
                break Outcome::TimedOut;
            }
        };
        // An invocation that ended without an answer is never handed to another process.
        self.api.replies.lock().expect("replies").remove(&request_id);
        // A peak reached just before the answer, when only measuring, fails it as Lambda's kill would have.
        peak_rss_kib = peak_rss_kib.max(vm_hwm_kib(pid).unwrap_or(0));
        let outcome = self.over_memory_size(peak_rss_kib).unwrap_or(outcome);
        Invoked { outcome, elapsed: started.elapsed(), peak_rss_kib }
    }

    /// How this runner holds the function to its memory size.
    pub fn confinement(&self) -> &Confinement {
        &self.confinement
    }

    /// When memory is only measured: a process past its memory size is killed and the
    /// invocation is a crash, as under Lambda (where the kernel would have killed it).
    fn over_memory_size(&self, peak_rss_kib: u64) -> Option<Outcome> {
        let limit_kib = u64::from(self.memory_mb) * 1024;
        if self.confinement != Confinement::Measured || peak_rss_kib <= limit_kib {
            return None;
        }
        self.kill();
        Some(Outcome::Crashed(format!(
            "killed: peak resident memory {} MiB passed the memory size, {} MB (measured: no cgroup)",
            peak_rss_kib / 1024,
            self.memory_mb
        )))
    }

    /// Lambda's asynchronous invoke with its default retry policy: after a function error
    /// (an error result, a timeout, a crash) the same event again, at most twice more,
    /// under the same request id (Lambda's retries keep it). Every attempt, in order.
    pub async fn invoke_async(&self, payload: &Value, timeout: Duration) -> Vec<Invoked> {
        let request_id = new_request_id();
        let mut attempts = Vec::new();
        for _ in 0..3 {
            let invoked = self.invoke_as(&request_id, payload, timeout, None).await;
            let failed = !matches!(invoked.outcome, Outcome::Response(_));
            attempts.push(invoked);
            if !failed {
                break;
            }
        }
        attempts
    }

    /// Everything the process(es) wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|lines| lines.join("\n")).unwrap_or_default()
    }

    /// Stops the process and anything it started (the next invocation is a cold start).
    pub fn kill(&self) {
        if let Some(mut child) = self.child.lock().expect("child").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for procs in self.confinement.procs_files() {
            let pids = std::fs::read_to_string(procs).unwrap_or_default();
            let pids: Vec<&str> = pids.split_whitespace().collect();
            if !pids.is_empty() {
                let _ = Command::new("kill").arg("-KILL").args(&pids).status();
            }
        }
    }

    fn init_error(&self) -> Option<String> {
        self.api.init_error.lock().ok().and_then(|mut error| error.take())
    }

    fn exited(&self) -> Option<String> {
        let mut slot = self.child.lock().expect("child");
        let status = slot.as_mut().and_then(|child| child.try_wait().ok().flatten())?;
        *slot = None;
        Some(status.to_string())
    }

    /// The warm process's id, starting one if there is none.
    fn ensure_running(&self) -> u32 {
        let mut slot = self.child.lock().expect("child");
        if let Some(child) = slot.as_mut()
            && child.try_wait().ok().flatten().is_none()
        {
            return child.id();
        }
        // The shell puts itself into the cgroups, then becomes the function: no moment
        // outside the limits, and no unsafe pre-exec hook.
        let joins: String =
            self.confinement.procs_files().iter().map(|procs| format!("echo $$ > '{}' && ", procs.display())).collect();
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("{joins}exec \"$0\""))
            .arg(&self.binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", self.binary.display()));
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = self.log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    log.lock().map(|mut l| l.push(line)).ok();
                }
            });
        }
        let pid = child.id();
        *slot = Some(child);
        pid
    }
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        self.kill();
        // A cgroup can be removed once the processes just killed have left it.
        for group in self.confinement.groups() {
            for _ in 0..100 {
                if std::fs::remove_dir(&group).is_ok() || !group.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// A request id no other invocation of this test binary has.
fn new_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("local-{:08}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The packaged build of `function` (`target/lambda/<function>/bootstrap`, what
/// `cargo lambda build --release` and so `make package` produce), or the file named by
/// `<FUNCTION>_BOOTSTRAP` (`make package` points it at the artifact `sam build` made).
pub fn packaged_binary(function: &str) -> PathBuf {
    let variable = format!("{}_BOOTSTRAP", function.to_ascii_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(&variable) {
        return PathBuf::from(path);
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"));
    target.join("lambda").join(function).join("bootstrap")
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The peak resident set of a process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One connection of the runtime client (it keeps connections alive between requests).
async fn serve(stream: TcpStream, api: Arc<Api>, queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>>) {
    let (read, mut write) = stream.into_split();
    let mut read = AsyncBufReader::new(read);
    while let Some(request) = read_request(&mut read).await {
        let (status, headers, body) = if request.method == "GET" && request.path.ends_with("/runtime/invocation/next") {
            // A client that closes this connection while it waits (it went on with another)
            // must not take the next invocation with it: that one would be lost.
            let pending = loop {
                let mut waiting = queue.lock().await;
                let next = tokio::select! {
                    next = waiting.recv() => next,
                    // End of stream, an error, or a request where none may come.
                    _ = read.fill_buf() => return,
                };
                let Some(pending) = next else { return };
                if api.replies.lock().is_ok_and(|r| r.contains_key(&pending.request_id)) {
                    break pending;
                }
            };
            let headers = vec![
                ("Lambda-Runtime-Aws-Request-Id", pending.request_id),
                ("Lambda-Runtime-Deadline-Ms", pending.deadline_ms.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:local".to_owned(),
                ),
                // Lambda's header for an invocation that is not sampled, unless the test gave one.
                (
                    "Lambda-Runtime-Trace-Id",
                    pending.trace_header.unwrap_or_else(|| "Root=1-00000000-000000000000000000000000".to_owned()),
                ),
            ];
            (200, headers, pending.payload)
        } else if let Some(rest) = request.path.split("/runtime/invocation/").nth(1) {
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let reply = if kind == "response" { Reply::Response(request.body) } else { Reply::Error(request.body) };
            if let Some(sender) = api.replies.lock().ok().and_then(|mut r| r.remove(id)) {
                let _ = sender.send(reply);
            }
            (202, Vec::new(), b"{}".to_vec())
        } else if request.path.ends_with("/runtime/init/error") {
            *api.init_error.lock().expect("init error") = Some(String::from_utf8_lossy(&request.body).into_owned());
            (202, Vec::new(), b"{}".to_vec())
        } else {
            (404, Vec::new(), b"{}".to_vec())
        };
        let mut head =
            format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        if write.write_all(head.as_bytes()).await.is_err() || write.write_all(&body).await.is_err() {
            return;
        }
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 request (a `content-length` or chunked body); `None` at the end.
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(read: &mut R) -> Option<Request> {
    let mut line = String::new();
    if read.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut header = String::new();
        if read.read_line(&mut header).await.ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            read.read_line(&mut size).await.ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            read.read_exact(&mut chunk).await.ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        read.read_exact(&mut body).await.ok()?;
    }
    Some(Request { method, path, body })
}
