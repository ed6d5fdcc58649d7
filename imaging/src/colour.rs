//! Colour management: an image with an embedded ICC profile (Display P3 from phones,
//! Adobe RGB from cameras, a CMYK press profile) is converted to sRGB before it is resized,
//! so its thumbnail, which carries no profile, shows the colours the photo has. Through
//! `moxcms`, pure Rust. An image without a profile is taken as sRGB and left alone; so is
//! one whose profile cannot be read, as browsers do. A CMYK JPEG without a profile gets a
//! CMYK press profile (CGATS TR 001, the SWOP characterisation), as libvips gives one.

use image::DynamicImage;
use moxcms::{ColorProfile, DataColorSpace, Layout, ProfileText, TransformOptions};

/// Saucecontrol's compact CGATS TR 001 profile (CC0), its perceptual CMYK-to-PCS table only.
const DEFAULT_CMYK_PROFILE: &[u8] = include_bytes!("cgats001-compat-v2-micro.icc");

/// How far a profile's colorants may be from sRGB's and still be taken as sRGB (and skipped).
const SRGB_COLORANT_TOLERANCE: f64 = 0.002;

/// The profile's description, for the photo's record (`Display P3`), if it has one.
pub fn profile_name(icc: &[u8]) -> Option<String> {
    let profile = ColorProfile::new_from_slice(icc).ok()?;
    let text = match profile.description? {
        ProfileText::PlainString(text) => text,
        ProfileText::Localizable(strings) => strings.first()?.value.clone(),
        ProfileText::Description(description) => description.ascii_string,
    };
    let text: String = text.chars().filter(|c| !c.is_control()).take(64).collect();
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn is_srgb(profile: &ColorProfile) -> bool {
    let srgb = ColorProfile::new_srgb();
    let close = |a: moxcms::Xyzd, b: moxcms::Xyzd| {
        (a.x - b.x).abs() < SRGB_COLORANT_TOLERANCE
            && (a.y - b.y).abs() < SRGB_COLORANT_TOLERANCE
            && (a.z - b.z).abs() < SRGB_COLORANT_TOLERANCE
    };
    close(profile.red_colorant, srgb.red_colorant)
        && close(profile.green_colorant, srgb.green_colorant)
        && close(profile.blue_colorant, srgb.blue_colorant)
}

/// Converts an 8-bit RGB or RGBA image from its embedded RGB profile to sRGB, in place.
/// Returns whether it did: not for an sRGB profile, a profile of another colour space
/// (a CMYK JPEG's is applied while decoding), or one that cannot be read or used.
pub fn rgb_to_srgb(image: &mut DynamicImage, icc: &[u8]) -> bool {
    let Ok(profile) = ColorProfile::new_from_slice(icc) else { return false };
    if profile.color_space != DataColorSpace::Rgb || is_srgb(&profile) {
        return false;
    }
    let (layout, pixels) = match image {
        DynamicImage::ImageRgb8(rgb) => (Layout::Rgb, &mut **rgb),
        DynamicImage::ImageRgba8(rgba) => (Layout::Rgba, &mut **rgba),
        _ => return false,
    };
    let Ok(transform) =
        profile.create_transform_8bit(layout, &ColorProfile::new_srgb(), layout, TransformOptions::default())
    else {
        return false;
    };
    let source = pixels.to_vec();
    transform.transform(&source, pixels).is_ok()
}

/// CMYK samples (4 a pixel, `inverted` as Adobe's files store them: 255 = no ink) to sRGB
/// through `icc` when it is a usable CMYK profile, else through the default press profile;
/// `None` if neither can be used (the caller falls back to the naive formula).
pub fn cmyk_to_srgb(cmyk: &[u8], inverted: bool, icc: Option<&[u8]>) -> Option<Vec<u8>> {
    let embedded = icc.and_then(|icc| ColorProfile::new_from_slice(icc).ok());
    let profile = match embedded.filter(|p| p.color_space == DataColorSpace::Cmyk) {
        Some(profile) => profile,
        None => ColorProfile::new_from_slice(DEFAULT_CMYK_PROFILE).ok()?,
    };
    let transform = profile
        .create_transform_8bit(Layout::Rgba, &ColorProfile::new_srgb(), Layout::Rgb, TransformOptions::default())
        .ok()?;
    // ICC's CMYK is ink amounts, 0 = none.
    let source: Vec<u8> = if inverted { cmyk.iter().map(|v| 255 - v).collect() } else { cmyk.to_vec() };
    let mut rgb = vec![0u8; cmyk.len() / 4 * 3];
    transform.transform(&source, &mut rgb).ok()?;
    Some(rgb)
}
