//! The guard against overlapping runs: before acting on a cluster, a run writes a lease
//! tag naming itself and when it ends, waits, and reads the tag back. EKS tagging has no
//! condition (no compare-and-set), so the wait is what makes it sound: a second run
//! either read the lease before writing its own (and backed off), or wrote within the
//! wait and overwrote it (and the first run, reading back, backs off). Only a run that
//! stalls for longer than the wait between its read and its write could slip through;
//! the template's reserved concurrency of 1 covers one stack, the lease covers the rest
//! (another stack, another alias, a manual run).

use jiff::Timestamp;

use super::tags::tag_problem;

/// `eks-scheduler/lease` = `<holder>@<until>`: the run acting on the cluster, and when its lease ends.
pub const LEASE_TAG: &str = "eks-scheduler/lease";

/// A run's claim on a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The invocation's request id, reduced to what a tag value may hold.
    pub holder: String,
    pub until: Timestamp,
}

impl Lease {
    pub fn new(request_id: &str, until: Timestamp) -> Self {
        let holder: String =
            request_id.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).take(100).collect();
        Self { holder: if holder.is_empty() { "unnamed".to_owned() } else { holder }, until }
    }

    pub fn tag_value(&self) -> String {
        format!("{}@{}", self.holder, self.until.strftime("%Y-%m-%dT%H:%M:%SZ"))
    }

    pub fn parse(value: &str) -> Option<Self> {
        let (holder, until) = value.rsplit_once('@')?;
        Some(Self { holder: holder.to_owned(), until: until.parse().ok()? })
    }
}

/// Who holds a cluster, as its lease tag says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseState {
    /// No lease, an expired one, or one that cannot be read (it can only be stale).
    Free,
    Ours,
    /// Another run's lease, still running.
    Held(Lease),
}

pub fn lease_state(tag: Option<&str>, mine: &Lease, now: Timestamp) -> LeaseState {
    match tag.and_then(Lease::parse) {
        None => LeaseState::Free,
        Some(lease) if lease.holder == mine.holder => LeaseState::Ours,
        Some(lease) if lease.until <= now => LeaseState::Free,
        Some(lease) => LeaseState::Held(lease),
    }
}

impl LeaseState {
    /// Why a run must leave the cluster alone, if it must.
    pub fn refusal(&self) -> Option<String> {
        match self {
            Self::Held(lease) => Some(format!(
                "another run ({}) is acting on this cluster until {}: left to it; the next run checks again",
                lease.holder,
                lease.until.strftime("%Y-%m-%dT%H:%M:%SZ")
            )),
            _ => None,
        }
    }
}

/// The lease tag is valid for EKS whatever the request id was.
pub fn lease_tag_problem(lease: &Lease) -> Option<String> {
    tag_problem(LEASE_TAG, &lease.tag_value())
}
