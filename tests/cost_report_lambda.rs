//! The cost report as it is deployed and invoked: the packaged binary (`cargo lambda
//! build --release`, or the artifact `COST_REPORT_BOOTSTRAP` names) run by the local
//! Lambda with Lambda's asynchronous delivery (EventBridge Scheduler invokes it so: a
//! failed run is run again, up to twice, with the same event). A proxy in front of the
//! emulator counts the billed Cost Explorer requests, and fails the ones a test names.
//!
//! These run in the emulator's default account (the binary's credentials name no other),
//! which other tests share: each uses its own bucket and Slack listener, and only one
//! sends email, because SES counts what was sent per account.

use std::time::Duration;

use anyhow::{Context as _, Result};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use support::cost_seed::{ce_page, emails_sent, month_of_costs, queue_cost_results, raw_emails};
use support::fault_proxy::{FaultKind, FaultPlan, FaultProxy};
use support::http_listener::HttpListener;
use support::lambda::{Invoked, Limits, LocalLambda, Outcome, packaged_binary};
use support::slow_proxy::SlowProxy;
use support::{Moto, TestAccount, default_encryption, emitted, event, log_with_metrics};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Today and yesterday in UTC: Cost Explorer's days.
fn utc_days() -> (Date, Date) {
    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    (today, today.yesterday().expect("yesterday"))
}

/// A report bucket in the default account, with AWS's default encryption, and a month of
/// costs queued in the emulator's Cost Explorer through yesterday (UTC).
async fn seeded(account: &TestAccount, purpose: &str) -> Result<String> {
    let s3 = account.aws.s3();
    let bucket = account.unique_bucket(purpose);
    s3.create_bucket().bucket(&bucket).send().await?;
    default_encryption(&s3, &bucket, None).await?;
    let (_, yesterday) = utc_days();
    let first = yesterday.first_of_month().yesterday()?.first_of_month();
    // Every test queues the same answer: the emulator gives one request body one answer.
    queue_cost_results(account, vec![ce_page(&month_of_costs(first, yesterday), None)]).await?;
    Ok(bucket)
}

fn outcomes(attempts: &[Invoked]) -> Vec<&Outcome> {
    attempts.iter().map(|a| &a.outcome).collect()
}

#[tokio::test]
async fn a_retried_run_sends_each_channel_once_and_reads_cost_explorer_once() -> Result<()> {
    // Given a report to S3, Slack and email, whose sender SES has not verified yet,
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let bucket = seeded(&account, "costs-retried").await?;
    let sender = format!("costs-{}@example.com", std::process::id());
    let slack = HttpListener::start(Vec::new()).await?;
    let proxy = SlowProxy::start(moto.url(), Duration::ZERO, 0).await;
    let lambda = LocalLambda::start(
        packaged_binary("cost-report"),
        Limits { memory_mb: 256, cpu_share: false },
        &[
            ("AWS_ENDPOINT_URL", proxy.url.as_str()),
            ("REPORT_BUCKET", &bucket),
            ("SES_FROM", &sender),
            ("SES_TO", "finops@example.com"),
            ("SLACK_WEBHOOK_URL", &slack.url),
        ],
    )
    .await;
    let emails_before = emails_sent(&account).await?;

    // When the daily schedule invokes it, as EventBridge Scheduler does,
    let attempts = lambda.invoke_async(&event("cost-report-scheduled.json"), TIMEOUT).await;

    // then each of Lambda's three attempts fails on the email,
    assert_eq!(attempts.len(), 3, "{:#?}\n{}", outcomes(&attempts), lambda.log());
    for attempt in &attempts {
        assert!(
            matches!(&attempt.outcome, Outcome::Error { error_type, message }
                if error_type == "ChannelsFailed" && message.contains("SES rejected the email")),
            "{:#?}",
            attempt.outcome
        );
    }
    // but Slack got one post, the CSV was written, and Cost Explorer was asked once.
    assert_eq!(slack.bodies().len(), 1, "one Slack post, not one per attempt");
    assert_eq!(proxy.requests_containing("GetCostAndUsage"), 1, "one billed read of the day's costs");
    assert_eq!(proxy.requests_containing("GetCostForecast"), 1, "the forecast is stored with the costs");
    let (_, yesterday) = utc_days();
    let csv_key = format!("cost-report/{}/cost-by-service.csv", yesterday.strftime("%Y/%m/%d"));
    let csv_puts = proxy.requests_containing(&format!("put /{bucket}/{csv_key}"));
    assert_eq!(csv_puts, 1, "the CSV is written once");
    assert_eq!(emails_sent(&account).await? - emails_before, 0);
    // Its metrics, in its log, say the same: three failed runs, each with the email failed
    // and two channels delivered, and Cost Explorer read by the first only.
    let log = log_with_metrics(&lambda, 3).await;
    assert_eq!(emitted(&log, "Succeeded"), [0.0, 0.0, 0.0]);
    assert_eq!(emitted(&log, "ChannelsFailed"), [1.0, 1.0, 1.0]);
    assert_eq!(emitted(&log, "ChannelsDelivered"), [2.0, 2.0, 2.0]);
    assert_eq!(emitted(&log, "CostExplorerRequests"), [2.0, 0.0, 0.0], "the costs and the forecast, once");

    // When the sender is verified and the next attempt (a manual invoke of the same day) runs,
    let ses = shared::aws_client!(aws_sdk_sesv2, &account.aws);
    ses.create_email_identity().email_identity(&sender).send().await?;
    let rerun = lambda.invoke(&event("cost-report-scheduled.json"), TIMEOUT).await.outcome.response(&lambda.log());

    // then only the email is sent, from the stored figures.
    assert_eq!(rerun["channels"]["email"]["status"], "sent", "{rerun:#}");
    assert_eq!(rerun["channels"]["slack"]["status"], "already_sent", "{rerun:#}");
    assert_eq!(rerun["channels"]["csv"]["status"], "already_sent", "{rerun:#}");
    assert_eq!(rerun["figures_from"], "stored_figures");
    assert_eq!(rerun["cost_explorer_requests"], 0);
    assert_eq!(emails_sent(&account).await? - emails_before, 1, "one email to one recipient");
    // The deployed artifact draws the chart into it, inline, as the test build does.
    let sent = raw_emails(&account).await?;
    let parsed: Vec<mail_parser::Message> =
        sent.iter().filter_map(|raw| mail_parser::MessageParser::default().parse(raw.as_bytes())).collect();
    let email = parsed
        .iter()
        .find(|message| message.from().and_then(|from| from.first()).and_then(|a| a.address()) == Some(sender.as_str()))
        .context("the email")?;
    let chart = email.parts.iter().find(|part| {
        use mail_parser::MimeHeaders as _;
        part.content_id() == Some("cost-chart@cost-report")
    });
    assert!(chart.is_some_and(|part| part.contents().starts_with(b"\x89PNG")), "an inline PNG");
    assert!(email.body_html(0).is_some_and(|html| html.contains(r#"src="cid:cost-chart@cost-report""#)));
    assert_eq!(slack.bodies().len(), 1);
    assert_eq!(proxy.requests_containing("GetCostAndUsage"), 1);

    // And `{"resend": true}` reads Cost Explorer again and sends everything again.
    let resent = lambda.invoke(&json!({"resend": true}), TIMEOUT).await.outcome.response(&lambda.log());
    assert_eq!(resent["figures_from"], "cost_explorer", "{resent:#}");
    assert_eq!(slack.bodies().len(), 2);
    assert_eq!(emails_sent(&account).await? - emails_before, 2);
    assert_eq!(proxy.requests_containing("GetCostAndUsage"), 2);
    Ok(())
}

#[tokio::test]
async fn the_report_day_is_the_last_complete_utc_day_whatever_the_time_zone() -> Result<()> {
    // Given a schedule in a time zone whose date is not UTC's right now (UTC+14 after
    // 10:00 UTC, UTC-11 before), where "yesterday" would be a day still being billed or
    // one day too early,
    let now = Timestamp::now();
    let zone = if now.to_zoned(TimeZone::UTC).hour() >= 10 { "Pacific/Kiritimati" } else { "Pacific/Pago_Pago" };
    let local_today = now.to_zoned(TimeZone::get(zone)?).date();
    let (utc_today, yesterday) = utc_days();
    assert_ne!(local_today, utc_today, "{zone} is on another date than UTC at {now}");
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let bucket = seeded(&account, "costs-utc").await?;
    let slack = HttpListener::start(Vec::new()).await?;
    let lambda = LocalLambda::start(
        packaged_binary("cost-report"),
        Limits { memory_mb: 256, cpu_share: false },
        &[
            ("AWS_ENDPOINT_URL", moto.url()),
            ("REPORT_BUCKET", &bucket),
            ("REPORT_TIMEZONE", zone),
            ("SLACK_WEBHOOK_URL", &slack.url),
        ],
    )
    .await;

    // When the schedule invokes it,
    let summary = lambda.invoke(&event("cost-report-scheduled.json"), TIMEOUT).await.outcome.response(&lambda.log());

    // then it reports yesterday in UTC, and files it under that day.
    assert_eq!(summary["report_day"], yesterday.to_string(), "{summary:#}");
    let csv_key = format!("cost-report/{}/cost-by-service.csv", yesterday.strftime("%Y/%m/%d"));
    assert_eq!(summary["csv_key"], csv_key);
    let posted: Value = serde_json::from_str(slack.bodies().first().context("a Slack post")?)?;
    assert!(posted["text"].as_str().is_some_and(|t| t.contains(&yesterday.to_string())), "{posted:#}");
    Ok(())
}

#[tokio::test]
async fn a_forecast_the_role_may_not_read_fails_the_run_once_delivered_and_is_not_retried() -> Result<()> {
    // Given a role without ce:GetCostForecast (the proxy answers AccessDenied for it),
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let bucket = seeded(&account, "costs-forecast").await?;
    let slack = HttpListener::start(Vec::new()).await?;
    let denied = FaultKind::Refused { status: 400, error_type: "AccessDeniedException" };
    let proxy = FaultProxy::start(moto.url(), FaultPlan::first("ce", "GetCostForecast", denied, Some(3))).await;
    let lambda = LocalLambda::start(
        packaged_binary("cost-report"),
        Limits { memory_mb: 256, cpu_share: false },
        &[("AWS_ENDPOINT_URL", proxy.url.as_str()), ("REPORT_BUCKET", &bucket), ("SLACK_WEBHOOK_URL", &slack.url)],
    )
    .await;

    // When the schedule invokes it,
    let attempts = lambda.invoke_async(&event("cost-report-scheduled.json"), TIMEOUT).await;

    // then the report goes out once, without a forecast, and every attempt fails naming
    // the permission to grant: an operator learns of it from the Errors alarm and the
    // on-failure destination, not from a log line.
    assert_eq!(attempts.len(), 3, "{:#?}\n{}", outcomes(&attempts), lambda.log());
    for attempt in &attempts {
        assert!(
            matches!(&attempt.outcome, Outcome::Error { error_type, message }
                if error_type == "ForecastFailed"
                    && message.contains("AccessDeniedException")
                    && message.contains("ce:GetCostForecast")),
            "{:#?}",
            attempt.outcome
        );
    }
    assert_eq!(slack.bodies().len(), 1, "the report itself was delivered once");
    assert_eq!(proxy.requests_for("GetCostForecast"), 1, "a denied forecast is not asked again");
    assert_eq!(proxy.requests_for("GetCostAndUsage"), 1);
    Ok(())
}
