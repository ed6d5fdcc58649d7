//! Reads the organization's tree from AWS Organizations: one walk from the root, two
//! paginated calls per OU (its child OUs, its accounts), none per account.

use aws_sdk_organizations::Client;

use super::{OrgAccount, OrgTree, OrgUnit};

/// Why the organization could not be read, with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganizationError {
    #[error(
        "this account is not in an AWS Organization ({message}): set ACCOUNTS to a list of account ids, or leave it empty for this account only"
    )]
    NotInUse { message: String },
    #[error(
        "Organizations {operation} was refused ({message}): ACCOUNTS=organization runs in the management account or a delegated administrator account, and the function's role needs organizations:ListRoots, organizations:ListOrganizationalUnitsForParent and organizations:ListAccountsForParent"
    )]
    AccessDenied { operation: &'static str, message: String },
    #[error("Organizations {operation} failed: {message}")]
    Call { operation: &'static str, message: String, transient: bool },
}

impl OrganizationError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Call { transient: true, .. })
    }
}

fn failure<E>(
    operation: &'static str,
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> OrganizationError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = crate::error::describe(err);
    match crate::error::code(err) {
        Some("AWSOrganizationsNotInUseException") => OrganizationError::NotInUse { message },
        Some("AccessDeniedException" | "AccessDenied") => OrganizationError::AccessDenied { operation, message },
        _ => OrganizationError::Call { operation, message, transient: crate::error::is_transient(err) },
    }
}

/// The whole tree: the root, every OU with its parent, every account with its parent.
pub async fn read_tree(organizations: &Client) -> Result<OrgTree, OrganizationError> {
    let pages = organizations
        .list_roots()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| failure("ListRoots", &err))?;
    let root_id = pages.iter().flat_map(|page| page.roots()).find_map(|root| root.id()).unwrap_or_default().to_owned();
    let mut tree = OrgTree { root_id: root_id.clone(), ..OrgTree::default() };
    let mut parents = vec![root_id];
    while let Some(parent) = parents.pop() {
        let pages = organizations
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|err| failure("ListOrganizationalUnitsForParent", &err))?;
        for unit in pages.iter().flat_map(|page| page.organizational_units()) {
            let id = unit.id().unwrap_or_default().to_owned();
            parents.push(id.clone());
            tree.units.push(OrgUnit {
                id,
                name: unit.name().unwrap_or_default().to_owned(),
                parent_id: parent.clone(),
            });
        }
        let pages = organizations
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|err| failure("ListAccountsForParent", &err))?;
        for account in pages.iter().flat_map(|page| page.accounts()) {
            tree.accounts.push(OrgAccount {
                id: account.id().unwrap_or_default().to_owned(),
                name: account.name().unwrap_or_default().to_owned(),
                parent_id: parent.clone(),
                active: account.status().is_none_or(|status| status.as_str() == "ACTIVE"),
            });
        }
    }
    Ok(tree)
}
