//! The planned stops and starts of the scheduled clusters as an iCalendar file (RFC 5545),
//! for a team to subscribe to: one event per moment, at its instant in UTC (a calendar shows
//! it in its reader's zone), and an all-day event on each day a schedule skips.
//!
//! Each event's UID is made of its cluster, action and time, so a file written again holds
//! the same events and a subscribed calendar updates them instead of adding copies.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};

use super::{Action, SNOOZE_TAG, Schedule};

/// How far ahead the calendar goes.
pub const CALENDAR_DAYS: i64 = 14;

/// A scheduled cluster: its key in the run and its schedule.
#[derive(Debug, Clone)]
pub struct Scheduled<'a> {
    pub cluster: &'a str,
    pub schedule: &'a Schedule,
    /// The schedule tag as written, for the events' descriptions.
    pub text: &'a str,
}

/// The calendar of the `CALENDAR_DAYS` after `now`.
pub fn calendar(clusters: &[Scheduled<'_>], now: Timestamp) -> String {
    let until = now + SignedDuration::from_hours(CALENDAR_DAYS * 24);
    let stamp = utc(now);
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//cloud-ops-toolkit//eks-scheduler//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "X-WR-CALNAME:EKS clusters: planned stops and starts".to_owned(),
        format!(
            "X-WR-CALDESC:{}",
            text(&format!("The EKS scheduler's planned stops and starts, {CALENDAR_DAYS} days from {stamp}"))
        ),
    ];
    for cluster in clusters {
        let uid_name: String =
            cluster.cluster.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        for transition in cluster.schedule.transitions(now, until) {
            let (summary, what) = match transition.action {
                Action::Stop => ("Stop", "stops"),
                Action::Start => ("Start", "starts"),
            };
            let local = transition.at.to_zoned(cluster.schedule.zone().clone()).strftime("%a %Y-%m-%d %H:%M %Z");
            let mut description =
                format!("The EKS scheduler {what} {} at {local} ({}).", cluster.cluster, cluster.schedule.zone_name());
            if transition.action == Action::Stop {
                description.push_str(&format!(
                    " To postpone it, tag the cluster {SNOOZE_TAG} with a time or a duration like 2h."
                ));
            }
            description.push_str(&format!(" Schedule: {}", cluster.text));
            lines.extend([
                "BEGIN:VEVENT".to_owned(),
                format!("UID:{}-{uid_name}-{}@eks-scheduler", transition.action, utc(transition.at)),
                format!("DTSTAMP:{stamp}"),
                format!("DTSTART:{}", utc(transition.at)),
                format!("SUMMARY:{}", text(&format!("{summary}: {}", cluster.cluster))),
                format!("DESCRIPTION:{}", text(&description)),
                format!("CATEGORIES:{}", transition.action),
                "TRANSP:TRANSPARENT".to_owned(),
                "END:VEVENT".to_owned(),
            ]);
        }
        let zone = cluster.schedule.zone().clone();
        let (first, last) = (now.to_zoned(zone.clone()).date(), until.to_zoned(zone).date());
        for day in cluster.schedule.skipped_days(first, last) {
            let next = day.tomorrow().unwrap_or(day);
            lines.extend([
                "BEGIN:VEVENT".to_owned(),
                format!("UID:skip-{uid_name}-{}@eks-scheduler", day.strftime("%Y%m%d")),
                format!("DTSTAMP:{stamp}"),
                format!("DTSTART;VALUE=DATE:{}", day.strftime("%Y%m%d")),
                format!("DTEND;VALUE=DATE:{}", next.strftime("%Y%m%d")),
                format!("SUMMARY:{}", text(&format!("No stop or start: {} (skip day)", cluster.cluster))),
                format!(
                    "DESCRIPTION:{}",
                    text(&format!(
                        "The schedule of {} skips this day: nothing is stopped or started. Schedule: {}",
                        cluster.cluster, cluster.text
                    ))
                ),
                "CATEGORIES:skip".to_owned(),
                "TRANSP:TRANSPARENT".to_owned(),
                "END:VEVENT".to_owned(),
            ]);
        }
    }
    lines.push("END:VCALENDAR".to_owned());
    let mut file = String::new();
    for line in &lines {
        let _ = write!(file, "{}\r\n", fold(line));
    }
    file
}

fn utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value escaped as RFC 5545 §3.3.11 requires.
fn text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\n' => escaped.push_str("\\n"),
            '\r' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A content line folded at 75 octets (RFC 5545 §3.1), never inside a character.
fn fold(line: &str) -> String {
    let mut folded = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            folded.push_str("\r\n ");
            width = 1;
        }
        folded.push(c);
        width += c.len_utf8();
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_folded_at_75_octets_and_text_is_escaped() {
        let long = "é".repeat(60);
        let folded = fold(&format!("SUMMARY:{long}"));
        assert!(folded.split("\r\n").all(|line| line.len() <= 75), "{folded}");
        assert_eq!(folded.replace("\r\n ", ""), format!("SUMMARY:{long}"));
        assert_eq!(text("a, b; c\\d\ne"), "a\\, b\\; c\\\\d\\ne");
    }

    #[test]
    fn a_skip_day_is_an_all_day_event_and_has_no_moments() {
        let schedule =
            Schedule::parse("off=mon-fri@19:00 on=mon-fri@07:00 tz=Europe/Paris skip=2026-12-24+2026-12-25", "UTC")
                .unwrap();
        let now: Timestamp = "2026-12-21T12:00:00Z".parse().unwrap();
        let file = calendar(&[Scheduled { cluster: "dev", schedule: &schedule, text: "t" }], now);
        assert!(file.contains("DTSTART;VALUE=DATE:20261224\r\n"), "{file}");
        assert!(file.contains("DTSTART;VALUE=DATE:20261225\r\n"));
        // 19:00 in Paris is 18:00 UTC; the 24th's and the 25th's stops are skipped.
        assert!(file.contains("DTSTART:20261223T180000Z\r\n"));
        assert!(!file.contains("DTSTART:20261224T180000Z"));
        assert!(!file.contains("DTSTART:20261225T060000Z"));
        assert!(file.ends_with("END:VCALENDAR\r\n"));
    }
}
