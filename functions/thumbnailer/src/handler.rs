//! One invocation: every object event in the payload, each on its own, so one bad
//! record never fails the others.
//!
//! The failure policy: a *permanent* failure (not an image, corrupt, over a limit) is
//! logged, recorded as JSON under `FAILED_PREFIX`, and acknowledged: retrying cannot
//! help. A *transient* one (S3 errors, throttling, timeouts) is retried: reported in
//! `batchItemFailures` for SQS, or as the invocation's error for S3 and EventBridge.
//! An object deleted before it was processed is skipped with a warning.

use std::collections::HashMap;

use jiff::Timestamp;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{Value, json};
use shared::aws::Aws;
use tracing::{error, info, warn};

use crate::aws::{self, S3Failure};
use crate::config::Config;
use crate::core::{self, ObjectAction, ObjectEvent, OutputFormat, Rejection, Trigger};
use crate::error::ThumbnailerError;

#[derive(Debug, Clone)]
pub struct Deps {
    pub config: Config,
    pub s3: aws_sdk_s3::Client,
}

impl Deps {
    pub fn new(config: Config, aws: &Aws) -> Self {
        Self { config, s3: aws.s3() }
    }
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectResult {
    pub bucket: String,
    pub key: String,
    /// `written`, `deleted`, `skipped`, `rejected` (permanent, recorded) or `retry`.
    pub outcome: &'static str,
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

#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Response, ThumbnailerError> {
    let (trigger, items) = core::parse_payload(&event.payload).map_err(ThumbnailerError::InvalidEvent)?;
    let mut response = Response { batch_item_failures: Vec::new(), results: Vec::new() };
    for item in items {
        let mut retry = false;
        match item.events {
            Err(reason) => {
                error!(message_id = ?item.id, reason = %reason, "unreadable record; left for the dead-letter queue");
                response.results.push(ObjectResult {
                    bucket: String::new(),
                    key: String::new(),
                    outcome: "retry",
                    detail: reason,
                    keys: Vec::new(),
                });
                retry = true;
            }
            Ok(events) => {
                for object in events {
                    let result = process(deps, &object).await;
                    retry |= result.outcome == "retry";
                    response.results.push(result);
                }
            }
        }
        if let Some(id) = item.id.filter(|_| retry) {
            response.batch_item_failures.push(BatchItemFailure { item_identifier: id });
        }
    }
    let retries: Vec<String> = response
        .results
        .iter()
        .filter(|r| r.outcome == "retry")
        .map(|r| format!("{}/{}: {}", r.bucket, r.key, r.detail))
        .collect();
    if trigger != Trigger::Sqs && !retries.is_empty() {
        return Err(ThumbnailerError::Retry(format!(
            "{} object(s) must be tried again: {}",
            retries.len(),
            retries.join(" | ")
        )));
    }
    Ok(response)
}

fn result(object: &ObjectEvent, outcome: &'static str, detail: impl Into<String>, keys: Vec<String>) -> ObjectResult {
    ObjectResult { bucket: object.bucket.clone(), key: object.key.clone(), outcome, detail: detail.into(), keys }
}

async fn process(deps: &Deps, object: &ObjectEvent) -> ObjectResult {
    let config = &deps.config;
    let dest_bucket = config.dest_bucket.clone().unwrap_or_else(|| object.bucket.clone());
    if dest_bucket == object.bucket && core::is_own_output(&object.key, &config.dest_prefix, &config.failed_prefix) {
        return result(object, "skipped", "the thumbnailer's own output", Vec::new());
    }
    match &object.action {
        ObjectAction::Removed => delete_thumbnails(deps, object, &dest_bucket).await,
        ObjectAction::Created { .. } => match make(deps, object, &dest_bucket).await {
            Ok(keys) => {
                info!(bucket = %object.bucket, key = %object.key, thumbnails = keys.len(), "thumbnails written");
                result(object, "written", "", keys)
            }
            Err(Failure::Skipped(reason)) => {
                warn!(bucket = %object.bucket, key = %object.key, reason = %reason, "skipped");
                result(object, "skipped", reason, Vec::new())
            }
            Err(Failure::Retry(reason)) => {
                warn!(bucket = %object.bucket, key = %object.key, reason = %reason, "will be retried");
                result(object, "retry", reason, Vec::new())
            }
            Err(Failure::Rejected { reason, etag }) => reject(deps, object, &dest_bucket, &reason, &etag).await,
        },
    }
}

enum Failure {
    Skipped(String),
    Retry(String),
    Rejected { reason: String, etag: String },
}

impl From<S3Failure> for Failure {
    fn from(failure: S3Failure) -> Self {
        match failure {
            S3Failure::Gone => Failure::Skipped("the object was deleted before it could be processed".to_owned()),
            S3Failure::Failed(reason) => Failure::Retry(reason),
        }
    }
}

async fn make(deps: &Deps, object: &ObjectEvent, dest_bucket: &str) -> Result<Vec<String>, Failure> {
    let config = &deps.config;
    let info = aws::head(&deps.s3, &object.bucket, &object.key).await?;
    if info.is_output {
        return Err(Failure::Skipped("marked as the thumbnailer's own output".to_owned()));
    }
    let rejected = |reason: String| Failure::Rejected { reason, etag: info.etag.clone() };
    if info.size > config.max_input_bytes {
        return Err(rejected(Rejection::TooManyBytes { size: info.size, limit: config.max_input_bytes }.to_string()));
    }
    let bytes = aws::get(&deps.s3, &object.bucket, &object.key).await?;
    let (sizes, format, limits) = (config.sizes.clone(), config.format, config.limits);
    // Decoding and encoding are CPU work: off the async runtime's threads.
    let thumbnails = tokio::task::spawn_blocking(move || core::make_thumbnails(&bytes, &sizes, format, limits))
        .await
        .map_err(|err| Failure::Retry(format!("the image worker stopped: {err}")))?
        .map_err(|rejection| rejected(rejection.to_string()))?;
    let source_key = percent_encoding::utf8_percent_encode(&object.key, percent_encoding::CONTROLS).to_string();
    let mut written = Vec::new();
    for thumbnail in thumbnails {
        let key = core::output_key(&config.dest_prefix, &object.key, thumbnail.size, thumbnail.extension);
        let metadata = HashMap::from([
            ("source-key".to_owned(), source_key.clone()),
            ("source-etag".to_owned(), info.etag.clone()),
        ]);
        aws::put(
            &deps.s3,
            dest_bucket,
            &key,
            thumbnail.bytes,
            thumbnail.content_type,
            Some(&config.cache_control),
            metadata,
        )
        .await?;
        written.push(key);
    }
    Ok(written)
}

/// Logs the rejection and records it under `FAILED_PREFIX`, so operators can find every
/// rejected upload. Only if the record cannot be written is the object retried.
async fn reject(deps: &Deps, object: &ObjectEvent, dest_bucket: &str, reason: &str, etag: &str) -> ObjectResult {
    error!(bucket = %object.bucket, key = %object.key, reason = %reason, "rejected: no thumbnail written");
    let record_key = format!("{}{}.json", deps.config.failed_prefix, object.key);
    let record = json!({
        "source_bucket": object.bucket,
        "source_key": object.key,
        "source_etag": etag,
        "reason": reason,
        "time": Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    let body = serde_json::to_vec_pretty(&record).unwrap_or_default();
    match aws::put(&deps.s3, dest_bucket, &record_key, body, "application/json", None, HashMap::new()).await {
        Ok(()) => result(object, "rejected", reason, vec![record_key]),
        Err(S3Failure::Gone | S3Failure::Failed(_)) => {
            result(object, "retry", format!("{reason}; and recording the rejection failed"), Vec::new())
        }
    }
}

async fn delete_thumbnails(deps: &Deps, object: &ObjectEvent, dest_bucket: &str) -> ObjectResult {
    let config = &deps.config;
    if !config.delete_with_source {
        return result(object, "skipped", "a deletion, and DELETE_WITH_SOURCE is off", Vec::new());
    }
    let extensions: &[&str] = match config.format {
        OutputFormat::Jpeg { .. } => &["jpg"],
        OutputFormat::Png => &["png"],
        OutputFormat::Webp { .. } => &["webp"],
        OutputFormat::Same { .. } => &["jpg", "png", "webp"],
    };
    let keys: Vec<String> = config
        .sizes
        .iter()
        .flat_map(|size| extensions.iter().map(|ext| core::output_key(&config.dest_prefix, &object.key, *size, ext)))
        .collect();
    match aws::delete(&deps.s3, dest_bucket, &keys).await {
        Ok(()) => result(object, "deleted", "", keys),
        Err(S3Failure::Gone) => result(object, "deleted", "", Vec::new()),
        Err(S3Failure::Failed(reason)) => result(object, "retry", reason, Vec::new()),
    }
}
