//! The pure core of the thumbnailer: reading the three kinds of trigger event, decoding
//! object keys, naming outputs, the photo's record and announcement, and the batch's
//! results. No I/O and no pixels: the image work is the `imaging` crate's.

mod batch;
pub mod duplicates;
mod event;
mod keys;
mod record;
mod sequencer;

pub use batch::{BatchItemFailure, Measured, ObjectResult, Outcome, Response};
pub use event::{Item, ObjectAction, ObjectEvent, Trigger, parse_payload};
pub use keys::{
    MAX_KEY_BYTES, checked_output_key, decode_s3_key, is_own_output, legacy_output_key, output_key,
    rejection_record_key, thumbnail_key_candidates, thumbnail_metadata,
};
pub use record::{
    Announcement, PhotoRecord, PhotoStatus, RecordOf, StoredRecord, ThumbnailEntry, WriteRule, announcement,
    key_prefix, owner_of, photo_id,
};
pub use sequencer::{SEQUENCER_WIDTH, Sequencer};

#[cfg(test)]
mod tests;
