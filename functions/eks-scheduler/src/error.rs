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

    /// An Auto Scaling call on a self-managed group failed (after the SDK's retries); reported
    /// on its group. `fix` says what to change when the role was refused.
    #[error("Auto Scaling {operation} on group {group} failed: {message}{}", fix.map(|fix| format!("; {fix}")).unwrap_or_default())]
    AutoScaling { operation: String, group: String, message: String, transient: bool, fix: Option<&'static str> },

    /// A call to a cluster's Kubernetes API failed; `status` is its HTTP status (409: the
    /// object changed since it was read).
    #[error("the Kubernetes API of cluster {cluster}: {operation} failed: {message}")]
    Kubernetes { cluster: String, operation: String, status: Option<u16>, message: String },

    /// The savings ledger (`REPORT_BUCKET`) could not be read or written; reported on the
    /// clusters whose lines it holds.
    #[error("the savings ledger: {operation} {location} failed: {message}")]
    Ledger { operation: String, location: String, message: String, transient: bool },

    /// A named cluster is not where this run looks.
    #[error(
        "the cluster does not exist in {}",
        if *across_accounts { "any account and region this run reaches" } else { "this account and region" }
    )]
    NoSuchCluster { across_accounts: bool },

    /// A cluster named in the event whose name `CLUSTER_NAME_PATTERN` does not match.
    #[error(
        "its name is outside CLUSTER_NAME_PATTERN={pattern}, the clusters the scheduler's role may read and scale: widen EksClusterNamePattern to include it"
    )]
    OutsidePattern { pattern: String },

    /// `ACCOUNTS` is set and the accounts could not be chosen (Organizations, or STS).
    #[error("{0}")]
    Accounts(String),

    /// A nodegroup's scaling update could not be applied or did not complete.
    #[error("{0}")]
    Update(String),

    /// Everything else was done; these clusters failed. The full report is in the log.
    #[error("{0}")]
    ClustersFailed(String),

    /// The run's work is done, but telling the topic or the bus about it failed.
    #[error("announcing what the run did to cluster {cluster} on {target} failed: {message}; {fix}")]
    Notify { target: String, cluster: String, message: String, fix: &'static str },

    /// The clusters failed, and announcing it failed too: both are reported.
    #[error("{clusters}; and {notify}")]
    ClustersFailedUnannounced { clusters: String, notify: Box<EksSchedulerError> },
}

impl EksSchedulerError {
    /// The stable error type Lambda reports, and the metrics' `ErrorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) => "InvalidConfiguration",
            Self::Accounts(_) => "AccountsUnavailable",
            Self::InvalidEvent(_) => "InvalidEvent",
            Self::Eks { transient: true, .. }
            | Self::AutoScaling { transient: true, .. }
            | Self::Ledger { transient: true, .. }
            | Self::Kubernetes { status: None | Some(409 | 429 | 500..=599), .. } => "Retryable",
            Self::Eks { .. }
            | Self::AutoScaling { .. }
            | Self::Kubernetes { .. }
            | Self::Ledger { .. }
            | Self::Update(_)
            | Self::NoSuchCluster { .. }
            | Self::OutsidePattern { .. } => "NonRetryable",
            Self::ClustersFailed(_) | Self::ClustersFailedUnannounced { .. } => "ClustersFailed",
            Self::Notify { .. } => "NotificationFailed",
        }
    }
}

impl From<EksSchedulerError> for Diagnostic {
    fn from(err: EksSchedulerError) -> Self {
        shared::error::diagnostic(err.error_type(), &err)
    }
}
