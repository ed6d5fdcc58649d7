//! What can stop a report. A channel that fails does not stop the others: the run
//! fails with [`CostReportError::ChannelsFailed`] after trying all of them.

use lambda_runtime::Diagnostic;
use shared::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum CostReportError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("invalid event: {0}")]
    InvalidEvent(String),

    /// The Slack webhook's secret could not be read at cold start.
    #[error("reading the Slack webhook from secret {arn} failed: {reason}")]
    SlackSecret { arn: String, reason: String },

    #[error("Cost Explorer {operation} failed: {message}")]
    CostExplorer { operation: &'static str, message: String, transient: bool },

    #[error("Cost Explorer answered something unexpected: {0}")]
    CostExplorerAnswer(String),

    #[error("rendering the CSV failed: {0}")]
    Csv(#[from] csv::Error),

    /// SES did not send the email: the reason, and the fix when it is known.
    #[error("{0}")]
    Email(String),

    /// Slack did not take the message.
    #[error("{0}")]
    Slack(String),

    /// An S3 object (the CSV, a delivery record, the stored figures) could not be read or written.
    #[error("{0}")]
    S3(String),

    /// The report was computed; these channels failed (the others were delivered).
    #[error("{0}")]
    ChannelsFailed(String),

    /// Every channel was delivered, without the forecast, which failed in a way only the
    /// operator can fix (access denied, validation).
    #[error("{0}")]
    ForecastFailed(String),
}

impl CostReportError {
    /// The stable error type Lambda reports, and the metrics' `ErrorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) | Self::SlackSecret { .. } => "InvalidConfiguration",
            Self::InvalidEvent(_) => "InvalidEvent",
            Self::CostExplorer { transient: true, .. } => "Retryable",
            Self::ChannelsFailed(_) => "ChannelsFailed",
            Self::ForecastFailed(_) => "ForecastFailed",
            _ => "NonRetryable",
        }
    }
}

impl From<CostReportError> for Diagnostic {
    fn from(err: CostReportError) -> Self {
        shared::error::diagnostic(err.error_type(), &err)
    }
}
