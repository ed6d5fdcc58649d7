//! One report: event in, summary out. Reads Cost Explorer once (plus pages and the
//! forecast), computes the report once, and delivers it to each configured channel.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use lambda_runtime::LambdaEvent;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use shared::aws::{ApiCallCounter, Aws};
use tokio::time::Instant;
use tracing::{error, info};

use crate::aws;
use crate::config::{Config, Notify};
use crate::core::{self, CostReport, Forecast};
use crate::error::CostReportError;
use crate::slack::SlackWebhook;

const TIME_RESERVED: Duration = Duration::from_secs(5);
const DEFAULT_BUDGET: Duration = Duration::from_secs(120);

/// What the handler needs, built once at cold start.
#[derive(Debug, Clone)]
pub struct Deps {
    pub config: Config,
    pub ce: aws_sdk_costexplorer::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub s3: aws_sdk_s3::Client,
    pub slack: Option<SlackWebhook>,
    /// Counts Cost Explorer requests only: each one is billed.
    pub cost_explorer_requests: ApiCallCounter,
}

impl Deps {
    pub fn new(config: Config, aws: &Aws) -> Self {
        let counter = ApiCallCounter::default();
        let ce = {
            let counter = counter.clone();
            shared::aws_client!(aws_sdk_costexplorer, aws, |builder: aws_sdk_costexplorer::config::Builder| builder
                .interceptor(counter))
        };
        Self {
            slack: config.slack.clone().map(SlackWebhook::new),
            ce,
            ses: shared::aws_client!(aws_sdk_sesv2, aws),
            s3: aws.s3(),
            cost_explorer_requests: counter,
            config,
        }
    }
}

/// What happened on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelStatus {
    /// `sent`, `skipped` or `failed`.
    pub status: &'static str,
    pub detail: String,
}

impl ChannelStatus {
    fn sent(detail: impl Into<String>) -> Self {
        Self { status: "sent", detail: detail.into() }
    }
    fn skipped(detail: impl Into<String>) -> Self {
        Self { status: "skipped", detail: detail.into() }
    }
    fn failed(detail: impl Into<String>) -> Self {
        Self { status: "failed", detail: detail.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopLine {
    pub name: String,
    pub amount: Decimal,
    pub change: String,
}

/// The function's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
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
    pub alerts: Vec<String>,
    /// Billed Cost Explorer requests made: 1 + extra pages + 1 forecast (3 with no paging at most).
    pub cost_explorer_requests: u64,
    pub channels: BTreeMap<&'static str, ChannelStatus>,
    pub csv_key: Option<String>,
}

#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<RunSummary, CostReportError> {
    let requested = core::parse_event(&event.payload).map_err(CostReportError::InvalidEvent)?;
    let deadline =
        Instant::now() + shared::deadline::time_budget(event.context.deadline(), TIME_RESERVED, DEFAULT_BUDGET);
    let summary = run(deps, requested, Timestamp::now(), deadline).await?;
    let summary_json = serde_json::to_string(&summary).unwrap_or_default();
    let failed: Vec<String> = summary
        .channels
        .iter()
        .filter(|(_, status)| status.status == "failed")
        .map(|(name, status)| format!("{name}: {}", status.detail))
        .collect();
    if !failed.is_empty() {
        error!(summary = %summary_json, "cost report channels failed");
        let delivered: Vec<&str> =
            summary.channels.iter().filter(|(_, s)| s.status == "sent").map(|(name, _)| *name).collect();
        return Err(CostReportError::ChannelsFailed(format!(
            "cost report for {}: {} (delivered: {})",
            summary.report_day,
            failed.join(" | "),
            if delivered.is_empty() { "nothing".to_owned() } else { delivered.join(", ") }
        )));
    }
    info!(summary = %summary_json, "cost report delivered");
    Ok(summary)
}

/// Computes the report for `requested` (or yesterday) and delivers it, with `now` and
/// `deadline` given so tests control time.
pub async fn run(
    deps: &Deps,
    requested: Option<Date>,
    now: Timestamp,
    deadline: Instant,
) -> Result<RunSummary, CostReportError> {
    let config = &deps.config;
    let requests_before = deps.cost_explorer_requests.get();
    let day = core::report_day(now, &config.time_zone, requested).map_err(CostReportError::InvalidEvent)?;
    let window = core::window_for(day);
    let query = core::cost_query(&window, config.metric, &config.group_by);
    let days = core::merge_pages(aws::cost_and_usage(&deps.ce, &query).await?);
    let today = now.to_zoned(config.time_zone.clone()).date();
    let forecast_rest = match core::forecast_query(&window, today) {
        Some(forecast) => aws::cost_forecast(&deps.ce, &forecast, config.metric).await.map(Some),
        None => Ok(None),
    };
    let report = core::build_report(
        window,
        config.metric,
        config.group_by.clone(),
        &days,
        forecast_rest,
        config.top_n,
        config.alerts,
    );
    let cost_explorer_requests = deps.cost_explorer_requests.get() - requests_before;

    let csv = core::render_csv(&report)?;
    let mut channels = BTreeMap::new();
    let mut csv_key = None;
    channels.insert(
        "csv",
        match &config.csv {
            None => ChannelStatus::skipped("REPORT_BUCKET is not set"),
            Some(target) => {
                let key = csv_key_for(&target.prefix, day);
                let put = shared::aws::put_encrypted(
                    &deps.s3,
                    &target.bucket,
                    &key,
                    csv.clone(),
                    "text/csv; charset=utf-8",
                    target.kms_key_id.as_deref(),
                )
                .await;
                let status = match put {
                    Ok(()) => ChannelStatus::sent(format!("s3://{}/{key}", target.bucket)),
                    Err(failure) if failure.bucket_missing => ChannelStatus::failed(format!(
                        "bucket {} does not exist: create it or set REPORT_BUCKET to an existing bucket",
                        target.bucket
                    )),
                    Err(failure) => ChannelStatus::failed(format!(
                        "writing s3://{}/{key} failed: {}",
                        target.bucket, failure.message
                    )),
                };
                if status.status == "sent" {
                    csv_key = Some(key);
                }
                status
            }
        },
    );

    let quiet = config.notify == Notify::OnAlert && report.alerts.is_empty();
    let quiet_reason = "NOTIFY=on_alert and no alert threshold was crossed";
    channels.insert(
        "email",
        match &config.email {
            None => ChannelStatus::skipped("SES_FROM and SES_TO are not set"),
            Some(_) if quiet => ChannelStatus::skipped(quiet_reason),
            Some(target) => match aws::send_email(&deps.ses, target, &core::render_email(&report), &csv).await {
                Ok(()) => ChannelStatus::sent(format!("to {}", target.to.join(", "))),
                Err(reason) => ChannelStatus::failed(reason),
            },
        },
    );
    channels.insert(
        "slack",
        match &deps.slack {
            None => ChannelStatus::skipped("SLACK_WEBHOOK_URL is not set"),
            Some(_) if quiet => ChannelStatus::skipped(quiet_reason),
            Some(slack) => match slack.post(&core::render_slack(&report), deadline).await {
                Ok(()) => ChannelStatus::sent("posted to the incoming webhook"),
                Err(reason) => ChannelStatus::failed(reason),
            },
        },
    );

    Ok(summarize(&report, cost_explorer_requests, channels, csv_key))
}

/// `<prefix>/YYYY/MM/DD/cost-by-service.csv` for the report day.
pub fn csv_key_for(prefix: &str, day: Date) -> String {
    let path = format!("{}/{}", day.strftime("%Y/%m/%d"), core::CSV_FILE_NAME);
    if prefix.is_empty() { path } else { format!("{prefix}/{path}") }
}

fn summarize(
    report: &CostReport,
    cost_explorer_requests: u64,
    channels: BTreeMap<&'static str, ChannelStatus>,
    csv_key: Option<String>,
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
            .map(|line| TopLine { name: line.name.clone(), amount: line.report_day, change: line.change_text() })
            .collect(),
        alerts: report.alerts.clone(),
        cost_explorer_requests,
        channels,
        csv_key,
    }
}
