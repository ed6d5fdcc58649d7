//! The pure core of the cost report: date windows, the Cost Explorer query, the
//! figures, and every rendering (CSV, HTML and text email, Slack blocks).
//!
//! No I/O, no SDK types, no clock: `now` is an argument. Money is `Decimal`.

mod dates;
mod delivery;
mod event;
mod figures;
mod money;
mod render;

pub use dates::{CostQuery, ForecastQuery, Window, cost_query, forecast_query, report_day, today_utc, window_for};
pub use delivery::{Channel, DeliveryRecord, ForecastOutcome, STATE_FOLDER, StoredFigures, delivery_key, figures_key};
pub use event::{Request, parse_event};
pub use figures::{
    Alerts, CostDay, CostReport, Dimension, Forecast, GroupBy, Line, Metric, RecordTypes, UNCATEGORIZED, UNTAGGED,
    build_report, merge_pages,
};
pub use money::{format_money, format_percent};
pub use render::{
    CSV_FILE_NAME, EmailContent, MAX_SLACK_BLOCKS, MAX_SLACK_TEXT, render_csv, render_email, render_slack,
};

#[cfg(test)]
mod tests;
