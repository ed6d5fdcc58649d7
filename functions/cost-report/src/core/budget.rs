//! The month's end against an AWS Budget: which budget (the account's, or the one named
//! in `BUDGET`), how much of it is spent, the forecast against it, the day the forecast
//! crosses it, and the alerts. The figures are the budget's own, as AWS Budgets calculates
//! them (its filters, its cost types); `budgets:DescribeBudgets` is free.

use jiff::civil::Date;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::figures::{CostReport, Forecast};
use super::money::format_money;

/// Which budget the report compares with (`BUDGET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetChoice {
    /// None.
    Off,
    /// The account's own: a monthly cost budget without filters (the smallest, if several).
    Account,
    /// This one, by name: a budget with filters (a team's, a service's) too.
    Named(String),
}

/// A budget as `DescribeBudgets` describes it, in core terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub name: String,
    /// `COST`, `USAGE`, `RI_UTILIZATION`…: only cost budgets are compared.
    pub kind: String,
    /// `MONTHLY`, `QUARTERLY`, `ANNUALLY`, `DAILY`.
    pub time_unit: String,
    /// The limit of the current period (the planned one, for a planned budget).
    pub limit: Option<Decimal>,
    pub unit: String,
    /// Spent in the current period, and the forecast for its end, as AWS Budgets last calculated them.
    pub actual: Option<Decimal>,
    pub forecast: Option<Decimal>,
    /// Whether it counts only some costs (`CostFilters`, `FilterExpression`).
    pub filtered: bool,
}

impl Budget {
    fn is_monthly_cost(&self) -> bool {
        self.kind == "COST" && self.time_unit == "MONTHLY"
    }
}

/// Where the month-end figure compared with the budget comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastFrom {
    /// AWS Budgets' own forecast.
    Budget,
    /// The report's: month to date plus Cost Explorer's forecast (a budget without filters).
    CostExplorer,
    /// Neither has one (a young account): the month to date's daily average, to the month's end.
    DailyAverage,
}

impl ForecastFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Budget => "budget",
            Self::CostExplorer => "cost-explorer",
            Self::DailyAverage => "daily-average",
        }
    }
}

/// The report's month against the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStatus {
    pub name: String,
    pub limit: Decimal,
    pub actual: Decimal,
    pub forecast: Decimal,
    pub forecast_from: ForecastFrom,
    /// The day the forecast line crosses the limit, when it does this month and has not yet.
    pub crosses_on: Option<Date>,
    /// Alert at or above this share of the limit spent, in percent (`BUDGET_ALERT_PERCENT`).
    pub alert_percent: Decimal,
}

impl BudgetStatus {
    pub fn actual_pct(&self) -> Decimal {
        percent_of(self.actual, self.limit)
    }

    pub fn forecast_pct(&self) -> Decimal {
        percent_of(self.forecast, self.limit)
    }

    pub fn over(&self) -> bool {
        self.actual > self.limit
    }

    /// What is spent: `$2,500.00 of $3,000.00 (83%)`.
    pub fn spent_line(&self, unit: &str) -> String {
        format!(
            "{} of {} ({}%)",
            format_money(self.actual, unit),
            format_money(self.limit, unit),
            whole(self.actual_pct())
        )
    }

    /// Where the month ends against it: `$3,300.00 (110%), crosses it on Nov 27`.
    pub fn forecast_line(&self, unit: &str) -> String {
        let mut line = format!("{} ({}%)", format_money(self.forecast, unit), whole(self.forecast_pct()));
        if self.forecast_from == ForecastFrom::DailyAverage {
            line.push_str(" at the month's daily average");
        }
        if let Some(day) = self.crosses_on {
            line.push_str(&format!(", crosses it on {}", day.strftime("%b %-d")));
        }
        line
    }

    /// What crosses the alert lines: spending over the limit, over the alert share, a forecast over the limit.
    pub fn alerts(&self, unit: &str) -> Vec<String> {
        let money = |amount| format_money(amount, unit);
        let mut alerts = Vec::new();
        if self.over() {
            alerts.push(format!(
                "the month's cost, {}, is over the budget {} ({}) by {}",
                money(self.actual),
                self.name,
                money(self.limit),
                money(self.actual - self.limit),
            ));
        } else if self.actual_pct() >= self.alert_percent {
            alerts.push(format!(
                "the month's cost, {}, is {}% of the budget {} ({}), at or above the alert share of {}%",
                money(self.actual),
                whole(self.actual_pct()),
                self.name,
                money(self.limit),
                self.alert_percent.normalize(),
            ));
        }
        if !self.over() && self.forecast > self.limit {
            let when = self.crosses_on.map(|day| format!(": at this rate it is crossed on {day}")).unwrap_or_default();
            alerts.push(format!(
                "the month is forecast to end at {}, over the budget {} ({}) by {} ({}%){when}",
                money(self.forecast),
                self.name,
                money(self.limit),
                money(self.forecast - self.limit),
                whole(self.forecast_pct() - Decimal::ONE_HUNDRED),
            ));
        }
        alerts
    }
}

/// The budget the report compares with, or why there is none. `Ok(None)`: nothing to
/// compare (off, or the account has no budget of its own); `Err`: a named budget that
/// cannot be compared, and the fix.
pub fn choose_budget(choice: &BudgetChoice, budgets: &[Budget]) -> Result<Option<Budget>, String> {
    match choice {
        BudgetChoice::Off => Ok(None),
        BudgetChoice::Account => Ok(budgets
            .iter()
            .filter(|b| b.is_monthly_cost() && !b.filtered && b.limit.is_some())
            .min_by(|a, b| a.limit.cmp(&b.limit).then_with(|| a.name.cmp(&b.name)))
            .cloned()),
        BudgetChoice::Named(name) => {
            let Some(budget) = budgets.iter().find(|b| b.name == *name) else {
                let names: Vec<&str> = budgets.iter().map(|b| b.name.as_str()).collect();
                let known = if names.is_empty() { "the account has none".to_owned() } else { names.join(", ") };
                return Err(format!(
                    "budget {name:?} does not exist (budgets: {known}): set BUDGET to one of them, to auto, or to off"
                ));
            };
            if !budget.is_monthly_cost() {
                return Err(format!(
                    "budget {name:?} is a {} {} budget: the report compares a month's cost, so name a MONTHLY COST budget in BUDGET",
                    budget.time_unit, budget.kind
                ));
            }
            if budget.limit.is_none() {
                return Err(format!("budget {name:?} has no limit for this month: plan one, or name another budget"));
            }
            Ok(Some(budget.clone()))
        }
    }
}

/// The report's month against `budget`, or why it cannot be compared (a note). The
/// budget's figures are for the current month, so a report day in an earlier month (a
/// backfill, or the 1st's report of the month before) is compared with the report's own
/// total, which only a budget without filters counts the same way.
pub fn budget_status(
    budget: &Budget,
    report: &CostReport,
    today: Date,
    alert_percent: Decimal,
) -> Result<BudgetStatus, String> {
    let limit = budget.limit.unwrap_or_default();
    if limit <= Decimal::ZERO {
        return Err(format!("budget {} has a limit of {}: nothing to compare with", budget.name, limit));
    }
    if budget.unit != report.unit {
        return Err(format!(
            "budget {} is in {} and the report in {}: not compared",
            budget.name, budget.unit, report.unit
        ));
    }
    let report_day = report.window.report_day;
    let current_month = report_day.first_of_month() == today.first_of_month();
    let report_forecast = match report.forecast {
        Forecast::Available { month_total } | Forecast::Complete { month_total } => Some(month_total),
        Forecast::Unavailable { .. } => None,
    };
    let (actual, forecast) = if current_month {
        (budget.actual, budget.forecast.map(|f| (f, ForecastFrom::Budget)))
    } else if !budget.filtered {
        (Some(report.month_to_date), report_forecast.map(|f| (f, ForecastFrom::CostExplorer)))
    } else {
        return Err(format!(
            "budget {} counts only some costs, and AWS Budgets has its figures for this month only: not compared for {report_day}",
            budget.name
        ));
    };
    let actual = match actual {
        Some(actual) => actual,
        None if !budget.filtered => report.month_to_date,
        None => return Err(format!("AWS Budgets has not calculated budget {}'s spend yet", budget.name)),
    };
    let days_in_month = Decimal::from(report_day.days_in_month());
    let days_counted = Decimal::from(report_day.day());
    let forecast = forecast
        .or_else(|| (!budget.filtered).then_some(report_forecast).flatten().map(|f| (f, ForecastFrom::CostExplorer)));
    let (forecast, forecast_from) = forecast.unwrap_or_else(|| {
        (
            (actual / days_counted * days_in_month).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
            ForecastFrom::DailyAverage,
        )
    });
    let forecast = forecast.max(actual);
    Ok(BudgetStatus {
        name: budget.name.clone(),
        limit,
        actual,
        forecast,
        forecast_from,
        crosses_on: crossing_day(report_day, actual, forecast, limit),
        alert_percent,
    })
}

/// The day a straight line from `actual` at the end of `report_day` to `forecast` at the
/// month's end reaches `limit`: `None` if it does not, or already has.
fn crossing_day(report_day: Date, actual: Decimal, forecast: Decimal, limit: Decimal) -> Option<Date> {
    if actual >= limit || forecast <= limit {
        return None;
    }
    let days_left = i64::from(report_day.days_in_month() - report_day.day());
    if days_left == 0 {
        return None;
    }
    let per_day = (forecast - actual) / Decimal::from(days_left);
    let days = ((limit - actual) / per_day).ceil();
    let days = days.to_i64()?.clamp(1, days_left);
    report_day.checked_add(jiff::Span::new().days(days)).ok()
}

fn percent_of(amount: Decimal, limit: Decimal) -> Decimal {
    if limit.is_zero() { Decimal::ZERO } else { amount / limit * Decimal::ONE_HUNDRED }
}

fn whole(percent: Decimal) -> Decimal {
    percent.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests;
