//! The pure core of the cost report: date windows, the Cost Explorer query, the
//! figures, and every rendering (CSV, HTML and text email, its chart, Slack blocks).
//!
//! No I/O, no SDK types, no clock: `now` is an argument. Money is `Decimal`.

mod budget;
mod chart;
mod dates;
mod delivery;
mod event;
mod figures;
mod mime;
mod money;
mod movers;
mod query;
mod render;
mod settings;
mod summary;

pub use budget::{Budget, BudgetChoice, BudgetStatus, ForecastFrom, budget_status, choose_budget};
pub use chart::{
    CHART_CONTENT_ID, CHART_FILE_NAME, CHART_GROUPS, CHART_HEIGHT, CHART_WIDTH, ChartData, ChartSeries,
    render_chart_png,
};
pub use dates::{Window, report_day, today_utc, window_for};
pub use delivery::{Channel, DeliveryRecord, ForecastOutcome, STATE_FOLDER, StoredFigures, delivery_key, figures_key};
pub use event::{Request, parse_event};
#[cfg(test)]
pub(crate) use figures::report_by_service;
pub use figures::{Alerts, CostDay, CostReport, Forecast, Line, build_report, merge_pages};
pub use mime::render_mime;
pub use money::{format_money, format_percent};
pub use movers::{Baseline, Direction, MAX_MOVERS, Mover, Movers};
pub use query::{CostQuery, ForecastQuery, cost_query, forecast_query};
pub use render::{
    CSV_FILE_NAME, EmailContent, MAX_SLACK_BLOCKS, MAX_SLACK_TEXT, MOVERS_CSV_FILE_NAME, render_csv, render_email,
    render_movers_csv, render_slack,
};
pub use settings::{Dimension, GroupBy, Metric, RecordTypes, UNCATEGORIZED, UNTAGGED};
pub use summary::{
    BudgetLine, ChannelStatus, Delivery, FiguresFrom, MoverLine, RunSummary, TopLine, csv_key_for, movers_key_for,
    quiet_reason, summarize,
};

#[cfg(test)]
mod tests;
