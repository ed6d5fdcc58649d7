//! What the functions share, and nothing that knows about any one of them.
//!
//! - [`config`]: typed settings read from environment variables, with errors that
//!   name the variable and the form it expects.
//! - [`accounts`]: many accounts from one deployment: which ones (AWS Organizations),
//!   how to reach each (STS, the member role), and how many at once.
//! - [`aws`]: the SDK configuration loaded once at cold start, clients built from it,
//!   and a counter of the HTTP requests they send.
//! - [`deadline`]: the time an invocation has left.
//! - [`error`]: turning SDK errors into sentences and failures into Lambda diagnostics.
//! - [`logging`]: tracing in Lambda's JSON log format.
//! - [`metrics`]: one CloudWatch Embedded Metric Format document per invocation.
//! - [`spreadsheet`]: CSV cells that a spreadsheet will not run as formulas.
//! - [`xray`]: X-Ray subsegments from the `tracing` spans, sent to Lambda's daemon.

pub mod accounts;
pub mod aws;
pub mod config;
pub mod deadline;
pub mod error;
pub mod logging;
pub mod metrics;
pub mod spreadsheet;
pub mod xray;

/// The toolkit's version (the workspace's, as CHANGELOG.md lists them), which every function
/// reports: in its cold-start log line and in each metrics document.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
