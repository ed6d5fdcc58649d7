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
    check(json!({"action": "pause"}), Err(r#"unknown action "pause"; the actions are "stop", "start" and "auto""#));
    check(json!({}), Err(r#"the field action is missing: give "stop", "start" or "auto""#));
    check(
        json!({"action": "stop", "dryrun": true}),
        Err(
            r#"unknown field "dryrun"; the fields are action ("stop", "start" or "auto"), dry_run (true or false), clusters (a list of cluster names)"#,
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
            r#"the payload must be a JSON object with the fields action ("stop", "start" or "auto"), dry_run (true or false), clusters (a list of cluster names)"#,
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
    let report = Report {
        action: "stop".into(),
        dry_run: false,
        waves: BTreeMap::new(),
        totals: Report::totals_of(&clusters),
        clusters,
        api_calls: 0,
    };
    assert_eq!(report.totals.clusters_failed, 2);
    assert_eq!(report.totals.nodegroups_changed, 1);
    assert_eq!(
        report.failure_summary().as_deref(),
        Some("2 of 2 clusters failed: c: nodegroup ng1: busy | x: dependency cycle: x -> x")
    );
}
