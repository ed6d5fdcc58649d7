//! PNG without holding the full-size image: rows are decoded one at a time, 16-bit
//! samples cut to 8 bits and palettes expanded per row (the `png` crate's `STRIP_16` and
//! `EXPAND`), and every `factor` x `factor` block of pixels averaged into one as the rows
//! arrive. A flat 10000 x 10000 16-bit RGBA PNG (under 1 MB on disk, 800 MB decoded
//! whole) becomes a 526 x 526 image through one row buffer and one accumulator row.
//!
//! The factor leaves at least twice the biggest thumbnail, so the Lanczos3 resize that
//! follows still does the visible filtering (libvips' shrink-on-load leaves the same
//! margin). Colour is averaged weighted by alpha, so transparent pixels do not bleed.
//! Interlaced files (Adam7 delivers rows out of order) are decoded whole instead.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};

use crate::rejection::Rejection;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PngHeader {
    pub width: u32,
    pub height: u32,
    /// Samples per pixel once palettes and grey are expanded as the `image` crate does
    /// (grey 1, grey + alpha 2, RGB 3, RGBA 4; a palette counts as 4, for a possible tRNS).
    pub channels: u64,
    pub sixteen_bit: bool,
    pub interlaced: bool,
}

/// Reads IHDR, the first chunk, without decoding anything.
pub fn header(bytes: &[u8]) -> Result<PngHeader, Rejection> {
    let ihdr = bytes.get(8..33).filter(|h| &h[4..8] == b"IHDR").ok_or_else(|| corrupt("the PNG has no IHDR header"))?;
    let width = u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]);
    let height = u32::from_be_bytes([ihdr[12], ihdr[13], ihdr[14], ihdr[15]]);
    let (depth, colour, interlace) = (ihdr[16], ihdr[17], ihdr[24]);
    let channels = match colour {
        0 => 1,
        2 => 3,
        3 | 6 => 4,
        4 => 2,
        _ => return Err(corrupt("the PNG's colour type is invalid")),
    };
    if width == 0 || height == 0 {
        return Err(corrupt("the PNG's size is invalid"));
    }
    Ok(PngHeader { width, height, channels, sixteen_bit: depth == 16, interlaced: interlace == 1 })
}

/// The averaging factor for an image of `width` x `height` whose biggest thumbnail is
/// `need_w` x `need_h`: the largest that still leaves twice that size; 1 means none.
pub fn factor(width: u32, height: u32, need_w: u32, need_h: u32) -> u32 {
    let by_width = width / need_w.max(1);
    let by_height = height / need_h.max(1);
    (by_width.min(by_height) / 2).max(1)
}

/// Decodes row by row, averaging `factor` x `factor` blocks. RGBA when the file has
/// alpha (or a tRNS chunk), RGB otherwise; 8 bits per sample. Also the EXIF orientation.
pub fn decode_reduced(bytes: &[u8], factor: u32) -> Result<(DynamicImage, Orientation), Rejection> {
    let failed = |err: png::DecodingError| corrupt(&format!("the PNG is corrupt or truncated: {err}"));
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(failed)?;
    let (width, height) = (reader.info().width, reader.info().height);
    let orientation = reader
        .info()
        .exif_metadata
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let channels = reader.output_color_type().0.samples();
    let alpha = matches!(channels, 2 | 4);
    let f = factor.max(1) as usize;
    let (out_w, out_h) = ((width as usize).div_ceil(f), (height as usize).div_ceil(f));
    let out_channels = if alpha { 4 } else { 3 };
    let mut out = vec![0u8; out_w * out_h * out_channels];
    // Per output pixel: alpha-weighted colour sums, alpha sum, pixel count.
    let mut sums = vec![0u64; out_w * 5];
    let mut rows_in_band = 0;
    let mut out_row = 0;
    let mut flush = |sums: &mut [u64], out_row: usize| {
        for x in 0..out_w {
            let cell = &mut sums[x * 5..x * 5 + 5];
            let pixel = &mut out[(out_row * out_w + x) * out_channels..][..out_channels];
            let (alpha_sum, count) = (cell[3], cell[4].max(1));
            for c in 0..3 {
                // Colour weighted by alpha, divided by the alpha it carried: straight alpha out.
                pixel[c] = if alpha {
                    (cell[c] + alpha_sum / 2).checked_div(alpha_sum).unwrap_or(0)
                } else {
                    (cell[c] + count / 2) / count
                } as u8;
            }
            if alpha {
                pixel[3] = ((alpha_sum + count / 2) / count) as u8;
            }
            cell.fill(0);
        }
    };
    while let Some(row) = reader.next_row().map_err(failed)? {
        let data = row.data();
        for (x, pixel) in data.chunks_exact(channels).take(width as usize).enumerate() {
            let (rgb, a) = match channels {
                1 => ([pixel[0]; 3], 255),
                2 => ([pixel[0]; 3], pixel[1]),
                3 => ([pixel[0], pixel[1], pixel[2]], 255),
                _ => ([pixel[0], pixel[1], pixel[2]], pixel[3]),
            };
            let cell = &mut sums[(x / f) * 5..(x / f) * 5 + 5];
            let weight = if alpha { u64::from(a) } else { 1 };
            for c in 0..3 {
                cell[c] += u64::from(rgb[c]) * weight;
            }
            cell[3] += u64::from(a);
            cell[4] += 1;
        }
        rows_in_band += 1;
        if rows_in_band == f {
            if out_row < out_h {
                flush(&mut sums, out_row);
            }
            out_row += 1;
            rows_in_band = 0;
        }
    }
    if rows_in_band > 0 && out_row < out_h {
        flush(&mut sums, out_row);
        out_row += 1;
    }
    if out_row < out_h {
        return Err(corrupt("the PNG is corrupt or truncated: it has fewer rows than its header says"));
    }
    let (w, h) = (out_w as u32, out_h as u32);
    let image = if alpha {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(w, h, out).ok_or_else(|| corrupt("the PNG's size is invalid"))?)
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, out).ok_or_else(|| corrupt("the PNG's size is invalid"))?)
    };
    Ok((image, orientation))
}

fn corrupt(reason: &str) -> Rejection {
    Rejection::Corrupt(reason.to_owned())
}
