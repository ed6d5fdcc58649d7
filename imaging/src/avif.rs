//! AVIF thumbnails: rav1e through `ravif`, pure Rust (built without its assembly, so
//! no nasm is needed and the Lambda build stays one `cargo lambda build`). AVIF costs
//! encode time, not decode time (`make bench-thumbnails` measures it per size; docs/performance.md
//! has the figures).

use image::DynamicImage;
use ravif::{Encoder, Img, RGB8, RGBA8};

use crate::rejection::Rejection;

/// rav1e's preset, 1 (slowest, smallest) to 10 (fastest). Without rav1e's assembly even
/// the fastest is an order of magnitude slower than a JPEG encode, and still gives files
/// about half a JPEG's size: for thumbnails time is what costs.
pub const SPEED: u8 = 10;

/// Encodes 8-bit RGB or RGBA (straight alpha) at `quality` (1 to 100, as for JPEG).
pub fn encode(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, Rejection> {
    let encoder = Encoder::new()
        .with_quality(f32::from(quality.clamp(1, 100)))
        .with_alpha_quality(f32::from(quality.clamp(1, 100)))
        .with_speed(SPEED)
        .with_num_threads(Some(1));
    let (width, height) = (image.width() as usize, image.height() as usize);
    let encoded = if image.color().has_alpha() {
        let pixels: Vec<RGBA8> = image.to_rgba8().pixels().map(|p| RGBA8::new(p[0], p[1], p[2], p[3])).collect();
        encoder.encode_rgba(Img::new(&pixels[..], width, height))
    } else {
        let pixels: Vec<RGB8> = image.to_rgb8().pixels().map(|p| RGB8::new(p[0], p[1], p[2])).collect();
        encoder.encode_rgb(Img::new(&pixels[..], width, height))
    };
    encoded.map(|encoded| encoded.avif_file).map_err(|err| Rejection::Corrupt(format!("AVIF encoding failed: {err}")))
}
