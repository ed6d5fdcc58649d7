//! Near-duplicate photos: which earlier photo of the same owner a new one repeats, found
//! through an index of its perceptual hash's bands. Pure: the AWS layer queries and writes.
//!
//! Each ready photo with a hash has four small *band items* in the photos table, one per
//! 16-bit band of its hash (`imaging::hash_bands`), keyed `band:<n>:<photo_id>` and indexed
//! by `<owner>|<n>|<band in hex>` in the sparse index `by-phash-band`. A new photo looks up
//! its own four bands (four exact lookups, never a scan of the owner's photos), and among
//! what they return keeps those within `DUPLICATE_DISTANCE` bits of its hash. Two hashes at
//! most 3 bits apart always share a band; further apart, they are found when they happen to
//! (the corpus table in the docs says how often).

use serde::Serialize;

use super::record::{PhotoRecord, PhotoStatus};

/// The index the band items are found by.
pub const BAND_INDEX: &str = "by-phash-band";
/// How many bands a hash is cut into.
pub const BANDS: usize = 4;

/// A hash as the record stores it: 16 hexadecimal digits.
pub fn phash_text(hash: u64) -> String {
    format!("{hash:016x}")
}

pub fn parse_phash(text: &str) -> Option<u64> {
    (text.len() == 16).then(|| u64::from_str_radix(text, 16).ok()).flatten()
}

/// The band index's key for band `band` (`0..4`) of a hash, within an owner's photos.
pub fn band_key(owner: &str, band: usize, value: u16) -> String {
    format!("{owner}|{band}|{value:04x}")
}

/// The table key of a photo's band item. No photo's id can be one: a photo id starts with
/// its bucket's name, and no bucket name holds `:`.
pub fn band_item_id(photo_id: &str, band: usize) -> String {
    format!("band:{band}:{photo_id}")
}

/// The band keys a photo of `owner` with `hash` is looked up (and filed) under.
pub fn band_keys(owner: &str, hash: u64) -> [String; BANDS] {
    let bands = imaging::hash_bands(hash);
    std::array::from_fn(|band| band_key(owner, band, bands[band]))
}

/// One band item: what a lookup needs of the photo, without reading its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BandItem {
    pub photo_id: String,
    pub phash_band: String,
    /// The photo's own id.
    pub photo: String,
    pub key: String,
    pub phash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// The photo record's, so the band item follows the same ordering rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    pub version: String,
}

/// The band items a record files: four for a ready photo with a hash, none otherwise (a
/// rejected or deleted photo's are removed: [`band_item_ids`]).
pub fn band_items(record: &PhotoRecord) -> Vec<BandItem> {
    let Some(hash) = record.phash.as_deref().and_then(parse_phash).filter(|_| record.status == PhotoStatus::Ready)
    else {
        return Vec::new();
    };
    band_keys(&record.owner, hash)
        .into_iter()
        .enumerate()
        .map(|(band, phash_band)| BandItem {
            photo_id: band_item_id(&record.photo_id, band),
            phash_band,
            photo: record.photo_id.clone(),
            key: record.key.clone(),
            phash: phash_text(hash),
            duplicate_of: record.duplicate_of.clone(),
            sequencer: record.sequencer.clone(),
            version: record.version.clone(),
        })
        .collect()
}

/// Every band item id a photo can have.
pub fn band_item_ids(photo_id: &str) -> [String; BANDS] {
    std::array::from_fn(|band| band_item_id(photo_id, band))
}

/// A photo the band index returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub photo_id: String,
    pub key: String,
    pub phash: u64,
    pub duplicate_of: Option<String>,
}

/// The earlier photo a new one repeats, and how many bits apart their hashes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub key: String,
    pub distance: u32,
}

/// Which of `candidates` the photo `photo_id` (`key`, `hash`) duplicates: the nearest within
/// `max_distance` bits; on a tie an original before a photo filed as a duplicate itself, then
/// the first key. Never itself (an earlier version of the same
/// key), and never a photo already filed as a duplicate of this one (a re-upload of the
/// original after its copy), so two photos never name each other.
pub fn choose_duplicate(
    photo_id: &str,
    key: &str,
    hash: u64,
    candidates: &[Candidate],
    max_distance: u32,
) -> Option<Duplicate> {
    candidates
        .iter()
        .filter(|c| c.photo_id != photo_id && c.duplicate_of.as_deref() != Some(key))
        .map(|c| (imaging::hamming_distance(hash, c.phash), c.duplicate_of.is_some(), &c.key))
        .filter(|(distance, _, _)| *distance <= max_distance)
        .min()
        .map(|(distance, _, key)| Duplicate { key: key.clone(), distance })
}

#[cfg(test)]
mod tests;
