//! One report: event in, summary out. Reads Cost Explorer once (plus pages and the
//! forecast) per report day, computes the report, and delivers it to each configured
//! channel not delivered yet for that day (see `core::delivery`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shared::aws::{ApiCallCounter, Aws, IfExists, Put};
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tracing::{Instrument as _, error, info, warn};

use crate::aws;
use crate::config::{Config, Notify, SecretUrl, SlackSource};
use crate::core::BudgetChoice;
use crate::core::{
    self, Channel, ChannelStatus, Delivery, DeliveryRecord, FiguresFrom, ForecastOutcome, Request, RunSummary,
    StoredFigures,
};
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
    /// Names the linked accounts (`GROUP_BY` with `LINKED_ACCOUNT`).
    pub organizations: aws_sdk_organizations::Client,
    pub s3: aws_sdk_s3::Client,
    /// Reads the month's budget (`BUDGET`); global, like Budgets itself.
    pub budgets: aws_sdk_budgets::Client,
    /// Tells the account the budgets are read in (`GetCallerIdentity`, once).
    pub sts: aws_sdk_sts::Client,
    account: Arc<OnceCell<String>>,
    pub slack: Option<SlackWebhook>,
    /// Counts Cost Explorer requests only: each one is billed.
    pub cost_explorer_requests: ApiCallCounter,
}

impl Deps {
    /// Builds the clients, and reads the Slack webhook from Secrets Manager when the
    /// configuration names a secret: once, at cold start.
    pub async fn load(config: Config, aws: &Aws) -> Result<Self, CostReportError> {
        let aws = &aws.for_function("cost-report");
        let slack = match &config.slack {
            None => None,
            Some(SlackSource::Url(url)) => Some(url.clone()),
            Some(SlackSource::Secret { arn }) => {
                let secrets = shared::aws_client!(aws_sdk_secretsmanager, aws);
                let value = aws::secret_string(&secrets, arn).await?;
                Some(SecretUrl::from_secret_string(&value, config.webhook_hosts).map_err(|reason| {
                    CostReportError::SlackSecret {
                        arn: arn.clone(),
                        reason: format!("{reason}; put the webhook URL in it"),
                    }
                })?)
            }
        };
        Ok(Self::with_slack(config, aws, slack))
    }

    fn with_slack(config: Config, aws: &Aws, slack: Option<SecretUrl>) -> Self {
        if config.csv.is_none() {
            warn!(
                "REPORT_BUCKET is not set, so no delivery records are kept: Lambda's retry of a failed run sends the channels that were delivered again"
            );
        }
        let counter = ApiCallCounter::default();
        let ce = {
            let counter = counter.clone();
            shared::aws_client!(aws_sdk_costexplorer, aws, |builder: aws_sdk_costexplorer::config::Builder| builder
                .interceptor(counter))
        };
        Self {
            slack: slack.map(SlackWebhook::new),
            ce,
            ses: shared::aws_client!(aws_sdk_sesv2, aws),
            organizations: shared::aws_client!(aws_sdk_organizations, aws),
            budgets: shared::aws_client!(aws_sdk_budgets, aws),
            sts: shared::aws_client!(aws_sdk_sts, aws),
            account: Arc::default(),
            s3: aws.s3_owned_by(config.csv.as_ref().and_then(|csv| csv.bucket_owner.as_deref())),
            cost_explorer_requests: counter,
            config,
        }
    }
}

impl Deps {
    /// The account the function runs in: budgets are read there.
    async fn own_account(&self) -> Result<&str, CostReportError> {
        self.account
            .get_or_try_init(|| async {
                let identity = self.sts.get_caller_identity().send().await.map_err(|err| CostReportError::Budgets {
                    message: format!("STS GetCallerIdentity failed: {}", shared::error::describe(&err)),
                    transient: shared::error::is_transient(&err),
                })?;
                Ok(identity.account().unwrap_or_default().to_owned())
            })
            .await
            .map(String::as_str)
    }
}

/// One report, its log lines and its metrics on stdout, whatever the outcome.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<RunSummary, CostReportError> {
    let requests_before = deps.cost_explorer_requests.get();
    let request_id = event.context.request_id.clone();
    let ran = report(deps, event).await;
    let mut metrics = crate::metrics::of_run(&ran, deps.cost_explorer_requests.get() - requests_before);
    metrics.property("RequestId", request_id).emit(&deps.config.metrics);
    let summary = ran?;
    log_summary(&summary);
    match summary.failure() {
        Some(failure) => Err(failure),
        None => Ok(summary),
    }
}

/// The run, from the event to a summary that may still hold failed channels.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
async fn report(deps: &Deps, event: LambdaEvent<Value>) -> Result<RunSummary, CostReportError> {
    let request = core::parse_event(&event.payload).map_err(CostReportError::InvalidEvent)?;
    let deadline =
        Instant::now() + shared::deadline::time_budget(event.context.deadline(), TIME_RESERVED, DEFAULT_BUDGET);
    run(deps, request, Timestamp::now(), deadline, &event.context.request_id).await
}

/// One line per warning and per channel, then the run's line: fields, not a JSON string.
fn log_summary(summary: &RunSummary) {
    let day = summary.report_day.as_str();
    for warning in &summary.warnings {
        warn!(report_day = %day, warning = %warning, "cost report warning");
    }
    for (channel, status) in &summary.channels {
        match status.status {
            Delivery::Failed => {
                error!(report_day = %day, channel = %channel, detail = %status.detail, "channel failed")
            }
            other => info!(report_day = %day, channel = %channel, status = ?other, detail = %status.detail, "channel"),
        }
    }
    // The failed channels have their own error lines above; this is the run's record.
    let failed = summary.failure().is_some();
    info!(
        report_day = %day,
        failed,
        metric = summary.metric,
        group_by = %summary.group_by,
        total = %summary.total,
        unit = %summary.unit,
        estimated = summary.estimated,
        change_from_day_before = %summary.change_from_day_before,
        month_to_date = %summary.month_to_date,
        forecast_month_total = %summary.forecast_month_total.map(|f| f.to_string()).unwrap_or_default(),
        alerts = summary.alerts.len(),
        figures_from = ?summary.figures_from,
        cost_explorer_requests = summary.cost_explorer_requests,
        csv_key = summary.csv_key.as_deref().unwrap_or(""),
        "{}",
        if failed { "cost report failed" } else { "cost report delivered" }
    );
}

/// What the channels of one run share.
struct Delivering<'a> {
    deps: &'a Deps,
    day: Date,
    request: Request,
    request_id: &'a str,
    warnings: Vec<String>,
}

/// Each channel's delivery is one X-Ray subsegment.
fn channel_span(channel: Channel) -> tracing::Span {
    tracing::info_span!("channel", channel = %channel)
}

impl Delivering<'_> {
    /// Sends on `channel` by running `send` (which says where it went), unless an earlier
    /// run already delivered it for this day; then records the delivery. A record that
    /// S3 cannot read now fails the channel, unsent: the run fails, and its retry (or the
    /// next run) finds out. One that is not a record is sent again, with a warning.
    async fn channel(
        &mut self,
        channel: Channel,
        send: impl std::future::Future<Output = Result<String, CostReportError>>,
    ) -> ChannelStatus {
        let state = self.deps.config.csv.as_ref();
        if let Some(target) = state.filter(|_| !self.request.resend) {
            let key = core::delivery_key(&target.prefix, self.day, channel);
            match aws::read_object(&self.deps.s3, &target.bucket, &key).await {
                Ok(Some(bytes)) => match serde_json::from_slice::<DeliveryRecord>(&bytes) {
                    Ok(record) => {
                        return ChannelStatus {
                            status: Delivery::AlreadySent,
                            detail: format!(
                                "delivered at {} by request {}: {}; invoke with {{\"resend\": true}} to send it again",
                                record.delivered_at, record.request_id, record.detail
                            ),
                            retryable: false,
                        };
                    }
                    Err(err) => self
                        .warnings
                        .push(format!("s3://{}/{key} is not a delivery record ({err}): sending again", target.bucket)),
                },
                Ok(None) => {}
                Err(reason) => {
                    return ChannelStatus::failed(
                        format!(
                            "{reason}: not sent, since an earlier run may have sent it; the run's retry will try again"
                        ),
                        reason.is_transient(),
                    );
                }
            }
        }
        let detail = match send.await {
            Ok(detail) => detail,
            Err(err) => return ChannelStatus::failed(err.to_string(), err.is_transient()),
        };
        if let Some(target) = state {
            let record = DeliveryRecord {
                channel,
                delivered_at: Timestamp::now(),
                detail: detail.clone(),
                request_id: self.request_id.to_owned(),
            };
            let key = core::delivery_key(&target.prefix, self.day, channel);
            let if_exists = if self.request.resend { IfExists::Replace } else { IfExists::Keep };
            let body = serde_json::to_vec(&record).unwrap_or_default();
            let put = shared::aws::put_object(
                &self.deps.s3,
                &target.bucket,
                &key,
                body.clone(),
                "application/json",
                target.kms_key_id.as_deref(),
                if_exists,
            )
            .await;
            match put {
                Ok(Put::Written) => {}
                Ok(Put::AlreadyThere) => {
                    // S3 also refuses the SDK's retry of a write that landed before its answer
                    // was lost: a record of this very delivery is not a second one.
                    let stored = aws::read_object(&self.deps.s3, &target.bucket, &key).await;
                    if !matches!(stored, Ok(Some(ref stored)) if *stored == body) {
                        self.warnings.push(format!(
                            "{channel} was also delivered by an overlapping run for {}: it was sent twice",
                            self.day
                        ));
                    }
                }
                Err(failure) => self.warnings.push(format!(
                    "{channel} was delivered, but recording it in s3://{}/{key} failed ({}): a retry would send it again",
                    target.bucket, failure.message
                )),
            }
        }
        ChannelStatus::sent(detail)
    }
}

/// Account names by id, from Organizations, when the report is grouped by linked account.
/// Without them (not the management account, or no permission) accounts show as ids.
async fn account_names(deps: &Deps, warnings: &mut Vec<String>) -> BTreeMap<String, String> {
    if !deps.config.group_by.dimensions().contains(&core::Dimension::LinkedAccount) {
        return BTreeMap::new();
    }
    match shared::accounts::organization::read_tree(&deps.organizations).await {
        Ok(tree) => tree.accounts.into_iter().map(|account| (account.id, account.name)).collect(),
        Err(err) => {
            warnings.push(format!("linked accounts are shown by id: {err}"));
            BTreeMap::new()
        }
    }
}

/// Compares the month with its budget (`core::budget`), adding its line, alerts or note to
/// the report. A failure only the operator can fix (access denied, a named budget that does
/// not exist) is returned, to fail the run once the report is delivered; one that may pass
/// by itself is a warning: the next day's report tries again.
async fn compare_with_budget(
    deps: &Deps,
    report: &mut core::CostReport,
    now: Timestamp,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let choice = &deps.config.budget;
    if *choice == BudgetChoice::Off {
        return None;
    }
    let today = core::today_utc(now);
    let read = async {
        let account = deps.own_account().await?;
        aws::budgets(&deps.budgets, account, today.first_of_month()).await
    };
    let budgets = match read.instrument(tracing::info_span!("budget")).await {
        Ok(budgets) => budgets,
        Err(err) if err.is_transient() => {
            warnings.push(format!("the budget was not compared: {err}"));
            return None;
        }
        Err(err) => {
            report.notes.push(format!("the budget was not compared: {err}"));
            return Some(err.to_string());
        }
    };
    match core::choose_budget(choice, &budgets) {
        Ok(Some(budget)) => {
            report.compare_with_budget(&budget, today, deps.config.budget_alert_percent);
            None
        }
        Ok(None) => None,
        Err(reason) => {
            report.notes.push(reason.clone());
            Some(reason)
        }
    }
}

/// Reads the day's figures: those an earlier run stored, unless `resend` asks for fresh
/// ones; otherwise from Cost Explorer (then stored for a retry).
async fn figures_for(
    deps: &Deps,
    day: Date,
    request: Request,
    now: Timestamp,
    warnings: &mut Vec<String>,
) -> Result<(StoredFigures, FiguresFrom), CostReportError> {
    let config = &deps.config;
    let state = config.csv.as_ref();
    if let Some(target) = state.filter(|_| !request.resend) {
        let key = core::figures_key(&target.prefix, day);
        match aws::read_object(&deps.s3, &target.bucket, &key).await {
            Ok(Some(bytes)) => match serde_json::from_slice::<StoredFigures>(&bytes) {
                Ok(stored) if stored.answers(day, config.metric, &config.group_by, config.record_types) => {
                    return Ok((stored, FiguresFrom::StoredFigures));
                }
                Ok(_) => {} // read for other settings: read again
                Err(err) => warnings.push(format!(
                    "s3://{}/{key} is not stored figures ({err}): reading Cost Explorer again",
                    target.bucket
                )),
            },
            Ok(None) => {}
            Err(reason) => warnings.push(format!("{reason}: reading Cost Explorer again")),
        }
    }
    let window = core::window_for(day);
    let query = core::cost_query(&window, config.metric, &config.group_by, config.record_types);
    let days = core::merge_pages(aws::cost_and_usage(&deps.ce, &query).await?);
    let forecast = match core::forecast_query(&window, core::today_utc(now), config.record_types) {
        Some(forecast) => aws::cost_forecast(&deps.ce, &forecast, config.metric).await,
        None => ForecastOutcome::NotAsked,
    };
    let figures = StoredFigures {
        report_day: day,
        metric: config.metric.as_str().to_owned(),
        group_by: config.group_by.label(),
        record_types: config.record_types.as_str().to_owned(),
        read_at: now,
        days,
        forecast,
    };
    if let Some(target) = state {
        let key = core::figures_key(&target.prefix, day);
        let body = serde_json::to_vec(&figures).unwrap_or_default();
        let put = shared::aws::put_encrypted(
            &deps.s3,
            &target.bucket,
            &key,
            body,
            "application/json",
            target.kms_key_id.as_deref(),
        )
        .await;
        if let Err(failure) = put {
            warnings.push(format!(
                "storing the day's figures in s3://{}/{key} failed ({}): a retry would read Cost Explorer again",
                target.bucket, failure.message
            ));
        }
    }
    Ok((figures, FiguresFrom::CostExplorer))
}

/// Computes the report for the requested day (or the last complete UTC day) and delivers
/// it to each channel not delivered yet, with `now` and `deadline` given so tests control
/// time.
pub async fn run(
    deps: &Deps,
    request: Request,
    now: Timestamp,
    deadline: Instant,
    request_id: &str,
) -> Result<RunSummary, CostReportError> {
    let config = &deps.config;
    let requests_before = deps.cost_explorer_requests.get();
    let day = core::report_day(now, request.date).map_err(CostReportError::InvalidEvent)?;
    let mut warnings = Vec::new();
    let (figures, figures_from) = figures_for(deps, day, request, now, &mut warnings).await?;
    warnings.extend(figures.forecast.warning());
    let account_names = account_names(deps, &mut warnings).await;
    let mut report = core::build_report(
        core::window_for(day),
        config.metric,
        config.group_by.clone(),
        &account_names,
        &figures.days,
        figures.forecast.rest_of_month(),
        config.top_n,
        config.alerts,
    );
    let budget_failure = compare_with_budget(deps, &mut report, now, &mut warnings).await;
    let cost_explorer_requests = deps.cost_explorer_requests.get() - requests_before;

    let csv = core::render_csv(&report)?;
    let movers_csv = core::render_movers_csv(&report)?;
    let mut delivering = Delivering { deps, day, request, request_id, warnings };
    let mut channels = BTreeMap::new();
    let csv_status = match &config.csv {
        None => ChannelStatus::skipped("REPORT_BUCKET is not set"),
        Some(target) => {
            // The movers file is written with the CSV, in the same channel: delivered together.
            let files = [
                (core::csv_key_for(&target.prefix, day), &csv),
                (core::movers_key_for(&target.prefix, day), &movers_csv),
            ];
            let put = async {
                for (key, body) in &files {
                    shared::aws::put_encrypted(
                        &deps.s3,
                        &target.bucket,
                        key,
                        (*body).clone(),
                        "text/csv; charset=utf-8",
                        target.kms_key_id.as_deref(),
                    )
                    .await
                    .map_err(|failure| CostReportError::S3 {
                        message: if failure.bucket_missing {
                            format!(
                                "bucket {} does not exist: create it or set REPORT_BUCKET to an existing bucket",
                                target.bucket
                            )
                        } else {
                            format!("writing s3://{}/{key} failed: {}", target.bucket, failure.message)
                        },
                        transient: failure.transient,
                    })?;
                }
                Ok(format!("s3://{}/{}", target.bucket, files[0].0))
            };
            delivering.channel(Channel::Csv, put).instrument(channel_span(Channel::Csv)).await
        }
    };
    let csv_key = match (&config.csv, csv_status.status) {
        (Some(target), Delivery::Sent | Delivery::AlreadySent) => Some(core::csv_key_for(&target.prefix, day)),
        _ => None,
    };
    channels.insert(Channel::Csv, csv_status);

    let quiet = core::quiet_reason(config.notify == Notify::OnAlert, &report);
    let email_status = match (&config.email, quiet) {
        (None, _) => ChannelStatus::skipped("SES_FROM and SES_TO are not set"),
        (Some(_), Some(reason)) => ChannelStatus::skipped(reason),
        (Some(target), None) => {
            let email = core::render_email(&report);
            if let Some(problem) = &email.chart_problem {
                delivering.warnings.push(format!("the email goes without its chart: {problem}"));
            }
            let send = async {
                let attachments = [(core::CSV_FILE_NAME, &csv[..]), (core::MOVERS_CSV_FILE_NAME, &movers_csv[..])];
                aws::send_email(&deps.ses, target, &email, &attachments)
                    .await
                    .map(|()| format!("to {}", target.to.join(", ")))
            };
            delivering.channel(Channel::Email, send).instrument(channel_span(Channel::Email)).await
        }
    };
    channels.insert(Channel::Email, email_status);
    let slack_status = match (&deps.slack, quiet) {
        (None, _) => ChannelStatus::skipped("SLACK_WEBHOOK_URL and SLACK_WEBHOOK_SECRET_ARN are not set"),
        (Some(_), Some(reason)) => ChannelStatus::skipped(reason),
        (Some(slack), None) => {
            let post = async {
                slack
                    .post(&core::render_slack(&report), deadline)
                    .await
                    .map(|()| "posted to the incoming webhook".to_owned())
            };
            delivering.channel(Channel::Slack, post).instrument(channel_span(Channel::Slack)).await
        }
    };
    channels.insert(Channel::Slack, slack_status);

    let forecast_failure = figures.forecast.permanent_failure().map(str::to_owned);
    Ok(core::summarize(
        &report,
        figures_from,
        cost_explorer_requests,
        channels,
        csv_key,
        delivering.warnings,
        forecast_failure,
        budget_failure,
    ))
}
