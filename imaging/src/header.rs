//! What a file's header says, read once, and what follows from it before any pixel is
//! decoded: the format, the stored size and orientation, the limits it is over, and the
//! size each format is decoded at (libjpeg's N/8, PNG's averaging factor, libwebp's size).

use std::io::Cursor;

use image::metadata::Orientation;
use image::{ImageFormat, ImageReader};

use crate::crop::Fit;
use crate::heic::{self, HeicHeader};
use crate::jpeg::{JpegStructure, read_structure};
use crate::kind::ImageKind;
use crate::panics::{caught, panic_on_test_input};
use crate::png::{self, PngHeader};
use crate::rejection::Rejection;
use crate::sizes::{BoxSize, fit_inside};
use crate::webp::{self, WebpFeatures};

/// Limits checked before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_pixels: u64,
    /// The most memory one decode may allocate.
    pub max_alloc_bytes: u64,
}

/// The most scans a JPEG may have. Encoders write up to about a dozen; libjpeg-turbo's
/// own tools suggest a limit, as each scan is a pass over the whole image.
pub const MAX_JPEG_SCANS: usize = 100;

/// What the header says, before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

pub(crate) fn reader(bytes: &[u8], limits: Limits) -> Result<ImageReader<Cursor<&[u8]>>, Rejection> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| Rejection::NotAnImage)?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif) => {}
        _ => return Err(Rejection::NotAnImage),
    }
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(image_limits);
    Ok(reader)
}

/// Reads only the header: the format and the stored dimensions.
pub fn probe(bytes: &[u8], limits: Limits) -> Result<Probe, Rejection> {
    let reader = reader(bytes, limits)?;
    let format = reader.format().ok_or(Rejection::NotAnImage)?;
    let (width, height) = reader.into_dimensions().map_err(|err| Rejection::Corrupt(err.to_string()))?;
    check_pixels(width, height, limits)?;
    Ok(Probe { format, width, height })
}

pub(crate) fn check_pixels(width: u32, height: u32, limits: Limits) -> Result<(), Rejection> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(Rejection::TooManyPixels { width, height, limit: limits.max_pixels });
    }
    Ok(())
}

/// What a file's header says, read once: its format, its stored size, and what pricing
/// and decoding it need (a JPEG's whole marker structure). Holds no pixels and borrows
/// nothing, so it can travel with the bytes to the thread that decodes them.
#[derive(Debug, Clone)]
pub struct Header {
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Jpeg(JpegStructure),
    Webp(WebpFeatures),
    Png(PngHeader),
    Gif { width: u32, height: u32 },
    Heic(HeicHeader),
}

impl Header {
    /// Reads the header of `bytes`, refusing an image over the pixel or scan limits or
    /// one that is not a JPEG, PNG, WebP, GIF or HEIC. A panic in a header parser is a rejection.
    pub fn read(bytes: &[u8], limits: Limits) -> Result<Self, Rejection> {
        caught(|| read_header(bytes, limits)).unwrap_or_else(|panic| Err(Rejection::DecoderPanic(panic)))
    }

    pub fn format(&self) -> ImageKind {
        match self.kind {
            Kind::Jpeg(_) => ImageKind::Jpeg,
            Kind::Webp(_) => ImageKind::Webp,
            Kind::Png(_) => ImageKind::Png,
            Kind::Gif { .. } => ImageKind::Gif,
            Kind::Heic(_) => ImageKind::Heic,
        }
    }

    /// Width and height as stored, before any EXIF orientation (a HEIC's as displayed: its
    /// container's rotation is known from the header).
    pub fn dimensions(&self) -> (u32, u32) {
        match &self.kind {
            Kind::Jpeg(structure) => (structure.width, structure.height),
            Kind::Webp(features) => (features.width, features.height),
            Kind::Png(png) => (png.width, png.height),
            Kind::Gif { width, height } => (*width, *height),
            Kind::Heic(heic) => (heic.width, heic.height),
        }
    }
}

impl Header {
    /// The boxes to decode for: `sizes` themselves for `contain`; for `cover`, the size at
    /// which the photo covers each box (its shorter side binding), so the crop still has
    /// a pixel for every thumbnail pixel. Only a JPEG's and a HEIC's orientation is known
    /// from the header; for the other formats, both ways round.
    pub(crate) fn decode_boxes(&self, sizes: &[BoxSize], fit: Fit) -> Vec<BoxSize> {
        if fit == Fit::Contain {
            return sizes.to_vec();
        }
        let (width, height) = self.dimensions();
        let turns: &[bool] = match &self.kind {
            Kind::Jpeg(structure) => &[transposes(structure.orientation)],
            Kind::Heic(_) => &[false],
            _ => &[false, true],
        };
        let mut boxes = Vec::with_capacity(sizes.len() * turns.len());
        for &turned in turns {
            let (w, h) = if turned { (height, width) } else { (width, height) };
            boxes.extend(sizes.iter().map(|size| covering(w, h, *size)));
        }
        boxes
    }
}

/// The size of a `width` x `height` image scaled to cover `size` (never larger than it is).
fn covering(width: u32, height: u32, size: BoxSize) -> BoxSize {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let scale = (f64::from(size.width) / w).max(f64::from(size.height) / h).min(1.0);
    BoxSize {
        width: ((w * scale).ceil() as u32).clamp(1, width.max(1)),
        height: ((h * scale).ceil() as u32).clamp(1, height.max(1)),
    }
}

fn read_header(bytes: &[u8], limits: Limits) -> Result<Header, Rejection> {
    panic_on_test_input(bytes);
    if heic::is_heic(bytes) {
        return Ok(Header { kind: Kind::Heic(heic::header(bytes, limits)?) });
    }
    let format = image::guess_format(bytes).map_err(|_| Rejection::NotAnImage)?;
    let kind = match format {
        ImageFormat::Jpeg => {
            let structure = read_structure(bytes)?;
            check_jpeg(&structure, limits)?;
            Kind::Jpeg(structure)
        }
        ImageFormat::WebP => {
            let features = webp::features(bytes)?;
            check_pixels(features.width, features.height, limits)?;
            Kind::Webp(features)
        }
        ImageFormat::Png => {
            let header = png::header(bytes)?;
            check_pixels(header.width, header.height, limits)?;
            Kind::Png(header)
        }
        ImageFormat::Gif => {
            let probe = probe(bytes, limits)?; // the logical screen, which every frame is composed onto
            Kind::Gif { width: probe.width, height: probe.height }
        }
        _ => return Err(Rejection::NotAnImage),
    };
    Ok(Header { kind })
}

fn check_jpeg(structure: &JpegStructure, limits: Limits) -> Result<(), Rejection> {
    check_pixels(structure.width, structure.height, limits)?;
    if structure.scan_count() > MAX_JPEG_SCANS {
        return Err(Rejection::TooManyScans { scans: structure.scan_count(), limit: MAX_JPEG_SCANS });
    }
    Ok(())
}

/// The block-averaging factor for a non-interlaced PNG, when averaging pays (2 or more).
pub(crate) fn png_factor(header: PngHeader, sizes: &[BoxSize]) -> Option<u32> {
    if header.interlaced {
        return None;
    }
    let (need_w, need_h) = stored_size_for(header.width, header.height, Orientation::NoTransforms, sizes);
    // Rotation swaps the sides a box binds; the smaller factor of the two covers both.
    let (turned_w, turned_h) = stored_size_for(header.width, header.height, Orientation::Rotate90, sizes);
    let factor = png::factor(header.width, header.height, need_w.max(turned_w), need_h.max(turned_h));
    (factor >= 2).then_some(factor)
}

pub(crate) fn transposes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

pub(crate) fn oriented(width: u32, height: u32, orientation: Orientation) -> (u32, u32) {
    if transposes(orientation) { (height, width) } else { (width, height) }
}

/// The smallest decoded size, in the stored orientation, that still covers every box
/// once oriented.
pub(crate) fn stored_size_for(width: u32, height: u32, orientation: Orientation, sizes: &[BoxSize]) -> (u32, u32) {
    let (ow, oh) = oriented(width, height, orientation);
    let (need_w, need_h) =
        sizes.iter().map(|size| fit_inside(ow, oh, *size)).fold((1, 1), |(w, h), (fw, fh)| (w.max(fw), h.max(fh)));
    if transposes(orientation) { (need_h, need_w) } else { (need_w, need_h) }
}

/// The N of the N/8 scale a JPEG is decoded at for `sizes`.
pub(crate) fn jpeg_scale_for(structure: &JpegStructure, sizes: &[BoxSize]) -> u32 {
    let (need_w, need_h) = stored_size_for(structure.width, structure.height, structure.orientation, sizes);
    jpeg_scale(structure.width, structure.height, need_w, need_h)
}

/// The numerator N of libjpeg's N/8 scaling: the smallest that still decodes at least
/// `need_w` x `need_h` (libjpeg rounds scaled sizes up).
pub(crate) fn jpeg_scale(width: u32, height: u32, need_w: u32, need_h: u32) -> u32 {
    (1..=8).find(|n| (width * n).div_ceil(8) >= need_w && (height * n).div_ceil(8) >= need_h).unwrap_or(8)
}
