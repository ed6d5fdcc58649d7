//! Photos API: the photo pipeline's front door behind API Gateway's HTTP API. A signed-in
//! caller gets a presigned POST for one new key in their own folder of the uploads bucket,
//! and reads their own gallery from the photo catalogue the thumbnailer files.
//!
//! `core` is pure (routes, upload checks, the POST policy and its signature, cursors, the
//! token check), `aws` the thin layer over S3, DynamoDB and the issuer's keys, `handler`
//! answers each route.

pub mod aws;
pub mod config;
pub mod core;
pub mod error;
pub mod handler;

pub use config::Config;
pub use error::PhotosApiError;
pub use handler::{Clock, Deps, handle};
