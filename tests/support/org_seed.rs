//! An AWS Organization in the emulator, built the way a platform team builds one: a
//! management account (the hub) with OUs, member accounts made by `CreateAccount` and
//! moved into them, and the spoke template (`member-role.yaml`) deployed to the OUs by a
//! service-managed StackSet. The emulator's STS checks each member role's trust policy
//! (`scripts/moto_server.py`), so a missing role or a wrong external id is refused as on AWS.

use anyhow::{Context as _, Result};
use aws_sdk_cloudformation::types::{Capability, DeploymentTargets, Parameter, PermissionModels};

use super::{Moto, TestAccount, workspace_root};

/// The external id the hub is configured with and the StackSet deployed.
pub const EXTERNAL_ID: &str = "hub-7f3a-external-id";
pub const MEMBER_ROLE: &str = "CloudOpsToolkitMember";
/// The hub's function roles, as the hub stack's outputs name them and member-role.yaml's
/// `HubRoleArns` takes them.
fn hub_role_arns(hub: &str) -> String {
    ["IamExport", "EksScheduler"]
        .map(|function| format!("arn:aws:iam::{hub}:role/cloud-ops-toolkit-{function}FunctionRole-TEST"))
        .join(",")
}

/// The OUs, by path; members are spread over the three leaves in turn.
pub const LEAVES: [&str; 3] = ["/Workloads/Prod/", "/Workloads/Dev/", "/Sandbox/"];

#[derive(Debug)]
pub struct Org {
    /// The management account, where the hub's functions run.
    pub hub: TestAccount,
    pub root_id: String,
    /// `o-…`, which the member role admits the hub's roles from (`aws:PrincipalOrgID`).
    pub organization_id: String,
    /// OU path to id: `/Workloads/`, and the three leaves.
    pub units: Vec<(String, String)>,
    /// In creation order; member `i` is named `member-{i:02}` and sits in `LEAVES[i % 3]`.
    pub members: Vec<Member>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub account: TestAccount,
    pub name: String,
    pub ou_path: &'static str,
}

impl Org {
    /// An organization with `members` member accounts, the member role deployed to all of them.
    pub async fn new(members: usize) -> Result<Self> {
        let endpoint = Moto::shared().url();
        let hub = TestAccount::new().await;
        let organizations = shared::aws_client!(aws_sdk_organizations, &hub.aws);
        let created = organizations
            .create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await?;
        let organization_id =
            created.organization().and_then(|organization| organization.id()).context("an organization id")?.to_owned();
        let roots = organizations.list_roots().send().await?;
        let root_id = roots.roots().first().and_then(|root| root.id()).context("a root")?.to_owned();
        let mut org = Self { hub, root_id: root_id.clone(), organization_id, units: Vec::new(), members: Vec::new() };
        let workloads = org.unit(&organizations, &root_id, "/Workloads/").await?;
        org.unit(&organizations, &workloads, "/Workloads/Prod/").await?;
        org.unit(&organizations, &workloads, "/Workloads/Dev/").await?;
        org.unit(&organizations, &root_id, "/Sandbox/").await?;
        for index in 0..members {
            org.add_member(&organizations, endpoint, index).await?;
        }
        org.deploy_member_role(&["/Workloads/", "/Sandbox/"]).await?;
        Ok(org)
    }

    async fn unit(
        &mut self,
        organizations: &aws_sdk_organizations::Client,
        parent: &str,
        path: &str,
    ) -> Result<String> {
        let name = path.trim_matches('/').rsplit('/').next().context("a name")?;
        let created = organizations.create_organizational_unit().parent_id(parent).name(name).send().await?;
        let id = created.organizational_unit().and_then(|unit| unit.id()).context("an OU id")?.to_owned();
        self.units.push((path.to_owned(), id.clone()));
        Ok(id)
    }

    pub fn unit_id(&self, path: &str) -> &str {
        self.units.iter().find(|(p, _)| p == path).map(|(_, id)| id.as_str()).unwrap_or_else(|| panic!("no OU {path}"))
    }

    /// Makes member `index` (after the StackSet ran, it has no member role).
    pub async fn add_member(
        &mut self,
        organizations: &aws_sdk_organizations::Client,
        endpoint: &str,
        index: usize,
    ) -> Result<Member> {
        let name = format!("member-{index:02}");
        let created = organizations
            .create_account()
            .account_name(&name)
            .email(format!("aws+{name}-{}@example.com", self.hub.id))
            .send()
            .await?;
        let id =
            created.create_account_status().and_then(|status| status.account_id()).context("account id")?.to_owned();
        let ou_path = LEAVES[index % LEAVES.len()];
        organizations
            .move_account()
            .account_id(&id)
            .source_parent_id(&self.root_id)
            .destination_parent_id(self.unit_id(ou_path))
            .send()
            .await?;
        let member = Member { account: TestAccount::existing(endpoint, &id).await, name, ou_path };
        self.members.push(member.clone());
        Ok(member)
    }

    /// `member-role.yaml` by a service-managed StackSet to `units` (children included), as docs/organization.md says.
    async fn deploy_member_role(&self, units: &[&str]) -> Result<()> {
        let cloudformation = shared::aws_client!(aws_sdk_cloudformation, &self.hub.aws);
        let template = std::fs::read_to_string(workspace_root().join("member-role.yaml"))?;
        let parameter = |key: &str, value: &str| Parameter::builder().parameter_key(key).parameter_value(value).build();
        cloudformation
            .create_stack_set()
            .stack_set_name("cloud-ops-toolkit-member")
            .template_body(template)
            .permission_model(PermissionModels::ServiceManaged)
            .capabilities(Capability::CapabilityNamedIam)
            .parameters(parameter("HubRoleArns", &hub_role_arns(&self.hub.id)))
            .parameters(parameter("OrganizationId", &self.organization_id))
            .parameters(parameter("ExternalId", EXTERNAL_ID))
            .send()
            .await?;
        let mut targets = DeploymentTargets::builder();
        for unit in units {
            targets = targets.organizational_unit_ids(self.unit_id(unit));
        }
        cloudformation
            .create_stack_instances()
            .stack_set_name("cloud-ops-toolkit-member")
            .deployment_targets(targets.build())
            .regions("us-east-1")
            .send()
            .await?;
        Ok(())
    }

    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        shared::aws_client!(aws_sdk_organizations, &self.hub.aws)
    }
}
