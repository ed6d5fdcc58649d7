//! What a batch returns: each object's outcome, and the SQS batch response. Plain data:
//! the handler builds it, the metrics read it, Lambda's SQS integration reads
//! `batchItemFailures`.

use std::collections::BTreeMap;

use serde::Serialize;

use imaging::RejectionClass;

/// What happened to one object. An enum, rendered for people only in the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Thumbnails written.
    Written,
    /// This version's thumbnails already exist (a repeated event): nothing written.
    UpToDate,
    /// The deleted source's thumbnails removed (`DELETE_WITH_SOURCE`).
    Deleted,
    /// Nothing to do: the function's own output, an object deleted or replaced before it
    /// was processed (its own event covers the new version), a delete with deletes off.
    Skipped,
    /// Permanent: the file can never become a thumbnail; recorded and acknowledged.
    Rejected,
    /// Transient: must be tried again.
    Retry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectResult {
    pub bucket: String,
    pub key: String,
    pub outcome: Outcome,
    pub detail: String,
    /// Keys written or deleted.
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// The result: Lambda's SQS integration reads `batchItemFailures`; `results` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<BatchItemFailure>,
    pub results: Vec<ObjectResult>,
}

impl Response {
    /// The response for a batch's items in order, each with its SQS message id (none for
    /// S3 and EventBridge) and its objects' results: an item is a batch item failure when
    /// any of its objects must be tried again.
    pub fn of_items(items: impl IntoIterator<Item = (Option<String>, Vec<ObjectResult>)>) -> Self {
        let mut response = Self { batch_item_failures: Vec::new(), results: Vec::new() };
        for (id, results) in items {
            let retry = results.iter().any(|r| r.outcome == Outcome::Retry);
            if let Some(id) = id.filter(|_| retry) {
                response.batch_item_failures.push(BatchItemFailure { item_identifier: id });
            }
            response.results.extend(results);
        }
        response
    }

    /// The objects to try again, each as `bucket/key: why`.
    pub fn retries(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| r.outcome == Outcome::Retry)
            .map(|r| format!("{}/{}: {}", r.bucket, r.key, r.detail))
            .collect()
    }
}

/// A batch's measurements, read once it is done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measured {
    pub input_bytes: u64,
    pub image_ms: u64,
    pub rejections: BTreeMap<RejectionClass, u32>,
}
