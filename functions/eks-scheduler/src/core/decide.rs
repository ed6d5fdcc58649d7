//! The pure decisions of a run, which the handler only sequences: which clusters to act
//! on, what holds a cluster back, which tags a stop writes and whether they fit.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::Action;
use super::event::RequestedAction;
use super::plan::{LastAction, NodegroupPlan, auto_action};
use super::report::ClusterReport;
use super::schedule::Schedule;
use super::tags::{LAST_ACTION_TAG, MAX_TAGS_PER_RESOURCE, saved_tag_key, tag_problem};

/// A cluster as the scheduler sees it (what `DescribeCluster` says of it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterInfo {
    pub name: String,
    pub arn: String,
    pub tags: BTreeMap<String, String>,
    /// How its Kubernetes API is reached, for its NodePools.
    pub api: super::KubernetesApi,
}

/// Each nodegroup of a cluster with its plan, by nodegroup name.
pub type NodegroupPlans = Vec<(String, NodegroupPlan)>;

/// The tags that select clusters, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection<'a> {
    pub stop_tag: &'a str,
    pub start_tag: &'a str,
    pub schedule_tag: &'a str,
    /// The zone of schedule tags that give no `tz=`.
    pub default_timezone: &'a str,
}

/// What a run does with one cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// Act, and (for auto) why.
    Act(Action, Option<String>),
    /// Looked at and reported, but not acted on.
    Report(ClusterReport),
    /// Not opted in: left out of the report.
    NotSelected,
}

/// Which action, if any, `requested` means for this cluster: an opt-in tag, a named
/// cluster, or (for `auto`) its schedule tag against the last action recorded. A stop is
/// then held to the cluster's snooze tag (`core::snooze`), unless it names the cluster; a
/// start never is.
pub fn choose(
    selection: &Selection<'_>,
    requested: RequestedAction,
    named: bool,
    info: &ClusterInfo,
    now: Timestamp,
) -> Choice {
    let choice = choose_action(selection, requested, named, info, now);
    // A stop that names the cluster is an operator's own decision: the snooze does not hold it.
    let manual = named && requested == RequestedAction::Stop;
    if manual || !matches!(choice, Choice::Act(Action::Stop, _)) {
        return choice;
    }
    let (zone, zone_name) = cluster_zone(selection, info);
    match super::snooze(info.tags.get(super::SNOOZE_TAG).map(String::as_str), &zone, now) {
        super::Snooze::None | super::Snooze::Ended => choice,
        super::Snooze::Until { until, .. } => {
            let mut report =
                ClusterReport::skipped(&info.name, Some(Action::Stop), super::snoozed_reason(until, &zone, &zone_name));
            report.snoozed = Some(Box::new(super::Snoozed { until, announce: false }));
            Choice::Report(report)
        }
        super::Snooze::Invalid(problem) => Choice::Report(ClusterReport::failed(
            &info.name,
            Some(Action::Stop),
            format!("tag {}: {problem}; not stopped: fix the tag or remove it", super::SNOOZE_TAG),
        )),
    }
}

/// The notice an `auto` run sends for this cluster now, if its schedule's next moment is a
/// stop within `window` (`core::notice_due`).
pub fn notice_for(
    selection: &Selection<'_>,
    info: &ClusterInfo,
    now: Timestamp,
    window: jiff::SignedDuration,
) -> Option<super::Notice> {
    let schedule = Schedule::parse(info.tags.get(selection.schedule_tag)?, selection.default_timezone).ok()?;
    let snoozed = match super::snooze(info.tags.get(super::SNOOZE_TAG).map(String::as_str), schedule.zone(), now) {
        super::Snooze::Until { until, .. } => Some(until),
        _ => None,
    };
    let noticed = info.tags.get(super::NOTICED_TAG).map(String::as_str);
    super::notice_due(&info.name, &info.arn, &schedule, noticed, snoozed, now, window)
}

/// The zone a cluster's times are read in: its schedule tag's, else `DEFAULT_TIMEZONE`.
pub fn cluster_zone(selection: &Selection<'_>, info: &ClusterInfo) -> (jiff::tz::TimeZone, String) {
    let schedule =
        info.tags.get(selection.schedule_tag).and_then(|tag| Schedule::parse(tag, selection.default_timezone).ok());
    match schedule {
        Some(schedule) => (schedule.zone().clone(), schedule.zone_name().to_owned()),
        None => (
            jiff::tz::TimeZone::get(selection.default_timezone).unwrap_or(jiff::tz::TimeZone::UTC),
            selection.default_timezone.to_owned(),
        ),
    }
}

fn choose_action(
    selection: &Selection<'_>,
    requested: RequestedAction,
    named: bool,
    info: &ClusterInfo,
    now: Timestamp,
) -> Choice {
    let opted_in = |tag: &str| info.tags.get(tag).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    match requested {
        RequestedAction::Stop if named || opted_in(selection.stop_tag) => Choice::Act(Action::Stop, None),
        RequestedAction::Start if named || opted_in(selection.start_tag) => Choice::Act(Action::Start, None),
        RequestedAction::Stop | RequestedAction::Start | RequestedAction::Report => Choice::NotSelected,
        RequestedAction::Auto => {
            let Some(schedule) = info.tags.get(selection.schedule_tag) else {
                if named {
                    let reason = format!("no {} tag, so auto has nothing to follow", selection.schedule_tag);
                    return Choice::Report(ClusterReport::skipped(&info.name, None, reason));
                }
                return Choice::NotSelected;
            };
            let schedule = match Schedule::parse(schedule, selection.default_timezone) {
                Ok(schedule) => schedule,
                Err(err) => {
                    let reason = format!("tag {}: {err}", selection.schedule_tag);
                    return Choice::Report(ClusterReport::failed(&info.name, None, reason));
                }
            };
            let last = match info.tags.get(LAST_ACTION_TAG).map(|v| LastAction::parse(v)).transpose() {
                Ok(last) => last,
                Err(err) => {
                    let reason = format!("tag {LAST_ACTION_TAG}: {err}; remove the tag to reset it");
                    return Choice::Report(ClusterReport::failed(&info.name, None, reason));
                }
            };
            match auto_action(&schedule, last, now) {
                Ok(due) => {
                    let at = due.at.strftime("%Y-%m-%dT%H:%M:%SZ");
                    Choice::Act(
                        due.action,
                        Some(format!("{} scheduled at {at} (tag in {})", due.action, schedule.zone_name())),
                    )
                }
                Err(reason) => Choice::Report(ClusterReport::new(&info.name, None).with_reason(reason)),
            }
        }
    }
}

/// Saving sizes must not be half done: every tag is checked against EKS's rules, and the
/// total against its limit of 50 a resource, before anything is written.
pub fn check_tags_fit(info: &ClusterInfo, plans: &[(String, NodegroupPlan)]) -> Result<(), String> {
    let mut written = saved_size_tags(plans);
    written.insert(LAST_ACTION_TAG.to_owned(), "stop@2000-01-01T00:00:00Z".to_owned());
    if let Some(problem) = written.iter().find_map(|(k, v)| tag_problem(k, v)) {
        return Err(format!("cannot save sizes: {problem}"));
    }
    let total = info.tags.keys().chain(written.keys()).collect::<BTreeSet<_>>().len();
    if total > MAX_TAGS_PER_RESOURCE {
        return Err(format!(
            "saving the nodegroup sizes needs {total} tags on the cluster, and EKS allows {MAX_TAGS_PER_RESOURCE}: \
             remove {} other tags from the cluster; nothing was saved or scaled",
            total - MAX_TAGS_PER_RESOURCE
        ));
    }
    Ok(())
}

/// The tags a stop writes before it scales: each changing nodegroup's saved size.
pub fn saved_size_tags(plans: &[(String, NodegroupPlan)]) -> BTreeMap<String, String> {
    plans
        .iter()
        .filter_map(|(name, plan)| match plan {
            NodegroupPlan::Change { before, .. } => Some((saved_tag_key(name), before.to_string())),
            _ => None,
        })
        .collect()
}

/// Why a cluster must wait out this run: on stop, a cluster that needs it failed to
/// stop; on start, a cluster it needs failed to start.
pub fn held_back_by(
    action: Action,
    cluster: &str,
    acting: &BTreeSet<String>,
    dependencies: &BTreeMap<String, Vec<String>>,
    failed: &BTreeSet<String>,
) -> Option<String> {
    match action {
        Action::Start => dependencies
            .get(cluster)?
            .iter()
            .find(|needed| acting.contains(*needed) && failed.contains(*needed))
            .map(|needed| format!("not started: it needs {needed}, which failed")),
        Action::Stop => acting
            .iter()
            .find(|other| {
                failed.contains(*other)
                    && dependencies.get(*other).is_some_and(|needs| needs.iter().any(|n| n == cluster))
            })
            .map(|dependent| format!("not stopped: {dependent}, which needs it, failed to stop")),
    }
}
