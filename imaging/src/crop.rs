//! Fixed-aspect thumbnails: how a `cover` box is filled, and which part of the photo it
//! keeps.
//!
//! A `cover` thumbnail is exactly its box (a square avatar, a 16:9 card), so a photo of
//! another aspect loses a band on two sides. Which band is the [`Crop`]:
//! - `Centre` keeps the middle, as most image services do by default;
//! - `Attention` keeps what draws the eye, after libvips's `attention` strategy (as its
//!   documentation and sharp's describe it): edge energy of the lightness, plus a mask of
//!   skin tones, plus a mask of saturated colour, summed, pooled on a 32 x 32 grid,
//!   blurred at the size of the crop, and the crop centred on the maximum;
//! - `Entropy` trims, step by step, whichever opposite edge strip has the lower grey-level
//!   entropy (libvips's `entropy`), so the busiest part stays.
//!
//! Both look at a small copy of the decoded image (64 x 64 for attention, at most 256 on
//! the long side for entropy), never at the full photo: the pipeline has already decoded
//! it reduced, and the choice costs a fraction of a millisecond. The region is chosen in
//! the decoded image's pixels and handed to the resizer, which crops while it resamples.

use std::fmt;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::DynamicImage;

/// How a thumbnail fills its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// The whole photo inside the box, keeping its aspect: one side may be shorter.
    #[default]
    Contain,
    /// The box filled exactly, keeping the aspect, the rest cut off as `Crop` chooses.
    Cover(Crop),
}

/// Which part of a photo a `cover` thumbnail keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crop {
    Centre,
    Attention,
    Entropy,
}

impl Crop {
    pub fn name(self) -> &'static str {
        match self {
            Self::Centre => "centre",
            Self::Attention => "attention",
            Self::Entropy => "entropy",
        }
    }
}

impl fmt::Display for Crop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rectangle of an image, in its pixels (fractional: the resizer samples between them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Region {
    /// This region in an image `factor` times the size (from the decoded image to the
    /// photo's own pixels).
    pub(crate) fn scaled(self, factor_x: f64, factor_y: f64) -> Self {
        Self {
            left: self.left * factor_x,
            top: self.top * factor_y,
            width: self.width * factor_x,
            height: self.height * factor_y,
        }
    }
}

/// The largest `box_width` : `box_height` window of a `width` x `height` image, as
/// (window width, window height), never 0.
pub(crate) fn window(width: u32, height: u32, box_width: u32, box_height: u32) -> (f64, f64) {
    let (w, h, bw, bh) = (f64::from(width), f64::from(height), f64::from(box_width), f64::from(box_height));
    if w * bh >= h * bw { ((h * bw / bh).max(1.0), h) } else { (w, (w * bh / bw).max(1.0)) }
}

/// The region of `image` a `cover` thumbnail of a `box_width` x `box_height` box keeps.
pub(crate) fn crop_region(image: &DynamicImage, box_width: u32, box_height: u32, crop: Crop) -> Region {
    let (width, height) = (image.width(), image.height());
    let (window_w, window_h) = window(width, height, box_width, box_height);
    let (slack_x, slack_y) = (f64::from(width) - window_w, f64::from(height) - window_h);
    let (left, top) = if slack_x < 1.0 && slack_y < 1.0 {
        (slack_x / 2.0, slack_y / 2.0)
    } else {
        match crop {
            Crop::Centre => (slack_x / 2.0, slack_y / 2.0),
            Crop::Attention => {
                let (centre_x, centre_y) = attention_centre(image, window_w, window_h);
                ((centre_x - window_w / 2.0).clamp(0.0, slack_x), (centre_y - window_h / 2.0).clamp(0.0, slack_y))
            }
            Crop::Entropy => entropy_corner(image, window_w, window_h),
        }
    };
    Region { left, top, width: window_w, height: window_h }
}

/// `image` resampled to `width` x `height` (a box filter: an average of what each pixel
/// covers), as 8-bit RGB.
pub(crate) fn small_rgb(image: &DynamicImage, width: u32, height: u32) -> Vec<u8> {
    let rgb;
    let source: &DynamicImage = match image {
        DynamicImage::ImageRgb8(_) => image,
        other => {
            rgb = DynamicImage::ImageRgb8(other.to_rgb8());
            &rgb
        }
    };
    let mut small = Image::new(width, height, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Box));
    if Resizer::new().resize(source, &mut small, &options).is_err() {
        // Only a pixel-type mismatch fails, and both are RGB8; a flat image crops centred.
        return vec![0; width as usize * height as usize * 3];
    }
    small.into_vec()
}

/// The attention map's grid: the crop is placed to 1/32 of the image's side.
const GRID: usize = 32;
/// Pixels per grid cell side in the map the features are computed on.
const CELL: usize = 2;
const MAP: usize = GRID * CELL;

/// CIE L*a*b* (D65) of an sRGB pixel.
fn lab(linear: &[f32; 256], rgb: &[u8]) -> (f32, f32, f32) {
    let (r, g, b) = (linear[usize::from(rgb[0])], linear[usize::from(rgb[1])], linear[usize::from(rgb[2])]);
    let x = (0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b) / 0.950_47;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
    let z = (0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b) / 1.088_83;
    let f = |t: f32| if t > 0.008_856 { t.cbrt() } else { 7.787 * t + 16.0 / 116.0 };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    (116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz))
}

fn srgb_to_linear_table() -> [f32; 256] {
    std::array::from_fn(|i| {
        let c = i as f32 / 255.0;
        if c <= 0.040_45 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    })
}

/// Where the attention map peaks, in `image`'s pixels.
fn attention_centre(image: &DynamicImage, window_w: f64, window_h: f64) -> (f64, f64) {
    let score = attention_map(&small_rgb(image, MAP as u32, MAP as u32));
    // The blur spans about the crop's size in grid cells (libvips: the diagonal over 6).
    let (cell_w, cell_h) = (f64::from(image.width()) / GRID as f64, f64::from(image.height()) / GRID as f64);
    let sigma = ((window_w / cell_w).powi(2) + (window_h / cell_h).powi(2)).sqrt() / 6.0;
    let blurred = gaussian_blur(&score, GRID, sigma.max(0.5) as f32);
    let mut best = 0;
    for (index, value) in blurred.iter().enumerate() {
        if *value > blurred[best] {
            best = index;
        }
    }
    let (x, y) = (best % GRID, best / GRID);
    ((x as f64 + 0.5) * cell_w, (y as f64 + 0.5) * cell_h)
}

/// Interest per grid cell of a `MAP` x `MAP` RGB image: the mean, over the cell's pixels,
/// of the Sobel edge magnitude of L*, plus 255 for a skin tone, plus 255 for a saturated
/// colour (libvips's weights: its masks are 255 where true).
pub(crate) fn attention_map(rgb: &[u8]) -> Vec<f32> {
    let linear = srgb_to_linear_table();
    let mut lightness = vec![0f32; MAP * MAP];
    let mut masks = vec![0f32; MAP * MAP];
    for (index, pixel) in rgb.chunks_exact(3).enumerate().take(MAP * MAP) {
        let (l, a, b) = lab(&linear, pixel);
        lightness[index] = l;
        // Skin: a* and b* in the ranges libvips trained on photos of many skin tones, not dark.
        let skin = (3.0..=22.0).contains(&a) && (4.0..=31.0).contains(&b) && l >= 15.0;
        let saturated = a.hypot(b) > 60.0;
        masks[index] = if skin { 255.0 } else { 0.0 } + if saturated { 255.0 } else { 0.0 };
    }
    let at = |x: isize, y: isize| {
        let (x, y) = (x.clamp(0, MAP as isize - 1) as usize, y.clamp(0, MAP as isize - 1) as usize);
        lightness[y * MAP + x]
    };
    let mut cells = vec![0f32; GRID * GRID];
    for y in 0..MAP {
        for x in 0..MAP {
            let (xi, yi) = (x as isize, y as isize);
            let gx = at(xi + 1, yi - 1) + 2.0 * at(xi + 1, yi) + at(xi + 1, yi + 1)
                - at(xi - 1, yi - 1)
                - 2.0 * at(xi - 1, yi)
                - at(xi - 1, yi + 1);
            let gy = at(xi - 1, yi + 1) + 2.0 * at(xi, yi + 1) + at(xi + 1, yi + 1)
                - at(xi - 1, yi - 1)
                - 2.0 * at(xi, yi - 1)
                - at(xi + 1, yi - 1);
            cells[(y / CELL) * GRID + x / CELL] += gx.abs() + gy.abs() + masks[y * MAP + x];
        }
    }
    // Plus 1 everywhere: with outside the grid counting as 0 in the blur, a photo of equal
    // interest throughout (a flat sky, a wall) then peaks in the middle.
    let per_cell = (CELL * CELL) as f32;
    cells.iter_mut().for_each(|cell| *cell = *cell / per_cell + 1.0);
    cells
}

/// A separable Gaussian blur of a `side` x `side` grid; outside the grid counts as 0.
fn gaussian_blur(grid: &[f32], side: usize, sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius).map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp()).collect();
    let pass = |input: &[f32], horizontal: bool| {
        let mut output = vec![0f32; side * side];
        for y in 0..side {
            for x in 0..side {
                let mut sum = 0.0;
                for (k, weight) in kernel.iter().enumerate() {
                    let offset = k as isize - radius;
                    let (sx, sy) =
                        if horizontal { (x as isize + offset, y as isize) } else { (x as isize, y as isize + offset) };
                    if (0..side as isize).contains(&sx) && (0..side as isize).contains(&sy) {
                        sum += weight * input[sy as usize * side + sx as usize];
                    }
                }
                output[y * side + x] = sum;
            }
        }
        output
    };
    pass(&pass(grid, true), false)
}

/// Longest side of the grey copy the entropy crop measures.
const ENTROPY_SIDE: u32 = 256;

/// The top-left corner of the window the entropy crop keeps, in `image`'s pixels.
fn entropy_corner(image: &DynamicImage, window_w: f64, window_h: f64) -> (f64, f64) {
    let (width, height) = (image.width(), image.height());
    let scale = (f64::from(ENTROPY_SIDE) / f64::from(width.max(height))).min(1.0);
    let small_w = ((f64::from(width) * scale).round() as u32).max(1);
    let small_h = ((f64::from(height) * scale).round() as u32).max(1);
    let grey: Vec<u8> = small_rgb(image, small_w, small_h)
        .chunks_exact(3)
        .map(|p| ((u32::from(p[0]) * 77 + u32::from(p[1]) * 150 + u32::from(p[2]) * 29) >> 8) as u8)
        .collect();
    let (scale_x, scale_y) = (f64::from(small_w) / f64::from(width), f64::from(small_h) / f64::from(height));
    let target_w = ((window_w * scale_x).round() as usize).clamp(1, small_w as usize);
    let target_h = ((window_h * scale_y).round() as usize).clamp(1, small_h as usize);
    let (left, top) = entropy_trim(&grey, small_w as usize, small_h as usize, target_w, target_h);
    let slack = (f64::from(width) - window_w, f64::from(height) - window_h);
    ((left as f64 / scale_x).clamp(0.0, slack.0.max(0.0)), (top as f64 / scale_y).clamp(0.0, slack.1.max(0.0)))
}

/// libvips's entropy crop on a grey `width` x `height` image: until the window is
/// `target_w` x `target_h`, take a strip off each axis that is still too long, from
/// whichever end has the lower entropy, in about 8 steps. Returns the window's corner.
pub(crate) fn entropy_trim(
    grey: &[u8],
    width: usize,
    height: usize,
    target_w: usize,
    target_h: usize,
) -> (usize, usize) {
    let (mut left, mut top, mut w, mut h) = (0, 0, width, height);
    let step = (width - target_w.min(width)).div_ceil(8).max((height - target_h.min(height)).div_ceil(8)).max(1);
    while w > target_w || h > target_h {
        let strip = step.min(w.saturating_sub(target_w));
        if strip > 0 {
            let left_score = entropy(grey, width, left, top, strip, h);
            let right_score = entropy(grey, width, left + w - strip, top, strip, h);
            w -= strip;
            if left_score < right_score {
                left += strip;
            }
        }
        let strip = step.min(h.saturating_sub(target_h));
        if strip > 0 {
            let top_score = entropy(grey, width, left, top, w, strip);
            let bottom_score = entropy(grey, width, left, top + h - strip, w, strip);
            h -= strip;
            if top_score < bottom_score {
                top += strip;
            }
        }
    }
    (left, top)
}

/// The Shannon entropy, in bits, of the grey levels of a rectangle of `grey`.
fn entropy(grey: &[u8], stride: usize, left: usize, top: usize, width: usize, height: usize) -> f64 {
    let mut histogram = [0u32; 256];
    for row in grey.chunks_exact(stride).skip(top).take(height) {
        for &value in &row[left..left + width] {
            histogram[usize::from(value)] += 1;
        }
    }
    let total = (width * height) as f64;
    histogram
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = f64::from(count) / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests;
