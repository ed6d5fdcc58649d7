//! What to do to each nodegroup, decided from its current size and the cluster's tags.
//!
//! The rule that matters most: a saved size is the only record of what a nodegroup
//! ran at. It is written only from a running size, never overwritten while the
//! nodegroup is at zero, and never `0/0/…` (Cloud Custodian #7064 lost sizes that way).

use std::str::FromStr;

use jiff::Timestamp;

use super::schedule::{Schedule, Transition};
use super::tags::{START_SIZE_TAG, saved_tag_key};
use super::{Action, Sizes};

/// The plan for one nodegroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodegroupPlan {
    /// Scale from `before` to `after`. On stop, `before` is saved first; on start,
    /// `clear_saved` says the saved-size tag is removed once the update is done.
    Change { before: Sizes, after: Sizes, clear_saved: bool },
    /// Already in the wanted state.
    Unchanged { before: Sizes, reason: String },
    /// Cannot be acted on, by design (no size to restore).
    Skipped { before: Sizes, reason: String },
    /// Cannot be acted on because something is wrong (an unreadable tag).
    Failed { before: Sizes, reason: String },
}

impl NodegroupPlan {
    pub fn before(&self) -> Sizes {
        match self {
            Self::Change { before, .. }
            | Self::Unchanged { before, .. }
            | Self::Skipped { before, .. }
            | Self::Failed { before, .. } => *before,
        }
    }
}

/// Stop: save the running size, then scale to `0/0/max`.
pub fn plan_stop(current: Sizes, saved: Option<&str>) -> NodegroupPlan {
    if current.is_stopped() {
        let reason = match saved {
            Some(saved) => format!("already at zero; saved size {saved} kept"),
            None => "already at zero".to_owned(),
        };
        return NodegroupPlan::Unchanged { before: current, reason };
    }
    NodegroupPlan::Change { before: current, after: current.stopped(), clear_saved: false }
}

/// Start: restore the saved size, else the cluster's start size, else leave it alone.
pub fn plan_start(nodegroup: &str, current: Sizes, saved: Option<&str>, start_size: Option<&str>) -> NodegroupPlan {
    let saved_tag = saved_tag_key(nodegroup);
    plan_start_from(current, saved.map(|value| (saved_tag.as_str(), value)), start_size)
}

/// Start from a saved size (the tag that holds it, and its value), else the cluster's start
/// size, else leave it alone.
pub fn plan_start_from(current: Sizes, saved: Option<(&str, &str)>, start_size: Option<&str>) -> NodegroupPlan {
    if !current.is_stopped() {
        return NodegroupPlan::Unchanged { before: current, reason: "already running".to_owned() };
    }
    let running_size = |tag: &str, value: &str| -> Result<Sizes, String> {
        let sizes = Sizes::from_str(value).map_err(|err| format!("tag {tag} is unreadable: {err}"))?;
        if sizes.is_stopped() {
            return Err(format!(
                "tag {tag} holds {sizes}, which is not a running size; set it to the size to start at"
            ));
        }
        Ok(sizes)
    };
    let (tag, value, clear_saved) = match (saved, start_size) {
        (Some((tag, saved)), _) => (tag, saved, true),
        (None, Some(start_size)) => (START_SIZE_TAG, start_size, false),
        (None, None) => {
            let reason = format!("no saved size, and no {START_SIZE_TAG} tag on the cluster to start from");
            return NodegroupPlan::Skipped { before: current, reason };
        }
    };
    match running_size(tag, value) {
        Ok(after) => NodegroupPlan::Change { before: current, after, clear_saved },
        Err(reason) => NodegroupPlan::Failed { before: current, reason },
    }
}

/// The scheduler's record of its last action on a cluster: `stop@2026-11-22T19:00:04Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastAction {
    pub action: Action,
    pub at: Timestamp,
}

impl LastAction {
    pub fn tag_value(&self) -> String {
        format!("{}@{}", self.action, self.at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        let parsed = value.split_once('@').and_then(|(action, at)| {
            let action = match action {
                "stop" => Action::Stop,
                "start" => Action::Start,
                _ => return None,
            };
            Some(Self { action, at: at.parse().ok()? })
        });
        parsed.ok_or_else(|| format!("{value:?} is not stop@<UTC time> or start@<UTC time>"))
    }
}

/// For `action: auto`: the scheduled moment due now, if a scheduled moment has passed since the
/// scheduler last acted on the cluster. A manual stop or start counts as acting, so an
/// early wake-up is not undone by the next hourly run, only by the next scheduled moment.
pub fn auto_action(schedule: &Schedule, last: Option<LastAction>, now: Timestamp) -> Result<Transition, String> {
    let Some(transition) = schedule.last_transition(now) else {
        return Err("no scheduled moment has passed yet".to_owned());
    };
    match last {
        Some(last) if last.at >= transition.at => Err(format!(
            "nothing due: the last scheduled moment ({} at {}) was handled by the {} at {}",
            transition.action,
            transition.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            last.action,
            last.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )),
        _ => Ok(transition),
    }
}
