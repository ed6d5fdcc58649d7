//! A TCP proxy in front of the emulator that makes it answer like S3 across a network:
//! every request waits `latency` before it is forwarded (time to first byte), and bytes
//! flow at most `bytes_per_second` each way on each connection. The emulator answers at
//! once from memory; real S3 takes tens of milliseconds and its bandwidth is finite,
//! which is what overlapping transfers with decoding is meant to hide.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct SlowProxy {
    pub url: String,
    requests: Arc<AtomicU64>,
}

impl SlowProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, latency: Duration, bytes_per_second: u64) -> Self {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port for the proxy");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let requests = Arc::new(AtomicU64::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, counted) = (upstream.clone(), counted.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, latency, bytes_per_second, counted).await;
                    }
                });
            }
        });
        Self { url, requests }
    }

    /// Requests forwarded so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    latency: Duration,
    bytes_per_second: u64,
    requests: Arc<AtomicU64>,
) {
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
                requests.fetch_add(1, Ordering::Relaxed);
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
