#![allow(clippy::type_complexity)] // case tables

use std::collections::BTreeMap;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::*;

fn date(text: &str) -> Date {
    text.parse().expect("test date")
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("test decimal")
}

#[test]
fn the_report_day_is_the_last_complete_utc_day() {
    let cases: &[(&str, Option<&str>, Result<&str, &str>)] = &[
        ("2026-11-22T06:00:00Z", None, Ok("2026-11-21")),
        // 07:00 in Tokyo on the 23rd is 22:00 UTC on the 22nd: the 22nd is still being billed.
        ("2026-11-22T22:00:00Z", None, Ok("2026-11-21")),
        // 21:00 in Los Angeles on the 21st is 05:00 UTC on the 22nd: the 21st is complete.
        ("2026-11-22T05:00:00Z", None, Ok("2026-11-21")),
        ("2027-01-01T00:30:00Z", None, Ok("2026-12-31")),
        ("2026-11-22T06:00:00Z", Some("2026-10-31"), Ok("2026-10-31")),
        ("2026-11-22T06:00:00Z", Some("2026-11-21"), Ok("2026-11-21")),
        ("2026-11-22T06:00:00Z", Some("2026-11-22"), Err("date 2026-11-22 is not before today (2026-11-22 in UTC")),
        // Already the 23rd in Tokyo, but the 22nd is not over in UTC.
        ("2026-11-22T22:00:00Z", Some("2026-11-22"), Err("date 2026-11-22 is not before today (2026-11-22 in UTC")),
        ("2026-11-22T06:00:00Z", Some("2027-01-01"), Err("date 2027-01-01 is not before today")),
    ];
    for (now, requested, expected) in cases {
        let now: Timestamp = now.parse().expect("now");
        let got = report_day(now, requested.map(date)).map(|d| d.to_string());
        match expected {
            Ok(day) => assert_eq!(got.as_deref(), Ok(*day), "{now}"),
            Err(start) => assert!(got.as_ref().is_err_and(|e| e.starts_with(start)), "{now}: {got:?}"),
        }
    }
}

#[test]
fn windows_cover_last_month_and_30_days_with_an_exclusive_end() {
    for (report_day, start, end) in [
        ("2026-11-21", "2026-10-01", "2026-11-22"),
        ("2026-11-30", "2026-10-01", "2026-12-01"),
        // On the 1st, 30 days reach back before the previous month's start.
        ("2026-03-01", "2026-01-31", "2026-03-02"),
        ("2027-01-01", "2026-12-01", "2027-01-02"),
        ("2026-12-31", "2026-11-01", "2027-01-01"),
        ("2028-02-29", "2028-01-01", "2028-03-01"),
        // In a leap year 29 days before March 1 is February 1, the previous month's start.
        ("2028-03-01", "2028-02-01", "2028-03-02"),
    ] {
        let window = window_for(date(report_day));
        assert_eq!((window.start, window.end_exclusive), (date(start), date(end)), "{report_day}");
        let query = cost_query(&window, Metric::UnblendedCost, &GroupBy::service(), RecordTypes::Usage);
        assert_eq!((query.start, query.end_exclusive), (date(start), date(end)));
    }
}

#[test]
fn the_forecast_covers_the_rest_of_the_month_from_today() {
    for (report_day, today, expected) in [
        ("2026-11-21", "2026-11-22", Some(("2026-11-22", "2026-12-01"))),
        ("2026-02-27", "2026-02-28", Some(("2026-02-28", "2026-03-01"))),
        ("2026-11-30", "2026-12-01", None),
        ("2026-12-31", "2027-01-01", None),
        ("2026-11-10", "2026-11-22", None),
    ] {
        let got = forecast_query(&window_for(date(report_day)), date(today), RecordTypes::Usage)
            .map(|q| (q.start, q.end_exclusive));
        assert_eq!(got, expected.map(|(s, e)| (date(s), date(e))), "{report_day} seen on {today}");
    }
}

#[test]
fn metrics_and_groupings_parse() {
    for (text, metric, forecast) in [
        ("UnblendedCost", Metric::UnblendedCost, "UNBLENDED_COST"),
        ("amortizedcost", Metric::AmortizedCost, "AMORTIZED_COST"),
        ("NetUnblendedCost", Metric::NetUnblendedCost, "NET_UNBLENDED_COST"),
        ("NetAmortizedCost", Metric::NetAmortizedCost, "NET_AMORTIZED_COST"),
    ] {
        let parsed: Metric = text.parse().expect("metric");
        assert_eq!((parsed, parsed.forecast_name()), (metric, forecast));
    }
    assert!("BlendedCost".parse::<Metric>().is_err());
    let by = |dimensions: Vec<Dimension>| GroupBy::new(dimensions).expect("a grouping");
    for (text, expected, label) in [
        ("SERVICE", by(vec![Dimension::Service]), "service"),
        ("linked_account", by(vec![Dimension::LinkedAccount]), "linked account"),
        ("TAG:team", by(vec![Dimension::Tag("team".into())]), "tag team"),
        (
            "COST_CATEGORY:Business unit",
            by(vec![Dimension::CostCategory("Business unit".into())]),
            "cost category Business unit",
        ),
        (
            "LINKED_ACCOUNT, tag:team",
            by(vec![Dimension::LinkedAccount, Dimension::Tag("team".into())]),
            "linked account and tag team",
        ),
    ] {
        let parsed: GroupBy = text.parse().expect(text);
        assert_eq!((&parsed, parsed.label().as_str()), (&expected, label), "{text}");
    }
    for bad in ["TAG:", "REGION", "SERVICE,SERVICE", "SERVICE,LINKED_ACCOUNT,TAG:team", "COST_CATEGORY:"] {
        assert!(bad.parse::<GroupBy>().is_err(), "{bad}");
    }
    let names = BTreeMap::from([("111111111111".to_owned(), "payments-prod".to_owned())]);
    let two = by(vec![Dimension::LinkedAccount, Dimension::Tag("team".into())]);
    for (keys, people) in [
        (["111111111111", "team$checkout"], "payments-prod (111111111111) · checkout"),
        (["222222222222", "team$"], "222222222222 · untagged"),
    ] {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        assert_eq!(GroupBy::for_people(&two.display_key(&GroupBy::join_keys(&keys), &names)), people);
    }
    let category = by(vec![Dimension::CostCategory("unit".into())]);
    assert_eq!(category.display_key("unit$", &names), "uncategorized");
    assert_eq!(category.columns(), ["cost_category:unit"]);
    assert_eq!(two.columns(), ["linked_account", "tag:team"]);
}

#[test]
fn money_and_percentages_read_well() {
    for (amount, unit, expected) in [
        ("1234.565", "USD", "$1,234.57"),
        ("0.004", "USD", "$0.00"),
        ("-0.004", "USD", "$0.00"),
        ("-12.5", "USD", "-$12.50"),
        ("1234567.1", "EUR", "1,234,567.10 EUR"),
        ("999", "USD", "$999.00"),
    ] {
        assert_eq!(format_money(dec(amount), unit), expected, "{amount}");
    }
    assert_eq!(format_percent(Some(dec("12.345")), false), "+12.3%");
    assert_eq!(format_percent(Some(dec("-4")), false), "-4.0%");
    assert_eq!(format_percent(Some(Decimal::ZERO), false), "0.0%");
    assert_eq!(format_percent(None, true), "new");
    assert_eq!(format_percent(None, false), "–");
}

#[test]
fn event_payloads() {
    let on = |day: &str| Request { date: Some(date(day)), resend: false };
    assert_eq!(parse_event(&Value::Null), Ok(Request::default()));
    assert_eq!(parse_event(&json!({"detail-type": "Scheduled Event", "detail": {}})), Ok(Request::default()));
    assert_eq!(parse_event(&json!({"date": "2026-10-31"})), Ok(on("2026-10-31")));
    assert_eq!(parse_event(&json!({"resend": true})), Ok(Request { date: None, resend: true }));
    assert_eq!(
        parse_event(&json!({"detail": {"date": "2026-10-31", "resend": true}})),
        Ok(Request { date: Some(date("2026-10-31")), resend: true })
    );
    assert_eq!(
        parse_event(&json!({"date": "31/10/2026"})),
        Err(r#"date "31/10/2026" is not a date YYYY-MM-DD"#.into())
    );
    assert_eq!(
        parse_event(&json!({"date": 20261031})),
        Err("date is 20261031: expected a date string YYYY-MM-DD".into())
    );
    assert_eq!(parse_event(&json!({"resend": "yes"})), Err(r#"resend is "yes": expected true or false"#.into()));
    assert!(parse_event(&json!("yesterday")).is_err());
}

/// A day of results: (service, amount) pairs.
fn day(on: &str, estimated: bool, groups: &[(&str, &str)]) -> CostDay {
    CostDay {
        date: date(on),
        estimated,
        groups: groups.iter().map(|(k, v)| (k.to_string(), dec(v))).collect(),
        unit: Some("USD".into()),
    }
}

fn report(days: &[CostDay], forecast: Result<Option<Decimal>, String>, top_n: usize, alerts: Alerts) -> CostReport {
    build_report(
        window_for(date("2026-11-21")),
        Metric::UnblendedCost,
        GroupBy::service(),
        &BTreeMap::new(),
        days,
        forecast,
        top_n,
        alerts,
    )
}

#[test]
fn pages_are_merged_by_day() {
    let merged = merge_pages(vec![
        day("2026-11-20", false, &[("EC2", "1")]),
        day("2026-11-21", false, &[("EC2", "2")]),
        day("2026-11-21", true, &[("S3", "3")]),
    ]);
    assert_eq!(merged.len(), 2);
    assert_eq!(merged[1].groups.len(), 2);
    assert!(merged[1].estimated);
}

#[test]
fn figures_treat_missing_days_and_services_as_zero() {
    let days = [
        day("2026-10-01", false, &[("EC2", "10")]),
        day("2026-10-21", false, &[("EC2", "5"), ("S3", "1")]),
        day("2026-11-01", false, &[("EC2", "7")]),
        // 2026-11-20 is missing entirely; S3 has no cost on the 21st.
        day("2026-11-21", true, &[("EC2", "12.50"), ("Lambda", "0.25")]),
    ];
    let report = report(&days, Ok(Some(dec("100"))), 10, Alerts::default());

    assert_eq!(report.days.len(), 52, "every day from 2026-10-01 to 2026-11-21");
    assert_eq!(report.report_day_total, dec("12.75"));
    assert_eq!(report.day_before_total, Decimal::ZERO);
    assert_eq!(report.day_change_pct(), None);
    assert_eq!(report.day_change_text(), "new");
    assert!(report.report_day_estimated());
    assert!(report.month_to_date_estimated());
    assert_eq!(report.month_to_date, dec("19.75"));
    assert_eq!(report.last_month_same_days, dec("16"), "October 1 to 21: 10 + 5 + 1");
    assert_eq!(report.forecast, Forecast::Available { month_total: dec("119.75") });
    let names: Vec<&str> = report.top.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["EC2", "Lambda"], "by the report day's cost; S3 had none on either day");
    assert_eq!(report.daily_totals().len(), 30);
    assert_eq!(report.daily_totals().last().map(|t| t.1), Some(dec("12.75")));
}

#[test]
fn month_over_month_uses_the_same_days_or_all_of_a_shorter_month() {
    let days: Vec<CostDay> = ["2026-02-27", "2026-02-28", "2026-03-30", "2026-03-31"]
        .iter()
        .map(|d| day(d, false, &[("EC2", "1")]))
        .collect();
    let report = report_by_service(date("2026-03-31"), &days, Ok(None));
    assert_eq!(report.month_to_date, dec("2"));
    assert_eq!(report.last_month_same_days, dec("2"), "March 31 compares with all of February");
    assert_eq!(report.forecast, Forecast::Complete { month_total: dec("2") });
}

#[test]
fn top_n_and_other() {
    let groups: Vec<(String, String)> = (1..=15).map(|i| (format!("svc-{i:02}"), format!("{i}"))).collect();
    let pairs: Vec<(&str, &str)> = groups.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let before: Vec<(&str, &str)> = vec![("svc-15", "10"), ("svc-01", "2")];
    let report = report(
        &[day("2026-11-20", false, &before), day("2026-11-21", false, &pairs)],
        Err("x".into()),
        3,
        Alerts::default(),
    );
    let names: Vec<&str> = report.top.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["svc-15", "svc-14", "svc-13"]);
    assert_eq!(report.top[0].change_text(), "+50.0%");
    assert_eq!(report.top[1].change_text(), "new");
    let other = report.other.as_ref().expect("other");
    assert_eq!(other.name, "Other (12 more)");
    assert_eq!(other.report_day, dec("78"), "1 + 2 + ... + 12");
    assert_eq!(other.day_before, dec("2"));
    assert_eq!(report.top.iter().map(|l| l.report_day).sum::<Decimal>() + other.report_day, report.report_day_total);
    assert_eq!(report.forecast, Forecast::Unavailable { reason: "x".into() });
}

#[test]
fn alerts_fire_only_when_a_threshold_is_crossed() {
    let days = [day("2026-11-20", false, &[("EC2", "100")]), day("2026-11-21", false, &[("EC2", "130")])];
    let cases: &[(Option<&str>, Option<&str>, &[&str])] = &[
        (None, None, &[]),
        (Some("200"), Some("50"), &[]),
        (Some("130"), None, &[]),
        (Some("129.99"), None, &["UnblendedCost cost $130.00 on 2026-11-21, above the alert threshold of $129.99"]),
        (None, Some("30"), &[]),
        (
            None,
            Some("29.9"),
            &["cost rose +30.0% from the day before ($100.00 to $130.00), above the alert threshold of 29.9%"],
        ),
    ];
    for (above, pct, expected) in cases {
        let alerts = Alerts { daily_above: above.map(dec), change_pct_above: pct.map(dec) };
        let got = report(&days, Ok(None), 10, alerts).alerts;
        assert_eq!(got, *expected, "{above:?} {pct:?}");
    }
    let from_zero = [day("2026-11-21", false, &[("EC2", "5")])];
    let alerts = Alerts { daily_above: None, change_pct_above: Some(dec("10")) };
    assert_eq!(
        report(&from_zero, Ok(None), 10, alerts).alerts,
        ["cost rose from nothing the day before to $5.00, above the alert threshold of 10%"]
    );
}

fn many_services(count: usize) -> CostReport {
    let groups: Vec<(String, String)> = (0..count)
        .map(|i| (format!("Amazon Service With A Long Name Number {i:03} <&>"), format!("{}.{:02}", i + 1, i % 100)))
        .collect();
    let pairs: Vec<(&str, &str)> = groups.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let alerts = Alerts { daily_above: Some(dec("1")), change_pct_above: Some(dec("1")) };
    report(
        &[day("2026-11-20", false, &pairs[..count.min(10)]), day("2026-11-21", true, &pairs)],
        Ok(Some(dec("10"))),
        count,
        alerts,
    )
}

fn slack_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(text)) = map.get("text") {
                out.push(text.clone());
            }
            map.values().for_each(|v| slack_texts(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| slack_texts(v, out)),
        _ => {}
    }
}

#[test]
fn slack_message_stays_within_limits_with_200_services() {
    let message = render_slack(&many_services(200));
    let blocks = message["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= MAX_SLACK_BLOCKS, "{} blocks", blocks.len());
    assert!(blocks[0]["text"]["text"].as_str().expect("header").chars().count() <= 150);
    let mut texts = Vec::new();
    slack_texts(&Value::Array(blocks.clone()), &mut texts);
    for text in &texts {
        assert!(text.chars().count() <= MAX_SLACK_TEXT, "{} characters", text.chars().count());
    }
    let top = texts.iter().find(|t| t.starts_with("*Top services on")).expect("top section");
    assert!(top.contains("… and ") && top.ends_with("more services"), "{}", &top[top.len() - 60..]);
    assert!(top.contains("&lt;&amp;&gt;"), "names are escaped for mrkdwn");
    assert!(texts.iter().any(|t| t.contains(":rotating_light: *Alert:*")));
    assert!(blocks[0]["text"]["text"].as_str().is_some_and(|h| h.starts_with("🚨 AWS cost 2026-11-21:")));
}

#[test]
fn slack_message_lists_every_line_when_they_fit() {
    let message = render_slack(&many_services(5));
    let mut texts = Vec::new();
    slack_texts(&message, &mut texts);
    let top = texts.iter().find(|t| t.starts_with("*Top services on")).expect("top section");
    assert_eq!(top.lines().count(), 6, "heading and five services: {top}");
    assert!(!top.contains("more service"));
    assert!(texts.iter().any(|t| t.starts_with("*Trend, ")), "a trend line");
    assert!(message["text"].as_str().is_some_and(|t| t.starts_with("[ALERT] AWS cost 2026-11-21")), "fallback text");
}

#[test]
fn email_html_is_self_contained_and_escaped_and_text_matches() {
    let report = many_services(12);
    let email = render_email(&report);
    assert!(email.subject.starts_with("[ALERT] AWS cost 2026-11-21: "), "{}", email.subject);
    let html = &email.html;
    assert!(html.starts_with("<!DOCTYPE html>"));
    for forbidden in ["<script", "url(", "<link"] {
        assert!(!html.contains(forbidden), "no {forbidden} in the HTML");
    }
    // One image, the chart, from the message itself: nothing is fetched.
    assert_eq!(html.matches("src=").count(), 1);
    assert_eq!(html.matches("<img src=\"cid:cost-chart@cost-report\"").count(), 1);
    assert!(email.chart_png.as_ref().is_some_and(|png| png.starts_with(b"\x89PNG")));
    assert!(html.contains("Amazon Service With A Long Name Number 011 &lt;&amp;&gt;"));
    assert!(!html.contains("<&>"), "names are escaped");
    assert!(html.contains("Daily total, last 30 days"));
    assert_eq!(html.matches("bgcolor=").count(), 2, "two days with cost get a bar");
    assert!(html.contains("<strong>Alert:</strong>"));
    assert!(html.contains(&report.money(report.report_day_total)));
    assert!(html.contains("(estimated)"));

    let text = &email.text;
    assert!(text.starts_with("AWS cost report for 2026-11-21\nUnblendedCost by service, USD\n"));
    assert!(text.contains("ALERT: "));
    assert!(text.contains("Month to date"));
    assert!(text.contains(&report.money(report.report_day_total)));
    assert!(text.lines().any(|l| l.starts_with("  2026-11-21") && l.ends_with(" *")), "estimated day marked");
}

#[test]
fn csv_has_one_row_per_day_and_service_with_zeros_and_flags() {
    let days =
        [day("2026-11-20", false, &[("EC2", "1.50")]), day("2026-11-21", true, &[("EC2", "2"), ("=cmd", "0.5")])];
    let report = report(&days, Ok(None), 10, Alerts::default());
    let text = String::from_utf8(render_csv(&report).expect("csv")).expect("utf-8");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "date,service,amount,unit,estimated");
    assert_eq!(lines.len(), 1 + 52 * 2, "every day of the window, both services");
    assert!(lines.contains(&"2026-11-20,'=cmd,0,USD,false"), "a missing service is a zero row; formulas neutralised");
    assert!(lines.contains(&"2026-11-20,EC2,1.5,USD,false"));
    assert!(lines.contains(&"2026-11-21,EC2,2,USD,true"));
    assert!(lines.contains(&"2026-10-01,EC2,0,USD,false"));
}

#[test]
fn the_csv_key_and_the_quiet_rule() {
    for (prefix, expected) in
        [("cost-report", "cost-report/2026/11/21/cost-by-service.csv"), ("", "2026/11/21/cost-by-service.csv")]
    {
        assert_eq!(csv_key_for(prefix, date("2026-11-21")), expected, "{prefix:?}");
    }
    let days = [day("2026-11-20", false, &[("EC2", "100")]), day("2026-11-21", false, &[("EC2", "130")])];
    let alerting = report(&days, Ok(None), 10, Alerts { daily_above: Some(dec("1")), change_pct_above: None });
    let calm = report(&days, Ok(None), 10, Alerts::default());
    let quiet = "NOTIFY=on_alert and no alert threshold was crossed";
    for (on_alert_only, report, expected) in
        [(false, &calm, None), (false, &alerting, None), (true, &alerting, None), (true, &calm, Some(quiet))]
    {
        assert_eq!(quiet_reason(on_alert_only, report), expected, "{on_alert_only} {:?}", report.alerts);
    }
}

#[test]
fn a_run_fails_for_its_failed_channels_transient_only_if_each_is() {
    let days = [day("2026-11-21", false, &[("EC2", "130")])];
    let summary_with =
        |channels: &[(Channel, ChannelStatus)], forecast_failure: Option<&str>, budget_failure: Option<&str>| {
            summarize(
                &report(&days, Ok(None), 10, Alerts::default()),
                FiguresFrom::CostExplorer,
                1,
                channels.iter().cloned().collect(),
                None,
                Vec::new(),
                forecast_failure.map(str::to_owned),
                budget_failure.map(str::to_owned),
            )
        };
    let summary = |channels: &[(Channel, ChannelStatus)], forecast_failure: Option<&str>| {
        summary_with(channels, forecast_failure, None)
    };
    let sent = ChannelStatus::sent("ok");
    let throttled = ChannelStatus::failed("Slack answered 429", true);
    let rejected = ChannelStatus::failed("SES rejected the email", false);

    assert!(summary(&[(Channel::Csv, sent.clone()), (Channel::Email, sent.clone())], None).failure().is_none());
    let failure = summary(&[(Channel::Csv, sent.clone()), (Channel::Slack, throttled.clone())], None)
        .failure()
        .expect("slack failed");
    assert_eq!(failure.to_string(), "cost report for 2026-11-21: slack: Slack answered 429 (delivered: csv)");
    assert!(failure.is_transient());
    assert_eq!(failure.error_type(), "ChannelsFailed");
    let failure =
        summary(&[(Channel::Email, rejected), (Channel::Slack, throttled)], None).failure().expect("both failed");
    assert!(!failure.is_transient(), "one channel needs the operator: {failure}");
    assert!(failure.to_string().ends_with("(delivered: nothing)"), "{failure}");
    let failure =
        summary(&[(Channel::Csv, sent.clone())], Some("AccessDeniedException: no")).failure().expect("forecast");
    assert_eq!(failure.error_type(), "ForecastFailed");
    assert_eq!(
        failure.to_string(),
        "cost report for 2026-11-21: AccessDeniedException: no (the report was delivered without a forecast: csv)"
    );
    let failure =
        summary_with(&[(Channel::Csv, sent)], None, Some("budget \"Team\" does not exist")).failure().expect("budget");
    assert_eq!((failure.error_type(), failure.is_transient()), ("BudgetFailed", false));
    assert_eq!(
        failure.to_string(),
        "cost report for 2026-11-21: budget \"Team\" does not exist (the report was delivered without the budget: csv)"
    );
}

#[test]
fn every_rendering_says_what_changed_and_the_movers_file_lists_each_group_that_moved() {
    let days = [
        day("2026-11-14", false, &[("EC2", "100"), ("Glue", "10")]),
        day("2026-11-20", false, &[("EC2", "100"), ("Glue", "10"), ("S3", "5")]),
        day("2026-11-21", false, &[("EC2", "160"), ("Bedrock", "30"), ("S3", "5")]),
    ];
    let report = report(&days, Ok(None), 10, Alerts::default());
    let day_before = report.movers_against(Baseline::DayBefore).expect("day-before movers");
    let names: Vec<(&str, Direction)> = day_before.top.iter().map(|m| (m.name.as_str(), m.direction)).collect();
    assert_eq!(names, [("EC2", Direction::Up), ("Bedrock", Direction::New)], "60 and 30 of 100 moved");
    assert_eq!(day_before.also_gone(), ["Glue"], "the 10 of Glue is beyond 80%, named all the same");

    let email = render_email(&report);
    for expected in [
        "The day against the day before (2026-11-20 to 2026-11-21): +$80.00 (+69.6%)",
        "▲ EC2 +$60.00 (+60.0%), 60% of the movement",
        "▲ Bedrock +$30.00 (new, from nothing to $30.00), 30% of the movement",
        "also gone: Glue",
        "The month to date against the same days last month",
    ] {
        assert!(email.text.contains(expected), "text lacks {expected:?}:\n{}", email.text);
        assert!(email.html.contains(&expected.replace('&', "&amp;")), "HTML lacks {expected:?}");
    }
    let slack = render_slack(&report);
    let mut texts = Vec::new();
    slack_texts(&slack, &mut texts);
    let moved = texts.iter().find(|t| t.starts_with("*What moved")).expect("a movers section");
    assert_eq!(
        moved,
        "*What moved since the day before* (+$80.00)\n▲ EC2 +$60.00 (+60.0%), 60% of the movement\n\
         ▲ Bedrock +$30.00 (new, from nothing to $30.00), 30% of the movement\nalso gone: Glue"
    );

    let csv = String::from_utf8(render_movers_csv(&report).expect("renders")).expect("UTF-8");
    let rows: Vec<&str> = csv.split("\r\n").filter(|row| !row.is_empty()).collect();
    assert_eq!(
        rows[..4],
        [
            "comparison,from,to,baseline_from,baseline_to,service,amount,baseline_amount,change,change_pct,share_of_movement_pct,direction,listed,unit",
            "day-before,2026-11-21,2026-11-21,2026-11-20,2026-11-20,EC2,160,100,60,60,60,up,true,USD",
            "day-before,2026-11-21,2026-11-21,2026-11-20,2026-11-20,Bedrock,30,0,30,,30,new,true,USD",
            "day-before,2026-11-21,2026-11-21,2026-11-20,2026-11-20,Glue,0,10,-10,-100,10,gone,false,USD",
        ]
    );
    assert!(
        rows.iter().any(|row| row.starts_with("week-before,2026-11-21,2026-11-21,2026-11-14,2026-11-14,S3,5,0,5,,"))
    );
}
