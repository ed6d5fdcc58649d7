//! A TCP proxy in front of the emulator that makes it answer like S3 across a network:
//! every request waits `latency` before it is forwarded (time to first byte), and bytes
//! flow at most `bytes_per_second` each way on each connection. The emulator answers at
//! once from memory; real S3 takes tens of milliseconds and its bandwidth is finite,
//! which is what overlapping transfers with decoding is meant to hide.
//!
//! It can also fail requests: a [`Fault`] answers requests whose head (request line and
//! headers) contains a text with an AWS error of its own, a set number of times, and the
//! emulator never sees them (the emulator itself never fails a call). And it keeps every
//! request's head, so a test can count the calls of one operation
//! ([`SlowProxy::requests_containing`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Requests to fail: those whose head contains `request_contains` (a path such as
/// `/clusters/a/node-groups/b/update-config`, or a JSON-protocol target such as
/// `GetCostForecast`), the next `times` times, answered with `status` and a JSON error of
/// type `error_type` (the `x-amzn-errortype` of JSON and REST-JSON services).
#[derive(Debug, Clone)]
pub struct Fault {
    pub request_contains: String,
    pub times: usize,
    pub status: u16,
    pub error_type: String,
}

#[derive(Debug, Clone)]
pub struct SlowProxy {
    pub url: String,
    requests: Arc<AtomicU64>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl SlowProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, latency: Duration, bytes_per_second: u64) -> Self {
        Self::with_faults(upstream, latency, bytes_per_second, Vec::new()).await
    }

    /// Like `start`, failing the requests `faults` name.
    pub async fn with_faults(upstream: &str, latency: Duration, bytes_per_second: u64, faults: Vec<Fault>) -> Self {
        let faults = Arc::new(Mutex::new(faults));
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port for the proxy");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let requests = Arc::new(AtomicU64::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (counted, recorded) = (requests.clone(), heads.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = Seen { requests: counted.clone(), heads: recorded.clone() };
                let (upstream, faults) = (upstream.clone(), faults.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, latency, bytes_per_second, seen, faults).await;
                    }
                });
            }
        });
        Self { url, requests, heads }
    }

    /// Requests so far (answered by a fault or forwarded) whose head contains `text`,
    /// compared ignoring case: `requests_containing("GetCostAndUsage")`.
    pub fn requests_containing(&self, text: &str) -> usize {
        let text = text.to_ascii_lowercase();
        self.heads.lock().map(|heads| heads.iter().filter(|h| h.contains(&text)).count()).unwrap_or(0)
    }

    /// Requests so far, forwarded or answered by a fault.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// What the proxy has seen: shared by every connection.
#[derive(Debug, Clone)]
struct Seen {
    requests: Arc<AtomicU64>,
    /// Each request's head, lowercased.
    heads: Arc<Mutex<Vec<String>>>,
}

/// The head of a request (request line and headers) from its first bytes, lowercased.
fn head_of(request: &[u8]) -> String {
    let end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(request.len());
    String::from_utf8_lossy(&request[..end]).to_ascii_lowercase()
}

/// The canned answer for a request that a fault with times left matches, using one of its times.
fn fault_answer(faults: &Mutex<Vec<Fault>>, head: &str) -> Option<Vec<u8>> {
    let mut faults = faults.lock().ok()?;
    let fault = faults.iter_mut().find(|f| f.times > 0 && head.contains(&f.request_contains.to_ascii_lowercase()))?;
    fault.times -= 1;
    let body = format!("{{\"message\":\"injected by the test's proxy: {}\"}}", fault.error_type);
    Some(
        format!(
            "HTTP/1.1 {} Injected\r\ncontent-type: application/json\r\nx-amzn-errortype: {}\r\ncontent-length: {}\r\n\r\n{body}",
            fault.status,
            fault.error_type,
            body.len()
        )
        .into_bytes(),
    )
}

/// Reads the rest of a request whose first bytes are `data` (its head, then a
/// `content-length` body), so it can be answered without forwarding it.
async fn swallow_request<R: tokio::io::AsyncRead + Unpin>(read: &mut R, mut data: Vec<u8>) -> Option<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse().ok()))
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = read.read(&mut buffer).await.ok().filter(|n| *n > 0)?;
                data.extend_from_slice(&buffer[..n]);
            }
            return Some(());
        }
        let n = read.read(&mut buffer).await.ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buffer[..n]);
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    latency: Duration,
    bytes_per_second: u64,
    seen: Seen,
    faults: Arc<Mutex<Vec<Fault>>>,
) {
    let (mut client_read, client_write) = client.into_split();
    // Both directions answer the client: the emulator's responses, and injected faults.
    let client_write = Arc::new(tokio::sync::Mutex::new(client_write));
    let answers = client_write.clone();
    let (mut server_read, mut server_write) = server.into_split();
    // A client's bytes after the server has answered begin a new request.
    let new_request = Arc::new(AtomicBool::new(true));
    let starts = new_request.clone();
    let upstream = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if starts.swap(false, Ordering::AcqRel) {
                seen.requests.fetch_add(1, Ordering::Relaxed);
                let head = head_of(&buffer[..n]);
                if let Ok(mut heads) = seen.heads.lock() {
                    heads.push(head.clone());
                }
                tokio::time::sleep(latency).await;
                if let Some(answer) = fault_answer(&faults, &head) {
                    if swallow_request(&mut client_read, buffer[..n].to_vec()).await.is_none()
                        || answers.lock().await.write_all(&answer).await.is_err()
                    {
                        break;
                    }
                    starts.store(true, Ordering::Release);
                    continue;
                }
            }
            throttle(n, bytes_per_second).await;
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            new_request.store(true, Ordering::Release);
            throttle(n, bytes_per_second).await;
            if client_write.lock().await.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.lock().await.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

async fn throttle(bytes: usize, bytes_per_second: u64) {
    if bytes_per_second > 0 {
        tokio::time::sleep(Duration::from_secs_f64(bytes as f64 / bytes_per_second as f64)).await;
    }
}
