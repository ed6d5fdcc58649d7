//! One export: event in, summary out. Orchestrates the core and the AWS layer.

use std::time::Duration;

use jiff::Timestamp;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use shared::aws::{ApiCallCounter, Aws};
use tracing::info;

use crate::aws;
use crate::config::Config;
use crate::core::{self, FindingCounts, RunOptions};
use crate::error::IamExportError;

/// Time kept back from the Lambda deadline for reading the details and writing the files.
const TIME_RESERVED_AFTER_REPORT: Duration = Duration::from_secs(30);
/// How long to wait for the credential report when the invoke carries no deadline (local runs).
const DEFAULT_REPORT_BUDGET: Duration = Duration::from_secs(300);

/// What the handler needs, built once at cold start.
#[derive(Debug, Clone)]
pub struct Deps {
    pub config: Config,
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub api_calls: ApiCallCounter,
}

impl Deps {
    pub fn new(config: Config, aws: &Aws) -> Self {
        Self { config, iam: shared::aws_client!(aws_sdk_iam, aws), s3: aws.s3(), api_calls: aws.api_calls().clone() }
    }
}

/// The function's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub bucket: String,
    pub keys: Vec<String>,
    /// IAM users, not counting the root account's row.
    pub user_count: usize,
    pub role_count: usize,
    pub root_account_included: bool,
    /// Users created after the credential report was generated: their credential columns are empty.
    pub users_not_in_credential_report: usize,
    pub credential_report_generated_at: Option<String>,
    /// How old the credential report was when read: AWS reuses a report for 4 hours.
    pub credential_report_age_seconds: Option<i64>,
    pub findings: FindingCounts,
    /// HTTP requests sent to AWS by this invocation, retries included.
    pub api_calls: u64,
}

/// One export, and its metrics on stdout whatever the outcome.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<ExportSummary, IamExportError> {
    let calls_before = deps.api_calls.get();
    let request_id = event.context.request_id.clone();
    let result = export(deps, event).await;
    let mut metrics = crate::metrics::of_run(&result, deps.api_calls.get() - calls_before);
    metrics.property("RequestId", request_id).emit(&deps.config.metrics);
    result
}

#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
async fn export(deps: &Deps, event: LambdaEvent<Value>) -> Result<ExportSummary, IamExportError> {
    let calls_before = deps.api_calls.get();
    let defaults = RunOptions { include_roles: deps.config.include_roles };
    let options = core::parse_event(&event.payload, defaults)?;
    let bucket = deps.config.report_bucket.as_str();

    aws::check_bucket(&deps.s3, bucket).await?;
    let budget =
        shared::deadline::time_budget(event.context.deadline(), TIME_RESERVED_AFTER_REPORT, DEFAULT_REPORT_BUDGET);
    // The users are read while AWS builds the credential report (which can take minutes
    // in a large account), not after it: a throttled account then does not run out of time.
    let (report, (users, roles)) = tokio::try_join!(
        aws::credential_report(&deps.iam, budget),
        aws::authorization_details(&deps.iam, options.include_roles)
    )?;
    let report_rows = core::parse_credential_report(&report.content)?;

    let now = Timestamp::now();
    let user_rows = core::build_user_rows(&users, &report_rows, now);
    let role_rows = if options.include_roles { core::build_role_rows(&roles)? } else { Vec::new() };
    let (users_key, roles_key) = core::report_keys(&deps.config.report_prefix, now);
    let kms_key_id = deps.config.kms_key_id.as_deref();

    // Both files are rendered before either is written: a rendering error writes nothing.
    let users_csv = core::render_users_csv(&user_rows)?;
    let roles_csv = options.include_roles.then(|| core::render_roles_csv(&role_rows)).transpose()?;
    let mut keys = vec![users_key.clone()];
    let mut written = aws::put_csv(&deps.s3, bucket, &users_key, users_csv, kms_key_id).await;
    if let (Ok(()), Some(roles_csv)) = (&written, roles_csv) {
        written = aws::put_csv(&deps.s3, bucket, &roles_key, roles_csv, kms_key_id).await;
        keys.push(roles_key.clone());
    }
    if let Err(err) = written {
        if matches!(err, IamExportError::BucketNotFound { .. }) {
            return Err(err);
        }
        // A write that failed may still have landed (S3 stored it, then the answer was
        // lost), and a users file without its roles file is half an export: a failed run
        // removes what it may have written, so it leaves nothing to take for an export.
        return Err(match aws::delete_keys(&deps.s3, bucket, &[&users_key, &roles_key]).await {
            Ok(()) => err,
            Err(cleanup) => IamExportError::PartialExport { cause: Box::new(err), keys: keys.join(", "), cleanup },
        });
    }

    let summary = ExportSummary {
        bucket: bucket.to_owned(),
        keys,
        user_count: users.len(),
        role_count: role_rows.len(),
        root_account_included: user_rows.first().is_some_and(|row| row.is_root_account),
        users_not_in_credential_report: user_rows.iter().filter(|row| !row.in_credential_report).count(),
        credential_report_generated_at: report.generated_at.map(core::format_time),
        credential_report_age_seconds: report.generated_at.map(|generated| now.as_second() - generated.as_second()),
        findings: core::count_findings(&user_rows),
        api_calls: deps.api_calls.get() - calls_before,
    };
    info!(
        bucket = %summary.bucket,
        keys = ?summary.keys,
        users = summary.user_count,
        roles = summary.role_count,
        api_calls = summary.api_calls,
        findings = ?summary.findings,
        "IAM export written"
    );
    Ok(summary)
}
