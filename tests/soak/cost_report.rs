//! The cost report's soak: several runs for each of ten report days (a schedule's run,
//! then manual reruns of the same day), each with Lambda's asynchronous retries, the
//! packaged binary's AWS calls through the fault proxy, Slack a real HTTP server.
//!
//! Per day: one Slack post and one email at most, whatever fails and is retried (an
//! email more for each send SES executed whose answer was lost: SES takes no idempotency
//! token, so no client can tell that send from one that never arrived); exactly one of
//! each once a run of the day succeeded; a day whose runs all failed says so in
//! every run's error; a warning that something was sent twice only when it was; Cost
//! Explorer read at most once per SDK attempt budget per invocation, and never again once
//! the day's figures are stored.

use std::time::Duration;

use anyhow::Result;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use crate::{Row, plan};
use support::cost_seed::{ce_page, emails_sent, month_of_costs, queue_cost_results};
use support::fault_proxy::{FaultKind, FaultProxy};
use support::http_listener::HttpListener;
use support::lambda::{Limits, LocalLambda, Outcome, packaged_binary};
use support::{TestAccount, default_encryption};

const TIMEOUT: Duration = Duration::from_secs(120);
/// The functions' SDK attempts per call (`shared::aws`).
const SDK_ATTEMPTS: usize = 6;

/// SES sends since `since` that SES executed but whose answer was lost: each may
/// become a second email, which no client can prevent (SES takes no idempotency token).
fn lost_send_answers(proxy: &FaultProxy, since: usize) -> u64 {
    let lost = proxy.exchanges()[since..]
        .iter()
        .filter(|e| e.operation.contains("outbound-emails"))
        .filter(|e| matches!(e.fault, Some(FaultKind::ResetAfterForward | FaultKind::TruncatedBody)))
        .count();
    u64::try_from(lost).unwrap_or(u64::MAX)
}

pub async fn soak(moto: &str, seed: u64, rate: f64, days: usize, runs_per_day: usize) -> Result<Row> {
    let account = TestAccount::default_account(moto).await;
    let s3 = account.aws.s3();
    // Names from the seed alone (the soak has the emulator to itself): a replay sends the same requests.
    let bucket = format!("soak-costs-{seed}");
    s3.create_bucket().bucket(&bucket).send().await?;
    default_encryption(&s3, &bucket, None).await?;
    let sender = format!("soak-{seed}@example.com");
    shared::aws_client!(aws_sdk_sesv2, &account.aws).create_email_identity().email_identity(&sender).send().await?;
    let slack = HttpListener::start(Vec::new()).await?;
    // Emails and Cost Explorer reads fail more often: enough to fail runs past the SDK's retries.
    let proxy =
        FaultProxy::start(moto, plan(seed, rate, &[("ses", "outbound-emails"), ("ce", "GetCostAndUsage")])).await;
    let function = LocalLambda::start(
        packaged_binary("cost-report"),
        Limits { memory_mb: 256, cpu_share: false },
        &[
            ("AWS_ENDPOINT_URL", proxy.url.as_str()),
            ("REPORT_BUCKET", &bucket),
            ("REPORT_PREFIX", "soak"),
            ("SES_FROM", &sender),
            ("SES_TO", "finops@example.com"),
            ("SLACK_WEBHOOK_URL", &slack.url),
        ],
    )
    .await;

    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    let mut violations = Vec::new();
    let (mut invocations, mut retries, mut failed_days, mut duplicates_from_lost_answers) = (0, 0, 0, 0);
    for n in 0..days {
        let day = today.checked_sub(jiff::Span::new().days(i64::try_from(days - n + 1)?))?;
        // The emulator gives each new request body the next queued answer: this day's costs.
        let first = day.first_of_month().yesterday()?.first_of_month();
        queue_cost_results(&account, vec![ce_page(&month_of_costs(first, day), None)]).await?;
        let (emails_before, posts_before) = (emails_sent(&account).await?, slack.bodies().len());
        let exchanges_before = proxy.exchanges().len();
        let mut any_succeeded = false;
        let mut figures_stored = false;
        for run in 0..runs_per_day {
            let reads_before = proxy.requests_for("GetCostAndUsage");
            let attempts = function.invoke_async(&json!({"date": day.to_string()}), TIMEOUT).await;
            invocations += attempts.len();
            retries += attempts.len() - 1;
            let reads = proxy.requests_for("GetCostAndUsage") - reads_before;
            let when = format!("{day}, run {run}");
            if figures_stored && reads > 0 {
                violations.push(format!("{when}: {reads} Cost Explorer reads after the day's figures were stored"));
            }
            if reads > SDK_ATTEMPTS * attempts.len() {
                violations.push(format!("{when}: {reads} Cost Explorer reads in {} attempts", attempts.len()));
            }
            let emails = emails_sent(&account).await? - emails_before;
            let posts = slack.bodies().len() - posts_before;
            for attempt in &attempts {
                match &attempt.outcome {
                    Outcome::Response(summary) => {
                        any_succeeded = true;
                        let twice = summary["warnings"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|w| w.as_str().is_some_and(|w| w.contains("sent twice")));
                        if twice && emails <= 1 && posts <= 1 {
                            violations.push(format!(
                                "{when}: warns of a channel sent twice, yet each was sent once: {}",
                                summary["warnings"]
                            ));
                        }
                    }
                    Outcome::Error { .. } => {}
                    other => violations.push(format!("{when}: the invocation ended {other:?}")),
                }
            }
            let figures = cost_report::core::figures_key("soak", day);
            figures_stored = s3.head_object().bucket(&bucket).key(&figures).send().await.is_ok();
            let lost = lost_send_answers(&proxy, exchanges_before);
            if emails > 1 + lost || posts > 1 {
                violations.push(format!("{when}: {emails} emails and {posts} Slack posts for one day"));
            }
            if let Some(Outcome::Error { error_type, message }) = attempts.last().map(|a| &a.outcome)
                && message.is_empty()
            {
                violations.push(format!("{when}: failed ({error_type}) without saying why"));
            }
        }
        let emails = emails_sent(&account).await? - emails_before;
        let posts = slack.bodies().len() - posts_before;
        let lost = lost_send_answers(&proxy, exchanges_before);
        if any_succeeded && (emails == 0 || emails > 1 + lost || posts != 1) {
            violations.push(format!("{day}: a run succeeded, and {emails} emails and {posts} Slack posts were sent"));
        }
        duplicates_from_lost_answers += emails.saturating_sub(1);
        if !any_succeeded {
            failed_days += 1;
        }
    }
    let notes = vec![format!(
        "{days} report days x {runs_per_day} runs; {failed_days} days failed in every run; \
         {duplicates_from_lost_answers} emails sent twice because SES executed a send whose answer was lost \
         (reset or cut short) and the SDK sent it again: SES has no idempotency token, so that is at least once"
    )];
    Ok(Row::new("cost-report", &[&proxy], invocations, retries, violations, notes))
}
