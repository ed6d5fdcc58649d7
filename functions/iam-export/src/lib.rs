//! IAM users export: one CSV row per IAM user, joined from the credential report
//! and `GetAccountAuthorizationDetails`, with findings, written to S3 for auditors.
//!
//! `core` is pure, `aws` is the thin SDK layer, `handler` ties them together.

pub mod aws;
pub mod config;
pub mod core;
pub mod error;
pub mod handler;
pub mod metrics;

pub use config::Config;
pub use core::ExportSummary;
pub use error::IamExportError;
pub use handler::{Deps, handle};
