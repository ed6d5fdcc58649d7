//! The cost report end to end against the emulator: Cost Explorer results queued through
//! the emulator's API, budgets made in its AWS Budgets, the CSV read back from S3, the email
//! read back from SES as raw MIME (and shown by headless Chromium), and Slack posted to a
//! real HTTP server in the test.
//!
//! The emulator answers `GetCostForecast` with HTTP 500: the report says "forecast
//! unavailable" and carries on, which is what these runs check. It ignores the request's
//! dates and grouping; the request itself is unit-tested in the core.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context as _, Result};
use cost_report::core::{Channel, Request};
use cost_report::core::{Delivery, csv_key_for};
use cost_report::{Config, CostReportError, Deps, RunSummary, handle, run};
use jiff::Timestamp;
use jiff::civil::Date;
use lambda_runtime::{Context, LambdaEvent};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::Harness as _;

use support::cost_seed::{
    SeedDay, ce_page, create_budget, emails_sent, month_of_costs, queue_cost_results, raw_emails,
};
use support::fault_proxy::{FaultKind, FaultPlan, FaultProxy};
use support::http_listener::{Answer, HttpListener};
use support::{Moto, TestAccount, default_encryption, event};

const SENDER: &str = "costs@example.com";

fn date(text: &str) -> Date {
    text.parse().expect("date")
}

struct Setup {
    account: TestAccount,
    deps: Deps,
    slack: HttpListener,
    bucket: String,
}

async fn setup(sender: &str, slack_script: Vec<Answer>) -> Result<Setup> {
    let account = TestAccount::new().await;
    let bucket = account.bucket("finance-costs");
    let slack = HttpListener::start(slack_script).await?;
    let env = shared::config::Env::from_pairs([
        ("REPORT_BUCKET", bucket.as_str()),
        ("SES_FROM", sender),
        ("SES_TO", "finops@example.com, platform@example.com"),
        ("SLACK_WEBHOOK_URL", slack.url.as_str()),
        // A local run (the emulator): the webhook may be this machine's listener.
        ("AWS_ENDPOINT_URL", Moto::shared().url()),
        ("TOP_N", "2"),
        ("ALERT_CHANGE_PCT", "50"),
    ]);
    let deps = Deps::load(Config::from_env(&env)?, &account.aws).await?;
    deps.s3.harness().create_bucket().bucket(&bucket).send().await?;
    default_encryption(&deps.s3.harness(), &bucket, None).await?;
    let ses = shared::aws_client!(aws_sdk_sesv2, &account.aws);
    ses.create_email_identity().email_identity(SENDER).send().await?;
    Ok(Setup { account, deps, slack, bucket })
}

/// One page of costs from 2026-10-01 through 2026-11-21, the report day of a run on the 22nd.
async fn queue_month_to_the_21st(setup: &Setup) -> Result<()> {
    queue_cost_results(&setup.account, vec![ce_page(&month_of_costs(date("2026-10-01"), date("2026-11-21")), None)])
        .await
}

async fn run_at(deps: &Deps, now: &str) -> Result<RunSummary> {
    let now: Timestamp = now.parse()?;
    Ok(run(deps, Request::default(), now, tokio::time::Instant::now() + Duration::from_secs(60), "test-request")
        .await?)
}

async fn csv_rows(setup: &Setup, key: &str) -> Result<Vec<String>> {
    let object = setup.deps.s3.harness().get_object().bucket(&setup.bucket).key(key).send().await?;
    let text = String::from_utf8(object.body.collect().await?.into_bytes().to_vec())?;
    Ok(text.split("\r\n").filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

#[tokio::test]
async fn a_one_page_month_costs_two_requests_and_reaches_every_channel() -> Result<()> {
    // Given a month of costs with a spike on the report day, a verified sender, and a
    // Slack that rate-limits the first post
    let setup = setup(SENDER, vec![Answer::too_many_requests(1)]).await?;
    queue_month_to_the_21st(&setup).await?;

    // When the daily report runs on the morning of 2026-11-22
    let summary = run_at(&setup.deps, "2026-11-22T07:00:00Z").await?;

    // Then two billed requests were made: the costs and the (unavailable) forecast
    assert_eq!(summary.cost_explorer_requests, 2);
    assert_eq!(summary.report_day, "2026-11-21");
    assert_eq!(summary.total, Decimal::from_str("325.00")?);
    assert!(summary.estimated);
    assert_eq!(summary.change_from_day_before, "+123.8%", "from 145.25 (120.25 + 20 + 5 on Friday the 20th)");
    assert!(summary.forecast_note.starts_with("forecast unavailable"), "{}", summary.forecast_note);
    assert_eq!(summary.top.len(), 3, "top 2 and Other");
    assert_eq!(summary.top[2].name, "Other (1 more)");
    assert_eq!(summary.alerts.len(), 1, "a rise above 50%");
    for channel in Channel::ALL {
        assert_eq!(summary.channels[&channel].status, Delivery::Sent, "{channel}: {:?}", summary.channels[&channel]);
    }

    // The CSV: one row per day and service over the window, zeros where a service had none
    let key = summary.csv_key.clone().context("csv key")?;
    assert_eq!(key, csv_key_for("cost-report", date("2026-11-21")));
    assert_eq!(key, "cost-report/2026/11/21/cost-by-service.csv");
    let rows = csv_rows(&setup, &key).await?;
    assert_eq!(rows[0], "date,service,amount,unit,estimated");
    assert_eq!(rows.len(), 1 + 52 * 3);
    assert!(rows.contains(&"2026-11-21,Amazon Elastic Compute Cloud - Compute,300,USD,true".to_owned()));
    assert!(rows.contains(&"2026-11-15,AWS Lambda,0,USD,false".to_owned()), "a Sunday without Lambda is a zero");
    assert!(rows.contains(&"2026-10-05,Amazon Simple Storage Service,20,USD,false".to_owned()));
    let head = setup.deps.s3.harness().head_object().bucket(&setup.bucket).key(&key).send().await?;
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("AES256"));

    // The movers file beside it: the compute jump explains the whole day's change
    let movers = csv_rows(&setup, &key.replace("cost-by-service", "cost-movers")).await?;
    assert_eq!(
        movers[0],
        "comparison,from,to,baseline_from,baseline_to,service,amount,baseline_amount,change,change_pct,share_of_movement_pct,direction,listed,unit"
    );
    assert_eq!(
        movers[1],
        "day-before,2026-11-21,2026-11-21,2026-11-20,2026-11-20,Amazon Elastic Compute Cloud - Compute,300,120.25,179.75,149.5,100,up,true,USD"
    );
    assert!(
        movers
            .iter()
            .skip(1)
            .all(|row| ["day-before", "week-before", "month-to-date"].iter().any(|c| row.starts_with(c)))
    );
    assert_eq!(
        (summary.movers[0].comparison, summary.movers[0].direction, summary.movers[0].change),
        ("day-before", "up", Decimal::from_str("179.75")?)
    );

    // The email was sent once, to both recipients (SES counts each recipient against the quota)
    assert_eq!(emails_sent(&setup.account).await?, 2);

    // Slack was posted twice (429, then 200), with the same Block Kit message
    let bodies = setup.slack.bodies();
    assert_eq!(bodies.len(), 2, "retried after the 429");
    assert_eq!(bodies[0], bodies[1]);
    let message: Value = serde_json::from_str(&bodies[1])?;
    let blocks = message["blocks"].as_array().context("blocks")?;
    assert!(blocks.len() <= 50);
    assert_eq!(blocks[0]["text"]["text"], "🚨 AWS cost 2026-11-21: $325.00");
    assert!(message["text"].as_str().is_some_and(|t| t.starts_with("[ALERT] AWS cost 2026-11-21: $325.00 (+123.8%)")));
    // with what moved since the day before, one line a mover
    let moved = blocks
        .iter()
        .find(|b| b["text"]["text"].as_str().is_some_and(|t| t.starts_with("*What moved")))
        .context("the movers' section")?;
    assert_eq!(
        moved["text"]["text"],
        "*What moved since the day before* (+$179.75)\n▲ Amazon Elastic Compute Cloud - Compute +$179.75 (+149.5%), 100% of the movement"
    );
    Ok(())
}

#[tokio::test]
async fn a_bucket_that_enforces_sse_kms_keeps_it_when_no_key_is_set() -> Result<()> {
    // Given a report bucket whose default encryption is SSE-KMS, and no KMS_KEY_ID,
    let setup = setup(SENDER, Vec::new()).await?;
    let key_arn = format!("arn:aws:kms:us-east-1:{}:key/finance-reports", setup.account.id);
    default_encryption(&setup.deps.s3.harness(), &setup.bucket, Some(&key_arn)).await?;
    queue_month_to_the_21st(&setup).await?;

    let summary = run_at(&setup.deps, "2026-11-22T07:00:00Z").await?;

    // then the CSV and the run's state are encrypted with the bucket's key, not SSE-S3.
    let state = cost_report::core::figures_key("cost-report", date("2026-11-21"));
    for key in [summary.csv_key.clone().context("csv key")?, state] {
        let head = setup.deps.s3.harness().head_object().bucket(&setup.bucket).key(&key).send().await?;
        assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"), "{key}");
        assert_eq!(head.ssekms_key_id(), Some(key_arn.as_str()), "{key}");
    }
    Ok(())
}

#[tokio::test]
async fn a_second_page_costs_one_more_request_and_is_merged() -> Result<()> {
    let setup = setup(SENDER, Vec::new()).await?;
    let days = month_of_costs(date("2026-10-01"), date("2026-11-21"));
    // Cost Explorer splits groups across pages: EC2 on the first, the rest on the second.
    let first: Vec<SeedDay> = days.iter().map(|(d, e, g)| (*d, *e, g[..1].to_vec())).collect();
    let second: Vec<SeedDay> = days.iter().map(|(d, e, g)| (*d, *e, g[1..].to_vec())).collect();
    queue_cost_results(&setup.account, vec![ce_page(&first, Some("page-2")), ce_page(&second, None)]).await?;

    let summary = run_at(&setup.deps, "2026-11-22T07:00:00Z").await?;

    assert_eq!(summary.cost_explorer_requests, 3);
    assert_eq!(summary.total, Decimal::from_str("325.00")?, "both pages counted");
    let rows = csv_rows(&setup, summary.csv_key.as_deref().context("key")?).await?;
    assert_eq!(rows.len(), 1 + 52 * 3);
    Ok(())
}

#[tokio::test]
async fn an_unverified_sender_fails_clearly_while_csv_and_slack_are_delivered() -> Result<()> {
    let setup = setup("not-verified@example.com", Vec::new()).await?;
    queue_cost_results(&setup.account, vec![ce_page(&month_of_costs(date("2026-10-01"), date("2026-11-20")), None)])
        .await?;

    // A backfill of 2026-11-20 through the handler, with the sample event.
    let err = handle(&setup.deps, LambdaEvent::new(event("cost-report-backfill.json"), Context::default()))
        .await
        .expect_err("the email fails");

    let message = err.to_string();
    assert!(
        message.starts_with(
            "cost report for 2026-11-20: email: SES rejected the email from not-verified@example.com: MessageRejected"
        ),
        "{message}"
    );
    assert!(message.ends_with("(delivered: csv, slack)"), "{message}");
    assert!(!message.contains("test-secret"), "the webhook URL never appears");
    assert!(matches!(err, CostReportError::ChannelsFailed { transient: false, .. }), "a rejection is not transient");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "ChannelsFailed");
    assert_eq!(emails_sent(&setup.account).await?, 0);
    assert_eq!(setup.slack.bodies().len(), 1);
    let rows = csv_rows(&setup, "cost-report/2026/11/20/cost-by-service.csv").await?;
    assert!(rows.contains(&"2026-11-20,Amazon Elastic Compute Cloud - Compute,300,USD,true".to_owned()));
    Ok(())
}

#[tokio::test]
async fn a_slack_throttle_past_the_wait_is_a_transient_failure_of_that_channel_alone() -> Result<()> {
    // Given a Slack that asks to wait longer than the report waits
    let setup = setup(SENDER, vec![Answer::too_many_requests(3600)]).await?;
    queue_month_to_the_21st(&setup).await?;

    // When the report runs
    let summary = run_at(&setup.deps, "2026-11-22T07:00:00Z").await?;

    // Then Slack failed as retryable, the other channels were delivered, and the run's
    // error says its cause is transient
    let slack = &summary.channels[&Channel::Slack];
    assert_eq!((slack.status, slack.retryable), (Delivery::Failed, true), "{slack:?}");
    assert!(slack.detail.starts_with("Slack answered 429 Too Many Requests (Retry-After 3600s)"), "{slack:?}");
    assert_eq!(summary.channels[&Channel::Email].status, Delivery::Sent);
    assert_eq!(summary.channels[&Channel::Csv].status, Delivery::Sent);
    let failure = summary.failure().context("the run fails")?;
    assert!(failure.is_transient(), "{failure}");
    assert_eq!(failure.error_type(), "ChannelsFailed");
    assert_eq!(setup.slack.bodies().len(), 1, "not retried within the run");
    Ok(())
}

#[tokio::test]
async fn a_webhook_that_redirects_is_a_failure_and_the_report_goes_nowhere_else() -> Result<()> {
    // Given a Slack webhook that answers with a redirect to another listener
    let elsewhere = HttpListener::start(Vec::new()).await?;
    let redirect =
        Answer { status: 307, headers: vec![("Location".to_owned(), elsewhere.url.clone())], body: String::new() };
    let setup = setup(SENDER, vec![redirect]).await?;
    queue_month_to_the_21st(&setup).await?;

    // When the report runs
    let summary = run_at(&setup.deps, "2026-11-22T07:00:00Z").await?;

    // Then the redirect is not followed: Slack failed with what it answered, and the other
    // listener received nothing
    let slack = &summary.channels[&Channel::Slack];
    assert_eq!(slack.status, Delivery::Failed, "{slack:?}");
    assert!(slack.detail.starts_with("Slack answered 307"), "{slack:?}");
    assert_eq!(setup.slack.bodies().len(), 1);
    assert!(elsewhere.bodies().is_empty(), "the report followed the redirect");
    assert_eq!(summary.channels[&Channel::Email].status, Delivery::Sent);
    Ok(())
}

#[tokio::test]
async fn the_slack_webhook_can_come_from_secrets_manager() -> Result<()> {
    // Given the webhook URL in a secret, as the console's key/value form stores it,
    let account = TestAccount::new().await;
    let slack = HttpListener::start(Vec::new()).await?;
    let secrets = shared::aws_client!(aws_sdk_secretsmanager, &account.aws);
    let created = secrets
        .create_secret()
        .name("cost-report/slack-webhook")
        .secret_string(json!({"url": slack.url}).to_string())
        .send()
        .await?;
    let arn = created.arn().context("secret arn")?.to_owned();
    queue_cost_results(&account, vec![ce_page(&month_of_costs(date("2026-10-01"), date("2026-11-21")), None)]).await?;
    let local_run = |arn: &str| {
        Config::from_env(&shared::config::Env::from_pairs([
            ("SLACK_WEBHOOK_SECRET_ARN", arn),
            ("AWS_ENDPOINT_URL", Moto::shared().url()),
        ]))
    };
    let config = local_run(&arn)?;

    // when the function starts and reports,
    let deps = Deps::load(config, &account.aws).await?;
    let summary = run_at(&deps, "2026-11-22T07:00:00Z").await?;

    // then the report is posted to the URL in the secret.
    assert_eq!(summary.channels[&Channel::Slack].status, Delivery::Sent);
    assert_eq!(slack.bodies().len(), 1);

    // A secret that does not exist stops the cold start, naming it and the fix.
    let missing = arn.replace("slack-webhook", "slack-hook-gone");
    let config = local_run(&missing)?;
    let err = Deps::load(config, &account.aws).await.expect_err("no such secret");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "reading the Slack webhook from secret {missing} failed: GetSecretValue failed: ResourceNotFoundException"
        )),
        "{message}"
    );
    assert!(message.ends_with("create it, or set SLACK_WEBHOOK_SECRET_ARN to an existing secret"), "{message}");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "InvalidConfiguration");

    // And a secret holding something else says so, without showing it.
    secrets.put_secret_value().secret_id(&arn).secret_string("xoxb-not-a-webhook-token").send().await?;
    let config = local_run(&arn)?;
    let message = Deps::load(config, &account.aws).await.expect_err("not a URL").to_string();
    assert!(message.contains("the secret's value is not a Slack incoming-webhook URL"), "{message}");
    assert!(!message.contains("xoxb"), "{message}");
    Ok(())
}

#[test]
fn cost_report_events_parse() {
    assert_eq!(cost_report::core::parse_event(&event("cost-report-scheduled.json")), Ok(Request::default()));
    assert_eq!(
        cost_report::core::parse_event(&event("cost-report-backfill.json")),
        Ok(Request { date: Some(date("2026-11-20")), resend: false })
    );
}

#[tokio::test]
async fn a_delivery_record_whose_first_write_landed_unanswered_is_no_second_delivery() -> Result<()> {
    // Given a report whose email delivery record reaches S3, but whose answer is lost (a
    // reset): the SDK writes it again, and S3 refuses that write, as the record exists.
    let setup = setup(SENDER, Vec::new()).await?;
    queue_month_to_the_21st(&setup).await?;
    let record = cost_report::core::delivery_key("cost-report", date("2026-11-21"), Channel::Email);
    let record_put = format!("PutObject /{}/{record}", setup.bucket);
    let plan = FaultPlan::first("s3", &record_put, FaultKind::ResetAfterForward, Some(1));
    let proxy = FaultProxy::start(Moto::shared().url(), plan).await;
    let env = shared::config::Env::from_pairs([
        ("REPORT_BUCKET", setup.bucket.as_str()),
        ("SES_FROM", SENDER),
        ("SES_TO", "finops@example.com"),
        ("SLACK_WEBHOOK_URL", setup.slack.url.as_str()),
        ("AWS_ENDPOINT_URL", Moto::shared().url()),
    ]);
    let deps = Deps::load(Config::from_env(&env)?, &setup.account.as_deployed(&proxy.url).await).await?;

    let summary = run_at(&deps, "2026-11-22T07:00:00Z").await?;

    // Then it was sent once, and the report does not claim it went twice.
    let record_writes = proxy
        .exchanges()
        .iter()
        .filter(|e| e.operation.starts_with("PutObject") && e.operation.contains("delivered-email"))
        .count();
    assert_eq!(record_writes, 2, "the write whose answer was lost, and the SDK's retry");
    assert_eq!(summary.channels[&Channel::Email].status, Delivery::Sent);
    assert_eq!(emails_sent(&setup.account).await?, 1);
    assert!(summary.warnings.iter().all(|w| !w.contains("sent twice")), "{:?}", summary.warnings);
    Ok(())
}

#[tokio::test]
async fn a_delivery_record_s3_cannot_read_holds_the_channel_back_instead_of_sending_twice() -> Result<()> {
    // Given a day whose report went out on every channel,
    let setup = setup(SENDER, Vec::new()).await?;
    queue_month_to_the_21st(&setup).await?;
    run_at(&setup.deps, "2026-11-22T07:00:00Z").await?;
    assert_eq!(setup.slack.bodies().len(), 1);
    // and an S3 that now cuts short every answer to a read of the Slack delivery record,
    let record = cost_report::core::delivery_key("cost-report", date("2026-11-21"), Channel::Slack);
    let record_read = format!("GetObject /{}/{record}", setup.bucket);
    let proxy =
        FaultProxy::start(Moto::shared().url(), FaultPlan::always("s3", &record_read, FaultKind::TruncatedBody)).await;
    let deps = Deps::load(setup.deps.config.clone(), &setup.account.as_deployed(&proxy.url).await).await?;

    // when the day runs again (Lambda's retry, or a manual invoke),
    let summary = run_at(&deps, "2026-11-22T07:10:00Z").await?;

    // then Slack is held back, failed, rather than posted a second time; the rest was sent before.
    assert_eq!(setup.slack.bodies().len(), 1, "no second post");
    let slack = &summary.channels[&Channel::Slack];
    assert_eq!(slack.status, Delivery::Failed, "{slack:?}");
    assert!(slack.detail.contains("not sent, since an earlier run may have sent it"), "{}", slack.detail);
    assert!(proxy.requests_for(&record_read) >= 3, "each cut-short read is tried again");
    assert_eq!(summary.channels[&Channel::Email].status, Delivery::AlreadySent);
    Ok(())
}

/// The MIME tree of `message` from part `id`: each part's type, a multipart's children in brackets.
fn mime_tree(message: &mail_parser::Message, id: u32) -> String {
    use mail_parser::MimeHeaders as _;
    let Some(part) = message.part(id) else { return "?".to_owned() };
    let kind =
        part.content_type().map(|t| format!("{}/{}", t.ctype(), t.subtype().unwrap_or_default())).unwrap_or_default();
    match part.sub_parts() {
        Some(children) => {
            format!("{kind}[{}]", children.iter().map(|child| mime_tree(message, *child)).collect::<Vec<_>>().join(","))
        }
        None => kind,
    }
}

/// Runs tests/browser/email_view.py on `raw` (with `arguments`): what Chromium showed.
async fn view_in_chromium(raw: &str, arguments: &[&str]) -> Result<Value> {
    let eml = std::env::temp_dir().join(format!("cost-report-{}-{}.eml", std::process::id(), arguments.len()));
    std::fs::write(&eml, raw)?;
    let mut all = vec!["--eml".into(), eml.clone().into_os_string()];
    all.extend(arguments.iter().map(Into::into));
    let shown = support::browser_script("email_view.py", all).await;
    let _ = std::fs::remove_file(&eml);
    shown
}

#[tokio::test]
async fn the_email_carries_its_chart_inline_which_chromium_shows_and_keeps_the_table_without_it() -> Result<()> {
    use mail_parser::MimeHeaders as _;
    // Given a month of costs
    let setup = setup(SENDER, Vec::new()).await?;
    queue_month_to_the_21st(&setup).await?;

    // When the report runs
    let summary = run_at(&setup.deps, "2026-11-22T07:00:00Z").await?;
    assert_eq!(summary.channels[&Channel::Email].status, Delivery::Sent, "{:?}", summary.channels);
    assert!(!summary.warnings.iter().any(|w| w.contains("chart")), "{:?}", summary.warnings);

    // Then SES sent one message, to both recipients, as one MIME tree: the readable part and
    // its chart side by side in multipart/related, then the two CSV files
    let raw = raw_emails(&setup.account).await?;
    assert_eq!(raw.len(), 1);
    let message = mail_parser::MessageParser::default().parse(raw[0].as_bytes()).context("a MIME message")?;
    assert_eq!(
        mime_tree(&message, 0),
        "multipart/mixed[multipart/related[multipart/alternative[text/plain,text/html],image/png],text/csv,text/csv]"
    );
    let to: Vec<&str> = message.to().map(|to| to.iter().filter_map(|a| a.address()).collect()).unwrap_or_default();
    assert_eq!(to, ["finops@example.com", "platform@example.com"]);
    assert_eq!(message.subject(), Some("[ALERT] AWS cost 2026-11-21: $325.00 (+123.8%)"));
    assert_eq!(emails_sent(&setup.account).await?, 2, "one message, two recipients");

    // The image is inline, with the content id the HTML names, and a PNG of the expected size
    let chart = message
        .parts
        .iter()
        .find(|part| part.content_type().is_some_and(|t| t.ctype() == "image"))
        .context("the image part")?;
    assert_eq!(chart.content_id(), Some("cost-chart@cost-report"));
    let disposition = chart.content_disposition().context("a disposition")?;
    assert_eq!((disposition.ctype(), disposition.attribute("filename")), ("inline", Some("cost-chart.png")));
    let html = message.body_html(0).context("the HTML")?;
    assert!(html.contains(r#"<img src="cid:cost-chart@cost-report" width="600" height="300""#), "{html}");
    assert!(html.contains("Daily total, last 30 days"), "the table stays for clients that block images");
    let decoder = png::Decoder::new(std::io::Cursor::new(chart.contents()));
    let info = decoder.read_info()?.info().clone();
    assert_eq!((info.width, info.height), (1200, 600));
    let names: Vec<&str> = message.attachments().filter_map(|part| part.attachment_name()).collect();
    assert_eq!(names, ["cost-chart.png", "cost-by-service.csv", "cost-movers.csv"]);
    let csv = message.attachments().find(|p| p.attachment_name() == Some("cost-by-service.csv")).context("csv")?;
    assert!(csv.contents().starts_with(b"date,service,amount,unit,estimated\r\n"));

    // Chromium, resolving the cid as a mail client does, decodes the chart at its full size and lays it out
    let shown = view_in_chromium(&raw[0], &[]).await?;
    let images = shown["images"].as_array().context("images")?;
    assert_eq!(images.len(), 1, "{shown}");
    assert_eq!(images[0]["cid"], "cost-chart@cost-report");
    assert_eq!((images[0]["natural_width"].as_u64(), images[0]["natural_height"].as_u64()), (Some(1200), Some(600)));
    // laid out at the email's content width, at most 600 CSS pixels, its shape kept
    let (width, height) = (images[0]["width"].as_f64().unwrap_or(0.0), images[0]["height"].as_f64().unwrap_or(0.0));
    assert!((560.0..=600.0).contains(&width) && (height * 2.0 - width).abs() <= 1.0, "{width}x{height}: {shown}");
    // With images blocked, the daily table still gives every day's total
    let blocked = view_in_chromium(&raw[0], &["--without-images"]).await?;
    let text = blocked["text"].as_str().context("text")?;
    assert!(text.contains("Daily total, last 30 days") && text.contains("$325.00*"), "{text}");
    Ok(())
}

#[tokio::test]
async fn the_month_is_compared_with_the_accounts_budget_and_an_alert_says_when_the_forecast_crosses_it() -> Result<()> {
    // Given a month of costs, the account's monthly budget of $3,000 (AWS Budgets has it 83%
    // spent and forecast at $3,300), and a team's budget with a filter, which auto leaves alone
    let setup = setup(SENDER, Vec::new()).await?;
    queue_month_to_the_21st(&setup).await?;
    create_budget(&setup.account, "Monthly", "3000", "2500", "3300", None).await?;
    create_budget(&setup.account, "Team data", "100", "95", "150", Some("Amazon Athena")).await?;

    // When the report runs on the 22nd
    let summary = run_at(&setup.deps, "2026-11-22T07:00:00Z").await?;

    // Then the month is compared with the account's budget: spent, forecast, and the crossing day
    let budget = summary.budget.clone().context("a budget")?;
    assert_eq!(budget.name, "Monthly");
    assert_eq!(
        (budget.limit, budget.actual, budget.forecast),
        (Decimal::from(3000), Decimal::from(2500), Decimal::from(3300))
    );
    assert_eq!(
        (budget.forecast_from, budget.crosses_on),
        ("budget", Some(date("2026-11-27"))),
        "500 left at 88.89 a day: 6 days"
    );
    let budget_alerts: Vec<&String> = summary.alerts.iter().filter(|a| a.contains("budget")).collect();
    assert_eq!(
        budget_alerts,
        [
            "the month's cost, $2,500.00, is 83% of the budget Monthly ($3,000.00), at or above the alert share of 80%",
            "the month is forecast to end at $3,300.00, over the budget Monthly ($3,000.00) by $300.00 (10%): at this rate it is crossed on 2026-11-27",
        ]
    );
    // Budgets cost no Cost Explorer request
    assert_eq!(summary.cost_explorer_requests, 2);
    assert!(summary.failure().is_none(), "{:?}", summary.failure());

    // Slack shows the line and the alerts; so does the email
    let message: Value = serde_json::from_str(setup.slack.bodies().last().context("a Slack post")?)?;
    let text = message.to_string();
    assert!(text.contains(r"*Budget Monthly*\n$2,500.00 of $3,000.00 (83%)"), "{text}");
    assert!(text.contains(r"*Budget forecast*\n$3,300.00 (110%), crosses it on Nov 27"), "{text}");
    assert!(text.contains("over the budget Monthly ($3,000.00) by $300.00 (10%)"), "{text}");
    let raw = raw_emails(&setup.account).await?;
    let email = mail_parser::MessageParser::default().parse(raw[0].as_bytes()).context("a MIME message")?;
    let text = email.body_text(0).context("text")?;
    assert!(text.contains("Budget Monthly               $2,500.00 of $3,000.00 (83%)"), "{text}");
    assert!(text.contains("Budget forecast              $3,300.00 (110%), crosses it on Nov 27"), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_named_budget_that_does_not_exist_fails_the_run_after_the_report_is_delivered() -> Result<()> {
    let account = TestAccount::new().await;
    let bucket = account.bucket("finance-costs");
    let slack = HttpListener::start(Vec::new()).await?;
    let env = shared::config::Env::from_pairs([
        ("REPORT_BUCKET", bucket.as_str()),
        ("SLACK_WEBHOOK_URL", slack.url.as_str()),
        ("AWS_ENDPOINT_URL", Moto::shared().url()),
        ("BUDGET", "Team data"),
    ]);
    let deps = Deps::load(Config::from_env(&env)?, &account.aws).await?;
    deps.s3.harness().create_bucket().bucket(&bucket).send().await?;
    create_budget(&account, "Monthly", "3000", "100", "200", None).await?;
    queue_cost_results(&account, vec![ce_page(&month_of_costs(date("2026-10-01"), date("2026-11-21")), None)]).await?;

    let summary = run_at(&deps, "2026-11-22T07:00:00Z").await?;

    // The report went everywhere, saying why its budget is missing, and the run failed with the fix
    assert!(summary.budget.is_none());
    for channel in [Channel::Csv, Channel::Slack] {
        assert_eq!(summary.channels[&channel].status, Delivery::Sent, "{channel}");
    }
    let why = "budget \"Team data\" does not exist (budgets: Monthly): set BUDGET to one of them, to auto, or to off";
    assert_eq!(summary.notes, [why]);
    assert!(slack.bodies().last().is_some_and(|body| body.contains("does not exist (budgets: Monthly)")));
    let failure = summary.failure().context("a failure")?;
    assert_eq!((failure.error_type(), failure.is_transient()), ("BudgetFailed", false));
    assert_eq!(
        failure.to_string(),
        format!("cost report for 2026-11-21: {why} (the report was delivered without the budget: csv, slack)")
    );
    Ok(())
}
