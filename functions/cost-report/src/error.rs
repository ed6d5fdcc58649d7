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
    #[error("{message}")]
    Email { message: String, transient: bool },

    /// Slack did not take the message.
    #[error("{message}")]
    Slack { message: String, transient: bool },

    /// An S3 object (the CSV, a delivery record, the stored figures) could not be read or written.
    #[error("{message}")]
    S3 { message: String, transient: bool },

    /// AWS Budgets could not be read (`budgets:DescribeBudgets`).
    #[error("{message}")]
    Budgets { message: String, transient: bool },

    /// The report was computed; these channels failed (the others were delivered). Each
    /// entry is `channel: why`; `transient` when every one of them may succeed on a retry.
    #[error("cost report for {report_day}: {} (delivered: {delivered})", failed.join(" | "))]
    ChannelsFailed { report_day: String, failed: Vec<String>, delivered: String, transient: bool },

    /// Every channel was delivered, without the forecast, which failed in a way only the
    /// operator can fix (access denied, validation).
    #[error("cost report for {report_day}: {reason} (the report was delivered without a forecast: {delivered})")]
    ForecastFailed { report_day: String, reason: String, delivered: String },

    /// Every channel was delivered, without the budget, which the operator must fix.
    #[error("cost report for {report_day}: {reason} (the report was delivered without the budget: {delivered})")]
    BudgetFailed { report_day: String, reason: String, delivered: String },
}

impl CostReportError {
    /// Whether the same request may succeed later with nothing changed (throttling, 5xx,
    /// a dropped connection), from the cause itself.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::CostExplorer { transient, .. }
            | Self::Email { transient, .. }
            | Self::Slack { transient, .. }
            | Self::S3 { transient, .. }
            | Self::Budgets { transient, .. }
            | Self::ChannelsFailed { transient, .. } => *transient,
            Self::Config(_)
            | Self::InvalidEvent(_)
            | Self::SlackSecret { .. }
            | Self::CostExplorerAnswer(_)
            | Self::Csv(_)
            | Self::ForecastFailed { .. }
            | Self::BudgetFailed { .. } => false,
        }
    }

    /// The stable error type Lambda reports, and the metrics' `ErrorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) | Self::SlackSecret { .. } => "InvalidConfiguration",
            Self::InvalidEvent(_) => "InvalidEvent",
            Self::ChannelsFailed { .. } => "ChannelsFailed",
            Self::ForecastFailed { .. } => "ForecastFailed",
            Self::BudgetFailed { .. } => "BudgetFailed",
            _ if self.is_transient() => "Retryable",
            _ => "NonRetryable",
        }
    }
}

impl From<CostReportError> for Diagnostic {
    fn from(err: CostReportError) -> Self {
        shared::error::diagnostic(err.error_type(), &err)
    }
}
