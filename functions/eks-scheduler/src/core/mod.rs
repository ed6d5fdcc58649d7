//! The pure core of the scheduler: the event, schedule tags, dependency waves,
//! the per-nodegroup and per-group plan, the tags it writes, and the report.
//!
//! No I/O, no SDK types, no clock: `now` is an argument.

mod announce;
mod calendar;
mod coverage;
mod decide;
mod event;
mod groups;
mod lease;
mod nodepools;
mod plan;
mod report;
mod run_plan;
mod savings;
mod schedule;
mod sites;
mod snooze;
mod tags;
mod waves;

use std::fmt;
use std::str::FromStr;

pub use announce::{Announcement, EVENT_SOURCE, announcements};
pub use calendar::{CALENDAR_DAYS, Scheduled, calendar};
pub use coverage::{
    COVERAGE_COLUMNS, ClusterSeen, Coverage, CoverageReport, CoverageRow, CoverageSettings, CoverageTotals,
    DEFAULT_SUGGESTED_SCHEDULE, HOURS_A_MONTH, NON_PRODUCTION_FORM, NonProduction, Running, coverage_of, coverage_row,
    hours_off,
};
pub use decide::{
    Choice, ClusterInfo, NodegroupPlans, Selection, check_tags_fit, choose, cluster_zone, held_back_by, notice_for,
    saved_size_tags,
};
pub use event::{Request, RequestedAction, parse_event};
pub use groups::{
    CLUSTER_NAME_TAG, GROUP_CLUSTER_TAG, GROUP_SAVED_TAG, GROUP_SUSPENDED_TAG, GROUP_WARM_POOL_TAG, GroupPlan,
    GroupSteps, Kind, NODEGROUP_NAME_TAG, PROCESSES_SUSPENDED_WHILE_STOPPED, SelfManagedGroup, WarmPool,
    WarmPoolSettings, cluster_ownership_tag, is_self_managed_group_of, may_change, plan_group, plan_group_start,
    plan_group_stop,
};
pub use lease::{LEASE_TAG, Lease, LeaseState, lease_state, lease_tag_problem};
pub use nodepools::{
    BUILT_IN_POOLS, KARPENTER_TAG, KubernetesApi, NodePool, NodePoolAccess, NodePoolPlan, SAVED_LIMITS_ANNOTATION,
    limits_stopped, limits_text, nodepool_access, parse_nodepool, plan_nodepool, plan_nodepool_start,
    plan_nodepool_stop,
};
pub use plan::{LastAction, NodegroupPlan, auto_action, plan_start, plan_stop};
pub use report::{ClusterReport, NodegroupReport, Report, Snoozed, Status, Totals};
pub use run_plan::{
    ActionPlan, Capacity, CapacityPlans, Planning, RunPlan, assemble_report, candidates, held_back_report,
    name_matches, no_capacity, plan_capacity, plan_nodegroups, plan_run, planned_report, would_act,
};
pub use savings::{
    Distribution, LEDGER_COLUMNS, LedgerLine, Machines, Market, OVERRIDES_FORM, PRICE_LABEL, PriceBasis, Priced, Quote,
    RunningPiece, Saving, SavingsReport, StopRecord, UNKNOWN_TYPE, append_ledger, arn_site, group_machines,
    managed_machines, mean_spot_price, merge_stop_record, monthly_summary, nodepool_machines, on_demand_price,
    parse_ledger, parse_price_overrides, price_record, saving, to_second,
};
pub use schedule::{SCHEDULE_FORM, Schedule, Transition};
pub use sites::{SiteReport, cluster_key, qualify_dependency, resolve_named, site_key, split_key};
pub use snooze::{
    MAX_SNOOZE_DAYS, NOTICED_TAG, Notice, SNOOZE_ANNOUNCED_TAG, SNOOZE_FORM, SNOOZE_TAG, Snooze, local_time,
    notice_due, snooze, snooze_tag_value, snoozed_reason,
};
pub use tags::{LAST_ACTION_TAG, MAX_TAGS_PER_RESOURCE, SAVED_TAG_PREFIX, START_SIZE_TAG, saved_tag_key, tag_problem};
pub use waves::{DependencyPlan, held_by_undescribed, parse_dependencies, plan_waves};

use serde::Serialize;

/// What the scheduler does to a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Stop,
    Start,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Start => "start",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A nodegroup's or group's scaling configuration, written `min/desired/max` (`2/3/6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sizes {
    pub min: i32,
    pub desired: i32,
    pub max: i32,
}

/// How sizes are written in tags and reports.
pub const SIZES_FORM: &str = "min/desired/max, like 2/3/6, with min <= desired <= max and max >= 1";

impl Sizes {
    pub const fn new(min: i32, desired: i32, max: i32) -> Self {
        Self { min, desired, max }
    }

    /// Scaled to zero: no nodes wanted. (`min <= desired`, so `min` is 0 too.)
    pub fn is_stopped(self) -> bool {
        self.desired == 0
    }

    /// What a stop sets: no nodes, `max` kept because EKS requires `max >= 1`.
    pub fn stopped(self) -> Self {
        Self { min: 0, desired: 0, max: self.max.max(1) }
    }
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.min, self.desired, self.max)
    }
}

impl FromStr for Sizes {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        let numbers: Option<Vec<i32>> = parts.iter().map(|p| p.parse::<i32>().ok().filter(|n| *n >= 0)).collect();
        match numbers.as_deref() {
            Some(&[min, desired, max]) if min <= desired && desired <= max && max >= 1 => {
                Ok(Self { min, desired, max })
            }
            _ => Err(format!("{text:?} is not {SIZES_FORM}")),
        }
    }
}

#[cfg(test)]
mod tests;
