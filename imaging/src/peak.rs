//! What a decode holds at its peak, priced from the header alone, for every format and
//! decoder: the one place that knows each decoder's buffers. The pipeline refuses an
//! image whose price is over `Limits::max_alloc_bytes` before decoding it, and the
//! thumbnailer reserves the price from its memory pool before starting the decode.

use image::metadata::Orientation;

use crate::crop::Fit;
use crate::header::{Header, Kind, Limits, jpeg_scale_for, png_factor, stored_size_for, transposes};
use crate::jpeg::JpegStructure;
use crate::pipeline::takes_own_decoder;
use crate::png::PngHeader;
use crate::rejection::Rejection;
use crate::sizes::BoxSize;

/// The memory an image's thumbnails will hold at their peak, in bytes (the input bytes
/// themselves not included); also refuses an image over the pixel or scan limits. A
/// shorthand for [`Header::read`] and [`Header::memory_need`].
pub fn memory_need(bytes: &[u8], sizes: &[BoxSize], limits: Limits) -> Result<u64, Rejection> {
    Ok(Header::read(bytes, limits)?.memory_need(sizes))
}

impl Header {
    /// The memory making `sizes` from this image will hold at its peak, in bytes (the input
    /// bytes not included).
    pub fn memory_need(&self, sizes: &[BoxSize]) -> u64 {
        peak_bytes(self, sizes)
    }

    /// [`Header::memory_need`] for thumbnails that fill their boxes as `fit` says (a
    /// `cover` box decodes larger than a `contain` one).
    pub fn memory_need_for(&self, sizes: &[BoxSize], fit: Fit) -> u64 {
        peak_bytes(self, &self.decode_boxes(sizes, fit))
    }
}

/// The decoder's own buffers (libjpeg's whole-image coefficient buffer whenever it
/// allocates one, libwebp's full-size buffer for lossless files, a GIF's logical screen,
/// an animated WebP's canvas), the decoded image, its conversion to 8-bit RGB(A), its
/// rotated copy, and the resized thumbnails.
fn peak_bytes(header: &Header, sizes: &[BoxSize]) -> u64 {
    let thumbnails: u64 = sizes.iter().map(|s| u64::from(s.width) * u64::from(s.height) * 4 * 3).sum();
    let pixels = |w: u32, h: u32| u64::from(w) * u64::from(h);
    let decoding = match &header.kind {
        Kind::Jpeg(structure) => jpeg(structure, jpeg_scale_for(structure, sizes), transposes(structure.orientation)),
        Kind::Webp(features) => {
            let full = pixels(features.width, features.height) * 4;
            if features.animated {
                2 * full // the canvas and the frame it composes
            } else {
                let (w, h) = stored_size_for(features.width, features.height, Orientation::NoTransforms, sizes);
                // A lossless bitstream is decoded whole (ARGB) before libwebp scales it.
                let lossless = if features.lossless { full } else { 0 };
                lossless + 2 * pixels(w, h) * 4
            }
        }
        Kind::Png(png) => match png_factor(*png, sizes) {
            Some(factor) => png_streaming(*png, factor),
            None => {
                let full = pixels(png.width, png.height);
                let decoded = full * png.channels * if png.sixteen_bit { 2 } else { 1 };
                let eight_bit = if png.sixteen_bit || png.channels < 3 { full * 4 } else { 0 };
                decoded + eight_bit + full * 4 // and the rotated copy an EXIF orientation may ask for
            }
        },
        // The logical screen, which every frame is composed onto, and the frame.
        Kind::Gif { width, height } => 2 * pixels(*width, *height) * 4,
        Kind::Heic(heic) => crate::heic::memory_need(heic),
    };
    decoding + thumbnails
}

/// A JPEG decoded at `scale_num`/8, with margin:
/// - libjpeg's whole-image coefficient buffer (2 bytes per coefficient, 64 per block,
///   every component), when it keeps one ([`JpegStructure::buffers_coefficients`]); the
///   `eighth_scale` decoder's, for the progressive files it takes (2/8 to 6/8), is less in
///   all: a mask of 8 bytes a block and the coefficients its transform reads (60 bytes a
///   block at 2/8 and 5/8, 28 at 3/8, 82 at 6/8, 108 at 4/8), and 138 for the one kind of
///   block that reads all 64 (a subsampled chroma block given twice the luma's side), of
///   which a file has at most half as many as luma blocks of 108 bytes or less;
/// - the scaled output (3 bytes a pixel; grey and CMYK are converted to RGB in a second
///   buffer) and its rotated copy when the orientation turns it;
/// - a few rows of MCUs;
/// - for a file the `eighth_scale` decoder takes ([`takes_own_decoder`]), its component
///   planes (each at most the output's size, padded to blocks; a sequential file in one
///   scan needs only a row of MCUs of them, but is priced as one in several).
fn jpeg(structure: &JpegStructure, scale_num: u32, rotated: bool) -> u64 {
    let sampling = &structure.sampling;
    let (max_h, max_v) = sampling.iter().fold((1, 1), |(h, v), &(ch, cv)| (h.max(ch), v.max(cv)));
    let (w, h) = (u64::from(structure.width), u64::from(structure.height));
    let mcu_w = 8 * u64::from(max_h);
    let mcu_h = 8 * u64::from(max_v);
    let (mcus_x, mcus_y) = (w.div_ceil(mcu_w), h.div_ceil(mcu_h));
    let blocks_per_mcu: u64 = sampling.iter().map(|&(ch, cv)| u64::from(ch) * u64::from(cv)).sum();
    let coefficients = if structure.buffers_coefficients() { mcus_x * mcus_y * blocks_per_mcu * 64 * 2 } else { 0 };
    let (out_w, out_h) = (w * u64::from(scale_num) / 8 + 1, h * u64::from(scale_num) / 8 + 1);
    let bytes_per_pixel = match sampling.len() {
        1 => 1 + 3,
        4 => 4 + 3,
        _ => 3,
    } + if rotated { 3 } else { 0 };
    let output = out_w * out_h * bytes_per_pixel;
    let rows = mcus_x * mcu_w * mcu_h * sampling.len() as u64 * 2;
    // The `eighth_scale` decoder's component samples before upsampling.
    let eighth_scale = if takes_own_decoder(structure.progressive, scale_num) {
        sampling.len() as u64 * (out_w + 8) * (out_h + 8)
    } else {
        0
    };
    coefficients + output + rows + eighth_scale
}

/// A PNG averaged row by row with `factor` (`png::decode_reduced`): one row of source
/// samples, one accumulator row (u64 per sample), the reduced image and its oriented copy.
fn png_streaming(header: PngHeader, factor: u32) -> u64 {
    let (w, h, f) = (u64::from(header.width), u64::from(header.height), u64::from(factor));
    let (out_w, out_h) = (w.div_ceil(f), h.div_ceil(f));
    w * header.channels * 2 + out_w * 4 * 8 + 2 * out_w * out_h * 4
}

#[cfg(test)]
mod tests;
