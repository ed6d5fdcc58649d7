//! The photos API served over HTTP on loopback, as API Gateway's HTTP API calls it: each
//! request becomes a payload-2.0 event for the real handler, with no authorizer's claims (so
//! the function verifies the bearer token itself, `JWT_ISSUER`). For the browser test and the demo.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::Instrument as _;

use base64::Engine as _;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug)]
pub struct LocalApi {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LocalApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LocalApi {
    /// Serves `deps` on a free loopback port.
    pub async fn start(deps: Arc<photos_api::Deps>) -> std::io::Result<Self> {
        Self::start_on(deps, "127.0.0.1:0").await
    }

    /// Serves `deps` on `address` (`127.0.0.1:8080`).
    pub async fn start_on(deps: Arc<photos_api::Deps>, address: &str) -> std::io::Result<Self> {
        Ok(Self::serve(Self::reserve_on(address).await?, deps))
    }

    /// A free loopback port for the API, for settings that name its URL before it serves (a
    /// sign-in's callback, which the API's own settings depend on).
    pub async fn reserve() -> std::io::Result<Reserved> {
        Self::reserve_on("127.0.0.1:0").await
    }

    async fn reserve_on(address: &str) -> std::io::Result<Reserved> {
        let listener = TcpListener::bind(address).await?;
        let url = format!("http://{}", listener.local_addr()?);
        Ok(Reserved { listener, url })
    }

    /// Serves `deps` where `reserved` listens.
    pub fn serve(reserved: Reserved, deps: Arc<photos_api::Deps>) -> Self {
        let Reserved { listener, url } = reserved;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let deps = deps.clone();
                tokio::spawn(async move {
                    if let Err(err) = serve(stream, &deps).await {
                        eprintln!("local API: {err}");
                    }
                });
            }
        });
        Self { url, task }
    }
}

/// A port the API will serve on, already listening.
#[derive(Debug)]
pub struct Reserved {
    listener: TcpListener,
    pub url: String,
}

static REQUESTS: AtomicU64 = AtomicU64::new(1);

fn decoded(text: &str) -> String {
    percent_decode(&text.replace('+', " "))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) =
                (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The event API Gateway would send for one raw HTTP request.
pub fn event_of(method: &str, target: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Value {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let parameters: serde_json::Map<String, Value> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decoded(name), Value::from(decoded(value)))
        })
        .collect();
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let request_id = format!("local-{}", REQUESTS.fetch_add(1, Ordering::Relaxed));
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers, "queryStringParameters": parameters,
        "requestContext": { "http": { "method": method, "path": path }, "requestId": request_id },
        "body": if body.is_empty() { Value::Null } else { Value::from(body) }, "isBase64Encoded": is_base64
    })
}

async fn serve(mut stream: TcpStream, deps: &photos_api::Deps) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (method, target) =
        (request_line.next().unwrap_or("GET").to_owned(), request_line.next().unwrap_or("/").to_owned());
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers.get("content-length").and_then(|length| length.parse().ok()).unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    let event = event_of(&method, &target, &headers, &body);
    let mut context = Context::default();
    context.request_id = event["requestContext"]["requestId"].as_str().unwrap_or_default().to_owned();
    let invocation = crate::xray_daemon::lambda_invocation(&context.request_id);
    let response = photos_api::handle(deps, LambdaEvent::new(event, context))
        .instrument(invocation)
        .await
        .map_err(|err| std::io::Error::other(err.to_string()))?;
    let body = if response.is_base64_encoded {
        base64::engine::general_purpose::STANDARD.decode(&response.body).unwrap_or_default()
    } else {
        response.body.into_bytes()
    };
    let mut out = format!("HTTP/1.1 {} {}\r\n", response.status_code, reason(response.status_code));
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    stream.write_all(out.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
