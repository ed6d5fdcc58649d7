//! The IAM export as it is deployed: the packaged binary (`cargo lambda build --release`,
//! or the artifact `IAM_EXPORT_BOOTSTRAP` names) run by the local Lambda, its metrics read
//! from its stdout as CloudWatch would read them, and checked against the files it wrote.
//!
//! It runs in the emulator's default account (the binary's credentials name no other);
//! no other test seeds IAM there.

use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use support::iam_seed::seed_account;
use support::lambda::{Limits, LocalLambda, packaged_binary};
use support::{Moto, TestAccount, emitted, log_with_metrics};

/// The data rows of a CSV file in S3.
async fn csv_rows(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<csv::StringRecord>> {
    let body = s3.get_object().bucket(bucket).key(key).send().await?.body.collect().await?.into_bytes();
    let mut reader = csv::Reader::from_reader(body.as_ref());
    Ok(reader.records().collect::<Result<_, _>>()?)
}

#[tokio::test]
async fn the_packaged_export_reports_in_its_metrics_the_users_and_roles_it_wrote() -> Result<()> {
    // Given an account with 12 users and a report bucket,
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let iam = shared::aws_client!(aws_sdk_iam, &account.aws);
    seed_account(&iam, 12).await?;
    let s3 = account.aws.s3();
    let bucket = account.unique_bucket("iam-metrics");
    s3.create_bucket().bucket(&bucket).send().await?;
    let lambda = LocalLambda::start(
        packaged_binary("iam-export"),
        Limits { memory_mb: 256, cpu_share: false },
        &[("AWS_ENDPOINT_URL", moto.url()), ("REPORT_BUCKET", &bucket), ("INCLUDE_ROLES", "true")],
    )
    .await;

    // When the daily schedule runs it,
    let summary = lambda.invoke(&json!({}), Duration::from_secs(120)).await.outcome.response(&lambda.log());

    // then its metrics line says what its files hold: as many users as the users file's
    // rows (less the root account's), as many roles as the roles file's.
    let keys: Vec<&str> = summary["keys"].as_array().context("keys")?.iter().filter_map(|k| k.as_str()).collect();
    let users = csv_rows(&s3, &bucket, keys[0]).await?;
    let roles = csv_rows(&s3, &bucket, keys[1]).await?;
    let root_rows = usize::from(summary["root_account_included"] == json!(true));
    let log = log_with_metrics(&lambda, 1).await;
    assert_eq!(emitted(&log, "Succeeded"), [1.0]);
    assert_eq!(emitted(&log, "Users"), [(users.len() - root_rows) as f64], "{summary:#}");
    assert!(users.len() - root_rows >= 12, "the seeded users are in the file");
    assert_eq!(emitted(&log, "Roles"), [roles.len() as f64]);
    assert_eq!(emitted(&log, "ApiCalls"), [summary["api_calls"].as_f64().context("api_calls")?]);
    // and the deployed artifact says which version of the toolkit it is, in its cold-start
    // line and in each metrics document.
    let versions: Vec<Value> =
        shared::metrics::documents_in(&log).iter().map(|d| d[shared::metrics::VERSION_PROPERTY].clone()).collect();
    assert_eq!(versions, [json!(shared::VERSION)], "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("cold start") && l.contains(&format!("\"toolkit_version\":\"{}\"", shared::VERSION))),
        "{log}"
    );
    assert_eq!(
        emitted(&log, "FindingsConsoleWithoutMfa"),
        [summary["findings"]["no_mfa_with_console"].as_f64().context("findings")?]
    );

    // And a run that cannot write (its bucket does not exist) says so in its metrics: heartbeat 0.
    let missing = account.unique_bucket("iam-metrics-missing");
    let failing = LocalLambda::start(
        packaged_binary("iam-export"),
        Limits { memory_mb: 256, cpu_share: false },
        &[("AWS_ENDPOINT_URL", moto.url()), ("REPORT_BUCKET", &missing)],
    )
    .await;
    failing.invoke(&json!({}), Duration::from_secs(120)).await;
    let log = log_with_metrics(&failing, 1).await;
    assert_eq!(emitted(&log, "Succeeded"), [0.0]);
    assert_eq!(shared::metrics::documents_in(&log)[0]["ErrorType"], "ReportBucketUnavailable");
    Ok(())
}
