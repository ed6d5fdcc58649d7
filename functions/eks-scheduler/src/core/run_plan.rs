//! A run's plan, decided before any nodegroup is read: which clusters a run looks at, which
//! each action takes and in what waves, which are held back and why, and the reports of the
//! clusters it leaves alone. The handler describes clusters, takes leases and reads
//! nodegroups, and hands what it found to these functions; then it executes the plan.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::Action;
use super::decide::{Choice, ClusterInfo, NodegroupPlans, Selection, check_tags_fit, choose};
use super::event::{Request, RequestedAction};
use super::groups::{GroupPlan, Kind, SelfManagedGroup, plan_group};
use super::nodepools::{NodePool, NodePoolPlan, plan_nodepool};
use super::plan::{plan_start, plan_stop};
use super::report::{ClusterReport, NodegroupReport, Report};
use super::sites::{qualify_dependency, resolve_named, split_key};
use super::tags::{START_SIZE_TAG, saved_tag_key};
use super::waves::{held_by_undescribed, parse_dependencies, plan_waves};
use super::{Sizes, Status};

/// Whether a cluster's name matches an IAM wildcard pattern (`*` any run of characters, `?`
/// one), as the role's resource ARNs do: the scheduler acts only on clusters whose names match
/// `CLUSTER_NAME_PATTERN`, the template's `EksClusterNamePattern`.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let (pattern, name): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer match, backtracking to the last `*`.
    let (mut p, mut n, mut star, mut resume) = (0, 0, None, 0);
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            resume = n;
            p += 1;
        } else if let Some(at) = star {
            p = at + 1;
            resume += 1;
            n = resume;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// The clusters a run looks at, by key: the named ones (each name resolved in every site
/// that has it, a key taken as it is), or every cluster that exists whose name matches
/// `pattern` (a named one outside it is reported as such, not left out).
pub fn candidates(named: Option<&[String]>, existing: &BTreeSet<String>, pattern: &str) -> Vec<String> {
    match named {
        Some(named) => {
            let mut keys: Vec<String> = named.iter().flat_map(|name| resolve_named(name, existing.iter())).collect();
            keys.dedup();
            keys
        }
        None => existing.iter().filter(|key| name_matches(pattern, split_key(key).1)).cloned().collect(),
    }
}

/// What the run decides from the request alone, before any lease: whether it would act on
/// this described cluster (only those are leased).
pub fn would_act(selection: &Selection<'_>, request: &Request, info: &ClusterInfo, now: Timestamp) -> bool {
    matches!(choose(selection, request.action, request.clusters.is_some(), info, now), Choice::Act(..))
}

/// The run's settings and moment, for planning.
#[derive(Debug, Clone, Copy)]
pub struct Planning<'a> {
    pub selection: Selection<'a>,
    pub request: &'a Request,
    pub now: Timestamp,
    /// The tag naming a cluster's dependencies (`DEPENDENCY_TAG`).
    pub dependency_tag: &'a str,
    /// Every cluster that exists in the sites the run reaches, by key.
    pub existing: &'a BTreeSet<String>,
}

/// One action's share of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionPlan {
    /// The clusters chosen for the action.
    pub clusters: BTreeSet<String>,
    /// Start order: wave 0 needs nothing else chosen; a stop goes through them in reverse.
    pub waves: Vec<Vec<String>>,
    /// The clusters whose nodegroups are read and planned, in wave order: the chosen ones
    /// that are neither blocked nor held back.
    pub to_plan: Vec<String>,
}

impl ActionPlan {
    pub fn wave_of(&self, cluster: &str) -> Option<usize> {
        self.waves.iter().position(|wave| wave.iter().any(|c| c == cluster))
    }
}

/// A run's plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunPlan {
    /// Every cluster described, by key, with its tags as the lease read them back.
    pub infos: BTreeMap<String, ClusterInfo>,
    pub actions: BTreeMap<Action, ActionPlan>,
    /// Each described cluster's dependencies, as keys.
    pub dependencies: BTreeMap<String, Vec<String>>,
    /// Why auto chose a cluster's action, shown when nothing else is said of it.
    pub reasons: BTreeMap<String, String>,
    /// The reports decided already: clusters not described, not leased, reported without
    /// an action, blocked by their dependencies, or held back.
    pub reports: BTreeMap<String, ClusterReport>,
}

impl RunPlan {
    /// Each action's waves, as the report lists them.
    pub fn waves_of(actions: &BTreeMap<Action, ActionPlan>) -> BTreeMap<Action, Vec<Vec<String>>> {
        actions.iter().map(|(action, plan)| (*action, plan.waves.clone())).collect()
    }
}

/// Plans a run from the clusters it described (each one's info, or the error that kept it
/// from being described, which the cluster's report gives in words) and the reports of the
/// clusters whose lease it did not get.
pub fn plan_run<E: std::fmt::Display>(
    planning: &Planning<'_>,
    described: Vec<(String, Result<ClusterInfo, E>)>,
    lease_refusals: BTreeMap<String, ClusterReport>,
) -> RunPlan {
    let request = planning.request;
    let (fixed, named) = (request.action.fixed(), request.clusters.is_some());
    let mut plan = RunPlan { reports: lease_refusals, ..RunPlan::default() };
    let mut undescribed = BTreeMap::new();
    let mut chosen: BTreeMap<Action, BTreeSet<String>> = BTreeMap::new();
    for (name, described) in described {
        let info = match described {
            Ok(info) => info,
            Err(error) => {
                let reason = error.to_string();
                plan.reports.insert(name.clone(), ClusterReport::failed(&name, fixed, reason.clone()));
                undescribed.insert(name, reason);
                continue;
            }
        };
        if !plan.reports.contains_key(&name) {
            match choose(&planning.selection, request.action, named, &info, planning.now) {
                Choice::Act(action, why) => {
                    chosen.entry(action).or_default().insert(name.clone());
                    if let Some(why) = why {
                        plan.reasons.insert(name.clone(), why);
                    }
                }
                Choice::Report(report) => {
                    plan.reports.insert(name.clone(), report);
                }
                Choice::NotSelected => {}
            }
        }
        plan.infos.insert(name, info);
    }

    plan.dependencies = plan
        .infos
        .values()
        .map(|info| {
            let needs = info.tags.get(planning.dependency_tag).map(|v| parse_dependencies(v)).unwrap_or_default();
            (info.name.clone(), needs.iter().map(|need| qualify_dependency(need, &info.name)).collect())
        })
        .collect();

    for (action, clusters) in chosen {
        let order = plan_waves(&clusters, &plan.dependencies, planning.existing);
        for (name, reason) in &order.blocked {
            plan.reports.insert(name.clone(), ClusterReport::failed(name, Some(action), reason.clone()).held_back());
        }
        // A start waits for what it needs; a dependency that could not be described may be down.
        let mut to_plan = Vec::new();
        for name in order.waves.iter().flatten() {
            let held = match action {
                Action::Start => held_by_undescribed(name, &plan.dependencies, &undescribed),
                Action::Stop => None,
            };
            match held {
                Some(reason) => {
                    plan.reports.insert(name.clone(), ClusterReport::failed(name, Some(action), reason).held_back());
                }
                None if plan.infos.contains_key(name) => to_plan.push(name.clone()),
                None => {}
            }
        }
        plan.actions.insert(action, ActionPlan { clusters, waves: order.waves, to_plan });
    }
    plan
}

/// Plans each of a cluster's nodegroups (their current sizes) for `action`, from the sizes
/// its tags saved. A stop whose saved sizes would not fit in EKS's tags comes back as the
/// cluster's report.
pub fn plan_nodegroups(
    action: Action,
    info: &ClusterInfo,
    nodegroups: Vec<(String, Sizes)>,
) -> Result<NodegroupPlans, ClusterReport> {
    let start_size = info.tags.get(START_SIZE_TAG).map(String::as_str);
    let plans: NodegroupPlans = nodegroups
        .into_iter()
        .map(|(name, sizes)| {
            let saved = info.tags.get(&saved_tag_key(&name)).map(String::as_str);
            let plan = match action {
                Action::Stop => plan_stop(sizes, saved),
                Action::Start => plan_start(&name, sizes, saved, start_size),
            };
            (name, plan)
        })
        .collect();
    if action == Action::Stop {
        check_tags_fit(info, &plans).map_err(|reason| ClusterReport::failed(&info.name, Some(action), reason))?;
    }
    Ok(plans)
}

/// What a cluster runs on, as read: its managed nodegroups with their sizes, its
/// self-managed groups, its Karpenter NodePools (when its API was asked) with their
/// NodeClaims, and its Fargate profiles by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacity {
    pub managed: Vec<(String, Sizes)>,
    pub self_managed: Vec<SelfManagedGroup>,
    pub nodepools: Vec<NodePool>,
    pub fargate: Vec<String>,
    /// The machines each piece runs now, for the savings ledger.
    pub running: Vec<super::RunningPiece>,
}

/// Each piece of a cluster's capacity with its plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapacityPlans {
    pub managed: NodegroupPlans,
    pub self_managed: Vec<(String, GroupPlan)>,
    pub nodepools: Vec<(String, NodePoolPlan)>,
    pub fargate: Vec<String>,
    /// The machines each piece runs now, for the savings ledger.
    pub running: Vec<super::RunningPiece>,
}

impl CapacityPlans {
    /// What a stop takes down: the machines of each piece it changes.
    pub fn stopping(&self) -> Vec<super::RunningPiece> {
        let changed: Vec<(Kind, String)> = Kind::phases(Action::Stop)
            .into_iter()
            .flat_map(|kind| self.planned(kind))
            .filter(|line| line.status == Status::Changed)
            .map(|line| (line.kind, line.name))
            .collect();
        self.running
            .iter()
            .filter(|piece| {
                piece.count() > 0 && changed.iter().any(|(kind, name)| *kind == piece.kind && *name == piece.name)
            })
            .cloned()
            .collect()
    }

    /// The report lines of one kind, as planned.
    pub fn planned(&self, kind: Kind) -> Vec<NodegroupReport> {
        match kind {
            Kind::Managed => {
                self.managed.iter().map(|(name, plan)| NodegroupReport::planned(kind, name, plan)).collect()
            }
            Kind::SelfManaged => {
                self.self_managed.iter().map(|(name, plan)| NodegroupReport::planned(kind, name, &plan.sizes)).collect()
            }
            Kind::NodePool => self.nodepools.iter().map(|(name, plan)| NodegroupReport::nodepool(name, plan)).collect(),
            Kind::Fargate => self.fargate.iter().map(|name| NodegroupReport::fargate(name)).collect(),
        }
    }
}

/// Plans each piece of a cluster's capacity for `action`: the managed nodegroups as
/// `plan_nodegroups` does, each self-managed group from its own tags, each NodePool from its
/// own annotation. A cluster with none of them comes back as its report, skipped, its
/// Fargate profiles listed.
pub fn plan_capacity(action: Action, info: &ClusterInfo, capacity: Capacity) -> Result<CapacityPlans, ClusterReport> {
    if capacity.managed.is_empty() && capacity.self_managed.is_empty() && capacity.nodepools.is_empty() {
        return Err(no_capacity(&info.name, action, &capacity.fargate));
    }
    let managed =
        if capacity.managed.is_empty() { Vec::new() } else { plan_nodegroups(action, info, capacity.managed)? };
    // A key across accounts is `<account>/<region>/<name>`; the groups' tags hold the name.
    let name = split_key(&info.name).1;
    let self_managed =
        capacity.self_managed.iter().map(|group| (group.name.clone(), plan_group(action, name, group))).collect();
    let nodepools = capacity
        .nodepools
        .iter()
        .map(|pool| (pool.name.clone(), plan_nodepool(action, pool, info.api.auto_mode)))
        .collect();
    Ok(CapacityPlans { managed, self_managed, nodepools, fargate: capacity.fargate, running: capacity.running })
}

/// The report of a cluster with neither managed nodegroups nor self-managed groups.
pub fn no_capacity(cluster: &str, action: Action, fargate_profiles: &[String]) -> ClusterReport {
    let reason = format!(
        "no managed nodegroups, no self-managed groups (Auto Scaling groups tagged kubernetes.io/cluster/<name> or eks:cluster-name) and no NodePools read (Auto Mode, or Karpenter tagged eks-scheduler/karpenter=true); {} Fargate profiles, which are not schedulable; the control plane keeps billing",
        fargate_profiles.len()
    );
    let mut report = ClusterReport::skipped(cluster, Some(action), reason);
    report.nodegroups = fargate_profiles.iter().map(|name| NodegroupReport::fargate(name)).collect();
    report
}

/// A cluster's report as planned: each piece of capacity's before and after, in the order
/// the action goes through them, then the Fargate profiles.
pub fn planned_report(cluster: &str, action: Action, plans: &CapacityPlans) -> ClusterReport {
    let mut report = ClusterReport::new(cluster, Some(action));
    report.nodegroups =
        Kind::phases(action).into_iter().chain([Kind::Fargate]).flat_map(|kind| plans.planned(kind)).collect();
    report
}

/// The report of a planned cluster not acted on because `reason` holds it back.
pub fn held_back_report(
    cluster: &str,
    action: Action,
    plans: &CapacityPlans,
    reason: String,
    wave: usize,
) -> ClusterReport {
    let mut report = planned_report(cluster, action, plans);
    report
        .nodegroups
        .iter_mut()
        .filter(|n| n.kind != Kind::Fargate)
        .for_each(|n| n.fail("not acted on: a dependency failed"));
    report.status = Status::Failed;
    report.reason = reason;
    report.held_back = true;
    report.wave = Some(wave);
    report
}

/// The run's report from every cluster's: a cluster with nothing else to say says why
/// auto chose its action.
pub fn assemble_report(
    request: &Request,
    mut reports: BTreeMap<String, ClusterReport>,
    reasons: &BTreeMap<String, String>,
    waves: &BTreeMap<Action, Vec<Vec<String>>>,
    api_calls: u64,
) -> Report {
    for (name, why) in reasons {
        if let Some(report) = reports.get_mut(name).filter(|r| r.reason.is_empty()) {
            report.reason = why.clone();
        }
    }
    let clusters: Vec<ClusterReport> = reports.into_values().collect();
    Report {
        action: match request.action {
            RequestedAction::Stop => "stop",
            RequestedAction::Start => "start",
            RequestedAction::Auto => "auto",
            RequestedAction::Report => "report",
        }
        .to_owned(),
        dry_run: request.dry_run,
        waves: waves.iter().map(|(action, w)| (action.to_string(), w.clone())).collect(),
        totals: Report::totals_of(&clusters),
        clusters,
        api_calls,
        scaling_seconds: 0,
        sites: Vec::new(),
        notices: Vec::new(),
    }
}
