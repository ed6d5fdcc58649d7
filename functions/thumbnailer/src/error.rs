//! What fails a whole invocation. A bad image does not: it is recorded and acknowledged.

use lambda_runtime::Diagnostic;
use shared::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum ThumbnailerError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("invalid event: {0}")]
    InvalidEvent(String),

    /// Direct S3 and EventBridge invocations: some objects must be tried again.
    #[error("{0}")]
    Retry(String),
}

impl From<ThumbnailerError> for Diagnostic {
    fn from(err: ThumbnailerError) -> Self {
        let error_type = match &err {
            ThumbnailerError::Config(_) => "InvalidConfiguration",
            ThumbnailerError::InvalidEvent(_) => "InvalidEvent",
            ThumbnailerError::Retry(_) => "Retryable",
        };
        shared::error::diagnostic(error_type, &err)
    }
}
