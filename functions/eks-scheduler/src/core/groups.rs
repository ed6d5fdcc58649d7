//! A cluster's compute beyond its managed nodegroups: self-managed node groups (the Auto
//! Scaling groups tagged for the cluster) and Fargate profiles, the kinds of capacity a
//! report lists, and the order a cluster's kinds are stopped and started in.
//!
//! A self-managed group keeps its own record, in tags on the group (Auto Scaling allows 50
//! a group, and a group's name may hold characters EKS tags refuse): the sizes to restore,
//! the processes the stop suspended, and the warm pool it emptied. Like a nodegroup's, a
//! saved size is written only from a running size, never `0/0/…`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::plan::{NodegroupPlan, plan_start_from};
use super::{Action, Sizes};

/// The kind of a piece of a cluster's capacity, as reports and announcements name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An EKS managed nodegroup, scaled through EKS.
    Managed,
    /// An Auto Scaling group tagged for the cluster, scaled through Auto Scaling.
    SelfManaged,
    /// A Karpenter NodePool (EKS Auto Mode's among them), through the cluster's Kubernetes API.
    #[serde(rename = "nodepool")]
    NodePool,
    /// A Fargate profile: pods, not nodes; nothing to scale.
    Fargate,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Managed => "managed",
            Self::SelfManaged => "self-managed",
            Self::NodePool => "nodepool",
            Self::Fargate => "fargate",
        }
    }

    /// What a piece of this kind is called in a sentence: `nodegroup system`, `NodePool default`.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Managed => "nodegroup",
            Self::SelfManaged => "group",
            Self::NodePool => "NodePool",
            Self::Fargate => "Fargate profile",
        }
    }

    /// The kinds a cluster's action goes through, in order. A stop takes Karpenter's capacity
    /// down first (while its controller still runs to drain it), then the self-managed
    /// groups, then the managed nodegroups (which usually host the cluster's controllers,
    /// Karpenter and the Cluster Autoscaler among them); a start goes the other way, the
    /// NodePools' limits restored once the nodegroups hosting their controller are back.
    pub fn phases(action: Action) -> [Self; 3] {
        match action {
            Action::Stop => [Self::NodePool, Self::SelfManaged, Self::Managed],
            Action::Start => [Self::Managed, Self::SelfManaged, Self::NodePool],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `eks-scheduler/saved` = `min/desired/max` on a group: the size a start restores.
pub const GROUP_SAVED_TAG: &str = "eks-scheduler/saved";
/// `eks-scheduler/suspended` = `AZRebalance ReplaceUnhealthy …`: the processes the stop
/// suspended (not those someone else had), resumed by the start.
pub const GROUP_SUSPENDED_TAG: &str = "eks-scheduler/suspended";
/// `eks-scheduler/saved-warm-pool` = `min=1 max-prepared=5`: the warm pool the stop emptied.
pub const GROUP_WARM_POOL_TAG: &str = "eks-scheduler/saved-warm-pool";
/// The tag `eks:cluster-name` = `<cluster>` that EKS puts on its own groups and a
/// self-managed group may carry; the function's role may change only groups that have it.
pub const CLUSTER_NAME_TAG: &str = "eks:cluster-name";
/// The tag `eks-scheduler/cluster` = `<cluster>` an operator puts on a self-managed group
/// that has no `eks:cluster-name`: the other tag the function's role may change groups by.
pub const GROUP_CLUSTER_TAG: &str = "eks-scheduler/cluster";
/// The tag EKS puts on the Auto Scaling group of a managed nodegroup (scaled through EKS).
pub const NODEGROUP_NAME_TAG: &str = "eks:nodegroup-name";

/// The processes that would undo or fight a stop while a group is at zero: a scheduled
/// action or an alarm's scaling policy sizing it up again, a rebalance or a replacement
/// launching an instance. Suspended by the stop, resumed by the start.
pub const PROCESSES_SUSPENDED_WHILE_STOPPED: [&str; 4] =
    ["AZRebalance", "AlarmNotification", "ReplaceUnhealthy", "ScheduledActions"];

/// The tag key of the Kubernetes cloud provider's ownership tag for `cluster`.
pub fn cluster_ownership_tag(cluster: &str) -> String {
    format!("kubernetes.io/cluster/{cluster}")
}

/// Whether an Auto Scaling group with these tags is a self-managed node group of `cluster`:
/// tagged `kubernetes.io/cluster/<cluster>` = `owned` or `shared`, or `eks:cluster-name` or
/// `eks-scheduler/cluster` = `<cluster>`, and not a managed nodegroup's own group (EKS scales those).
pub fn is_self_managed_group_of(cluster: &str, tags: &BTreeMap<String, String>) -> bool {
    if tags.contains_key(NODEGROUP_NAME_TAG) {
        return false;
    }
    let owned = tags
        .get(&cluster_ownership_tag(cluster))
        .is_some_and(|value| matches!(value.trim().to_ascii_lowercase().as_str(), "owned" | "shared"));
    owned || may_change(cluster, tags)
}

/// Whether the function's role may change the group: IAM can match a tag's value, not a
/// key that holds the cluster's name (`kubernetes.io/cluster/<name>`), so the template's
/// policy names `eks:cluster-name` and `eks-scheduler/cluster`, and a group needs one of them.
pub fn may_change(cluster: &str, tags: &BTreeMap<String, String>) -> bool {
    [CLUSTER_NAME_TAG, GROUP_CLUSTER_TAG].iter().any(|key| tags.get(*key).is_some_and(|value| value == cluster))
}

/// A plan that would change a group the role may not change fails up front, saying how to
/// permit it, rather than being refused part way.
pub fn plan_group(action: Action, cluster: &str, group: &SelfManagedGroup) -> GroupPlan {
    let plan = match action {
        Action::Stop => plan_group_stop(group),
        Action::Start => plan_group_start(group),
    };
    if !matches!(plan.sizes, NodegroupPlan::Change { .. }) || may_change(cluster, &group.tags) {
        return plan;
    }
    let reason = format!(
        "the function's role may change only groups tagged {CLUSTER_NAME_TAG} or {GROUP_CLUSTER_TAG} with their \
         cluster's name (IAM cannot match a tag key that holds the name, as kubernetes.io/cluster/<name> does): \
         tag it {GROUP_CLUSTER_TAG}={cluster} (aws autoscaling create-or-update-tags --tags \
         ResourceId={},ResourceType=auto-scaling-group,Key={GROUP_CLUSTER_TAG},Value={cluster},PropagateAtLaunch=false)",
        group.name
    );
    GroupPlan { sizes: NodegroupPlan::Failed { before: group.sizes, reason }, steps: GroupSteps::default() }
}

/// A warm pool's sizing: `max_prepared` `None` is AWS's default (the group's max size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmPool {
    pub min: i32,
    pub max_prepared: Option<i32>,
}

impl WarmPool {
    /// The sizing a stop sets: no warm instances at all.
    pub const EMPTY: Self = Self { min: 0, max_prepared: Some(0) };

    /// Whether the pool keeps instances once its group is at `0/0/0` (its size is then the
    /// larger of its min and its max prepared capacity).
    pub fn holds_instances_when_stopped(self) -> bool {
        self.min > 0 || self.max_prepared.is_some_and(|max| max > 0)
    }
}

const WARM_POOL_FORM: &str = "min=<n> max-prepared=<n or group-max>, like min=1 max-prepared=5";

impl fmt::Display for WarmPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max_prepared {
            Some(max) => write!(f, "min={} max-prepared={max}", self.min),
            None => write!(f, "min={} max-prepared=group-max", self.min),
        }
    }
}

impl FromStr for WarmPool {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fields: BTreeMap<&str, &str> = text.split_whitespace().filter_map(|field| field.split_once('=')).collect();
        let number = |value: &str| value.parse::<i32>().ok().filter(|n| *n >= 0);
        let min = fields.get("min").and_then(|v| number(v));
        let max_prepared = match fields.get("max-prepared") {
            Some(&"group-max") => Some(None),
            Some(value) => number(value).map(Some),
            None => None,
        };
        match (min, max_prepared, fields.len()) {
            (Some(min), Some(max_prepared), 2) => Ok(Self { min, max_prepared }),
            _ => Err(format!("{text:?} is not {WARM_POOL_FORM}")),
        }
    }
}

/// What a warm pool keeps through a change of its sizing: `PutWarmPool` sets the whole
/// configuration, so these are given back as they were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarmPoolSettings {
    /// `Stopped`, `Running` or `Hibernated`.
    pub state: Option<String>,
    pub reuse_on_scale_in: Option<bool>,
}

/// A self-managed node group as the scheduler reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfManagedGroup {
    pub name: String,
    pub sizes: Sizes,
    /// The group's own tags, where its saved state is.
    pub tags: BTreeMap<String, String>,
    /// The processes suspended now, by anyone.
    pub suspended: BTreeSet<String>,
    /// Its instances protected from scale in.
    pub protected_instances: Vec<String>,
    pub warm_pool: Option<WarmPool>,
    pub warm_pool_settings: WarmPoolSettings,
}

/// What a self-managed group's action does besides setting its sizes, in the order it is done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSteps {
    /// Stop: the tags written on the group before anything else changes.
    pub save: BTreeMap<String, String>,
    /// Stop: the processes suspended.
    pub suspend: Vec<String>,
    /// The warm pool's sizing to set, with the settings it keeps.
    pub warm_pool: Option<(WarmPool, WarmPoolSettings)>,
    /// Stop: the instances whose scale-in protection is removed, so the group can reach zero.
    pub unprotect: Vec<String>,
    /// Start: the processes resumed (those the stop suspended and are suspended still).
    pub resume: Vec<String>,
    /// Start: the scheduler's tags removed once the group is back.
    pub clear: Vec<String>,
}

/// The plan for one self-managed group: its sizes, as a nodegroup's, and the steps around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub sizes: NodegroupPlan,
    pub steps: GroupSteps,
}

/// Stop: save the running size (and what else the stop changes), suspend the processes
/// that would fight it, empty a warm pool that would keep instances, lift scale-in
/// protection, and scale to `0/0/0`. Max goes to zero too (Auto Scaling allows it, EKS does
/// not): neither the Cluster Autoscaler nor a warm pool then brings an instance back.
pub fn plan_group_stop(group: &SelfManagedGroup) -> GroupPlan {
    if group.sizes.is_stopped() {
        let reason = match group.tags.get(GROUP_SAVED_TAG) {
            Some(saved) => format!("already at zero; saved size {saved} kept"),
            None => "already at zero".to_owned(),
        };
        let sizes = NodegroupPlan::Unchanged { before: group.sizes, reason };
        return GroupPlan { sizes, steps: GroupSteps::default() };
    }
    let suspend: Vec<String> = PROCESSES_SUSPENDED_WHILE_STOPPED
        .iter()
        .filter(|process| !group.suspended.contains(**process))
        .map(|process| (*process).to_owned())
        .collect();
    // An earlier stop's record still stands for what it suspended and is suspended still
    // (the group was sized up by hand since, without a start).
    let mut ours: BTreeSet<String> = recorded_suspensions(group).into_iter().collect();
    ours.extend(suspend.iter().cloned());
    let mut save = BTreeMap::from([(GROUP_SAVED_TAG.to_owned(), group.sizes.to_string())]);
    if !ours.is_empty() {
        save.insert(GROUP_SUSPENDED_TAG.to_owned(), ours.into_iter().collect::<Vec<_>>().join(" "));
    }
    let warm_pool = group.warm_pool.filter(|pool| pool.holds_instances_when_stopped());
    if let Some(pool) = warm_pool {
        save.insert(GROUP_WARM_POOL_TAG.to_owned(), pool.to_string());
    }
    let steps = GroupSteps {
        save,
        suspend,
        warm_pool: warm_pool.map(|_| (WarmPool::EMPTY, group.warm_pool_settings.clone())),
        unprotect: group.protected_instances.clone(),
        ..GroupSteps::default()
    };
    GroupPlan {
        sizes: NodegroupPlan::Change { before: group.sizes, after: Sizes::new(0, 0, 0), clear_saved: false },
        steps,
    }
}

/// Start: restore the saved size, the warm pool, and resume what the stop suspended. A
/// group at zero with no saved size is left alone: unlike a managed nodegroup it does not
/// take the cluster's start size, since groups the Cluster Autoscaler scales from zero sit
/// at `0/0/n` by design. A running group that still carries a stop's record (sized up by
/// hand) gets its processes and warm pool back, its size kept.
pub fn plan_group_start(group: &SelfManagedGroup) -> GroupPlan {
    let saved = group.tags.get(GROUP_SAVED_TAG).map(|value| (GROUP_SAVED_TAG, value.as_str()));
    let mut sizes = match saved {
        None if group.sizes.is_stopped() => {
            let reason = format!("no saved size (tag {GROUP_SAVED_TAG} on the group), so it is left at zero");
            NodegroupPlan::Skipped { before: group.sizes, reason }
        }
        _ => plan_start_from(group.sizes, saved, None),
    };
    let clear: Vec<String> = [GROUP_SAVED_TAG, GROUP_SUSPENDED_TAG, GROUP_WARM_POOL_TAG]
        .into_iter()
        .filter(|tag| group.tags.contains_key(*tag))
        .map(str::to_owned)
        .collect();
    let running_with_record = matches!(sizes, NodegroupPlan::Unchanged { .. }) && !clear.is_empty();
    if running_with_record {
        sizes = NodegroupPlan::Change { before: group.sizes, after: group.sizes, clear_saved: true };
    }
    if !matches!(sizes, NodegroupPlan::Change { .. }) {
        return GroupPlan { sizes, steps: GroupSteps::default() };
    }
    let warm_pool = match group.tags.get(GROUP_WARM_POOL_TAG).map(|value| WarmPool::from_str(value)).transpose() {
        Ok(pool) => pool,
        Err(err) => {
            let reason = format!("tag {GROUP_WARM_POOL_TAG} on the group is unreadable: {err}");
            return GroupPlan {
                sizes: NodegroupPlan::Failed { before: group.sizes, reason },
                steps: GroupSteps::default(),
            };
        }
    };
    let warm_pool = warm_pool.map(|pool| (pool, group.warm_pool_settings.clone()));
    let resume = recorded_suspensions(group);
    GroupPlan { sizes, steps: GroupSteps { warm_pool, resume, clear, ..GroupSteps::default() } }
}

/// The processes a stop's record says it suspended that are suspended still.
fn recorded_suspensions(group: &SelfManagedGroup) -> Vec<String> {
    let recorded = group.tags.get(GROUP_SUSPENDED_TAG).map(String::as_str).unwrap_or_default();
    let mut processes: Vec<String> =
        recorded.split_whitespace().filter(|p| group.suspended.contains(*p)).map(str::to_owned).collect();
    processes.sort();
    processes.dedup();
    processes
}
