//! What a run returns: each channel's delivery, the figures people read, and whether the
//! run failed. Plain data and pure decisions: the handler fills it in, the metrics read it.

use std::collections::BTreeMap;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;

use super::delivery::Channel;
use super::figures::{CostReport, Forecast};
use super::render::{CSV_FILE_NAME, MOVERS_CSV_FILE_NAME};
use super::settings::GroupBy;
use crate::error::CostReportError;

/// What happened on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Sent,
    /// Delivered for this report day by an earlier run (Lambda's retry of a failed run).
    AlreadySent,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelStatus {
    pub status: Delivery,
    pub detail: String,
    /// A failure whose cause may pass by itself (throttling, 5xx, a dropped connection).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
}

impl ChannelStatus {
    pub fn sent(detail: impl Into<String>) -> Self {
        Self { status: Delivery::Sent, detail: detail.into(), retryable: false }
    }
    pub fn skipped(detail: impl Into<String>) -> Self {
        Self { status: Delivery::Skipped, detail: detail.into(), retryable: false }
    }
    /// A failed channel; `retryable` when its cause may pass by itself.
    pub fn failed(detail: impl Into<String>, retryable: bool) -> Self {
        Self { status: Delivery::Failed, detail: detail.into(), retryable }
    }
}

/// One listed mover, in the run's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoverLine {
    /// `day-before`, `week-before` or `month-to-date`.
    pub comparison: &'static str,
    pub name: String,
    pub change: Decimal,
    /// `up`, `down`, `new` or `gone`.
    pub direction: &'static str,
    /// Its share of all the movement, in percent.
    pub share_pct: Decimal,
}

/// The month against its budget, in the run's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetLine {
    pub name: String,
    pub limit: Decimal,
    pub actual: Decimal,
    pub forecast: Decimal,
    /// `budget`, `cost-explorer` or `daily-average`.
    pub forecast_from: &'static str,
    /// The day the forecast crosses the limit, when it does this month and has not yet.
    pub crosses_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopLine {
    pub name: String,
    pub amount: Decimal,
    pub change: String,
}

/// Where the run's figures came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FiguresFrom {
    CostExplorer,
    /// Stored by an earlier run for the same day: Cost Explorer was not asked again.
    StoredFigures,
}

/// The function's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// The last complete UTC day (Cost Explorer's day), or the requested one.
    pub report_day: String,
    pub metric: &'static str,
    pub group_by: String,
    pub unit: String,
    pub total: Decimal,
    pub estimated: bool,
    pub change_from_day_before: String,
    pub month_to_date: Decimal,
    pub month_change_from_same_days_last_month: String,
    pub forecast_month_total: Option<Decimal>,
    pub forecast_note: String,
    pub top: Vec<TopLine>,
    /// The listed movers of each comparison.
    pub movers: Vec<MoverLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetLine>,
    pub alerts: Vec<String>,
    /// What a reader must know about the breakdown (a tag key no cost carries), or why the budget was not compared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub figures_from: FiguresFrom,
    /// Billed Cost Explorer requests made by this run: 1 + extra pages + 1 forecast, or 0
    /// when the day's figures were stored by an earlier run.
    pub cost_explorer_requests: u64,
    pub channels: BTreeMap<Channel, ChannelStatus>,
    pub csv_key: Option<String>,
    /// Problems that did not stop the report: a transient forecast failure, state that
    /// could not be read or written. A permanent forecast failure fails the run too.
    pub warnings: Vec<String>,
    /// A forecast failure that needs the operator (access denied, validation): it fails the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_failure: Option<String>,
    /// A budget that could not be read or compared, and needs the operator (access denied,
    /// a named budget that does not exist): it fails the run after delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_failure: Option<String>,
}

impl RunSummary {
    /// Why the run failed, if it did: channels that failed (the others were delivered)
    /// and a forecast that will not work without the operator.
    pub fn failure(&self) -> Option<CostReportError> {
        let failures: Vec<(&Channel, &ChannelStatus)> =
            self.channels.iter().filter(|(_, status)| status.status == Delivery::Failed).collect();
        let delivered: Vec<&str> = self
            .channels
            .iter()
            .filter(|(_, s)| matches!(s.status, Delivery::Sent | Delivery::AlreadySent))
            .map(|(channel, _)| channel.as_str())
            .collect();
        let delivered = if delivered.is_empty() { "nothing".to_owned() } else { delivered.join(", ") };
        if !failures.is_empty() {
            return Some(CostReportError::ChannelsFailed {
                report_day: self.report_day.clone(),
                failed: failures.iter().map(|(channel, status)| format!("{channel}: {}", status.detail)).collect(),
                delivered,
                transient: failures.iter().all(|(_, status)| status.retryable),
            });
        }
        if let Some(reason) = &self.forecast_failure {
            return Some(CostReportError::ForecastFailed {
                report_day: self.report_day.clone(),
                reason: reason.clone(),
                delivered,
            });
        }
        self.budget_failure.as_ref().map(|reason| CostReportError::BudgetFailed {
            report_day: self.report_day.clone(),
            reason: reason.clone(),
            delivered,
        })
    }
}

/// Why email and Slack stay quiet this run, if they do: with `on_alert_only`
/// (`NOTIFY=on_alert`), a report that crossed no alert threshold is not sent.
pub fn quiet_reason(on_alert_only: bool, report: &CostReport) -> Option<&'static str> {
    (on_alert_only && report.alerts.is_empty()).then_some("NOTIFY=on_alert and no alert threshold was crossed")
}

/// `<prefix>/YYYY/MM/DD/cost-by-service.csv` for the report day.
pub fn csv_key_for(prefix: &str, day: Date) -> String {
    key_for(prefix, day, CSV_FILE_NAME)
}

/// `<prefix>/YYYY/MM/DD/cost-movers.csv` beside it.
pub fn movers_key_for(prefix: &str, day: Date) -> String {
    key_for(prefix, day, MOVERS_CSV_FILE_NAME)
}

fn key_for(prefix: &str, day: Date, file: &str) -> String {
    let path = format!("{}/{file}", day.strftime("%Y/%m/%d"));
    if prefix.is_empty() { path } else { format!("{prefix}/{path}") }
}

#[allow(clippy::too_many_arguments)]
pub fn summarize(
    report: &CostReport,
    figures_from: FiguresFrom,
    cost_explorer_requests: u64,
    channels: BTreeMap<Channel, ChannelStatus>,
    csv_key: Option<String>,
    warnings: Vec<String>,
    forecast_failure: Option<String>,
    budget_failure: Option<String>,
) -> RunSummary {
    let (forecast_month_total, forecast_note) = match &report.forecast {
        Forecast::Available { month_total } => {
            (Some(*month_total), "month to date plus Cost Explorer's forecast".to_owned())
        }
        Forecast::Complete { month_total } => (Some(*month_total), "the month is complete".to_owned()),
        Forecast::Unavailable { reason } => (None, format!("forecast unavailable: {reason}")),
    };
    RunSummary {
        report_day: report.window.report_day.to_string(),
        metric: report.metric.as_str(),
        group_by: report.group_by.label(),
        unit: report.unit.clone(),
        total: report.report_day_total,
        estimated: report.report_day_estimated(),
        change_from_day_before: report.day_change_text(),
        month_to_date: report.month_to_date,
        month_change_from_same_days_last_month: report.month_change_text(),
        forecast_month_total,
        forecast_note,
        top: report
            .top
            .iter()
            .chain(report.other.iter())
            .map(|line| TopLine {
                name: GroupBy::for_people(&line.name),
                amount: line.report_day,
                change: line.change_text(),
            })
            .collect(),
        movers: report
            .movers
            .iter()
            .flat_map(|movers| {
                movers.top.iter().map(|mover| MoverLine {
                    comparison: movers.baseline.as_str(),
                    name: GroupBy::for_people(&mover.name),
                    change: mover.change(),
                    direction: mover.direction.as_str(),
                    share_pct: mover.share.round_dp(1),
                })
            })
            .collect(),
        budget: report.budget.as_ref().map(|budget| BudgetLine {
            name: budget.name.clone(),
            limit: budget.limit,
            actual: budget.actual,
            forecast: budget.forecast,
            forecast_from: budget.forecast_from.as_str(),
            crosses_on: budget.crosses_on,
        }),
        alerts: report.alerts.clone(),
        notes: report.notes.clone(),
        figures_from,
        cost_explorer_requests,
        channels,
        csv_key,
        warnings,
        forecast_failure,
        budget_failure,
    }
}
