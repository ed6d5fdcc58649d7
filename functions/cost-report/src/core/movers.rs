//! Why the cost changed: the groups (by the report's grouping) whose change explains most of
//! it, for the day against the day before and against the same weekday a week before, and
//! for the month to date against the same days of last month. All from the days the report
//! already holds: no request of its own.
//!
//! A mover's share is of all the movement (the sum of every group's change, up or down), so
//! a shift between two accounts that leaves the total flat still shows, each half of it.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use rust_decimal::Decimal;

/// Movers listed per comparison, at most.
pub const MAX_MOVERS: usize = 5;
/// The movers listed explain at least this share of the movement, when fewer than
/// [`MAX_MOVERS`] do.
const EXPLAINED_PERCENT: u32 = 80;

/// What the report day (or the month to date) is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Baseline {
    DayBefore,
    WeekBefore,
    LastMonth,
}

impl Baseline {
    pub const ALL: [Self; 3] = [Self::DayBefore, Self::WeekBefore, Self::LastMonth];

    /// `day-before`, `week-before`, `month-to-date`: the CSV's and the summary's names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DayBefore => "day-before",
            Self::WeekBefore => "week-before",
            Self::LastMonth => "month-to-date",
        }
    }

    /// How people read it: "the day against the day before".
    pub fn heading(self) -> &'static str {
        match self {
            Self::DayBefore => "the day against the day before",
            Self::WeekBefore => "the day against the same weekday a week before",
            Self::LastMonth => "the month to date against the same days last month",
        }
    }
}

/// Which way a group moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    /// It cost nothing before.
    New,
    /// It costs nothing now.
    Gone,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::New => "new",
            Self::Gone => "gone",
        }
    }
}

/// One group's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mover {
    /// The group's display key.
    pub name: String,
    pub now: Decimal,
    pub before: Decimal,
    pub direction: Direction,
    /// Its change's share of all the movement, in percent (0 to 100).
    pub share: Decimal,
}

impl Mover {
    pub fn change(&self) -> Decimal {
        self.now - self.before
    }

    /// In percent; `None` from zero.
    pub fn change_pct(&self) -> Option<Decimal> {
        (!self.before.is_zero()).then(|| (self.now - self.before) / self.before.abs() * Decimal::ONE_HUNDRED)
    }
}

/// The movers of one comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movers {
    pub baseline: Baseline,
    /// The days compared: (first, last) now and before.
    pub now_days: (Date, Date),
    pub before_days: (Date, Date),
    pub now_total: Decimal,
    pub before_total: Decimal,
    /// The groups that explain most of the movement, largest first.
    pub top: Vec<Mover>,
    /// Every other group that moved, largest first (the CSV has them all).
    pub rest: Vec<Mover>,
}

impl Movers {
    pub fn change(&self) -> Decimal {
        self.now_total - self.before_total
    }

    /// Nothing moved.
    pub fn is_flat(&self) -> bool {
        self.top.is_empty()
    }

    /// New spend not among `top`: called out by name all the same.
    pub fn also_new(&self) -> Vec<&str> {
        self.rest.iter().filter(|m| m.direction == Direction::New).map(|m| m.name.as_str()).collect()
    }

    /// Vanished spend not among `top`.
    pub fn also_gone(&self) -> Vec<&str> {
        self.rest.iter().filter(|m| m.direction == Direction::Gone).map(|m| m.name.as_str()).collect()
    }
}

/// The movers of each [`Baseline`] for `report_day`, from every day's amounts by group.
pub fn movers(days: &[(Date, bool, BTreeMap<String, Decimal>)], report_day: Date) -> Vec<Movers> {
    let day = |offset: i64| report_day.checked_sub(jiff::Span::new().days(offset)).unwrap_or(report_day);
    let month_start = report_day.first_of_month();
    let previous_end = month_start.yesterday().unwrap_or(month_start);
    let previous_start = previous_end.first_of_month();
    let same_day_last_month =
        previous_start.with().day(report_day.day().min(previous_end.day())).build().unwrap_or(previous_end);
    Baseline::ALL
        .into_iter()
        .map(|baseline| {
            let (now_days, before_days) = match baseline {
                Baseline::DayBefore => ((report_day, report_day), (day(1), day(1))),
                Baseline::WeekBefore => ((report_day, report_day), (day(7), day(7))),
                Baseline::LastMonth => ((month_start, report_day), (previous_start, same_day_last_month)),
            };
            compare(baseline, sum_by_group(days, now_days), sum_by_group(days, before_days), now_days, before_days)
        })
        .collect()
}

fn sum_by_group(
    days: &[(Date, bool, BTreeMap<String, Decimal>)],
    (first, last): (Date, Date),
) -> BTreeMap<String, Decimal> {
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for (_, _, groups) in days.iter().filter(|(date, ..)| *date >= first && *date <= last) {
        for (name, amount) in groups {
            *sums.entry(name.clone()).or_default() += *amount;
        }
    }
    sums
}

/// Below a cent, a change is rounding, not a move.
fn moved(change: Decimal) -> bool {
    change.abs() >= Decimal::new(1, 2)
}

fn compare(
    baseline: Baseline,
    now: BTreeMap<String, Decimal>,
    before: BTreeMap<String, Decimal>,
    now_days: (Date, Date),
    before_days: (Date, Date),
) -> Movers {
    let names: BTreeSet<&String> = now.keys().chain(before.keys()).collect();
    let mut all: Vec<Mover> = names
        .into_iter()
        .filter_map(|name| {
            let (now, before) =
                (now.get(name).copied().unwrap_or_default(), before.get(name).copied().unwrap_or_default());
            let change = now - before;
            moved(change).then(|| Mover {
                name: name.clone(),
                now,
                before,
                direction: match (before.is_zero(), now.is_zero()) {
                    (true, _) => Direction::New,
                    (_, true) => Direction::Gone,
                    _ if change > Decimal::ZERO => Direction::Up,
                    _ => Direction::Down,
                },
                share: Decimal::ZERO,
            })
        })
        .collect();
    let movement: Decimal = all.iter().map(|m| m.change().abs()).sum();
    for mover in &mut all {
        mover.share =
            if movement.is_zero() { Decimal::ZERO } else { mover.change().abs() * Decimal::ONE_HUNDRED / movement };
    }
    all.sort_by(|a, b| b.change().abs().cmp(&a.change().abs()).then_with(|| a.name.cmp(&b.name)));
    let enough = movement * Decimal::from(EXPLAINED_PERCENT) / Decimal::ONE_HUNDRED;
    let mut explained = Decimal::ZERO;
    let mut top = Vec::new();
    let mut rest = Vec::new();
    for mover in all {
        if top.len() < MAX_MOVERS && (top.is_empty() || explained < enough) {
            explained += mover.change().abs();
            top.push(mover);
        } else {
            rest.push(mover);
        }
    }
    Movers {
        baseline,
        now_days,
        before_days,
        now_total: now.values().sum(),
        before_total: before.values().sum(),
        top,
        rest,
    }
}

#[cfg(test)]
mod tests;
