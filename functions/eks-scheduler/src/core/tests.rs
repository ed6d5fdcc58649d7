#![allow(clippy::type_complexity)] // case tables

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::json;

use super::*;

fn ts(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

fn sizes(text: &str) -> Sizes {
    text.parse().expect("test sizes")
}

#[test]
fn sizes_round_trip_and_reject_what_eks_would() {
    for (text, expected) in [
        ("2/3/6", Ok(Sizes::new(2, 3, 6))),
        (" 0/1/1 ", Ok(Sizes::new(0, 1, 1))),
        ("0/0/6", Ok(Sizes::new(0, 0, 6))),
        ("0/0/0", Err(())),
        ("3/2/6", Err(())),
        ("1/7/6", Err(())),
        ("-1/0/1", Err(())),
        ("2/3", Err(())),
        ("2/3/6/7", Err(())),
        ("a/b/c", Err(())),
        ("", Err(())),
    ] {
        assert_eq!(text.parse::<Sizes>().map_err(|_| ()), expected, "{text:?}");
    }
    assert_eq!(Sizes::new(2, 3, 6).to_string(), "2/3/6");
    assert_eq!(Sizes::new(2, 3, 6).stopped(), Sizes::new(0, 0, 6));
    let err = "0/0/0".parse::<Sizes>().expect_err("zero max");
    assert_eq!(err, r#""0/0/0" is not min/desired/max, like 2/3/6, with min <= desired <= max and max >= 1"#);
}

#[test]
fn tag_rules_match_eks() {
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    for (key, value, ok) in [
        ("eks-scheduler/saved/ng-1", "2/3/6", true),
        ("eks-scheduler/last-action", "stop@2026-11-22T19:00:04Z", true),
        (
            "eks-scheduler/schedule",
            "off=mon-fri@19:00 on=mon-fri@07:00 tz=Europe/Paris skip=2026-12-24+2026-12-25",
            true,
        ),
        ("note", "Zoë Ångström", true),
        ("dependency", "data api", true),
        ("note", "a,b", false),
        ("note", "f(x)", false),
        ("note", "a;b", false),
        ("note", "*", false),
        ("aws:owner", "x", false),
        ("", "x", false),
        (long_key.as_str(), "x", false),
        ("note", long_value.as_str(), false),
        ("k", &"v".repeat(256), true),
    ] {
        assert_eq!(tag_problem(key, value).is_none(), ok, "{key:?}={value:?}: {:?}", tag_problem(key, value));
    }
}

#[test]
fn events_are_parsed_strictly_with_helpful_errors() {
    let check = |payload: serde_json::Value, expected: Result<Request, &str>| {
        assert_eq!(parse_event(&payload), expected.map_err(str::to_owned), "{payload}");
    };
    let request = |action, dry_run, clusters: Option<&[&str]>| Request {
        action,
        dry_run,
        clusters: clusters.map(|names| names.iter().map(|n| n.to_string()).collect()),
    };
    check(json!({"action": "stop"}), Ok(request(RequestedAction::Stop, false, None)));
    check(json!({"action": "start", "dry_run": true}), Ok(request(RequestedAction::Start, true, None)));
    check(
        json!({"action": "start", "clusters": ["b", "a", "b"]}),
        Ok(request(RequestedAction::Start, false, Some(&["a", "b"]))),
    );
    check(json!({"action": "auto", "clusters": null}), Ok(request(RequestedAction::Auto, false, None)));
    check(json!({"action": "report"}), Ok(request(RequestedAction::Report, false, None)));
    check(
        json!({"action": "pause"}),
        Err(r#"unknown action "pause"; the actions are "stop", "start", "auto" and "report""#),
    );
    check(json!({}), Err(r#"the field action is missing: give "stop", "start", "auto" or "report""#));
    check(
        json!({"action": "stop", "dryrun": true}),
        Err(
            r#"unknown field "dryrun"; the fields are action ("stop", "start", "auto" or "report"), dry_run (true or false), clusters (a list of cluster names)"#,
        ),
    );
    check(json!({"action": "stop", "dry_run": "yes"}), Err(r#"dry_run is "yes": expected true or false"#));
    check(json!({"action": "stop", "clusters": "dev"}), Err(r#"clusters is "dev": expected a list of cluster names"#));
    check(json!({"action": "stop", "clusters": [1]}), Err("clusters is [1]: expected a list of cluster names"));
    check(
        json!({"action": "stop", "clusters": []}),
        Err("clusters is empty: name at least one cluster, or leave the field out to choose by tags"),
    );
    check(
        json!(["stop"]),
        Err(
            r#"the payload must be a JSON object with the fields action ("stop", "start", "auto" or "report"), dry_run (true or false), clusters (a list of cluster names)"#,
        ),
    );
}

fn schedule(text: &str) -> Schedule {
    Schedule::parse(text, "UTC").unwrap_or_else(|err| panic!("{text}: {err}"))
}

#[test]
fn schedule_parse_errors_say_what_and_show_the_form() {
    for (text, starts) in [
        ("", "no off= or on= time"),
        ("off=mon-fri", r#""off=mon-fri" has no @<HH:MM>"#),
        ("off=mon-fry@19:00", r#""off=mon-fry@19:00": "fry" is not a day"#),
        ("off=daily@25:00", r#""off=daily@25:00": "25:00" is not a time HH:MM"#),
        ("off=daily@7", r#""off=daily@7": "7" is not a time HH:MM"#),
        ("off=daily@19:00 tz=Mars/Olympus", r#"unknown time zone "Mars/Olympus""#),
        ("off=daily@19:00 tz=UTC tz=UTC", "tz is given twice"),
        ("off=daily@19:00 skip=2026-13-01", r#"skip "2026-13-01" is not YYYY-MM-DD"#),
        ("off=daily@19:00 skip=2026-12-31/2026-12-01", r#"skip "2026-12-31/2026-12-01""#),
        ("off=daily@19:00 hours=9-5", r#"unknown part "hours""#),
        ("offhours", r#""offhours" is not name=value"#),
        ("off=mon@19:00 on=weekdays@19:00", "off and on are both at 19:00 on the same day"),
    ] {
        let err = Schedule::parse(text, "UTC").expect_err(text);
        assert!(err.starts_with(starts), "{text:?}: {err}");
        assert!(err.ends_with(SCHEDULE_FORM), "{text:?}: the error shows the form");
    }
    assert!(Schedule::parse("off=mon@19:00 on=tue@19:00", "UTC").is_ok(), "same time on different days is fine");
}

#[test]
fn schedule_transitions_across_days_hours_zones_and_skips() {
    let office = "off=mon-fri@19:00 on=mon-fri@07:00";
    let cases: &[(&str, &str, Option<(Action, &str)>)] = &[
        // 2026-11-23 is a Monday.
        (office, "2026-11-23T12:00:00Z", Some((Action::Start, "2026-11-23T07:00:00Z"))),
        (office, "2026-11-23T07:00:00Z", Some((Action::Start, "2026-11-23T07:00:00Z"))),
        (office, "2026-11-23T06:59:59Z", Some((Action::Stop, "2026-11-20T19:00:00Z"))),
        (office, "2026-11-22T12:00:00Z", Some((Action::Stop, "2026-11-20T19:00:00Z"))),
        (office, "2026-11-27T23:00:00Z", Some((Action::Stop, "2026-11-27T19:00:00Z"))),
        ("off=fri-mon@20:00 on=tue@08:00", "2026-11-23T21:00:00Z", Some((Action::Stop, "2026-11-23T20:00:00Z"))),
        ("on=weekends@10:00", "2026-11-23T12:00:00Z", Some((Action::Start, "2026-11-22T10:00:00Z"))),
        ("off=mon+wed@18:00", "2026-11-24T12:00:00Z", Some((Action::Stop, "2026-11-23T18:00:00Z"))),
        ("off=daily@23:30", "2026-11-23T23:29:00Z", Some((Action::Stop, "2026-11-22T23:30:00Z"))),
        // Paris: UTC+1 in winter, UTC+2 from 2026-03-29.
        ("off=mon-fri@19:00 tz=Europe/Paris", "2026-11-23T18:30:00Z", Some((Action::Stop, "2026-11-23T18:00:00Z"))),
        ("off=mon-fri@19:00 tz=Europe/Paris", "2026-11-23T17:59:00Z", Some((Action::Stop, "2026-11-20T18:00:00Z"))),
        ("off=mon-fri@19:00 tz=Europe/Paris", "2026-03-27T18:30:00Z", Some((Action::Stop, "2026-03-27T18:00:00Z"))),
        ("off=mon-fri@19:00 tz=Europe/Paris", "2026-03-30T17:30:00Z", Some((Action::Stop, "2026-03-30T17:00:00Z"))),
        // 02:30 does not exist in Paris on 2026-03-29: the clock jumps from 02:00 to 03:00.
        ("on=daily@02:30 tz=Europe/Paris", "2026-03-29T01:45:00Z", Some((Action::Start, "2026-03-29T01:30:00Z"))),
        // Across the date line: Monday 07:00 in Auckland is Sunday 18:00 UTC.
        ("on=mon@07:00 tz=Pacific/Auckland", "2026-11-22T18:30:00Z", Some((Action::Start, "2026-11-22T18:00:00Z"))),
        ("on=mon@07:00 tz=Pacific/Auckland", "2026-11-22T17:30:00Z", Some((Action::Start, "2026-11-15T18:00:00Z"))),
        // Skipped days: nothing happens on them, so the last moment is before them.
        (
            "off=mon-fri@19:00 on=mon-fri@07:00 skip=2026-12-24+2026-12-25",
            "2026-12-24T12:00:00Z",
            Some((Action::Stop, "2026-12-23T19:00:00Z")),
        ),
        (
            "off=mon-fri@19:00 on=mon-fri@07:00 skip=2026-12-21/2027-01-01",
            "2026-12-31T12:00:00Z",
            Some((Action::Stop, "2026-12-18T19:00:00Z")),
        ),
        (
            "off=mon-fri@19:00 on=mon-fri@07:00 skip=2026-12-21/2027-01-01",
            "2027-01-04T08:00:00Z",
            Some((Action::Start, "2027-01-04T07:00:00Z")),
        ),
    ];
    for (text, now, expected) in cases {
        let got = schedule(text).last_transition(ts(now)).map(|t| (t.action, t.at));
        let expected = expected.map(|(action, at)| (action, ts(at)));
        assert_eq!(got, expected, "{text} at {now}");
    }
    assert_eq!(schedule("off=daily@19:00 tz=America/New_York").zone_name(), "America/New_York");
    assert_eq!(Schedule::parse("off=daily@19:00", "Asia/Tokyo").expect("valid").zone_name(), "Asia/Tokyo");
}

#[test]
fn auto_acts_once_per_scheduled_moment_and_respects_manual_actions() {
    let office = schedule("off=mon-fri@19:00 on=mon-fri@07:00");
    let last = |action, at: &str| Some(LastAction { action, at: ts(at) });
    let cases: &[(&str, Option<LastAction>, Result<Action, &str>)] = &[
        ("2026-11-23T19:30:00Z", None, Ok(Action::Stop)),
        ("2026-11-23T19:30:00Z", last(Action::Start, "2026-11-23T07:00:10Z"), Ok(Action::Stop)),
        ("2026-11-23T20:30:00Z", last(Action::Stop, "2026-11-23T19:30:05Z"), Err("nothing due")),
        // A manual start at 05:00 is not undone by the 06:00 run; the 07:00 start is still applied.
        ("2026-11-24T06:00:00Z", last(Action::Start, "2026-11-24T05:00:00Z"), Err("nothing due")),
        ("2026-11-24T07:05:00Z", last(Action::Start, "2026-11-24T05:00:00Z"), Ok(Action::Start)),
        // A late run (missed hours) still applies the last moment.
        ("2026-11-24T02:00:00Z", last(Action::Start, "2026-11-23T07:00:00Z"), Ok(Action::Stop)),
    ];
    for (now, last, expected) in cases {
        let got = auto_action(&office, *last, ts(now)).map(|transition| transition.action);
        match expected {
            Ok(action) => assert_eq!(got, Ok(*action), "{now}"),
            Err(start) => assert!(got.as_ref().is_err_and(|e| e.starts_with(start)), "{now}: {got:?}"),
        }
    }
    let never = schedule("on=mon@07:00 skip=2025-01-01/2026-12-31");
    assert!(auto_action(&never, None, ts("2026-11-23T12:00:00Z")).is_err());
}

#[test]
fn last_action_tag_round_trips() {
    let last = LastAction { action: Action::Stop, at: ts("2026-11-22T19:00:04Z") };
    assert_eq!(last.tag_value(), "stop@2026-11-22T19:00:04Z");
    assert_eq!(tag_problem(LAST_ACTION_TAG, &last.tag_value()), None);
    assert_eq!(LastAction::parse(&last.tag_value()), Ok(last));
    assert!(LastAction::parse("paused@2026-11-22T19:00:04Z").is_err());
    assert!(LastAction::parse("stop").is_err());
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn deps(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    pairs.iter().map(|(c, d)| (c.to_string(), parse_dependencies(d))).collect()
}

#[test]
fn waves_from_dependency_tags() {
    struct Case<'a> {
        name: &'a str,
        selected: &'a [&'a str],
        deps: &'a [(&'a str, &'a str)],
        waves: &'a [&'a [&'a str]],
        blocked: &'a [(&'a str, &'a str)],
    }
    let existing = set(&["a", "b", "c", "d", "e", "outside"]);
    let cases = [
        Case {
            name: "no dependencies: one wave",
            selected: &["a", "b"],
            deps: &[],
            waves: &[&["a", "b"]],
            blocked: &[],
        },
        Case {
            name: "chain",
            selected: &["a", "b", "c"],
            deps: &[("c", "b"), ("b", "a")],
            waves: &[&["a"], &["b"], &["c"]],
            blocked: &[],
        },
        Case {
            name: "diamond",
            selected: &["a", "b", "c", "d"],
            deps: &[("b", "a"), ("c", "a"), ("d", "b c")],
            waves: &[&["a"], &["b", "c"], &["d"]],
            blocked: &[],
        },
        Case {
            name: "a dependency outside the selection imposes no order",
            selected: &["a", "b"],
            deps: &[("a", "outside"), ("b", "a")],
            waves: &[&["a"], &["b"]],
            blocked: &[],
        },
        Case {
            name: "missing dependency blocks the cluster and its dependents only",
            selected: &["a", "b", "c"],
            deps: &[("a", "ghost"), ("b", "a")],
            waves: &[&["c"]],
            blocked: &[
                ("a", "depends on ghost, which does not exist"),
                ("b", "depends on a, which is blocked (depends on ghost, which does not exist)"),
            ],
        },
        Case {
            name: "cycle fails only the clusters in it and behind it",
            selected: &["a", "b", "c", "d", "e"],
            deps: &[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a"), ("e", "")],
            waves: &[&["e"]],
            blocked: &[
                ("a", "dependency cycle: a -> b -> c -> a"),
                ("b", "dependency cycle: b -> c -> a -> b"),
                ("c", "dependency cycle: c -> a -> b -> c"),
                ("d", "depends on a, which is blocked (dependency cycle: a -> b -> c -> a)"),
            ],
        },
        Case {
            name: "self dependency",
            selected: &["a", "b"],
            deps: &[("a", "a")],
            waves: &[&["b"]],
            blocked: &[("a", "dependency cycle: a -> a")],
        },
        Case {
            name: "long chain behind a blocked cluster names the root cause",
            selected: &["a", "b", "c"],
            deps: &[("a", "ghost"), ("b", "a"), ("c", "b")],
            waves: &[],
            blocked: &[
                ("a", "depends on ghost, which does not exist"),
                ("b", "depends on a, which is blocked (depends on ghost, which does not exist)"),
                ("c", "depends on b, which is blocked (depends on ghost, which does not exist)"),
            ],
        },
    ];
    for case in cases {
        let plan = plan_waves(&set(case.selected), &deps(case.deps), &existing);
        let waves: Vec<Vec<&str>> = plan.waves.iter().map(|w| w.iter().map(String::as_str).collect()).collect();
        let expected_waves: Vec<Vec<&str>> = case.waves.iter().map(|w| w.to_vec()).collect();
        assert_eq!(waves, expected_waves, "{}", case.name);
        let blocked: Vec<(&str, &str)> = plan.blocked.iter().map(|(c, r)| (c.as_str(), r.as_str())).collect();
        assert_eq!(blocked, case.blocked, "{}", case.name);
    }
}

#[test]
fn dependency_tags_split_on_spaces() {
    assert_eq!(parse_dependencies("data  api data"), ["api", "data"]);
    assert!(parse_dependencies("  ").is_empty());
}

#[test]
fn stop_plan_saves_running_sizes_and_never_saves_zero() {
    let cases: &[(&str, Option<&str>, NodegroupPlan)] = &[
        ("2/3/6", None, NodegroupPlan::Change { before: sizes("2/3/6"), after: sizes("0/0/6"), clear_saved: false }),
        ("0/2/6", None, NodegroupPlan::Change { before: sizes("0/2/6"), after: sizes("0/0/6"), clear_saved: false }),
        // A stale saved size (someone started it by hand): the running size is the truth.
        (
            "1/1/1",
            Some("2/3/6"),
            NodegroupPlan::Change { before: sizes("1/1/1"), after: sizes("0/0/1"), clear_saved: false },
        ),
        (
            "0/0/6",
            Some("2/3/6"),
            NodegroupPlan::Unchanged {
                before: sizes("0/0/6"),
                reason: "already at zero; saved size 2/3/6 kept".into(),
            },
        ),
        ("0/0/6", None, NodegroupPlan::Unchanged { before: sizes("0/0/6"), reason: "already at zero".into() }),
    ];
    for (current, saved, expected) in cases {
        assert_eq!(&plan_stop(sizes(current), *saved), expected, "{current} saved {saved:?}");
    }
}

#[test]
fn start_plan_for_every_combination_of_size_and_tags() {
    let change = |before: &str, after: &str, clear_saved| NodegroupPlan::Change {
        before: sizes(before),
        after: sizes(after),
        clear_saved,
    };
    let cases: &[(&str, Option<&str>, Option<&str>, Result<NodegroupPlan, &str>)] = &[
        ("0/0/6", Some("2/3/6"), None, Ok(change("0/0/6", "2/3/6", true))),
        ("0/0/1", Some("2/3/6"), Some("1/1/2"), Ok(change("0/0/1", "2/3/6", true))),
        ("0/0/6", None, Some("1/1/2"), Ok(change("0/0/6", "1/1/2", false))),
        (
            "0/0/6",
            None,
            None,
            Ok(NodegroupPlan::Skipped {
                before: sizes("0/0/6"),
                reason: "no saved size, and no eks-scheduler/start-size tag on the cluster to start from".into(),
            }),
        ),
        (
            "2/3/6",
            Some("2/3/6"),
            None,
            Ok(NodegroupPlan::Unchanged { before: sizes("2/3/6"), reason: "already running".into() }),
        ),
        (
            "2/3/6",
            None,
            None,
            Ok(NodegroupPlan::Unchanged { before: sizes("2/3/6"), reason: "already running".into() }),
        ),
        ("0/0/6", Some("lots"), None, Err("tag eks-scheduler/saved/ng is unreadable: \"lots\" is not min/desired/max")),
        ("0/0/6", Some("0/0/6"), None, Err("tag eks-scheduler/saved/ng holds 0/0/6, which is not a running size")),
        ("0/0/6", None, Some("0/0/3"), Err("tag eks-scheduler/start-size holds 0/0/3, which is not a running size")),
    ];
    for (current, saved, start_size, expected) in cases {
        let got = plan_start("ng", sizes(current), *saved, *start_size);
        match (expected, &got) {
            (Ok(plan), _) => assert_eq!(&got, plan, "{current} {saved:?} {start_size:?}"),
            (Err(start), NodegroupPlan::Failed { reason, .. }) => assert!(reason.starts_with(start), "{reason}"),
            (Err(_), other) => panic!("{current} {saved:?} {start_size:?}: expected a failure, got {other:?}"),
        }
    }
}

#[test]
fn written_saved_size_tags_are_valid_eks_tags() {
    for nodegroup in ["ng-1", "general_purpose", "a".repeat(63).as_str()] {
        let plan = plan_stop(sizes("2/3/6"), None);
        assert_eq!(tag_problem(&saved_tag_key(nodegroup), &plan.before().to_string()), None, "{nodegroup}");
    }
}

#[test]
fn cluster_status_and_failure_summary() {
    let nodegroup = |name: &str, status| NodegroupReport {
        kind: Kind::Managed,
        name: name.into(),
        before: "2/3/6".into(),
        after: "0/0/6".into(),
        status,
        reason: if status == Status::Failed { "busy".into() } else { String::new() },
    };
    let cluster = |statuses: &[Status]| {
        let mut report = ClusterReport::new("c", Some(Action::Stop));
        report.nodegroups = statuses.iter().enumerate().map(|(i, s)| nodegroup(&format!("ng{i}"), *s)).collect();
        report.settle();
        report
    };
    assert_eq!(cluster(&[Status::Changed, Status::Unchanged]).status, Status::Changed);
    assert_eq!(cluster(&[Status::Unchanged, Status::Skipped]).status, Status::Unchanged);
    assert_eq!(cluster(&[Status::Skipped]).status, Status::Skipped);
    assert_eq!(cluster(&[Status::Changed, Status::Failed]).status, Status::Failed);

    let clusters =
        vec![cluster(&[Status::Changed, Status::Failed]), ClusterReport::failed("x", None, "dependency cycle: x -> x")];
    let report = stop_report(clusters);
    assert_eq!(report.totals.clusters_failed, 2);
    assert_eq!(report.totals.nodegroups_changed, 1);
    assert_eq!(
        report.failure_summary().as_deref(),
        Some("2 of 2 clusters failed: c: nodegroup ng1: busy | x: dependency cycle: x -> x")
    );
}

const SELECTION: Selection<'static> = Selection {
    stop_tag: "auto-stop",
    start_tag: "auto-start",
    schedule_tag: "eks-scheduler/schedule",
    default_timezone: "UTC",
};

fn cluster(name: &str, tags: &[(&str, &str)]) -> ClusterInfo {
    ClusterInfo {
        name: name.to_owned(),
        arn: format!("arn:aws:eks:us-east-1:123456789012:cluster/{name}"),
        tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..ClusterInfo::default()
    }
}

/// What `choose` decided, in words: `act stop`, `act start: <why>`, `<status>: <reason>`
/// for a cluster only reported, or `not selected`.
fn choice_text(choice: Choice) -> String {
    match choice {
        Choice::Act(action, None) => format!("act {action}"),
        Choice::Act(action, Some(why)) => format!("act {action}: {why}"),
        Choice::Report(report) => format!("{}: {}", format!("{:?}", report.status).to_lowercase(), report.reason),
        Choice::NotSelected => "not selected".to_owned(),
    }
}

#[test]
fn which_clusters_a_run_acts_on() {
    use RequestedAction::{Auto, Start, Stop};
    let now = ts("2026-11-23T19:30:00Z"); // a Monday evening
    let office = "off=weekdays@19:00 on=weekdays@08:00";
    let cases: &[(RequestedAction, bool, &[(&str, &str)], &str)] = &[
        (Stop, false, &[("auto-stop", "true")], "act stop"),
        (Stop, false, &[("auto-stop", " TRUE ")], "act stop"),
        (Stop, false, &[("auto-stop", "yes")], "not selected"),
        (Stop, false, &[("auto-start", "true")], "not selected"),
        (Stop, true, &[], "act stop"),
        (Start, false, &[("auto-start", "true")], "act start"),
        (Start, true, &[("auto-stop", "true")], "act start"),
        (Auto, false, &[], "not selected"),
        (Auto, true, &[], "skipped: no eks-scheduler/schedule tag, so auto has nothing to follow"),
        (
            Auto,
            false,
            &[("eks-scheduler/schedule", office)],
            "act stop: stop scheduled at 2026-11-23T19:00:00Z (tag in UTC)",
        ),
        (
            Auto,
            false,
            &[("eks-scheduler/schedule", office), ("eks-scheduler/last-action", "stop@2026-11-23T19:02:00Z")],
            "unchanged: nothing due: the last scheduled moment (stop at 2026-11-23T19:00:00Z) was handled",
        ),
        (Auto, false, &[("eks-scheduler/schedule", "off=whenever")], "failed: tag eks-scheduler/schedule: "),
        (
            Auto,
            false,
            &[("eks-scheduler/schedule", office), ("eks-scheduler/last-action", "paused")],
            "failed: tag eks-scheduler/last-action: ",
        ),
        // A snooze postpones a stop, fixed or scheduled, in the cluster's zone; never a start.
        (
            Stop,
            false,
            &[("auto-stop", "true"), ("eks-scheduler/snooze-until", "2026-11-23T21:00")],
            "skipped: stop snoozed until Mon 2026-11-23 21:00 UTC (UTC) by the tag eks-scheduler/snooze-until",
        ),
        (
            Auto,
            false,
            &[
                ("eks-scheduler/schedule", "off=weekdays@19:00 on=weekdays@08:00 tz=Europe/Paris"),
                ("eks-scheduler/snooze-until", "2h"),
            ],
            "skipped: stop snoozed until Mon 2026-11-23 22:30 CET (Europe/Paris)",
        ),
        (Stop, false, &[("auto-stop", "true"), ("eks-scheduler/snooze-until", "2026-11-23T19:00:00Z")], "act stop"),
        (
            Stop,
            false,
            &[("auto-stop", "true"), ("eks-scheduler/snooze-until", "later")],
            "failed: tag eks-scheduler/snooze-until: \"later\" is not a time",
        ),
        (Start, false, &[("auto-start", "true"), ("eks-scheduler/snooze-until", "2h")], "act start"),
        (Stop, true, &[("eks-scheduler/snooze-until", "2h")], "act stop"),
    ];
    for (requested, named, tags, expected) in cases {
        let got = choice_text(choose(&SELECTION, *requested, *named, &cluster("c", tags), now));
        assert!(got.starts_with(expected), "{requested:?} named={named} {tags:?}: {got}");
    }
}

#[test]
fn what_holds_a_cluster_back() {
    // app needs db; web needs app.
    let dependencies = deps(&[("app", "db"), ("web", "app")]);
    let cases: &[(Action, &str, &[&str], &[&str], Option<&str>)] = &[
        (Action::Start, "app", &["db", "app"], &["db"], Some("not started: it needs db, which failed")),
        (Action::Start, "app", &["db", "app"], &[], None),
        // A dependency this run does not start imposes nothing, even if it failed elsewhere.
        (Action::Start, "app", &["app"], &["db"], None),
        (Action::Start, "db", &["db", "app"], &["app"], None),
        (Action::Stop, "db", &["db", "app"], &["app"], Some("not stopped: app, which needs it, failed to stop")),
        (Action::Stop, "db", &["db", "app"], &[], None),
        (
            Action::Stop,
            "app",
            &["db", "app", "web"],
            &["web"],
            Some("not stopped: web, which needs it, failed to stop"),
        ),
        (Action::Stop, "web", &["db", "app", "web"], &["app"], None),
    ];
    for (action, name, acting, failed, expected) in cases {
        let got = held_back_by(*action, name, &set(acting), &dependencies, &set(failed));
        assert_eq!(got.as_deref(), *expected, "{action} {name} acting={acting:?} failed={failed:?}");
    }
}

#[test]
fn a_start_waits_for_a_dependency_that_could_not_be_described() {
    let dependencies = deps(&[("app", "db cache")]);
    let undescribed: BTreeMap<String, String> =
        [("cache".to_owned(), "DescribeCluster failed: ThrottlingException".to_owned())].into();
    assert_eq!(
        held_by_undescribed("app", &dependencies, &undescribed).as_deref(),
        Some(
            "not started: it needs cache, which could not be described (DescribeCluster failed: ThrottlingException); it starts once cache can be read"
        )
    );
    assert_eq!(held_by_undescribed("db", &dependencies, &undescribed), None);
    assert_eq!(held_by_undescribed("app", &dependencies, &BTreeMap::new()), None);
}

#[test]
fn a_stop_writes_only_changing_sizes_and_only_if_they_fit() {
    let plans: NodegroupPlans = vec![
        ("system".to_owned(), plan_stop(sizes("2/2/4"), None)),
        ("idle".to_owned(), plan_stop(sizes("0/0/4"), Some("1/1/4"))),
        ("workers".to_owned(), plan_stop(sizes("1/3/10"), None)),
    ];
    let written = saved_size_tags(&plans);
    assert_eq!(
        written.into_iter().collect::<Vec<_>>(),
        [
            ("eks-scheduler/saved/system".to_owned(), "2/2/4".to_owned()),
            ("eks-scheduler/saved/workers".to_owned(), "1/3/10".to_owned())
        ],
        "a nodegroup at zero keeps its saved size, untouched"
    );
    let labels: Vec<(String, String)> = (0..45).map(|i| (format!("label-{i:02}"), "x".to_owned())).collect();
    let crowded = |count: usize| {
        let tags: Vec<(&str, &str)> = labels[..count].iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        cluster("c", &tags)
    };
    // 47 existing + 2 saved sizes + the last action = 50: fits. One more label does not.
    assert_eq!(check_tags_fit(&crowded(45), &plans), Ok(()));
    let mut too_many = crowded(45);
    too_many.tags.extend([("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())]);
    too_many.tags.insert("c".to_owned(), "3".to_owned());
    assert_eq!(
        check_tags_fit(&too_many, &plans),
        Err("saving the nodegroup sizes needs 51 tags on the cluster, and EKS allows 50: remove 1 other tags from the cluster; nothing was saved or scaled".to_owned())
    );
    let bad_name: NodegroupPlans = vec![("ng(blue)".to_owned(), plan_stop(sizes("1/1/1"), None))];
    let err = check_tags_fit(&cluster("c", &[]), &bad_name).expect_err("parentheses");
    assert!(err.starts_with("cannot save sizes: tag key \"eks-scheduler/saved/ng(blue)\" has '('"), "{err}");
}

#[test]
fn leases_say_who_holds_a_cluster_until_when() {
    let now = ts("2026-11-22T19:00:00Z");
    let mine = Lease::new("8f14e45f-ceea-467f-a9b6-1b6d1a0d2c11", ts("2026-11-22T19:15:00Z"));
    assert_eq!(mine.tag_value(), "8f14e45f-ceea-467f-a9b6-1b6d1a0d2c11@2026-11-22T19:15:00Z");
    assert_eq!(Lease::parse(&mine.tag_value()), Some(mine.clone()));
    assert_eq!(lease_tag_problem(&mine), None);
    assert_eq!(Lease::new("local run #1 (manual)", now).holder, "localrun1manual", "only tag-safe characters");
    let other = |until: &str| format!("c0ffee00-0000-4000-8000-000000000000@{until}");
    for (tag, expected) in [
        (None, LeaseState::Free),
        (Some(mine.tag_value()), LeaseState::Ours),
        (Some(other("2026-11-22T18:59:59Z")), LeaseState::Free),
        (Some("garbage".to_owned()), LeaseState::Free),
        (
            Some(other("2026-11-22T19:10:00Z")),
            LeaseState::Held(Lease {
                holder: "c0ffee00-0000-4000-8000-000000000000".to_owned(),
                until: ts("2026-11-22T19:10:00Z"),
            }),
        ),
    ] {
        assert_eq!(lease_state(tag.as_deref(), &mine, now), expected, "{tag:?}");
    }
    let held = lease_state(Some(&other("2026-11-22T19:10:00Z")), &mine, now);
    assert_eq!(
        held.refusal().as_deref(),
        Some(
            "another run (c0ffee00-0000-4000-8000-000000000000) is acting on this cluster until 2026-11-22T19:10:00Z: left to it; the next run checks again"
        )
    );
    assert_eq!(LeaseState::Ours.refusal(), None);
}

#[test]
fn a_snoozed_stop_is_announced_once_and_a_notice_on_its_own() {
    use crate::core::{Notice, announcements};
    let mut snoozed = ClusterReport::skipped("dev", Some(Action::Stop), "stop snoozed until ...");
    let until = ts("2026-11-23T21:00:00Z");
    snoozed.snoozed = Some(Box::new(crate::core::Snoozed { until, announce: false }));
    let mut again = snoozed.clone();
    snoozed.snoozed = Some(Box::new(crate::core::Snoozed { until, announce: true }));
    again.name = "qa".into();
    let mut report = stop_report(vec![snoozed, again]);
    report.notices = vec![Notice {
        cluster: "web".into(),
        stop_at: ts("2026-11-23T19:00:00Z"),
        stop_at_local: "Mon 2026-11-23 20:00 CET (Europe/Paris)".into(),
        minutes_left: 28,
        postpone: "tag the cluster eks-scheduler/snooze-until=2h".into(),
    }];
    let sent = announcements(&report, "req-1");
    let kinds: Vec<(&str, &str)> = sent.iter().map(|a| (a.detail_type.as_str(), a.cluster.as_str())).collect();
    assert_eq!(kinds, [("EKS Scheduler Cluster Stop Snoozed", "dev"), ("EKS Scheduler Cluster Stop Notice", "web")]);
    assert_eq!(sent[0].detail["snoozed_until"], serde_json::json!("2026-11-23T21:00:00Z"));
    assert_eq!(sent[1].detail["stop_at_local"], serde_json::json!("Mon 2026-11-23 20:00 CET (Europe/Paris)"));
    assert_eq!(sent[1].detail["minutes_left"], serde_json::json!(28));
    assert_eq!(sent[1].detail["status"], serde_json::json!("planned"), "SNS refuses an empty status attribute");
}

#[test]
fn a_run_announces_each_cluster_it_changed_or_failed_on_and_nothing_else() {
    use crate::core::{NodegroupReport, announcements};
    let nodegroup = |status| NodegroupReport {
        kind: Kind::Managed,
        name: "ng1".into(),
        before: "1/2/3".into(),
        after: "0/0/3".into(),
        status,
        reason: if status == Status::Failed { "busy".into() } else { String::new() },
    };
    let mut stopped = ClusterReport::new("dev", Some(Action::Stop));
    stopped.nodegroups = vec![nodegroup(Status::Changed)];
    stopped.settle();
    let mut failed = ClusterReport::new("qa", Some(Action::Stop));
    failed.nodegroups = vec![nodegroup(Status::Failed)];
    failed.settle();
    let quiet = ClusterReport::new("prod", Some(Action::Stop));
    let clusters = vec![stopped, failed, quiet];
    let mut report = stop_report(clusters);
    let sent = announcements(&report, "req-1");
    let kinds: Vec<(&str, &str)> = sent.iter().map(|a| (a.cluster.as_str(), a.detail_type.as_str())).collect();
    assert_eq!(kinds, [("dev", "EKS Scheduler Cluster Stopped"), ("qa", "EKS Scheduler Cluster Stop Failed")]);
    assert_eq!(sent[0].subject, "EKS Scheduler Cluster Stopped: dev");
    assert_eq!(sent[0].detail["nodegroups"][0]["before"], "1/2/3");
    assert_eq!(sent[0].detail["nodegroups"][0]["after"], "0/0/3");
    assert_eq!(sent[0].detail["dry_run"], false);
    assert_eq!(sent[0].detail["request_id"], "req-1");
    assert_eq!(sent[1].detail["failures"][0]["reason"], "busy");

    report.dry_run = true;
    assert_eq!(announcements(&report, "r")[0].detail_type, "EKS Scheduler Cluster Stop Planned");
    report.clusters[0].name = "x".repeat(120);
    assert!(announcements(&report, "r")[0].subject.len() <= 100);
}

fn stop_report(clusters: Vec<ClusterReport>) -> Report {
    Report {
        action: "stop".into(),
        dry_run: false,
        waves: BTreeMap::new(),
        totals: Report::totals_of(&clusters),
        clusters,
        api_calls: 0,
        scaling_seconds: 0,
        sites: Vec::new(),
        notices: Vec::new(),
    }
}

#[test]
fn cluster_keys_and_qualified_dependencies() {
    let site = site_key("111111111111", "eu-west-1");
    assert_eq!(site, "111111111111/eu-west-1");
    for (site, name, key) in [("", "api", "api"), (site.as_str(), "api", "111111111111/eu-west-1/api")] {
        assert_eq!(cluster_key(site, name), key);
        assert_eq!(split_key(key), (site, name));
    }
    for (dependency, dependent, expected) in [
        // A plain name is in the dependent's own account and region.
        ("data", "111111111111/eu-west-1/api", "111111111111/eu-west-1/data"),
        // A qualified one is anywhere the run reaches.
        ("222222222222/us-east-1/data", "111111111111/eu-west-1/api", "222222222222/us-east-1/data"),
        // A single-account run is unchanged.
        ("data", "api", "data"),
    ] {
        assert_eq!(qualify_dependency(dependency, dependent), expected, "{dependency} of {dependent}");
    }
}

#[test]
fn a_named_cluster_is_its_key_or_its_name_in_every_site() {
    let existing: Vec<String> = ["1/us-east-1/api", "1/eu-west-1/api", "2/us-east-1/api", "2/us-east-1/db"]
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    for (named, expected) in [
        ("1/eu-west-1/api", vec!["1/eu-west-1/api"]),
        ("api", vec!["1/us-east-1/api", "1/eu-west-1/api", "2/us-east-1/api"]),
        ("db", vec!["2/us-east-1/db"]),
        ("cache", vec!["cache"]),
        ("3/us-east-1/api", vec!["3/us-east-1/api"]),
    ] {
        assert_eq!(resolve_named(named, existing.iter()), expected, "{named}");
    }
}

/// A run's plan in words: each action's waves and the clusters it plans, then every
/// report decided before any nodegroup is read, `<name>: <status> [held back]: <reason>`.
fn plan_text(plan: &RunPlan) -> Vec<String> {
    let mut lines: Vec<String> = plan
        .actions
        .iter()
        .map(|(action, a)| format!("{action}: waves {:?}, plans {:?}", a.waves, a.to_plan))
        .collect();
    for (name, report) in &plan.reports {
        let status = format!("{:?}", report.status).to_lowercase();
        let held = if report.held_back { " held back" } else { "" };
        lines.push(format!("{name}: {status}{held}: {}", report.reason));
    }
    lines
}

#[test]
fn a_run_plan_orders_chosen_clusters_and_reports_the_ones_it_leaves() {
    let now = ts("2026-11-23T19:30:00Z");
    let existing = set(&["api", "db", "web", "cache", "stray", "cyc-a", "cyc-b", "gone-dep"]);
    let request = |action, named: Option<&[&str]>| Request {
        action,
        dry_run: false,
        clusters: named.map(|n| n.iter().map(|s| (*s).to_owned()).collect()),
    };
    let described = |infos: Vec<ClusterInfo>, unreadable: &[&str]| -> Vec<(String, Result<ClusterInfo, String>)> {
        let mut all: Vec<_> = infos.into_iter().map(|i| (i.name.clone(), Ok(i))).collect();
        all.extend(unreadable.iter().map(|n| ((*n).to_owned(), Err("DescribeCluster failed: Throttling".to_owned()))));
        all
    };
    let stop = ("auto-stop", "true");
    let start = ("auto-start", "true");
    let fleet = || {
        vec![
            cluster("db", &[stop, start]),
            cluster("api", &[stop, start, ("dependency", "db cache")]),
            cluster("web", &[stop, start, ("dependency", "api")]),
            cluster("stray", &[]),
            cluster("cyc-a", &[stop, ("dependency", "cyc-b")]),
            cluster("cyc-b", &[stop, ("dependency", "cyc-a")]),
            cluster("gone-dep", &[stop, ("dependency", "nowhere")]),
        ]
    };
    let plan_for = |request: &Request, described, refused: BTreeMap<String, ClusterReport>| {
        let planning =
            Planning { selection: SELECTION, request, now, dependency_tag: "dependency", existing: &existing };
        plan_text(&plan_run(&planning, described, refused))
    };

    // A stop: dependents first (the report lists start order); a cycle and a missing
    // dependency block only their clusters; an unreadable cluster fails alone.
    let stopping = request(RequestedAction::Stop, None);
    assert_eq!(
        plan_for(&stopping, described(fleet(), &["cache"]), BTreeMap::new()),
        [
            r#"stop: waves [["db"], ["api"], ["web"]], plans ["db", "api", "web"]"#,
            "cache: failed: DescribeCluster failed: Throttling",
            "cyc-a: failed held back: dependency cycle: cyc-a -> cyc-b -> cyc-a",
            "cyc-b: failed held back: dependency cycle: cyc-b -> cyc-a -> cyc-b",
            "gone-dep: failed held back: depends on nowhere, which does not exist",
        ]
    );

    // A start holds back what needs an unreadable cluster, and what needs that in turn
    // waits in a later wave (held back at execution, by `held_back_by`).
    let starting = request(RequestedAction::Start, None);
    assert_eq!(
        plan_for(&starting, described(fleet(), &["cache"]), BTreeMap::new()),
        [
            r#"start: waves [["db"], ["api"], ["web"]], plans ["db", "web"]"#,
            "api: failed held back: not started: it needs cache, which could not be described (DescribeCluster failed: Throttling); it starts once cache can be read",
            "cache: failed: DescribeCluster failed: Throttling",
        ]
    );

    // A cluster whose lease another run holds keeps that report and is not chosen.
    let refused = BTreeMap::from([(
        "db".to_owned(),
        ClusterReport::skipped("db", Some(Action::Stop), "another run holds the lease"),
    )]);
    assert_eq!(
        plan_for(
            &request(RequestedAction::Stop, Some(&["db", "stray"])),
            described(fleet().into_iter().filter(|c| c.name == "db" || c.name == "stray").collect(), &[]),
            refused
        ),
        [r#"stop: waves [["stray"]], plans ["stray"]"#, "db: skipped: another run holds the lease"]
    );

    // Auto: each cluster's schedule decides; one without a schedule is left out unless named.
    let office = ("eks-scheduler/schedule", "off=weekdays@19:00 on=weekdays@08:00");
    let auto = vec![cluster("db", &[office]), cluster("stray", &[])];
    let planned = plan_for(&request(RequestedAction::Auto, None), described(auto, &[]), BTreeMap::new());
    assert_eq!(planned, [r#"stop: waves [["db"]], plans ["db"]"#]);
}

#[test]
fn cluster_names_match_iam_wildcards() {
    let cases = [
        ("*", "anything", true),
        ("*", "", true),
        ("staging-*", "staging-api", true),
        ("staging-*", "staging-", true),
        ("staging-*", "prod-staging-api", false),
        ("*-batch", "dev-batch", true),
        ("*-batch", "dev-batch-2", false),
        ("dev-?", "dev-1", true),
        ("dev-?", "dev-12", false),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("exact", "exact", true),
        ("exact", "Exact", false),
    ];
    for (pattern, name, expected) in cases {
        assert_eq!(name_matches(pattern, name), expected, "{pattern} ~ {name}");
    }
}

#[test]
fn candidates_are_the_named_clusters_or_every_one() {
    let existing = set(&["111111111111/us-east-1/api", "222222222222/eu-west-1/api", "111111111111/us-east-1/db"]);
    assert_eq!(candidates(None, &existing, "*").len(), 3);
    assert_eq!(
        candidates(None, &existing, "d*"),
        ["111111111111/us-east-1/db"],
        "the pattern reads the name, not the key"
    );
    let named = ["api".to_owned(), "111111111111/us-east-1/db".to_owned(), "missing".to_owned()];
    assert_eq!(
        candidates(Some(&named), &existing, "d*"),
        ["111111111111/us-east-1/api", "222222222222/eu-west-1/api", "111111111111/us-east-1/db", "missing"]
    );
}

#[test]
fn nodegroup_plans_and_the_reports_built_from_them() {
    let info = cluster("c", &[("eks-scheduler/saved/ng-a", "1/2/3")]);
    let nodegroups = vec![("ng-a".to_owned(), sizes("0/0/3")), ("ng-b".to_owned(), sizes("2/3/5"))];
    let managed = plan_nodegroups(Action::Start, &info, nodegroups.clone()).expect("plans");
    let plans = CapacityPlans { managed, ..CapacityPlans::default() };
    let report = planned_report("c", Action::Start, &plans);
    let text: Vec<String> =
        report.nodegroups.iter().map(|n| format!("{} {} -> {}", n.name, n.before, n.after)).collect();
    assert_eq!(text, ["ng-a 0/0/3 -> 1/2/3", "ng-b 2/3/5 -> 2/3/5"]);
    let held = held_back_report("c", Action::Start, &plans, "not started: it needs db, which failed".into(), 2);
    assert_eq!((held.status, held.held_back, held.wave), (Status::Failed, true, Some(2)));
    assert!(held.nodegroups.iter().all(|n| n.status == Status::Failed));

    // A stop whose saved sizes would take the cluster past 50 tags is refused whole.
    let crowded: Vec<(String, String)> = (0..49).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let crowded: Vec<(&str, &str)> = crowded.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let refused = plan_nodegroups(Action::Stop, &cluster("c", &crowded), nodegroups).expect_err("too many tags");
    assert_eq!(refused.status, Status::Failed);
    assert!(refused.reason.starts_with("saving the nodegroup sizes needs"), "{}", refused.reason);
    let fargate = ["batch".to_owned(), "default".to_owned()];
    let no_nodes = no_capacity("c", Action::Stop, &fargate);
    assert_eq!(no_nodes.status, Status::Skipped);
    let listed: Vec<(Kind, &str, Status)> =
        no_nodes.nodegroups.iter().map(|n| (n.kind, n.name.as_str(), n.status)).collect();
    assert_eq!(listed, [(Kind::Fargate, "batch", Status::Skipped), (Kind::Fargate, "default", Status::Skipped)]);
}

fn group(sizes_text: &str, tags: &[(&str, &str)], suspended: &[&str]) -> SelfManagedGroup {
    SelfManagedGroup {
        name: "workers".into(),
        sizes: if sizes_text == "0/0/0" { Sizes::new(0, 0, 0) } else { sizes(sizes_text) },
        tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        suspended: suspended.iter().map(|p| (*p).to_owned()).collect(),
        protected_instances: Vec::new(),
        warm_pool: None,
        warm_pool_settings: WarmPoolSettings::default(),
    }
}

#[test]
fn a_self_managed_group_is_one_tagged_for_its_cluster_and_not_a_managed_nodegroups_own() {
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    for (pairs, expected) in [
        (&[("kubernetes.io/cluster/dev", "owned")][..], true),
        (&[("kubernetes.io/cluster/dev", "Shared")][..], true),
        (&[("kubernetes.io/cluster/dev", "other")][..], false),
        (&[("kubernetes.io/cluster/devx", "owned")][..], false),
        (&[("eks:cluster-name", "dev")][..], true),
        (&[("eks:cluster-name", "qa")][..], false),
        (&[("eks-scheduler/cluster", "dev")][..], true),
        // EKS's own group for a managed nodegroup carries both, and is scaled through EKS.
        (
            &[("kubernetes.io/cluster/dev", "owned"), ("eks:cluster-name", "dev"), ("eks:nodegroup-name", "ng")][..],
            false,
        ),
        (&[][..], false),
    ] {
        assert_eq!(is_self_managed_group_of("dev", &tags(pairs)), expected, "{pairs:?}");
    }
}

#[test]
fn a_group_stop_saves_first_suspends_what_would_fight_it_and_goes_to_zero() {
    let mut running = group("2/3/6", &[], &["Launch"]);
    running.protected_instances = vec!["i-1".into(), "i-2".into()];
    running.warm_pool = Some(WarmPool { min: 1, max_prepared: None });
    running.warm_pool_settings.state = Some("Stopped".into());
    let plan = plan_group_stop(&running);
    assert_eq!(
        plan.sizes,
        NodegroupPlan::Change { before: sizes("2/3/6"), after: Sizes::new(0, 0, 0), clear_saved: false }
    );
    assert_eq!(plan.steps.suspend, PROCESSES_SUSPENDED_WHILE_STOPPED);
    assert_eq!(plan.steps.unprotect, ["i-1", "i-2"]);
    let empty = (WarmPool::EMPTY, WarmPoolSettings { state: Some("Stopped".into()), reuse_on_scale_in: None });
    assert_eq!(plan.steps.warm_pool, Some(empty));
    let saved: Vec<(&str, &str)> = plan.steps.save.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        saved,
        [
            ("eks-scheduler/saved", "2/3/6"),
            ("eks-scheduler/saved-warm-pool", "min=1 max-prepared=group-max"),
            ("eks-scheduler/suspended", "AZRebalance AlarmNotification ReplaceUnhealthy ScheduledActions"),
        ]
    );

    // Only what it suspends is its to resume: a process suspended already is someone else's.
    let partly = plan_group_stop(&group("1/1/2", &[], &["AZRebalance", "ScheduledActions"]));
    assert_eq!(partly.steps.suspend, ["AlarmNotification", "ReplaceUnhealthy"]);
    assert_eq!(partly.steps.save["eks-scheduler/suspended"], "AlarmNotification ReplaceUnhealthy");
    // A warm pool that holds nothing at zero is left as it is.
    let mut idle_pool = group("1/1/2", &[], &[]);
    idle_pool.warm_pool = Some(WarmPool { min: 0, max_prepared: None });
    assert_eq!(plan_group_stop(&idle_pool).steps.warm_pool, None);
    // An earlier stop's record of what it suspended is kept when the group was sized up by hand.
    let resized = group(
        "1/2/2",
        &[("eks-scheduler/suspended", "AZRebalance ScheduledActions")],
        &PROCESSES_SUSPENDED_WHILE_STOPPED,
    );
    let again = plan_group_stop(&resized);
    assert!(again.steps.suspend.is_empty());
    assert_eq!(again.steps.save["eks-scheduler/suspended"], "AZRebalance ScheduledActions");

    // Never 0/0/…: a group at zero is left alone, its saved size kept.
    for stopped in [group("0/0/0", &[("eks-scheduler/saved", "2/3/6")], &[]), group("0/0/4", &[], &[])] {
        let plan = plan_group_stop(&stopped);
        assert!(matches!(plan.sizes, NodegroupPlan::Unchanged { .. }), "{plan:?}");
        assert_eq!(plan.steps, GroupSteps::default());
    }
}

#[test]
fn a_group_start_restores_its_record_and_leaves_a_group_without_one_at_zero() {
    let stopped = group(
        "0/0/0",
        &[
            ("eks-scheduler/saved", "2/3/6"),
            ("eks-scheduler/suspended", "AZRebalance ReplaceUnhealthy"),
            ("eks-scheduler/saved-warm-pool", "min=1 max-prepared=4"),
        ],
        // Someone resumed AZRebalance meanwhile, and suspended Launch themselves.
        &["ReplaceUnhealthy", "Launch"],
    );
    let plan = plan_group_start(&stopped);
    assert_eq!(
        plan.sizes,
        NodegroupPlan::Change { before: Sizes::new(0, 0, 0), after: sizes("2/3/6"), clear_saved: true }
    );
    assert_eq!(plan.steps.resume, ["ReplaceUnhealthy"]);
    assert_eq!(plan.steps.warm_pool.map(|(pool, _)| pool), Some(WarmPool { min: 1, max_prepared: Some(4) }));
    assert_eq!(plan.steps.clear, ["eks-scheduler/saved", "eks-scheduler/suspended", "eks-scheduler/saved-warm-pool"]);

    // Scale-from-zero groups sit at 0/0/n: with no saved size the start leaves them there.
    let no_record = plan_group_start(&group("0/0/10", &[], &[]));
    assert!(matches!(no_record.sizes, NodegroupPlan::Skipped { .. }), "{no_record:?}");
    // Sized up by hand after a stop: the size is kept, the rest of the record restored.
    let by_hand = plan_group_start(&group(
        "1/1/3",
        &[("eks-scheduler/saved", "2/3/6"), ("eks-scheduler/suspended", "AZRebalance")],
        &["AZRebalance"],
    ));
    assert_eq!(
        by_hand.sizes,
        NodegroupPlan::Change { before: sizes("1/1/3"), after: sizes("1/1/3"), clear_saved: true }
    );
    assert_eq!(by_hand.steps.resume, ["AZRebalance"]);
    assert!(matches!(plan_group_start(&group("1/1/3", &[], &[])).sizes, NodegroupPlan::Unchanged { .. }));
    // An unreadable record fails the group, naming the tag.
    for (tag, value) in [
        ("eks-scheduler/saved", "0/0/0"),
        ("eks-scheduler/saved", "lots"),
        ("eks-scheduler/saved-warm-pool", "min=one"),
    ] {
        let mut tags = vec![("eks-scheduler/saved", "1/1/1")];
        tags.retain(|(k, _)| *k != tag);
        tags.push((tag, value));
        let plan = plan_group_start(&group("0/0/0", &tags, &[]));
        let NodegroupPlan::Failed { reason, .. } = &plan.sizes else { panic!("{tag}={value}: {plan:?}") };
        assert!(reason.contains(tag), "{reason}");
    }
}

#[test]
fn a_group_the_role_may_not_change_fails_up_front_naming_the_tag_that_permits_it() {
    let legacy = group("1/2/3", &[("kubernetes.io/cluster/dev", "owned")], &[]);
    let plan = plan_group(Action::Stop, "dev", &legacy);
    let NodegroupPlan::Failed { reason, .. } = &plan.sizes else { panic!("{plan:?}") };
    assert!(reason.contains("tag it eks-scheduler/cluster=dev"), "{reason}");
    assert!(reason.contains("ResourceId=workers,"), "{reason}");
    assert_eq!(plan.steps, GroupSteps::default(), "nothing is done to it");
    for tags in [&[("eks-scheduler/cluster", "dev")][..], &[("eks:cluster-name", "dev")][..]] {
        let permitted = group("1/2/3", tags, &[]);
        assert!(matches!(plan_group(Action::Stop, "dev", &permitted).sizes, NodegroupPlan::Change { .. }), "{tags:?}");
    }
    // A group the action leaves alone needs no permission.
    let idle = group("0/0/5", &[("kubernetes.io/cluster/dev", "owned")], &[]);
    assert!(matches!(plan_group(Action::Stop, "dev", &idle).sizes, NodegroupPlan::Unchanged { .. }));
}

#[test]
fn warm_pool_records_round_trip() {
    for pool in [WarmPool { min: 0, max_prepared: Some(5) }, WarmPool { min: 2, max_prepared: None }, WarmPool::EMPTY] {
        assert_eq!(pool.to_string().parse::<WarmPool>(), Ok(pool));
    }
    for bad in ["", "min=1", "min=-1 max-prepared=2", "min=1 max-prepared=2 extra=3", "max-prepared=2 min=x"] {
        assert!(bad.parse::<WarmPool>().is_err(), "{bad}");
    }
}

#[test]
fn a_cluster_plan_goes_through_its_kinds_in_the_actions_order() {
    let info = cluster("c", &[]);
    let capacity = Capacity {
        managed: vec![("system".to_owned(), sizes("2/2/3"))],
        self_managed: vec![group("1/2/4", &[("eks-scheduler/cluster", "c")], &[])],
        nodepools: vec![NodePool {
            name: "batch".to_owned(),
            resource_version: "9".to_owned(),
            limits: BTreeMap::from([("cpu".to_owned(), "64".to_owned())]),
            annotations: BTreeMap::new(),
            nodeclaims: vec!["batch-x1".to_owned(), "batch-x2".to_owned()],
        }],
        fargate: vec!["jobs".to_owned()],
        running: Vec::new(),
    };
    let stop = plan_capacity(Action::Stop, &info, capacity.clone()).expect("plans");
    let kinds = |report: &ClusterReport| -> Vec<(Kind, String, String, String)> {
        report.nodegroups.iter().map(|n| (n.kind, n.name.clone(), n.before.clone(), n.after.clone())).collect()
    };
    let text = |rows: &[(Kind, &str, &str, &str)]| -> Vec<(Kind, String, String, String)> {
        rows.iter().map(|(k, n, b, a)| (*k, (*n).to_owned(), (*b).to_owned(), (*a).to_owned())).collect()
    };
    assert_eq!(
        kinds(&planned_report("c", Action::Stop, &stop)),
        text(&[
            (Kind::NodePool, "batch", "cpu=64, 2 nodes", "cpu=0, 0 nodes"),
            (Kind::SelfManaged, "workers", "1/2/4", "0/0/0"),
            (Kind::Managed, "system", "2/2/3", "0/0/3"),
            (Kind::Fargate, "jobs", "-", "-"),
        ])
    );
    let start_capacity = Capacity {
        self_managed: vec![group("0/0/0", &[("eks-scheduler/saved", "1/2/4"), ("eks-scheduler/cluster", "c")], &[])],
        nodepools: vec![NodePool {
            name: "batch".to_owned(),
            resource_version: "10".to_owned(),
            limits: BTreeMap::from([("cpu".to_owned(), "0".to_owned())]),
            annotations: BTreeMap::from([(SAVED_LIMITS_ANNOTATION.to_owned(), r#"{"cpu":"64"}"#.to_owned())]),
            nodeclaims: Vec::new(),
        }],
        ..capacity
    };
    let info = cluster("c", &[("eks-scheduler/saved/system", "2/2/3")]);
    let start = plan_capacity(
        Action::Start,
        &info,
        Capacity { managed: vec![("system".to_owned(), sizes("0/0/3"))], ..start_capacity },
    )
    .expect("plans");
    assert_eq!(
        kinds(&planned_report("c", Action::Start, &start)),
        text(&[
            (Kind::Managed, "system", "0/0/3", "2/2/3"),
            (Kind::SelfManaged, "workers", "0/0/0", "1/2/4"),
            (Kind::NodePool, "batch", "cpu=0, 0 nodes", "cpu=64"),
            (Kind::Fargate, "jobs", "-", "-"),
        ])
    );
    assert_eq!(serde_json::to_value(Kind::NodePool).expect("json"), "nodepool");
    // The kind is in the report's JSON, and so in announcements.
    let json = serde_json::to_value(planned_report("c", Action::Start, &start)).expect("json");
    assert_eq!(json["nodegroups"][1]["kind"], "self-managed");
    // Only self-managed groups: planned without the cluster's tags being needed.
    let only_groups =
        Capacity { self_managed: vec![group("1/1/1", &[("eks:cluster-name", "c")], &[])], ..Capacity::default() };
    assert_eq!(plan_capacity(Action::Stop, &cluster("c", &[]), only_groups).expect("plans").self_managed.len(), 1);
}

#[test]
fn a_group_of_a_cluster_in_another_account_is_permitted_by_the_clusters_name_not_its_key() {
    let key = "111111111111/eu-west-1/batch";
    let capacity = Capacity {
        self_managed: vec![group("1/2/4", &[("eks-scheduler/cluster", "batch")], &[])],
        ..Capacity::default()
    };
    let plans = plan_capacity(Action::Stop, &cluster(key, &[]), capacity).expect("plans");
    assert!(matches!(plans.self_managed[0].1.sizes, NodegroupPlan::Change { .. }), "{plans:?}");
}
