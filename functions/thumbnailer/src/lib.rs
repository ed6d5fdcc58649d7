//! Thumbnailer: resized thumbnails of images uploaded to S3, from S3, SQS or
//! EventBridge events, with partial batch failures and a record of every rejected file.
//!
//! `core` is pure (events, keys, records, the batch's results; no I/O and no pixels), the
//! `imaging` crate makes the thumbnails, `aws` is the thin S3 layer, `catalog` the photo
//! record (DynamoDB) and its announcement (SNS), `handler` applies the failure policy.

// The failure policy depends on unwinding: libjpeg's fatal errors unwind out of its error
// callback and a panicking image worker is caught, both becoming a recorded rejection.
// Compiled with `panic = "abort"` (cargo-lambda's default), either kills the process and the
// whole SQS batch with it, so such a build must not exist.
#[cfg(panic = "abort")]
compile_error!(
    "the thumbnailer must be built with panic = \"unwind\": keep `panic = \"unwind\"` in the workspace's [profile.release] (cargo-lambda builds with abort otherwise)"
);

pub mod aws;
pub mod catalog;
pub mod config;
pub mod core;
pub mod error;
pub mod handler;
pub mod metrics;

pub use config::Config;
pub use core::Response;
pub use error::ThumbnailerError;
pub use handler::{Deps, handle};
