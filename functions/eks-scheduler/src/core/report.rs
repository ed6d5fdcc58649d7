//! The function's result: per cluster and nodegroup what happened, and totals.

use serde::Serialize;

use super::{Action, Kind, NodePoolPlan, NodegroupPlan, SiteReport, Sizes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Changed,
    Unchanged,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodegroupReport {
    /// A managed nodegroup, a self-managed group or a Fargate profile.
    pub kind: Kind,
    pub name: String,
    /// `min/desired/max` before, and after (or, in a dry run, what it would be).
    pub before: String,
    pub after: String,
    pub status: Status,
    pub reason: String,
}

impl NodegroupReport {
    /// The report line for a plan, before it is carried out (or for a dry run).
    pub fn planned(kind: Kind, name: &str, plan: &NodegroupPlan) -> Self {
        let (after, status, reason): (Sizes, Status, String) = match plan {
            NodegroupPlan::Change { after, .. } => (*after, Status::Changed, String::new()),
            NodegroupPlan::Unchanged { before, reason } => (*before, Status::Unchanged, reason.clone()),
            NodegroupPlan::Skipped { before, reason } => (*before, Status::Skipped, reason.clone()),
            NodegroupPlan::Failed { before, reason } => (*before, Status::Failed, reason.clone()),
        };
        Self {
            kind,
            name: name.to_owned(),
            before: plan.before().to_string(),
            after: after.to_string(),
            status,
            reason,
        }
    }

    /// The report line for a NodePool's plan: its limits and nodes before and after.
    pub fn nodepool(name: &str, plan: &NodePoolPlan) -> Self {
        let (before, after, status, reason) = match plan {
            NodePoolPlan::Change { before, after, .. } => (before, after.clone(), Status::Changed, String::new()),
            NodePoolPlan::Unchanged { before, reason } => (before, before.clone(), Status::Unchanged, reason.clone()),
            NodePoolPlan::Skipped { before, reason } => (before, before.clone(), Status::Skipped, reason.clone()),
            NodePoolPlan::Failed { before, reason } => (before, before.clone(), Status::Failed, reason.clone()),
        };
        Self { kind: Kind::NodePool, name: name.to_owned(), before: before.clone(), after, status, reason }
    }

    /// A Fargate profile: listed, never scaled.
    pub fn fargate(name: &str) -> Self {
        Self {
            kind: Kind::Fargate,
            name: name.to_owned(),
            before: "-".to_owned(),
            after: "-".to_owned(),
            status: Status::Skipped,
            reason: "not schedulable: Fargate runs pods, not nodes, and bills only while they run; scale the workloads to stop it".to_owned(),
        }
    }

    pub fn fail(&mut self, reason: impl Into<String>) {
        self.after = self.before.clone();
        self.status = Status::Failed;
        self.reason = reason.into();
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterReport {
    pub name: String,
    /// What was done or due; `None` when nothing was (an auto run with nothing due, a blocked cluster).
    pub action: Option<Action>,
    /// Position in the dependency order of its action (0 first); `None` when not ordered.
    pub wave: Option<usize>,
    pub status: Status,
    pub reason: String,
    /// Not acted on because of a dependency: one that failed, is blocked, or is unknown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub held_back: bool,
    pub nodegroups: Vec<NodegroupReport>,
    /// What a stop saves an hour, or what a start's off period saved (with the ledger on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savings: Option<Box<super::SavingsReport>>,
    /// A stop skipped for the cluster's snooze tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snoozed: Option<Box<Snoozed>>,
}

/// A stop skipped for a snooze.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snoozed {
    /// The snooze's end: the first run after it takes the stop.
    pub until: jiff::Timestamp,
    /// This run is the first to skip a stop for this snooze: it announces it.
    #[serde(skip)]
    pub announce: bool,
}

impl ClusterReport {
    /// When the snooze that skipped this stop ends, if one did.
    pub fn snoozed_until(&self) -> Option<jiff::Timestamp> {
        self.snoozed.as_ref().map(|snoozed| snoozed.until)
    }

    pub fn new(name: &str, action: Option<Action>) -> Self {
        Self {
            name: name.to_owned(),
            action,
            wave: None,
            status: Status::Unchanged,
            reason: String::new(),
            held_back: false,
            nodegroups: Vec::new(),
            savings: None,
            snoozed: None,
        }
    }

    pub fn failed(name: &str, action: Option<Action>, reason: impl Into<String>) -> Self {
        Self { status: Status::Failed, reason: reason.into(), ..Self::new(name, action) }
    }

    /// Not acted on because of a dependency.
    pub fn held_back(mut self) -> Self {
        self.held_back = true;
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    pub fn skipped(name: &str, action: Option<Action>, reason: impl Into<String>) -> Self {
        Self { status: Status::Skipped, reason: reason.into(), ..Self::new(name, action) }
    }

    /// The cluster's status from its nodegroups': failed if any failed, changed if any changed,
    /// unchanged if any is unchanged, else skipped.
    pub fn settle(&mut self) {
        if self.status == Status::Failed || self.nodegroups.is_empty() {
            return;
        }
        let any = |status: Status| self.nodegroups.iter().any(|n| n.status == status);
        self.status = [Status::Failed, Status::Changed, Status::Unchanged]
            .into_iter()
            .find(|status| any(*status))
            .unwrap_or(Status::Skipped);
        if self.status == Status::Failed && self.reason.is_empty() {
            self.reason = "a nodegroup failed".to_owned();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Totals {
    pub clusters: usize,
    pub clusters_failed: usize,
    pub nodegroups_changed: usize,
    pub nodegroups_unchanged: usize,
    pub nodegroups_skipped: usize,
    pub nodegroups_failed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub action: String,
    pub dry_run: bool,
    /// Start order of the clusters acted on, per action; stop runs these waves in reverse.
    pub waves: std::collections::BTreeMap<String, Vec<Vec<String>>>,
    pub clusters: Vec<ClusterReport>,
    pub totals: Totals,
    /// HTTP requests sent to AWS by this invocation, retries included.
    pub api_calls: u64,
    /// Time from the first scaling call to the last update's end, waits included.
    pub scaling_seconds: u64,
    /// A run across accounts or regions: every account and region, with what it found there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<SiteReport>,
    /// An `auto` run's notices of stops to come (`core::notice_due`), announced with the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<super::Notice>,
}

impl Report {
    pub fn totals_of(clusters: &[ClusterReport]) -> Totals {
        let nodegroups = || clusters.iter().flat_map(|c| c.nodegroups.iter());
        let count = |status: Status| nodegroups().filter(|n| n.status == status).count();
        Totals {
            clusters: clusters.len(),
            clusters_failed: clusters.iter().filter(|c| c.status == Status::Failed).count(),
            nodegroups_changed: count(Status::Changed),
            nodegroups_unchanged: count(Status::Unchanged),
            nodegroups_skipped: count(Status::Skipped),
            nodegroups_failed: count(Status::Failed),
        }
    }

    /// One line naming every failure, for the function's error message.
    pub fn failure_summary(&self) -> Option<String> {
        let failures: Vec<String> = self
            .clusters
            .iter()
            .filter(|c| c.status == Status::Failed)
            .map(|c| {
                let nodegroups: Vec<String> = c
                    .nodegroups
                    .iter()
                    .filter(|n| n.status == Status::Failed)
                    .map(|n| format!("{} {}: {}", n.kind.noun(), n.name, n.reason))
                    .collect();
                let detail = if nodegroups.is_empty() { c.reason.clone() } else { nodegroups.join("; ") };
                format!("{}: {detail}", c.name)
            })
            .collect();
        let unreached: Vec<String> = self
            .sites
            .iter()
            .filter(|site| site.status == shared::accounts::AccountStatus::Failed)
            .map(|site| match site.region.as_str() {
                "" => format!("account {}: {}", site.account_id, site.reason),
                region => format!("account {} in {region}: {}", site.account_id, site.reason),
            })
            .collect();
        let clusters = (!failures.is_empty()).then(|| {
            format!("{} of {} clusters failed: {}", failures.len(), self.clusters.len(), failures.join(" | "))
        });
        let sites = (!unreached.is_empty()).then(|| {
            let reached = self.sites.iter().filter(|s| s.status == shared::accounts::AccountStatus::Ok).count();
            format!(
                "{} accounts or regions could not be read ({reached} were): {}",
                unreached.len(),
                unreached.join(" | ")
            )
        });
        match (clusters, sites) {
            (None, None) => None,
            (Some(one), None) | (None, Some(one)) => Some(one),
            (Some(clusters), Some(sites)) => Some(format!("{clusters}; {sites}")),
        }
    }
}
