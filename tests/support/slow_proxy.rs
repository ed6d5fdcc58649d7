//! A TCP proxy in front of the emulator that makes it answer like S3 across a network:
//! every request waits `latency` before it is forwarded (time to first byte), and bytes
//! flow at most `bytes_per_second` each way on each connection. The emulator answers at
//! once from memory; real S3 takes tens of milliseconds and its bandwidth is finite,
//! which is what overlapping transfers with decoding is meant to hide.
//!
//! It keeps every request's head, so a test can count the calls of one operation
//! ([`SlowProxy::requests_containing`]). It fails nothing: faults are the fault proxy's
//! (`fault_proxy.rs`), the one injector of AWS errors.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct SlowProxy {
    pub url: String,
    requests: Arc<AtomicU64>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl SlowProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, latency: Duration, bytes_per_second: u64) -> Self {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port for the proxy");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let requests = Arc::new(AtomicU64::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (counted, recorded) = (requests.clone(), heads.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = Seen { requests: counted.clone(), heads: recorded.clone() };
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, latency, bytes_per_second, seen).await;
                    }
                });
            }
        });
        Self { url, requests, heads }
    }

    /// Requests so far whose head contains `text`,
    /// compared ignoring case: `requests_containing("GetCostAndUsage")`.
    pub fn requests_containing(&self, text: &str) -> usize {
        let text = text.to_ascii_lowercase();
        self.heads.lock().map(|heads| heads.iter().filter(|h| h.contains(&text)).count()).unwrap_or(0)
    }

    /// Requests so far.
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

async fn relay(client: TcpStream, server: TcpStream, latency: Duration, bytes_per_second: u64, seen: Seen) {
    let (mut client_read, mut client_write) = client.into_split();
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
                    heads.push(head);
                }
                tokio::time::sleep(latency).await;
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
            if client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

async fn throttle(bytes: usize, bytes_per_second: u64) {
    if bytes_per_second > 0 {
        tokio::time::sleep(Duration::from_secs_f64(bytes as f64 / bytes_per_second as f64)).await;
    }
}
