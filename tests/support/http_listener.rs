//! A real HTTP server on loopback that stands in for a webhook receiver (Slack): it
//! records every request body and answers with scripted responses.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer: status line, extra headers, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn ok() -> Self {
        Self { status: 200, headers: Vec::new(), body: "ok".to_owned() }
    }

    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        Self {
            status: 429,
            headers: vec![("Retry-After".to_owned(), retry_after_seconds.to_string())],
            body: "rate_limited".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpListener {
    pub url: String,
    received: Arc<Mutex<Vec<String>>>,
}

impl HttpListener {
    /// Starts listening; answers follow `script` in order, then 200 for ever.
    pub async fn start(script: Vec<Answer>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/services/T000/B000/test-secret", listener.local_addr()?);
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (log, script) = (log.clone(), script.clone());
                tokio::spawn(async move {
                    let Some(body) = read_request(&mut stream).await else { return };
                    log.lock().map(|mut l| l.push(body)).ok();
                    let answer = script.lock().ok().and_then(|mut s| s.next()).unwrap_or_else(Answer::ok);
                    let mut response = format!(
                        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                        answer.status,
                        answer.body.len()
                    );
                    for (name, value) in &answer.headers {
                        response.push_str(&format!("{name}: {value}\r\n"));
                    }
                    response.push_str("\r\n");
                    response.push_str(&answer.body);
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Self { url, received })
    }

    /// The bodies received so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.received.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Reads one HTTP/1.1 request with a `content-length` body; returns the body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<String> {
    read_head_and_body(stream).await.map(|(_, body)| body)
}

/// Writes a JSON answer of type `content_type` with `status`, and closes the connection.
pub(crate) async fn write_json<S: tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    answer: &serde_json::Value,
) {
    let body = answer.to_string();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads one HTTP/1.1 request with a `content-length` body: its request line and headers, and its body.
pub(crate) async fn read_head_and_body(stream: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let n = stream.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok()).flatten()
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                let head = text[..end].to_owned();
                return Some((head, String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned()));
            }
        }
    }
}
