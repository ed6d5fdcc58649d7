//! Bytes in, thumbnails and a photo's facts out. One call, [`make_thumbnails`], reads the
//! header, refuses what is over the [`Limits`] before any pixel is decoded, decodes no
//! larger than the biggest box needs, orients, converts colours to sRGB, resizes into
//! each [`BoxSize`] and encodes in the [`OutputFormat`]; [`memory_need`] and [`probe`]
//! answer from the header alone. A file that cannot be made into thumbnails is a
//! [`Rejection`] that says why, never a panic.
//!
//! This crate knows no AWS, no events, no records and no async runtime: the thumbnailer
//! (functions/thumbnailer) decides what to do with a photo, this crate only makes it.
//!
//! - `header`: what a file's header says, read once, and the decode size that follows;
//! - `pipeline`: the steps above, and which decoder each format takes;
//! - `peak`: what each decoder holds at its peak, priced from the header;
//! - `jpeg`: the one reader of a JPEG's markers, used by both JPEG decoders:
//!   `eighth_scale` (baseline files at N/8) and libjpeg-turbo (everything else);
//! - `crop`: how a `cover` thumbnail fills its box, and which part of the photo it keeps
//!   (centre, attention, entropy); `phash` (the perceptual hash near-duplicates are found by);
//! - `png`, `webp`, `avif`, `heic`: the other codecs; `colour` (ICC to sRGB), `exif` (capture
//!   facts), `placeholder` (ThumbHash and dominant colour), `sizes`, `kind`;
//! - `rejection`: what a file gets instead of thumbnails; `panics`: the one place a
//!   decoder's panic is caught;
//! - `allocator`: glibc's mmap and trim thresholds, so the next image reuses the heap's buffers.

pub mod allocator;
mod avif;
mod colour;
#[cfg(test)]
mod corpus;
mod crop;
#[cfg(test)]
mod damage;
mod eighth_scale;
mod exif;
mod header;
mod heic;
mod jpeg;
mod kind;
mod panics;
mod peak;
mod phash;
mod pipeline;
mod placeholder;
mod png;
mod rejection;
mod sizes;
#[cfg(feature = "test-support")]
pub mod test_support;
mod webp;

pub use crop::{Crop, Fit};
pub use exif::{ExifFacts, Location};
pub use header::{Header, Limits, MAX_JPEG_SCANS, Probe, probe};
pub use kind::ImageKind;
pub use peak::memory_need;
pub use phash::{hamming_distance, hash_bands};
pub use pipeline::{
    CropArea, OutputFormat, Photo, PhotoFacts, Thumbnail, make_thumbnails, make_thumbnails_from, output_kind,
};
pub use placeholder::Placeholder;
pub use rejection::{Rejection, RejectionClass};
pub use sizes::{BoxSize, fit_inside, parse_sizes};

#[cfg(test)]
mod tests;
