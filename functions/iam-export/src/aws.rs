//! Thin async functions over the IAM and S3 clients: pagination, waiting, and
//! conversion from SDK types to core types. No decisions beyond that.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_iam::types::EntityType;
use aws_smithy_types::DateTime;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use jiff::Timestamp;
use shared::error::{describe, is_transient};
use tokio::time::Instant;

use crate::core::{Authorization, Holdings, RoleDetail, UserDetail};
use crate::error::IamExportError;

pub mod identity_center;

/// Users and roles per `GetAccountAuthorizationDetails` page: the API's maximum.
const PAGE_SIZE: i32 = 1000;
/// First wait for a credential report being built; doubles up to [`MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_secs(1);
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// `ListAccessKeys` requests in flight at once.
const KEY_LISTS_AT_ONCE: usize = 4;

/// The credential report's CSV text and when AWS generated it.
#[derive(Debug, Clone)]
pub struct CredentialReport {
    pub content: String,
    pub generated_at: Option<Timestamp>,
}

/// Makes sure the report bucket is there before any work is done, so a missing
/// bucket costs one request and leaves nothing half-written. A listing of the export's own
/// prefix (no key returned) rather than HeadBucket: the role's s3:ListBucket is then held to
/// that prefix (`s3:prefix`), where HeadBucket would need it on the whole bucket.
pub async fn check_bucket(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<(), IamExportError> {
    let folder = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    let listing = s3.list_objects_v2().bucket(bucket).prefix(folder).max_keys(0);
    match listing.send().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_bucket()) => {
            Err(IamExportError::BucketNotFound { bucket: bucket.to_owned() })
        }
        Err(err) => Err(IamExportError::BucketNotUsable { bucket: bucket.to_owned(), message: describe(&err) }),
    }
}

/// Asks IAM for a credential report and waits for it. IAM reuses a report younger
/// than 4 hours (`COMPLETE` at once); otherwise it builds one in the background and
/// answers `ReportInProgress` until it is ready. Waiting stops at `budget`.
pub async fn credential_report(
    iam: &aws_sdk_iam::Client,
    budget: Duration,
) -> Result<CredentialReport, IamExportError> {
    let started = Instant::now();
    let mut interval = FIRST_POLL_INTERVAL;
    generate_report(iam).await?;
    loop {
        match iam.get_credential_report().send().await {
            Ok(output) => {
                let content = output.content().map(|blob| blob.as_ref().to_vec()).unwrap_or_default();
                let content = String::from_utf8(content).map_err(|_| IamExportError::Iam {
                    operation: "GetCredentialReport",
                    message: "the report is not UTF-8 text".to_owned(),
                    transient: false,
                })?;
                let generated_at = output.generated_time().and_then(to_timestamp);
                return Ok(CredentialReport { content, generated_at });
            }
            Err(err) => match err.as_service_error() {
                Some(e) if e.is_credential_report_not_ready_exception() => {}
                Some(e)
                    if e.is_credential_report_expired_exception() || e.is_credential_report_not_present_exception() =>
                {
                    generate_report(iam).await?;
                }
                _ => return Err(iam_error("GetCredentialReport", &err)),
            },
        }
        if started.elapsed() + interval > budget {
            return Err(IamExportError::CredentialReportTimeout { waited_seconds: started.elapsed().as_secs() });
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(MAX_POLL_INTERVAL);
    }
}

async fn generate_report(iam: &aws_sdk_iam::Client) -> Result<(), IamExportError> {
    iam.generate_credential_report().send().await.map(|_| ()).map_err(|err| iam_error("GenerateCredentialReport", &err))
}

/// Every user (and role, when asked) with groups, policies and tags, and the groups and
/// managed policies (AWS's only where attached, as AWS answers) with their documents, for the
/// administrator finding: one paginated call.
pub async fn authorization_details(
    iam: &aws_sdk_iam::Client,
    include_roles: bool,
) -> Result<(Vec<UserDetail>, Vec<RoleDetail>, Authorization), IamExportError> {
    let mut request = iam
        .get_account_authorization_details()
        .filter(EntityType::User)
        .filter(EntityType::Group)
        .filter(EntityType::LocalManagedPolicy)
        .filter(EntityType::AwsManagedPolicy)
        .max_items(PAGE_SIZE);
    if include_roles {
        request = request.filter(EntityType::Role);
    }
    let mut pages = request.into_paginator().send();
    let (mut users, mut roles, mut authorization) = (Vec::new(), Vec::new(), Authorization::default());
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| iam_error("GetAccountAuthorizationDetails", &err))?;
        users.extend(page.user_detail_list().iter().map(user_detail));
        roles.extend(page.role_detail_list().iter().map(role_detail));
        for group in page.group_detail_list() {
            let holdings = Holdings {
                attached: arns(group.attached_managed_policies()),
                inline: inline(group.group_policy_list()),
                ..Holdings::default()
            };
            authorization.groups.insert(group.group_name().unwrap_or_default().to_owned(), holdings);
        }
        for policy in page.policies() {
            let default = policy.policy_version_list().iter().find(|version| version.is_default_version());
            if let (Some(arn), Some(document)) = (policy.arn(), default.and_then(|v| v.document())) {
                // The name, else the ARN's last part (the emulator leaves the name out).
                let name = policy.policy_name().or_else(|| arn.rsplit('/').next()).unwrap_or(arn).to_owned();
                authorization.managed.insert(arn.to_owned(), (name, document.to_owned()));
            }
        }
    }
    Ok((users, roles, authorization))
}

/// Each user's access keys: id and creation time (never the secret), a few users at once.
pub async fn access_key_ids(
    iam: &aws_sdk_iam::Client,
    users: &[String],
) -> Result<BTreeMap<String, Vec<(String, Option<Timestamp>)>>, IamExportError> {
    stream::iter(users)
        .map(|user| async move {
            let keys: Vec<_> = iam
                .list_access_keys()
                .user_name(user)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| iam_error("ListAccessKeys", &err))?;
            let keys = keys
                .iter()
                .filter_map(|key| Some((key.access_key_id()?.to_owned(), key.create_date().and_then(to_timestamp))))
                .collect();
            Ok::<_, IamExportError>((user.clone(), keys))
        })
        .buffered(KEY_LISTS_AT_ONCE)
        .try_collect()
        .await
}

fn arns(attached: &[aws_sdk_iam::types::AttachedPolicy]) -> Vec<String> {
    attached.iter().filter_map(|p| p.policy_arn()).map(str::to_owned).collect()
}

fn inline(policies: &[aws_sdk_iam::types::PolicyDetail]) -> Vec<(String, String)> {
    policies.iter().filter_map(|p| Some((p.policy_name()?.to_owned(), p.policy_document()?.to_owned()))).collect()
}

/// Writes one file with server-side encryption: SSE-KMS with `kms_key_id`, the bucket's default without.
pub async fn put_file(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    kms_key_id: Option<&str>,
) -> Result<(), IamExportError> {
    shared::aws::put_encrypted(s3, bucket, key, body, content_type, kms_key_id).await.map_err(|failure| {
        if failure.bucket_missing {
            return IamExportError::BucketNotFound { bucket: bucket.to_owned() };
        }
        IamExportError::Upload {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: failure.message,
            transient: failure.transient,
        }
    })
}

/// Deletes `keys` (missing ones are fine), each on its own, and names every one that failed.
pub async fn delete_keys(s3: &aws_sdk_s3::Client, bucket: &str, keys: &[&str]) -> Result<(), IamExportError> {
    let mut failed = Vec::new();
    for key in keys {
        if let Err(err) = s3.delete_object().bucket(bucket).key(*key).send().await {
            failed.push(format!("{key}: {}", describe(&err)));
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(IamExportError::Delete { bucket: bucket.to_owned(), failed }) }
}

pub(crate) fn iam_error<E>(operation: &'static str, err: &aws_sdk_iam::error::SdkError<E>) -> IamExportError
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    IamExportError::Iam { operation, message: describe(err), transient: is_transient(err) }
}

fn user_detail(user: &aws_sdk_iam::types::UserDetail) -> UserDetail {
    UserDetail {
        name: user.user_name().unwrap_or_default().to_owned(),
        arn: user.arn().unwrap_or_default().to_owned(),
        path: user.path().unwrap_or_default().to_owned(),
        created: user.create_date().and_then(to_timestamp),
        groups: user.group_list().to_vec(),
        attached_policies: user
            .attached_managed_policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .map(str::to_owned)
            .collect(),
        inline_policies: user.user_policy_list().iter().filter_map(|p| p.policy_name()).map(str::to_owned).collect(),
        tags: user.tags().iter().map(|tag| (tag.key().to_owned(), tag.value().to_owned())).collect(),
        holdings: Holdings {
            attached: arns(user.attached_managed_policies()),
            inline: inline(user.user_policy_list()),
            groups: user.group_list().to_vec(),
            boundary: user.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_owned),
        },
    }
}

fn role_detail(role: &aws_sdk_iam::types::RoleDetail) -> RoleDetail {
    let last_used = role.role_last_used();
    RoleDetail {
        name: role.role_name().unwrap_or_default().to_owned(),
        arn: role.arn().unwrap_or_default().to_owned(),
        path: role.path().unwrap_or_default().to_owned(),
        created: role.create_date().and_then(to_timestamp),
        last_used: last_used.and_then(|u| u.last_used_date()).and_then(to_timestamp),
        last_used_region: last_used.and_then(|u| u.region()).map(str::to_owned),
        attached_policies: role
            .attached_managed_policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .map(str::to_owned)
            .collect(),
        inline_policies: role.role_policy_list().iter().filter_map(|p| p.policy_name()).map(str::to_owned).collect(),
        trust_policy: role.assume_role_policy_document().map(str::to_owned),
        holdings: Holdings {
            attached: arns(role.attached_managed_policies()),
            inline: inline(role.role_policy_list()),
            groups: Vec::new(),
            boundary: role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_owned),
        },
    }
}

fn to_timestamp(at: &DateTime) -> Option<Timestamp> {
    Timestamp::new(at.secs(), i32::try_from(at.subsec_nanos()).ok()?).ok()
}

#[cfg(test)]
mod tests;
