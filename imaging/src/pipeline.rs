//! The image pipeline: read the header, refuse what is over the limits before any
//! pixel is decoded, decode no larger than the biggest thumbnail needs, apply the EXIF
//! orientation, resize into each box, flatten transparency onto white for JPEG, encode
//! without metadata.
//!
//! Decoding is where the time goes, so each format decodes as small as it can:
//! - JPEG through libjpeg-turbo's scaled IDCT (mozjpeg's build of it) at N/8 of the
//!   size, N the smallest that still covers the biggest box; a progressive file that
//!   only needs 1/8 is decoded without the scans 1/8 does not read (see `jpeg.rs`);
//! - WebP through libwebp, which resizes rows while decoding;
//! - PNG row by row, averaging blocks of pixels as the rows arrive (see `png.rs`), so a
//!   large PNG never exists at full size; interlaced PNG and GIF at full size;
//! - HEIC whole, by the pure-Rust HEVC decoder, which applies the container's rotation
//!   (see `heic.rs`).
//!
//! Before any of that, the [`Header`] is read once, and what the decode will hold at its
//! peak is priced from it for every format (`peak.rs`); an image over the allowance is
//! refused there.
//!
//! Resizing is a Lanczos3 convolution with SIMD (`fast_image_resize`), on
//! premultiplied alpha so that transparent pixels do not bleed colour.
//!
//! Every decoder's output is 8-bit RGB or RGBA.

use std::borrow::Cow;
use std::io::Cursor;

use fast_image_resize::{FilterType, MulDiv, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, RgbImage, RgbaImage};

use crate::colour;
use crate::crop::{Fit, Region, crop_region};
use crate::eighth_scale;
use crate::exif::{ExifFacts, exif_facts};
use crate::header::{
    Header, Kind, Limits, check_pixels, jpeg_scale_for, oriented, png_factor, reader, stored_size_for,
};
use crate::heic;
use crate::jpeg::{JpegStructure, Slices};
use crate::kind::ImageKind;
use crate::panics::caught;
use crate::phash::perceptual_hash;
use crate::placeholder::{Placeholder, placeholder};
use crate::png;
use crate::rejection::Rejection;
use crate::sizes::{BoxSize, fit_inside};
use crate::webp;

/// The output format; `Same` keeps the input's where it can (GIF becomes PNG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg {
        quality: u8,
    },
    /// Lossy WebP, with alpha.
    Webp {
        quality: u8,
    },
    /// AVIF (AV1), with alpha.
    Avif {
        quality: u8,
    },
    Png,
    Same {
        quality: u8,
    },
}

/// One encoded thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub size: BoxSize,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
    pub kind: ImageKind,
    /// The part of the photo a `cover` thumbnail shows, in the photo's own (oriented)
    /// pixels; `None` for `contain`, which shows all of it.
    pub crop: Option<CropArea>,
}

/// A rectangle of the photo, in its own pixels once oriented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropArea {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

/// What one image gives: its thumbnails, and what its record says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    pub thumbnails: Vec<Thumbnail>,
    pub facts: PhotoFacts,
    /// Computed from the smallest thumbnail's pixels, before encoding.
    pub placeholder: Placeholder,
    /// The perceptual hash of the whole photo as oriented (uncropped), which near-duplicates
    /// share within a few bits ([`hamming_distance`](crate::hamming_distance)).
    pub phash: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PhotoFacts {
    /// `jpeg`, `png`, `webp`, `gif` or `heic`.
    pub format: &'static str,
    /// Once oriented, as people see it.
    pub width: u32,
    pub height: u32,
    /// The EXIF orientation, 1 to 8 (1 when there is none); for a HEIC, the number that
    /// says what its container's `irot` and `imir` do.
    pub orientation: u8,
    /// The embedded ICC profile's description (`Display P3`), when there is one.
    pub colour_profile: Option<String>,
    pub exif: ExifFacts,
}

/// An image decoded at `width` x `height` or larger, and the size it really has once
/// oriented, which is what the thumbnails' sizes are computed from.
struct Decoded {
    format: ImageKind,
    image: DynamicImage,
    orientation: Orientation,
    /// The embedded ICC profile (a CMYK JPEG's is already applied).
    icc: Option<Vec<u8>>,
    oriented_width: u32,
    oriented_height: u32,
}

/// Every thumbnail of one image, one per box, each fitted whole inside its box (`contain`),
/// and its facts. A panic anywhere in the
/// pipeline (a decoder's bug that this file reaches) is caught and becomes a rejection:
/// the same bytes would panic again on every retry.
pub fn make_thumbnails(
    bytes: &[u8],
    sizes: &[BoxSize],
    output: OutputFormat,
    limits: Limits,
) -> Result<Photo, Rejection> {
    let header = Header::read(bytes, limits)?;
    make_thumbnails_from(bytes, &header, sizes, output, Fit::Contain, limits)
}

/// [`make_thumbnails`] from the header of `bytes`, read before (to reserve the memory it
/// needs) and not read again, each thumbnail filling its box as `fit` says.
pub fn make_thumbnails_from(
    bytes: &[u8],
    header: &Header,
    sizes: &[BoxSize],
    output: OutputFormat,
    fit: Fit,
    limits: Limits,
) -> Result<Photo, Rejection> {
    thumbnails_with(bytes, header, sizes, output, fit, limits, JpegDecoder::Fastest)
}

/// [`make_thumbnails_from`] with a choice of JPEG decoder (the benchmark's libjpeg-only
/// runs, through `test_support`). A panic anywhere in it becomes a rejection.
pub(crate) fn thumbnails_with(
    bytes: &[u8],
    header: &Header,
    sizes: &[BoxSize],
    output: OutputFormat,
    fit: Fit,
    limits: Limits,
    decoder: JpegDecoder,
) -> Result<Photo, Rejection> {
    caught(|| -> Result<Photo, Rejection> {
        let decoding = tracing::info_span!("decode", bytes = bytes.len()).entered();
        let decode_sizes = header.decode_boxes(sizes, fit);
        let Decoded { format, image: mut source, orientation, icc, oriented_width, oriented_height } =
            decode(bytes, header, &decode_sizes, limits, decoder)?;
        // Colours to sRGB before anything mixes them (a CMYK JPEG's were converted while decoding).
        if let Some(icc) = &icc {
            colour::rgb_to_srgb(&mut source, icc);
        }
        drop(decoding);
        let phash = tracing::info_span!("phash").in_scope(|| perceptual_hash(&source));
        // Where each `cover` box crops, chosen on the decoded image before it is premultiplied.
        let regions: Vec<Option<Region>> = match fit {
            Fit::Contain => vec![None; sizes.len()],
            Fit::Cover(crop) => tracing::info_span!("crop", crop = %crop).in_scope(|| {
                sizes.iter().map(|size| Some(crop_region(&source, size.width, size.height, crop))).collect()
            }),
        };
        // From the decoded image's pixels to the photo's own.
        let to_photo = (
            f64::from(oriented_width) / f64::from(source.width().max(1)),
            f64::from(oriented_height) / f64::from(source.height().max(1)),
        );
        // Resizing must average premultiplied colours, or transparent pixels bleed into the
        // edges. Done once, in place: a premultiplied copy of a 5120 x 2880 PNG is 56 MiB.
        let premultiplied = source.color().has_alpha();
        let resize_failed = |err: &dyn std::fmt::Display| Rejection::Corrupt(format!("resizing failed: {err}"));
        if premultiplied {
            MulDiv::default().multiply_alpha_inplace(&mut source).map_err(|err| resize_failed(&err))?;
        }
        let output = resolve(output, format);
        let mut resizer = Resizer::new();
        let mut smallest: Option<Placeholder> = None;
        let thumbnails = sizes
            .iter()
            .zip(&regions)
            .map(|(size, region)| {
                let crop = region.map(|region| crop_area(region.scaled(to_photo.0, to_photo.1)));
                let (w, h) = match crop {
                    // Never larger than the photo's own pixels in that region.
                    Some(area) => fit_inside(area.width, area.height, *size),
                    None => fit_inside(oriented_width, oriented_height, *size),
                };
                let resizing = tracing::info_span!("resize", size = %size).entered();
                let mut resized = resize(&mut resizer, &source, *region, w, h)?;
                if premultiplied {
                    MulDiv::default().divide_alpha_inplace(&mut resized).map_err(|err| resize_failed(&err))?;
                }
                if smallest.is_none() {
                    smallest = Some(placeholder(&resized)); // sizes come sorted, smallest first
                }
                drop(resizing);
                let encoded =
                    tracing::info_span!("encode", size = %size).in_scope(|| encode(&resized, *size, output))?;
                Ok(Thumbnail { crop, ..encoded })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let facts = PhotoFacts {
            format: format.name(),
            width: oriented_width,
            height: oriented_height,
            orientation: orientation.to_exif(),
            colour_profile: icc.as_deref().and_then(colour::profile_name),
            exif: exif_facts(bytes),
        };
        let placeholder = smallest.unwrap_or_else(|| placeholder(&DynamicImage::new_rgba8(1, 1)));
        Ok(Photo { thumbnails, facts, placeholder, phash })
    })
    .unwrap_or_else(|panic| Err(Rejection::DecoderPanic(panic)))
}

/// `Same` made concrete for an input format (GIF becomes PNG; HEIC, which browsers other
/// than Safari cannot show, becomes JPEG).
fn resolve(output: OutputFormat, input: ImageKind) -> OutputFormat {
    match output {
        OutputFormat::Same { quality } => match input {
            ImageKind::Jpeg | ImageKind::Heic => OutputFormat::Jpeg { quality },
            ImageKind::Webp => OutputFormat::Webp { quality },
            ImageKind::Png | ImageKind::Gif | ImageKind::Avif => OutputFormat::Png,
        },
        other => other,
    }
}

/// The kind of the thumbnails `bytes` will get (known before decoding, so a redelivered
/// record can find the thumbnails it already has).
pub fn output_kind(output: OutputFormat, bytes: &[u8]) -> ImageKind {
    let input = ImageKind::of_input(bytes).unwrap_or(ImageKind::Png);
    resolve(output, input).kind()
}

impl OutputFormat {
    /// The kind this format writes (`Same` is resolved for an input first; unresolved, it
    /// is JPEG, what it writes for an input it cannot keep).
    pub fn kind(self) -> ImageKind {
        match self {
            Self::Jpeg { .. } | Self::Same { .. } => ImageKind::Jpeg,
            Self::Png => ImageKind::Png,
            Self::Webp { .. } => ImageKind::Webp,
            Self::Avif { .. } => ImageKind::Avif,
        }
    }

    /// Every kind thumbnails in this format may have: `Same` writes JPEG, PNG or WebP, by
    /// the input (JPEG for a HEIC).
    pub fn possible_kinds(self) -> &'static [ImageKind] {
        match self {
            Self::Jpeg { .. } => &[ImageKind::Jpeg],
            Self::Png => &[ImageKind::Png],
            Self::Webp { .. } => &[ImageKind::Webp],
            Self::Avif { .. } => &[ImageKind::Avif],
            Self::Same { .. } => &[ImageKind::Jpeg, ImageKind::Png, ImageKind::Webp],
        }
    }
}

/// The image the thumbnails of `sizes` start from, decoded as the pipeline decodes it (the
/// benchmark's crop-alone timing, through `test_support`).
#[cfg(feature = "test-support")]
pub(crate) fn decoded_image(
    bytes: &[u8],
    header: &Header,
    sizes: &[BoxSize],
    limits: Limits,
) -> Result<DynamicImage, Rejection> {
    decode(bytes, header, sizes, limits, JpegDecoder::Fastest).map(|decoded| decoded.image)
}

fn decode(
    bytes: &[u8],
    header: &Header,
    sizes: &[BoxSize],
    limits: Limits,
    decoder: JpegDecoder,
) -> Result<Decoded, Rejection> {
    let needed = header.memory_need(sizes);
    if needed > limits.max_alloc_bytes {
        let (width, height) = header.dimensions();
        return Err(Rejection::TooMuchMemory { width, height, needed, limit: limits.max_alloc_bytes });
    }
    let format = header.format();
    match &header.kind {
        Kind::Jpeg(structure) => decode_jpeg(bytes, structure, sizes, decoder),
        Kind::Webp(features) => {
            if features.animated {
                return decode_full_size(bytes, limits); // the first frame, through the `image` crate
            }
            // libwebp cannot apply an EXIF orientation: read it from the header, decode in
            // stored orientation at the size that becomes the biggest thumbnail once turned.
            let orientation = orientation_of(bytes, limits)?;
            let (w, h) = stored_size_for(features.width, features.height, orientation, sizes);
            let mut image = webp::decode(bytes, *features, w, h)?;
            image.apply_orientation(orientation);
            let (oriented_width, oriented_height) = oriented(features.width, features.height, orientation);
            Ok(Decoded { format, image, orientation, icc: icc_profile(bytes, format), oriented_width, oriented_height })
        }
        Kind::Png(png) => match png_factor(*png, sizes) {
            Some(factor) => {
                let (mut image, orientation) = png::decode_reduced(bytes, factor)?;
                image.apply_orientation(orientation);
                let (oriented_width, oriented_height) = oriented(png.width, png.height, orientation);
                let icc = icc_profile(bytes, format);
                Ok(Decoded { format, image, orientation, icc, oriented_width, oriented_height })
            }
            None => decode_full_size(bytes, limits),
        },
        Kind::Gif { .. } => decode_full_size(bytes, limits),
        Kind::Heic(heic) => {
            let heic::DecodedHeic { image, icc, orientation } = heic::decode(bytes)?;
            // Already oriented by the decoder: the orientation is only reported.
            let (oriented_width, oriented_height) = (heic.width, heic.height);
            Ok(Decoded { format, image, orientation, icc, oriented_width, oriented_height })
        }
    }
}

/// The embedded ICC profile of a PNG (iCCP) or WebP (ICCP), read by the `image` crate's
/// decoders from the headers. (A JPEG's comes from its structure.)
fn icc_profile(bytes: &[u8], format: ImageKind) -> Option<Vec<u8>> {
    match format {
        ImageKind::Png | ImageKind::Webp => {
            let mut decoder = ImageReader::new(Cursor::new(bytes)).with_guessed_format().ok()?.into_decoder().ok()?;
            decoder.icc_profile().ok()?
        }
        _ => None,
    }
}

fn orientation_of(bytes: &[u8], limits: Limits) -> Result<Orientation, Rejection> {
    let mut decoder = reader(bytes, limits)?.into_decoder().map_err(|err| Rejection::Corrupt(err.to_string()))?;
    decoder.orientation().map_err(|err| Rejection::Corrupt(err.to_string()))
}

/// PNG, GIF (its first frame) and animated WebP: decoded whole by the `image` crate,
/// within the allocation limit.
fn decode_full_size(bytes: &[u8], limits: Limits) -> Result<Decoded, Rejection> {
    let reader = reader(bytes, limits)?;
    let format = match reader.format() {
        Some(ImageFormat::Png) => ImageKind::Png,
        Some(ImageFormat::WebP) => ImageKind::Webp,
        Some(ImageFormat::Gif) => ImageKind::Gif,
        _ => return Err(Rejection::NotAnImage),
    };
    let mut decoder = reader.into_decoder().map_err(|err| Rejection::Corrupt(err.to_string()))?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, limits)?;
    let orientation = decoder.orientation().map_err(|err| Rejection::Corrupt(err.to_string()))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|err| Rejection::Corrupt(err.to_string()))?;
    image.apply_orientation(orientation);
    // 16-bit and grey images become 8-bit RGB(A): what every output format stores.
    let image = if image.color().has_alpha() {
        DynamicImage::ImageRgba8(image.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.into_rgb8())
    };
    let icc = icc_profile(bytes, format);
    Ok(Decoded { format, orientation, icc, oriented_width: image.width(), oriented_height: image.height(), image })
}

/// Which decoder makes a JPEG's image: the one each file takes (see [`decode_jpeg_at`]),
/// or libjpeg for every file, as before the 1/8-scale decoder existed (the benchmark's
/// comparison, through `test_support`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "test-support"), allow(dead_code))]
pub enum JpegDecoder {
    Fastest,
    LibjpegOnly,
}

/// Whether a JPEG at `scale`/8 goes to `eighth_scale` first: every sequential file; a
/// progressive one only where it measured faster than libjpeg (`make bench-thumbnails`,
/// docs/performance.md): from 2/8 to 6/8, where the large photos' refinement scans
/// dominate, its corrections are read without branches, and it keeps of each block only
/// what the transform reads (1.15 to 1.5x libjpeg's decode alone). At 1/8 libjpeg without
/// the luma AC scans is faster still; at 8/8 (whose transform reads every coefficient) it
/// measured level with libjpeg, with a buffer a little larger than libjpeg's; 7/8 it does
/// not have.
pub(crate) fn takes_own_decoder(progressive: bool, scale: u32) -> bool {
    !progressive || matches!(scale, 2..=6)
}

/// A JPEG decoded at `scale`/8:
/// - a sequential file at any scale, and a progressive one from 2/8 to 6/8, by
///   `eighth_scale`, which is exact and faster ([`takes_own_decoder`]), unless it falls
///   back (anything but a plain Huffman-coded grey or YCbCr file, an inverse DCT size it
///   does not have, a progression libjpeg would warn of or smooth, or damage);
/// - a progressive file at 1/8 by libjpeg without the scans 1/8 does not read;
/// - everything else, and every fallback, by libjpeg.
pub(crate) fn decode_jpeg_at(
    bytes: &[u8],
    scale: u32,
    structure: &JpegStructure,
    icc: Option<&[u8]>,
    decoder: JpegDecoder,
) -> Result<DynamicImage, Rejection> {
    if decoder == JpegDecoder::Fastest && takes_own_decoder(structure.progressive, scale) {
        // A bug in the new decoder must cost speed, not the photo: a panic falls back too.
        if let Ok(Ok(image)) = caught(|| eighth_scale::decode(bytes, structure, scale as usize)) {
            return Ok(image);
        }
    }
    let reduced = if scale == 1 { structure.stream_for_eighth_scale(bytes) } else { None };
    let stream = Slices::new(reduced.unwrap_or_else(|| vec![bytes]));
    run_libjpeg(stream, scale, structure, icc)
}

fn decode_jpeg(
    bytes: &[u8],
    structure: &JpegStructure,
    sizes: &[BoxSize],
    decoder: JpegDecoder,
) -> Result<Decoded, Rejection> {
    let (width, height, orientation) = (structure.width, structure.height, structure.orientation);
    let scale = jpeg_scale_for(structure, sizes);
    let icc = structure.icc_profile(bytes);
    let mut image = decode_jpeg_at(bytes, scale, structure, icc.as_deref(), decoder)?;
    image.apply_orientation(orientation);
    let (oriented_width, oriented_height) = oriented(width, height, orientation);
    Ok(Decoded { format: ImageKind::Jpeg, image, orientation, icc, oriented_width, oriented_height })
}

/// libjpeg reports fatal errors by unwinding out of its callbacks (the `mozjpeg`
/// crate's error manager); they are caught here and become a rejection. Recoverable
/// damage (a corrupt Huffman code) is decoded as well as it can be, as Pillow and
/// libvips do; truncation was refused earlier from the structure.
pub(crate) fn run_libjpeg(
    stream: Slices<'_>,
    scale: u32,
    structure: &JpegStructure,
    icc: Option<&[u8]>,
) -> Result<DynamicImage, Rejection> {
    let adobe = structure.adobe;
    let decoded = caught(|| -> std::io::Result<DynamicImage> {
        let mut decompress = mozjpeg::Decompress::builder().from_reader(stream)?;
        decompress.scale(u8::try_from(scale).unwrap_or(8));
        decompress.do_block_smoothing(false);
        let invalid = |_| std::io::Error::from(std::io::ErrorKind::InvalidData);
        Ok(match decompress.image()? {
            mozjpeg::decompress::Format::RGB(mut started) => {
                let (w, h) = (started.width(), started.height());
                let pixels: Vec<u8> = started.read_scanlines()?;
                started.finish()?;
                let (w, h) = (u32::try_from(w).map_err(invalid)?, u32::try_from(h).map_err(invalid)?);
                DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, pixels).ok_or(std::io::ErrorKind::InvalidData)?)
            }
            mozjpeg::decompress::Format::Gray(mut started) => {
                let (w, h) = (started.width(), started.height());
                let pixels: Vec<u8> = started.read_scanlines()?;
                started.finish()?;
                let (w, h) = (u32::try_from(w).map_err(invalid)?, u32::try_from(h).map_err(invalid)?);
                let grey = GrayImage::from_raw(w, h, pixels).ok_or(std::io::ErrorKind::InvalidData)?;
                DynamicImage::ImageRgb8(DynamicImage::ImageLuma8(grey).into_rgb8())
            }
            mozjpeg::decompress::Format::CMYK(mut started) => {
                let (w, h) = (started.width(), started.height());
                let cmyk: Vec<u8> = started.read_scanlines()?;
                started.finish()?;
                let (w, h) = (u32::try_from(w).map_err(invalid)?, u32::try_from(h).map_err(invalid)?);
                let rgb = colour::cmyk_to_srgb(&cmyk, adobe, icc).unwrap_or_else(|| cmyk_to_rgb(&cmyk, adobe));
                DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, rgb).ok_or(std::io::ErrorKind::InvalidData)?)
            }
        })
    });
    match decoded {
        Ok(Ok(image)) => Ok(image),
        Ok(Err(err)) => Err(Rejection::Corrupt(format!("libjpeg: {err}"))),
        Err(panic) => Err(Rejection::Corrupt(panic.trim_start_matches("libjpeg fatal error: ").to_owned())),
    }
}

/// CMYK (YCCK is converted to CMYK by libjpeg) to RGB, without a colour profile: the
/// naive conversion Pillow uses, and the fallback when no profile can be used. Files with an Adobe marker
/// (Photoshop's) store inverted ink values, 255 meaning no ink.
pub(crate) fn cmyk_to_rgb(cmyk: &[u8], inverted: bool) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for pixel in cmyk.chunks_exact(4) {
        let [c, m, y, k] = if inverted {
            [pixel[0], pixel[1], pixel[2], pixel[3]]
        } else {
            [255 - pixel[0], 255 - pixel[1], 255 - pixel[2], 255 - pixel[3]]
        };
        // With inverted values, channel = (255 - ink) x (255 - black) / 255 = c x k / 255.
        let channel = |v: u8| ((u16::from(v) * u16::from(k) + 127) / 255) as u8;
        rgb.extend_from_slice(&[channel(c), channel(m), channel(y)]);
    }
    rgb
}

/// A region of the photo, rounded to whole pixels (what the record reports).
fn crop_area(region: Region) -> CropArea {
    let whole = |value: f64| value.round().max(0.0) as u32;
    CropArea {
        left: whole(region.left),
        top: whole(region.top),
        width: whole(region.width).max(1),
        height: whole(region.height).max(1),
    }
}

/// Lanczos3 (alpha, if any, is already premultiplied) of the whole image or of `region`,
/// or the image itself when it is already the size.
fn resize(
    resizer: &mut Resizer,
    image: &DynamicImage,
    region: Option<Region>,
    width: u32,
    height: u32,
) -> Result<DynamicImage, Rejection> {
    if region.is_none() && (image.width(), image.height()) == (width, height) {
        return Ok(image.clone());
    }
    let mut resized = DynamicImage::new(width, height, image.color());
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)).use_alpha(false);
    if let Some(region) = region {
        options = options.crop(region.left, region.top, region.width, region.height);
    }
    resizer
        .resize(image, &mut resized, &options)
        .map_err(|err| Rejection::Corrupt(format!("resizing failed: {err}")))?;
    Ok(resized)
}

fn encode(image: &DynamicImage, size: BoxSize, output: OutputFormat) -> Result<Thumbnail, Rejection> {
    let mut bytes = Vec::new();
    let failed = |err: image::ImageError| Rejection::Corrupt(format!("encoding failed: {err}"));
    match output {
        OutputFormat::Jpeg { quality } | OutputFormat::Same { quality } => {
            let rgb = flatten_onto_white(image);
            // jpeg-encoder (AVX2 where the CPU has it): 1.7 times as fast as `image`'s own
            // encoder on thumbnails. Chroma at half resolution (4:2:0), as libjpeg, Pillow,
            // libvips and sharp write by default: 23% fewer bytes than 4:4:4 over the
            // benchmark's photos (whose chroma mostly came at half resolution already), and
            // half the chroma blocks to encode.
            let too_large = |_| {
                Rejection::Corrupt(format!("encoding failed: {} x {} is too large for JPEG", rgb.width(), rgb.height()))
            };
            let (width, height) =
                (u16::try_from(rgb.width()).map_err(too_large)?, u16::try_from(rgb.height()).map_err(too_large)?);
            let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, quality);
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            encoder
                .encode(rgb.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
                .map_err(|err| Rejection::Corrupt(format!("encoding failed: {err}")))?;
        }
        OutputFormat::Png => {
            let rgba: RgbaImage = image.to_rgba8();
            PngEncoder::new(&mut bytes)
                .write_image(rgba.as_raw(), rgba.width(), rgba.height(), image::ExtendedColorType::Rgba8)
                .map_err(failed)?;
        }
        OutputFormat::Webp { quality } => bytes = webp::encode_lossy(image, quality)?,
        OutputFormat::Avif { quality } => bytes = crate::avif::encode(image, quality)?,
    }
    Ok(Thumbnail { size, width: image.width(), height: image.height(), bytes, kind: output.kind(), crop: None })
}

/// JPEG has no transparency: composite onto white, so transparent areas do not turn black.
/// An RGB image is used as it is (`image`'s conversions go through floating point).
fn flatten_onto_white(image: &DynamicImage) -> Cow<'_, RgbImage> {
    let rgba = match image {
        DynamicImage::ImageRgb8(rgb) => return Cow::Borrowed(rgb),
        DynamicImage::ImageRgba8(rgba) => Cow::Borrowed(rgba),
        other if !other.color().has_alpha() => return Cow::Owned(other.to_rgb8()),
        other => Cow::Owned(other.to_rgba8()),
    };
    Cow::Owned(RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a)) + 127) / 255) as u8;
        image::Rgb([blend(r), blend(g), blend(b)])
    }))
}
