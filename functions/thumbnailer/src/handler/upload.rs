//! An upload: read within the memory budget, thumbnails made on a blocking thread and
//! written, the photo filed and announced; a file that can never become a thumbnail is
//! recorded under `FAILED_PREFIX` and acknowledged.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use jiff::Timestamp;
use serde_json::json;
use tracing::{Instrument as _, error, info, warn};

use super::catalogue::{catalogue, now_text, record_of};
use super::outdated::{Removal, remove_outdated_thumbnails};
use super::{Deps, Failure, Tally, failure_reason, result};
use crate::aws::{self, S3Failure};
use crate::catalog;
use imaging::Rejection;

use crate::core::{self, ObjectEvent, ObjectResult, Outcome, PhotoRecord, ThumbnailEntry};
use crate::error::ThumbnailerError;

/// An upload: its thumbnails made and written, its record filed and announced; or its
/// rejection recorded; or why it must be tried again.
pub(super) async fn upload(
    deps: &Deps,
    object: &ObjectEvent,
    dest_bucket: &str,
    event_etag: Option<&str>,
    tally: &Tally,
) -> ObjectResult {
    let info = match aws::head(&deps.s3, &object.bucket, &object.key, event_etag).await {
        Ok(info) => info,
        Err(failure) => return failed(deps, object, dest_bucket, Failure::from(failure), tally).await,
    };
    // An upload the photos API signed names the trace it was made in: the rest of its work
    // goes on there, so the upload and its thumbnails are one trace (S3 does not carry a
    // browser's upload into one).
    let in_upload_trace = match &info.trace_header {
        Some(header) => tracing::info_span!("photo", key = %object.key, "xray.trace_header" = header.as_str()),
        None => tracing::Span::none(),
    };
    async {
        match make(deps, object, dest_bucket, info, tally).await {
            Ok(made) => made_outcome(deps, object, made).await,
            Err(failure) => failed(deps, object, dest_bucket, failure, tally).await,
        }
    }
    .instrument(in_upload_trace)
    .await
}

async fn made_outcome(deps: &Deps, object: &ObjectEvent, made: Made) -> ObjectResult {
    match made {
        Made::Written { keys, record } => {
            info!(bucket = %object.bucket, key = %object.key, thumbnails = keys.len(), "thumbnails written");
            match catalogue(deps, record.as_deref(), &[]).await {
                Ok(catalogued) => result(object, Outcome::Written, catalogued.detail(), keys),
                Err(reason) => {
                    warn!(bucket = %object.bucket, key = %object.key, reason = %reason, transient = reason.is_transient(), "will be retried");
                    result(object, Outcome::Retry, format!("thumbnails written, but {reason}"), keys)
                }
            }
        }
        Made::UpToDate(keys) => {
            info!(bucket = %object.bucket, key = %object.key, "thumbnails already written for this version");
            result(object, Outcome::UpToDate, "this version's thumbnails already exist", keys)
        }
    }
}

async fn failed(deps: &Deps, object: &ObjectEvent, dest_bucket: &str, failure: Failure, tally: &Tally) -> ObjectResult {
    match failure {
        Failure::Skipped(reason) => {
            warn!(bucket = %object.bucket, key = %object.key, reason = %reason, "skipped");
            result(object, Outcome::Skipped, reason, Vec::new())
        }
        Failure::Retry(reason) => {
            warn!(bucket = %object.bucket, key = %object.key, reason = %reason, "will be retried");
            result(object, Outcome::Retry, reason, Vec::new())
        }
        Failure::Rejected { reason, class, etag } => {
            let rejected = reject(deps, object, dest_bucket, &reason, &etag).await;
            if rejected.outcome == Outcome::Rejected {
                tally.rejected(class);
            }
            rejected
        }
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

async fn make(
    deps: &Deps,
    object: &ObjectEvent,
    dest_bucket: &str,
    info: aws::ObjectInfo,
    tally: &Tally,
) -> Result<Made, Failure> {
    let config = &deps.config;
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
    let extension = imaging::output_kind(config.format, &bytes).extension();
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
        && record_complete(deps, object, &info.etag).await.map_err(|err| Failure::Retry(err.to_string()))?
    {
        return Ok(Made::UpToDate(keys));
    }

    // The header is read once: it prices the decode here and drives it on the worker.
    let header = imaging::Header::read(&bytes, config.limits).map_err(rejected)?;
    let needed = header.memory_need_for(&config.sizes, config.fit);
    let photo = {
        // Over the allowance: `make_thumbnails_from` refuses it without allocating, so it
        // takes no reservation that could hold the others back.
        let fits = needed <= config.limits.max_alloc_bytes;
        let memory = if fits { Some(deps.pools.decodes.reserve(needed).await) } else { None };
        let decoder = deps.pools.decoders.clone().acquire_owned().await.expect("the pools are never closed");
        let (sizes, format, fit, limits) = (config.sizes.clone(), config.format, config.fit, config.limits);
        // Decoding and encoding are CPU work: off the async runtime's threads. The thread
        // holds the reservations (the downloaded bytes live there too): it runs on even if
        // the record is abandoned at the cutoff.
        let image_started = Instant::now();
        // The worker thread has no span or subscriber of its own: its decode, resize and
        // encode go under this record's span, to the same subscriber.
        let (record_span, dispatch) = (tracing::Span::current(), tracing::dispatcher::get_default(Clone::clone));
        let made = tokio::task::spawn_blocking(move || {
            let _held = (download, memory, decoder);
            tracing::dispatcher::with_default(&dispatch, || {
                record_span.in_scope(|| imaging::make_thumbnails_from(&bytes, &header, &sizes, format, fit, limits))
            })
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
            thumbnail.kind.content_type(),
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

/// With the catalogue on, whether the photo's stored record already finishes this upload
/// event (`StoredRecord::completes`); with it off, always.
async fn record_complete(deps: &Deps, object: &ObjectEvent, etag: &str) -> Result<bool, ThumbnailerError> {
    let Some(photos) = &deps.config.photos else { return Ok(true) };
    let photo_id = core::photo_id(&object.bucket, &object.key);
    let stored = catalog::stored(&deps.dynamodb, &photos.table, &photo_id).await?.unwrap_or_default();
    Ok(stored.completes(etag, object.sequencer.as_ref(), photos.topic_arn.is_some()))
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
