//! The figures: totals, day-over-day and month-over-month changes, the forecast,
//! the top lines and "Other", and the alerts. Missing days and missing services
//! count as zero (a peer crashed on exactly that).

use std::collections::BTreeMap;

use jiff::civil::Date;
use rust_decimal::Decimal;

use super::budget::{Budget, BudgetStatus, budget_status};
use super::dates::{CHART_DAYS, Window};
use super::money::{format_money, format_percent};
use super::movers::{Baseline, Movers, movers};
use super::settings::{GroupBy, Metric, UNTAGGED};

/// One day of Cost Explorer results, as the AWS layer hands them over (and as a day's
/// figures are stored for a retry).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CostDay {
    pub date: Date,
    pub estimated: bool,
    /// Group key (as Cost Explorer gives it) and amount.
    pub groups: Vec<(String, Decimal)>,
    pub unit: Option<String>,
}

/// Joins pages: Cost Explorer may split one day's groups across pages.
pub fn merge_pages(days: Vec<CostDay>) -> Vec<CostDay> {
    let mut merged: BTreeMap<Date, CostDay> = BTreeMap::new();
    for day in days {
        match merged.get_mut(&day.date) {
            Some(existing) => {
                existing.estimated |= day.estimated;
                existing.groups.extend(day.groups);
                existing.unit = existing.unit.take().or(day.unit);
            }
            None => {
                merged.insert(day.date, day);
            }
        }
    }
    merged.into_values().collect()
}

/// Alert thresholds; `None` is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Alerts {
    pub daily_above: Option<Decimal>,
    pub change_pct_above: Option<Decimal>,
}

/// The forecast for the report day's month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forecast {
    /// Month to date plus the forecast for the rest of the month.
    Available {
        month_total: Decimal,
    },
    /// The month is over (or a backfill): the month's total is known.
    Complete {
        month_total: Decimal,
    },
    Unavailable {
        reason: String,
    },
}

/// A line of the top-N table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub name: String,
    pub report_day: Decimal,
    pub day_before: Decimal,
    /// How many groups an "Other" line stands for (1 for a named line).
    pub members: usize,
}

impl Line {
    pub fn change(&self) -> Decimal {
        self.report_day - self.day_before
    }

    pub fn change_pct(&self) -> Option<Decimal> {
        percent_change(self.day_before, self.report_day)
    }

    pub fn change_text(&self) -> String {
        format_percent(self.change_pct(), self.day_before.is_zero() && !self.report_day.is_zero())
    }
}

/// Everything a report says, computed once and rendered for each channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostReport {
    pub window: Window,
    pub metric: Metric,
    pub group_by: GroupBy,
    pub unit: String,
    /// Every day of the window with its amount per group key (display form), missing ones as zero.
    pub days: Vec<(Date, bool, BTreeMap<String, Decimal>)>,
    pub report_day_total: Decimal,
    pub day_before_total: Decimal,
    pub month_to_date: Decimal,
    /// Days 1 to the report day's day of last month (all of it, if shorter).
    pub last_month_same_days: Decimal,
    pub forecast: Forecast,
    pub top: Vec<Line>,
    pub other: Option<Line>,
    /// Messages for each threshold crossed.
    pub alerts: Vec<String>,
    /// What a reader must know to trust the breakdown: a tag key that no cost carries.
    pub notes: Vec<String>,
    /// Why it changed: the movers against the day before, the week before and last month.
    pub movers: Vec<Movers>,
    /// The month against its budget, when there is one to compare with.
    pub budget: Option<BudgetStatus>,
}

impl CostReport {
    pub fn report_day_estimated(&self) -> bool {
        self.days.iter().any(|(date, estimated, _)| *date == self.window.report_day && *estimated)
    }

    pub fn month_to_date_estimated(&self) -> bool {
        let first = self.window.report_day.first_of_month();
        self.days.iter().any(|(date, estimated, _)| *date >= first && *estimated)
    }

    pub fn day_change(&self) -> Decimal {
        self.report_day_total - self.day_before_total
    }

    pub fn day_change_pct(&self) -> Option<Decimal> {
        percent_change(self.day_before_total, self.report_day_total)
    }

    pub fn day_change_text(&self) -> String {
        format_percent(self.day_change_pct(), self.day_before_total.is_zero() && !self.report_day_total.is_zero())
    }

    pub fn month_change_pct(&self) -> Option<Decimal> {
        percent_change(self.last_month_same_days, self.month_to_date)
    }

    pub fn month_change_text(&self) -> String {
        format_percent(self.month_change_pct(), self.last_month_same_days.is_zero() && !self.month_to_date.is_zero())
    }

    /// Daily totals of the last 30 days (fewer at the window's start), with the estimated flag.
    pub fn daily_totals(&self) -> Vec<(Date, Decimal, bool)> {
        let totals: Vec<(Date, Decimal, bool)> =
            self.days.iter().map(|(date, estimated, groups)| (*date, groups.values().sum(), *estimated)).collect();
        let skip = totals.len().saturating_sub(usize::try_from(CHART_DAYS).unwrap_or(30));
        totals[skip..].to_vec()
    }

    pub fn money(&self, amount: Decimal) -> String {
        format_money(amount, &self.unit)
    }

    /// Compares the month with `budget`'s figures (see [`budget_status`]): its alerts join
    /// the report's, and a budget that cannot be compared becomes a note.
    pub fn compare_with_budget(&mut self, budget: &Budget, today: Date, alert_percent: Decimal) {
        match budget_status(budget, self, today, alert_percent) {
            Ok(status) => {
                self.alerts.extend(status.alerts(&self.unit));
                self.budget = Some(status);
            }
            Err(note) => self.notes.push(note),
        }
    }

    /// The movers against `baseline`.
    pub fn movers_against(&self, baseline: Baseline) -> Option<&Movers> {
        self.movers.iter().find(|movers| movers.baseline == baseline)
    }
}

/// `(to - from) / from` in percent; `None` from zero.
fn percent_change(from: Decimal, to: Decimal) -> Option<Decimal> {
    (!from.is_zero()).then(|| (to - from) / from.abs() * Decimal::ONE_HUNDRED)
}

/// Computes the report from merged Cost Explorer days and the forecast for the rest of the month.
#[allow(clippy::too_many_arguments)]
pub fn build_report(
    window: Window,
    metric: Metric,
    group_by: GroupBy,
    account_names: &BTreeMap<String, String>,
    cost_days: &[CostDay],
    forecast_rest: Result<Option<Decimal>, String>,
    top_n: usize,
    alerts: Alerts,
) -> CostReport {
    let unit = cost_days.iter().find_map(|d| d.unit.clone()).unwrap_or_else(|| "USD".to_owned());
    let by_date: BTreeMap<Date, &CostDay> = cost_days.iter().map(|d| (d.date, d)).collect();
    let mut days = Vec::new();
    let mut date = window.start;
    while date < window.end_exclusive {
        let mut groups: BTreeMap<String, Decimal> = BTreeMap::new();
        let estimated = by_date.get(&date).is_some_and(|d| d.estimated);
        for (key, amount) in by_date.get(&date).map(|d| d.groups.as_slice()).unwrap_or_default() {
            *groups.entry(group_by.display_key(key, account_names)).or_default() += *amount;
        }
        days.push((date, estimated, groups));
        let Ok(next) = date.tomorrow() else { break };
        date = next;
    }

    let total_of = |day: Date| -> Decimal {
        days.iter().find(|(d, ..)| *d == day).map(|(_, _, groups)| groups.values().sum()).unwrap_or_default()
    };
    let sum_between = |first: Date, last: Date| -> Decimal {
        days.iter().filter(|(d, ..)| *d >= first && *d <= last).flat_map(|(_, _, g)| g.values()).sum()
    };
    let report_day = window.report_day;
    let day_before = report_day.yesterday().unwrap_or(report_day);
    let month_start = report_day.first_of_month();
    let previous_month_start = month_start.yesterday().map(|d| d.first_of_month()).unwrap_or(month_start);
    let previous_month_end = month_start.yesterday().unwrap_or(month_start);
    let same_day_last_month = previous_month_start
        .with()
        .day(report_day.day().min(previous_month_end.day()))
        .build()
        .unwrap_or(previous_month_end);

    let month_to_date = sum_between(month_start, report_day);
    let forecast = match forecast_rest {
        Ok(Some(rest)) => Forecast::Available { month_total: month_to_date + rest },
        Ok(None) if report_day == report_day.last_of_month() => Forecast::Complete { month_total: month_to_date },
        Ok(None) => Forecast::Unavailable { reason: "not forecast for a past day".to_owned() },
        Err(reason) => Forecast::Unavailable { reason },
    };

    let (top, other) = top_lines(&days, report_day, day_before, top_n);
    let movers = movers(&days, report_day);
    let report_day_total = total_of(report_day);
    let day_before_total = total_of(day_before);
    let mut report = CostReport {
        window,
        metric,
        group_by,
        unit,
        report_day_total,
        day_before_total,
        month_to_date,
        last_month_same_days: sum_between(previous_month_start, same_day_last_month),
        forecast,
        top,
        other,
        alerts: Vec::new(),
        notes: Vec::new(),
        movers,
        budget: None,
        days,
    };
    report.alerts = alert_messages(&report, alerts);
    report.notes = tag_notes(&report);
    report
}

/// The report of `days` by service, for `report_day`, with the default top 10 and no alert
/// thresholds: what most tests need.
#[cfg(test)]
pub(crate) fn report_by_service(
    report_day: Date,
    days: &[CostDay],
    forecast_rest: Result<Option<Decimal>, String>,
) -> CostReport {
    build_report(
        super::dates::window_for(report_day),
        Metric::UnblendedCost,
        GroupBy::service(),
        &BTreeMap::new(),
        days,
        forecast_rest,
        10,
        Alerts::default(),
    )
}

/// A tag key whose every cost in the window is untagged, while there is cost: most often
/// a key never activated as a cost allocation tag, which Cost Explorer does not say.
fn tag_notes(report: &CostReport) -> Vec<String> {
    let spend: Decimal = report.days.iter().flat_map(|(_, _, groups)| groups.values()).sum();
    if spend.is_zero() {
        return Vec::new();
    }
    report
        .group_by
        .tags()
        .filter(|(index, _)| {
            report.days.iter().flat_map(|(_, _, groups)| groups.keys()).all(|key| {
                GroupBy::parts(key).get(*index).is_none_or(|part| *part == UNTAGGED)
            })
        })
        .map(|(_, key)| {
            format!(
                "no cost in these {} days carries the tag {key}: if resources have it, activate it as a cost allocation tag (Billing and Cost Management, Cost allocation tags); Cost Explorer shows it from about a day after activation",
                report.days.len()
            )
        })
        .collect()
}

fn top_lines(
    days: &[(Date, bool, BTreeMap<String, Decimal>)],
    report_day: Date,
    day_before: Date,
    top_n: usize,
) -> (Vec<Line>, Option<Line>) {
    let groups_of = |day: Date| days.iter().find(|(d, ..)| *d == day).map(|(_, _, g)| g.clone()).unwrap_or_default();
    let (on_day, before) = (groups_of(report_day), groups_of(day_before));
    let mut lines: Vec<Line> = on_day
        .keys()
        .chain(before.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|name| Line {
            name: name.clone(),
            report_day: on_day.get(name).copied().unwrap_or_default(),
            day_before: before.get(name).copied().unwrap_or_default(),
            members: 1,
        })
        .collect();
    lines.sort_by(|a, b| b.report_day.cmp(&a.report_day).then_with(|| a.name.cmp(&b.name)));
    if lines.len() <= top_n {
        return (lines, None);
    }
    let rest = lines.split_off(top_n);
    let other = Line {
        name: format!("Other ({} more)", rest.len()),
        report_day: rest.iter().map(|l| l.report_day).sum(),
        day_before: rest.iter().map(|l| l.day_before).sum(),
        members: rest.len(),
    };
    (lines, Some(other))
}

fn alert_messages(report: &CostReport, alerts: Alerts) -> Vec<String> {
    let mut messages = Vec::new();
    if let Some(limit) = alerts.daily_above.filter(|limit| report.report_day_total > *limit) {
        messages.push(format!(
            "{} cost {} on {}, above the alert threshold of {}",
            report.metric.as_str(),
            report.money(report.report_day_total),
            report.window.report_day,
            report.money(limit),
        ));
    }
    if let Some(limit) = alerts.change_pct_above {
        match report.day_change_pct() {
            Some(pct) if pct > limit => messages.push(format!(
                "cost rose {} from the day before ({} to {}), above the alert threshold of {limit}%",
                report.day_change_text(),
                report.money(report.day_before_total),
                report.money(report.report_day_total),
            )),
            None if report.report_day_total > Decimal::ZERO => messages.push(format!(
                "cost rose from nothing the day before to {}, above the alert threshold of {limit}%",
                report.money(report.report_day_total),
            )),
            _ => {}
        }
    }
    messages
}
