//! Which day is reported and which dates a run covers. Cost Explorer's days are UTC
//! days, whatever the schedule's time zone: the report day is the last complete UTC day,
//! so at 07:00 in Tokyo it is not a day still being billed. Its end dates are exclusive:
//! a window "through yesterday" ends today (aws-billing-to-slack's "yesterday" was the
//! day before because it forgot).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

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
