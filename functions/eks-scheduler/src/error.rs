//! What can stop a whole run. Per-cluster problems are not errors here: they are
//! reported per cluster, and the run fails with [`EksSchedulerError::ClustersFailed`] at the end.

use lambda_runtime::Diagnostic;
use shared::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum EksSchedulerError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("invalid event: {0}")]
    InvalidEvent(String),

    /// An EKS call failed (after the SDK's retries). `ListClusters` fails the run; any
    /// other is reported on its cluster or nodegroup.
    #[error("EKS {operation} failed: {message}")]
    Eks { operation: String, message: String, transient: bool },

    /// A nodegroup's scaling update could not be applied or did not complete.
    #[error("{0}")]
    Update(String),

    /// Everything else was done; these clusters failed. The full report is in the log.
    #[error("{0}")]
    ClustersFailed(String),
}

impl From<EksSchedulerError> for Diagnostic {
    fn from(err: EksSchedulerError) -> Self {
        let error_type = match &err {
            EksSchedulerError::Config(_) => "InvalidConfiguration",
            EksSchedulerError::InvalidEvent(_) => "InvalidEvent",
            EksSchedulerError::Eks { transient: true, .. } => "Retryable",
            EksSchedulerError::Eks { .. } | EksSchedulerError::Update(_) => "NonRetryable",
            EksSchedulerError::ClustersFailed(_) => "ClustersFailed",
        };
        shared::error::diagnostic(error_type, &err)
    }
}
