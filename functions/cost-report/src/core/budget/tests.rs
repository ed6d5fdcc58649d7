#![allow(clippy::type_complexity)] // case tables

use std::str::FromStr;

use super::*;
use crate::core::{CostDay, report_by_service, window_for};

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("test decimal")
}

fn date(text: &str) -> Date {
    text.parse().expect("test date")
}

/// `daily` a day from the window's start to `report_day`, and Cost Explorer's forecast for the rest.
fn report(report_day: &str, daily: &str, forecast_rest: Option<&str>) -> CostReport {
    let window = window_for(date(report_day));
    let mut days = Vec::new();
    let mut day = window.start;
    while day <= window.report_day {
        days.push(CostDay { date: day, estimated: false, groups: vec![("EC2".to_owned(), dec(daily))], unit: None });
        day = day.tomorrow().expect("date");
    }
    report_by_service(window.report_day, &days, Ok(forecast_rest.map(dec)))
}

fn budget(name: &str, limit: &str, actual: Option<&str>, forecast: Option<&str>) -> Budget {
    Budget {
        name: name.to_owned(),
        kind: "COST".to_owned(),
        time_unit: "MONTHLY".to_owned(),
        limit: Some(dec(limit)),
        unit: "USD".to_owned(),
        actual: actual.map(dec),
        forecast: forecast.map(dec),
        filtered: false,
    }
}

#[test]
fn the_account_budget_is_the_smallest_monthly_cost_budget_without_filters() {
    let team = Budget { filtered: true, ..budget("Team data", "500", None, None) };
    let quarterly = Budget { time_unit: "QUARTERLY".to_owned(), ..budget("Quarter", "100", None, None) };
    let usage = Budget { kind: "USAGE".to_owned(), ..budget("Hours", "50", None, None) };
    let budgets =
        [team, quarterly, usage, budget("Company", "9000", None, None), budget("Monthly", "3000", None, None)];
    let chosen = |choice: &BudgetChoice| choose_budget(choice, &budgets).map(|b| b.map(|b| b.name));

    assert_eq!(chosen(&BudgetChoice::Account), Ok(Some("Monthly".to_owned())));
    assert_eq!(chosen(&BudgetChoice::Off), Ok(None));
    assert_eq!(
        chosen(&BudgetChoice::Named("Team data".to_owned())),
        Ok(Some("Team data".to_owned())),
        "filters and all"
    );
    assert_eq!(choose_budget(&BudgetChoice::Account, &budgets[..3]), Ok(None), "only filtered or other kinds");
    let missing = chosen(&BudgetChoice::Named("Teem".to_owned())).expect_err("no such budget");
    assert_eq!(
        missing,
        "budget \"Teem\" does not exist (budgets: Team data, Quarter, Hours, Company, Monthly): set BUDGET to one of them, to auto, or to off"
    );
    let quarter = chosen(&BudgetChoice::Named("Quarter".to_owned())).expect_err("quarterly");
    assert!(quarter.starts_with("budget \"Quarter\" is a QUARTERLY COST budget"), "{quarter}");
    assert!(
        choose_budget(&BudgetChoice::Named("x".to_owned()), &[]).is_err_and(|e| e.contains("the account has none"))
    );
}

#[test]
fn the_forecast_line_gives_the_day_it_crosses_the_budget_and_the_alerts() {
    // The 21st of a 30-day month: 9 days left. (report day, budget limit, budget actual, budget forecast,
    // Cost Explorer's forecast for the rest) → (actual, forecast, from, crosses on, alerts)
    let cases: &[(
        &str,
        &str,
        Option<&str>,
        Option<&str>,
        Option<&str>,
        (&str, &str, ForecastFrom, Option<&str>, &[&str]),
    )] = &[
        // Under, forecast over: 2,100 more in 9 days crosses 3,000 after 7.7 days.
        (
            "2026-11-21",
            "3000",
            Some("1200"),
            Some("3300"),
            None,
            (
                "1200",
                "3300",
                ForecastFrom::Budget,
                Some("2026-11-29"),
                &[
                    "the month is forecast to end at $3,300.00, over the budget Monthly ($3,000.00) by $300.00 (10%): at this rate it is crossed on 2026-11-29",
                ],
            ),
        ),
        // 83% spent: at or above the 80% share, and the forecast over too.
        (
            "2026-11-21",
            "3000",
            Some("2500"),
            Some("3100"),
            None,
            (
                "2500",
                "3100",
                ForecastFrom::Budget,
                Some("2026-11-29"),
                &[
                    "the month's cost, $2,500.00, is 83% of the budget Monthly ($3,000.00), at or above the alert share of 80%",
                    "the month is forecast to end at $3,100.00, over the budget Monthly ($3,000.00) by $100.00 (3%): at this rate it is crossed on 2026-11-29",
                ],
            ),
        ),
        // Over already: no crossing day, one alert.
        (
            "2026-11-21",
            "3000",
            Some("3200"),
            Some("4000"),
            None,
            (
                "3200",
                "4000",
                ForecastFrom::Budget,
                None,
                &["the month's cost, $3,200.00, is over the budget Monthly ($3,000.00) by $200.00"],
            ),
        ),
        // Well under: nothing to say.
        ("2026-11-21", "3000", Some("700"), Some("1000"), None, ("700", "1000", ForecastFrom::Budget, None, &[])),
        // No forecast from AWS Budgets: the report's own (21 × 50 + 600), for a budget without filters.
        (
            "2026-11-21",
            "1500",
            Some("1050"),
            None,
            Some("600"),
            (
                "1050",
                "1650",
                ForecastFrom::CostExplorer,
                Some("2026-11-28"),
                &[
                    "the month is forecast to end at $1,650.00, over the budget Monthly ($1,500.00) by $150.00 (10%): at this rate it is crossed on 2026-11-28",
                ],
            ),
        ),
        // Neither: the daily average, 1,050 / 21 × 30.
        ("2026-11-21", "2000", Some("1050"), None, None, ("1050", "1500", ForecastFrom::DailyAverage, None, &[])),
        // Budgets has no spend yet (a new budget): the report's month to date.
        ("2026-11-21", "2000", None, None, None, ("1050", "1500", ForecastFrom::DailyAverage, None, &[])),
        // The month's last day, reported on the 1st: AWS Budgets has moved on to December, so the
        // month Cost Explorer counted (30 × 50), complete; nothing left to cross.
        ("2026-11-30", "3000", Some("20"), Some("900"), None, ("1500", "1500", ForecastFrom::CostExplorer, None, &[])),
        // The 29th: one day left, in which the forecast crosses the budget.
        (
            "2026-11-29",
            "1480",
            Some("1450"),
            Some("1500"),
            None,
            (
                "1450",
                "1500",
                ForecastFrom::Budget,
                Some("2026-11-30"),
                &[
                    "the month's cost, $1,450.00, is 98% of the budget Monthly ($1,480.00), at or above the alert share of 80%",
                    "the month is forecast to end at $1,500.00, over the budget Monthly ($1,480.00) by $20.00 (1%): at this rate it is crossed on 2026-11-30",
                ],
            ),
        ),
    ];
    for (report_day, limit, actual, forecast, rest, expected) in cases {
        let mut report = report(report_day, "50", *rest);
        let today = date(report_day).tomorrow().expect("date");
        report.compare_with_budget(&budget("Monthly", limit, *actual, *forecast), today, dec("80"));
        let status = report.budget.as_ref().unwrap_or_else(|| panic!("{report_day} {limit}: {:?}", report.notes));
        let (actual, forecast, from, crosses_on, alerts) = expected;
        assert_eq!(
            (status.actual, status.forecast, status.forecast_from, status.crosses_on),
            (dec(actual), dec(forecast), *from, crosses_on.map(date)),
            "limit {limit}, actual {actual}"
        );
        assert_eq!(report.alerts, *alerts, "limit {limit}, actual {actual}");
    }
}

#[test]
fn a_filtered_budget_is_compared_only_with_its_own_figures_and_only_for_this_month() {
    let team = Budget { filtered: true, ..budget("Team data", "800", Some("300"), None) };
    // This month: the budget's spend, and the daily average (Cost Explorer's forecast counts every cost).
    let mut report_now = report("2026-11-21", "50", Some("600"));
    report_now.compare_with_budget(&team, date("2026-11-22"), dec("80"));
    let status = report_now.budget.as_ref().expect("compared");
    assert_eq!((status.forecast, status.forecast_from), (dec("428.57"), ForecastFrom::DailyAverage));
    assert_eq!(status.forecast_line("USD"), "$428.57 (54%) at the month's daily average");
    assert_eq!(status.forecast_line("USD"), "$428.57 (54%) at the month's daily average");

    // The 1st's report is about last month: AWS Budgets' figures are this month's.
    let mut report_then = report("2026-10-31", "50", None);
    report_then.compare_with_budget(&team, date("2026-11-01"), dec("80"));
    assert!(report_then.budget.is_none());
    assert_eq!(
        report_then.notes,
        [
            "budget Team data counts only some costs, and AWS Budgets has its figures for this month only: not compared for 2026-10-31"
        ]
    );
    // A budget without filters compares the month Cost Explorer counted: 31 × 50.
    let mut report_then = report("2026-10-31", "50", None);
    report_then.compare_with_budget(&budget("Monthly", "1500", Some("0"), None), date("2026-11-01"), dec("80"));
    let status = report_then.budget.as_ref().expect("compared");
    assert_eq!((status.actual, status.forecast, status.crosses_on), (dec("1550"), dec("1550"), None));
    assert_eq!(report_then.alerts, ["the month's cost, $1,550.00, is over the budget Monthly ($1,500.00) by $50.00"]);

    let mut in_euros = report("2026-11-21", "50", None);
    in_euros.compare_with_budget(
        &Budget { unit: "EUR".to_owned(), ..budget("Euro", "10", None, None) },
        date("2026-11-22"),
        dec("80"),
    );
    assert_eq!(in_euros.notes, ["budget Euro is in EUR and the report in USD: not compared"]);
}

#[test]
fn the_budget_line_reads_in_every_rendering() {
    let mut report = report("2026-11-21", "50", None);
    report.compare_with_budget(&budget("Monthly", "3000", Some("1200"), Some("3300")), date("2026-11-22"), dec("80"));
    let budget = report.budget.as_ref().expect("compared");
    assert_eq!(budget.spent_line("USD"), "$1,200.00 of $3,000.00 (40%)");
    assert_eq!(budget.forecast_line("USD"), "$3,300.00 (110%), crosses it on Nov 29");
    let email = crate::core::render_email(&report);
    assert!(email.text.contains("Budget Monthly               $1,200.00 of $3,000.00 (40%)\n"), "{}", email.text);
    assert!(
        email.text.contains("Budget forecast              $3,300.00 (110%), crosses it on Nov 29\n"),
        "{}",
        email.text
    );
    assert!(email.html.contains("Budget Monthly") && email.html.contains("crosses it on Nov 29"));
    assert!(email.subject.starts_with("[ALERT] "), "a forecast over the budget is an alert");
    let slack = crate::core::render_slack(&report).to_string();
    assert!(slack.contains("*Budget Monthly*\\n$1,200.00 of $3,000.00 (40%)"), "{slack}");
    assert!(slack.contains("*Budget forecast*\\n$3,300.00 (110%), crosses it on Nov 29"), "{slack}");
    assert!(slack.contains("over the budget Monthly ($3,000.00) by $300.00 (10%)"), "{slack}");
}
