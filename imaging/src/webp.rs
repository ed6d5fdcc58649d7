//! WebP through libwebp (statically linked, built from source by `libwebp-sys`):
//! decoding straight to the thumbnail's size, and lossy encoding.
//!
//! libwebp's scaled decode resizes each row as it is decoded, so a 4096 x 4096 photo
//! never exists at full size in memory (what libvips does too); the pure-Rust decoder
//! would decode all 16 megapixels first, 2.5 times slower. This is the crate's only
//! `unsafe` code: three libwebp calls, each on buffers sized here.
#![allow(unsafe_code)]

use image::{DynamicImage, RgbImage, RgbaImage};
use libwebp_sys as ffi;

use crate::rejection::Rejection;

/// The header: size, alpha, animation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebpFeatures {
    pub width: u32,
    pub height: u32,
    pub has_alpha: bool,
    pub animated: bool,
    /// A VP8L (lossless) bitstream, which libwebp decodes whole before scaling.
    pub lossless: bool,
}

fn status_reason(status: ffi::VP8StatusCode) -> String {
    use ffi::VP8StatusCode as S;
    match status {
        S::VP8_STATUS_NOT_ENOUGH_DATA => "the WebP is truncated".to_owned(),
        S::VP8_STATUS_BITSTREAM_ERROR => "the WebP's data is corrupt".to_owned(),
        S::VP8_STATUS_UNSUPPORTED_FEATURE => "the WebP uses a feature libwebp does not support".to_owned(),
        S::VP8_STATUS_OUT_OF_MEMORY => "decoding the WebP ran out of memory".to_owned(),
        other => format!("libwebp could not decode it ({other:?})"),
    }
}

pub fn features(bytes: &[u8]) -> Result<WebpFeatures, Rejection> {
    let mut features =
        ffi::WebPBitstreamFeatures { width: 0, height: 0, has_alpha: 0, has_animation: 0, format: 0, pad: [0; 5] };
    // SAFETY: libwebp reads at most `bytes.len()` bytes and writes only `features`.
    let status = unsafe { ffi::WebPGetFeatures(bytes.as_ptr(), bytes.len(), &raw mut features) };
    if status != ffi::VP8StatusCode::VP8_STATUS_OK {
        return Err(Rejection::Corrupt(status_reason(status)));
    }
    let side = |v: i32| {
        u32::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| Rejection::Corrupt("the WebP's size is invalid".to_owned()))
    };
    Ok(WebpFeatures {
        width: side(features.width)?,
        height: side(features.height)?,
        has_alpha: features.has_alpha != 0,
        animated: features.has_animation != 0,
        lossless: features.format == 2,
    })
}

/// Decodes a still WebP at `width` x `height` (its own size, or smaller: libwebp
/// downsamples while decoding). RGBA when the image has alpha, RGB otherwise.
pub fn decode(bytes: &[u8], found: WebpFeatures, width: u32, height: u32) -> Result<DynamicImage, Rejection> {
    let channels: usize = if found.has_alpha { 4 } else { 3 };
    let (w, h) = (width as usize, height as usize);
    let mut pixels = vec![0u8; w * h * channels];
    let mut config = ffi::WebPDecoderConfig::new()
        .map_err(|()| Rejection::Corrupt("libwebp could not be initialised".to_owned()))?;
    let too_big = |_| Rejection::Corrupt("the WebP is too large".to_owned());
    if (width, height) != (found.width, found.height) {
        config.options.use_scaling = 1;
        config.options.scaled_width = i32::try_from(width).map_err(too_big)?;
        config.options.scaled_height = i32::try_from(height).map_err(too_big)?;
    }
    config.output.colorspace =
        if found.has_alpha { ffi::WEBP_CSP_MODE::MODE_RGBA } else { ffi::WEBP_CSP_MODE::MODE_RGB };
    config.output.is_external_memory = 1;
    config.output.u.RGBA = ffi::WebPRGBABuffer {
        rgba: pixels.as_mut_ptr(),
        stride: i32::try_from(w * channels).map_err(too_big)?,
        size: pixels.len(),
    };
    // SAFETY: the output buffer is `pixels`, external memory of exactly stride x height
    // bytes, which libwebp checks against the (scaled) size before writing.
    let status = unsafe { ffi::WebPDecode(bytes.as_ptr(), bytes.len(), &raw mut config) };
    if status != ffi::VP8StatusCode::VP8_STATUS_OK {
        return Err(Rejection::Corrupt(status_reason(status)));
    }
    let wrong_size = || Rejection::Corrupt("libwebp returned an unexpected size".to_owned());
    Ok(if found.has_alpha {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(width, height, pixels).ok_or_else(wrong_size)?)
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, pixels).ok_or_else(wrong_size)?)
    })
}

/// Lossy WebP at `quality` (0 to 100), with alpha when the image has it.
pub fn encode_lossy(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, Rejection> {
    let (width, height) = (image.width(), image.height());
    let too_big = |_| Rejection::Corrupt("the thumbnail is too large for WebP".to_owned());
    let (w, h) = (i32::try_from(width).map_err(too_big)?, i32::try_from(height).map_err(too_big)?);
    let mut output: *mut u8 = std::ptr::null_mut();
    let quality = f32::from(quality.min(100));
    // SAFETY: the input is a contiguous, tightly packed 8-bit buffer of stride x height
    // bytes; libwebp allocates `output`, which is copied and freed below.
    let size = unsafe {
        if image.color().has_alpha() {
            let rgba = image.to_rgba8();
            ffi::WebPEncodeRGBA(rgba.as_ptr(), w, h, w * 4, quality, &raw mut output)
        } else {
            let rgb = image.to_rgb8();
            ffi::WebPEncodeRGB(rgb.as_ptr(), w, h, w * 3, quality, &raw mut output)
        }
    };
    if output.is_null() || size == 0 {
        return Err(Rejection::Corrupt("libwebp could not encode the thumbnail".to_owned()));
    }
    // SAFETY: libwebp returned `size` bytes at `output`; copied once, then freed with its allocator.
    let bytes = unsafe {
        let bytes = std::slice::from_raw_parts(output, size).to_vec();
        ffi::WebPFree(output.cast());
        bytes
    };
    Ok(bytes)
}
