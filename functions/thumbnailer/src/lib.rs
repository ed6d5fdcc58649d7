//! Thumbnailer: resized thumbnails of images uploaded to S3, from S3, SQS or
//! EventBridge events, with partial batch failures and a record of every rejected file.
//!
//! `core` is pure (the image pipeline is CPU work, no I/O), `aws` is the thin S3 layer,
//! `handler` applies the failure policy.

pub mod aws;
pub mod config;
pub mod core;
pub mod error;
pub mod handler;
pub mod memory;

pub use config::Config;
pub use error::ThumbnailerError;
pub use handler::{Deps, Response, handle};
