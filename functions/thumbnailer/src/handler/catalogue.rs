//! Filing a photo's record and announcing it, when the catalogue is on (`PHOTOS_TABLE`):
//! a conditional write only a newer event can win, then the announcement, then the mark
//! that it went out (`catalog`).

use jiff::Timestamp;
use tracing::Instrument as _;

use super::Deps;
use crate::catalog::{self, Filed};
use crate::config::PhotosConfig;
use crate::core::{self, ObjectEvent, PhotoRecord, RecordOf, duplicates};
use crate::error::ThumbnailerError;

/// What the catalogue did with an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Catalogued {
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
    pub(super) fn detail(self) -> &'static str {
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
pub(super) fn record_of<'a>(deps: &'a Deps, object: &'a ObjectEvent, processed_at: &'a str) -> Option<RecordOf<'a>> {
    deps.config.photos.as_ref().map(|photos| RecordOf {
        bucket: &object.bucket,
        key: &object.key,
        sequencer: object.sequencer.as_ref(),
        owner_depth: photos.owner_depth,
        processed_at,
    })
}

pub(super) fn now_text() -> String {
    Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Looks up the photo's near-duplicate (a ready photo, with the lookup on), files the
/// record, files its hash bands, then announces it unless that already happened.
pub(super) async fn catalogue(
    deps: &Deps,
    record: Option<&PhotoRecord>,
    removed: &[String],
) -> Result<Catalogued, ThumbnailerError> {
    let (Some(photos), Some(record)) = (&deps.config.photos, record) else {
        return Ok(Catalogued::Off);
    };
    let record = &with_duplicate(deps, photos, record).await?;
    let filing = catalog::file(&deps.dynamodb, &photos.table, record);
    match filing.instrument(tracing::info_span!("file record", photo_id = %record.photo_id)).await? {
        Filed::Superseded => Ok(Catalogued::Superseded),
        Filed::AlreadyFiled { announced: true } => Ok(Catalogued::AlreadyAnnounced),
        Filed::Fresh | Filed::AlreadyFiled { announced: false } => {
            // Before the announcement: an announced record's bands are always filed.
            if photos.duplicate_distance.is_some() {
                catalog::index_bands(&deps.dynamodb, &photos.table, record)
                    .instrument(tracing::info_span!("file hash bands", photo_id = %record.photo_id))
                    .await?;
            }
            announce(deps, record, removed).await
        }
    }
}

/// The record, naming the owner's earlier photo it nearly repeats when there is one.
async fn with_duplicate(
    deps: &Deps,
    photos: &PhotosConfig,
    record: &PhotoRecord,
) -> Result<PhotoRecord, ThumbnailerError> {
    let (Some(max_distance), Some(hash)) =
        (photos.duplicate_distance, record.phash.as_deref().and_then(duplicates::parse_phash))
    else {
        return Ok(record.clone());
    };
    let candidates = catalog::find_candidates(&deps.dynamodb, &photos.table, &record.photo_id, &record.owner, hash)
        .instrument(tracing::info_span!("find duplicates", photo_id = %record.photo_id))
        .await?;
    let duplicate = duplicates::choose_duplicate(&record.photo_id, &record.key, hash, &candidates, max_distance);
    Ok(record.clone().duplicating(duplicate))
}

/// Publishes the record's announcement and marks the record announced (no topic: nothing).
pub(super) async fn announce(
    deps: &Deps,
    record: &PhotoRecord,
    removed: &[String],
) -> Result<Catalogued, ThumbnailerError> {
    let Some(photos) = &deps.config.photos else { return Ok(Catalogued::Off) };
    let Some(topic) = &photos.topic_arn else { return Ok(Catalogued::Filed) };
    async {
        catalog::announce(&deps.sns, topic, &core::announcement(record, removed)).await?;
        catalog::mark_announced(&deps.dynamodb, &photos.table, record).await
    }
    .instrument(tracing::info_span!("announce", photo_id = %record.photo_id))
    .await?;
    Ok(Catalogued::Announced)
}
