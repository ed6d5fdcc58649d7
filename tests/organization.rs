//! One deployment across an AWS Organization: the hub in the management account, the
//! member role deployed to the OUs by a StackSet of `member-role.yaml`, and the emulator's
//! STS checking each role's trust policy, so a missing role and a wrong external id are
//! refused as AWS refuses them.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use iam_export::core::{ACCOUNT_COLUMNS, USER_COLUMNS};
use iam_export::{Config, Deps, handle};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::Harness as _;
use tokio::task::JoinSet;

use support::iam_seed::{seed_account, seed_user};
use support::org_seed::{EXTERNAL_ID, MEMBER_ROLE, Org};
use support::{Moto, TestAccount};

/// Users seeded in member `index`: 2 to 4, the first three with hostile names.
fn users_of(index: usize) -> usize {
    2 + index % 3
}

async fn seed_users(accounts: Vec<(TestAccount, usize)>) -> Result<()> {
    let mut tasks = JoinSet::new();
    for (account, users) in accounts {
        tasks.spawn(async move { seed_account(&shared::aws_client!(aws_sdk_iam, &account.aws), users).await });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(())
}

fn iam_config(bucket: &str, settings: &[(&str, &str)]) -> Config {
    let mut pairs = vec![("REPORT_BUCKET", bucket), ("MEMBER_EXTERNAL_ID", EXTERNAL_ID)];
    pairs.extend_from_slice(settings);
    shared::config::parse_settings(Config::from_env, &pairs).expect("valid settings")
}

async fn iam_deps(org: &Org, settings: &[(&str, &str)]) -> Result<Deps> {
    let bucket = org.hub.bucket("org-audit");
    let deps = Deps::new(iam_config(&bucket, settings), &org.hub.aws);
    deps.s3.harness().create_bucket().bucket(&bucket).send().await?;
    Ok(deps)
}

async fn read_object(deps: &Deps, key: &str) -> Result<String> {
    let object = deps.s3.harness().get_object().bucket(&deps.config.report_bucket).key(key).send().await?;
    Ok(String::from_utf8(object.body.collect().await?.into_bytes().to_vec())?)
}

/// The written keys: the users CSV and the accounts summary.
async fn written_keys(deps: &Deps) -> Result<Vec<String>> {
    let listed = deps.s3.harness().list_objects_v2().bucket(&deps.config.report_bucket).send().await?;
    let mut keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key()).map(str::to_owned).collect();
    keys.sort();
    Ok(keys)
}

/// The member role's trust policy with another external id: a spoke deployed with an older one.
async fn trust_another_external_id(org: &Org, member: &TestAccount) -> Result<()> {
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", org.hub.id)},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "an-older-external-id"}}
        }]
    });
    shared::aws_client!(aws_sdk_iam, &member.aws)
        .update_assume_role_policy()
        .role_name(MEMBER_ROLE)
        .policy_document(policy.to_string())
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn iam_export_writes_one_csv_for_the_organization_and_names_each_account_it_could_not_reach() -> Result<()> {
    // Given an organization of 51 members in three OUs, each with its own users: one joined
    // after the StackSet ran (no role), one whose role wants another external id, one excluded
    let mut org = Org::new(50).await?;
    let organizations = org.organizations();
    let orphan = org.add_member(&organizations, Moto::shared().url(), 50).await?; // joined after the StackSet ran
    let stale = org.members[7].clone();
    trust_another_external_id(&org, &stale.account).await?;
    let excluded = org.members[3].clone();
    let mut seeds: Vec<(TestAccount, usize)> =
        org.members.iter().enumerate().map(|(index, member)| (member.account.clone(), users_of(index))).collect();
    seeds.push((org.hub.clone(), 1));
    seed_users(seeds).await?;
    let deps = iam_deps(&org, &[("ACCOUNTS", "organization"), ("EXCLUDE_ACCOUNTS", &excluded.account.id)]).await?;

    // When the scheduled export runs
    let err = handle(&deps, LambdaEvent::new(json!({"source": "schedule"}), Context::default()))
        .await
        .expect_err("two accounts cannot be reached");

    // Then the run fails, naming each account it could not reach, the role and the fix
    let message = err.to_string();
    assert!(message.starts_with("2 of 51 accounts were not exported (the others are in the export;"), "{message}");
    for member in [&orphan, &stale] {
        let role = format!("arn:aws:iam::{}:role/{MEMBER_ROLE}", member.account.id);
        let named = format!("{} ({}): cannot assume {role} (AccessDenied:", member.account.id, member.name);
        assert!(message.contains(&named), "{message}");
    }
    assert!(message.contains("deploy member-role.yaml to account"), "{message}");
    assert!(!message.contains(EXTERNAL_ID), "the external id is never shown: {message}");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "AccountsFailed");

    // And the export of the 49 others (48 members and the hub) is written, with the summary beside
    // it, and the hub's Identity Center files (the emulator gives every account an instance)
    let mut keys = written_keys(&deps).await?;
    let center_files = keys.iter().filter(|key| key.contains("/identity-center-")).count();
    assert_eq!(center_files, 3, "{keys:?}");
    keys.retain(|key| !key.contains("/identity-center-"));
    assert_eq!(keys.len(), 2, "{keys:?}");
    let (accounts_key, users_key) = (&keys[0], &keys[1]);
    assert!(accounts_key.contains("/iam-accounts-") && users_key.contains("/iam-users-"), "{keys:?}");
    let summary: Value = serde_json::from_str(&read_object(&deps, accounts_key).await?)?;
    let lines = summary["accounts"].as_array().context("accounts")?;
    let status_of = |id: &str| lines.iter().find(|line| line["account_id"] == id).map(|line| line["status"].clone());
    assert_eq!(lines.len(), 52, "51 members and the hub");
    assert_eq!(status_of(&org.hub.id), Some(json!("ok")), "the hub's own account, with the function's own role");
    assert_eq!(status_of(&excluded.account.id), Some(json!("excluded")));
    assert_eq!(status_of(&orphan.account.id), Some(json!("failed")));
    assert_eq!(status_of(&stale.account.id), Some(json!("failed")));
    assert_eq!(lines.iter().filter(|line| line["status"] == "ok").count(), 49);
    let mut ids: Vec<&str> = lines.iter().filter_map(|line| line["account_id"].as_str()).collect();
    let sorted = {
        let mut s = ids.clone();
        s.sort();
        s
    };
    assert_eq!(ids, sorted, "by account id");
    ids.dedup();
    assert_eq!(ids.len(), 52);
    let orphan_line = lines.iter().find(|line| line["account_id"] == orphan.account.id.as_str()).context("orphan")?;
    assert_eq!(orphan_line["account_name"], "member-50");
    assert_eq!(orphan_line["ou_path"], "/Sandbox/");
    assert!(orphan_line["reason"].as_str().is_some_and(|r| r.contains("AccessDenied")), "{orphan_line}");

    // The CSV: the account's id, name and OU path lead every row; accounts in id order
    let text = read_object(&deps, users_key).await?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let expected_headers: Vec<&str> = ACCOUNT_COLUMNS.iter().chain(USER_COLUMNS).copied().collect();
    assert_eq!(headers, expected_headers);
    let rows: Vec<HashMap<String, String>> = reader
        .records()
        .map(|record| record.map(|r| headers.iter().cloned().zip(r.iter().map(str::to_owned)).collect()))
        .collect::<Result<_, _>>()?;
    let row_accounts: Vec<&str> = rows.iter().map(|row| row["account_id"].as_str()).collect();
    assert!(row_accounts.windows(2).all(|pair| pair[0] <= pair[1]), "rows sorted by account");
    let expected_rows: usize = org
        .members
        .iter()
        .enumerate()
        .filter(|(_, m)| ![&orphan.account.id, &stale.account.id, &excluded.account.id].contains(&&m.account.id))
        .map(|(index, _)| users_of(index))
        .sum::<usize>()
        + 1;
    assert_eq!(rows.len(), expected_rows, "every user of every exported account, and none of the others");
    for absent in [&orphan, &stale, &excluded] {
        assert!(!row_accounts.contains(&absent.account.id.as_str()), "{} must not be exported", absent.name);
    }
    // A sample, cell by cell: member 10 (in /Workloads/Dev/) and member 2 (/Sandbox/)
    for index in [2, 10, 44] {
        let member = &org.members[index];
        let mine: Vec<&HashMap<String, String>> =
            rows.iter().filter(|row| row["account_id"] == member.account.id).collect();
        assert_eq!(mine.len(), users_of(index), "{}", member.name);
        for user in 0..users_of(index) {
            let seed = seed_user(user);
            let shown = if user == 0 || user == 2 { format!("'{}", seed.name) } else { seed.name.clone() };
            let row = mine
                .iter()
                .find(|row| row["user_name"] == shown)
                .with_context(|| format!("{shown} in {}", member.name))?;
            let cell = |column: &str| row[column].as_str();
            assert_eq!(cell("account_name"), member.name);
            assert_eq!(cell("ou_path"), member.ou_path);
            assert_eq!(cell("arn"), format!("arn:aws:iam::{}:user{}{}", member.account.id, seed.path, seed.name));
            let mut groups = seed.groups.clone();
            groups.sort();
            assert_eq!(cell("groups"), groups.join(";"));
            assert_eq!(cell("attached_policies"), seed.attached.join(";"));
            assert_eq!(cell("console_password_enabled"), seed.console.to_string());
            assert_eq!(cell("mfa_active"), seed.mfa.to_string());
            assert_eq!(cell("access_key_1_active"), (seed.access_keys >= 1).to_string());
            assert_eq!(cell("in_credential_report"), "true", "the member's own credential report");
        }
    }
    let hub_rows: Vec<_> = rows.iter().filter(|row| row["account_id"] == org.hub.id).collect();
    assert_eq!((hub_rows.len(), hub_rows[0]["ou_path"].as_str()), (1, "/"), "the hub sits under the root");
    Ok(())
}

#[tokio::test]
async fn organizational_units_choose_accounts_with_their_children_and_an_unknown_one_is_named() -> Result<()> {
    // Given a small organization
    let org = Org::new(6).await?;
    seed_users(org.members.iter().map(|member| (member.account.clone(), 2)).collect()).await?;

    // When the export is limited to /Workloads/ (Prod and Dev under it)
    let deps = iam_deps(&org, &[("ACCOUNTS", "organization"), ("ORGANIZATIONAL_UNITS", "/Workloads/")]).await?;
    let summary = handle(&deps, LambdaEvent::new(json!({}), Context::default())).await?;

    // Then only the accounts under it are exported: members 0, 1, 3, 4, not the Sandbox or the hub
    let mut expected: Vec<&str> = [0, 1, 3, 4].iter().map(|&i| org.members[i].account.id.as_str()).collect();
    expected.sort();
    let exported: Vec<&str> = summary.accounts.iter().map(|line| line.account_id.as_str()).collect();
    assert_eq!(exported, expected);
    assert_eq!(summary.user_count, 8);
    assert!(summary.accounts.iter().all(|line| line.users == 2 && line.reason.is_none()));

    // And the same by OU id, with an explicit list in another run
    let by_id = iam_config(
        &deps.config.report_bucket,
        &[("ACCOUNTS", "organization"), ("ORGANIZATIONAL_UNITS", org.unit_id("/Sandbox/"))],
    );
    let summary = handle(&Deps::new(by_id, &org.hub.aws), LambdaEvent::new(json!({}), Context::default())).await?;
    let sandbox: Vec<&str> = summary.accounts.iter().map(|line| line.account_name.as_str()).collect();
    assert_eq!(sandbox, sorted_names(&org, &[2, 5]));
    let listed = iam_config(&deps.config.report_bucket, &[("ACCOUNTS", &org.members[1].account.id)]);
    let summary = handle(&Deps::new(listed, &org.hub.aws), LambdaEvent::new(json!({}), Context::default())).await?;
    assert_eq!((summary.accounts.len(), summary.accounts[0].ou_path.as_str()), (1, "/Workloads/Dev/"));

    // An OU that is not in the organization fails the run before any account is touched
    let unknown = iam_config(
        &deps.config.report_bucket,
        &[("ACCOUNTS", "organization"), ("ORGANIZATIONAL_UNITS", "/Workloads/Staging")],
    );
    let unknown = Deps::new(unknown, &org.hub.aws);
    let err = handle(&unknown, LambdaEvent::new(json!({}), Context::default())).await.expect_err("unknown OU");
    assert!(
        err.to_string().starts_with(&format!(
            "ORGANIZATIONAL_UNITS names /Workloads/Staging/, which is not in the organization (root {})",
            org.root_id
        )),
        "{err}"
    );
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "AccountsUnavailable");
    Ok(())
}

fn sorted_names<'a>(org: &'a Org, indices: &[usize]) -> Vec<&'a str> {
    let mut members: Vec<_> = indices.iter().map(|&i| &org.members[i]).collect();
    members.sort_by(|a, b| a.account.id.cmp(&b.account.id));
    members.iter().map(|m| m.name.as_str()).collect()
}

#[tokio::test]
async fn single_account_runs_are_unchanged_when_accounts_is_empty() -> Result<()> {
    // No Organizations or STS call, no account columns, no summary file.
    let account = TestAccount::new().await;
    seed_users(vec![(account.clone(), 2)]).await?;
    let bucket = account.bucket("single");
    // (Identity Center, which the emulator gives every account, has its own tests.)
    let deps = Deps::new(iam_config(&bucket, &[("IDENTITY_CENTER", "false")]), &account.aws);
    deps.s3.harness().create_bucket().bucket(&bucket).send().await?;
    let summary = handle(&deps, LambdaEvent::new(json!({}), Context::default())).await?;
    assert!(summary.accounts.is_empty());
    assert_eq!(summary.keys.len(), 1);
    let text = read_object(&deps, &summary.keys[0]).await?;
    assert!(text.starts_with("user_name,arn,"), "{}", &text[..40]);
    // ListObjectsV2, GenerateCredentialReport, GetCredentialReport, GetAccountAuthorizationDetails, PutObject.
    assert_eq!(summary.api_calls, 5);
    Ok(())
}

mod eks {
    use std::collections::BTreeMap;

    use anyhow::Result;
    use eks_scheduler::core::{Report, Request, RequestedAction, Status};
    use eks_scheduler::{Config, Deps, run};
    use jiff::Timestamp;
    use shared::accounts::AccountStatus;

    use support::Moto;
    use support::eks_seed::{group_state, seed, seed_groups, state_of};
    use support::org_seed::{EXTERNAL_ID, Org};

    const OPTED_IN: &[(&str, &str)] = &[("auto-stop", "true"), ("auto-start", "true")];

    fn app_size(index: usize) -> String {
        format!("1/{}/8", index % 4 + 1)
    }

    async fn scheduler(org: &Org, excluded: &str) -> Deps {
        let settings = [
            ("ACCOUNTS", "organization"),
            ("EXCLUDE_ACCOUNTS", excluded),
            ("REGIONS", "us-east-1,eu-west-1"),
            ("MEMBER_EXTERNAL_ID", EXTERNAL_ID),
        ];
        let config = shared::config::parse_settings(Config::from_env, &settings).expect("valid settings");
        Deps::new(config, &org.hub.aws)
    }

    async fn act(deps: &Deps, action: RequestedAction, id: &str) -> Result<Report> {
        let request = Request { action, dry_run: false, clusters: None };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
        Ok(run(deps, &request, Timestamp::now(), deadline, id).await?)
    }

    /// `(account, region, cluster)` to its nodegroups' sizes, as EKS holds them now.
    async fn sizes(
        org: &Org,
        clusters: &[(String, &str, String)],
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
        let mut all = BTreeMap::new();
        for (account, region, cluster) in clusters {
            let member = org.members.iter().find(|m| &m.account.id == account).map(|m| &m.account).unwrap_or(&org.hub);
            let eks = shared::aws_client!(aws_sdk_eks, &member.aws.in_region(region));
            let (sizes, _) = state_of(&eks, cluster).await?;
            all.insert(format!("{account}/{region}/{cluster}"), sizes.into_iter().collect());
        }
        Ok(all)
    }

    #[tokio::test]
    async fn stops_and_restores_every_cluster_in_every_account_and_region_in_dependency_order() -> Result<()> {
        // Given 12 members, each with an opted-in cluster in two regions; one cluster that needs
        // a cluster in another account and region; one excluded member and one without the role
        let mut org = Org::new(12).await?;
        let organizations = org.organizations();
        let orphan = org.add_member(&organizations, Moto::shared().url(), 12).await?;
        let excluded = org.members[5].account.id.clone();
        let (needed_account, dependent_account) =
            (org.members[1].account.id.clone(), org.members[0].account.id.clone());
        let mut clusters: Vec<(String, &str, String)> = Vec::new();
        let mut expected: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (index, member) in org.members.iter().enumerate() {
            let app = format!("app-{index}");
            let dependency = format!("{needed_account}/eu-west-1/batch");
            let mut tags: Vec<(&str, &str)> = OPTED_IN.to_vec();
            if member.account.id == dependent_account {
                tags.push(("dependency", &dependency));
            }
            let east = shared::aws_client!(aws_sdk_eks, &member.account.aws.in_region("us-east-1"));
            let app_size = app_size(index);
            seed(
                &east,
                &[(&app, &tags, &[("workers", &app_size)]), ("prod", &[("team", "payments")], &[("main", "3/6/12")])],
            )
            .await?;
            let west = shared::aws_client!(aws_sdk_eks, &member.account.aws.in_region("eu-west-1"));
            seed(&west, &[("batch", OPTED_IN, &[("spot", "0/2/4")])]).await?;
            let id = member.account.id.clone();
            for (region, cluster, nodegroup, size) in [
                ("us-east-1", app.clone(), "workers", app_size),
                ("eu-west-1", "batch".to_owned(), "spot", "0/2/4".to_owned()),
            ] {
                clusters.push((id.clone(), region, cluster.clone()));
                expected.insert(format!("{id}/{region}/{cluster}"), BTreeMap::from([(nodegroup.to_owned(), size)]));
            }
            clusters.push((id.clone(), "us-east-1", "prod".to_owned()));
            expected.insert(format!("{id}/us-east-1/prod"), BTreeMap::from([("main".to_owned(), "3/6/12".to_owned())]));
        }
        // and a self-managed group beside the nodegroup of one member's and the excluded member's batch cluster
        let group_tags: &[(&str, &str)] = &[("kubernetes.io/cluster/batch", "owned"), ("eks:cluster-name", "batch")];
        let groups_of = |index: usize| {
            shared::aws_client!(aws_sdk_autoscaling, &org.members[index].account.aws.in_region("eu-west-1"))
        };
        let (member_groups, excluded_groups) = (groups_of(2), groups_of(5));
        for groups in [&member_groups, &excluded_groups] {
            seed_groups(groups, &[("batch-asg", group_tags, "1/2/4")]).await?;
        }
        let before = sizes(&org, &clusters).await?;
        assert_eq!(before, expected, "seeded");
        let deps = scheduler(&org, &excluded).await;

        // When the stop runs
        let stopped = act(&deps, RequestedAction::Stop, "stop-1").await?;

        // Then every opted-in cluster of every reached account and region is at zero, and nothing else moved
        let untouched =
            |key: &str| key.starts_with(&excluded) || key.starts_with(&orphan.account.id) || key.ends_with("/prod");
        let after_stop = sizes(&org, &clusters).await?;
        for (key, nodegroups) in &after_stop {
            for (nodegroup, size) in nodegroups {
                let seeded = &expected[key][nodegroup];
                let want = if untouched(key) {
                    seeded.clone()
                } else {
                    format!("0/0/{}", seeded.rsplit('/').next().unwrap_or(""))
                };
                assert_eq!(size, &want, "{key} {nodegroup}");
            }
        }
        // The cross-account dependency orders the waves: the needed cluster starts first, stops last
        let waves = &stopped.waves["stop"];
        let wave_of = |key: &str| waves.iter().position(|wave| wave.iter().any(|k| k == key));
        let needed = format!("{needed_account}/eu-west-1/batch");
        let dependent = format!("{dependent_account}/us-east-1/app-0");
        assert!(wave_of(&needed) < wave_of(&dependent), "{waves:?}");
        assert!(wave_of(&needed).is_some());
        // Every account and region is reported; the unreachable one names its role and fails the run
        let site = |account: &str, region: &str| {
            stopped.sites.iter().find(|s| s.account_id == account && s.region == region).map(|s| (s.status, s.clusters))
        };
        assert_eq!(site(&org.members[3].account.id, "us-east-1"), Some((AccountStatus::Ok, 2)));
        assert_eq!(site(&org.members[3].account.id, "eu-west-1"), Some((AccountStatus::Ok, 1)));
        assert_eq!(site(&org.hub.id, "eu-west-1"), Some((AccountStatus::Ok, 0)), "the hub itself, with its own role");
        assert_eq!(site(&excluded, ""), Some((AccountStatus::Excluded, 0)));
        assert_eq!(site(&orphan.account.id, ""), Some((AccountStatus::Failed, 0)));
        assert_eq!(
            stopped.sites.len(),
            2 * 12 + 1 + 1,
            "11 members and the hub in two regions, the excluded, the orphan"
        );
        let failure = stopped.failure_summary().unwrap_or_default();
        assert!(
            failure.contains(&format!(
                "account {}: cannot assume arn:aws:iam::{}:role/CloudOpsToolkitMember",
                orphan.account.id, orphan.account.id
            )),
            "{failure}"
        );
        assert!(stopped.clusters.iter().all(|c| c.status != Status::Failed), "no cluster failed: {failure}");
        // The member's self-managed group stopped through its member role, its size on it; the excluded one's did not
        let group = group_state(&member_groups, "batch-asg").await?;
        assert_eq!(
            (group.sizes.as_str(), group.tags.get("eks-scheduler/saved").map(String::as_str)),
            ("0/0/0", Some("1/2/4"))
        );
        assert_eq!(group_state(&excluded_groups, "batch-asg").await?.sizes, "1/2/4");

        // When the start runs, every size comes back exactly
        let started = act(&deps, RequestedAction::Start, "start-1").await?;
        assert!(wave_of(&needed) <= started.waves["start"].iter().position(|w| w.contains(&dependent)));
        assert_eq!(sizes(&org, &clusters).await?, expected, "restored exactly");
        let group = group_state(&member_groups, "batch-asg").await?;
        assert_eq!((group.sizes.as_str(), group.tags.get("eks-scheduler/saved")), ("1/2/4", None));
        Ok(())
    }
}

mod cost {
    use std::time::Duration;

    use anyhow::{Context as _, Result};
    use cost_report::core::Request;
    use cost_report::{Config, Deps, RunSummary, run};
    use jiff::civil::Date;
    use serde_json::{Value, json};

    use support::Harness as _;
    use support::Moto;
    use support::cost_seed::queue_cost_results;
    use support::http_listener::{Answer, HttpListener};
    use support::org_seed::Org;

    /// One `GetCostAndUsage` answer grouped by two keys: every day of the window, each group
    /// `(keys, amount)` the same every day.
    fn two_key_page(first: Date, last: Date, groups: &[(&[&str], &str)]) -> Value {
        let mut results = Vec::new();
        let mut day = first;
        while day <= last {
            let groups: Vec<Value> = groups
                .iter()
                .map(|(keys, amount)| json!({"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}))
                .collect();
            let end = day.tomorrow().expect("tomorrow");
            results.push(json!({"TimePeriod": {"Start": day.to_string(), "End": end.to_string()}, "Total": {}, "Groups": groups, "Estimated": false}));
            day = end;
        }
        json!({"ResultsByTime": results, "DimensionValueAttributes": [], "GroupDefinitions": []})
    }

    async fn report(org: &Org, group_by: &str, slack: &HttpListener) -> Result<(Deps, RunSummary)> {
        let bucket = org.hub.bucket("finops");
        let env = shared::config::Env::from_pairs([
            ("REPORT_BUCKET", bucket.as_str()),
            ("SLACK_WEBHOOK_URL", slack.url.as_str()),
            ("AWS_ENDPOINT_URL", Moto::shared().url()),
            ("GROUP_BY", group_by),
            ("TOP_N", "5"),
        ]);
        let deps = Deps::load(Config::from_env(&env)?, &org.hub.aws).await?;
        deps.s3.harness().create_bucket().bucket(&bucket).send().await?;
        let now = "2026-11-22T07:00:00Z".parse()?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let summary = run(&deps, Request::default(), now, deadline, "org-costs").await?;
        Ok((deps, summary))
    }

    async fn csv(deps: &Deps, key: &str) -> Result<Vec<String>> {
        let bucket = &deps.config.csv.as_ref().context("csv target")?.bucket;
        let object = deps.s3.harness().get_object().bucket(bucket).key(key).send().await?;
        let text = String::from_utf8(object.body.collect().await?.into_bytes().to_vec())?;
        Ok(text.split("\r\n").filter(|l| !l.is_empty()).map(str::to_owned).collect())
    }

    #[tokio::test]
    async fn costs_by_account_and_team_name_the_accounts_and_show_untagged_spend() -> Result<()> {
        // Given an organization whose costs carry a team tag, except one account's
        let org = Org::new(3).await?;
        let (a, b) = (org.members[0].account.id.as_str(), org.members[1].account.id.as_str());
        let page = two_key_page(
            "2026-10-01".parse()?,
            "2026-11-21".parse()?,
            &[
                (&[a, "team$checkout"], "40.00"),
                (&[a, "team$search"], "10.00"),
                (&[b, "team$"], "25.50"),
                (&[&org.hub.id, "team$platform"], "5.00"),
            ],
        );
        queue_cost_results(&org.hub, vec![page]).await?;
        let slack = HttpListener::start(vec![Answer::ok()]).await?;

        // When the report runs grouped by linked account and team
        let (deps, summary) = report(&org, "LINKED_ACCOUNT,TAG:team", &slack).await?;

        // Then accounts carry their names from Organizations, and spend without the tag is "untagged"
        assert!(summary.cost_explorer_requests <= 3, "{}", summary.cost_explorer_requests);
        let names: Vec<&str> = summary.top.iter().map(|line| line.name.as_str()).collect();
        assert_eq!(
            names,
            [
                format!("member-00 ({a}) · checkout"),
                format!("member-01 ({b}) · untagged"),
                format!("member-00 ({a}) · search"),
                format!("master ({}) · platform", org.hub.id), // moto names the management account "master"
            ]
        );
        let rows = csv(&deps, summary.csv_key.as_deref().context("csv")?).await?;
        assert_eq!(rows[0], "date,linked_account,tag:team,amount,unit,estimated");
        assert!(rows.contains(&format!("2026-11-21,member-01 ({b}),untagged,25.5,USD,false")), "{:?}", &rows[..5]);
        let message = slack.bodies().last().cloned().context("a Slack post")?;
        assert!(message.contains(&format!("member-00 ({a}) · checkout")), "{message}");
        assert!(message.contains("linked account and tag team"), "{message}");
        assert!(summary.notes.is_empty(), "{:?}", summary.notes);
        Ok(())
    }

    #[tokio::test]
    async fn a_tag_no_cost_carries_is_pointed_out() -> Result<()> {
        // Given costs whose owner tag is empty everywhere: a key never activated for cost allocation
        let org = Org::new(1).await?;
        let page = two_key_page("2026-10-01".parse()?, "2026-11-21".parse()?, &[(&["owner$"], "12.00")]);
        queue_cost_results(&org.hub, vec![page]).await?;
        let slack = HttpListener::start(vec![Answer::ok()]).await?;

        let (_, summary) = report(&org, "TAG:owner", &slack).await?;

        assert_eq!(summary.notes.len(), 1, "{:?}", summary.notes);
        assert!(
            summary.notes[0]
                .contains("carries the tag owner: if resources have it, activate it as a cost allocation tag")
        );
        let message = slack.bodies().last().cloned().context("a Slack post")?;
        assert!(message.contains("activate it as a cost allocation tag"), "{message}");
        assert_eq!(summary.top[0].name, "untagged");
        Ok(())
    }
}
