//! The pure core of the thumbnailer: reading the three kinds of trigger event,
//! decoding object keys, naming outputs, fitting sizes, and the image pipeline
//! (probe, decode, orient, resize, flatten, encode). No I/O; CPU work only.

mod event;
mod jpeg;
mod keys;
mod pipeline;
mod sizes;
mod webp;

pub use event::{Item, ObjectAction, ObjectEvent, Trigger, parse_payload};
pub use keys::{decode_s3_key, is_own_output, output_key};
pub use pipeline::{Limits, OutputFormat, Rejection, Thumbnail, make_thumbnails, probe};
pub use sizes::{BoxSize, fit_inside, parse_sizes};

#[cfg(test)]
mod tests;
