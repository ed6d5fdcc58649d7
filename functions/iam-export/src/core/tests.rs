use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::json;

use super::credential_report::normalize_sentinel;
use super::*;

const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

fn ts(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

/// "Now" in every test: a fixed instant, so ages are exact.
fn now() -> Timestamp {
    ts("2026-06-30T12:00:00Z")
}

/// A time `days` whole days before `now()`, an hour earlier still so `whole_days_between` gives `days`.
fn days_ago(days: i64) -> String {
    let at = now().as_second() - days * 86_400 - 3_600;
    format_time(Timestamp::from_second(at).expect("in range")).replace('Z', "+00:00")
}

fn report(lines: &[String]) -> Vec<CredentialRow> {
    let text = std::iter::once(HEADER.to_owned()).chain(lines.iter().cloned()).collect::<Vec<_>>().join("\n");
    parse_credential_report(&text).expect("test report parses")
}

/// A report line for `user` from the credential fields that matter to the findings.
struct Line<'a> {
    user: &'a str,
    created: String,
    password: &'a str,
    password_last_used: String,
    mfa: &'a str,
    key1: (&'a str, String, String),
    key2: (&'a str, String, String),
}

impl Default for Line<'_> {
    fn default() -> Self {
        Self {
            user: "alice",
            created: days_ago(400),
            password: "false",
            password_last_used: "N/A".into(),
            mfa: "false",
            key1: ("false", "N/A".into(), "N/A".into()),
            key2: ("false", "N/A".into(), "N/A".into()),
        }
    }
}

impl Line<'_> {
    fn render(&self) -> String {
        let pwd_changed = if self.password == "true" { days_ago(300) } else { "N/A".into() };
        let key = |(active, rotated, used): &(&str, String, String)| {
            let (region, service) = if used == "N/A" { ("N/A", "N/A") } else { ("eu-west-1", "s3") };
            format!("{active},{rotated},{used},{region},{service}")
        };
        format!(
            "{user},arn:aws:iam::123456789012:user/{user},{created},{password},{last_used},{pwd_changed},N/A,{mfa},{k1},{k2},false,N/A,false,N/A",
            user = self.user,
            created = self.created,
            password = self.password,
            last_used = self.password_last_used,
            mfa = self.mfa,
            k1 = key(&self.key1),
            k2 = key(&self.key2),
        )
    }
}

fn user(name: &str) -> UserDetail {
    UserDetail {
        name: name.to_owned(),
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        path: "/".to_owned(),
        created: Some(ts(&days_ago(400))),
        ..UserDetail::default()
    }
}

fn row_for(line: Line<'_>) -> UserRow {
    let rows = build_user_rows(&[user(line.user)], &report(&[line.render()]), &Authorization::default(), now());
    rows.into_iter().next().expect("one row")
}

#[test]
fn sentinels_become_empty_cells() {
    for (value, expected) in [
        ("N/A", None),
        ("no_information", None),
        ("not_supported", None),
        ("", None),
        (" ", None),
        ("true", Some("true")),
        ("2026-01-01T00:00:00+00:00", Some("2026-01-01T00:00:00+00:00")),
    ] {
        assert_eq!(normalize_sentinel(value), expected, "{value:?}");
    }
}

#[test]
fn report_parses_root_and_user_lines() {
    let rows = report(&[
        "<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-06-01T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A".into(),
        "bob,arn:aws:iam::123456789012:user/bob,2024-02-03T04:05:06+00:00,true,no_information,2024-02-03T04:05:06+00:00,N/A,false,true,2024-02-03T04:05:07+00:00,2026-06-29T08:00:00+00:00,us-east-1,iam,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A".into(),
    ]);
    assert_eq!(rows.len(), 2);
    assert!(rows[0].is_root());
    assert_eq!(rows[0].password_enabled, None, "not_supported is empty");
    assert_eq!(rows[0].mfa_active, Some(true));
    let bob = &rows[1];
    assert_eq!(bob.password_enabled, Some(true));
    assert_eq!(bob.password_last_used, None, "no_information is empty");
    assert!(bob.access_keys[0].active);
    assert_eq!(bob.access_keys[0].last_used, Some(ts("2026-06-29T08:00:00Z")));
    assert_eq!(bob.access_keys[0].last_used_service.as_deref(), Some("iam"));
    assert_eq!(bob.access_keys[0].last_used_region.as_deref(), Some("us-east-1"));
    assert_eq!(bob.access_keys[1], AccessKeyUsage::default());
}

#[test]
fn report_errors_name_the_line_and_column() {
    let check = |text: &str, expected: &str| {
        let err = parse_credential_report(text).expect_err(text);
        assert_eq!(err.to_string(), expected);
    };
    check("user,arn\nx,y", "credential report: column user_creation_time is missing from the header");
    let bad_date = Line { created: "yesterday".into(), ..Line::default() }.render();
    check(
        &format!("{HEADER}\n{bad_date}"),
        r#"credential report: line 2, column user_creation_time: "yesterday" is not an ISO 8601 time"#,
    );
    let bad_flag = Line { mfa: "maybe", ..Line::default() }.render();
    check(
        &format!("{HEADER}\n{bad_flag}"),
        r#"credential report: line 2, column mfa_active: "maybe" is not true or false"#,
    );
}

#[test]
fn quoted_commas_in_user_names_are_read_and_unquoted_ones_refused() {
    // AWS quotes a field holding a comma, as CSV does.
    let quoted = Line { user: "x,y", ..Line::default() }
        .render()
        .replacen("x,y", "\"x,y\"", 1)
        .replace("arn:aws:iam::123456789012:user/x,y", "\"arn:aws:iam::123456789012:user/x,y\"");
    let rows = report(&[quoted]);
    assert_eq!((rows[0].user.as_str(), rows[0].arn.as_str()), ("x,y", "arn:aws:iam::123456789012:user/x,y"));
    // An unquoted comma shifts every later column: refused, never guessed at.
    let unquoted = Line { user: "a,b", mfa: "true", ..Line::default() }.render();
    let err = parse_credential_report(&format!("{HEADER}\n{unquoted}")).expect_err("unquoted comma");
    assert!(err.to_string().starts_with("credential report: line 2: has 24 fields where the header has 22"), "{err}");
    let err = parse_credential_report(&format!("{HEADER}\nonly,three,fields")).expect_err("short line");
    assert_eq!(err.to_string(), "credential report: line 2: has 3 fields where the header has 22");
}

#[test]
fn report_columns_are_found_by_name_whatever_their_order() {
    let text = "mfa_active,user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,a_new_column\ntrue,carol,arn:x,N/A,false,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,whatever";
    let rows = parse_credential_report(text).expect("parses");
    assert_eq!(rows[0].user, "carol");
    assert_eq!(rows[0].mfa_active, Some(true));
}

#[test]
fn computed_columns_and_findings() {
    struct Case<'a> {
        name: &'a str,
        line: Line<'a>,
        days_since_last_activity: Option<i64>,
        oldest_active_key_age_days: Option<i64>,
        no_mfa_with_console: bool,
        key_older_than_90d: bool,
        unused_45d: bool,
    }
    let cases = [
        Case {
            name: "no credentials at all: nothing to flag",
            line: Line::default(),
            days_since_last_activity: None,
            oldest_active_key_age_days: None,
            no_mfa_with_console: false,
            key_older_than_90d: false,
            unused_45d: false,
        },
        Case {
            name: "console user without MFA, used yesterday",
            line: Line { password: "true", password_last_used: days_ago(1), ..Line::default() },
            days_since_last_activity: Some(1),
            oldest_active_key_age_days: None,
            no_mfa_with_console: true,
            key_older_than_90d: false,
            unused_45d: false,
        },
        Case {
            name: "console user with MFA",
            line: Line { password: "true", password_last_used: days_ago(3), mfa: "true", ..Line::default() },
            days_since_last_activity: Some(3),
            oldest_active_key_age_days: None,
            no_mfa_with_console: false,
            key_older_than_90d: false,
            unused_45d: false,
        },
        Case {
            name: "console password never used, set 300 days ago: unused",
            line: Line {
                password: "true",
                password_last_used: "no_information".into(),
                mfa: "true",
                ..Line::default()
            },
            days_since_last_activity: None,
            oldest_active_key_age_days: None,
            no_mfa_with_console: false,
            key_older_than_90d: false,
            unused_45d: true,
        },
        Case {
            name: "active key of exactly 90 days is not yet old; used 44 days ago is not yet unused",
            line: Line { key1: ("true", days_ago(90), days_ago(44)), ..Line::default() },
            days_since_last_activity: Some(44),
            oldest_active_key_age_days: Some(90),
            no_mfa_with_console: false,
            key_older_than_90d: false,
            unused_45d: false,
        },
        Case {
            name: "unused for exactly 45 days is unused: CIS says 45 days or greater",
            line: Line { key1: ("true", days_ago(60), days_ago(45)), ..Line::default() },
            days_since_last_activity: Some(45),
            oldest_active_key_age_days: Some(60),
            no_mfa_with_console: false,
            key_older_than_90d: false,
            unused_45d: true,
        },
        Case {
            name: "active key of 91 days, last used 46 days ago",
            line: Line { key1: ("true", days_ago(91), days_ago(46)), ..Line::default() },
            days_since_last_activity: Some(46),
            oldest_active_key_age_days: Some(91),
            no_mfa_with_console: false,
            key_older_than_90d: true,
            unused_45d: true,
        },
        Case {
            name: "inactive old key is neither old nor unused; the active one counts",
            line: Line {
                key1: ("false", days_ago(500), days_ago(400)),
                key2: ("true", days_ago(10), days_ago(2)),
                ..Line::default()
            },
            days_since_last_activity: Some(2),
            oldest_active_key_age_days: Some(10),
            no_mfa_with_console: false,
            key_older_than_90d: false,
            unused_45d: false,
        },
        Case {
            name: "active key never used, made 60 days ago: unused",
            line: Line { key1: ("true", days_ago(60), "N/A".into()), ..Line::default() },
            days_since_last_activity: None,
            oldest_active_key_age_days: Some(60),
            no_mfa_with_console: false,
            key_older_than_90d: false,
            unused_45d: true,
        },
        Case {
            name: "last activity is the most recent of password and both keys",
            line: Line {
                password: "true",
                mfa: "true",
                password_last_used: days_ago(30),
                key1: ("true", days_ago(100), days_ago(20)),
                key2: ("true", days_ago(200), days_ago(5)),
                ..Line::default()
            },
            days_since_last_activity: Some(5),
            oldest_active_key_age_days: Some(200),
            no_mfa_with_console: false,
            key_older_than_90d: true,
            unused_45d: false,
        },
    ];
    for case in cases {
        let row = row_for(case.line);
        let got = (
            row.days_since_last_activity,
            row.oldest_active_key_age_days,
            row.no_mfa_with_console,
            row.key_older_than_90d,
            row.unused_45d,
        );
        let expected = (
            case.days_since_last_activity,
            case.oldest_active_key_age_days,
            case.no_mfa_with_console,
            case.key_older_than_90d,
            case.unused_45d,
        );
        assert_eq!(got, expected, "{}", case.name);
    }
}

#[test]
fn a_user_recreated_since_the_report_does_not_get_the_old_users_credentials() {
    // The report (reused by AWS for 4 hours) still has the deleted "deploy" with an old,
    // active key and a password; the "deploy" that exists now was created an hour ago.
    let old = Line {
        user: "deploy",
        created: days_ago(400),
        password: "true",
        key1: ("true", days_ago(300), days_ago(200)),
        ..Line::default()
    }
    .render();
    let mut recreated = user("deploy");
    recreated.created = Some(now().checked_sub(jiff::SignedDuration::from_hours(1)).expect("an hour ago"));
    let rows = build_user_rows(
        &[recreated.clone(), user("kept")],
        &report(&[old, Line { user: "kept", ..Line::default() }.render()]),
        &Authorization::default(),
        now(),
    );

    let deploy = rows.iter().find(|r| r.detail.name == "deploy").expect("deploy");
    assert!(!deploy.in_credential_report, "the report's line is another user's");
    assert_eq!(deploy.credentials, CredentialRow::default(), "no credential columns");
    assert!(!deploy.key_older_than_90d && !deploy.unused_45d && !deploy.no_mfa_with_console);
    assert_eq!(deploy.detail.created, recreated.created);
    let kept = rows.iter().find(|r| r.detail.name == "kept").expect("kept");
    assert!(kept.in_credential_report, "same name, same creation time: joined");
}

#[test]
fn join_puts_root_first_sorts_users_and_keeps_users_missing_from_the_report() {
    let root = "<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-06-01T10:00:00+00:00,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A".to_owned();
    let zed = Line { user: "zed", password: "true", ..Line::default() }.render();
    let gone = Line { user: "deleted-since", ..Line::default() }.render();
    let mut newcomer = user("newcomer");
    newcomer.groups = vec!["b".into(), "a".into()];
    newcomer.tags = vec![("team".into(), "x".into()), ("env".into(), "dev".into())];
    let rows = build_user_rows(&[user("zed"), newcomer], &report(&[root, zed, gone]), &Authorization::default(), now());

    let names: Vec<&str> = rows.iter().map(|r| r.detail.name.as_str()).collect();
    assert_eq!(names, ["<root_account>", "newcomer", "zed"], "root first, then by name; deleted users dropped");
    assert!(rows[0].is_root_account);
    assert_eq!(rows[0].detail.arn, "arn:aws:iam::123456789012:root");
    assert!(rows[0].no_mfa_with_console, "root without MFA is flagged");
    assert!(!rows[1].in_credential_report);
    assert!(!rows[1].no_mfa_with_console, "unknown credentials are not flagged");
    assert_eq!(rows[1].detail.groups, ["a", "b"]);
    assert_eq!(rows[1].detail.tags[0], ("env".to_owned(), "dev".to_owned()));
    assert!(rows[2].in_credential_report);

    let counts = count_findings(&rows, &[]);
    // The root user is an administrator without MFA (to review); the others hold no policy (to remove).
    assert_eq!(
        counts,
        FindingCounts {
            no_mfa_with_console: 2,
            key_older_than_90d: 0,
            unused_45d: 1,
            admins: 1,
            admins_without_mfa: 1,
            to_remove: 2,
            to_review: 1
        }
    );
}

#[test]
fn users_csv_is_rfc4180_with_documented_columns() {
    let mut tricky = user("=HYPERLINK(\"x\")");
    tricky.tags = vec![("note".into(), "a, \"quoted\" value".into())];
    tricky.groups = vec!["devs".into(), "admins".into()];
    let rows = build_user_rows(&[tricky, user("comma,user")], &[], &Authorization::default(), now());
    let bytes = render_users_csv(&rows).expect("renders");
    let text = String::from_utf8(bytes).expect("utf-8");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], USER_COLUMNS.join(","));
    assert_eq!(lines.len(), 4, "header, two rows, and the final CRLF");
    // Sorted by name: '=' sorts before 'c'.
    assert!(
        lines[1].starts_with(r#""'=HYPERLINK(""x"")","arn:aws:iam::123456789012:user/=HYPERLINK(""x"")",/,"#),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with(r#""comma,user","arn:aws:iam::123456789012:user/comma,user",/,"#), "{}", lines[2]);

    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("reads back");
    let cell = |row: usize, column: &str| {
        let index = USER_COLUMNS.iter().position(|c| *c == column).expect("column");
        records[row][index].to_owned()
    };
    assert_eq!(cell(0, "user_name"), "'=HYPERLINK(\"x\")");
    assert_eq!(cell(0, "tags"), "note=a, \"quoted\" value");
    assert_eq!(cell(0, "groups"), "admins;devs");
    assert_eq!(cell(0, "created"), format_time(ts(&days_ago(400))));
    assert_eq!(cell(0, "in_credential_report"), "false");
    assert_eq!(cell(0, "access_key_1_active"), "", "unknown, not false");
    assert_eq!(cell(1, "user_name"), "comma,user");
    assert_eq!(records[0].len(), USER_COLUMNS.len());
}

#[test]
fn the_organization_file_leads_with_the_account_and_keeps_each_accounts_order() {
    use shared::accounts::{Account, AccountStatus};
    let account = |id: &str, name: &str, ou: &str| Account { id: id.into(), name: name.into(), ou_path: ou.into() };
    let export = |account: Account, users: &[&str]| AccountExport {
        account,
        users: build_user_rows(
            &users.iter().map(|name| user(name)).collect::<Vec<_>>(),
            &[],
            &Authorization::default(),
            now(),
        ),
        roles: Vec::new(),
        credential_report_generated_at: Some(now()),
        authorization: Authorization::default(),
    };
    let mut exports = vec![
        export(account("222222222222", "=search, prod", "/Workloads/Prod/"), &["zed", "amy"]),
        export(account("111111111111", "payments", "/"), &["bob"]),
    ];
    by_account(&mut exports);
    let text = String::from_utf8(render_org_users_csv(&exports).expect("renders")).expect("utf-8");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().expect("headers").iter().map(str::to_owned).collect();
    assert_eq!(headers[..3], ["account_id", "account_name", "ou_path"]);
    assert_eq!(headers[3..], USER_COLUMNS.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>());
    let rows: Vec<Vec<String>> =
        reader.records().map(|r| r.expect("a row").iter().take(4).map(str::to_owned).collect()).collect();
    assert_eq!(
        rows,
        [
            ["111111111111", "payments", "/", "bob"],
            ["222222222222", "'=search, prod", "/Workloads/Prod/", "amy"],
            ["222222222222", "'=search, prod", "/Workloads/Prod/", "zed"],
        ]
    );

    let failed = [(account("333333333333", "legacy", "/Sandbox/"), "cannot assume …".to_owned())];
    let excluded = [account("000000000009", "alice", "/Sandbox/")];
    let lines = summarize_accounts(&exports, &failed, &excluded, &[]);
    let got: Vec<(&str, AccountStatus, usize, Option<&str>)> =
        lines.iter().map(|l| (l.account_id.as_str(), l.status, l.users, l.reason.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("000000000009", AccountStatus::Excluded, 0, None),
            ("111111111111", AccountStatus::Ok, 1, None),
            ("222222222222", AccountStatus::Ok, 2, None),
            ("333333333333", AccountStatus::Failed, 0, Some("cannot assume …")),
        ]
    );
}

#[test]
fn trust_principals_from_plain_and_url_encoded_documents() {
    let plain = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    })
    .to_string();
    let encoded: String = percent_encoding::utf8_percent_encode(&plain, percent_encoding::NON_ALPHANUMERIC).to_string();
    let expected = ["AWS:arn:aws:iam::111122223333:root", "Service:ec2.amazonaws.com", "Service:lambda.amazonaws.com"];
    for document in [&plain, &encoded] {
        assert_eq!(trust_principals(document).expect("parses"), expected);
    }
    let single = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}"#;
    assert_eq!(trust_principals(single).expect("parses"), ["*"]);
    assert!(trust_principals("%7Bnot json").is_err());
}

#[test]
fn roles_are_sorted_and_a_bad_trust_policy_names_the_role() {
    let role = |name: &str, trust: Option<&str>| RoleDetail {
        name: name.to_owned(),
        trust_policy: trust.map(str::to_owned),
        attached_policies: vec!["b".into(), "a".into()],
        ..RoleDetail::default()
    };
    let rows = build_role_rows(&[role("z", None), role("a", None)], &Authorization::default(), now()).expect("builds");
    assert_eq!(rows[0].detail.name, "a");
    assert_eq!(rows[0].detail.attached_policies, ["a", "b"]);
    let err = build_role_rows(&[role("broken", Some("{"))], &Authorization::default(), now()).expect_err("bad JSON");
    assert!(err.to_string().starts_with("role broken: trust policy is not valid JSON"), "{err}");
    let csv = String::from_utf8(render_roles_csv(&rows).expect("renders")).expect("utf-8");
    assert!(csv.starts_with(&ROLE_COLUMNS.join(",")));
}

#[test]
fn event_payloads() {
    let defaults = RunOptions { include_roles: false, assignment_reading: None };
    let check = |payload: serde_json::Value, expected: Result<bool, &str>| {
        let got = parse_event(&payload, defaults).map(|o| o.include_roles).map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "{payload}");
    };
    check(json!(null), Ok(false));
    check(json!({}), Ok(false));
    check(json!({"include_roles": true}), Ok(true));
    check(json!({"include_roles": "yes"}), Ok(true));
    check(json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}), Ok(false));
    check(json!({"detail-type": "Scheduled Event", "detail": {"include_roles": true}}), Ok(true));
    check(json!({"include_roles": 3}), Err("invalid event: field include_roles is 3: expected true or false"));
    check(
        json!("run"),
        Err(
            "invalid event: the payload must be a JSON object (or empty), got a string; known fields: include_roles (true or false), identity_center_assignments (\"by-account\" or \"by-principal\")",
        ),
    );
    let reading = |payload: serde_json::Value| {
        parse_event(&payload, defaults).map(|o| o.assignment_reading).map_err(|e| e.to_string())
    };
    assert_eq!(reading(json!({})), Ok(None));
    assert_eq!(
        reading(json!({"identity_center_assignments": "by-principal"})),
        Ok(Some(AssignmentReading::ByPrincipal))
    );
    assert_eq!(
        reading(json!({"identity_center_assignments": "both"})),
        Err(
            "invalid event: field identity_center_assignments is \"both\": expected \"by-account\" or \"by-principal\""
                .to_owned()
        )
    );
}

#[test]
fn report_keys_are_dated_and_prefix_slashes_are_tidied() {
    let at = ts("2026-03-04T05:06:07Z");
    for (prefix, expected) in [
        ("iam-export", "iam-export/2026/03/04/iam-users-20260304T050607Z.csv"),
        ("/audit/iam/", "audit/iam/2026/03/04/iam-users-20260304T050607Z.csv"),
        ("", "2026/03/04/iam-users-20260304T050607Z.csv"),
    ] {
        let keys = report_keys(prefix, at);
        assert_eq!(keys.users, expected);
        assert_eq!(keys.roles, expected.replace("iam-users-", "iam-roles-"));
        assert_eq!(keys.accounts, expected.replace("iam-users-", "iam-accounts-").replace(".csv", ".json"));
        assert_eq!(keys.identity_center_users, expected.replace("iam-users-", "identity-center-users-"));
        assert_eq!(keys.identity_center_access, expected.replace("iam-users-", "identity-center-access-"));
        assert_eq!(
            keys.identity_center_permission_sets,
            expected.replace("iam-users-", "identity-center-permission-sets-")
        );
    }
}

#[test]
fn whole_days_floor_and_never_go_negative() {
    assert_eq!(whole_days_between(ts("2026-01-01T00:00:00Z"), ts("2026-01-02T23:59:59Z")), 1);
    assert_eq!(whole_days_between(ts("2026-01-03T00:00:00Z"), ts("2026-01-02T00:00:00Z")), 0);
}

#[test]
fn only_users_whose_keys_a_finding_names_get_their_key_ids_read() {
    let lines = [
        // a key 120 days old, used yesterday: old
        Line { user: "old", key1: ("true", days_ago(120), days_ago(1)), ..Line::default() },
        // a key made 50 days ago and never used: idle for 45 days or more
        Line { user: "idle", key1: ("true", days_ago(50), "N/A".into()), ..Line::default() },
        // a key 10 days old, used today: nothing to name
        Line { user: "fresh", key1: ("true", days_ago(10), days_ago(0)), ..Line::default() },
        // an old key, but inactive: nothing to name
        Line { user: "inactive", key1: ("false", days_ago(400), "N/A".into()), ..Line::default() },
    ];
    let users: Vec<UserDetail> = lines.iter().map(|line| user(line.user)).collect();
    let rendered: Vec<String> = lines.iter().map(Line::render).collect();
    let rows = build_user_rows(&users, &report(&rendered), &Authorization::default(), now());
    let mut needing = users_needing_key_ids(&rows, KeyIds::Findings, now());
    needing.sort();
    assert_eq!(needing, ["idle", "old"]);
    // Asked for every key, every user that has one, active or not.
    let mut every = users_needing_key_ids(&rows, KeyIds::All, now());
    every.sort();
    assert_eq!(every, ["fresh", "idle", "inactive", "old"]);
}

#[test]
fn listed_key_ids_go_to_the_report_key_made_the_same_second() {
    let first = days_ago(200);
    let second = days_ago(20);
    let line = Line {
        user: "two",
        key1: ("true", first.clone(), "N/A".into()),
        key2: ("true", second.clone(), "N/A".into()),
        ..Line::default()
    };
    let mut rows = report(&[line.render()]);
    let made = |text: &str| Some(ts(&text.replace("+00:00", "Z")));
    // ListAccessKeys answers in its own order; the creation times place them.
    let listed: BTreeMap<String, Vec<(String, Option<Timestamp>)>> =
        [("two".to_owned(), vec![("AKIASECOND".to_owned(), made(&second)), ("AKIAFIRST".to_owned(), made(&first))])]
            .into_iter()
            .collect();
    assign_key_ids(&mut rows, &listed);
    let ids: Vec<Option<&str>> = rows[0].access_keys.iter().map(|key| key.id.as_deref()).collect();
    assert_eq!(ids, [Some("AKIAFIRST"), Some("AKIASECOND")]);

    // Times that do not match (a clock's rounding) fall back to the order of the report's keys.
    let mut rows = report(&[line.render()]);
    let listed: BTreeMap<String, Vec<(String, Option<Timestamp>)>> =
        [("two".to_owned(), vec![("AKIAONE".to_owned(), None), ("AKIATWO".to_owned(), None)])].into_iter().collect();
    assign_key_ids(&mut rows, &listed);
    let ids: Vec<Option<&str>> = rows[0].access_keys.iter().map(|key| key.id.as_deref()).collect();
    assert_eq!(ids, [Some("AKIAONE"), Some("AKIATWO")]);
    // and the verdict names the old key by its id
    let built = build_user_rows(&[user("two")], &rows, &Authorization::default(), now());
    assert!(built[0].verdict_reason.contains("access key AKIAONE is 200 days old"), "{}", built[0].verdict_reason);
}
