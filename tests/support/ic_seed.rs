//! An account's Identity Center, seeded through the emulator's sso-admin and identitystore:
//! users, groups, permission sets with each kind of policy, and assignments.

use anyhow::{Context as _, Result};
use aws_sdk_ssoadmin::types::{CustomerManagedPolicyReference, PermissionsBoundary, PrincipalType, TargetType};

use crate::TestAccount;

/// The instance the emulator made in the account's region, and clients to fill it.
#[derive(Debug, Clone)]
pub struct IdentityCenter {
    pub sso: aws_sdk_ssoadmin::Client,
    pub store: aws_sdk_identitystore::Client,
    pub instance_arn: String,
    pub identity_store_id: String,
}

/// What a permission set holds.
#[derive(Debug, Clone, Default)]
pub struct SetSpec<'a> {
    pub name: &'a str,
    pub session_duration: &'a str,
    /// AWS managed policies' ARNs.
    pub managed: &'a [&'a str],
    /// Customer-managed policies' names (path `/`).
    pub customer_managed: &'a [&'a str],
    pub inline: Option<&'a str>,
    /// A customer-managed policy's name as the boundary.
    pub boundary: Option<&'a str>,
}

impl IdentityCenter {
    pub async fn of(account: &TestAccount) -> Result<Self> {
        Self::in_region(account, "us-east-1").await
    }

    /// The instance of `account` in `region` (the emulator makes one in each).
    pub async fn in_region(account: &TestAccount, region: &str) -> Result<Self> {
        let aws = account.aws.in_region(region);
        let sso = shared::aws_client!(aws_sdk_ssoadmin, &aws);
        let store = shared::aws_client!(aws_sdk_identitystore, &aws);
        let listed = sso.list_instances().send().await?;
        let instance = listed.instances().first().context("the emulator's Identity Center instance")?;
        Ok(Self {
            instance_arn: instance.instance_arn().context("instance ARN")?.to_owned(),
            identity_store_id: instance.identity_store_id().context("identity store")?.to_owned(),
            sso,
            store,
        })
    }

    /// A user; returns its id.
    pub async fn user(&self, user_name: &str, display_name: &str, email: &str) -> Result<String> {
        let (given, family) = display_name.split_once(' ').unwrap_or((display_name, "User"));
        let name = aws_sdk_identitystore::types::Name::builder().given_name(given).family_name(family).build();
        let email = aws_sdk_identitystore::types::Email::builder().value(email).r#type("work").primary(true).build();
        let created = self
            .store
            .create_user()
            .identity_store_id(&self.identity_store_id)
            .user_name(user_name)
            .display_name(display_name)
            .name(name)
            .emails(email)
            .send()
            .await?;
        Ok(created.user_id().to_owned())
    }

    /// A group of `members` (user ids); returns its id.
    pub async fn group(&self, name: &str, members: &[&str]) -> Result<String> {
        let created =
            self.store.create_group().identity_store_id(&self.identity_store_id).display_name(name).send().await?;
        let group_id = created.group_id().to_owned();
        for member in members {
            self.store
                .create_group_membership()
                .identity_store_id(&self.identity_store_id)
                .group_id(&group_id)
                .member_id(aws_sdk_identitystore::types::MemberId::UserId((*member).to_owned()))
                .send()
                .await?;
        }
        Ok(group_id)
    }

    /// A permission set as `spec` says; returns its ARN.
    pub async fn permission_set(&self, spec: &SetSpec<'_>) -> Result<String> {
        let created = self
            .sso
            .create_permission_set()
            .instance_arn(&self.instance_arn)
            .name(spec.name)
            .session_duration(spec.session_duration)
            .send()
            .await?;
        let arn = created.permission_set().and_then(|set| set.permission_set_arn()).context("set ARN")?.to_owned();
        for policy in spec.managed {
            self.sso
                .attach_managed_policy_to_permission_set()
                .instance_arn(&self.instance_arn)
                .permission_set_arn(&arn)
                .managed_policy_arn(*policy)
                .send()
                .await?;
        }
        for name in spec.customer_managed {
            let reference = CustomerManagedPolicyReference::builder().name(*name).path("/").build()?;
            self.sso
                .attach_customer_managed_policy_reference_to_permission_set()
                .instance_arn(&self.instance_arn)
                .permission_set_arn(&arn)
                .customer_managed_policy_reference(reference)
                .send()
                .await?;
        }
        if let Some(document) = spec.inline {
            self.sso
                .put_inline_policy_to_permission_set()
                .instance_arn(&self.instance_arn)
                .permission_set_arn(&arn)
                .inline_policy(document)
                .send()
                .await?;
        }
        if let Some(name) = spec.boundary {
            let reference = CustomerManagedPolicyReference::builder().name(name).path("/").build()?;
            let boundary = PermissionsBoundary::builder().customer_managed_policy_reference(reference).build();
            self.sso
                .put_permissions_boundary_to_permission_set()
                .instance_arn(&self.instance_arn)
                .permission_set_arn(&arn)
                .permissions_boundary(boundary)
                .send()
                .await?;
        }
        Ok(arn)
    }

    /// Assigns `set` in `account` to a user (`group: false`) or a group.
    pub async fn assign(&self, account: &str, set: &str, principal_id: &str, group: bool) -> Result<()> {
        self.sso
            .create_account_assignment()
            .instance_arn(&self.instance_arn)
            .target_id(account)
            .target_type(TargetType::AwsAccount)
            .permission_set_arn(set)
            .principal_type(if group { PrincipalType::Group } else { PrincipalType::User })
            .principal_id(principal_id)
            .send()
            .await?;
        Ok(())
    }

    /// Deletes the instance: the account is then one with no Identity Center, as most are.
    pub async fn delete_instance(&self) -> Result<()> {
        self.sso.delete_instance().instance_arn(&self.instance_arn).send().await?;
        Ok(())
    }
}
