//! HEIC and HEIF (the iPhone's default since iOS 11) through `heic-decoder`: pure Rust,
//! MIT or Apache-2.0, `unsafe` forbidden, its planes bit-exact against HM (the HEVC
//! reference decoder). Chosen over libheif + libde265 because those are C/C++ under the
//! LGPL: linking them into the Lambda binary would oblige every deployer to be able to
//! relink it, and building them needs cmake and a C++ toolchain on every machine. It decodes
//! iPhone grid photos, Android and camera files within a level or two of libheif (measured
//! in `tests.rs` and docs/thumbnailer.md).
//!
//! The container's own transforms (`irot`, `imir`, `clap`) are applied by the decoder, so
//! the image arrives oriented; its EXIF orientation, which HEIF says to ignore, is not
//! applied again. Colour comes from the `colr` ICC profile, or failing one, a `colr` nclx
//! that names wide-gamut primaries (Display P3, BT.2020).
//!
//! HEVC decodes whole: there is no reduced-scale decode, so a 12-megapixel photo holds its
//! planes (4 bytes a sample) and its RGB at once; [`memory_need`] prices that from the header.

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};
use moxcms::ColorProfile;

use crate::header::{Limits, check_pixels};
use crate::rejection::Rejection;

/// What the container and the parameter sets say, before any pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeicHeader {
    /// As displayed: after the container's rotation, mirroring and clean aperture.
    pub width: u32,
    pub height: u32,
    /// 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format: u32,
    pub alpha: bool,
    /// The container turns the picture a quarter (the decoder makes a turned copy).
    pub turned: bool,
}

/// The ISOBMFF brands of HEVC-coded HEIF (ISO/IEC 23008-12): a file whose major brand is one
/// of these, or whose major brand is a generic HEIF one (`mif1`, `msf1`) with one of these
/// compatible, is HEIC. AVIF shares the container and is not one of them.
const HEVC_BRANDS: [&[u8; 4]; 6] = [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"];

/// Whether `bytes` start as a HEIC file: an `ftyp` box naming an HEVC brand.
pub fn is_heic(bytes: &[u8]) -> bool {
    if bytes.len() < 16 || &bytes[4..8] != b"ftyp" {
        return false;
    }
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let end = size.clamp(16, bytes.len());
    let brand = |at: usize| &bytes[at..at + 4];
    let major = brand(8);
    if HEVC_BRANDS.iter().any(|b| major == *b) {
        return true;
    }
    // After the major brand and the minor version, the compatible brands.
    (major == b"mif1" || major == b"msf1")
        && (16..end.saturating_sub(3)).step_by(4).any(|at| HEVC_BRANDS.iter().any(|b| brand(at) == *b))
}

fn rejected(err: &heic_decoder::HeifError) -> Rejection {
    Rejection::Corrupt(format!("HEIC: {err}"))
}

/// Reads the header, refusing a file over the pixel limit or one the decoder cannot open.
pub fn header(bytes: &[u8], limits: Limits) -> Result<HeicHeader, Rejection> {
    let info = heic_decoder::probe(bytes).map_err(|err| rejected(&err))?;
    let side =
        |value: usize| u32::try_from(value).map_err(|_| Rejection::Corrupt("HEIC: a side over 4 billion".into()));
    let (width, height) = (side(info.width)?, side(info.height)?);
    check_pixels(width, height, limits)?;
    Ok(HeicHeader {
        width,
        height,
        chroma_format: info.chroma_format_idc,
        alpha: info.alpha_bit_depth.is_some(),
        turned: (info.width, info.height) != (info.coded_width, info.coded_height),
    })
}

/// What decoding holds at its peak: the decoder's planes (an `i32` a sample: luma, chroma
/// by subsampling, alpha) twice (the coded picture and the assembled or cropped one; three
/// times when the container turns it), and the 8-bit RGB(A) made from them, with 3 bytes a
/// pixel of margin. Measured peaks of the decode (heic-decoder 0.1.1, the fixtures) are 12.5
/// bytes a pixel (an iPhone's 4:2:0), 14.6 (small files), 17.4 (a camera's 4:2:2) and 18.6
/// (turned); this prices them 18, 18, 22 and 24.
pub fn memory_need(header: &HeicHeader) -> u64 {
    let pixels = u64::from(header.width) * u64::from(header.height);
    // Chroma samples per luma sample, in quarters.
    let chroma_quarters: u64 = match header.chroma_format {
        0 => 0,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let samples_quarters = 4 + chroma_quarters + if header.alpha { 4 } else { 0 };
    let planes = pixels * 4 * samples_quarters / 4;
    let copies = if header.turned { 3 } else { 2 };
    let rgb = pixels * if header.alpha { 4 } else { 3 };
    planes * copies + rgb + 3 * pixels
}

/// The decoded photo: oriented, 8-bit RGB (RGBA with an alpha plane), its colour profile,
/// and the orientation its container applied, as the EXIF number that says the same.
pub struct DecodedHeic {
    pub image: DynamicImage,
    pub icc: Option<Vec<u8>>,
    pub orientation: Orientation,
}

pub fn decode(bytes: &[u8]) -> Result<DecodedHeic, Rejection> {
    let decoded = heic_decoder::decode(bytes).map_err(|err| rejected(&err))?;
    let (width, height) = (decoded.width as u32, decoded.height as u32);
    let malformed = || Rejection::Corrupt("HEIC: the decoded picture does not match its size".into());
    let image = if decoded.alpha.is_some() {
        let rgba = decoded.to_rgba8().map_err(|err| rejected(&err))?;
        DynamicImage::ImageRgba8(RgbaImage::from_raw(width, height, rgba.data).ok_or_else(malformed)?)
    } else {
        let rgb = decoded.to_rgb8().map_err(|err| rejected(&err))?;
        DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, rgb.data).ok_or_else(malformed)?)
    };
    let metadata = &decoded.metadata;
    let icc = metadata.icc_profile.clone().or_else(|| decoded.color_info.and_then(nclx_profile));
    Ok(DecodedHeic { image, icc, orientation: container_orientation(bytes) })
}

/// An ICC profile for an nclx colour description that is not sRGB: Display P3 (primaries 12)
/// or BT.2020 (9) with an SDR transfer. HDR transfers (PQ, HLG) would need tone mapping,
/// which this does not do: they are left as they are, like an unlabelled image.
fn nclx_profile(info: heic_decoder::ColorInfo) -> Option<Vec<u8>> {
    let sdr = matches!(info.transfer_characteristics, 1 | 2 | 6 | 13 | 14 | 15);
    let profile = match info.color_primaries {
        12 if sdr => ColorProfile::new_display_p3(),
        9 if sdr => ColorProfile::new_bt2020(),
        _ => return None,
    };
    profile.encode().ok()
}

/// The rotation (`irot`) and mirroring (`imir`) in the file's item properties, as the EXIF
/// orientation that shows the stored picture the same way: what the photo's record reports.
/// Taken in the order the properties are stored; a file with no such property is 1.
fn container_orientation(bytes: &[u8]) -> Orientation {
    let Some(properties) = find_box(bytes, &[b"meta", b"iprp", b"ipco"]) else { return Orientation::NoTransforms };
    let mut pattern = orientation_pattern();
    let mut any = false;
    for (kind, body) in boxes(properties) {
        match (kind, body.first()) {
            (b"irot", Some(angle)) => {
                // Anticlockwise quarter turns.
                pattern = match angle & 3 {
                    1 => pattern.rotate270(),
                    2 => pattern.rotate180(),
                    3 => pattern.rotate90(),
                    _ => pattern,
                };
                any = true;
            }
            (b"imir", Some(axis)) => {
                // Axis 0 is vertical: left and right swap.
                pattern = if axis & 1 == 0 { pattern.fliph() } else { pattern.flipv() };
                any = true;
            }
            _ => {}
        }
    }
    if !any {
        return Orientation::NoTransforms;
    }
    (1..=8)
        .filter_map(Orientation::from_exif)
        .find(|orientation| {
            let mut candidate = orientation_pattern();
            candidate.apply_orientation(*orientation);
            candidate == pattern
        })
        .unwrap_or(Orientation::NoTransforms)
}

/// A 3 x 2 picture whose every pixel differs, so each of the 8 orientations gives another.
fn orientation_pattern() -> DynamicImage {
    DynamicImage::ImageLuma8(image::GrayImage::from_fn(3, 2, |x, y| image::Luma([(y * 3 + x) as u8])))
}

/// The boxes in `data`, each as its type and body; stops at the first malformed one.
fn boxes(mut data: &[u8]) -> impl Iterator<Item = (&[u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
        let kind: &[u8; 4] = data.get(4..8)?.try_into().ok()?;
        let body = data.get(8..size.max(8))?;
        data = &data[size.max(8)..];
        Some((kind, body))
    })
}

/// The body of the box at `path`, each a child of the one before (`meta` is a full box:
/// its children start after 4 bytes of version and flags).
fn find_box<'a>(bytes: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let mut data = bytes;
    for kind in path {
        let (_, body) = boxes(data).find(|(found, _)| found == kind)?;
        data = if *kind == b"meta" { body.get(4..)? } else { body };
    }
    Some(data)
}

#[cfg(test)]
mod tests;
