//! The image pipeline: probe the header, refuse what is over the limits before any
//! pixel is decoded, decode (GIF: the first frame), apply the EXIF orientation, fit
//! into each box, flatten transparency onto white for JPEG, encode without metadata.
//!
//! This first version decodes JPEG at full size (the `image` crate's path has no
//! scaled decode); shrink-on-load is the next step for speed.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, RgbImage, RgbaImage};

use super::sizes::{BoxSize, fit_inside};

/// The output format; `Same` keeps the input's where it can (GIF becomes PNG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg { quality: u8 },
    Webp,
    Png,
    Same { jpeg_quality: u8 },
}

/// Limits checked before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_pixels: u64,
    /// The most memory one decode may allocate.
    pub max_alloc_bytes: u64,
}

/// Why an input can never become a thumbnail: retrying cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("not an image (or a format other than JPEG, PNG, WebP and GIF)")]
    NotAnImage,
    #[error("the image is {width} x {height} = {} pixels, over the limit of {limit} (MAX_INPUT_PIXELS)", u64::from(*width) * u64::from(*height))]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("the object is {size} bytes, over the limit of {limit} (MAX_INPUT_BYTES)")]
    TooManyBytes { size: u64, limit: u64 },
    #[error("the image is corrupt or truncated: {0}")]
    Corrupt(String),
}

/// What the header says, before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// One encoded thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub size: BoxSize,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub extension: &'static str,
}

fn reader(bytes: &[u8], limits: Limits) -> Result<ImageReader<Cursor<&[u8]>>, Rejection> {
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

fn check_pixels(width: u32, height: u32, limits: Limits) -> Result<(), Rejection> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(Rejection::TooManyPixels { width, height, limit: limits.max_pixels });
    }
    Ok(())
}

/// Every thumbnail of one image, one per box.
pub fn make_thumbnails(
    bytes: &[u8],
    sizes: &[BoxSize],
    output: OutputFormat,
    limits: Limits,
) -> Result<Vec<Thumbnail>, Rejection> {
    let reader = reader(bytes, limits)?;
    let format = reader.format().ok_or(Rejection::NotAnImage)?;
    let mut decoder = reader.into_decoder().map_err(|err| Rejection::Corrupt(err.to_string()))?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, limits)?;
    let orientation = decoder.orientation().map_err(|err| Rejection::Corrupt(err.to_string()))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|err| Rejection::Corrupt(err.to_string()))?;
    image.apply_orientation(orientation);

    let output = match output {
        OutputFormat::Same { jpeg_quality } => match format {
            ImageFormat::Jpeg => OutputFormat::Jpeg { quality: jpeg_quality },
            ImageFormat::WebP => OutputFormat::Webp,
            _ => OutputFormat::Png,
        },
        other => other,
    };
    sizes
        .iter()
        .map(|size| {
            let (w, h) = fit_inside(image.width(), image.height(), *size);
            let resized =
                if (w, h) == (image.width(), image.height()) { image.clone() } else { image.thumbnail_exact(w, h) };
            encode(&resized, *size, output)
        })
        .collect()
}

fn encode(image: &DynamicImage, size: BoxSize, output: OutputFormat) -> Result<Thumbnail, Rejection> {
    let mut bytes = Vec::new();
    let failed = |err: image::ImageError| Rejection::Corrupt(format!("encoding failed: {err}"));
    let (content_type, extension) = match output {
        OutputFormat::Jpeg { quality } | OutputFormat::Same { jpeg_quality: quality } => {
            let rgb = flatten_onto_white(image);
            JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(&rgb).map_err(failed)?;
            ("image/jpeg", "jpg")
        }
        OutputFormat::Png => {
            let rgba: RgbaImage = image.to_rgba8();
            PngEncoder::new(&mut bytes)
                .write_image(rgba.as_raw(), rgba.width(), rgba.height(), image::ExtendedColorType::Rgba8)
                .map_err(failed)?;
            ("image/png", "png")
        }
        OutputFormat::Webp => {
            let rgba: RgbaImage = image.to_rgba8();
            WebPEncoder::new_lossless(&mut bytes)
                .write_image(rgba.as_raw(), rgba.width(), rgba.height(), image::ExtendedColorType::Rgba8)
                .map_err(failed)?;
            ("image/webp", "webp")
        }
    };
    Ok(Thumbnail { size, width: image.width(), height: image.height(), bytes, content_type, extension })
}

/// JPEG has no transparency: composite onto white, so transparent areas do not turn black.
fn flatten_onto_white(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a)) + 127) / 255) as u8;
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}
