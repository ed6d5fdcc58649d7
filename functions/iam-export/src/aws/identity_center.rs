//! Identity Center, read where the function runs (the management account or a delegated
//! administrator): the instance, its identity store's users and groups, its permission sets
//! and their assignments. Paginated everywhere, a few requests at once.
//!
//! Requests: 1 for the instance; a page per 100 users, per 100 groups and per 100 sets; one
//! per group (its members); six per permission set (description, AWS managed policies,
//! customer-managed ones, inline policy, boundary, accounts provisioned); then the
//! assignments, by whichever way costs fewer ([`AssignmentReading`]); and two per AWS managed
//! policy the account's own details did not carry (`GetPolicy`, `GetPolicyVersion`).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ssoadmin::types::PrincipalType;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use shared::error::{code, describe, is_transient};

use crate::core::{
    Assignment, AssignmentReading, IcGroup, IcUser, IdentityCenter, PermissionSet, PolicyRef, Principal,
};
use crate::error::IamExportError;

/// Every item of every page of a paginated request, or the operation's error.
macro_rules! all_pages {
    ($request:expr, $operation:literal) => {
        $request.into_paginator().items().send().try_collect().await.map_err(|err| ic_error($operation, &err))
    };
}

/// Requests in flight at once: Identity Center's APIs throttle at a few dozen a second.
const CONCURRENCY: usize = 8;

/// The instance the function can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub arn: String,
    pub identity_store_id: String,
}

/// Identity Center's clients, and IAM's for the AWS managed policies' documents.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sso: aws_sdk_ssoadmin::Client,
    pub store: aws_sdk_identitystore::Client,
    pub iam: aws_sdk_iam::Client,
}

/// The instance, or `None` where there is none (most accounts: Identity Center lives in the
/// management account, and a delegated administrator sees it too).
pub async fn find_instance(sso: &aws_sdk_ssoadmin::Client) -> Result<Option<Instance>, IamExportError> {
    let instances: Vec<_> = all_pages!(sso.list_instances(), "sso:ListInstances")?;
    Ok(instances.into_iter().find_map(|instance| {
        Some(Instance {
            arn: instance.instance_arn()?.to_owned(),
            identity_store_id: instance.identity_store_id()?.to_owned(),
        })
    }))
}

/// Everything the files need. `known` holds the managed policies the account's own details
/// carried; `reading` forces a way to read the assignments (else the cheaper). Returns the way used.
pub async fn read(
    clients: &Clients,
    instance: &Instance,
    reading: Option<AssignmentReading>,
    known: &BTreeMap<String, (String, String)>,
) -> Result<(IdentityCenter, AssignmentReading), IamExportError> {
    let (users, groups, set_arns) =
        tokio::try_join!(users(clients, instance), groups(clients, instance), set_arns(clients, instance))?;
    let sets: Vec<(PermissionSet, Vec<String>)> = stream::iter(&set_arns)
        .map(|arn| permission_set(&clients.sso, &instance.arn, arn))
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let pairs: Vec<(&str, &str)> =
        sets.iter().flat_map(|(set, accounts)| accounts.iter().map(|a| (set.arn.as_str(), a.as_str()))).collect();
    let chosen = reading.unwrap_or_else(|| AssignmentReading::cheaper(pairs.len(), users.len() + groups.len()));
    let ((assignments, unreadable), used) = match chosen {
        AssignmentReading::ByAccount => (by_account(&clients.sso, &instance.arn, &pairs).await?, chosen),
        AssignmentReading::ByPrincipal => match by_principal(&clients.sso, &instance.arn, &users, &groups).await {
            Ok(assignments) => ((assignments, Vec::new()), chosen),
            // Only the management account may ask by principal; a delegated administrator reads by account.
            Err(err) if reading.is_none() && is_access_denied(&err) => {
                (by_account(&clients.sso, &instance.arn, &pairs).await?, AssignmentReading::ByAccount)
            }
            Err(err) => return Err(err),
        },
    };
    let permission_sets: Vec<PermissionSet> = sets.into_iter().map(|(set, _)| set).collect();
    let managed_documents = managed_documents(&clients.iam, &permission_sets, known).await?;
    let center = IdentityCenter {
        instance_arn: instance.arn.clone(),
        users,
        groups,
        permission_sets,
        assignments,
        unreadable,
        managed_documents,
    };
    Ok((center, used))
}

async fn users(clients: &Clients, instance: &Instance) -> Result<Vec<IcUser>, IamExportError> {
    let users: Vec<_> = all_pages!(
        clients.store.list_users().identity_store_id(&instance.identity_store_id),
        "identitystore:ListUsers"
    )?;
    Ok(users
        .into_iter()
        .map(|user| IcUser {
            id: user.user_id().to_owned(),
            user_name: user.user_name().unwrap_or_default().to_owned(),
            display_name: user.display_name().unwrap_or_default().to_owned(),
            emails: user.emails().iter().filter_map(|email| email.value()).map(str::to_owned).collect(),
            status: user.user_status().map(|status| status.as_str().to_owned()).unwrap_or_default(),
            external_ids: user.external_ids().iter().map(|id| format!("{}:{}", id.issuer(), id.id())).collect(),
        })
        .collect())
}

async fn groups(clients: &Clients, instance: &Instance) -> Result<Vec<IcGroup>, IamExportError> {
    let groups: Vec<_> = all_pages!(
        clients.store.list_groups().identity_store_id(&instance.identity_store_id),
        "identitystore:ListGroups"
    )?;
    stream::iter(groups)
        .map(|group| async move {
            let memberships: Vec<_> = all_pages!(
                clients
                    .store
                    .list_group_memberships()
                    .identity_store_id(&instance.identity_store_id)
                    .group_id(group.group_id()),
                "identitystore:ListGroupMemberships"
            )?;
            let members = memberships
                .iter()
                .filter_map(|membership| match membership.member_id() {
                    Some(aws_sdk_identitystore::types::MemberId::UserId(id)) => Some(id.clone()),
                    _ => None,
                })
                .collect();
            Ok(IcGroup {
                id: group.group_id().to_owned(),
                name: group.display_name().unwrap_or_default().to_owned(),
                members,
            })
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}

async fn set_arns(clients: &Clients, instance: &Instance) -> Result<Vec<String>, IamExportError> {
    all_pages!(clients.sso.list_permission_sets().instance_arn(&instance.arn), "sso:ListPermissionSets")
}

/// One permission set and the accounts it is provisioned to.
async fn permission_set(
    sso: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    arn: &str,
) -> Result<(PermissionSet, Vec<String>), IamExportError> {
    let described = async {
        sso.describe_permission_set()
            .instance_arn(instance_arn)
            .permission_set_arn(arn)
            .send()
            .await
            .map_err(|err| ic_error("sso:DescribePermissionSet", &err))
    };
    let managed = async {
        all_pages!(
            sso.list_managed_policies_in_permission_set().instance_arn(instance_arn).permission_set_arn(arn),
            "sso:ListManagedPoliciesInPermissionSet"
        )
    };
    let customer = async {
        all_pages!(
            sso.list_customer_managed_policy_references_in_permission_set()
                .instance_arn(instance_arn)
                .permission_set_arn(arn),
            "sso:ListCustomerManagedPolicyReferencesInPermissionSet"
        )
    };
    let inline = async {
        sso.get_inline_policy_for_permission_set()
            .instance_arn(instance_arn)
            .permission_set_arn(arn)
            .send()
            .await
            .map_err(|err| ic_error("sso:GetInlinePolicyForPermissionSet", &err))
    };
    let boundary = async {
        match sso
            .get_permissions_boundary_for_permission_set()
            .instance_arn(instance_arn)
            .permission_set_arn(arn)
            .send()
            .await
        {
            Ok(output) => Ok(output.permissions_boundary().cloned()),
            // No boundary is answered as not found.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
            Err(err) => Err(ic_error("sso:GetPermissionsBoundaryForPermissionSet", &err)),
        }
    };
    let accounts = async {
        all_pages!(
            sso.list_accounts_for_provisioned_permission_set().instance_arn(instance_arn).permission_set_arn(arn),
            "sso:ListAccountsForProvisionedPermissionSet"
        )
    };
    let (described, managed, customer, inline, boundary, accounts) =
        tokio::try_join!(described, managed, customer, inline, boundary, accounts)?;
    let described = described.permission_set();
    let mut policies: Vec<PolicyRef> = managed
        .iter()
        .filter_map(|policy| {
            let arn = policy.arn()?.to_owned();
            let name = policy.name().map_or_else(|| arn.rsplit('/').next().unwrap_or(&arn).to_owned(), str::to_owned);
            Some(PolicyRef::Managed { arn, name })
        })
        .collect();
    policies.extend(customer.iter().map(|reference| PolicyRef::CustomerManaged {
        path: reference.path().unwrap_or("/").to_owned(),
        name: reference.name().to_owned(),
    }));
    let boundary = boundary.and_then(|boundary| {
        match (boundary.managed_policy_arn(), boundary.customer_managed_policy_reference()) {
            (Some(arn), _) => {
                Some(PolicyRef::Managed { arn: arn.to_owned(), name: arn.rsplit('/').next().unwrap_or(arn).to_owned() })
            }
            (None, Some(reference)) => Some(PolicyRef::CustomerManaged {
                path: reference.path().unwrap_or("/").to_owned(),
                name: reference.name().to_owned(),
            }),
            (None, None) => None,
        }
    });
    let set = PermissionSet {
        arn: arn.to_owned(),
        name: described.and_then(|set| set.name()).unwrap_or_default().to_owned(),
        description: described.and_then(|set| set.description()).unwrap_or_default().to_owned(),
        session_duration: described.and_then(|set| set.session_duration()).unwrap_or_default().to_owned(),
        policies,
        inline: inline.inline_policy().filter(|policy| !policy.is_empty()).map(str::to_owned),
        boundary,
    };
    Ok((set, accounts))
}

/// `ListAccountAssignments` for each (set, account) pair, and the pairs AWS refused to list:
/// a delegated administrator may not read the management account's assignments.
async fn by_account(
    sso: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    pairs: &[(&str, &str)],
) -> Result<(Vec<Assignment>, Vec<(String, String)>), IamExportError> {
    let pages: Vec<Result<Vec<Assignment>, (String, String)>> = stream::iter(pairs)
        .map(|(set, account)| async move {
            let listed = sso
                .list_account_assignments()
                .instance_arn(instance_arn)
                .account_id(*account)
                .permission_set_arn(*set)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await;
            let found: Vec<_> = match listed {
                Ok(found) => found,
                Err(err) if code(&err).is_some_and(|code| code.contains("AccessDenied")) => {
                    return Ok(Err(((*set).to_owned(), (*account).to_owned())));
                }
                Err(err) => return Err(ic_error("sso:ListAccountAssignments", &err)),
            };
            Ok::<_, IamExportError>(Ok(found
                .iter()
                .filter_map(|a| {
                    assignment(a.account_id(), a.permission_set_arn(), a.principal_type(), a.principal_id())
                })
                .collect()))
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let (mut read, mut refused) = (Vec::new(), Vec::new());
    for page in pages {
        match page {
            Ok(assignments) => read.push(assignments),
            Err(pair) => refused.push(pair),
        }
    }
    refused.sort();
    Ok((sorted(read), refused))
}

/// `ListAccountAssignmentsForPrincipal` for each user and group.
async fn by_principal(
    sso: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    users: &[IcUser],
    groups: &[IcGroup],
) -> Result<Vec<Assignment>, IamExportError> {
    let principals = users
        .iter()
        .map(|user| (PrincipalType::User, user.id.as_str()))
        .chain(groups.iter().map(|group| (PrincipalType::Group, group.id.as_str())));
    let pages: Vec<Vec<Assignment>> = stream::iter(principals)
        .map(|(kind, id)| async move {
            let found: Vec<_> = all_pages!(
                sso.list_account_assignments_for_principal()
                    .instance_arn(instance_arn)
                    .principal_type(kind)
                    .principal_id(id),
                "sso:ListAccountAssignmentsForPrincipal"
            )?;
            Ok::<_, IamExportError>(
                found
                    .iter()
                    .filter_map(|a| {
                        assignment(a.account_id(), a.permission_set_arn(), a.principal_type(), a.principal_id())
                    })
                    .collect(),
            )
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(sorted(pages))
}

fn assignment(
    account: Option<&str>,
    set: Option<&str>,
    kind: Option<&PrincipalType>,
    id: Option<&str>,
) -> Option<Assignment> {
    let id = id?.to_owned();
    let principal = match kind? {
        PrincipalType::User => Principal::User(id),
        PrincipalType::Group => Principal::Group(id),
        _ => return None,
    };
    Some(Assignment { account_id: account?.to_owned(), permission_set_arn: set?.to_owned(), principal })
}

fn sorted(pages: Vec<Vec<Assignment>>) -> Vec<Assignment> {
    let unique: BTreeSet<Assignment> = pages.into_iter().flatten().collect();
    unique.into_iter().collect()
}

/// The documents of the AWS managed policies the sets name (boundaries included): those the
/// account's details carried, and the others asked of IAM. One that IAM does not have is left
/// out, and the finding names it as not evaluated.
async fn managed_documents(
    iam: &aws_sdk_iam::Client,
    sets: &[PermissionSet],
    known: &BTreeMap<String, (String, String)>,
) -> Result<BTreeMap<String, (String, String)>, IamExportError> {
    let named: BTreeMap<&str, &str> = sets
        .iter()
        .flat_map(|set| set.policies.iter().chain(&set.boundary))
        .filter_map(|policy| match policy {
            PolicyRef::Managed { arn, name } => Some((arn.as_str(), name.as_str())),
            PolicyRef::CustomerManaged { .. } => None,
        })
        .collect();
    let mut documents = BTreeMap::new();
    let mut missing = Vec::new();
    for (arn, name) in named {
        match known.get(arn) {
            Some(known) => {
                documents.insert(arn.to_owned(), known.clone());
            }
            None => missing.push((arn, name)),
        }
    }
    let asked: Vec<Option<(String, (String, String))>> = stream::iter(missing)
        .map(|(arn, name)| async move {
            let policy = match iam.get_policy().policy_arn(arn).send().await {
                Ok(output) => output,
                Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => return Ok(None),
                Err(err) => return Err(crate::aws::iam_error("GetPolicy", &err)),
            };
            let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else { return Ok(None) };
            let output = iam
                .get_policy_version()
                .policy_arn(arn)
                .version_id(version)
                .send()
                .await
                .map_err(|err| crate::aws::iam_error("GetPolicyVersion", &err))?;
            let document = output.policy_version().and_then(|v| v.document()).map(str::to_owned);
            Ok(document.map(|document| (arn.to_owned(), (name.to_owned(), document))))
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    documents.extend(asked.into_iter().flatten());
    Ok(documents)
}

fn is_access_denied(err: &IamExportError) -> bool {
    matches!(err, IamExportError::IdentityCenter { access_denied: true, .. })
}

fn ic_error<E>(operation: &'static str, err: &aws_sdk_iam::error::SdkError<E>) -> IamExportError
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    IamExportError::IdentityCenter {
        operation,
        message: describe(err),
        transient: is_transient(err),
        access_denied: code(err).is_some_and(|code| code.contains("AccessDenied")),
    }
}
