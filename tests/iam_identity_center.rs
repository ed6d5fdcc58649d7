//! The IAM export's Identity Center files, end to end against the emulator's sso-admin and
//! identitystore: users in groups, permission sets with each kind of policy, assignments to
//! users and to groups across accounts, checked cell by cell; and an account with no
//! instance, which gets no file and no error.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use iam_export::core::{IC_ACCESS_COLUMNS, IC_PERMISSION_SET_COLUMNS, IC_USER_COLUMNS};
use iam_export::{Config, Deps, ExportSummary, handle};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::fault_proxy::{FaultKind, FaultPlan, FaultProxy};
use support::ic_seed::{IdentityCenter, SetSpec};
use support::{Harness as _, Moto, TestAccount};

const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const READ_ONLY_ACCESS: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
/// Accounts assigned to but not read by a single-account run.
const OTHER_ACCOUNT: &str = "111111111111";

async fn deps(account: &TestAccount, purpose: &str) -> Result<Deps> {
    deps_with(account, purpose, &[]).await
}

async fn deps_with(account: &TestAccount, purpose: &str, settings: &[(&str, &str)]) -> Result<Deps> {
    let bucket = account.bucket(purpose);
    let mut pairs: Vec<(&str, &str)> = vec![("REPORT_BUCKET", bucket.as_str())];
    pairs.extend_from_slice(settings);
    let config = shared::config::parse_settings(Config::from_env, &pairs).map_err(anyhow::Error::msg)?;
    assert!(config.identity_center, "Identity Center is on by default");
    let deps = Deps::new(config, &account.aws);
    deps.s3.harness().create_bucket().bucket(&deps.config.report_bucket).send().await?;
    Ok(deps)
}

async fn run(deps: &Deps, payload: Value) -> Result<ExportSummary> {
    Ok(handle(deps, LambdaEvent::new(payload, Context::default())).await?)
}

/// The file at the key that contains `kind`: its header, and its rows as column-to-cell maps.
async fn file(
    deps: &Deps,
    summary: &ExportSummary,
    kind: &str,
) -> Result<(Vec<String>, Vec<BTreeMap<String, String>>)> {
    let key =
        summary.keys.iter().find(|key| key.contains(kind)).with_context(|| format!("{kind} in {:?}", summary.keys))?;
    let object = deps.s3.harness().get_object().bucket(&deps.config.report_bucket).key(key).send().await?;
    let bytes = object.body.collect().await?.into_bytes();
    let mut reader = csv::Reader::from_reader(bytes.as_ref());
    let headers: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        rows.push(headers.iter().cloned().zip(record?.iter().map(str::to_owned)).collect());
    }
    Ok((headers, rows))
}

fn cells(row: &BTreeMap<String, String>, columns: &[&str]) -> Vec<String> {
    columns.iter().map(|column| row.get(*column).cloned().unwrap_or_else(|| format!("<no {column}>"))).collect()
}

fn document(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

#[tokio::test]
async fn identity_center_users_their_access_and_permission_sets_are_exported_cell_by_cell() -> Result<()> {
    // Given an account that holds an Identity Center instance, and two policies of its own
    let account = TestAccount::new().await;
    let deps = deps(&account, "ic-audit").await?;
    let iam = shared::aws_client!(aws_sdk_iam, &account.aws);
    let deploy = document(json!([{"Sid": "Deploy", "Effect": "Allow",
        "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}]));
    iam.create_policy().policy_name("deploy-policy").policy_document(deploy).send().await?;
    let s3_only = document(json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]));
    iam.create_policy().policy_name("s3-only").policy_document(s3_only).send().await?;

    // with four users, two of them in a group,
    let center = IdentityCenter::of(&account).await?;
    let ana = center.user("ana", "Ana Lima", "ana@example.com").await?;
    let bo = center.user("bo", "Bo Berg", "bo@example.com").await?;
    let cy = center.user("cy", "Cy Chen", "=cy@example.com").await?;
    center.user("di", "Di Dahl", "di@example.com").await?;
    let ops = center.group("ops", &[&ana, &bo]).await?;
    // four permission sets: AWS managed, customer-managed with an inline policy, a boundary
    // that caps AdministratorAccess, and one assigned to nobody
    let admin = center
        .permission_set(&SetSpec {
            name: "Admin",
            session_duration: "PT1H",
            managed: &[ADMINISTRATOR_ACCESS],
            ..SetSpec::default()
        })
        .await?;
    let logs = document(json!([{"Sid": "Logs", "Effect": "Allow", "Action": "logs:*", "Resource": "*"}]));
    let deployer = center
        .permission_set(&SetSpec {
            name: "Deployer",
            session_duration: "PT8H",
            customer_managed: &["deploy-policy"],
            inline: Some(&logs),
            ..SetSpec::default()
        })
        .await?;
    let bounded = center
        .permission_set(&SetSpec {
            name: "Bounded",
            session_duration: "PT4H",
            managed: &[ADMINISTRATOR_ACCESS],
            boundary: Some("s3-only"),
            ..SetSpec::default()
        })
        .await?;
    center
        .permission_set(&SetSpec {
            name: "Unused",
            session_duration: "PT1H",
            managed: &[READ_ONLY_ACCESS],
            ..SetSpec::default()
        })
        .await?;
    // assigned to the group and to users, in this account and in one the run does not read
    let here = account.id.as_str();
    center.assign(here, &admin, &ops, true).await?;
    center.assign(OTHER_ACCOUNT, &admin, &ana, false).await?;
    center.assign(here, &deployer, &cy, false).await?;
    center.assign(OTHER_ACCOUNT, &deployer, &cy, false).await?;
    center.assign(here, &bounded, &cy, false).await?;

    // When the export runs, reading assignments whichever way is cheaper
    let summary = run(&deps, json!({})).await?;

    // Then the access file has a row per user, account, set and way it was assigned
    let (headers, access) = file(&deps, &summary, "/identity-center-access-").await?;
    assert_eq!(headers, IC_ACCESS_COLUMNS);
    let mut rows: Vec<Vec<String>> = access
        .iter()
        .map(|row| {
            cells(row, &["user_name", "account_id", "permission_set", "assigned_via", "session_duration", "admin"])
        })
        .collect();
    rows.sort();
    let row = |cells: [&str; 6]| cells.map(str::to_owned).to_vec();
    let mut expected = vec![
        row(["ana", here, "Admin", "group ops", "PT1H", "yes"]),
        row(["ana", OTHER_ACCOUNT, "Admin", "direct", "PT1H", "yes"]),
        row(["bo", here, "Admin", "group ops", "PT1H", "yes"]),
        row(["cy", here, "Bounded", "direct", "PT4H", "no"]),
        row(["cy", here, "Deployer", "direct", "PT8H", "possible"]),
        row(["cy", OTHER_ACCOUNT, "Deployer", "direct", "PT8H", "no"]),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    let find = |user: &str, account: &str, set: &str| {
        access
            .iter()
            .find(|r| r["user_name"] == user && r["account_id"] == account && r["permission_set"] == set)
            .with_context(|| format!("{user} {account} {set}"))
    };
    let cy_deployer_here = find("cy", here, "Deployer")?;
    assert_eq!(
        cells(
            cy_deployer_here,
            &["managed_policies", "customer_managed_policies", "inline_policy", "permissions_boundary"]
        ),
        ["", "/deploy-policy", "true", ""]
    );
    assert_eq!(
        cy_deployer_here["admin_via"],
        "iam:PassRole with lambda:CreateFunction and lambda:InvokeFunction via /deploy-policy (Deploy)"
    );
    assert_eq!(
        find("cy", OTHER_ACCOUNT, "Deployer")?["admin_via"],
        format!("not evaluated: /deploy-policy (account {OTHER_ACCOUNT} not read)")
    );
    let cy_bounded = find("cy", here, "Bounded")?;
    assert_eq!(
        cells(cy_bounded, &["managed_policies", "permissions_boundary", "admin_via"]),
        ["AdministratorAccess", "/s3-only", ""]
    );
    assert_eq!(find("ana", here, "Admin")?["admin_via"], "* on * via AdministratorAccess (statement 0)");
    assert_eq!(find("ana", here, "Admin")?["permission_set_arn"], admin);

    // the users file one row per user, with its groups, reach, highest admin and verdict
    let (headers, users) = file(&deps, &summary, "/identity-center-users-").await?;
    assert_eq!(headers, IC_USER_COLUMNS);
    let users: Vec<Vec<String>> = users
        .iter()
        .map(|row| {
            cells(
                row,
                &[
                    "user_name",
                    "display_name",
                    "emails",
                    "groups",
                    "accounts",
                    "permission_sets",
                    "admin",
                    "verdict",
                    "verdict_reason",
                ],
            )
        })
        .collect();
    let user = |cells: [&str; 9]| cells.map(str::to_owned).to_vec();
    assert_eq!(
        users,
        vec![
            user([
                "ana",
                "Ana Lima",
                "ana@example.com",
                "ops",
                "2",
                "Admin",
                "yes",
                "keep",
                "access to 2 accounts through 1 permission set"
            ]),
            user([
                "bo",
                "Bo Berg",
                "bo@example.com",
                "ops",
                "1",
                "Admin",
                "yes",
                "keep",
                "access to 1 account through 1 permission set"
            ]),
            // A cell that a spreadsheet would run as a formula is neutralised.
            user([
                "cy",
                "Cy Chen",
                "'=cy@example.com",
                "",
                "2",
                "Bounded;Deployer",
                "possible",
                "keep",
                "access to 2 accounts through 2 permission sets"
            ]),
            user([
                "di",
                "Di Dahl",
                "di@example.com",
                "",
                "0",
                "",
                "no",
                "remove",
                "no access: no permission set assigned, directly or through a group"
            ]),
        ]
    );

    // the permission sets file one row per set, with its own verdict
    let (headers, sets) = file(&deps, &summary, "/identity-center-permission-sets-").await?;
    assert_eq!(headers, IC_PERMISSION_SET_COLUMNS);
    let sets: Vec<Vec<String>> = sets
        .iter()
        .map(|row| cells(row, &["permission_set", "accounts", "principals", "admin", "verdict", "verdict_reason"]))
        .collect();
    let set = |cells: [&str; 6]| cells.map(str::to_owned).to_vec();
    assert_eq!(
        sets,
        vec![
            set(["Admin", "2", "2", "yes", "keep", "assigned to 2 users or groups in 2 accounts"]),
            set(["Bounded", "1", "1", "no", "keep", "assigned to 1 user or group in 1 account"]),
            set(["Deployer", "2", "1", "possible", "keep", "assigned to 1 user or group in 2 accounts"]),
            set(["Unused", "0", "0", "no", "review", "assigned to nobody"]),
        ]
    );

    // and the summary counts them, beside the IAM users' own findings
    let center_summary = summary.identity_center.clone().context("Identity Center in the summary")?;
    assert_eq!((center_summary.users, center_summary.permission_sets, center_summary.access_rows), (4, 4, 6));
    assert_eq!(
        (center_summary.findings.admins, center_summary.findings.to_remove, center_summary.findings.to_review),
        (2, 1, 1)
    );
    // 5 (set, account) pairs against 4 users and 1 group: a tie reads by account.
    assert_eq!(center_summary.assignments_read, "by-account");
    assert_eq!((summary.findings.admins, summary.findings.to_remove), (2, 1), "no IAM users here");

    // And reading by principal gives the same files, byte for byte
    let by_principal = run(&deps, json!({"identity_center_assignments": "by-principal"})).await?;
    assert_eq!(by_principal.identity_center.as_ref().map(|c| c.assignments_read), Some("by-principal"));
    for kind in ["/identity-center-access-", "/identity-center-users-", "/identity-center-permission-sets-"] {
        assert_eq!(file(&deps, &by_principal, kind).await?, file(&deps, &summary, kind).await?, "{kind}");
    }
    Ok(())
}

#[tokio::test]
async fn an_account_without_identity_center_gets_no_file_and_no_error_and_another_region_can_be_named() -> Result<()> {
    // Given an account with no Identity Center instance (most accounts of an organization)
    let account = TestAccount::new().await;
    let deps = deps(&account, "ic-none").await?;
    IdentityCenter::of(&account).await?.delete_instance().await?;

    // When the export runs with Identity Center on
    let summary = run(&deps, json!({})).await?;

    // Then it succeeds with the IAM users file alone
    assert_eq!(summary.identity_center, None);
    assert_eq!(summary.keys.len(), 1, "{:?}", summary.keys);
    assert!(summary.keys[0].contains("/iam-users-"), "{:?}", summary.keys);

    // And where the instance lives in another region, IDENTITY_CENTER_REGION finds it
    let elsewhere = IdentityCenter::in_region(&account, "eu-west-1").await?;
    elsewhere.user("eva", "Eva Ek", "eva@example.com").await?;
    let deps = deps_with(&account, "ic-elsewhere", &[("IDENTITY_CENTER_REGION", "eu-west-1")]).await?;
    let summary = run(&deps, json!({})).await?;
    assert_eq!(summary.identity_center.as_ref().map(|c| c.users), Some(1), "{:?}", summary.keys);
    let (_, users) = file(&deps, &summary, "/identity-center-users-").await?;
    assert_eq!(users.iter().map(|u| u["user_name"].as_str()).collect::<Vec<_>>(), ["eva"]);
    Ok(())
}

#[tokio::test]
async fn assignments_aws_refuses_to_list_are_named_and_the_rest_is_exported() -> Result<()> {
    // Given 2 users holding 3 sets in 2 accounts: 6 (set, account) pairs, so reading by
    // principal (2 requests) is the cheaper way
    let account = TestAccount::new().await;
    let center = IdentityCenter::of(&account).await?;
    let users = [
        center.user("ana", "Ana Lima", "ana@example.com").await?,
        center.user("bo", "Bo Berg", "bo@example.com").await?,
    ];
    for (index, name) in ["Audit", "Billing", "Support"].into_iter().enumerate() {
        let set = center
            .permission_set(&SetSpec {
                name,
                session_duration: "PT1H",
                managed: &[READ_ONLY_ACCESS],
                ..SetSpec::default()
            })
            .await?;
        for target in [account.id.as_str(), OTHER_ACCOUNT] {
            center.assign(target, &set, &users[index % 2], false).await?;
        }
    }

    // When AWS refuses every ListAccountAssignmentsForPrincipal (only the management account may
    // ask it; a delegated administrator may not)
    let refused = FaultKind::Refused { status: 400, error_type: "AccessDeniedException" };
    let proxy = FaultProxy::start(
        Moto::shared().url(),
        FaultPlan::always("sso", "ListAccountAssignmentsForPrincipal", refused),
    )
    .await;
    let bucket = account.bucket("ic-refused");
    let config = shared::config::parse_settings(Config::from_env, &[("REPORT_BUCKET", bucket.as_str())])
        .map_err(anyhow::Error::msg)?;
    let deps = Deps::new(config.clone(), &account.as_deployed(&proxy.url).await);
    deps.s3.harness().create_bucket().bucket(&bucket).send().await?;
    let summary = run(&deps, json!({})).await?;

    // Then the run reads by account instead, and every assignment is there
    assert!(proxy.requests_for("ListAccountAssignmentsForPrincipal") >= 1, "by principal was tried first");
    let center_summary = summary.identity_center.clone().context("Identity Center")?;
    assert_eq!((center_summary.assignments_read, center_summary.access_rows), ("by-account", 6));
    assert!(center_summary.accounts_unreadable.is_empty());

    // And when AWS refuses to list one (set, account) pair (a delegated administrator asking
    // for the management account's), the others are exported and the account is named
    let proxy =
        FaultProxy::start(Moto::shared().url(), FaultPlan::first("sso", "ListAccountAssignments", refused, Some(1)))
            .await;
    let deps = Deps::new(config, &account.as_deployed(&proxy.url).await);
    let summary = run(&deps, json!({"identity_center_assignments": "by-account"})).await?;
    let center_summary = summary.identity_center.clone().context("Identity Center")?;
    assert_eq!(center_summary.access_rows, 5, "one pair of six was refused");
    assert_eq!(center_summary.accounts_unreadable.len(), 1, "{center_summary:?}");
    let (_, access) = file(&deps, &summary, "/identity-center-access-").await?;
    assert_eq!(access.len(), 5);
    let in_refused = access.iter().filter(|row| row["account_id"] == center_summary.accounts_unreadable[0]).count();
    assert_eq!(in_refused, 2, "the refused account keeps its two other sets' rows");
    Ok(())
}
