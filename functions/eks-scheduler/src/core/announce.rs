//! What a run announces: one message per cluster it changed or failed on (or, in a dry
//! run, would change), for the SNS topic and as an EventBridge event; once per snooze, the
//! stop it skipped; and each notice of a stop to come. Other unchanged and skipped clusters
//! are not announced: a quiet night sends nothing.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Action, ClusterReport, Report, Status};

/// The `source` of the scheduler's EventBridge events (`aws.` is reserved for AWS).
pub const EVENT_SOURCE: &str = "cloud-ops-toolkit.eks-scheduler";

/// One cluster's announcement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Announcement {
    /// EventBridge `detail-type`, and the SNS `event` attribute: `EKS Scheduler Cluster Stopped`.
    pub detail_type: String,
    /// The SNS subject (at most 100 characters, as SNS requires).
    pub subject: String,
    pub cluster: String,
    pub action: Option<Action>,
    pub status: Status,
    /// The event's `detail` and the SNS message's body.
    pub detail: Value,
}

/// The announcements of a finished run, in the report's cluster order.
pub fn announcements(report: &Report, request_id: &str) -> Vec<Announcement> {
    let clusters = report
        .clusters
        .iter()
        .filter(|cluster| {
            matches!(cluster.status, Status::Changed | Status::Failed)
                || cluster.snoozed.as_ref().is_some_and(|s| s.announce)
        })
        .map(|cluster| announcement(report, cluster, request_id));
    let notices = report.notices.iter().map(|notice| Announcement {
        detail_type: "EKS Scheduler Cluster Stop Notice".to_owned(),
        subject: subject("EKS Scheduler Cluster Stop Notice", &notice.cluster),
        cluster: notice.cluster.clone(),
        action: Some(Action::Stop),
        status: Status::Unchanged,
        detail: notice.detail(request_id),
    });
    clusters.chain(notices).collect()
}

/// `<what>: <cluster>`, cut to the 100 characters SNS allows a subject.
fn subject(what: &str, cluster: &str) -> String {
    let mut subject = format!("{what}: {cluster}");
    if subject.len() > 100 {
        let cut = (0..=97).rev().find(|i| subject.is_char_boundary(*i)).unwrap_or(0);
        subject.truncate(cut);
        subject.push_str("...");
    }
    subject
}

fn announcement(report: &Report, cluster: &ClusterReport, request_id: &str) -> Announcement {
    let what = match (cluster.status, cluster.action, report.dry_run) {
        (_, _, _) if cluster.snoozed.is_some() => "Stop Snoozed",
        (Status::Failed, Some(Action::Stop), _) => "Stop Failed",
        (Status::Failed, Some(Action::Start), _) => "Start Failed",
        (Status::Failed, None, _) => "Failed",
        (_, Some(Action::Stop), true) => "Stop Planned",
        (_, Some(Action::Start), true) => "Start Planned",
        (_, Some(Action::Stop), false) => "Stopped",
        (_, Some(Action::Start), false) => "Started",
        (_, None, _) => "Changed",
    };
    let detail_type = format!("EKS Scheduler Cluster {what}");
    let subject = subject(&detail_type, &cluster.name);
    let failures: Vec<Value> = cluster
        .nodegroups
        .iter()
        .filter(|n| n.status == Status::Failed)
        .map(|n| json!({ "nodegroup": n.name, "reason": n.reason }))
        .collect();
    let detail = json!({
        "cluster": cluster.name,
        "action": cluster.action,
        "status": cluster.status,
        "dry_run": report.dry_run,
        "reason": cluster.reason,
        "wave": cluster.wave,
        "nodegroups": cluster.nodegroups,
        "failures": failures,
        "savings": cluster.savings,
        "savings_text": cluster.savings.as_ref().map(|savings| savings.text()),
        "snoozed_until": cluster.snoozed_until(),
        "run_action": report.action,
        "request_id": request_id,
    });
    Announcement {
        detail_type,
        subject,
        cluster: cluster.name.clone(),
        action: cluster.action,
        status: cluster.status,
        detail,
    }
}
