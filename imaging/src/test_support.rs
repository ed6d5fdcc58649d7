//! Seams for tests and the benchmark, compiled only with the `test-support` feature (the
//! thumbnailer's `test-hooks`, which tests/ turns on): never in the packaged function.

use image::DynamicImage;

use crate::crop::{Crop, Fit, crop_region};
use crate::header::{Header, Limits};
pub use crate::jpeg::with_segment as jpeg_with_segment;
pub use crate::panics::PANIC_INPUT;
pub use crate::phash::perceptual_hash;
pub use crate::pipeline::JpegDecoder;
use crate::pipeline::{OutputFormat, Photo, decode_jpeg_at, thumbnails_with};
use crate::rejection::Rejection;
use crate::sizes::BoxSize;

/// [`make_thumbnails_from`](crate::make_thumbnails_from) with a choice of JPEG decoder.
pub fn make_thumbnails_with(
    bytes: &[u8],
    sizes: &[BoxSize],
    output: OutputFormat,
    fit: Fit,
    limits: Limits,
    decoder: JpegDecoder,
) -> Result<Photo, Rejection> {
    let header = Header::read(bytes, limits)?;
    thumbnails_with(bytes, &header, sizes, output, fit, limits, decoder)
}

/// The image a `fit` thumbnail of `sizes` starts from, decoded as the pipeline decodes it:
/// what the benchmark times the crop alone on.
pub fn decoded_for(bytes: &[u8], sizes: &[BoxSize], fit: Fit, limits: Limits) -> Result<DynamicImage, Rejection> {
    let header = Header::read(bytes, limits)?;
    crate::pipeline::decoded_image(bytes, &header, &header.decode_boxes(sizes, fit), limits)
}

/// Where `crop` places a `size` box on `image` (left, top, width, height): the crop's own work.
pub fn crop_window(image: &DynamicImage, size: BoxSize, crop: Crop) -> [f64; 4] {
    let region = crop_region(image, size.width, size.height, crop);
    [region.left, region.top, region.width, region.height]
}

/// A JPEG's 1/8-scale image by `decoder`, as the thumbnails would start from it: the
/// benchmark's decode-only rates.
pub fn jpeg_eighth_scale(bytes: &[u8], decoder: JpegDecoder) -> Result<DynamicImage, Rejection> {
    jpeg_at_scale(bytes, 1, decoder)
}

/// A JPEG's `scale`/8 image by `decoder`, as the thumbnails would start from it.
pub fn jpeg_at_scale(bytes: &[u8], scale: u32, decoder: JpegDecoder) -> Result<DynamicImage, Rejection> {
    let structure = crate::jpeg::read_structure(bytes)?;
    let icc = structure.icc_profile(bytes);
    decode_jpeg_at(bytes, scale, &structure, icc.as_deref(), decoder)
}

/// Whether the pipeline's `eighth_scale` decoder takes `bytes` at `scale`/8 (1 to 8), or
/// why it leaves the file to libjpeg: the benchmark's count of which files take which decoder.
pub fn eighth_scale_takes(bytes: &[u8], scale: usize) -> Result<(), String> {
    let structure = crate::jpeg::read_structure(bytes).map_err(|err| err.to_string())?;
    if !crate::pipeline::takes_own_decoder(structure.progressive, scale as u32) {
        return Err(format!("a progressive file at {scale}/8 goes to libjpeg"));
    }
    crate::eighth_scale::decode(bytes, &structure, scale).map(drop).map_err(|fallback| fallback.to_string())
}
