//! Everything that can go wrong in an export, each naming the thing and the fix.

use lambda_runtime::Diagnostic;
use shared::accounts::AccountsError;
use shared::accounts::access::AccessError;
use shared::config::ConfigError;

use crate::core::CoreError;

/// Failed accounts named in the error itself; the summary file lists them all.
const MAX_ACCOUNTS_NAMED: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum IamExportError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error(transparent)]
    Core(#[from] CoreError),

    #[error(
        "report bucket {bucket} does not exist: create it, or set REPORT_BUCKET to an existing bucket (the template creates one unless ExistingReportBucket is given)"
    )]
    BucketNotFound { bucket: String },

    #[error(
        "report bucket {bucket} cannot be used: {message}; the function's role needs s3:ListBucket on the bucket and s3:PutObject on the report prefix, and the bucket must belong to REPORT_BUCKET_OWNER when that is set (S3 refuses another account's bucket)"
    )]
    BucketNotUsable { bucket: String, message: String },

    #[error("IAM {operation} failed: {message}")]
    Iam { operation: &'static str, message: String, transient: bool },

    #[error(
        "the credential report was still not ready after {waited_seconds}s; the next run will pick it up (AWS builds it in the background)"
    )]
    CredentialReportTimeout { waited_seconds: u64 },

    #[error("writing s3://{bucket}/{key} failed: {message}")]
    Upload { bucket: String, key: String, message: String, transient: bool },

    #[error(
        "{cause}; and the files this run may have written could not be removed ({cleanup}): delete {keys} by hand, they are not a complete export (the function's role needs s3:DeleteObject on the report prefix)"
    )]
    PartialExport { cause: Box<IamExportError>, keys: String, cleanup: Box<IamExportError> },

    /// Removing what a failed run wrote failed; each entry is `key: why`.
    #[error("DeleteObject in bucket {bucket} failed for {}", failed.join("; "))]
    Delete { bucket: String, failed: Vec<String> },

    #[error(
        "Identity Center {operation} failed: {message}; the IAM files are written, the Identity Center ones are not. The function's role needs the Identity Center reads the template grants (sso:ListInstances, sso:List*/Describe*/Get* on permission sets and assignments, identitystore:List*), or set IDENTITY_CENTER=false (EnableIdentityCenter) to leave Identity Center out"
    )]
    IdentityCenter { operation: &'static str, message: String, transient: bool, access_denied: bool },

    #[error("rendering the CSV failed: {0}")]
    Csv(#[from] csv::Error),

    #[error("rendering the accounts summary failed: {0}")]
    Summary(String),

    /// ACCOUNTS is set and the organization's accounts could not be chosen.
    #[error(transparent)]
    Accounts(#[from] AccountsError),

    /// A member account could not be reached.
    #[error(transparent)]
    Access(#[from] AccessError),

    #[error(
        "{} of {total} accounts were not exported (the others are in the export; each account's status is in {summary_key}): {}{}",
        failed.len(),
        failed.iter().take(MAX_ACCOUNTS_NAMED).cloned().collect::<Vec<_>>().join("; "),
        if failed.len() > MAX_ACCOUNTS_NAMED { format!("; and {} more", failed.len() - MAX_ACCOUNTS_NAMED) } else { String::new() }
    )]
    AccountsFailed { failed: Vec<String>, total: usize, summary_key: String },
}

impl IamExportError {
    /// Worth retrying later: throttling, a 5xx, a timeout, a report still being built.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Iam { transient, .. } | Self::Upload { transient, .. } | Self::IdentityCenter { transient, .. } => {
                *transient
            }
            Self::CredentialReportTimeout { .. } => true,
            Self::PartialExport { cause, .. } => cause.is_transient(),
            Self::Accounts(err) => err.is_transient(),
            Self::Access(err) => err.is_transient(),
            _ => false,
        }
    }

    /// The stable error type Lambda reports, and the metrics' `ErrorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) => "InvalidConfiguration",
            Self::Core(CoreError::Event(_)) => "InvalidEvent",
            Self::BucketNotFound { .. } | Self::BucketNotUsable { .. } => "ReportBucketUnavailable",
            Self::Accounts(_) => "AccountsUnavailable",
            Self::AccountsFailed { .. } => "AccountsFailed",
            Self::IdentityCenter { .. } if !self.is_transient() => "IdentityCenterUnavailable",
            _ if self.is_transient() => "Retryable",
            _ => "NonRetryable",
        }
    }
}

impl From<IamExportError> for Diagnostic {
    fn from(err: IamExportError) -> Self {
        shared::error::diagnostic(err.error_type(), &err)
    }
}
