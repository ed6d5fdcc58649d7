//! The crate's errors. Every one becomes an HTTP answer: the caller's mistakes (4xx) say
//! what to change; a failure of ours (5xx) tells the caller only the request id, and the
//! log says what failed and what to check.

use shared::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum PhotosApiError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// 401: no caller, or a token that is not valid.
    #[error("{0}")]
    Unauthenticated(String),

    /// 400: a request the API cannot act on; the message names the field and what it takes.
    #[error("{0}")]
    BadRequest(String),

    /// 413: an upload larger than the thumbnailer accepts.
    #[error("{0}")]
    TooLarge(String),

    /// 404: no such photo, or not the caller's (the same answer for both).
    #[error("no such photo")]
    NotFound,

    /// 404: a path the API does not serve.
    #[error(
        "no route {method} {path}: the API serves GET /, POST /uploads, GET /photos, GET /photos/{{id}} and DELETE /photos/{{id}}"
    )]
    NoRoute { method: String, path: String },

    /// 405.
    #[error("{method} is not allowed on {path}: use {allowed}")]
    MethodNotAllowed { method: String, path: String, allowed: &'static str },

    /// An AWS call failed; `fix` says which setting or permission to check.
    #[error("{action} failed: {message}; {fix}")]
    Aws { action: String, message: String, fix: &'static str, transient: bool },

    /// The token issuer's keys could not be fetched.
    #[error(
        "fetching the token issuer's keys from {url} failed: {message}; check JWKS_URL (or JWT_ISSUER) and that the function can reach it"
    )]
    Keys { url: String, message: String },
}

impl PhotosApiError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated(_) => 401,
            Self::BadRequest(_) => 400,
            Self::TooLarge(_) => 413,
            Self::NotFound | Self::NoRoute { .. } => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Aws { transient: true, .. } | Self::Keys { .. } => 503,
            Self::Aws { transient: false, .. } | Self::Config(_) => 500,
        }
    }

    /// Whether the message may be shown to the caller: theirs to fix, and naming nothing of
    /// the deployment (tables, buckets, roles).
    pub fn is_the_callers(&self) -> bool {
        self.status() < 500
    }
}
