//! The IAM export's soak: repeated runs against a seeded account, in process (the
//! handler with the functions' own SDK settings), every IAM and S3 call through the
//! fault proxy. Every run must either write complete files, identical to a fault-free
//! run's, or fail as `Retryable` and write nothing.

use anyhow::{Context as _, Result};
use iam_export::{Config, Deps, handle};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::json;

use crate::{Row, plan};
use support::TestAccount;
use support::fault_proxy::{FaultPlan, FaultProxy};
use support::iam_seed::seed_account;

fn config(bucket: &str, prefix: &str) -> Config {
    Config {
        report_bucket: bucket.to_owned(),
        report_bucket_owner: None,
        report_prefix: prefix.to_owned(),
        kms_key_id: None,
        include_roles: true,
        // Identity Center fails a run after the IAM files are written (as an unreachable
        // account does), which this soak's all-or-nothing check does not allow for.
        access_key_ids: Default::default(),
        identity_center: false,
        identity_center_region: None,
        metrics: shared::metrics::MetricsConfig::silent("iam-export"),
        accounts: Default::default(),
    }
}

/// The files under `prefix`, by kind (`users`, `roles`), with their contents.
async fn files(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let listed = s3.list_objects_v2().bucket(bucket).prefix(format!("{prefix}/")).send().await?;
    let mut files = Vec::new();
    for object in listed.contents() {
        let key = object.key().context("a key")?;
        let kind = if key.contains("/iam-users-") {
            "users"
        } else if key.contains("/iam-roles-") {
            "roles"
        } else {
            key
        };
        let got = s3.get_object().bucket(bucket).key(key).send().await?;
        files.push((kind.to_owned(), got.body.collect().await?.into_bytes().to_vec()));
    }
    files.sort();
    Ok(files)
}

pub async fn soak(moto: &str, seed: u64, rate: f64, users: usize, runs: usize) -> Result<Row> {
    let account = TestAccount::at(moto).await;
    seed_account(&shared::aws_client!(aws_sdk_iam, &account.aws), users).await?;
    let s3 = account.aws.s3();
    let bucket = account.bucket("soak-iam-export");
    s3.create_bucket().bucket(&bucket).send().await?;

    let direct = Deps::new(config(&bucket, "fault-free"), &account.as_deployed(moto).await);
    handle(&direct, LambdaEvent::new(json!({}), Context::default())).await.context("the fault-free run")?;
    let expected = files(&s3, &bucket, "fault-free").await?;

    // Half the runs under the uniform rate; the other half also with S3 writes failing more often,
    // so that runs whose writes fail past the SDK's retries are many, not one in a million.
    let proxy = FaultProxy::start(moto, FaultPlan::uniform(seed, rate)).await;
    let hostile = FaultProxy::start(moto, plan(seed, rate, &[("s3", "PutObject")])).await;
    let (through_faults, through_failing_writes) =
        (account.as_deployed(&proxy.url).await, account.as_deployed(&hostile.url).await);
    let mut violations = Vec::new();
    let mut failed = 0;
    for run in 0..runs {
        let prefix = format!("run-{run}");
        let aws = if run % 2 == 0 { &through_faults } else { &through_failing_writes };
        let deps = Deps::new(config(&bucket, &prefix), aws);
        let outcome = handle(&deps, LambdaEvent::new(json!({}), Context::default())).await;
        let written = files(&s3, &bucket, &prefix).await?;
        match outcome {
            Ok(_) if written != expected => {
                let kinds: Vec<&str> = written.iter().map(|(kind, _)| kind.as_str()).collect();
                violations
                    .push(format!("run {run} succeeded, and its files ({kinds:?}) differ from the fault-free run's"));
            }
            Ok(_) => {}
            Err(err) => {
                failed += 1;
                let message = err.to_string();
                let diagnostic = Diagnostic::from(err);
                if diagnostic.error_type != "Retryable" {
                    violations.push(format!("run {run} failed as {}, not Retryable: {message}", diagnostic.error_type));
                }
                if !written.is_empty() {
                    let kinds: Vec<&str> = written.iter().map(|(kind, _)| kind.as_str()).collect();
                    violations.push(format!("run {run} failed ({message}), yet wrote {kinds:?}"));
                }
            }
        }
    }
    let notes = vec![format!(
        "{users} users; half the runs with S3 writes failing 4.5 times as often; {failed} of {runs} runs failed after the SDK's retries"
    )];
    Ok(Row::new("iam-export", &[&proxy, &hostile], runs, 0, violations, notes))
}
