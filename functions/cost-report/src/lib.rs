//! Cost report: yesterday's AWS costs from Cost Explorer, to a CSV in S3, an HTML
//! email through SES and a Slack message, from at most three Cost Explorer requests.

pub mod core;
