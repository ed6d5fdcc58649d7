//! Logging and tracing through `tracing`.
//!
//! On Lambda the template sets `LoggingConfig.LogFormat: JSON`, which sets
//! `AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL`; the log lines follow them as the
//! runtime's own subscriber would (`lambda_runtime::tracing::init_default_subscriber`).
//! Locally, `RUST_LOG` sets the level. Beside the log lines, the X-Ray layer turns spans into
//! subsegments when Lambda runs a daemon (`AWS_XRAY_DAEMON_ADDRESS`), whatever the log level.

use tracing_subscriber::filter::{EnvFilter, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, Registry};

use crate::xray::XrayLayer;

/// Installs the global subscriber and says which version of the toolkit starts. Call once,
/// first thing in `main`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let levels = EnvFilter::builder().with_default_directive(level.into()).from_env_lossy();
    let lines = tracing_subscriber::fmt::layer().with_target(false).without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let lines: Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync> =
        if json { lines.json().with_filter(levels).boxed() } else { lines.with_filter(levels).boxed() };
    let daemon = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok();
    let traces = XrayLayer::from_env().map(|layer| layer.with_filter(filter_fn(XrayLayer::wants)));
    let untraced = daemon.is_some() && traces.is_none();
    tracing_subscriber::registry().with(lines).with(traces).init();
    tracing::info!(toolkit_version = crate::VERSION, "cold start");
    if untraced {
        tracing::warn!(
            setting = daemon.unwrap_or_default(),
            "AWS_XRAY_DAEMON_ADDRESS is not host:port (or udp:host:port): no traces are sent"
        );
    }
}
