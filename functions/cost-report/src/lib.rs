//! Cost report: yesterday's AWS costs from Cost Explorer, to a CSV in S3, an HTML
//! email through SES and a Slack message, from at most three Cost Explorer requests.
//!
//! `core` is pure, `aws` and `slack` are the thin I/O layers, `handler` ties them together.

pub mod aws;
pub mod config;
pub mod core;
pub mod error;
pub mod handler;
pub mod metrics;
pub mod slack;

pub use config::Config;
pub use core::RunSummary;
pub use error::CostReportError;
pub use handler::{Deps, handle, run};
