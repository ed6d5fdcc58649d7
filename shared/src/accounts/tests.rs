use super::*;
use crate::config::parse_settings;

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|id| (*id).to_owned()).collect()
}

#[test]
fn empty_settings_mean_this_account_only() {
    let config = parse_settings(AccountsConfig::from_env, &[]).expect("valid");
    assert_eq!(config, AccountsConfig::default());
    assert_eq!(
        (config.scope.clone(), config.role_name.as_str(), config.concurrency),
        (Scope::ThisAccount, "CloudOpsToolkitMember", 8)
    );
    assert!(!config.is_multi_account());
}

#[test]
fn settings_are_parsed() {
    let config = parse_settings(
        AccountsConfig::from_env,
        &[
            ("ACCOUNTS", "Organization"),
            ("ORGANIZATIONAL_UNITS", "ou-ab12-cdef3456, Workloads/Prod ,/Sandbox/,r-ab12"),
            ("EXCLUDE_ACCOUNTS", "111111111111 222222222222,\n333333333333"),
            ("MEMBER_ROLE_NAME", "OpsReader"),
            ("MEMBER_EXTERNAL_ID", "d9f0c1e2-hub"),
            ("ACCOUNT_CONCURRENCY", "16"),
        ],
    )
    .expect("valid");
    assert_eq!(
        config.scope,
        Scope::Organization {
            units: vec![
                UnitFilter::Id("ou-ab12-cdef3456".into()),
                UnitFilter::Path("/Workloads/Prod/".into()),
                UnitFilter::Path("/Sandbox/".into()),
                UnitFilter::Id("r-ab12".into()),
            ]
        }
    );
    assert_eq!(config.exclude, ids(&["111111111111", "222222222222", "333333333333"]));
    assert_eq!((config.role_name.as_str(), config.external_id.as_deref()), ("OpsReader", Some("d9f0c1e2-hub")));
    assert_eq!(config.concurrency, 16);

    let listed = parse_settings(AccountsConfig::from_env, &[("ACCOUNTS", "222222222222,111111111111")]).expect("valid");
    assert_eq!(listed.scope, Scope::Listed(vec!["111111111111".into(), "222222222222".into()]));
}

#[test]
fn errors_name_the_setting_and_the_form() {
    for (pairs, expected) in [
        (
            &[("ACCOUNTS", "all")][..],
            "invalid setting ACCOUNTS=\"all\": expected 12-digit account ids separated by commas (\"all\" is not one), or `organization`",
        ),
        (&[("ACCOUNTS", "1234")][..], "invalid setting ACCOUNTS=\"1234\""),
        (
            &[("EXCLUDE_ACCOUNTS", "111111111111;2")][..],
            "invalid setting EXCLUDE_ACCOUNTS=\"111111111111;2\": expected 12-digit account ids",
        ),
        (
            &[("ACCOUNTS", "111111111111"), ("ORGANIZATIONAL_UNITS", "ou-ab12-cdef3456")][..],
            "invalid setting ORGANIZATIONAL_UNITS=\"ou-ab12-cdef3456\": expected to be empty unless ACCOUNTS=organization",
        ),
        (
            &[("ACCOUNTS", "organization"), ("ORGANIZATIONAL_UNITS", "ou-AB12")][..],
            "invalid setting ORGANIZATIONAL_UNITS=\"ou-AB12\": expected OU ids",
        ),
        (&[("MEMBER_ROLE_NAME", "arn:aws:iam::1:role/x")][..], "invalid setting MEMBER_ROLE_NAME="),
        (
            &[("MEMBER_EXTERNAL_ID", "x")][..],
            "invalid setting MEMBER_EXTERNAL_ID (its value is a secret and is not shown)",
        ),
        (
            &[("ACCOUNT_CONCURRENCY", "0")][..],
            "invalid setting ACCOUNT_CONCURRENCY=\"0\": expected a whole number from 1 to 64",
        ),
        (&[("ACCOUNT_CONCURRENCY", "many")][..], "invalid setting ACCOUNT_CONCURRENCY=\"many\""),
    ] {
        let err = parse_settings(AccountsConfig::from_env, pairs).expect_err("invalid");
        assert!(err.starts_with(expected), "{pairs:?}: {err}");
    }
}

/// Root r-1 with /Workloads/ (Prod, Dev under it) and /Sandbox/; accounts under each, one
/// suspended, one directly under the root.
fn tree() -> OrgTree {
    let unit =
        |id: &str, name: &str, parent: &str| OrgUnit { id: id.into(), name: name.into(), parent_id: parent.into() };
    let account = |id: &str, name: &str, parent: &str, active: bool| OrgAccount {
        id: id.into(),
        name: name.into(),
        parent_id: parent.into(),
        active,
    };
    OrgTree {
        root_id: "r-1".into(),
        units: vec![
            unit("ou-w", "Workloads", "r-1"),
            unit("ou-p", "Prod", "ou-w"),
            unit("ou-d", "Dev", "ou-w"),
            unit("ou-s", "Sandbox", "r-1"),
        ],
        accounts: vec![
            account("100000000000", "management", "r-1", true),
            account("200000000001", "payments-prod", "ou-p", true),
            account("200000000002", "search-prod", "ou-p", true),
            account("300000000001", "payments-dev", "ou-d", true),
            account("300000000002", "old-dev", "ou-d", false),
            account("400000000001", "alice-sandbox", "ou-s", true),
        ],
    }
}

fn check(scope: Scope, exclude: &[&str], expected: (&[&str], &[&str], &[&str])) {
    let selection = select(&scope, &ids(exclude), Some(&tree())).expect("selects");
    let got = |accounts: &[Account]| accounts.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    let want = |list: &[&str]| list.iter().map(|id| (*id).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        (got(&selection.accounts), got(&selection.excluded), got(&selection.inactive)),
        (want(expected.0), want(expected.1), want(expected.2)),
        "{scope:?} excluding {exclude:?}"
    );
}

#[test]
fn selection_follows_scope_units_exclusions_and_state() {
    let org = |units: Vec<UnitFilter>| Scope::Organization { units };
    let path = |p: &str| UnitFilter::Path(p.into());
    let id = |p: &str| UnitFilter::Id(p.into());
    check(
        org(vec![]),
        &[],
        (&["100000000000", "200000000001", "200000000002", "300000000001", "400000000001"], &[], &["300000000002"]),
    );
    // An OU includes its children's accounts.
    check(
        org(vec![path("/Workloads/")]),
        &[],
        (&["200000000001", "200000000002", "300000000001"], &[], &["300000000002"]),
    );
    check(
        org(vec![id("ou-p"), id("ou-s")]),
        &["200000000002"],
        (&["200000000001", "400000000001"], &["200000000002"], &[]),
    );
    // Overlapping units count an account once.
    check(
        org(vec![id("ou-w"), path("/Workloads/Prod/")]),
        &["300000000001"],
        (&["200000000001", "200000000002"], &["300000000001"], &["300000000002"]),
    );
    check(
        org(vec![path("/")]),
        &["100000000000"],
        (&["200000000001", "200000000002", "300000000001", "400000000001"], &["100000000000"], &["300000000002"]),
    );
    // A listed account outside the organization is still worked on, without a name.
    check(
        Scope::Listed(vec!["200000000001".into(), "999999999999".into()]),
        &[],
        (&["200000000001", "999999999999"], &[], &[]),
    );
    check(Scope::ThisAccount, &[], (&[], &[], &[]));
}

#[test]
fn accounts_carry_their_name_and_ou_path() {
    let selection = select(&Scope::Organization { units: vec![] }, &BTreeSet::new(), Some(&tree())).expect("selects");
    let paths: Vec<(&str, &str, &str)> =
        selection.accounts.iter().map(|a| (a.id.as_str(), a.name.as_str(), a.ou_path.as_str())).collect();
    assert_eq!(
        paths,
        vec![
            ("100000000000", "management", "/"),
            ("200000000001", "payments-prod", "/Workloads/Prod/"),
            ("200000000002", "search-prod", "/Workloads/Prod/"),
            ("300000000001", "payments-dev", "/Workloads/Dev/"),
            ("400000000001", "alice-sandbox", "/Sandbox/"),
        ]
    );
    // Without the tree (Organizations refused), listed accounts have ids only.
    let listed = select(&Scope::Listed(vec!["200000000001".into()]), &BTreeSet::new(), None).expect("selects");
    assert_eq!(listed.accounts, vec![Account::unnamed("200000000001")]);
}

#[test]
fn an_unknown_unit_is_named() {
    for filter in [UnitFilter::Id("ou-zz".into()), UnitFilter::Path("/Workloads/Staging/".into())] {
        let err = select(&Scope::Organization { units: vec![filter.clone()] }, &BTreeSet::new(), Some(&tree()))
            .expect_err("unknown unit");
        let unit = match filter {
            UnitFilter::Id(unit) | UnitFilter::Path(unit) => unit,
        };
        assert!(
            err.to_string().starts_with(&format!(
                "ORGANIZATIONAL_UNITS names {unit}, which is not in the organization (root r-1)"
            )),
            "{err}"
        );
    }
}

#[test]
fn partitions_follow_the_region() {
    for (region, partition) in
        [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("", "aws")]
    {
        assert_eq!(access::partition_of(region), partition, "{region}");
    }
}

#[tokio::test]
async fn work_runs_per_account_with_bounded_concurrency_and_keeps_order() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let accounts: Vec<Account> = (0..20).map(|n| Account::unnamed(&format!("{n:012}"))).collect();
    let (running, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let results = for_each_account(&accounts, 4, |account| {
        let (running, peak) = (&running, &peak);
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            // One account failing is one entry.
            if account.id.ends_with('7') { Err(account.id.clone()) } else { Ok(account.id.clone()) }
        }
    })
    .await;
    assert_eq!(peak.load(Ordering::SeqCst), 4);
    assert_eq!(results.len(), 20);
    assert_eq!(results[7], Err("000000000007".to_owned()));
    assert_eq!(results[19], Ok("000000000019".to_owned()));
}
