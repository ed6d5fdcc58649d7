//! The pure part: no I/O, no SDK, no clock of its own. Routes and requests, the upload's key
//! and signed policy, the paging cursor, the token check, records as callers see them.

pub mod cursor;
pub mod http;
pub mod page;
pub mod photo;
pub mod post_policy;
pub mod token;
pub mod upload;

pub use cursor::CursorKey;
pub use http::{ApiRequest, ApiResponse, Route, route};
pub use photo::PhotoView;
pub use post_policy::{PostUpload, PresignedPost, SigningCredentials, presign_post};
pub use token::{Caller, Jwk, TokenUse, UnverifiedToken};
pub use upload::{ImageType, UploadRequest};

#[cfg(test)]
mod tests;
