//! What a report day leaves behind, so that Lambda's retry of a failed run (the same
//! event, up to twice) finishes the run instead of repeating it: the day's figures, read
//! once from Cost Explorer (every request is billed), and a record of each channel
//! delivered. Both live next to the CSVs, under `<prefix>/_state/<day>/`.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::figures::CostDay;
use super::settings::{GroupBy, Metric, RecordTypes};

/// Where a report goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Csv,
    Email,
    Slack,
}

impl Channel {
    pub const ALL: [Self; 3] = [Self::Csv, Self::Email, Self::Slack];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Email => "email",
            Self::Slack => "slack",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the forecast request went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ForecastOutcome {
    /// No forecast for this day: a past month, or a backfill.
    NotAsked,
    /// The forecast for the rest of the month.
    Rest { amount: Decimal },
    /// Cost Explorer has too little history yet: normal for a new account, not a failure.
    NotEnoughData,
    /// Any other failure. `permanent` ones (access denied, validation) need the operator
    /// and fail the run; transient ones (throttling, 5xx) are a warning in the report.
    Failed { reason: String, permanent: bool },
}

impl ForecastOutcome {
    /// What the figures are built from: the rest of the month, or why it is unknown.
    pub fn rest_of_month(&self) -> Result<Option<Decimal>, String> {
        match self {
            Self::NotAsked => Ok(None),
            Self::Rest { amount } => Ok(Some(*amount)),
            Self::NotEnoughData => Err("Cost Explorer has too little cost history to forecast yet".to_owned()),
            Self::Failed { reason, .. } => Err(reason.clone()),
        }
    }

    /// A failure worth a warning (every `Failed`), with its reason.
    pub fn warning(&self) -> Option<String> {
        match self {
            Self::Failed { reason, permanent } => {
                Some(format!("the forecast failed ({}): {reason}", if *permanent { "fix needed" } else { "transient" }))
            }
            _ => None,
        }
    }

    /// A failure that fails the run: one that will not go away without the operator.
    pub fn permanent_failure(&self) -> Option<&str> {
        match self {
            Self::Failed { reason, permanent: true } => Some(reason),
            _ => None,
        }
    }
}

/// A report day's Cost Explorer answers, as read once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFigures {
    pub report_day: Date,
    /// `Metric::as_str`, and `GroupBy`'s label: figures read for other settings are not reused.
    pub metric: String,
    pub group_by: String,
    /// `RecordTypes::as_str`; figures stored before it existed counted every record type.
    #[serde(default = "all_record_types")]
    pub record_types: String,
    pub read_at: Timestamp,
    pub days: Vec<CostDay>,
    pub forecast: ForecastOutcome,
}

impl StoredFigures {
    /// True when these figures answer the same question as `metric` and `group_by` ask.
    pub fn answers(&self, report_day: Date, metric: Metric, group_by: &GroupBy, record_types: RecordTypes) -> bool {
        self.report_day == report_day
            && self.metric == metric.as_str()
            && self.group_by == group_by.label()
            && self.record_types == record_types.as_str()
    }
}

fn all_record_types() -> String {
    RecordTypes::All.as_str().to_owned()
}

/// A channel delivered for a report day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub channel: Channel,
    pub delivered_at: Timestamp,
    /// Where it went: the S3 URI, the recipients, the webhook.
    pub detail: String,
    /// The invocation that delivered it.
    pub request_id: String,
}

/// The key of the day's stored figures.
pub fn figures_key(prefix: &str, day: Date) -> String {
    state_key(prefix, day, "figures.json")
}

/// The key of the day's record of delivering to `channel`.
pub fn delivery_key(prefix: &str, day: Date, channel: Channel) -> String {
    state_key(prefix, day, &format!("delivered-{channel}.json"))
}

/// The prefix every state object is under (the template expires it after a while).
pub const STATE_FOLDER: &str = "_state";

fn state_key(prefix: &str, day: Date, name: &str) -> String {
    let path = format!("{STATE_FOLDER}/{day}/{name}");
    if prefix.is_empty() { path } else { format!("{prefix}/{path}") }
}
