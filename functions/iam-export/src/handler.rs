//! One export: event in, summary out. Orchestrates the core and the AWS layer.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shared::accounts::{Account, Fleet};
use shared::aws::{ApiCallCounter, Aws};
use tracing::{info, warn};

use crate::aws;
use crate::config::Config;
use crate::core::{self, AccountExport, ExportSummary, RunOptions};
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
    /// The accounts an organization-wide run covers (`ACCOUNTS`); `None`: this account only.
    pub fleet: Option<Arc<Fleet>>,
    /// Identity Center's clients, in the function's own account.
    pub identity_center: aws::identity_center::Clients,
}

impl Deps {
    pub fn new(config: Config, aws: &Aws) -> Self {
        let aws = &aws.for_function("iam-export");
        let fleet = Fleet::new(aws, &config.accounts, "iam-export").map(Arc::new);
        let iam = shared::aws_client!(aws_sdk_iam, aws);
        let center_aws = match &config.identity_center_region {
            Some(region) => aws.in_region(region),
            None => aws.clone(),
        };
        let identity_center = aws::identity_center::Clients {
            sso: shared::aws_client!(aws_sdk_ssoadmin, &center_aws),
            store: shared::aws_client!(aws_sdk_identitystore, &center_aws),
            iam: iam.clone(),
        };
        Self {
            iam,
            identity_center,
            s3: aws.s3_owned_by(config.report_bucket_owner.as_deref()),
            api_calls: aws.api_calls().clone(),
            fleet,
            config,
        }
    }
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
    let defaults = RunOptions { include_roles: deps.config.include_roles, assignment_reading: None };
    let options = core::parse_event(&event.payload, defaults)?;
    let bucket = deps.config.report_bucket.as_str();

    aws::check_bucket(&deps.s3, bucket, &deps.config.report_prefix).await?;
    let budget =
        shared::deadline::time_budget(event.context.deadline(), TIME_RESERVED_AFTER_REPORT, DEFAULT_REPORT_BUDGET);
    let now = Timestamp::now();
    let keys = core::report_keys(&deps.config.report_prefix, now);
    let include_roles = options.include_roles;
    let key_ids = deps.config.access_key_ids;

    let (files, exports, accounts, failed) = match &deps.fleet {
        None => {
            let export = read_account(&deps.iam, Account::unnamed(""), budget, include_roles, key_ids, now).await?;
            // Both files are rendered before either is written: a rendering error writes nothing.
            let mut files = vec![(keys.users.clone(), core::render_users_csv(&export.users)?, CSV)];
            if include_roles {
                files.push((keys.roles.clone(), core::render_roles_csv(&export.roles)?, CSV));
            }
            (files, vec![export], Vec::new(), Vec::new())
        }
        Some(fleet) => {
            let selection = fleet.select().await?;
            let results = fleet
                .each(&selection.accounts, |account| async move {
                    let iam = match fleet.aws_for(account).await {
                        Ok(member) => shared::aws_client!(aws_sdk_iam, &member),
                        Err(err) => return Err(IamExportError::from(err)),
                    };
                    read_account(&iam, account.clone(), budget, include_roles, key_ids, now).await
                })
                .await;
            let (mut exports, mut failed) = (Vec::new(), Vec::new());
            for (account, result) in selection.accounts.iter().zip(results) {
                match result {
                    Ok(export) => exports.push(export),
                    Err(err) => {
                        warn!(account = %account.id, error = %err, "account not exported");
                        failed.push((account.clone(), err.to_string()));
                    }
                }
            }
            core::by_account(&mut exports);
            let accounts = core::summarize_accounts(&exports, &failed, &selection.excluded, &selection.inactive);
            let mut files = vec![(keys.users.clone(), core::render_org_users_csv(&exports)?, CSV)];
            if include_roles {
                files.push((keys.roles.clone(), core::render_org_roles_csv(&exports)?, CSV));
            }
            (files, exports, accounts, failed)
        }
    };

    // Identity Center is read once, where the function runs; its failure fails the run once
    // the IAM files are written.
    let mut files = files;
    let identity_center = if deps.config.identity_center {
        identity_center(deps, &exports, options.assignment_reading).await
    } else {
        Ok(None)
    };
    let identity_center = match identity_center {
        Ok(found) => Ok(found),
        Err(err) => {
            warn!(error = %err, "Identity Center not exported");
            Err(err)
        }
    };
    if let Ok(Some((_, export, _))) = &identity_center {
        let [users, access, permission_sets] = core::render_identity_center_csvs(export)?;
        files.push((keys.identity_center_users.clone(), users, CSV));
        files.push((keys.identity_center_access.clone(), access, CSV));
        files.push((keys.identity_center_permission_sets.clone(), permission_sets, CSV));
    }
    let keys_written = files.iter().map(|(key, _, _)| key.clone()).collect();
    let mut summary = ExportSummary::of(bucket, keys_written, &exports, accounts, now);
    if let Ok(Some((instance_arn, export, reading))) = &identity_center {
        summary.add_identity_center(instance_arn, export, *reading);
    }
    if deps.fleet.is_some() {
        // The summary beside the CSV says which accounts are in it, and why the others are not.
        summary.keys.push(keys.accounts.clone());
        let json = serde_json::to_vec_pretty(&summary).map_err(|err| IamExportError::Summary(err.to_string()))?;
        files.push((keys.accounts.clone(), json, JSON));
    }
    write_files(deps, bucket, &files).await?;
    summary.api_calls = deps.api_calls.get() - calls_before;
    info!(
        bucket = %summary.bucket,
        keys = ?summary.keys,
        users = summary.user_count,
        roles = summary.role_count,
        accounts = summary.accounts.len(),
        accounts_failed = failed.len(),
        api_calls = summary.api_calls,
        findings = ?summary.findings,
        identity_center = ?summary.identity_center,
        "IAM export written"
    );
    identity_center?;
    if !failed.is_empty() {
        return Err(IamExportError::AccountsFailed {
            failed: failed.iter().map(|(account, reason)| format!("{}: {reason}", account.label())).collect(),
            total: failed.len() + exports.len(),
            summary_key: format!("s3://{bucket}/{}", keys.accounts),
        });
    }
    Ok(summary)
}

const CSV: &str = "text/csv; charset=utf-8";
const JSON: &str = "application/json";

/// One account's users (and roles), read with `iam`: the credential report, while the
/// users are read beside it, not after it, so a throttled account does not run out of time
/// (AWS can take minutes to build a report in a large account).
async fn read_account(
    iam: &aws_sdk_iam::Client,
    account: Account,
    budget: Duration,
    include_roles: bool,
    key_ids: core::KeyIds,
    now: Timestamp,
) -> Result<AccountExport, IamExportError> {
    let (report, (users, roles, authorization)) =
        tokio::try_join!(aws::credential_report(iam, budget), aws::authorization_details(iam, include_roles))?;
    let mut report_rows = core::parse_credential_report(&report.content)?;
    let mut user_rows = core::build_user_rows(&users, &report_rows, &authorization, now);
    // The keys a finding names (or all) get their ids: one ListAccessKeys per such user.
    let needing_ids = core::users_needing_key_ids(&user_rows, key_ids, now);
    if !needing_ids.is_empty() {
        let listed = aws::access_key_ids(iam, &needing_ids).await?;
        core::assign_key_ids(&mut report_rows, &listed);
        user_rows = core::build_user_rows(&users, &report_rows, &authorization, now);
    }
    Ok(AccountExport {
        account,
        users: user_rows,
        roles: if include_roles { core::build_role_rows(&roles, &authorization, now)? } else { Vec::new() },
        credential_report_generated_at: report.generated_at,
        authorization,
    })
}

/// Identity Center's rows, read where the function runs: `None` where no instance is visible.
/// Customer-managed policies are read from the accounts this run exported.
async fn identity_center(
    deps: &Deps,
    exports: &[AccountExport],
    reading: Option<core::AssignmentReading>,
) -> Result<Option<(String, core::IcExport, core::AssignmentReading)>, IamExportError> {
    let clients = &deps.identity_center;
    let Some(instance) = aws::identity_center::find_instance(&clients.sso).await? else {
        info!(
            "no Identity Center instance is visible from this account in this region: no Identity Center files \
             (set IDENTITY_CENTER_REGION to the instance's region if it is elsewhere)"
        );
        return Ok(None);
    };
    // AWS managed policies read with the accounts' details are not asked again.
    let known = exports
        .iter()
        .flat_map(|export| &export.authorization.managed)
        .filter(|(arn, _)| core::is_aws_managed(arn))
        .map(|(arn, policy)| (arn.clone(), policy.clone()))
        .collect();
    let (center, used) = aws::identity_center::read(clients, &instance, reading, &known).await?;
    let accounts: core::ReadAccounts<'_> = exports
        .iter()
        .filter_map(|export| {
            // A single-account run knows its account by its ARNs.
            let id = if export.account.id.is_empty() { core::account_of(export)? } else { export.account.id.clone() };
            Some((id, (export.account.name.clone(), &export.authorization)))
        })
        .collect();
    let export = core::build_identity_center(&center, &accounts);
    if !export.accounts_unreadable.is_empty() {
        warn!(
            accounts = ?export.accounts_unreadable,
            "Identity Center refused to list some assignments in these accounts (a delegated administrator may not \
             read the management account's): they are missing from the access file; run the export in the \
             management account to include them"
        );
    }
    Ok(Some((instance.arn, export, used)))
}

/// Writes the run's files in order. A failed write may still have landed (S3 stored it,
/// then the answer was lost), and a users file without the rest is half an export: a failed
/// run removes what it may have written, so it leaves nothing to take for an export.
async fn write_files(deps: &Deps, bucket: &str, files: &[(String, Vec<u8>, &str)]) -> Result<(), IamExportError> {
    let kms_key_id = deps.config.kms_key_id.as_deref();
    for (written, (key, body, content_type)) in files.iter().enumerate() {
        let Err(err) = aws::put_file(&deps.s3, bucket, key, body.clone(), content_type, kms_key_id).await else {
            continue;
        };
        if matches!(err, IamExportError::BucketNotFound { .. }) {
            return Err(err);
        }
        let tried: Vec<&str> = files[..=written].iter().map(|(key, _, _)| key.as_str()).collect();
        return Err(match aws::delete_keys(&deps.s3, bucket, &tried).await {
            Ok(()) => err,
            Err(cleanup) => IamExportError::PartialExport {
                cause: Box::new(err),
                keys: tried.join(", "),
                cleanup: Box::new(cleanup),
            },
        });
    }
    Ok(())
}
