//! Logging and tracing through `tracing`.
//!
//! On Lambda the template sets `LoggingConfig.LogFormat: JSON`, which sets
//! `AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL`; the log lines follow them as the
//! runtime's own subscriber would (`lambda_runtime::tracing::init_default_subscriber`).
//! Locally, `RUST_LOG` sets the level. Beside the log lines, the X-Ray layer turns spans into
//! subsegments when Lambda runs a daemon (`AWS_XRAY_DAEMON_ADDRESS`), whatever the log level.

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter, filter_fn};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, JsonFields, Writer};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, Registry};

use crate::xray::XrayLayer;

/// The field each JSON log line of an invocation names its X-Ray trace in (the runtime's own
/// name for it), so that a trace leads to its lines: `filter xrayTraceId = "1-..."`.
pub const TRACE_FIELD: &str = "xrayTraceId";

/// A JSON line formatter that puts the invocation's trace id first in each line.
#[derive(Debug)]
struct WithTraceId<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let trace = context.event_scope().and_then(|scope| crate::xray::trace_id_of(scope.from_root()));
        let Some(trace) = trace else { return self.0.format_event(context, writer, event) };
        let mut line = String::new();
        self.0.format_event(context, Writer::new(&mut line), event)?;
        // A trace id is `1-<hex>-<hex>` (checked when read), safe in a JSON string as it is.
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"{TRACE_FIELD}\":\"{trace}\",{rest}"),
            None => writer.write_str(&line),
        }
    }
}

/// Installs the global subscriber and says which version of the toolkit starts. Call once,
/// first thing in `main`.
pub fn init() {
    let daemon = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok();
    let traces = XrayLayer::from_env();
    let untraced = daemon.is_some() && !traces.sends();
    subscriber(std::io::stdout, traces).init();
    tracing::info!(toolkit_version = crate::VERSION, "cold start");
    if untraced {
        tracing::warn!(
            setting = daemon.unwrap_or_default(),
            "AWS_XRAY_DAEMON_ADDRESS is not host:port (or udp:host:port): no traces are sent"
        );
    }
}

/// The functions' subscriber, lines written to `writer`: what [`init`] installs, and what the
/// tracing benchmark measures with and without a daemon.
pub fn subscriber<W>(writer: W, traces: XrayLayer) -> impl Subscriber + Send + Sync
where
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let levels = EnvFilter::builder().with_default_directive(level.into()).from_env_lossy();
    let lines = tracing_subscriber::fmt::layer().with_target(false).without_time().with_writer(writer);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let lines: Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync> = if json {
        let format = tracing_subscriber::fmt::format().json().with_target(false).without_time();
        lines.fmt_fields(JsonFields::new()).event_format(WithTraceId(format)).with_filter(levels).boxed()
    } else {
        lines.with_filter(levels).boxed()
    };
    tracing_subscriber::registry().with(lines).with(traces.with_filter(filter_fn(XrayLayer::wants)))
}
