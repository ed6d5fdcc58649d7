//! A seeded IAM account: users with groups, policies, tags, keys, console passwords and
//! MFA, each user a function of its index, so a test can both seed and expect.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use aws_sdk_iam::types::Tag;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub const GROUPS: &[&str] = &["developers", "operators", "auditors", "data-science", "billing"];
pub const POLICIES: &[&str] = &["ReadOnlyReports", "DeployPipelines", "RotateOwnKeys"];

/// What the seeded account gives user number `index`: the single source of truth
/// for seeding and for the expected cells.
#[derive(Debug, Clone)]
pub struct SeedUser {
    pub name: String,
    pub path: &'static str,
    pub groups: Vec<&'static str>,
    pub attached: Vec<&'static str>,
    pub inline: Vec<String>,
    pub tags: Vec<(&'static str, String)>,
    pub console: bool,
    pub mfa: bool,
    pub access_keys: usize,
}

pub fn seed_user(index: usize) -> SeedUser {
    let name = match index {
        0 => "=danger".to_owned(),
        1 => "comma,user".to_owned(),
        2 => "@ops+admin".to_owned(),
        _ => format!("user-{index:04}"),
    };
    let mut groups = vec![GROUPS[index % GROUPS.len()]];
    if index.is_multiple_of(10) {
        groups.push(GROUPS[(index + 1) % GROUPS.len()]);
    }
    SeedUser {
        name,
        path: if index.is_multiple_of(4) { "/engineering/" } else { "/" },
        groups,
        attached: if index.is_multiple_of(3) { vec![POLICIES[index % POLICIES.len()]] } else { Vec::new() },
        inline: if index.is_multiple_of(5) { vec![format!("inline-{index}")] } else { Vec::new() },
        tags: vec![
            ("team", format!("team-{}", index % 7)),
            ("owner", if index == 7 { "Zoë Ångström".to_owned() } else { format!("owner{index}@example.com") }),
        ],
        console: index % 4 == 1,
        mfa: index % 8 == 1,
        access_keys: match index % 6 {
            0 => 0,
            5 => 2,
            _ => 1,
        },
    }
}

pub const POLICY_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

pub async fn seed_account(iam: &aws_sdk_iam::Client, users: usize) -> Result<()> {
    for group in GROUPS {
        iam.create_group().group_name(*group).send().await?;
    }
    let mut policy_arns = HashMap::new();
    for policy in POLICIES {
        let created = iam.create_policy().policy_name(*policy).policy_document(POLICY_DOCUMENT).send().await?;
        let arn = created.policy().and_then(|p| p.arn()).context("policy ARN")?.to_owned();
        policy_arns.insert(*policy, arn);
    }
    let policy_arns = Arc::new(policy_arns);
    // Bounded concurrency: moto is threaded, and 1,500 users one at a time take too long.
    let permits = Arc::new(Semaphore::new(16));
    let mut tasks = JoinSet::new();
    for index in 0..users {
        let (iam, permits, policy_arns) = (iam.clone(), permits.clone(), policy_arns.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire().await?;
            seed_one_user(&iam, &seed_user(index), &policy_arns).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(())
}

async fn seed_one_user(iam: &aws_sdk_iam::Client, user: &SeedUser, policy_arns: &HashMap<&str, String>) -> Result<()> {
    let mut create = iam.create_user().user_name(&user.name).path(user.path);
    for (key, value) in &user.tags {
        create = create.tags(Tag::builder().key(*key).value(value).build()?);
    }
    create.send().await?;
    for group in &user.groups {
        iam.add_user_to_group().group_name(*group).user_name(&user.name).send().await?;
    }
    for policy in &user.attached {
        iam.attach_user_policy().user_name(&user.name).policy_arn(&policy_arns[policy]).send().await?;
    }
    for policy in &user.inline {
        iam.put_user_policy().user_name(&user.name).policy_name(policy).policy_document(POLICY_DOCUMENT).send().await?;
    }
    for _ in 0..user.access_keys {
        iam.create_access_key().user_name(&user.name).send().await?;
    }
    if user.console {
        iam.create_login_profile().user_name(&user.name).password("Correct-Horse-42!").send().await?;
    }
    if user.mfa {
        let device_name = format!("mfa-{}", user.name.replace([',', '=', '@', '+'], "_"));
        let device = iam.create_virtual_mfa_device().virtual_mfa_device_name(device_name).send().await?;
        let serial = device.virtual_mfa_device().map(|d| d.serial_number().to_owned()).context("MFA serial")?;
        iam.enable_mfa_device()
            .user_name(&user.name)
            .serial_number(serial)
            .authentication_code1("123456")
            .authentication_code2("654321")
            .send()
            .await?;
    }
    Ok(())
}
