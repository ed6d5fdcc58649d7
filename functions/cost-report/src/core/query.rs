//! The Cost Explorer requests a run makes, as plain values: the AWS layer turns them into
//! SDK calls, and the tests assert on them (the emulator ignores dates and grouping).

use jiff::civil::Date;

use super::dates::Window;
use super::settings::{GroupBy, Metric, RecordTypes};

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
