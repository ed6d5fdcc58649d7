//! A photo's placeholder for its record (#11): a ThumbHash (a few dozen bytes that decode
//! to a blurred preview with the photo's aspect ratio, shown while the thumbnail loads) and
//! its dominant colour, both computed from a small thumbnail's pixels.

use base64::Engine as _;
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbaImage};

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

pub fn placeholder(image: &RgbaImage) -> Placeholder {
    let (width, height) = image.dimensions();
    let fitted = if width > THUMBHASH_MAX_SIDE || height > THUMBHASH_MAX_SIDE {
        let scale = f64::from(THUMBHASH_MAX_SIDE) / f64::from(width.max(height));
        let fit = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, THUMBHASH_MAX_SIDE);
        shrink(image, fit(width), fit(height))
    } else {
        image.clone()
    };
    let (w, h) = fitted.dimensions();
    let hash = thumbhash::rgba_to_thumb_hash(w as usize, h as usize, fitted.as_raw());
    Placeholder {
        thumbhash: base64::engine::general_purpose::STANDARD.encode(hash),
        dominant_colour: dominant_colour(&fitted),
    }
}

/// A bilinear (triangle) shrink with SIMD, alpha-aware: `image`'s own resize took as long
/// as the thumbnail's JPEG encoding.
fn shrink(image: &RgbaImage, width: u32, height: u32) -> RgbaImage {
    let source = DynamicImage::ImageRgba8(image.clone());
    let mut shrunk = DynamicImage::new_rgba8(width, height);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    match Resizer::new().resize(&source, &mut shrunk, &options) {
        Ok(()) => shrunk.into_rgba8(),
        Err(_) => image::imageops::resize(image, width, height, image::imageops::FilterType::Triangle),
    }
}

/// 4 bits per channel (4,096 buckets), transparent pixels ignored; a fully transparent
/// image is white, as the JPEG thumbnails flatten it.
fn dominant_colour(image: &RgbaImage) -> String {
    let mut buckets = vec![(0u32, [0u64; 3]); 4096];
    for pixel in image.pixels().filter(|p| p[3] >= 128) {
        let [r, g, b, _] = pixel.0;
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
