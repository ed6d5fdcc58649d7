//! Postponing a stop, and warning before one: the snooze tag a team sets on its cluster to
//! keep it running a while longer, and the notice an `auto` run sends before each planned stop.
//!
//! - `eks-scheduler/snooze-until` = a time (`2026-12-07T22:00`, in the cluster's schedule zone,
//!   or `2026-12-07T21:00:00Z`) or a duration from when it is set (`2h`, `90m`, `1h30m`, `1d`):
//!   until then the cluster's stops are skipped, each reported and announced once. A duration is
//!   written back as the time it ends, so it does not move; a snooze that has ended is removed.
//!   A snooze never holds back a start.
//! - A notice: an `auto` run announces each scheduled cluster's next stop once, from the first
//!   run within `NOTICE_MINUTES` of it, with the stop's time in the cluster's zone and how to
//!   snooze it; `eks-scheduler/noticed` records the stop it announced, so a retry or the next
//!   run does not announce it again.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::{Value, json};

use super::Action;
use super::schedule::Schedule;

/// `eks-scheduler/snooze-until`: when the cluster's stops may resume.
pub const SNOOZE_TAG: &str = "eks-scheduler/snooze-until";
/// `eks-scheduler/snooze-announced` = the snooze's end last announced: one announcement per snooze.
pub const SNOOZE_ANNOUNCED_TAG: &str = "eks-scheduler/snooze-announced";
/// `eks-scheduler/noticed` = the planned stop (UTC) the last notice announced.
pub const NOTICED_TAG: &str = "eks-scheduler/noticed";
/// How the snooze tag is written.
pub const SNOOZE_FORM: &str = "a time, like 2026-12-07T22:00 (in the cluster's schedule time zone) or \
     2026-12-07T21:00:00Z, or a duration from now, like 2h, 90m, 1h30m or 1d";
/// The longest a snooze may run: longer pauses belong in the schedule's `skip=` days.
pub const MAX_SNOOZE_DAYS: i64 = 31;

/// What the snooze tag says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snooze {
    /// No tag.
    None,
    /// Stops are postponed until this time. `written` is false for a duration the tag still
    /// holds: the handler writes the time back.
    Until { until: Timestamp, written: bool },
    /// The tag's time has passed: the handler removes it.
    Ended,
    /// The tag cannot be read: stops are refused until it is fixed.
    Invalid(String),
}

/// Reads the snooze tag's `value` at `now`, a time without an offset being in `zone`.
pub fn snooze(value: Option<&str>, zone: &TimeZone, now: Timestamp) -> Snooze {
    let Some(value) = value.map(str::trim) else { return Snooze::None };
    let (until, written) = match parse_time(value, zone) {
        Some(until) => (until, true),
        None => match parse_duration(value) {
            Some(duration) => match now.checked_add(duration) {
                Ok(until) => (until, false),
                Err(_) => return Snooze::Invalid(format!("{value:?} is too long")),
            },
            None => return Snooze::Invalid(format!("{value:?} is not {SNOOZE_FORM}")),
        },
    };
    if until <= now {
        return Snooze::Ended;
    }
    if until.duration_since(now) > SignedDuration::from_hours(24 * MAX_SNOOZE_DAYS) {
        return Snooze::Invalid(format!(
            "{value:?} is more than {MAX_SNOOZE_DAYS} days away: pause longer with the schedule's skip= days"
        ));
    }
    Snooze::Until { until, written }
}

fn parse_time(value: &str, zone: &TimeZone) -> Option<Timestamp> {
    if let Ok(at) = value.parse::<Timestamp>() {
        return Some(at);
    }
    let civil: jiff::civil::DateTime = value.parse().ok()?;
    civil.to_zoned(zone.clone()).ok().map(|zoned| zoned.timestamp())
}

/// `2h`, `90m`, `1h30m`, `1d`: whole days, hours and minutes, at least a minute.
fn parse_duration(value: &str) -> Option<SignedDuration> {
    let mut total = 0i64;
    let mut number = String::new();
    for c in value.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let minutes = match c {
            'd' => 24 * 60,
            'h' => 60,
            'm' => 1,
            _ => return None,
        };
        let count: i64 = number.parse().ok()?;
        total = total.checked_add(count.checked_mul(minutes)?)?;
        number.clear();
    }
    (number.is_empty() && total > 0).then(|| SignedDuration::from_mins(total))
}

/// The snooze tag's value for a time: UTC, to the second, as EKS allows tag values.
pub fn snooze_tag_value(until: Timestamp) -> String {
    until.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A time as a team reads it: in the cluster's zone, with the zone's name.
pub fn local_time(at: Timestamp, zone: &TimeZone, zone_name: &str) -> String {
    format!("{} ({zone_name})", at.to_zoned(zone.clone()).strftime("%a %Y-%m-%d %H:%M %Z"))
}

/// The sentence a report gives a stop skipped for a snooze.
pub fn snoozed_reason(until: Timestamp, zone: &TimeZone, zone_name: &str) -> String {
    format!(
        "stop snoozed until {} by the tag {SNOOZE_TAG}; it stops at the first run after that, or remove the tag",
        local_time(until, zone, zone_name)
    )
}

/// An `auto` run's notice of a cluster's next stop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub cluster: String,
    pub stop_at: Timestamp,
    /// The stop's time in the cluster's zone.
    pub stop_at_local: String,
    pub minutes_left: i64,
    /// How to postpone it.
    pub postpone: String,
}

impl Notice {
    /// The value of `NOTICED_TAG` once it is sent.
    pub fn noticed_tag_value(&self) -> String {
        snooze_tag_value(self.stop_at)
    }

    /// The message: the topic's body and the event's detail.
    pub fn detail(&self, request_id: &str) -> Value {
        json!({
            "cluster": self.cluster,
            "action": Action::Stop,
            // A stop to come: what subscribers filter on, beside changed and failed.
            "status": "planned",
            "stop_at": self.stop_at,
            "stop_at_local": self.stop_at_local,
            "minutes_left": self.minutes_left,
            "postpone": self.postpone,
            "request_id": request_id,
        })
    }
}

/// The notice due for a cluster with `schedule` at `now`: its next scheduled moment is a stop
/// within `notice` from now, not already announced (`noticed`, the tag's value) and not covered
/// by a snooze (a snoozed stop is skipped, and says so when it comes).
pub fn notice_due(
    cluster: &str,
    arn: &str,
    schedule: &Schedule,
    noticed: Option<&str>,
    snoozed_until: Option<Timestamp>,
    now: Timestamp,
    notice: SignedDuration,
) -> Option<Notice> {
    let next = schedule.next_transition(now)?;
    let left = next.at.duration_since(now);
    if next.action != Action::Stop || left > notice || snoozed_until.is_some_and(|until| until > next.at) {
        return None;
    }
    if noticed.map(str::trim) == Some(snooze_tag_value(next.at).as_str()) {
        return None;
    }
    Some(Notice {
        cluster: cluster.to_owned(),
        stop_at: next.at,
        stop_at_local: local_time(next.at, schedule.zone(), schedule.zone_name()),
        minutes_left: left.as_mins(),
        postpone: format!(
            "tag the cluster {SNOOZE_TAG}=2h (or a time, like {}): aws eks tag-resource --resource-arn {arn} --tags \
             {SNOOZE_TAG}=2h",
            next.at.to_zoned(schedule.zone().clone()).strftime("%Y-%m-%dT22:00")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a time")
    }

    #[test]
    fn a_snooze_is_a_time_or_a_duration_and_ends() {
        let paris = TimeZone::get("Europe/Paris").expect("a zone");
        let now = at("2026-12-07T17:50:00Z");
        let until = |text: &str| snooze(Some(text), &paris, now);
        // 22:00 in Paris is 21:00 UTC in winter.
        assert_eq!(until("2026-12-07T22:00"), Snooze::Until { until: at("2026-12-07T21:00:00Z"), written: true });
        assert_eq!(until("2026-12-07T21:00:00Z"), Snooze::Until { until: at("2026-12-07T21:00:00Z"), written: true });
        assert_eq!(until(" 2h "), Snooze::Until { until: at("2026-12-07T19:50:00Z"), written: false });
        assert_eq!(until("1h30m"), Snooze::Until { until: at("2026-12-07T19:20:00Z"), written: false });
        assert_eq!(until("1d"), Snooze::Until { until: at("2026-12-08T17:50:00Z"), written: false });
        assert_eq!(until("2026-12-07T17:00:00Z"), Snooze::Ended);
        assert_eq!(snooze(None, &paris, now), Snooze::None);
        for bad in ["tonight", "2h tonight", "0m", "h", "2026-13-01T10:00", "40d"] {
            assert!(matches!(until(bad), Snooze::Invalid(_)), "{bad}: {:?}", until(bad));
        }
        assert_eq!(snooze_tag_value(at("2026-12-07T19:50:00Z")), "2026-12-07T19:50:00Z");
        assert!(crate::core::tag_problem(SNOOZE_TAG, &snooze_tag_value(now)).is_none());
    }

    #[test]
    fn a_notice_comes_once_within_its_window_before_each_stop() {
        let schedule = Schedule::parse("off=mon-fri@19:00 on=mon-fri@07:00 tz=Europe/Paris", "UTC").expect("valid");
        let window = SignedDuration::from_mins(30);
        let arn = "arn:aws:eks:eu-west-1:111122223333:cluster/dev";
        let due = |now: &str, noticed: Option<&str>, snoozed: Option<&str>| {
            notice_due("dev", arn, &schedule, noticed, snoozed.map(at), at(now), window)
        };
        // Monday 2026-12-07, 19:00 in Paris is 18:00 UTC.
        assert_eq!(due("2026-12-07T17:00:00Z", None, None), None, "an hour ahead");
        let notice = due("2026-12-07T17:32:00Z", None, None).expect("28 minutes ahead");
        assert_eq!(notice.stop_at, at("2026-12-07T18:00:00Z"));
        assert_eq!(notice.minutes_left, 28);
        assert_eq!(notice.stop_at_local, "Mon 2026-12-07 19:00 CET (Europe/Paris)");
        assert!(
            notice.postpone.contains(&format!("--resource-arn {arn} --tags {SNOOZE_TAG}=2h")),
            "{}",
            notice.postpone
        );
        // Announced already (the retry, the next run): not again.
        let noticed = notice.noticed_tag_value();
        assert_eq!(due("2026-12-07T17:47:00Z", Some(&noticed), None), None);
        // A snooze past the stop: nothing to warn of.
        assert_eq!(due("2026-12-07T17:47:00Z", None, Some("2026-12-07T21:00:00Z")), None);
        // The next moment a start: no notice.
        assert_eq!(due("2026-12-08T05:45:00Z", None, None), None);
        // Friday's stop is noticed on Friday, across the last Sunday of March's change of time.
        let spring = due("2027-03-29T16:40:00Z", Some(&noticed), None).expect("Monday after the change");
        assert_eq!(spring.stop_at_local, "Mon 2027-03-29 19:00 CEST (Europe/Paris)");
        assert_eq!(spring.stop_at, at("2027-03-29T17:00:00Z"));
    }
}
