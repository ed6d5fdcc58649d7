//! An HTTP proxy in front of the emulator that fails requests the way AWS does, by a
//! seeded schedule: the functions reach it through `AWS_ENDPOINT_URL`, so nothing in
//! their code knows it is there.
//!
//! Each request is read whole, then passed, or given one [`FaultKind`]: latency, the
//! throttling error of its service's protocol (S3's `SlowDown` 503 XML, the query
//! protocol's `Throttling` XML, `ThrottlingException` JSON with `__type` for JSON
//! services, `x-amzn-errortype` with a 429 for REST-JSON ones), a 500 or 503, the
//! connection reset before the request reaches the emulator, reset after it was executed
//! (the caller never learns that it was), or the response body cut short.
//!
//! Deterministic: a request's fault depends only on the seed, the request itself
//! (method, path, operation, and the body where it holds the call's arguments) and how
//! many identical requests came before it, not on how concurrent requests interleave. The
//! same seed replays the same faults, except to requests that name the time themselves
//! (a file named after the minute it was written).
//!
//! Every request is recorded with its service, operation and fault, so a test can count
//! faults by kind ([`FaultProxy::counts`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// Forwarded after a delay (up to [`FaultPlan::max_latency`]).
    Latency,
    /// The service's own throttling error.
    Throttle,
    /// HTTP 500 with the service's internal-error code.
    InternalError,
    /// HTTP 503 with the service's unavailable code.
    Unavailable,
    /// The connection reset once the request is read: the emulator never sees it.
    ResetBeforeForward,
    /// The request executed, then the connection reset: its effect happened, unknown to the caller.
    ResetAfterForward,
    /// The response's head and half its body, then the connection closed.
    TruncatedBody,
    /// Refused with this HTTP status and AWS error type (`AccessDeniedException`), the
    /// emulator never seeing the request: a fault a test names, never drawn at random.
    Refused { status: u16, error_type: &'static str },
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Latency,
        FaultKind::Throttle,
        FaultKind::InternalError,
        FaultKind::Unavailable,
        FaultKind::ResetBeforeForward,
        FaultKind::ResetAfterForward,
        FaultKind::TruncatedBody,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Latency => "latency",
            FaultKind::Throttle => "throttle",
            FaultKind::InternalError => "500",
            FaultKind::Unavailable => "503",
            FaultKind::ResetBeforeForward => "reset-before",
            FaultKind::ResetAfterForward => "reset-after",
            FaultKind::TruncatedBody => "truncated",
            FaultKind::Refused { .. } => "refused",
        }
    }
}

/// Which requests a rule applies to, and what it does to them. The first rule whose
/// `service` and `operation` match (empty matches anything; `operation` is matched as a
/// substring, ignoring case) decides.
#[derive(Debug, Clone)]
pub struct Rule {
    pub service: String,
    pub operation: String,
    /// The share of matching requests that get a fault, 0.0 to 1.0.
    pub rate: f64,
    /// The faults to choose from, evenly.
    pub kinds: Vec<FaultKind>,
    /// At most this many faults from this rule (then its requests pass).
    pub limit: Option<usize>,
}

impl Rule {
    pub fn any(rate: f64) -> Self {
        Self { service: String::new(), operation: String::new(), rate, kinds: FaultKind::ALL.to_vec(), limit: None }
    }

    fn matches(&self, service: &str, operation: &str) -> bool {
        (self.service.is_empty() || self.service == service)
            && (self.operation.is_empty()
                || operation.to_ascii_lowercase().contains(&self.operation.to_ascii_lowercase()))
    }
}

#[derive(Debug, Clone)]
pub struct FaultPlan {
    pub seed: u64,
    pub rules: Vec<Rule>,
    pub max_latency: Duration,
}

impl FaultPlan {
    /// Every kind of fault on `rate` of all requests.
    pub fn uniform(seed: u64, rate: f64) -> Self {
        Self { seed, rules: vec![Rule::any(rate)], max_latency: Duration::from_millis(800) }
    }

    /// `kind` for every `service` request whose operation contains `operation` (empty: any).
    pub fn always(service: &str, operation: &str, kind: FaultKind) -> Self {
        Self::first(service, operation, kind, None)
    }

    /// `kind` for the first `limit` matching requests (all of them: `None`), then none.
    pub fn first(service: &str, operation: &str, kind: FaultKind, limit: Option<usize>) -> Self {
        let rule =
            Rule { service: service.to_owned(), operation: operation.to_owned(), rate: 1.0, kinds: vec![kind], limit };
        Self { seed: 0, rules: vec![rule], max_latency: Duration::from_millis(50) }
    }

    /// The fault for the `occurrence`-th request with this identity, if any.
    fn decide(
        &self,
        schedule: &mut Schedule,
        identity: u64,
        service: &str,
        operation: &str,
    ) -> Option<(FaultKind, u64)> {
        let occurrence = schedule.seen.entry(identity).or_insert(0);
        *occurrence += 1;
        let occurrence = *occurrence;
        let (index, rule) = self.rules.iter().enumerate().find(|(_, r)| r.matches(service, operation))?;
        let used = schedule.faults_by_rule.entry(index).or_insert(0);
        if rule.kinds.is_empty() || rule.rate <= 0.0 || rule.limit.is_some_and(|limit| *used >= limit) {
            return None;
        }
        let roll = splitmix64(self.seed ^ splitmix64(identity ^ splitmix64(occurrence)));
        let chance = (roll >> 11) as f64 / (1u64 << 53) as f64;
        if chance >= rule.rate {
            return None;
        }
        *used += 1;
        let pick = splitmix64(roll);
        let kind = rule.kinds[usize::try_from(pick % rule.kinds.len() as u64).unwrap_or(0)];
        Some((kind, pick))
    }
}

/// One request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The SigV4 signing name: `s3`, `iam`, `eks`, `ce`, `ses`, ...
    pub service: String,
    /// The JSON target's operation, the query protocol's `Action`, S3's operation and path
    /// (`PutObject /bucket/key`), or the REST method and path.
    pub operation: String,
    pub fault: Option<FaultKind>,
    /// The request's `X-Amzn-Trace-Id` (the X-Ray trace it continues), if any.
    pub trace_header: Option<String>,
    /// When it arrived: orders it against another server's requests (a cluster's Kubernetes API).
    pub at: std::time::Instant,
}

#[derive(Debug, Clone)]
pub struct FaultProxy {
    pub url: String,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

#[derive(Debug, Default)]
struct Schedule {
    /// How many requests with each identity have been seen.
    seen: HashMap<u64, u64>,
    /// How many faults each rule (by index) has given.
    faults_by_rule: HashMap<usize, usize>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, plan: FaultPlan) -> Self {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port for the proxy");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let state = Shared {
            upstream,
            plan: Arc::new(plan),
            schedule: Arc::new(Mutex::new(Schedule::default())),
            exchanges: exchanges.clone(),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, state.clone()));
            }
        });
        Self { url, exchanges }
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Requests so far, and faults by kind.
    pub fn counts(&self) -> (usize, BTreeMap<FaultKind, usize>) {
        let exchanges = self.exchanges();
        let mut faults = BTreeMap::new();
        for fault in exchanges.iter().filter_map(|e| e.fault) {
            *faults.entry(fault).or_insert(0) += 1;
        }
        (exchanges.len(), faults)
    }

    /// Requests so far whose operation contains `operation` (ignoring case).
    pub fn requests_for(&self, operation: &str) -> usize {
        let operation = operation.to_ascii_lowercase();
        self.exchanges().iter().filter(|e| e.operation.to_ascii_lowercase().contains(&operation)).count()
    }
}

#[derive(Debug, Clone)]
struct Shared {
    upstream: String,
    plan: Arc<FaultPlan>,
    schedule: Arc<Mutex<Schedule>>,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

/// One HTTP message as read off the wire: its head (up to and including the blank line)
/// and its body exactly as framed (chunked bodies keep their chunk lines).
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
    /// The body ran to the end of the connection (no length): the connection must close after it.
    until_close: bool,
}

impl Message {
    fn head_text(&self) -> String {
        String::from_utf8_lossy(&self.head).into_owned()
    }

    fn header(&self, name: &str) -> Option<String> {
        header(&self.head_text(), name)
    }
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}

/// A connection with what has been read from it but not yet used.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The head of the next message, or None at a clean end of the connection.
    async fn read_head(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some(self.buffer.drain(..end + 4).collect()));
            }
            if !self.fill().await? {
                return if self.buffer.is_empty() { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
            }
        }
    }

    async fn take(&mut self, length: usize) -> std::io::Result<Vec<u8>> {
        while self.buffer.len() < length {
            if !self.fill().await? {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buffer.drain(..length).collect())
    }

    async fn line(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                return Ok(self.buffer.drain(..end + 2).collect());
            }
            if !self.fill().await? {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// A body framed by `head`: chunked, a content length, none, or (`to_close`) the rest of the connection.
    async fn read_body(&mut self, head: &str, to_close: bool) -> std::io::Result<(Vec<u8>, bool)> {
        let chunked = header(head, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            let mut body = Vec::new();
            loop {
                let line = self.line().await?;
                let size_text = String::from_utf8_lossy(&line);
                let size = usize::from_str_radix(size_text.trim().split(';').next().unwrap_or("0").trim(), 16)
                    .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "a bad chunk size"))?;
                body.extend_from_slice(&line);
                if size == 0 {
                    // Trailers, then the blank line.
                    loop {
                        let trailer = self.line().await?;
                        body.extend_from_slice(&trailer);
                        if trailer == b"\r\n" {
                            return Ok((body, false));
                        }
                    }
                }
                body.extend(self.take(size + 2).await?);
            }
        }
        if let Some(length) = header(head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
            return Ok((self.take(length).await?, false));
        }
        if !to_close {
            return Ok((Vec::new(), false));
        }
        while self.fill().await? {}
        Ok((std::mem::take(&mut self.buffer), true))
    }
}

async fn serve(client: TcpStream, shared: Shared) {
    let mut client = Connection { stream: client, buffer: Vec::new() };
    loop {
        let Ok(Some(mut head)) = client.read_head().await else { return };
        let mut head_text = String::from_utf8_lossy(&head).into_owned();
        // Answer `Expect: 100-continue` here, and forward the request without it.
        if header(&head_text, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            if client.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
                return;
            }
            head_text = head_text
                .split("\r\n")
                .filter(|line| !line.to_ascii_lowercase().starts_with("expect:"))
                .collect::<Vec<_>>()
                .join("\r\n");
            head = head_text.clone().into_bytes();
        }
        let Ok((body, _)) = client.read_body(&head_text, false).await else { return };
        let request = Message { head, body, until_close: false };
        let (service, operation, identity) = describe(&request);
        let decision = {
            let Ok(mut schedule) = shared.schedule.lock() else { return };
            shared.plan.decide(&mut schedule, identity, &service, &operation)
        };
        if let Ok(mut exchanges) = shared.exchanges.lock() {
            exchanges.push(Exchange {
                service: service.clone(),
                operation: operation.clone(),
                fault: decision.map(|d| d.0),
                trace_header: header(&head_text, "x-amzn-trace-id"),
                at: std::time::Instant::now(),
            });
        }
        let protocol = Protocol::of(&service, &request);
        let keep_open = match decision {
            None => forward_and_answer(&mut client, &shared.upstream, &request).await,
            Some((FaultKind::Latency, pick)) => {
                let max = u64::try_from(shared.plan.max_latency.as_millis()).unwrap_or(u64::MAX).max(1);
                tokio::time::sleep(Duration::from_millis(pick % max)).await;
                forward_and_answer(&mut client, &shared.upstream, &request).await
            }
            Some((
                kind @ (FaultKind::Throttle
                | FaultKind::InternalError
                | FaultKind::Unavailable
                | FaultKind::Refused { .. }),
                _,
            )) => client.stream.write_all(&protocol.error_response(kind, &service)).await.is_ok(),
            Some((FaultKind::ResetBeforeForward, _)) => {
                reset(client.stream);
                return;
            }
            Some((FaultKind::ResetAfterForward, _)) => {
                let _ = forward(&shared.upstream, &request).await;
                reset(client.stream);
                return;
            }
            Some((FaultKind::TruncatedBody, _)) => {
                let Ok(response) = forward(&shared.upstream, &request).await else { return };
                if response.body.len() < 2 {
                    // Nothing to cut (a HEAD, an empty answer): the response is lost instead.
                    reset(client.stream);
                    return;
                }
                let half = response.body.len() / 2;
                let _ = client.stream.write_all(&response.head).await;
                let _ = client.stream.write_all(&response.body[..half]).await;
                let _ = client.stream.shutdown().await;
                return;
            }
        };
        if !keep_open {
            let _ = client.stream.shutdown().await;
            return;
        }
    }
}

/// Forwards the request and passes the answer on; false when the connection must close.
async fn forward_and_answer(client: &mut Connection, upstream: &str, request: &Message) -> bool {
    match forward(upstream, request).await {
        Ok(response) => {
            let wrote = client.stream.write_all(&response.head).await.is_ok()
                && client.stream.write_all(&response.body).await.is_ok();
            let closes = response.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
            wrote && !response.until_close && !closes
        }
        Err(_) => false,
    }
}

/// Sends the request to the emulator on a connection of its own and reads the whole answer.
async fn forward(upstream: &str, request: &Message) -> std::io::Result<Message> {
    let mut server = Connection { stream: TcpStream::connect(upstream).await?, buffer: Vec::new() };
    server.stream.write_all(&request.head).await?;
    server.stream.write_all(&request.body).await?;
    let is_head = request.head.starts_with(b"HEAD ");
    loop {
        let head = server.read_head().await?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
        let head_text = String::from_utf8_lossy(&head).into_owned();
        let status: u16 = head_text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if status == 100 {
            continue;
        }
        let bodiless = is_head || status == 204 || status == 304;
        let (body, until_close) =
            if bodiless { (Vec::new(), false) } else { server.read_body(&head_text, true).await? };
        return Ok(Message { head, body, until_close });
    }
}

/// Closes with a TCP reset (linger 0), as a failed load balancer or a dropped peer does.
fn reset(stream: TcpStream) {
    // Deprecated because a non-zero linger blocks the thread on drop; a zero one never does.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// The request's service (its SigV4 credential scope), operation, and identity (a hash
/// of method, path, operation and the arguments in the body; never of headers that change
/// per attempt, nor of content such as an object's bytes).
fn describe(request: &Message) -> (String, String, u64) {
    let head = request.head_text();
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let service = header(&head, "authorization")
        .and_then(|auth| {
            let scope = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?.to_owned();
            scope.split('/').nth(3).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let operation = if let Some(json_target) = header(&head, "x-amz-target") {
        json_target.rsplit('.').next().unwrap_or(&json_target).to_owned()
    } else if let Some(action) = form_action(&request.body) {
        action
    } else {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query_names: Vec<&str> =
            query.split('&').filter_map(|p| p.split('=').next()).filter(|n| !n.is_empty() && *n != "x-id").collect();
        let id = query.split('&').find_map(|p| p.strip_prefix("x-id=")).unwrap_or("");
        if id.is_empty() { format!("{method} {path} {}", query_names.join("&")) } else { format!("{id} {path}") }
    };
    // The body names the call's arguments in the query and JSON protocols; in S3 and
    // REST-JSON the path does, and the body is content (which may carry the time).
    let arguments_in_body = header(&head, "x-amz-target").is_some() || form_action(&request.body).is_some();
    let body_hash = if arguments_in_body { fnv1a(&request.body).rotate_left(17) } else { 0 };
    let identity = fnv1a(format!("{method} {target} {operation}").as_bytes()) ^ body_hash;
    (service, operation, identity)
}

/// The query protocol's `Action=...` from a form-encoded body.
fn form_action(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| pair.strip_prefix("Action=")).map(str::to_owned)
}

/// How a service encodes its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// S3.
    RestXml,
    /// IAM, STS, SNS, SES v1: form-encoded requests, `<ErrorResponse>` XML.
    Query,
    /// EC2's own query dialect: `<Response><Errors>`.
    Ec2,
    /// Cost Explorer, Secrets Manager, SQS, DynamoDB: `X-Amz-Target` and `__type`.
    Json,
    /// EKS, SES v2: `x-amzn-errortype`.
    RestJson,
}

impl Protocol {
    fn of(service: &str, request: &Message) -> Self {
        let content_type = request.header("content-type").unwrap_or_default().to_ascii_lowercase();
        if service == "s3" {
            Protocol::RestXml
        } else if service == "ec2" {
            Protocol::Ec2
        } else if request.header("x-amz-target").is_some() {
            Protocol::Json
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            Protocol::Query
        } else {
            Protocol::RestJson
        }
    }

    /// The answer AWS gives for `kind` (a throttle, a 500 or a 503) in this protocol.
    fn error_response(self, kind: FaultKind, service: &str) -> Vec<u8> {
        let (status, code, message) = match (kind, self) {
            (FaultKind::Refused { status, error_type }, _) => (status, error_type, "refused by the test's fault plan"),
            (FaultKind::Throttle, Protocol::RestXml) => (503, "SlowDown", "Please reduce your request rate."),
            (FaultKind::Throttle, Protocol::Query) => (400, "Throttling", "Rate exceeded"),
            (FaultKind::Throttle, Protocol::Ec2) => (503, "RequestLimitExceeded", "Request limit exceeded."),
            (FaultKind::Throttle, Protocol::RestJson) if service == "ses" => {
                (429, "TooManyRequestsException", "Too many requests")
            }
            (FaultKind::Throttle, _) => {
                (if self == Protocol::Json { 400 } else { 429 }, "ThrottlingException", "Rate exceeded")
            }
            (FaultKind::Unavailable, _) => (503, "ServiceUnavailable", "Service is unavailable, try again later."),
            (_, Protocol::RestXml) => (500, "InternalError", "We encountered an internal error. Please try again."),
            _ => (500, "InternalFailure", "The request processing has failed because of an unknown error."),
        };
        let request_id = "fa017ed0-0000-4000-8000-000000000000";
        let (content_type, extra_header, body) = match self {
            Protocol::RestXml => (
                "application/xml",
                String::new(),
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
                ),
            ),
            Protocol::Query => {
                let side = if status >= 500 { "Receiver" } else { "Sender" };
                (
                    "text/xml",
                    String::new(),
                    format!(
                        "<ErrorResponse><Error><Type>{side}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
                    ),
                )
            }
            Protocol::Ec2 => (
                "text/xml",
                String::new(),
                format!(
                    "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
                ),
            ),
            Protocol::Json => (
                "application/x-amz-json-1.1",
                String::new(),
                format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
            ),
            Protocol::RestJson => {
                ("application/json", format!("x-amzn-errortype: {code}\r\n"), format!("{{\"message\":\"{message}\"}}"))
            }
        };
        format!(
            "HTTP/1.1 {status} Fault\r\ncontent-type: {content_type}\r\nx-amzn-requestid: {request_id}\r\n{extra_header}content-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
