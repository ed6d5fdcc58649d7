//! X-Ray traces from the `tracing` spans the code already has, sent the way Lambda's active
//! tracing receives them: one UDP datagram per subsegment to the daemon Lambda runs at
//! `AWS_XRAY_DAEMON_ADDRESS` (a JSON header line, then the document).
//!
//! Lambda records the invocation's own segment; the function adds subsegments under it, in
//! the invocation's trace (`Root`) with its segment (`Parent`) as their parent, only when the
//! invocation is sampled (`Sampled=1`). So:
//!
//! - the runtime's `Lambda runtime invoke` span names the trace (its `xrayTraceId` field);
//! - each span below it at INFO or above becomes a subsegment of the nearest traced span
//!   above it, with its scalar fields as annotations;
//! - a span with an [`TRACE_HEADER_FIELD`] field (an SQS record's `AWSTraceHeader`) puts its
//!   work in that trace instead, under that header's parent;
//! - each HTTP attempt of an AWS SDK client is an `aws` subsegment ([`AwsCallTracing`]): the
//!   service, the operation, the region, the request id, the status, and the error, fault or
//!   throttle flag; the request names it in `X-Amzn-Trace-Id`, so that the service goes on
//!   in the trace (SNS to subscribers, S3 to event notifications);
//! - the runtime's trace id is kept on its span, sampled or not, for the log lines and the
//!   metrics documents ([`current_trace_id`], [`trace_id_of`]).
//!
//! Sending never blocks or fails the work: a non-blocking socket, one datagram per
//! subsegment when it closes, nothing queued; a datagram that cannot be sent (no daemon, a
//! full buffer, over 64 KB) is counted ([`dropped`]) and forgotten.

use std::fmt;
use std::hash::{BuildHasher as _, RandomState};
use std::net::{SocketAddr, ToSocketAddrs as _, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The span the Lambda runtime opens around each invocation, and its field holding the trace.
pub const INVOCATION_SPAN: &str = "Lambda runtime invoke";
pub const INVOCATION_TRACE_FIELD: &str = "xrayTraceId";
/// A span field holding an X-Ray trace header: the span's work belongs to that trace.
pub const TRACE_HEADER_FIELD: &str = "xray.trace_header";
/// The daemon takes datagrams up to 64 KB.
const MAX_DATAGRAM: usize = 64 * 1024;
const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

static SENT: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Subsegments sent since the process started.
pub fn sent() -> u64 {
    SENT.load(Ordering::Relaxed)
}

/// Subsegments that could not be sent since the process started.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// An X-Ray trace header: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: Option<String>,
    /// `Sampled=1`. Anything else (`0`, `?`, absent) is not sampled: nothing is sent.
    pub sampled: bool,
}

impl TraceHeader {
    /// Reads a header; `None` when it names no valid trace.
    pub fn parse(text: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for part in text.split(';') {
            let Some((key, value)) = part.trim().split_once('=') else { continue };
            match key.trim() {
                key if key.eq_ignore_ascii_case("root") => root = Some(value.trim()),
                key if key.eq_ignore_ascii_case("parent") => parent = Some(value.trim()),
                key if key.eq_ignore_ascii_case("sampled") => sampled = value.trim() == "1",
                _ => {}
            }
        }
        let root = root.filter(|root| is_trace_id(root))?;
        let parent = parent.filter(|parent| is_segment_id(parent)).map(str::to_owned);
        Some(Self { root: root.to_owned(), parent, sampled })
    }
}

impl fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root={}", self.root)?;
        if let Some(parent) = &self.parent {
            write!(f, ";Parent={parent}")?;
        }
        write!(f, ";Sampled={}", u8::from(self.sampled))
    }
}

fn is_hex(text: &str, length: usize) -> bool {
    text.len() == length && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// `1-<8 hex digits: the epoch second>-<24 hex digits>`.
pub fn is_trace_id(text: &str) -> bool {
    let mut parts = text.split('-');
    parts.next() == Some("1")
        && parts.next().is_some_and(|time| is_hex(time, 8))
        && parts.next().is_some_and(|random| is_hex(random, 24))
        && parts.next().is_none()
}

/// 16 hex digits.
pub fn is_segment_id(text: &str) -> bool {
    is_hex(text, 16)
}

/// A new segment id: 64 random bits as 16 hex digits (`RandomState` is seeded from the OS).
pub fn new_segment_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{random:016x}")
}

/// Where the daemon listens: `AWS_XRAY_DAEMON_ADDRESS` is `host:port`, or
/// `tcp:host:port udp:host:port` (segments go over UDP).
pub fn daemon_address(setting: &str) -> Option<SocketAddr> {
    let udp = setting
        .split_whitespace()
        .find_map(|part| part.strip_prefix("udp:"))
        .or_else(|| setting.split_whitespace().find(|part| !part.contains("tcp:")))?;
    udp.to_socket_addrs().ok()?.next()
}

/// The daemon's socket.
#[derive(Debug)]
pub struct Daemon {
    socket: UdpSocket,
    address: SocketAddr,
}

impl Daemon {
    /// The daemon `AWS_XRAY_DAEMON_ADDRESS` names, if it names one and a socket can be had.
    pub fn from_env() -> Option<Self> {
        daemon_address(&std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?).and_then(|address| Self::at(address).ok())
    }

    pub fn at(address: SocketAddr) -> std::io::Result<Self> {
        let local: SocketAddr = if address.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        Ok(Self { socket, address })
    }

    /// Sends one document, or counts it dropped.
    pub fn send(&self, document: &Value) {
        let datagram = format!("{DAEMON_HEADER}{document}");
        let sent = datagram.len() <= MAX_DATAGRAM
            && self.socket.send_to(datagram.as_bytes(), self.address).is_ok_and(|n| n == datagram.len());
        (if sent { &SENT } else { &DROPPED }).fetch_add(1, Ordering::Relaxed);
    }
}

fn epoch_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

/// What the layer keeps on a span.
#[derive(Debug)]
enum Traced {
    /// Its work is in this trace, under this parent; the span itself is no subsegment
    /// (the invocation's span: Lambda records the invocation's segment).
    Context { trace_id: String, parent_id: String },
    /// A subsegment, sent when the span closes.
    Subsegment(Subsegment),
    /// Its work is not sampled (in this trace, if it has one): nothing under it is sent, and
    /// its requests tell the services so.
    NotSampled(Option<String>),
}

/// Where a span's children go.
#[derive(Debug)]
enum Continued {
    /// Into this trace, under this parent.
    Sampled { trace_id: String, parent_id: String },
    /// Nowhere (the trace they are not sampled in, if any).
    NotSampled(Option<String>),
}

impl Traced {
    fn for_children(&self) -> Continued {
        match self {
            Self::Context { trace_id, parent_id } => {
                Continued::Sampled { trace_id: trace_id.clone(), parent_id: parent_id.clone() }
            }
            Self::Subsegment(subsegment) => {
                Continued::Sampled { trace_id: subsegment.trace_id.clone(), parent_id: subsegment.id.clone() }
            }
            Self::NotSampled(root) => Continued::NotSampled(root.clone()),
        }
    }
}

/// One subsegment in the making.
#[derive(Debug, Clone, PartialEq)]
pub struct Subsegment {
    pub name: String,
    pub id: String,
    pub trace_id: String,
    pub parent_id: String,
    pub start_time: f64,
    pub fields: Map<String, Value>,
}

impl Subsegment {
    /// The document the daemon takes, as the span ends at `end_time`.
    pub fn document(&self, end_time: f64) -> Value {
        let text = |name: &str| self.fields.get(name).and_then(Value::as_str);
        let flag = |name: &str| self.fields.get(name).and_then(Value::as_bool).unwrap_or(false);
        let mut document = json!({
            "type": "subsegment",
            "name": self.name,
            "id": self.id,
            "trace_id": self.trace_id,
            "parent_id": self.parent_id,
            "start_time": self.start_time,
            "end_time": end_time.max(self.start_time),
        });
        if let Some(service) = text("aws.service") {
            document["name"] = json!(service);
            document["namespace"] = json!("aws");
            let mut aws = Map::new();
            for (field, key) in
                [("aws.operation", "operation"), ("aws.region", "region"), ("aws.request_id", "request_id")]
            {
                if let Some(value) = text(field) {
                    aws.insert(key.to_owned(), json!(value));
                }
            }
            document["aws"] = Value::Object(aws);
        }
        if let Some(status) = self.fields.get("http.status").and_then(Value::as_u64) {
            document["http"] = json!({"response": {"status": status}});
        }
        for flag_name in ["error", "fault", "throttle"] {
            if flag(&format!("xray.{flag_name}")) {
                document[flag_name] = json!(true);
            }
        }
        if let Some(cause) = text("xray.cause") {
            document["cause"] = json!({"exceptions": [{"id": new_segment_id(), "message": cause}]});
        }
        // The span's own fields, searchable in the console (X-Ray allows letters, digits and _).
        let annotations: Map<String, Value> = self
            .fields
            .iter()
            .filter(|(name, value)| !is_reserved(name) && !value.is_null() && !value.is_object() && !value.is_array())
            .take(50)
            .map(|(name, value)| (name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"), value.clone()))
            .collect();
        if !annotations.is_empty() {
            document["annotations"] = Value::Object(annotations);
        }
        document
    }
}

fn is_reserved(field: &str) -> bool {
    ["aws.", "http.", "xray."].iter().any(|prefix| field.starts_with(prefix))
}

/// A span's fields as JSON values.
#[derive(Debug, Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), json!(format!("{value:?}")));
    }
}

/// The trace of the invocation a span belongs to, sampled or not, kept on the runtime's
/// invocation span: what log lines and metrics documents name ([`trace_id_of`]).
#[derive(Debug, Clone)]
struct InvocationTrace(String);

/// The trace id (`Root`) of the invocation these spans are in, if the runtime gave one.
pub fn trace_id_of<'a, S: LookupSpan<'a> + 'a>(
    mut spans: impl Iterator<Item = tracing_subscriber::registry::SpanRef<'a, S>>,
) -> Option<String> {
    spans.find_map(|span| span.extensions().get::<InvocationTrace>().map(|trace| trace.0.clone()))
}

/// The trace id of the invocation the current span is in: the runtime's span's (kept by
/// [`XrayLayer`]), else `_X_AMZN_TRACE_ID` (which the runtime sets for each invocation when
/// it runs one at a time).
pub fn current_trace_id() -> Option<String> {
    let from_spans = tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let current = dispatch.current_span();
        let span = registry.span(current.id()?)?;
        trace_id_of(span.scope())
    });
    from_spans.or_else(|| {
        let header = std::env::var("_X_AMZN_TRACE_ID").ok()?;
        TraceHeader::parse(&header).map(|header| header.root)
    })
}

/// The trace header that continues the current span's trace, for work that carries it on
/// where AWS does not (the photos API puts it in an upload's metadata): the nearest traced
/// subsegment as the parent when sampled, the trace with `Sampled=0` when not. `None` when
/// no invocation span is traced (a local run).
pub fn current_header() -> Option<TraceHeader> {
    tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(dispatch.current_span().id()?)?;
        let continued = span.scope().find_map(|above| above.extensions().get::<Traced>().map(Traced::for_children))?;
        match continued {
            Continued::Sampled { trace_id, parent_id } => {
                Some(TraceHeader { root: trace_id, parent: Some(parent_id), sampled: true })
            }
            Continued::NotSampled(root) => root.map(|root| TraceHeader { root, parent: None, sampled: false }),
        }
    })
}

/// The `tracing` layer that turns spans into subsegments (see the module's documentation).
/// Without a daemon it only keeps each invocation's trace id, for the log lines and metrics.
#[derive(Debug)]
pub struct XrayLayer {
    daemon: Option<Daemon>,
}

impl XrayLayer {
    /// The layer sending to `AWS_XRAY_DAEMON_ADDRESS`, or to nobody without one (not on
    /// Lambda, or an address that is not one).
    pub fn from_env() -> Self {
        Self { daemon: Daemon::from_env() }
    }

    pub fn sending_to(daemon: Daemon) -> Self {
        Self { daemon: Some(daemon) }
    }

    /// The layer with no daemon: trace ids for the lines and metrics, no subsegments.
    pub fn without_daemon() -> Self {
        Self { daemon: None }
    }

    /// Whether subsegments are sent anywhere.
    pub fn sends(&self) -> bool {
        self.daemon.is_some()
    }

    /// Which spans the layer needs: every span at INFO or above (whatever the log level).
    pub fn wants(metadata: &tracing::Metadata<'_>) -> bool {
        metadata.is_span() && *metadata.level() <= Level::INFO
    }
}

impl<S> Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let Some(span) = context.span(id) else { return };
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        let header = |field| fields.0.get(field).and_then(Value::as_str).and_then(TraceHeader::parse);
        if span.name() == INVOCATION_SPAN
            && let Some(trace) = header(INVOCATION_TRACE_FIELD)
        {
            span.extensions_mut().insert(InvocationTrace(trace.root));
        }
        // Only spans at INFO or above are subsegments (a library's DEBUG spans are not), whatever
        // the subscriber's filters let through.
        if self.daemon.is_none() || *span.metadata().level() > Level::INFO {
            return;
        }
        let traced = if span.name() == INVOCATION_SPAN {
            match header(INVOCATION_TRACE_FIELD) {
                Some(TraceHeader { root, parent: Some(parent_id), sampled: true }) => {
                    Traced::Context { trace_id: root, parent_id }
                }
                other => Traced::NotSampled(other.map(|header| header.root)),
            }
        } else {
            let continued = match header(TRACE_HEADER_FIELD) {
                Some(TraceHeader { root, parent: Some(parent_id), sampled: true }) => {
                    Some(Continued::Sampled { trace_id: root, parent_id })
                }
                Some(other) => Some(Continued::NotSampled(Some(other.root))),
                // The nearest span above that the layer keeps decides.
                None => {
                    span.scope().skip(1).find_map(|above| above.extensions().get::<Traced>().map(Traced::for_children))
                }
            };
            match continued {
                Some(Continued::Sampled { trace_id, parent_id }) => Traced::Subsegment(Subsegment {
                    name: span.name().to_owned(),
                    id: new_segment_id(),
                    trace_id,
                    parent_id,
                    start_time: epoch_seconds(SystemTime::now()),
                    fields: fields.0,
                }),
                Some(Continued::NotSampled(root)) => Traced::NotSampled(root),
                None => return,
            }
        };
        span.extensions_mut().insert(traced);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        let Some(span) = context.span(id) else { return };
        if let Some(Traced::Subsegment(subsegment)) = span.extensions_mut().get_mut::<Traced>() {
            let mut fields = Fields(std::mem::take(&mut subsegment.fields));
            values.record(&mut fields);
            subsegment.fields = fields.0;
        }
    }

    fn on_close(&self, id: Id, context: Context<'_, S>) {
        let Some(span) = context.span(&id) else { return };
        if let (Some(daemon), Some(Traced::Subsegment(subsegment))) =
            (&self.daemon, span.extensions_mut().remove::<Traced>())
        {
            daemon.send(&subsegment.document(epoch_seconds(SystemTime::now())));
        }
    }
}

/// An `aws` span per HTTP attempt of an SDK client: opened as the request is sent (which
/// then names it in `X-Amzn-Trace-Id`), closed with what came back. [`crate::aws::Aws`] adds
/// it to every client.
#[derive(Debug, Clone, Default)]
pub struct AwsCallTracing;

#[derive(Debug, Clone)]
struct AttemptSpan(tracing::Span);

impl Storable for AttemptSpan {
    type Storer = StoreReplace<Self>;
}

impl Intercept for AwsCallTracing {
    fn name(&self) -> &'static str {
        "AwsCallTracing"
    }

    // The span opens as the request is about to go (signed, after any retry's wait), and
    // the request names it in `X-Amzn-Trace-Id`: the service continues the trace from it
    // (SNS to its subscribers, S3 to its event notifications, SQS to the message).
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg.load::<Metadata>().map_or(("AWS", ""), |meta| (meta.service(), meta.name()));
        let region = cfg.load::<aws_config::Region>().map(ToString::to_string).unwrap_or_default();
        let span = tracing::info_span!(
            "aws",
            "aws.service" = service,
            "aws.operation" = operation,
            "aws.region" = region,
            "aws.request_id" = tracing::field::Empty,
            "http.status" = tracing::field::Empty,
            "xray.error" = tracing::field::Empty,
            "xray.fault" = tracing::field::Empty,
            "xray.throttle" = tracing::field::Empty,
            "xray.cause" = tracing::field::Empty,
        );
        if let Some(header) = header_naming(&span) {
            context.request_mut().headers_mut().insert("X-Amzn-Trace-Id", header);
        }
        cfg.interceptor_state().store_put(AttemptSpan(span));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(AttemptSpan(span)) = cfg.load::<AttemptSpan>().cloned() else { return Ok(()) };
        // The bag's handle goes, so the span closes (and is sent) when this one does.
        cfg.interceptor_state().unset::<AttemptSpan>();
        let status = context.response().map(|response| response.status().as_u16());
        let error = context.output_or_error().and_then(Result::err).map(|error| format!("{error:?}"));
        if let Some(response) = context.response() {
            let headers = response.headers();
            let request_id = ["x-amzn-requestid", "x-amz-request-id"].iter().find_map(|name| headers.get(*name));
            if let Some(request_id) = request_id {
                span.record("aws.request_id", request_id);
            }
        }
        if let Some(status) = status {
            span.record("http.status", status);
        }
        let flags = attempt_flags(status, error.as_deref());
        span.record("xray.error", flags.error);
        span.record("xray.fault", flags.fault);
        span.record("xray.throttle", flags.throttle);
        if let Some(error) = &error {
            span.record("xray.cause", error.chars().take(500).collect::<String>().as_str());
        }
        Ok(())
    }
}

/// The trace header for `span`'s request: its subsegment as the parent when sampled, the
/// trace and `Sampled=0` when not (so that the services downstream do not sample it either).
fn header_naming(span: &tracing::Span) -> Option<String> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let data = registry.span(id)?;
        let extensions = data.extensions();
        let header = match extensions.get::<Traced>()? {
            Traced::Subsegment(subsegment) => {
                TraceHeader { root: subsegment.trace_id.clone(), parent: Some(subsegment.id.clone()), sampled: true }
            }
            Traced::NotSampled(Some(root)) => TraceHeader { root: root.clone(), parent: None, sampled: false },
            Traced::NotSampled(None) | Traced::Context { .. } => return None,
        };
        Some(header.to_string())
    })
    .flatten()
}

/// X-Ray's flags for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptFlags {
    /// A client error (4xx).
    pub error: bool,
    /// A server error (5xx), or no answer at all.
    pub fault: bool,
    /// Throttled (429, or a throttling error in another status).
    pub throttle: bool,
}

/// The flags of an attempt that got `status` (none: no response) and `error` (its debug text).
pub fn attempt_flags(status: Option<u16>, error: Option<&str>) -> AttemptFlags {
    let throttled = error.is_some_and(|error| {
        ["Throttl", "SlowDown", "TooManyRequests", "RequestLimitExceeded", "ProvisionedThroughputExceeded"]
            .iter()
            .any(|code| error.contains(code))
    });
    match status {
        None => AttemptFlags { fault: error.is_some(), ..AttemptFlags::default() },
        Some(429) => AttemptFlags { error: true, throttle: true, ..AttemptFlags::default() },
        Some(status) if status >= 500 => AttemptFlags { fault: true, throttle: throttled, ..AttemptFlags::default() },
        Some(status) if status >= 400 => AttemptFlags { error: true, throttle: throttled, ..AttemptFlags::default() },
        Some(_) => AttemptFlags::default(),
    }
}

#[cfg(test)]
mod tests;
