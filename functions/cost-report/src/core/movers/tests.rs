#![allow(clippy::type_complexity)] // case tables

use std::str::FromStr;

use super::*;

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("test decimal")
}

fn date(text: &str) -> Date {
    text.parse().expect("test date")
}

/// Days from `first` on, each with its (group, amount) pairs.
fn days(first: &str, amounts: &[&[(&str, &str)]]) -> Vec<(Date, bool, BTreeMap<String, Decimal>)> {
    let mut day = date(first);
    let mut out = Vec::new();
    for groups in amounts {
        out.push((day, false, groups.iter().map(|(name, amount)| ((*name).to_owned(), dec(amount))).collect()));
        day = day.tomorrow().expect("a next day");
    }
    out
}

/// The day-before comparison of two days: (name, direction, change, share rounded to a percent).
fn day_over_day(before: &[(&str, &str)], now: &[(&str, &str)]) -> (Vec<(String, Direction, Decimal, Decimal)>, Movers) {
    let days = days("2026-11-20", &[before, now]);
    let movers = movers(&days, date("2026-11-21")).remove(0);
    assert_eq!(movers.baseline, Baseline::DayBefore);
    let percent =
        |share: Decimal| share.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let top = movers.top.iter().map(|m| (m.name.clone(), m.direction, m.change(), percent(m.share))).collect();
    (top, movers)
}

#[test]
fn the_groups_that_explain_most_of_the_change_are_listed_with_their_share() {
    let cases: Vec<(
        &str,
        &[(&str, &str)],
        &[(&str, &str)],
        Vec<(&str, Direction, &str, &str)>,
        &[&str],
        &[&str],
        usize,
    )> = vec![
        (
            "a jump in one service explains it alone",
            &[("Amazon EC2", "100"), ("Amazon S3", "50")],
            &[("Amazon EC2", "160"), ("Amazon S3", "51")],
            vec![("Amazon EC2", Direction::Up, "60", "98")],
            &[],
            &[],
            1,
        ),
        (
            "a shift between accounts shows both halves, though the total is flat",
            &[("payments (111111111111)", "100"), ("search (222222222222)", "20")],
            &[("payments (111111111111)", "40"), ("search (222222222222)", "80")],
            vec![
                ("payments (111111111111)", Direction::Down, "-60", "50"),
                ("search (222222222222)", Direction::Up, "60", "50"),
            ],
            &[],
            &[],
            0,
        ),
        (
            "new and vanished spend are named as such",
            &[("AWS Glue", "25"), ("Amazon EC2", "100")],
            &[("Amazon Bedrock", "30"), ("Amazon EC2", "101")],
            vec![("Amazon Bedrock", Direction::New, "30", "54"), ("AWS Glue", Direction::Gone, "-25", "45")],
            &[],
            &[],
            1,
        ),
        (
            "a small new spend beyond the top is still called out",
            &[("Amazon EC2", "100"), ("AWS Lambda", "4")],
            &[("Amazon EC2", "300"), ("Amazon SNS", "1")],
            vec![("Amazon EC2", Direction::Up, "200", "98")],
            &["Amazon SNS"],
            &["AWS Lambda"],
            2,
        ),
        ("a flat day has no movers", &[("Amazon EC2", "100")], &[("Amazon EC2", "100.004")], vec![], &[], &[], 0),
        (
            "a credit the report counts nets into its group's change",
            &[("Amazon EC2", "100")],
            &[("Amazon EC2", "70")],
            vec![("Amazon EC2", Direction::Down, "-30", "100")],
            &[],
            &[],
            0,
        ),
    ];
    for (case, before, now, expected, new, gone, unlisted) in cases {
        let (top, movers) = day_over_day(before, now);
        let expected: Vec<(String, Direction, Decimal, Decimal)> =
            expected.into_iter().map(|(n, d, c, s)| (n.to_owned(), d, dec(c), dec(s))).collect();
        assert_eq!(top, expected, "{case}");
        assert_eq!(movers.also_new(), new, "{case}");
        assert_eq!(movers.also_gone(), gone, "{case}");
        assert_eq!(movers.rest.len(), unlisted, "{case}");
        assert_eq!(movers.is_flat(), top.is_empty(), "{case}");
    }
}

#[test]
fn at_most_five_movers_even_when_many_share_the_movement() {
    let before: Vec<(String, String)> = (0..8).map(|i| (format!("service-{i}"), "10".to_owned())).collect();
    let now: Vec<(String, String)> = (0..8).map(|i| (format!("service-{i}"), "20".to_owned())).collect();
    let before: Vec<(&str, &str)> = before.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let now: Vec<(&str, &str)> = now.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (top, movers) = day_over_day(&before, &now);
    assert_eq!(top.len(), MAX_MOVERS);
    assert_eq!(movers.rest.len(), 3);
    assert!(top.iter().all(|(_, _, _, share)| *share == dec("13")), "{top:?}");
}

#[test]
fn the_week_before_and_the_month_to_date_compare_the_right_days() {
    // October 1 to November 21, 2026: EC2 costs 10 a day in October and 12 in November; on
    // the 14th (the Saturday a week before the 21st) it cost 30.
    let mut all = Vec::new();
    let mut day = date("2026-10-01");
    while day <= date("2026-11-21") {
        let amount = if day == date("2026-11-14") {
            dec("30")
        } else if day.month() == 10 {
            dec("10")
        } else {
            dec("12")
        };
        all.push((day, false, BTreeMap::from([("Amazon EC2".to_owned(), amount)])));
        day = day.tomorrow().expect("next");
    }
    let found = movers(&all, date("2026-11-21"));
    let week = &found[1];
    assert_eq!(
        (week.baseline, week.before_days.0, week.now_total, week.before_total),
        (Baseline::WeekBefore, date("2026-11-14"), dec("12"), dec("30"))
    );
    assert_eq!(week.top[0].direction, Direction::Down);
    let month = &found[2];
    assert_eq!(
        (month.now_days, month.before_days),
        ((date("2026-11-01"), date("2026-11-21")), (date("2026-10-01"), date("2026-10-21")))
    );
    // 20 days at 12 and one at 30 against 21 days at 10.
    assert_eq!((month.now_total, month.before_total), (dec("270"), dec("210")));
    assert_eq!(month.top[0].change(), dec("60"));
}
