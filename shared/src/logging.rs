//! Logging through `tracing`.
//!
//! On Lambda the template sets `LoggingConfig.LogFormat: JSON`, which sets
//! `AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL`; the runtime's subscriber
//! reads them. Locally, `RUST_LOG` sets the level.

/// Installs the global subscriber and says which version of the toolkit starts. Call once,
/// first thing in `main`.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
    tracing::info!(toolkit_version = crate::VERSION, "cold start");
}
