//! A deletion: thumbnails removed only when the source is really gone and only those made
//! from it; with the catalogue on, the record filed as deleted first, then announced.

use super::catalogue::{Catalogued, announce, now_text, record_of};
use super::outdated::{Removal, remove_outdated_thumbnails};
use super::{Deps, failure_reason, result};
use crate::aws::{self, S3Failure};
use crate::catalog::{self, Filed};
use crate::core::{ObjectEvent, ObjectResult, Outcome};

/// Removes a deleted source's thumbnails, and nothing else: only if the source is really
/// gone (events come out of order: a re-upload after the delete keeps its thumbnails),
/// and only thumbnails whose `source-key` is the deleted key (today's names and the
/// names earlier versions wrote).
pub(super) async fn delete_thumbnails(deps: &Deps, object: &ObjectEvent, dest_bucket: &str) -> ObjectResult {
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
        Err(reason) => return result(object, Outcome::Retry, reason.to_string(), Vec::new()),
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
    // A deleted photo is no near-duplicate's original any more: its hash bands go.
    if deps.config.photos.as_ref().is_some_and(|p| p.duplicate_distance.is_some())
        && let Err(reason) = catalog::index_bands(&deps.dynamodb, table, &record).await
    {
        return result(object, Outcome::Retry, reason.to_string(), Vec::new());
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
