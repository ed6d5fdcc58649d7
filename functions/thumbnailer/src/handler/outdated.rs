//! Removing the thumbnails an object's earlier version (or a deleted object) left: the step
//! both an upload that replaces a photo and a deletion take.

use super::Deps;
use crate::aws::{self, S3Failure};
use crate::core::{self, ObjectEvent};

pub(super) enum Removal {
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
pub(super) async fn remove_outdated_thumbnails(
    deps: &Deps,
    object: &ObjectEvent,
    dest_bucket: &str,
    current: Option<&str>,
) -> Result<Removal, S3Failure> {
    let config = &deps.config;
    let candidates =
        core::thumbnail_key_candidates(&config.dest_prefix, &object.key, &config.sizes, config.format.possible_kinds());
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
