//! Thumbnailer: resized thumbnails of images uploaded to S3.

pub mod core;
