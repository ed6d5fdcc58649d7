//! The pure core of the thumbnailer: reading the three kinds of trigger event,
//! decoding object keys, naming outputs, fitting sizes, and the image pipeline
//! (probe, decode, orient, resize, flatten, encode). No I/O; CPU work only.

mod avif;
mod batch;
mod colour;
#[cfg(test)]
mod damage;
mod eighth_scale;
pub use eighth_scale::decode as eighth_scale_decode;
mod event;
mod exif;
mod jpeg;
pub use jpeg::with_segment as jpeg_with_segment;
mod keys;
mod kind;
mod pipeline;
mod placeholder;
mod png;
mod record;
mod rejection;
mod sequencer;
mod sizes;
mod webp;

pub use batch::{BatchItemFailure, Measured, ObjectResult, Outcome, Response};
pub use event::{Item, ObjectAction, ObjectEvent, Trigger, parse_payload};
pub use exif::{ExifFacts, Location, exif_facts};
pub use keys::{
    MAX_KEY_BYTES, checked_output_key, decode_s3_key, is_own_output, legacy_output_key, output_key,
    rejection_record_key, thumbnail_key_candidates, thumbnail_metadata,
};
pub use kind::ImageKind;
pub use pipeline::{
    JpegDecoder, Limits, MAX_JPEG_SCANS, OutputFormat, PANIC_HOOK_INPUT, Photo, PhotoFacts, Thumbnail,
    jpeg_eighth_scale, make_thumbnails, make_thumbnails_with, memory_need, output_kind, probe,
};
pub use placeholder::{Placeholder, placeholder};
pub use record::{
    Announcement, PhotoRecord, PhotoStatus, RecordOf, StoredRecord, ThumbnailEntry, WriteRule, announcement,
    key_prefix, owner_of, photo_id,
};
pub use rejection::{Rejection, RejectionClass};
pub use sequencer::{SEQUENCER_WIDTH, Sequencer};
pub use sizes::{BoxSize, fit_inside, parse_sizes};

#[cfg(test)]
mod tests;
