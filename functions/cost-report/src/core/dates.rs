//! Which day is reported and which dates are asked for. Cost Explorer's days are UTC
//! days, whatever the schedule's time zone: the report day is the last complete UTC day,
//! so at 07:00 in Tokyo it is not a day still being billed. Its end dates are exclusive:
//! a window "through yesterday" ends today (aws-billing-to-slack's "yesterday" was the
//! day before because it forgot).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::figures::{GroupBy, Metric, RecordTypes};

/// Days of daily totals in the chart.
pub const CHART_DAYS: i32 = 30;

/// The dates one run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub report_day: Date,
    /// The earlier of the first day of the previous month and 29 days before the report day.
    pub start: Date,
    /// The day after the report day: Cost Explorer's exclusive end.
    pub end_exclusive: Date,
}

/// The one `GetCostAndUsage` request a run makes (plus its pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostQuery {
    pub start: Date,
    pub end_exclusive: Date,
    pub metric: Metric,
    pub group_by: GroupBy,
    pub record_types: RecordTypes,
}

/// The `GetCostForecast` request for the rest of the report day's month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForecastQuery {
    pub start: Date,
    pub end_exclusive: Date,
    pub record_types: RecordTypes,
}

/// Today as Cost Explorer counts days: in UTC.
pub fn today_utc(now: Timestamp) -> Date {
    now.to_zoned(TimeZone::UTC).date()
}

/// The day to report: `requested` (a backfill), or the last complete UTC day. A requested
/// day must be before today in UTC: today's costs are not complete.
pub fn report_day(now: Timestamp, requested: Option<Date>) -> Result<Date, String> {
    let today = today_utc(now);
    match requested {
        Some(day) if day >= today => Err(format!(
            "date {day} is not before today ({today} in UTC, Cost Explorer's day): a day's costs are complete only after it ends"
        )),
        Some(day) => Ok(day),
        None => today.yesterday().map_err(|err| err.to_string()),
    }
}

pub fn window_for(report_day: Date) -> Window {
    let first_of_month = report_day.first_of_month();
    let first_of_previous = first_of_month.yesterday().map(|d| d.first_of_month()).unwrap_or(first_of_month);
    let chart_start = report_day.checked_sub(jiff::Span::new().days(CHART_DAYS - 1)).unwrap_or(first_of_previous);
    Window {
        report_day,
        start: first_of_previous.min(chart_start),
        end_exclusive: report_day.tomorrow().unwrap_or(report_day),
    }
}

pub fn cost_query(window: &Window, metric: Metric, group_by: &GroupBy, record_types: RecordTypes) -> CostQuery {
    CostQuery {
        start: window.start,
        end_exclusive: window.end_exclusive,
        metric,
        group_by: group_by.clone(),
        record_types,
    }
}

/// The rest of the report day's month, from `today` (UTC) on (Cost Explorer forecasts
/// only from the current day). `None` when the month is over or the report day is not the
/// latest complete day (a backfill of an older day has nothing left to forecast).
pub fn forecast_query(window: &Window, today: Date, record_types: RecordTypes) -> Option<ForecastQuery> {
    let next_month = window.report_day.last_of_month().tomorrow().ok()?;
    (window.end_exclusive == today && today < next_month).then_some(ForecastQuery {
        start: today,
        end_exclusive: next_month,
        record_types,
    })
}
