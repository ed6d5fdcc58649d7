//! The crate's errors: what fails a whole invocation, and what fails one photo's filing in
//! the catalogue (which the handler turns into a retry of that photo). A bad image fails
//! neither: it is recorded and acknowledged.

use std::fmt;

use lambda_runtime::Diagnostic;
use shared::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum ThumbnailerError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("invalid event: {0}")]
    InvalidEvent(String),

    /// Direct S3 and EventBridge invocations: some objects must be tried again. Each entry
    /// is `bucket/key: why`.
    #[error("{} object(s) must be tried again: {}", objects.len(), objects.join(" | "))]
    Retry { objects: Vec<String> },

    /// A photo's record could not be read or written.
    #[error(
        "{step} the record of {photo_id} in DynamoDB table {table} failed: {message}; check that PHOTOS_TABLE names a table in this region and that the function's role allows dynamodb:GetItem, PutItem, UpdateItem and DeleteItem on it"
    )]
    Table { table: String, photo_id: String, step: TableStep, message: String, transient: bool },

    /// The near-duplicate lookup could not query the band index.
    #[error(
        "looking up near-duplicates of {photo_id} in index {index} of DynamoDB table {table} failed: {message}; check that the table has that index (the template creates it; an existing table needs it added, see the photo catalogue's docs) and that the function's role allows dynamodb:Query on it, or set DUPLICATE_DISTANCE=off"
    )]
    DuplicateIndex { table: String, index: &'static str, photo_id: String, message: String, transient: bool },

    /// A photo's announcement could not be published.
    #[error(
        "publishing {event} to SNS topic {topic_arn} failed: {message}; check PHOTOS_TOPIC_ARN and that the function's role allows sns:Publish on it (and kms:GenerateDataKey on its key if it is encrypted)"
    )]
    Topic { topic_arn: String, event: String, message: String, transient: bool },
}

impl ThumbnailerError {
    /// Whether the same request may succeed later with nothing changed (throttling, 5xx, a
    /// dropped connection), as opposed to a setting or permission to fix first. Both are
    /// retried for a photo: the conditional writes make a retry safe, and a fix plus a
    /// redrive recovers the rest.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Table { transient, .. } | Self::Topic { transient, .. } | Self::DuplicateIndex { transient, .. } => {
                *transient
            }
            Self::Retry { .. } => true,
            Self::Config(_) | Self::InvalidEvent(_) => false,
        }
    }
}

/// What was being done to a photo's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStep {
    Writing,
    Reading,
    MarkingAnnounced,
    IndexingBands,
}

impl fmt::Display for TableStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Writing => "writing",
            Self::Reading => "reading",
            Self::MarkingAnnounced => "marking as announced",
            Self::IndexingBands => "filing the hash bands of",
        })
    }
}

impl From<ThumbnailerError> for Diagnostic {
    fn from(err: ThumbnailerError) -> Self {
        let error_type = match &err {
            ThumbnailerError::Config(_) => "InvalidConfiguration",
            ThumbnailerError::InvalidEvent(_) => "InvalidEvent",
            ThumbnailerError::Retry { .. } => "Retryable",
            ThumbnailerError::Table { .. }
            | ThumbnailerError::Topic { .. }
            | ThumbnailerError::DuplicateIndex { .. }
                if err.is_transient() =>
            {
                "Retryable"
            }
            ThumbnailerError::Table { .. }
            | ThumbnailerError::Topic { .. }
            | ThumbnailerError::DuplicateIndex { .. } => "NonRetryable",
        };
        shared::error::diagnostic(error_type, &err)
    }
}
