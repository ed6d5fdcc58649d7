//! The IAM export end to end against the emulator: a seeded account of 1,500 users,
//! the CSV read back from S3 and checked cell by cell.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use iam_export::core::USER_COLUMNS;
use iam_export::{Config, Deps, ExportSummary, IamExportError, handle};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::Harness as _;

use support::fault_proxy::{FaultKind, FaultPlan, FaultProxy};
use support::iam_seed::{POLICY_DOCUMENT, seed_account, seed_user};
use support::{Moto, TestAccount, event};

fn config(bucket: &str) -> Config {
    Config {
        report_bucket: bucket.to_owned(),
        report_bucket_owner: None,
        report_prefix: "iam-export".to_owned(),
        kms_key_id: None,
        include_roles: false,
        access_key_ids: Default::default(),
        identity_center: false,
        identity_center_region: None,
        metrics: shared::metrics::MetricsConfig::local("iam-export"),
        accounts: Default::default(),
    }
}

async fn with_bucket(account: &TestAccount, config: Config) -> Result<Deps> {
    let deps = Deps::new(config, &account.aws);
    deps.s3.harness().create_bucket().bucket(&deps.config.report_bucket).send().await?;
    support::default_encryption(&deps.s3.harness(), &deps.config.report_bucket, None).await?;
    Ok(deps)
}

async fn run(deps: &Deps, payload: Value) -> Result<ExportSummary, IamExportError> {
    handle(deps, LambdaEvent::new(payload, Context::default())).await
}

/// The CSV at `key`, as one map of column to cell per row, keyed by user or role name.
async fn read_csv(deps: &Deps, key: &str) -> Result<(Vec<String>, HashMap<String, HashMap<String, String>>)> {
    let object = deps.s3.harness().get_object().bucket(&deps.config.report_bucket).key(key).send().await?;
    let bytes = object.body.collect().await?.into_bytes();
    let text = String::from_utf8(bytes.to_vec())?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let mut rows = HashMap::new();
    for record in reader.records() {
        let record = record?;
        let row: HashMap<String, String> = headers.iter().cloned().zip(record.iter().map(str::to_owned)).collect();
        rows.insert(record[0].to_owned(), row);
    }
    Ok((headers, rows))
}

#[tokio::test]
async fn exports_1500_users_in_a_few_api_calls_with_every_cell_right() -> Result<()> {
    // Given an account of 1,500 users with groups, policies, tags, keys, passwords and MFA
    let account = TestAccount::new().await;
    let deps = with_bucket(&account, config(&account.bucket("iam-audit"))).await?;
    let iam = shared::aws_client!(aws_sdk_iam, &account.aws);
    seed_account(&iam, 1500).await?;

    // When the scheduled export runs
    let summary = run(&deps, event("iam-export-scheduled.json")).await?;

    // Then one CSV lands under the dated prefix, with one row per user
    assert_eq!(summary.user_count, 1500);
    assert_eq!(summary.role_count, 0);
    assert_eq!(summary.keys.len(), 1);
    let key = &summary.keys[0];
    assert!(key.starts_with("iam-export/") && key.contains("/iam-users-") && key.ends_with("Z.csv"), "{key}");
    assert!(summary.api_calls < 10, "API calls grow with pages, not users: {}", summary.api_calls);

    let head = deps.s3.harness().head_object().bucket(&deps.config.report_bucket).key(key).send().await?;
    assert_eq!(head.content_type(), Some("text/csv; charset=utf-8"));
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("AES256"));

    let (headers, rows) = read_csv(&deps, key).await?;
    assert_eq!(headers, USER_COLUMNS);
    assert_eq!(rows.len(), 1500, "the emulator's report has no root line, so users only");

    let mut expected_no_mfa_with_console = 0;
    for index in 0..1500 {
        let seed = seed_user(index);
        let shown = match index {
            0 | 2 => format!("'{}", seed.name),
            _ => seed.name.clone(),
        };
        let row = rows.get(&shown).with_context(|| format!("row for {shown}"))?;
        if seed.console && !seed.mfa {
            expected_no_mfa_with_console += 1;
        }
        if index % 97 != 0 && index > 10 {
            continue; // a sample, checked cell by cell
        }
        let mut groups = seed.groups.clone();
        groups.sort();
        let mut tags: Vec<String> = seed.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        tags.sort();
        let cell = |column: &str| row[column].as_str();
        assert_eq!(cell("arn"), format!("arn:aws:iam::{}:user{}{}", account.id, seed.path, seed.name), "{shown}");
        assert_eq!(cell("path"), seed.path, "{shown}");
        assert_eq!(cell("is_root_account"), "false");
        assert_eq!(cell("in_credential_report"), "true", "{shown}");
        assert_eq!(cell("groups"), groups.join(";"), "{shown}");
        assert_eq!(cell("attached_policies"), seed.attached.join(";"), "{shown}");
        assert_eq!(cell("inline_policies"), seed.inline.join(";"), "{shown}");
        assert_eq!(cell("tags"), tags.join(";"), "{shown}");
        assert_eq!(cell("console_password_enabled"), seed.console.to_string(), "{shown}");
        assert_eq!(cell("mfa_active"), seed.mfa.to_string(), "{shown}");
        assert_eq!(cell("access_key_1_active"), (seed.access_keys >= 1).to_string(), "{shown}");
        assert_eq!(cell("access_key_2_active"), (seed.access_keys >= 2).to_string(), "{shown}");
        assert_eq!(cell("access_key_1_last_rotated").is_empty(), seed.access_keys == 0, "{shown}");
        assert_eq!(cell("access_key_1_last_used_date"), "", "{shown}: never used");
        assert_eq!(cell("password_last_used"), "", "{shown}: no_information is an empty cell");
        assert!(cell("created").ends_with('Z') && cell("created").len() == 20, "{shown}: {}", cell("created"));
        assert_eq!(cell("days_since_last_activity"), "", "{shown}");
        assert_eq!(cell("oldest_active_key_age_days"), if seed.access_keys > 0 { "0" } else { "" }, "{shown}");
        assert_eq!(cell("no_mfa_with_console"), (seed.console && !seed.mfa).to_string(), "{shown}");
        assert_eq!(cell("key_older_than_90d"), "false", "{shown}");
        assert_eq!(cell("unused_45d"), "false", "{shown}");
    }
    assert_eq!(rows["user-0007"]["tags"], "owner=Zoë Ångström;team=team-0", "UTF-8 kept");
    assert_eq!(summary.findings.no_mfa_with_console, expected_no_mfa_with_console);
    assert_eq!(
        expected_no_mfa_with_console, 187,
        "console users (index % 4 == 1) less those with MFA (index % 8 == 1)"
    );
    // Keys and passwords were all made moments ago: none is old or unused yet.
    assert_eq!(summary.findings.key_older_than_90d, 0);
    assert_eq!(summary.findings.unused_45d, 0);
    assert_eq!(summary.users_not_in_credential_report, 0);
    Ok(())
}

#[tokio::test]
async fn manual_invoke_adds_the_roles_file_with_trust_principals_and_sse_kms() -> Result<()> {
    let account = TestAccount::new().await;
    let mut config = config(&account.bucket("iam-roles"));
    config.kms_key_id = Some("alias/audit-reports".to_owned());
    let deps = with_bucket(&account, config).await?;
    let iam = shared::aws_client!(aws_sdk_iam, &account.aws);
    seed_account(&iam, 3).await?;
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com", "AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}]
    });
    iam.create_role().role_name("deployer").path("/ci/").assume_role_policy_document(trust.to_string()).send().await?;
    iam.put_role_policy()
        .role_name("deployer")
        .policy_name("deploy-inline")
        .policy_document(POLICY_DOCUMENT)
        .send()
        .await?;

    // The manual event asks for roles although the configuration does not.
    let summary = run(&deps, event("iam-export-manual.json")).await?;

    assert_eq!((summary.user_count, summary.role_count), (3, 1));
    assert_eq!(summary.keys.len(), 2);
    assert!(summary.keys[1].contains("/iam-roles-"), "{:?}", summary.keys);
    let (_, roles) = read_csv(&deps, &summary.keys[1]).await?;
    let deployer = &roles["deployer"];
    assert_eq!(deployer["arn"], format!("arn:aws:iam::{}:role/ci/deployer", account.id));
    assert_eq!(deployer["path"], "/ci/");
    assert_eq!(deployer["inline_policies"], "deploy-inline");
    assert_eq!(deployer["trust_principals"], "AWS:arn:aws:iam::111122223333:root;Service:lambda.amazonaws.com");
    for key in &summary.keys {
        let head = deps.s3.harness().head_object().bucket(&deps.config.report_bucket).key(key).send().await?;
        assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"), "{key}");
        assert_eq!(head.ssekms_key_id(), Some("alias/audit-reports"), "{key}");
    }
    Ok(())
}

/// A policy document of `statements`, as a string.
fn document(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

#[tokio::test]
async fn each_user_and_role_says_whether_it_is_an_administrator_through_what_and_its_verdict() -> Result<()> {
    // Given an account whose identities reach administrator in each way, or are kept from it
    let account = TestAccount::new().await;
    let deps = with_bucket(&account, config(&account.bucket("iam-admins"))).await?;
    let iam = shared::aws_client!(aws_sdk_iam, &account.aws);
    let everything = json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]);
    let mut arns = HashMap::new();
    for (name, statements) in [
        // The emulator holds no AWS managed policy (see local-aws.md): a customer copy of it.
        ("AdministratorAccess", everything.clone()),
        ("s3-only", json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}])),
        (
            "launch-with-any-role",
            json!([{"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                   {"Sid": "Launch", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}]),
        ),
    ] {
        let created = iam.create_policy().policy_name(name).policy_document(document(statements)).send().await?;
        arns.insert(name, created.policy().and_then(|p| p.arn()).context("policy ARN")?.to_owned());
    }
    iam.create_group().group_name("platform").send().await?;
    let iam_all = document(json!([{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]));
    iam.put_group_policy().group_name("platform").policy_name("iam-all").policy_document(iam_all).send().await?;
    for user in ["alice", "bob", "carol", "erin", "frank"] {
        iam.create_user().user_name(user).send().await?;
    }
    // alice: AdministratorAccess, a console password, no MFA
    iam.attach_user_policy().user_name("alice").policy_arn(&arns["AdministratorAccess"]).send().await?;
    iam.create_login_profile().user_name("alice").password("Correct-Horse-42!").send().await?;
    // bob: full IAM through his group
    iam.add_user_to_group().group_name("platform").user_name("bob").send().await?;
    // carol: may launch instances with any role she passes
    iam.attach_user_policy().user_name("carol").policy_arn(&arns["launch-with-any-role"]).send().await?;
    // erin: AdministratorAccess, and a Deny of everything
    iam.attach_user_policy().user_name("erin").policy_arn(&arns["AdministratorAccess"]).send().await?;
    let deny = document(json!([{"Effect": "Deny", "Action": "*", "Resource": "*"}]));
    iam.put_user_policy().user_name("erin").policy_name("quarantine").policy_document(deny).send().await?;
    // frank: nothing at all
    // and three roles: an administrator, one held within a boundary of S3 (the emulator has no
    // user boundaries), and one that holds nothing
    let trust = document(
        json!([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
    );
    for role in ["break-glass", "bounded", "leftover"] {
        iam.create_role().role_name(role).assume_role_policy_document(&trust).send().await?;
    }
    for role in ["break-glass", "bounded"] {
        iam.attach_role_policy().role_name(role).policy_arn(&arns["AdministratorAccess"]).send().await?;
    }
    iam.put_role_permissions_boundary().role_name("bounded").permissions_boundary(&arns["s3-only"]).send().await?;

    // When the export runs with roles
    let summary = run(&deps, json!({"include_roles": true})).await?;

    // Then each row says it, cell by cell
    let (headers, users) = read_csv(&deps, &summary.keys[0]).await?;
    for column in ["admin", "admin_via", "verdict", "verdict_reason"] {
        assert!(headers.iter().any(|h| h == column), "{column} in {headers:?}");
    }
    let cells = |name: &str| -> Result<[String; 4]> {
        let row = users.get(name).with_context(|| format!("{name}'s row"))?;
        Ok(["admin", "admin_via", "verdict", "verdict_reason"].map(|c| row[c].clone()))
    };
    assert_eq!(
        cells("alice")?,
        ["yes", "* on * via AdministratorAccess (statement 0)", "review", "administrator without MFA"]
            .map(str::to_owned)
    );
    assert_eq!(
        cells("bob")?[..2],
        ["yes".to_owned(), "full IAM (iam:*) via group platform: inline:iam-all (statement 0)".to_owned()]
    );
    assert_eq!(cells("bob")?[2..], ["keep".to_owned(), "made today, not used yet".to_owned()]);
    assert_eq!(
        cells("carol")?[..2],
        [
            "possible".to_owned(),
            "iam:PassRole with ec2:RunInstances via launch-with-any-role (Pass), launch-with-any-role (Launch)"
                .to_owned()
        ]
    );
    assert_eq!(cells("erin")?[..2], ["no".to_owned(), String::new()]);
    assert_eq!(
        cells("frank")?,
        ["no", "", "remove", "no permissions: no policy, directly or through a group"].map(str::to_owned)
    );
    let (_, roles) = read_csv(&deps, &summary.keys[1]).await?;
    assert_eq!((roles["break-glass"]["admin"].as_str(), roles["break-glass"]["verdict"].as_str()), ("yes", "keep"));
    assert_eq!((roles["bounded"]["admin"].as_str(), roles["bounded"]["verdict"].as_str()), ("no", "keep"));
    assert_eq!(roles["leftover"]["verdict"], "remove");
    // and the summary counts them: alice, bob and break-glass; frank and leftover.
    // Bob cannot sign in at all (no password, no key): not an administrator without MFA.
    assert_eq!((summary.findings.admins, summary.findings.admins_without_mfa), (3, 1), "{:?}", summary.findings);
    assert_eq!((summary.findings.to_remove, summary.findings.to_review), (2, 1));
    Ok(())
}

#[tokio::test]
async fn a_key_a_finding_names_is_shown_by_its_id_beside_its_owner_and_team() -> Result<()> {
    // Given a user with two keys, the first made 200 days ago, tagged with its owner and team,
    // and a user whose one key is new
    let account = TestAccount::new().await;
    let deps = with_bucket(&account, config(&account.bucket("iam-key-ids"))).await?;
    let iam = shared::aws_client!(aws_sdk_iam, &account.aws);
    let tag = |key: &str, value: &str| aws_sdk_iam::types::Tag::builder().key(key).value(value).build();
    iam.create_user()
        .user_name("old-keys")
        .tags(tag("Owner", "ana@example.com")?)
        .tags(tag("team", "payments")?)
        .send()
        .await?;
    iam.create_user().user_name("new-key").send().await?;
    let mut ids = Vec::new();
    for user in ["old-keys", "old-keys", "new-key"] {
        let made = iam.create_access_key().user_name(user).send().await?;
        ids.push(made.access_key().map(|key| key.access_key_id().to_owned()).context("key id")?);
    }
    account.age_access_key("old-keys", &ids[0], 200).await?;

    // When the export runs
    let summary = run(&deps, json!({})).await?;

    // Then the old key's finding names it by id, and the row carries both ids, owner and team
    let (headers, rows) = read_csv(&deps, &summary.keys[0]).await?;
    assert_eq!(headers, USER_COLUMNS);
    let old = &rows["old-keys"];
    assert_eq!(
        ["access_key_1_id", "access_key_2_id", "owner", "team", "key_older_than_90d", "verdict"]
            .map(|c| old[c].as_str()),
        [ids[0].as_str(), ids[1].as_str(), "ana@example.com", "payments", "true", "remove"]
    );
    // (neither key was ever used, and the user is as old as its first key)
    assert_eq!(
        old["verdict_reason"],
        format!(
            "no permissions: no policy, directly or through a group; no sign-in and no active key used in 90 days \
             (never used); access key {} is 200 days old",
            ids[0]
        )
    );
    // and a user no finding names costs no ListAccessKeys: its id stays empty
    assert_eq!(rows["new-key"]["access_key_1_id"], "");
    assert_eq!(rows["new-key"]["access_key_1_active"], "true");

    // And with ACCESS_KEY_IDS=all, every key's id is there
    let mut every = config(&deps.config.report_bucket);
    every.access_key_ids = iam_export::core::KeyIds::All;
    let summary = run(&Deps::new(every, &account.aws), json!({})).await?;
    let (_, rows) = read_csv(&deps, &summary.keys[0]).await?;
    assert_eq!(rows["new-key"]["access_key_1_id"], ids[2]);
    Ok(())
}

#[tokio::test]
async fn a_missing_bucket_fails_clearly_before_any_iam_work() -> Result<()> {
    let account = TestAccount::new().await;
    let bucket = account.bucket("no-such-bucket");
    let deps = Deps::new(config(&bucket), &account.aws);

    let err = run(&deps, json!({})).await.expect_err("the bucket does not exist");

    let message = err.to_string();
    assert!(message.starts_with(&format!("report bucket {bucket} does not exist: create it")), "{message}");
    assert_eq!(deps.api_calls.get(), 1, "one listing of the bucket, no IAM calls, nothing written");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "ReportBucketUnavailable");
    Ok(())
}

#[tokio::test]
async fn a_bucket_of_another_account_is_refused_and_nothing_is_written_there() -> Result<()> {
    // Given a report bucket name that another account holds now (the audit bucket was
    // deleted and its name taken), and the function told which account must own it,
    let (account, squatter) = (TestAccount::new().await, TestAccount::new().await);
    seed_account(&shared::aws_client!(aws_sdk_iam, &account.aws), 2).await?;
    let bucket = squatter.bucket("audit-taken");
    squatter.aws.s3().create_bucket().bucket(&bucket).send().await?;
    let owned_by_us = Config { report_bucket_owner: Some(account.id.clone()), ..config(&bucket) };
    let deps = Deps::new(owned_by_us, &account.aws);

    // when the export runs,
    let calls_before = deps.api_calls.get();
    let err = run(&deps, json!({})).await.expect_err("another account's bucket");

    // then S3 refuses the first request, the error says why, and nothing reached the bucket.
    let message = err.to_string();
    assert!(message.starts_with(&format!("report bucket {bucket} cannot be used: ")), "{message}");
    assert!(message.contains("must belong to REPORT_BUCKET_OWNER"), "{message}");
    assert_eq!(deps.api_calls.get() - calls_before, 1, "one listing of the bucket, refused");
    let listed = squatter.aws.s3().list_objects_v2().bucket(&bucket).send().await?;
    assert_eq!(listed.key_count(), Some(0), "nothing written to the other account's bucket");

    // And with the bucket's true owner named, the same export is written.
    let ours = account.bucket("audit-ours");
    account.aws.s3().create_bucket().bucket(&ours).send().await?;
    let deps = Deps::new(Config { report_bucket_owner: Some(account.id.clone()), ..config(&ours) }, &account.aws);
    let summary = run(&deps, json!({})).await?;
    assert!(!summary.keys.is_empty(), "{summary:?}");
    Ok(())
}

#[tokio::test]
async fn a_malformed_event_is_rejected_before_any_call() -> Result<()> {
    let account = TestAccount::new().await;
    let deps = Deps::new(config(&account.bucket("unused")), &account.aws);

    let err = run(&deps, json!({"include_roles": "sometimes"})).await.expect_err("bad field");

    assert_eq!(err.to_string(), r#"invalid event: field include_roles is "sometimes": expected true or false"#);
    assert_eq!(deps.api_calls.get(), 0);
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "InvalidEvent");
    Ok(())
}

#[tokio::test]
async fn a_run_whose_write_fails_leaves_no_file_even_one_s3_stored() -> Result<()> {
    let account = TestAccount::new().await;
    seed_account(&shared::aws_client!(aws_sdk_iam, &account.aws), 3).await?;
    let bucket = account.bucket("iam-export-partial");
    account.aws.s3().create_bucket().bucket(&bucket).send().await?;
    // Every PutObject reaches S3 and is stored, and every answer is lost (a reset): the
    // SDK's retries all end the same way, and the run fails with a file in the bucket.
    let proxy =
        FaultProxy::start(Moto::shared().url(), FaultPlan::always("s3", "PutObject", FaultKind::ResetAfterForward))
            .await;
    let deps = Deps::new(config(&bucket), &account.as_deployed(&proxy.url).await);

    let err = run(&deps, json!({"include_roles": true})).await.expect_err("every write fails");

    assert!(proxy.requests_for("PutObject") > 1, "the SDK retried the write");
    let message = err.to_string();
    assert!(message.contains("iam-users-"), "{message}");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "Retryable", "{message}");
    let left = account.aws.s3().list_objects_v2().bucket(&bucket).send().await?;
    let keys: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.is_empty(), "a failed run left {keys:?}");
    Ok(())
}
