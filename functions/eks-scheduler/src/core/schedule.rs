//! Per-cluster schedules, written in a tag value, in the spirit of Cloud Custodian's
//! offhours tags but only with the characters EKS allows in tag values
//! (letters, digits, spaces and `+ - = . _ : / @`):
//!
//! ```text
//! off=mon-fri@19:00 on=mon-fri@07:00 tz=Europe/Paris skip=2026-12-24+2026-12-25
//! ```
//!
//! - `off=<days>@<HH:MM>` and `on=<days>@<HH:MM>`: when to stop and start; each may repeat
//!   (`off=mon-thu@19:00 off=fri@16:00`). At least one `off` or `on`.
//! - `<days>`: `daily`, `weekdays`, `weekends`, a day (`mon`), a range (`mon-fri`, wrapping
//!   like `fri-mon`), or several joined by `+` (`mon+wed+fri`, `mon-wed+sat`).
//! - `tz=<IANA zone>`: the zone the times are in; default: the function's `DEFAULT_TIMEZONE`.
//! - `skip=<date>[+<date>...]`: days on which nothing happens, each `YYYY-MM-DD` or a range
//!   `YYYY-MM-DD/YYYY-MM-DD`. A cluster stopped before a skipped day stays stopped through it.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::Action;

/// The form of a schedule tag, for error messages.
pub const SCHEDULE_FORM: &str = "space-separated off=<days>@<HH:MM>, on=<days>@<HH:MM>, optional tz=<IANA zone> \
     and skip=<YYYY-MM-DD>[+...], days as daily, weekdays, weekends, mon, mon-fri or mon+wed; \
     e.g. off=mon-fri@19:00 on=mon-fri@07:00 tz=Europe/Paris skip=2026-12-24+2026-12-25";

/// How far back to look for the last scheduled moment: a year covers any skip range in practice.
const LOOK_BACK_DAYS: i32 = 366;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    rules: Vec<Rule>,
    zone_name: String,
    zone: TimeZone,
    skip: Vec<(Date, Date)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    action: Action,
    /// Monday first.
    days: [bool; 7],
    at: Time,
}

/// A scheduled moment: stop or start, at that instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub action: Action,
    pub at: Timestamp,
}

impl Schedule {
    /// Parses a schedule tag value; the error says what is wrong and ends with the expected form.
    pub fn parse(text: &str, default_zone: &str) -> Result<Self, String> {
        let fail = |what: String| Err(format!("{what}; expected {SCHEDULE_FORM}"));
        let mut rules = Vec::new();
        let mut zone_name = None;
        let mut skip = Vec::new();
        for item in text.split_whitespace() {
            let Some((name, value)) = item.split_once('=') else {
                return fail(format!("{item:?} is not name=value"));
            };
            match name {
                "off" | "on" => {
                    let action = if name == "off" { Action::Stop } else { Action::Start };
                    let Some((days, at)) = value.split_once('@') else {
                        return fail(format!("{item:?} has no @<HH:MM>"));
                    };
                    let days = match parse_days(days) {
                        Ok(days) => days,
                        Err(err) => return fail(format!("{item:?}: {err}")),
                    };
                    let Some(at) = parse_time(at) else {
                        return fail(format!("{item:?}: {at:?} is not a time HH:MM"));
                    };
                    rules.push(Rule { action, days, at });
                }
                "tz" => {
                    if zone_name.replace(value.to_owned()).is_some() {
                        return fail("tz is given twice".to_owned());
                    }
                }
                "skip" => {
                    for part in value.split('+') {
                        match parse_date_range(part) {
                            Some(range) => skip.push(range),
                            None => return fail(format!("skip {part:?} is not YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD")),
                        }
                    }
                }
                other => return fail(format!("unknown part {other:?}")),
            }
        }
        if rules.is_empty() {
            return fail("no off= or on= time".to_owned());
        }
        for (i, a) in rules.iter().enumerate() {
            for b in &rules[i + 1..] {
                let same_day = (0..7).any(|d| a.days[d] && b.days[d]);
                if a.action != b.action && a.at == b.at && same_day {
                    return fail(format!("off and on are both at {} on the same day", a.at.strftime("%H:%M")));
                }
            }
        }
        let zone_name = zone_name.unwrap_or_else(|| default_zone.to_owned());
        let zone = match TimeZone::get(&zone_name) {
            Ok(zone) => zone,
            Err(_) => return fail(format!("unknown time zone {zone_name:?} (use an IANA name like Europe/Paris)")),
        };
        Ok(Self { rules, zone_name, zone, skip })
    }

    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    /// The most recent scheduled moment at or before `now`, skipped days left out.
    pub fn last_transition(&self, now: Timestamp) -> Option<Transition> {
        let mut date = now.to_zoned(self.zone.clone()).date();
        for _ in 0..LOOK_BACK_DAYS {
            if let Some(latest) = self.moments_on(date).filter(|t| t.at <= now).max_by_key(|t| t.at) {
                return Some(latest);
            }
            date = date.yesterday().ok()?;
        }
        None
    }

    /// The zone its times are in.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The first scheduled moment after `now`, skipped days left out.
    pub fn next_transition(&self, now: Timestamp) -> Option<Transition> {
        let mut date = now.to_zoned(self.zone.clone()).date();
        for _ in 0..LOOK_BACK_DAYS {
            if let Some(earliest) = self.moments_on(date).filter(|t| t.at > now).min_by_key(|t| t.at) {
                return Some(earliest);
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// Every scheduled moment after `from` and up to `to`, in order, skipped days left out.
    pub fn transitions(&self, from: Timestamp, to: Timestamp) -> Vec<Transition> {
        let mut moments = Vec::new();
        let (mut date, last) = (from.to_zoned(self.zone.clone()).date(), to.to_zoned(self.zone.clone()).date());
        while date <= last {
            moments.extend(self.moments_on(date).filter(|t| from < t.at && t.at <= to));
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        moments.sort_by_key(|t| (t.at, t.action));
        moments
    }

    /// The skipped days from `first` to `last` (local dates) on which a moment was scheduled.
    pub fn skipped_days(&self, first: Date, last: Date) -> Vec<Date> {
        let mut days = Vec::new();
        let mut date = first;
        while date <= last {
            let weekday = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
            if self.is_skipped(date) && self.rules.iter().any(|rule| rule.days[weekday]) {
                days.push(date);
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        days
    }

    /// The share of the time from `from` to `to` this schedule keeps a cluster off: stopped
    /// at `from` if its last moment was a stop, then each moment switching it.
    pub fn off_share(&self, from: Timestamp, to: Timestamp) -> f64 {
        let total = to.duration_since(from).as_secs_f64();
        if total <= 0.0 {
            return 0.0;
        }
        let mut off = self.last_transition(from).is_some_and(|t| t.action == Action::Stop);
        let (mut since, mut seconds_off) = (from, 0.0);
        for transition in self.transitions(from, to) {
            if off {
                seconds_off += transition.at.duration_since(since).as_secs_f64();
            }
            off = transition.action == Action::Stop;
            since = transition.at;
        }
        if off {
            seconds_off += to.duration_since(since).as_secs_f64();
        }
        seconds_off / total
    }

    /// The scheduled moments of one local day; none on a skipped day.
    fn moments_on(&self, date: Date) -> impl Iterator<Item = Transition> + '_ {
        let weekday = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        let skipped = self.is_skipped(date);
        self.rules.iter().filter(move |rule| !skipped && rule.days[weekday]).filter_map(move |rule| {
            // In a daylight-saving gap the clock time does not exist: the later side is used.
            let at = date.to_datetime(rule.at).to_zoned(self.zone.clone()).ok()?.timestamp();
            Some(Transition { action: rule.action, at })
        })
    }

    fn is_skipped(&self, date: Date) -> bool {
        self.skip.iter().any(|(first, last)| *first <= date && date <= *last)
    }
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for part in text.split('+') {
        match part {
            "daily" => days = [true; 7],
            "weekdays" => days[..5].iter_mut().for_each(|d| *d = true),
            "weekends" => days[5..].iter_mut().for_each(|d| *d = true),
            _ => {
                let (first, last) = part.split_once('-').unwrap_or((part, part));
                let index = |name: &str| {
                    DAY_NAMES.iter().position(|d| *d == name).ok_or_else(|| {
                        format!("{name:?} is not a day (mon, tue, wed, thu, fri, sat, sun, daily, weekdays, weekends)")
                    })
                };
                let (first, last) = (index(first)?, index(last)?);
                let mut day = first;
                loop {
                    days[day] = true;
                    if day == last {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
        }
    }
    Ok(days)
}

fn parse_time(text: &str) -> Option<Time> {
    let (hour, minute) = text.split_once(':')?;
    if hour.len() > 2 || minute.len() != 2 {
        return None;
    }
    Time::new(hour.parse().ok()?, minute.parse().ok()?, 0, 0).ok()
}

fn parse_date_range(text: &str) -> Option<(Date, Date)> {
    let (first, last) = text.split_once('/').unwrap_or((text, text));
    let (first, last): (Date, Date) = (first.parse().ok()?, last.parse().ok()?);
    (first <= last).then_some((first, last))
}
