//! A photo's record (one DynamoDB item per source object) and its announcement (one SNS
//! message per change), built from what the pipeline found. Pure: the handler
//! brings the time, the AWS layer writes them.
//!
//! Ordering: S3 delivers events at least once and out of order. Each record carries its
//! event's sequencer, right-padded ([`Sequencer::padded`]) so that a conditional write
//! can compare it as a string, and a write succeeds only when its sequencer is newer than
//! the stored one ([`WriteRule`]). An event without a sequencer (a hand-made event, an
//! emulator's) never replaces a record that has one, and among its kind a write happens
//! only when the record's `version` (status and ETag) changes.

use serde::Serialize;
use serde_json::{Value, json};

use super::sequencer::Sequencer;
use imaging::{Photo, Thumbnail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoStatus {
    Ready,
    Rejected,
    Deleted,
}

impl PhotoStatus {
    /// The announcement's `event`.
    pub fn event(self) -> &'static str {
        match self {
            Self::Ready => "photo.ready",
            Self::Rejected => "photo.rejected",
            Self::Deleted => "photo.deleted",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Rejected => "rejected",
            Self::Deleted => "deleted",
        }
    }

    /// The status a stored record names, `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Ready, Self::Rejected, Self::Deleted].into_iter().find(|status| status.as_str() == text)
    }

    /// A record's `version`: its status and the source's ETag, what an event without a
    /// sequencer is ordered by.
    pub fn version(self, etag: Option<&str>) -> String {
        format!("{}:{}", self.as_str(), etag.unwrap_or_default())
    }
}

/// A photo's id in the table: `<bucket>/<key>`.
pub fn photo_id(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

/// What the table holds for a photo, as far as deciding goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredRecord {
    pub status: Option<PhotoStatus>,
    pub etag: Option<String>,
    pub sequencer: Option<String>,
    pub version: Option<String>,
    pub announced: bool,
}

impl StoredRecord {
    /// Whether this stored record already finishes the upload event of `etag` (with its
    /// `sequencer`): ready for those bytes, announced (when `announcing`), and filed by this
    /// event or a newer one. A newer event for the same bytes (the photo uploaded again) is
    /// not finished by an older record: it files its own, so that an older event still in
    /// flight cannot win the record afterwards. An event without a sequencer never
    /// replaces a record that has one.
    pub fn completes(&self, etag: &str, sequencer: Option<&Sequencer>, announcing: bool) -> bool {
        let filed_by_this_or_newer = match sequencer {
            Some(sequencer) => self.sequencer.as_deref().is_some_and(|filed| filed >= sequencer.padded().as_str()),
            None => {
                self.sequencer.is_some()
                    || self.version.as_deref() == Some(PhotoStatus::Ready.version(Some(etag)).as_str())
            }
        };
        self.status == Some(PhotoStatus::Ready)
            && self.etag.as_deref() == Some(etag)
            && (self.announced || !announcing)
            && filed_by_this_or_newer
    }
}

/// One thumbnail as the record lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThumbnailEntry {
    pub key: String,
    /// The box it was fitted into, `256x256`.
    #[serde(rename = "box")]
    pub fitted_box: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub format: &'static str,
    pub content_type: &'static str,
    /// The part of the photo a `cover` thumbnail shows, in the photo's pixels (absent for
    /// `contain`, which shows all of it): what a page needs to place a face or a caption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crop: Option<CropEntry>,
}

/// A rectangle of the photo, in its pixels once oriented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CropEntry {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

impl ThumbnailEntry {
    pub fn new(key: String, thumbnail: &Thumbnail) -> Self {
        Self {
            key,
            fitted_box: format!("{}x{}", thumbnail.size.width, thumbnail.size.height),
            width: thumbnail.width,
            height: thumbnail.height,
            bytes: thumbnail.bytes.len() as u64,
            format: thumbnail.kind.name(),
            content_type: thumbnail.kind.content_type(),
            crop: thumbnail.crop.map(|area| CropEntry {
                left: area.left,
                top: area.top,
                width: area.width,
                height: area.height,
            }),
        }
    }
}

/// The item, attribute by attribute (absent values are left out, not stored as null).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoRecord {
    /// The table's partition key: `<bucket>/<key>`.
    pub photo_id: String,
    /// The `by-owner` index's partition key: `<bucket>/` and the key's first folders.
    pub owner: String,
    pub bucket: String,
    pub key: String,
    pub status: PhotoStatus,
    /// `<status>:<etag>`: what orders events that have no sequencer.
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the rejection's JSON record was written (`FAILED_PREFIX`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u8>,
    /// The embedded ICC profile's description; the thumbnails are sRGB either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour_profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera_make: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<imaging::Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thumbnails: Vec<ThumbnailEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dominant_colour: Option<String>,
    /// The perceptual hash, 16 hexadecimal digits (`core::duplicates`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phash: Option<String>,
    /// The key of the owner's earlier photo this one nearly repeats, and how many bits
    /// their hashes differ in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_distance: Option<u32>,
    pub processed_at: String,
}

/// Which object, which event, when: what every record starts from.
#[derive(Debug, Clone, Copy)]
pub struct RecordOf<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub sequencer: Option<&'a Sequencer>,
    /// Folders of the key that make its owner (`PHOTOS_OWNER_DEPTH`).
    pub owner_depth: usize,
    /// RFC 3339, UTC.
    pub processed_at: &'a str,
}

impl RecordOf<'_> {
    fn record(&self, status: PhotoStatus, etag: Option<&str>) -> PhotoRecord {
        PhotoRecord {
            photo_id: photo_id(self.bucket, self.key),
            owner: owner_of(self.bucket, self.key, self.owner_depth),
            bucket: self.bucket.to_owned(),
            key: self.key.to_owned(),
            status,
            version: status.version(etag),
            sequencer: self.sequencer.map(Sequencer::padded),
            etag: etag.map(str::to_owned),
            size: None,
            reason: None,
            failure_record: None,
            format: None,
            width: None,
            height: None,
            orientation: None,
            colour_profile: None,
            captured_at: None,
            camera_make: None,
            camera_model: None,
            location: None,
            thumbnails: Vec::new(),
            placeholder: None,
            dominant_colour: None,
            phash: None,
            duplicate_of: None,
            duplicate_distance: None,
            processed_at: self.processed_at.to_owned(),
        }
    }

    /// A photo whose thumbnails are written. Its GPS position is kept only if asked for.
    pub fn ready(
        &self,
        etag: &str,
        size: u64,
        photo: &Photo,
        thumbnails: Vec<ThumbnailEntry>,
        store_location: bool,
    ) -> PhotoRecord {
        let facts = &photo.facts;
        PhotoRecord {
            size: Some(size),
            format: Some(facts.format),
            width: Some(facts.width),
            height: Some(facts.height),
            orientation: Some(facts.orientation),
            colour_profile: facts.colour_profile.clone(),
            captured_at: facts.exif.captured_at.clone(),
            camera_make: facts.exif.camera_make.clone(),
            camera_model: facts.exif.camera_model.clone(),
            location: facts.exif.location.filter(|_| store_location),
            thumbnails,
            placeholder: Some(photo.placeholder.thumbhash.clone()),
            dominant_colour: Some(photo.placeholder.dominant_colour.clone()),
            phash: Some(super::duplicates::phash_text(photo.phash)),
            ..self.record(PhotoStatus::Ready, Some(etag))
        }
    }

    /// An upload that can never become a thumbnail, and why (`etag` is unknown when S3
    /// refused to give the object).
    pub fn rejected(&self, etag: Option<&str>, reason: &str, failure_record: &str) -> PhotoRecord {
        PhotoRecord {
            reason: Some(reason.to_owned()),
            failure_record: Some(failure_record.to_owned()),
            ..self.record(PhotoStatus::Rejected, etag.filter(|e| !e.is_empty()))
        }
    }

    pub fn deleted(&self) -> PhotoRecord {
        self.record(PhotoStatus::Deleted, None)
    }
}

/// `<bucket>/` and the key's first `depth` folders, each ending in `/` (fewer when the key
/// has fewer): `uploads/alice/2026/beach.jpg` at depth 2 is owned by `bucket/uploads/alice/`.
pub fn owner_of(bucket: &str, key: &str, depth: usize) -> String {
    let folders: Vec<&str> = key.split('/').collect();
    let kept = depth.min(folders.len().saturating_sub(1));
    let mut owner = format!("{bucket}/");
    for folder in &folders[..kept] {
        owner.push_str(folder);
        owner.push('/');
    }
    owner
}

/// The folder part of a key, `uploads/alice/` for `uploads/alice/beach.jpg`.
pub fn key_prefix(key: &str) -> &str {
    key.rfind('/').map_or("", |slash| &key[..=slash])
}

/// When a conditional write may replace the stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteRule {
    /// Only over a record with an older sequencer, or none.
    NewerThan(String),
    /// Only over a record without a sequencer whose version differs.
    Unsequenced { version: String },
}

impl PhotoRecord {
    /// The record naming the earlier photo it nearly repeats.
    #[must_use]
    pub fn duplicating(mut self, duplicate: Option<super::duplicates::Duplicate>) -> Self {
        if let Some(duplicate) = duplicate {
            self.duplicate_of = Some(duplicate.key);
            self.duplicate_distance = Some(duplicate.distance);
        }
        self
    }

    pub fn write_rule(&self) -> WriteRule {
        match &self.sequencer {
            Some(sequencer) => WriteRule::NewerThan(sequencer.clone()),
            None => WriteRule::Unsequenced { version: self.version.clone() },
        }
    }

    /// Whether a stored record (its `sequencer` and `version`) is this record's own write.
    pub fn is_same_write(&self, stored_sequencer: Option<&str>, stored_version: Option<&str>) -> bool {
        match &self.sequencer {
            Some(sequencer) => stored_sequencer == Some(sequencer.as_str()),
            None => stored_sequencer.is_none() && stored_version == Some(self.version.as_str()),
        }
    }
}

/// One SNS message: a JSON body and the attributes subscribers filter on.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    pub event: &'static str,
    pub body: String,
    pub attributes: Vec<(&'static str, String)>,
}

/// The announcement of a record: its main fields, the thumbnails' keys (for a deletion,
/// the keys removed), and the attributes `event`, `bucket`, `key_prefix`, `format` (the
/// source's) and `duplicate_of`, the last three only when they have a value (SNS refuses
/// empty ones).
pub fn announcement(record: &PhotoRecord, removed: &[String]) -> Announcement {
    let event = record.status.event();
    let mut body = json!({
        "event": event,
        "bucket": record.bucket,
        "key": record.key,
        "status": record.status,
        "processed_at": record.processed_at,
    });
    let optional: [(&str, Option<Value>); 14] = [
        ("sequencer", record.sequencer.clone().map(Value::from)),
        ("etag", record.etag.clone().map(Value::from)),
        ("size", record.size.map(Value::from)),
        ("format", record.format.map(Value::from)),
        ("width", record.width.map(Value::from)),
        ("height", record.height.map(Value::from)),
        ("captured_at", record.captured_at.clone().map(Value::from)),
        ("camera_make", record.camera_make.clone().map(Value::from)),
        ("camera_model", record.camera_model.clone().map(Value::from)),
        ("placeholder", record.placeholder.clone().map(Value::from)),
        ("dominant_colour", record.dominant_colour.clone().map(Value::from)),
        ("reason", record.reason.clone().map(Value::from)),
        ("duplicate_of", record.duplicate_of.clone().map(Value::from)),
        ("duplicate_distance", record.duplicate_distance.map(Value::from)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            body[name] = value;
        }
    }
    if !record.thumbnails.is_empty() {
        body["thumbnails"] = record.thumbnails.iter().map(|t| Value::from(t.key.clone())).collect();
    }
    if record.status == PhotoStatus::Deleted {
        body["thumbnails_removed"] = removed.iter().cloned().map(Value::from).collect();
    }
    let mut attributes = vec![("event", event.to_owned()), ("bucket", record.bucket.clone())];
    let prefix = key_prefix(&record.key);
    if !prefix.is_empty() {
        attributes.push(("key_prefix", prefix.to_owned()));
    }
    if let Some(format) = record.format {
        attributes.push(("format", format.to_owned()));
    }
    // A subscriber that wants only new pictures filters `{"duplicate_of": [{"exists": false}]}`.
    if let Some(original) = &record.duplicate_of {
        attributes.push(("duplicate_of", original.clone()));
    }
    Announcement { event, body: body.to_string(), attributes }
}
