//! A perceptual hash of a photo: 64 bits that stay nearly the same when the photo is resized,
//! recompressed, converted to another format or lightly cropped, and differ in about half
//! their bits between unrelated photos. Near-duplicates are photos whose hashes differ in
//! few bits (their Hamming distance).
//!
//! The classic DCT hash (pHash, as the `imagehash` Python library computes it): the oriented
//! image averaged down to 32 x 32 grey levels, its 2-D DCT-II, the 8 x 8 lowest frequencies,
//! one bit each for whether a coefficient is above their median. It is computed from the
//! image the pipeline has already decoded at reduced scale, so it costs a 32 x 32 resample
//! and 64 short sums, not a decode.

use std::f32::consts::PI;

use image::DynamicImage;

use crate::crop::small_rgb;

/// The side the image is averaged down to.
const SIDE: usize = 32;
/// The side of the block of low frequencies kept.
const LOW: usize = 8;

/// The 64-bit DCT hash of `image` (oriented, sRGB). Bit 63 is the lowest frequency (the
/// mean), then row by row.
pub fn perceptual_hash(image: &DynamicImage) -> u64 {
    let low = low_frequencies(&grey_32(image));
    let mut sorted = low;
    sorted.sort_by(f32::total_cmp);
    let median = (sorted[LOW * LOW / 2 - 1] + sorted[LOW * LOW / 2]) / 2.0;
    low.iter().fold(0u64, |hash, coefficient| (hash << 1) | u64::from(*coefficient > median))
}

/// The 8 x 8 lowest frequencies of the 2-D DCT-II of a 32 x 32 grid, row by row: the
/// separable transform, rows then columns, unscaled (scale does not move a median).
pub(crate) fn low_frequencies(grey: &[f32]) -> [f32; LOW * LOW] {
    // cos((2x + 1) u pi / 64) for the 8 frequencies kept, over the 32 positions.
    let cosines: Vec<f32> = (0..LOW)
        .flat_map(|u| (0..SIDE).map(move |x| ((2 * x + 1) as f32 * u as f32 * PI / (2 * SIDE) as f32).cos()))
        .collect();
    let mut rows = [[0f32; LOW]; SIDE];
    for (y, row) in rows.iter_mut().enumerate() {
        for (u, value) in row.iter_mut().enumerate() {
            *value = (0..SIDE).map(|x| grey[y * SIDE + x] * cosines[u * SIDE + x]).sum();
        }
    }
    let mut low = [0f32; LOW * LOW];
    for v in 0..LOW {
        for u in 0..LOW {
            low[v * LOW + u] = (0..SIDE).map(|y| rows[y][u] * cosines[v * SIDE + y]).sum();
        }
    }
    low
}

/// The hash's four 16-bit bands, high to low. Two hashes at most 3 bits apart share at
/// least one band whole (four bands cannot all hold one of 3 differing bits): an index on
/// the bands finds every such pair with one exact lookup per band, and further pairs by chance.
pub fn hash_bands(hash: u64) -> [u16; 4] {
    [(hash >> 48) as u16, (hash >> 32) as u16, (hash >> 16) as u16, hash as u16]
}

/// How many bits two hashes differ in: 0 for the same picture, about 32 for unrelated ones.
pub fn hamming_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// `image` averaged down to 32 x 32, as grey levels (Rec. 601 luma, as Pillow's `L`).
fn grey_32(image: &DynamicImage) -> Vec<f32> {
    small_rgb(image, SIDE as u32, SIDE as u32)
        .chunks_exact(3)
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect()
}

#[cfg(test)]
mod tests;
