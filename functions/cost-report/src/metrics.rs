//! What one report tells CloudWatch: its heartbeat, the day's total, whether it raised an
//! alert, the month against its budget, how its channels went and how many billed Cost
//! Explorer requests it made.

use rust_decimal::prelude::ToPrimitive;
use shared::metrics::{Metrics, Unit};

use crate::core::{Delivery, RunSummary};
use crate::error::CostReportError;

/// The metrics of one run. A summary with a failed channel is a failed run (its heartbeat
/// is 0) that still reports its figures. `cost_explorer_requests`: counted by the client.
pub fn of_run(ran: &Result<RunSummary, CostReportError>, cost_explorer_requests: u64) -> Metrics {
    let failure = match ran {
        Ok(summary) => summary.failure(),
        Err(_) => None,
    };
    let mut metrics = Metrics::of_run(ran.is_ok() && failure.is_none());
    metrics.count("CostExplorerRequests", cost_explorer_requests);
    match ran {
        Ok(summary) => {
            let count = |wanted: &[Delivery]| summary.channels.values().filter(|s| wanted.contains(&s.status)).count();
            metrics
                .put("DayTotal", Unit::None, summary.total.to_f64().unwrap_or(0.0))
                .put("MonthToDate", Unit::None, summary.month_to_date.to_f64().unwrap_or(0.0))
                .count("AlertRaised", u32::from(!summary.alerts.is_empty()))
                .count("ChannelsDelivered", count(&[Delivery::Sent, Delivery::AlreadySent]))
                .count("ChannelsFailed", count(&[Delivery::Failed]))
                .property("ReportDay", summary.report_day.clone())
                .property("CurrencyUnit", summary.unit.clone());
            if let Some(forecast) = summary.forecast_month_total.and_then(|f| f.to_f64()) {
                metrics.put("ForecastMonthTotal", Unit::None, forecast);
            }
            // The budget's shares, in percent: an alarm at 100 on the forecast's warns before the month ends.
            if let Some(budget) = summary.budget.as_ref().filter(|budget| !budget.limit.is_zero()) {
                let share = |amount: rust_decimal::Decimal| {
                    (amount / budget.limit * rust_decimal::Decimal::ONE_HUNDRED).to_f64()
                };
                metrics.put("BudgetUsedPercent", Unit::None, share(budget.actual).unwrap_or(0.0)).put(
                    "BudgetForecastPercent",
                    Unit::None,
                    share(budget.forecast).unwrap_or(0.0),
                );
            }
            if let Some(failure) = failure {
                metrics.property("ErrorType", failure.error_type()).property("Error", failure.to_string());
            }
        }
        Err(err) => {
            metrics.property("ErrorType", err.error_type()).property("Error", err.to_string());
        }
    }
    metrics
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rust_decimal::Decimal;
    use serde_json::json;
    use shared::metrics::{MetricsConfig, check_document};

    use super::*;
    use crate::core::Channel;
    use crate::core::{BudgetLine, ChannelStatus, FiguresFrom};

    fn summary(slack: Delivery) -> RunSummary {
        let status = |status| ChannelStatus { status, detail: String::new(), retryable: false };
        RunSummary {
            report_day: "2026-11-22".into(),
            metric: "UnblendedCost",
            group_by: "SERVICE".into(),
            unit: "USD".into(),
            total: Decimal::new(12345, 2),
            estimated: false,
            change_from_day_before: "+3%".into(),
            month_to_date: Decimal::new(250000, 2),
            month_change_from_same_days_last_month: String::new(),
            forecast_month_total: Some(Decimal::new(400000, 2)),
            forecast_note: String::new(),
            top: Vec::new(),
            movers: Vec::new(),
            alerts: vec!["over 100".into()],
            notes: Vec::new(),
            figures_from: FiguresFrom::CostExplorer,
            cost_explorer_requests: 2,
            channels: BTreeMap::from([
                (Channel::Csv, status(Delivery::Sent)),
                (Channel::Email, status(Delivery::AlreadySent)),
                (Channel::Slack, status(slack)),
            ]),
            csv_key: None,
            warnings: Vec::new(),
            forecast_failure: None,
            budget: Some(BudgetLine {
                name: "Monthly".into(),
                limit: Decimal::new(3000, 0),
                actual: Decimal::new(2500, 0),
                forecast: Decimal::new(3300, 0),
                forecast_from: "budget",
                crosses_on: None,
            }),
            budget_failure: None,
        }
    }

    fn document(ran: &Result<RunSummary, CostReportError>) -> serde_json::Value {
        let document = of_run(ran, 2).document(&MetricsConfig::local("cost-report"), 0);
        check_document(&document).unwrap_or_else(|err| panic!("{err}: {document}"));
        document
    }

    /// Each named metric has its value in the document.
    fn check(document: &serde_json::Value, expected: &[(&str, f64)]) {
        for (name, value) in expected {
            assert_eq!(document[*name], json!(value), "{name}");
        }
    }

    #[test]
    fn a_delivered_report_reports_its_figures_and_channels() {
        let document = document(&Ok(summary(Delivery::Sent)));
        check(
            &document,
            &[
                ("Succeeded", 1.0),
                ("DayTotal", 123.45),
                ("MonthToDate", 2500.0),
                ("ForecastMonthTotal", 4000.0),
                ("AlertRaised", 1.0),
                ("ChannelsDelivered", 3.0),
                ("ChannelsFailed", 0.0),
                ("CostExplorerRequests", 2.0),
                ("BudgetForecastPercent", 110.0),
            ],
        );
        assert!((document["BudgetUsedPercent"].as_f64().unwrap_or_default() - 83.333).abs() < 0.001);
    }

    #[test]
    fn a_failed_channel_fails_the_heartbeat_and_keeps_the_figures() {
        let document = document(&Ok(summary(Delivery::Failed)));
        check(
            &document,
            &[("Succeeded", 0.0), ("ChannelsFailed", 1.0), ("ChannelsDelivered", 2.0), ("DayTotal", 123.45)],
        );
        assert_eq!(document["ErrorType"], json!("ChannelsFailed"));
    }

    #[test]
    fn a_run_that_never_got_figures_has_only_its_heartbeat_and_requests() {
        let document = document(&Err(CostReportError::InvalidEvent("bad day".into())));
        assert_eq!(document["Succeeded"], json!(0.0));
        assert_eq!(document["ErrorType"], json!("InvalidEvent"));
        assert!(document.get("DayTotal").is_none());
    }
}
