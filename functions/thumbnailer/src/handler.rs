//! One invocation: every object event in the payload, several at once, each on its own,
//! so one bad record never fails the others, and all of it inside the invocation's time.
//!
//! The failure policy (the README's table): a *permanent* failure is the file's fault
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
//! The photo catalogue (`PHOTOS_TABLE`, #11): every outcome that changes what a photo is
//! (thumbnails written, rejected, deleted) is filed as the photo's record with a
//! conditional write that only a newer event can win, and then announced on
//! `PHOTOS_TOPIC_ARN`, and marked announced. A repeated event finds its record filed and
//! announced, and changes nothing; a retried one finishes what its first attempt left.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{Value, json};
use shared::aws::Aws;
use shared::deadline::time_budget;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{error, info, warn};

use crate::aws::{self, S3Failure};
use crate::catalog::{self, Filed};
use crate::config::Config;
use crate::core::{
    self, ObjectAction, ObjectEvent, OutputFormat, PhotoRecord, RecordOf, Rejection, RejectionClass, ThumbnailEntry,
    Trigger,
};
use crate::error::ThumbnailerError;

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
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pools = Pools {
            inputs: Pool::new(config.memory.input_bytes),
            decodes: Pool::new(config.memory.decode_bytes),
            decoders: Arc::new(Semaphore::new(config.memory.decoders.min(cpus).max(1))),
        };
        Self {
            config,
            s3: aws.s3(),
            dynamodb: shared::aws_client!(aws_sdk_dynamodb, aws),
            sns: shared::aws_client!(aws_sdk_sns, aws),
            pools: Arc::new(pools),
        }
    }
}

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

/// What a batch measured beyond its results, for its metrics.
#[derive(Debug, Default)]
pub struct Tally {
    input_bytes: AtomicU64,
    /// Decoding, resizing and encoding, summed over the batch's images.
    image_ms: AtomicU64,
    rejections: std::sync::Mutex<std::collections::BTreeMap<RejectionClass, u32>>,
}

/// A batch's measurements, read once it is done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measured {
    pub input_bytes: u64,
    pub image_ms: u64,
    pub rejections: std::collections::BTreeMap<RejectionClass, u32>,
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
    let retries: Vec<String> = response
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Retry)
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
            Ok(events) => jobs.extend(events.iter().map(|object| (index, object))),
        }
    }
    let slowest_ms = AtomicU64::new(0);
    let finished: Vec<(usize, ObjectResult)> = stream::iter(jobs)
        .map(|(index, object)| {
            let slowest_ms = &slowest_ms;
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
        })
        .buffered(deps.config.max_concurrent_records)
        .collect()
        .await;
    for (index, outcome) in finished {
        results[index].push(outcome);
    }

    let mut response = Response { batch_item_failures: Vec::new(), results: Vec::new() };
    for (item, item_results) in items.into_iter().zip(results) {
        let retry = item_results.iter().any(|r| r.outcome == Outcome::Retry);
        if let Some(id) = item.id.filter(|_| retry) {
            response.batch_item_failures.push(BatchItemFailure { item_identifier: id });
        }
        response.results.extend(item_results);
    }
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
        ObjectAction::Removed => delete_thumbnails(deps, object, &dest_bucket).await,
        ObjectAction::Created { etag, .. } => match make(deps, object, &dest_bucket, etag.as_deref(), tally).await {
            Ok(Made::Written { keys, record }) => {
                info!(bucket = %object.bucket, key = %object.key, thumbnails = keys.len(), "thumbnails written");
                match catalogue(deps, record.as_deref(), &[]).await {
                    Ok(catalogued) => result(object, Outcome::Written, catalogued.detail(), keys),
                    Err(reason) => {
                        warn!(bucket = %object.bucket, key = %object.key, reason = %reason, "will be retried");
                        result(object, Outcome::Retry, format!("thumbnails written, but {reason}"), keys)
                    }
                }
            }
            Ok(Made::UpToDate(keys)) => {
                info!(bucket = %object.bucket, key = %object.key, "thumbnails already written for this version");
                result(object, Outcome::UpToDate, "this version's thumbnails already exist", keys)
            }
            Err(Failure::Skipped(reason)) => {
                warn!(bucket = %object.bucket, key = %object.key, reason = %reason, "skipped");
                result(object, Outcome::Skipped, reason, Vec::new())
            }
            Err(Failure::Retry(reason)) => {
                warn!(bucket = %object.bucket, key = %object.key, reason = %reason, "will be retried");
                result(object, Outcome::Retry, reason, Vec::new())
            }
            Err(Failure::Rejected { reason, class, etag }) => {
                let rejected = reject(deps, object, &dest_bucket, &reason, &etag).await;
                if rejected.outcome == Outcome::Rejected {
                    tally.rejected(class);
                }
                rejected
            }
        },
    }
}

enum Made {
    /// Thumbnails written, and the photo's record to file when the catalogue is on.
    Written {
        keys: Vec<String>,
        record: Option<Box<PhotoRecord>>,
    },
    UpToDate(Vec<String>),
}

/// What the catalogue did with an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Catalogued {
    Off,
    /// Filed (or found filed) and announced now.
    Announced,
    /// Filed, with no topic to announce it on.
    Filed,
    /// A repeated event: filed and announced before.
    AlreadyAnnounced,
    /// A newer event's record stands.
    Superseded,
}

impl Catalogued {
    fn detail(self) -> &'static str {
        match self {
            Self::Off => "",
            Self::Announced => "recorded and announced",
            Self::Filed => "recorded",
            Self::AlreadyAnnounced => "already recorded and announced (a repeated event)",
            Self::Superseded => "a newer event's record stands; the record is unchanged",
        }
    }
}

/// The record for `object`'s event, when the catalogue is on.
fn record_of<'a>(deps: &'a Deps, object: &'a ObjectEvent, processed_at: &'a str) -> Option<RecordOf<'a>> {
    deps.config.photos.as_ref().map(|photos| RecordOf {
        bucket: &object.bucket,
        key: &object.key,
        sequencer: object.sequencer.as_ref(),
        owner_depth: photos.owner_depth,
        processed_at,
    })
}

fn now_text() -> String {
    Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Files the record, then announces it unless that already happened.
async fn catalogue(deps: &Deps, record: Option<&PhotoRecord>, removed: &[String]) -> Result<Catalogued, String> {
    let (Some(photos), Some(record)) = (&deps.config.photos, record) else {
        return Ok(Catalogued::Off);
    };
    match catalog::file(&deps.dynamodb, &photos.table, record).await? {
        Filed::Superseded => Ok(Catalogued::Superseded),
        Filed::AlreadyFiled { announced: true } => Ok(Catalogued::AlreadyAnnounced),
        Filed::Fresh | Filed::AlreadyFiled { announced: false } => announce(deps, record, removed).await,
    }
}

/// Publishes the record's announcement and marks the record announced (no topic: nothing).
async fn announce(deps: &Deps, record: &PhotoRecord, removed: &[String]) -> Result<Catalogued, String> {
    let Some(photos) = &deps.config.photos else { return Ok(Catalogued::Off) };
    let Some(topic) = &photos.topic_arn else { return Ok(Catalogued::Filed) };
    catalog::announce(&deps.sns, topic, &core::announcement(record, removed)).await?;
    catalog::mark_announced(&deps.dynamodb, &photos.table, record).await?;
    Ok(Catalogued::Announced)
}

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

async fn make(
    deps: &Deps,
    object: &ObjectEvent,
    dest_bucket: &str,
    event_etag: Option<&str>,
    tally: &Tally,
) -> Result<Made, Failure> {
    let config = &deps.config;
    let info = aws::head(&deps.s3, &object.bucket, &object.key, event_etag).await?;
    if info.is_output {
        return Err(Failure::Skipped("marked as the thumbnailer's own output".to_owned()));
    }
    let rejected = |rejection: Rejection| Failure::Rejected {
        reason: rejection.to_string(),
        class: rejection.class(),
        etag: info.etag.clone(),
    };
    let too_many_bytes = |size| rejected(Rejection::TooManyBytes { size, limit: config.max_input_bytes });
    if info.size > config.max_input_bytes {
        return Err(too_many_bytes(info.size));
    }
    let download = deps.pools.inputs.reserve(info.size).await;
    let bytes = match aws::get(&deps.s3, &object.bucket, &object.key, &info.etag, config.max_input_bytes).await {
        Err(S3Failure::TooLarge { .. }) => return Err(too_many_bytes(config.max_input_bytes + 1)),
        other => other?,
    };
    tally.input_bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);

    // Names and metadata first: a name S3 cannot take is the file's fault, known now.
    let extension = core::output_extension(config.format, &bytes);
    let keys: Vec<String> = config
        .sizes
        .iter()
        .map(|size| core::checked_output_key(&config.dest_prefix, &object.key, *size, extension))
        .collect::<Result<_, _>>()
        .map_err(rejected)?;
    let metadata: HashMap<String, String> =
        core::thumbnail_metadata(&object.key, &info.etag).map_err(rejected)?.into_iter().collect();

    // A repeated event: the last thumbnail is written last, so if it is this version's, all
    // are; with the catalogue on, the record must be this version's and announced too, or
    // the photo is made again to file it (a retry after the record or announcement failed).
    if let Some(last) = keys.last()
        && let Some(existing) = aws::head_output(&deps.s3, dest_bucket, last).await?
        && existing.source_etag.as_deref() == Some(info.etag.as_str())
        && existing.source_key.as_deref() == Some(object.key.as_str())
        && record_complete(deps, object, &info.etag).await.map_err(Failure::Retry)?
    {
        return Ok(Made::UpToDate(keys));
    }

    let needed = core::memory_need(&bytes, &config.sizes, config.limits).map_err(rejected)?;
    let photo = {
        // Over the allowance: `make_thumbnails` refuses it without allocating, so it
        // takes no reservation that could hold the others back.
        let fits = needed <= config.limits.max_alloc_bytes;
        let memory = if fits { Some(deps.pools.decodes.reserve(needed).await) } else { None };
        let decoder = deps.pools.decoders.clone().acquire_owned().await.expect("the pools are never closed");
        let (sizes, format, limits) = (config.sizes.clone(), config.format, config.limits);
        // Decoding and encoding are CPU work: off the async runtime's threads. The thread
        // holds the reservations (the downloaded bytes live there too): it runs on even if
        // the record is abandoned at the cutoff.
        let image_started = Instant::now();
        let made = tokio::task::spawn_blocking(move || {
            let _held = (download, memory, decoder);
            core::make_thumbnails(&bytes, &sizes, format, limits)
        })
        .await;
        let image_ms = u64::try_from(image_started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tally.image_ms.fetch_add(image_ms, Ordering::Relaxed);
        made.map_err(|err| Failure::Retry(format!("the image worker was stopped: {err}")))?.map_err(rejected)?
    };
    let processed_at = now_text();
    let record = record_of(deps, object, &processed_at).map(|of| {
        let entries = photo.thumbnails.iter().zip(&keys).map(|(t, key)| ThumbnailEntry::new(key.clone(), t));
        let store_location = config.photos.as_ref().is_some_and(|p| p.store_location);
        Box::new(of.ready(&info.etag, info.size, &photo, entries.collect(), store_location))
    });
    let mut written = Vec::new();
    for (thumbnail, key) in photo.thumbnails.into_iter().zip(keys) {
        let put = aws::put(
            &deps.s3,
            dest_bucket,
            &key,
            thumbnail.bytes,
            thumbnail.content_type,
            Some(&config.cache_control),
            metadata.clone(),
        )
        .await;
        match put {
            Ok(()) => written.push(key),
            // S3 refused the name or metadata outright: no retry can change that.
            Err(S3Failure::Permanent(reason)) => return Err(rejected(Rejection::NameTooLong(reason))),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(Made::Written { keys: written, record })
}

/// With the catalogue on, whether the photo's record is this version's, ready, announced
/// (or there is no topic), and filed by this event or a newer one; with it off, always. A
/// newer event for the same bytes (the photo uploaded again) is not complete: it files its
/// own record, so that an older event in flight cannot win the record afterwards.
async fn record_complete(deps: &Deps, object: &ObjectEvent, etag: &str) -> Result<bool, String> {
    let Some(photos) = &deps.config.photos else { return Ok(true) };
    let photo_id = format!("{}/{}", object.bucket, object.key);
    let stored = catalog::stored(&deps.dynamodb, &photos.table, &photo_id).await?.unwrap_or_default();
    let filed_by_this_or_newer = match &object.sequencer {
        Some(sequencer) => stored.sequencer.as_deref().is_some_and(|filed| filed >= sequencer.padded().as_str()),
        // An event without a sequencer never replaces a record that has one.
        None => stored.sequencer.is_some() || stored.version.as_deref() == Some(&format!("ready:{etag}")),
    };
    Ok(stored.status.as_deref() == Some("ready")
        && stored.etag.as_deref() == Some(etag)
        && (stored.announced || photos.topic_arn.is_none())
        && filed_by_this_or_newer)
}

/// Logs the rejection and records it under `FAILED_PREFIX`, so operators can find every
/// rejected upload. Only if the record cannot be written is the object retried.
async fn reject(deps: &Deps, object: &ObjectEvent, dest_bucket: &str, reason: &str, etag: &str) -> ObjectResult {
    error!(bucket = %object.bucket, key = %object.key, reason = %reason, "rejected: no thumbnail written");
    let record_key = core::rejection_record_key(&deps.config.failed_prefix, &object.key);
    let record = json!({
        "source_bucket": object.bucket,
        "source_key": object.key,
        "source_etag": etag,
        "reason": reason,
        "time": Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    let body = serde_json::to_vec_pretty(&record).unwrap_or_default();
    if let Err(failure) =
        aws::put(&deps.s3, dest_bucket, &record_key, body, "application/json", None, HashMap::new()).await
    {
        return result(
            object,
            Outcome::Retry,
            format!("{reason}; and recording the rejection failed: {failure:?}"),
            Vec::new(),
        );
    }
    let mut keys = vec![record_key.clone()];
    // A photo replaced by a file that is rejected: its earlier version's thumbnails would
    // otherwise go on showing a picture the key no longer holds.
    if deps.config.delete_with_source && !etag.is_empty() {
        match remove_outdated_thumbnails(deps, object, dest_bucket, Some(etag)).await {
            Ok(Removal::Removed(removed)) => keys.extend(removed),
            Ok(Removal::Superseded) => {}
            Err(failure) => {
                let detail = format!(
                    "{reason}; and removing the earlier version's thumbnails failed: {}",
                    failure_reason(failure)
                );
                return result(object, Outcome::Retry, detail, Vec::new());
            }
        }
    }
    let processed_at = now_text();
    let record = record_of(deps, object, &processed_at).map(|of| of.rejected(Some(etag), reason, &record_key));
    if let Err(failure) = catalogue(deps, record.as_ref(), &[]).await {
        return result(object, Outcome::Retry, format!("{reason}; and {failure}"), Vec::new());
    }
    result(object, Outcome::Rejected, reason, keys)
}

/// Removes a deleted source's thumbnails, and nothing else: only if the source is really
/// gone (events come out of order: a re-upload after the delete keeps its thumbnails),
/// and only thumbnails whose `source-key` is the deleted key (today's names and the
/// names earlier versions wrote).
async fn delete_thumbnails(deps: &Deps, object: &ObjectEvent, dest_bucket: &str) -> ObjectResult {
    if deps.config.photos.is_some() {
        return delete_photo(deps, object, dest_bucket).await;
    }
    if !deps.config.delete_with_source {
        return result(object, Outcome::Skipped, "a deletion, and DELETE_WITH_SOURCE is off", Vec::new());
    }
    match remove_outdated_thumbnails(deps, object, dest_bucket, None).await {
        Ok(Removal::Superseded) => result(
            object,
            Outcome::Skipped,
            "the source exists again (uploaded after this delete): its thumbnails are kept",
            Vec::new(),
        ),
        Ok(Removal::Removed(keys)) => result(object, Outcome::Deleted, "", keys),
        Err(failure) => result(object, Outcome::Retry, failure_reason(failure), Vec::new()),
    }
}

/// A deletion with the catalogue on: only if the source is really gone and this delete is
/// the newest event (the record's rule), the record becomes `deleted`, the thumbnails are
/// removed (`DELETE_WITH_SOURCE`), and then the deletion is announced.
async fn delete_photo(deps: &Deps, object: &ObjectEvent, dest_bucket: &str) -> ObjectResult {
    match aws::head(&deps.s3, &object.bucket, &object.key, None).await {
        Ok(_) => {
            let detail = "the source exists again (uploaded after this delete): its thumbnails and record are kept";
            return result(object, Outcome::Skipped, detail, Vec::new());
        }
        Err(S3Failure::Gone) => {}
        Err(failure) => return result(object, Outcome::Retry, failure_reason(failure), Vec::new()),
    }
    let processed_at = now_text();
    let Some(record) = record_of(deps, object, &processed_at).map(|of| of.deleted()) else {
        return result(object, Outcome::Skipped, "the photo catalogue is off", Vec::new());
    };
    let table = deps.config.photos.as_ref().map(|p| p.table.as_str()).unwrap_or_default();
    match catalog::file(&deps.dynamodb, table, &record).await {
        Err(reason) => return result(object, Outcome::Retry, reason, Vec::new()),
        Ok(Filed::Superseded) => {
            let detail = "a newer event's record stands: nothing removed";
            return result(object, Outcome::Skipped, detail, Vec::new());
        }
        // Removing comes before announcing: an announced deletion is a finished one.
        Ok(Filed::AlreadyFiled { announced: true }) => {
            return result(object, Outcome::Deleted, Catalogued::AlreadyAnnounced.detail(), Vec::new());
        }
        Ok(Filed::Fresh | Filed::AlreadyFiled { announced: false }) => {}
    }
    let removed = if deps.config.delete_with_source {
        match remove_outdated_thumbnails(deps, object, dest_bucket, None).await {
            Ok(Removal::Removed(keys)) => keys,
            // Uploaded again meanwhile: its own event files the new record.
            Ok(Removal::Superseded) => Vec::new(),
            Err(failure) => return result(object, Outcome::Retry, failure_reason(failure), Vec::new()),
        }
    } else {
        Vec::new()
    };
    match announce(deps, &record, &removed).await {
        Ok(catalogued) => {
            let kept =
                if deps.config.delete_with_source { "" } else { "; thumbnails kept (DELETE_WITH_SOURCE is off)" };
            result(object, Outcome::Deleted, format!("{}{kept}", catalogued.detail()), removed)
        }
        Err(reason) => result(object, Outcome::Retry, format!("thumbnails removed, but {reason}"), removed),
    }
}

enum Removal {
    /// The source is no longer in the state the removal was for: a newer event's business.
    Superseded,
    Removed(Vec<String>),
}

/// Removes `object`'s thumbnails made from any version but `current` (`None`: the source
/// was deleted), if the source is still in that state: the thumbnails are read first,
/// then the source, and each thumbnail is deleted only while it is the one read
/// (conditional delete). So a newer upload's thumbnail, written at any point of this, is
/// never removed: either the source check sees the newer upload, or the delete's
/// condition fails on the rewritten thumbnail.
async fn remove_outdated_thumbnails(
    deps: &Deps,
    object: &ObjectEvent,
    dest_bucket: &str,
    current: Option<&str>,
) -> Result<Removal, S3Failure> {
    let config = &deps.config;
    let extensions: &[&str] = match config.format {
        OutputFormat::Jpeg { .. } => &["jpg"],
        OutputFormat::Png => &["png"],
        OutputFormat::Webp { .. } => &["webp"],
        OutputFormat::Avif { .. } => &["avif"],
        OutputFormat::Same { .. } => &["jpg", "png", "webp"],
    };
    let mut candidates: Vec<String> = Vec::new();
    for size in &config.sizes {
        for extension in extensions {
            for key in [
                core::output_key(&config.dest_prefix, &object.key, *size, extension),
                core::legacy_output_key(&config.dest_prefix, &object.key, *size, extension),
            ] {
                if !candidates.contains(&key) {
                    candidates.push(key);
                }
            }
        }
    }
    let mut outdated = Vec::new();
    for candidate in candidates {
        if let Some(info) = aws::head_output(&deps.s3, dest_bucket, &candidate).await?
            && info.source_key.as_deref() == Some(object.key.as_str())
            && (current.is_none() || info.source_etag.as_deref() != current)
        {
            outdated.push((candidate, info.etag));
        }
    }
    let live = match aws::head(&deps.s3, &object.bucket, &object.key, None).await {
        Ok(info) => Some(info.etag),
        Err(S3Failure::Gone) => None,
        Err(failure) => return Err(failure),
    };
    if live.as_deref() != current {
        return Ok(Removal::Superseded);
    }
    let mut removed = Vec::new();
    for (key, etag) in outdated {
        if aws::delete_if_unchanged(&deps.s3, dest_bucket, &key, &etag).await? {
            removed.push(key);
        }
    }
    Ok(Removal::Removed(removed))
}

fn failure_reason(failure: S3Failure) -> String {
    match Failure::from(failure) {
        Failure::Skipped(reason) | Failure::Retry(reason) | Failure::Rejected { reason, .. } => reason,
    }
}
