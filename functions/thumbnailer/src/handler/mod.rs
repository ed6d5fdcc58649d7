//! One invocation: every object event in the payload, several at once, each on its own,
//! so one bad record never fails the others, and all of it inside the invocation's time.
//! This module runs the batch and its time budget; `upload`, `delete` and `catalogue`
//! are the steps of one object.
//!
//! The failure policy (docs/functions/thumbnailer.md's table): a *permanent* failure is the file's fault
//! (not an image, corrupt, over a limit, a decoder panic, a name S3 cannot take for its
//! thumbnail): logged, recorded as JSON under `FAILED_PREFIX`, acknowledged. A
//! *transient* one is the environment's fault (throttling, 5xx, timeouts, access denied, a
//! missing bucket, no time left): reported in `batchItemFailures` for SQS, or as the
//! invocation's error for S3 and EventBridge, so a fix plus a redrive recovers it.
//!
//! Memory and time: records run `MAX_CONCURRENT_RECORDS` at a time, but a download first
//! reserves its bytes and a decode the memory its header says it needs (two pools carved
//! from the function's memory size, see `MemoryBudget`), and decodes run one per vCPU.
//! A record starts only while the time left can cover one; the rest go back to SQS.
//!
//! The photo catalogue (`PHOTOS_TABLE`): every outcome that changes what a photo is
//! (thumbnails written, rejected, deleted) is filed as the photo's record with a
//! conditional write that only a newer event can win, and then announced on
//! `PHOTOS_TOPIC_ARN`, and marked announced. A repeated event finds its record filed and
//! announced, and changes nothing; a retried one finishes what its first attempt left.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures_util::stream::{self, StreamExt};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shared::aws::Aws;
use shared::deadline::time_budget;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{Instrument as _, error, info, info_span, warn};

use crate::aws::S3Failure;
use crate::config::Config;
use imaging::RejectionClass;

use crate::core::{self, Measured, ObjectAction, ObjectEvent, ObjectResult, Outcome, Response, Trigger};
use crate::error::ThumbnailerError;

mod catalogue;
mod delete;
mod outdated;
mod upload;

/// Kept at the end of an invocation to return its result before Lambda's deadline.
const FINISH_RESERVE: Duration = Duration::from_millis(1500);
/// A record starts only with this much time left, or 1.5 times the slowest record so far.
const MIN_RECORD_TIME: Duration = Duration::from_secs(2);
/// The time budget of a run without a deadline (a local run or a test).
const NO_DEADLINE: Duration = Duration::from_secs(900);

#[derive(Debug, Clone)]
pub struct Deps {
    pub config: Config,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pools: Arc<Pools>,
}

/// The memory budget as semaphores, in KiB, and the decode slots (one per vCPU).
#[derive(Debug)]
struct Pools {
    inputs: Pool,
    decodes: Pool,
    decoders: Arc<Semaphore>,
}

#[derive(Debug)]
struct Pool {
    permits: Arc<Semaphore>,
    capacity_kib: u32,
}

impl Pool {
    fn new(bytes: u64) -> Self {
        let capacity_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        Self { permits: Arc::new(Semaphore::new(capacity_kib as usize)), capacity_kib }
    }

    /// Holds `bytes` of the pool (all of it at most) until the permit is dropped. Owned, so
    /// that a decode holds its memory for as long as it runs, even past a record abandoned
    /// at the invocation's cutoff.
    async fn reserve(&self, bytes: u64) -> OwnedSemaphorePermit {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).clamp(1, self.capacity_kib);
        self.permits.clone().acquire_many_owned(kib).await.expect("the pools are never closed")
    }
}

impl Deps {
    pub fn new(config: Config, aws: &Aws) -> Self {
        let aws = &aws.for_function("thumbnailer");
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pools = Pools {
            inputs: Pool::new(config.memory.input_bytes),
            decodes: Pool::new(config.memory.decode_bytes),
            decoders: Arc::new(Semaphore::new(config.memory.decoders.min(cpus).max(1))),
        };
        let s3 = aws.s3_owned_by(config.uploads_bucket_owner.as_deref());
        Self {
            config,
            s3,
            dynamodb: shared::aws_client!(aws_sdk_dynamodb, aws),
            sns: shared::aws_client!(aws_sdk_sns, aws),
            pools: Arc::new(pools),
        }
    }
}

/// What a batch measured beyond its results, for its metrics.
#[derive(Debug, Default)]
pub struct Tally {
    input_bytes: AtomicU64,
    /// Decoding, resizing and encoding, summed over the batch's images.
    image_ms: AtomicU64,
    rejections: std::sync::Mutex<std::collections::BTreeMap<RejectionClass, u32>>,
}

impl Tally {
    fn rejected(&self, class: RejectionClass) {
        if let Ok(mut counts) = self.rejections.lock() {
            *counts.entry(class).or_default() += 1;
        }
    }

    fn measured(&self) -> Measured {
        Measured {
            input_bytes: self.input_bytes.load(Ordering::Relaxed),
            image_ms: self.image_ms.load(Ordering::Relaxed),
            rejections: self.rejections.lock().map(|counts| counts.clone()).unwrap_or_default(),
        }
    }
}

/// One batch, then its metrics on stdout; a direct S3 or EventBridge invocation with
/// objects to try again fails, so that Lambda retries it.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Response, ThumbnailerError> {
    let request_id = event.context.request_id.clone();
    let deadline_ms = event.context.deadline;
    let tally = Tally::default();
    let processed = process_batch(deps, event, &tally).await;
    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let time_left_ms = (deadline_ms > 0).then(|| u128::from(deadline_ms).saturating_sub(now_ms) as f64);
    let mut metrics = crate::metrics::of_batch(&processed, &tally.measured(), time_left_ms);
    metrics.property("RequestId", request_id).emit(&deps.config.metrics);
    let (trigger, response) = processed?;
    let retries = response.retries();
    if trigger != Trigger::Sqs && !retries.is_empty() {
        return Err(ThumbnailerError::Retry { objects: retries });
    }
    Ok(response)
}

#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
async fn process_batch(
    deps: &Deps,
    event: LambdaEvent<Value>,
    tally: &Tally,
) -> Result<(Trigger, Response), ThumbnailerError> {
    let started = Instant::now();
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
    let cutoff = started + time_budget(deadline, FINISH_RESERVE, NO_DEADLINE);
    let (trigger, items) = core::parse_payload(&event.payload).map_err(ThumbnailerError::InvalidEvent)?;

    // Each item's results, in order; its object events run concurrently across items.
    let mut results: Vec<Vec<ObjectResult>> = vec![Vec::new(); items.len()];
    let mut jobs = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match &item.events {
            Err(reason) => {
                error!(message_id = ?item.id, reason = %reason, "unreadable record; left for the dead-letter queue");
                results[index].push(ObjectResult {
                    bucket: String::new(),
                    key: String::new(),
                    outcome: Outcome::Retry,
                    detail: reason.clone(),
                    keys: Vec::new(),
                });
            }
            Ok(events) => jobs.extend(events.iter().map(|object| (index, object, item.trace_header.as_deref()))),
        }
    }
    let slowest_ms = AtomicU64::new(0);
    let finished: Vec<(usize, ObjectResult)> = stream::iter(jobs)
        .map(|(index, object, trace_header)| {
            let slowest_ms = &slowest_ms;
            // Each record's work is its own X-Ray subsegment, in the trace of whoever sent
            // the message when it names one (its AWSTraceHeader), else in the invocation's.
            let span = info_span!(
                "record",
                bucket = %object.bucket,
                key = %object.key,
                "xray.trace_header" = trace_header.unwrap_or_default(),
            );
            async move {
                let record_started = Instant::now();
                let left = cutoff.saturating_duration_since(record_started);
                let needed = MIN_RECORD_TIME.max(Duration::from_millis(slowest_ms.load(Ordering::Relaxed) * 3 / 2));
                if left < needed {
                    let detail = format!("not started: {} ms were left of the invocation's time", left.as_millis());
                    return (index, result(object, Outcome::Retry, detail, Vec::new()));
                }
                let outcome = match tokio::time::timeout(left, process(deps, object, tally)).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        warn!(bucket = %object.bucket, key = %object.key, "the invocation's time ran out during this record");
                        result(object, Outcome::Retry, "the invocation's time ran out while it was processed", Vec::new())
                    }
                };
                let took = u64::try_from(record_started.elapsed().as_millis()).unwrap_or(u64::MAX);
                slowest_ms.fetch_max(took, Ordering::Relaxed);
                (index, outcome)
            }
            .instrument(span)
        })
        .buffered(deps.config.max_concurrent_records)
        .collect()
        .await;
    for (index, outcome) in finished {
        results[index].push(outcome);
    }

    let response = Response::of_items(items.into_iter().map(|item| item.id).zip(results));
    info!(
        records = response.results.len(),
        retries = response.results.iter().filter(|r| r.outcome == Outcome::Retry).count(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "batch done"
    );
    Ok((trigger, response))
}

fn result(object: &ObjectEvent, outcome: Outcome, detail: impl Into<String>, keys: Vec<String>) -> ObjectResult {
    ObjectResult { bucket: object.bucket.clone(), key: object.key.clone(), outcome, detail: detail.into(), keys }
}

async fn process(deps: &Deps, object: &ObjectEvent, tally: &Tally) -> ObjectResult {
    let config = &deps.config;
    let dest_bucket = config.dest_bucket.clone().unwrap_or_else(|| object.bucket.clone());
    if dest_bucket == object.bucket && core::is_own_output(&object.key, &config.dest_prefix, &config.failed_prefix) {
        return result(object, Outcome::Skipped, "the thumbnailer's own output", Vec::new());
    }
    match &object.action {
        ObjectAction::Removed => delete::delete_thumbnails(deps, object, &dest_bucket).await,
        ObjectAction::Created { etag, .. } => upload::upload(deps, object, &dest_bucket, etag.as_deref(), tally).await,
    }
}

/// How one object's step failed, by the failure policy (the module's doc).
enum Failure {
    Skipped(String),
    Retry(String),
    Rejected { reason: String, class: RejectionClass, etag: String },
}

impl From<S3Failure> for Failure {
    fn from(failure: S3Failure) -> Self {
        match failure {
            S3Failure::Gone => Failure::Skipped("the object was deleted before it could be processed".to_owned()),
            S3Failure::Replaced => Failure::Skipped(
                "the object was replaced after this event; the new version's own event processes it".to_owned(),
            ),
            S3Failure::TooLarge { limit } => Failure::Retry(format!(
                "the object grew past {limit} bytes after its size was checked; it is checked again on retry"
            )),
            S3Failure::Permanent(reason) => {
                Failure::Rejected { reason, class: RejectionClass::Unreadable, etag: String::new() }
            }
            S3Failure::Transient(reason) => Failure::Retry(reason),
        }
    }
}

fn failure_reason(failure: S3Failure) -> String {
    match Failure::from(failure) {
        Failure::Skipped(reason) | Failure::Retry(reason) | Failure::Rejected { reason, .. } => reason,
    }
}
