//! A photo's placeholder for its record: a ThumbHash (a few dozen bytes that decode
//! to a blurred preview with the photo's aspect ratio, shown while the thumbnail loads) and
//! its dominant colour, both computed from a small thumbnail's pixels.

use std::borrow::Cow;
use std::f32::consts::PI;

use base64::Engine as _;
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, GenericImageView as _};

/// ThumbHash encodes at most 100 x 100 pixels (its encoder refuses more).
const THUMBHASH_MAX_SIDE: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The ThumbHash, base64 (standard alphabet, padded), as its decoders take it.
    pub thumbhash: String,
    /// The most common colour, as `#rrggbb`: the mean of the fullest bucket of a coarse
    /// histogram, so a red photo with a blue corner is red, not the purple an average gives.
    pub dominant_colour: String,
}

pub fn placeholder(image: &DynamicImage) -> Placeholder {
    let (width, height) = image.dimensions();
    let fitted = if width > THUMBHASH_MAX_SIDE || height > THUMBHASH_MAX_SIDE {
        let scale = f64::from(THUMBHASH_MAX_SIDE) / f64::from(width.max(height));
        let fit = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, THUMBHASH_MAX_SIDE);
        Cow::Owned(shrink(image, fit(width), fit(height)))
    } else {
        Cow::Borrowed(image)
    };
    let (w, h) = fitted.dimensions();
    let rgba = rgba_bytes(&fitted);
    Placeholder {
        thumbhash: base64::engine::general_purpose::STANDARD.encode(thumb_hash(w as usize, h as usize, &rgba)),
        dominant_colour: dominant_colour(&rgba),
    }
}

/// A bilinear (triangle) shrink with SIMD, alpha-aware: `image`'s own resize took as long
/// as the thumbnail's JPEG encoding.
fn shrink(image: &DynamicImage, width: u32, height: u32) -> DynamicImage {
    let mut shrunk = DynamicImage::new(width, height, image.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    match Resizer::new().resize(image, &mut shrunk, &options) {
        Ok(()) => shrunk,
        Err(_) => image.resize_exact(width, height, image::imageops::FilterType::Triangle),
    }
}

/// The pixels as RGBA bytes, by hand for RGB: `image`'s own conversion goes through
/// floating point, pixel by pixel.
fn rgba_bytes(image: &DynamicImage) -> Cow<'_, [u8]> {
    match image {
        DynamicImage::ImageRgba8(rgba) => Cow::Borrowed(rgba.as_raw()),
        DynamicImage::ImageRgb8(rgb) => {
            Cow::Owned(rgb.as_raw().chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect())
        }
        other => Cow::Owned(other.to_rgba8().into_raw()),
    }
}

/// How many of a ThumbHash channel's DCT coefficients are summed together.
const LANES: usize = 8;

/// ThumbHash's encoder: the `thumbhash` crate's `rgba_to_thumb_hash`, the same arithmetic
/// in the same order, so the same bytes, except that the DCT coefficients are summed
/// [`LANES`] at a time. Each sum is a chain of dependent additions over every pixel, and
/// one at a time the CPU waits on each: the crate's took about 7% of a thumbnail.
/// `rgba` holds `w` x `h` (each at most 100) pixels, not premultiplied.
fn thumb_hash(w: usize, h: usize, rgba: &[u8]) -> Vec<u8> {
    // The average colour.
    let (mut avg_r, mut avg_g, mut avg_b, mut avg_a) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for pixel in rgba.chunks_exact(4) {
        let alpha = f32::from(pixel[3]) / 255.0;
        avg_r += alpha / 255.0 * f32::from(pixel[0]);
        avg_g += alpha / 255.0 * f32::from(pixel[1]);
        avg_b += alpha / 255.0 * f32::from(pixel[2]);
        avg_a += alpha;
    }
    if avg_a > 0.0 {
        avg_r /= avg_a;
        avg_g /= avg_a;
        avg_b /= avg_a;
    }
    let has_alpha = avg_a < (w * h) as f32;
    let l_limit = if has_alpha { 5 } else { 7 }; // fewer luminance coefficients with alpha
    let lx = (((l_limit * w) as f32 / w.max(h) as f32).round() as usize).max(1);
    let ly = (((l_limit * h) as f32 / w.max(h) as f32).round() as usize).max(1);

    // RGBA to luminance, yellow-blue, red-green and alpha, composited on the average colour.
    let (mut l, mut p, mut q, mut a) =
        (Vec::with_capacity(w * h), Vec::with_capacity(w * h), Vec::with_capacity(w * h), Vec::with_capacity(w * h));
    for pixel in rgba.chunks_exact(4) {
        let alpha = f32::from(pixel[3]) / 255.0;
        let r = avg_r * (1.0 - alpha) + alpha / 255.0 * f32::from(pixel[0]);
        let g = avg_g * (1.0 - alpha) + alpha / 255.0 * f32::from(pixel[1]);
        let b = avg_b * (1.0 - alpha) + alpha / 255.0 * f32::from(pixel[2]);
        l.push((r + g + b) / 3.0);
        p.push((r + g) / 2.0 - b);
        q.push(r - g);
        a.push(alpha);
    }
    let (l_dc, l_ac, l_scale) = encode_channel(&l, w, h, lx.max(3), ly.max(3));
    let (p_dc, p_ac, p_scale) = encode_channel(&p, w, h, 3, 3);
    let (q_dc, q_ac, q_scale) = encode_channel(&q, w, h, 3, 3);
    let (a_dc, a_ac, a_scale) = if has_alpha { encode_channel(&a, w, h, 5, 5) } else { (1.0, Vec::new(), 1.0) };

    // The constants, then the varying factors, four bits each.
    let is_landscape = w > h;
    let header24 = (63.0 * l_dc).round() as u32
        | (((31.5 + 31.5 * p_dc).round() as u32) << 6)
        | (((31.5 + 31.5 * q_dc).round() as u32) << 12)
        | (((31.0 * l_scale).round() as u32) << 18)
        | if has_alpha { 1 << 23 } else { 0 };
    let header16 = (if is_landscape { ly } else { lx }) as u16
        | (((63.0 * p_scale).round() as u16) << 3)
        | (((63.0 * q_scale).round() as u16) << 9)
        | if is_landscape { 1 << 15 } else { 0 };
    let mut hash = vec![
        (header24 & 255) as u8,
        ((header24 >> 8) & 255) as u8,
        (header24 >> 16) as u8,
        (header16 & 255) as u8,
        (header16 >> 8) as u8,
    ];
    if has_alpha {
        hash.push((15.0 * a_dc).round() as u8 | (((15.0 * a_scale).round() as u8) << 4));
    }
    let factors = [l_ac, p_ac, q_ac, a_ac].concat();
    for pair in factors.chunks(2) {
        let nibble = |f: f32| (15.0 * f).round() as u8;
        hash.push(nibble(pair[0]) | pair.get(1).map_or(0, |&f| nibble(f) << 4));
    }
    hash
}

/// One channel's DCT: its DC term, its AC terms scaled to 0..1 (the crate's order: row by
/// row, the triangle `cx * ny < nx * (ny - cy)`), and their scale.
fn encode_channel(channel: &[f32], w: usize, h: usize, nx: usize, ny: usize) -> (f32, Vec<f32>, f32) {
    let coefficients: Vec<(usize, usize)> =
        (0..ny).flat_map(|cy| (0..).take_while(move |cx| cx * ny < nx * (ny - cy)).map(move |cx| (cx, cy))).collect();
    let mut terms = Vec::with_capacity(coefficients.len());
    for group in coefficients.chunks(LANES) {
        let mut fx = vec![[0.0f32; LANES]; w];
        let mut fy = vec![[0.0f32; LANES]; h];
        for (lane, &(cx, cy)) in group.iter().enumerate() {
            for (x, f) in fx.iter_mut().enumerate() {
                f[lane] = (PI / w as f32 * cx as f32 * (x as f32 + 0.5)).cos();
            }
            for (y, f) in fy.iter_mut().enumerate() {
                f[lane] = (PI / h as f32 * cy as f32 * (y as f32 + 0.5)).cos();
            }
        }
        let mut sums = [0.0f32; LANES];
        for (row, fy) in channel.chunks_exact(w).zip(&fy) {
            for (&value, fx) in row.iter().zip(&fx) {
                for lane in 0..LANES {
                    sums[lane] += value * fx[lane] * fy[lane];
                }
            }
        }
        terms.extend(sums.iter().take(group.len()).map(|sum| sum / (w * h) as f32));
    }
    let dc = terms[0];
    let mut ac = terms.split_off(1);
    let scale = ac.iter().fold(0.0f32, |scale, f| f.abs().max(scale));
    if scale > 0.0 {
        for f in &mut ac {
            *f = 0.5 + 0.5 / scale * *f;
        }
    }
    (dc, ac, scale)
}

/// 4 bits per channel (4,096 buckets), transparent pixels ignored; a fully transparent
/// image is white, as the JPEG thumbnails flatten it.
fn dominant_colour(rgba: &[u8]) -> String {
    let mut buckets = vec![(0u32, [0u64; 3]); 4096];
    for pixel in rgba.chunks_exact(4).filter(|p| p[3] >= 128) {
        let (r, g, b) = (pixel[0], pixel[1], pixel[2]);
        let bucket = &mut buckets[(usize::from(r >> 4) << 8) | (usize::from(g >> 4) << 4) | usize::from(b >> 4)];
        bucket.0 += 1;
        for (sum, value) in bucket.1.iter_mut().zip([r, g, b]) {
            *sum += u64::from(value);
        }
    }
    let (count, sums) = buckets.iter().max_by_key(|(count, _)| *count).copied().unwrap_or_default();
    if count == 0 {
        return "#ffffff".to_owned();
    }
    let mean = |sum: u64| sum / u64::from(count);
    format!("#{:02x}{:02x}{:02x}", mean(sums[0]), mean(sums[1]), mean(sums[2]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::damage::Damage;

    /// The same bytes as the `thumbhash` crate's encoder, on noise (the worst case for
    /// rounding: every coefficient matters), smooth gradients (the usual photo) and partial
    /// transparency, in every shape up to the 100 x 100 limit.
    #[test]
    fn the_thumbhash_is_the_crates_byte_for_byte() {
        let mut random = Damage::new(15);
        let sizes = [(1, 1), (2, 7), (100, 100), (100, 56), (37, 100), (100, 1), (64, 64), (99, 98)];
        for (case, &(w, h)) in sizes.iter().cycle().take(sizes.len() * 6).enumerate() {
            let mut byte = |bound: usize| u8::try_from(random.next(bound)).unwrap_or(0);
            let rgba: Vec<u8> = (0..w * h)
                .flat_map(|i| {
                    let (x, y) = (i % w, i / w);
                    let alpha = match case % 3 {
                        0 => 255,
                        1 => byte(256),
                        _ => [0, 255, 128][(x * 3 / w + y) % 3],
                    };
                    if case % 2 == 0 {
                        [byte(256), byte(256), byte(256), alpha]
                    } else {
                        let gradient = |scale: usize| u8::try_from((x * scale + y * 2) % 256).unwrap_or(0);
                        [gradient(2), gradient(1), 255 - gradient(3), alpha]
                    }
                })
                .collect();
            assert_eq!(thumb_hash(w, h, &rgba), thumbhash::rgba_to_thumb_hash(w, h, &rgba), "case {case}: {w} x {h}");
        }
    }

    #[test]
    fn an_rgb_image_has_the_placeholder_of_its_opaque_rgba_copy() {
        let rgb = image::RgbImage::from_fn(300, 200, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let rgba = DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb.clone()).to_rgba8());
        let (from_rgb, from_rgba) = (placeholder(&DynamicImage::ImageRgb8(rgb)), placeholder(&rgba));
        assert_eq!(from_rgb.dominant_colour, from_rgba.dominant_colour);
        assert_eq!(from_rgb.thumbhash, from_rgba.thumbhash);
    }
}
