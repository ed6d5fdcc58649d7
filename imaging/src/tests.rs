use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::{Delay, DynamicImage, Frame, ImageBuffer, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use serde_json::Value;

use super::*;
use crate::exif::exif_facts;
use crate::header::jpeg_scale;
use crate::jpeg::with_segment as jpeg_with_segment;
use crate::panics::PANIC_INPUT;
use crate::pipeline::{cmyk_to_rgb, run_libjpeg};
use crate::placeholder::placeholder;

const LIMITS: Limits = Limits { max_pixels: 100_000_000, max_alloc_bytes: 400 * 1024 * 1024 };
const BOX: BoxSize = BoxSize { width: 256, height: 256 };

#[test]
fn sizes_parse_and_fit_without_upscaling() {
    assert_eq!(parse_sizes("256x256"), Ok(vec![BOX]));
    assert_eq!(
        parse_sizes("512x512, 128X128,128x128"),
        Ok(vec![BoxSize { width: 128, height: 128 }, BoxSize { width: 512, height: 512 }])
    );
    for bad in ["", "256", "0x10", "10x5000", "axb"] {
        assert!(parse_sizes(bad).is_err(), "{bad:?}");
    }
    for ((w, h), expected) in [
        ((4000, 3000), (256, 192)),
        ((3000, 4000), (192, 256)),
        ((10_000, 10), (256, 1)),
        ((10, 10_000), (1, 256)),
        ((100, 50), (100, 50)),
        ((256, 256), (256, 256)),
        ((1000, 1000), (256, 256)),
    ] {
        assert_eq!(fit_inside(w, h, BOX), expected, "{w}x{h}");
    }
}

/// A 40 x 20 image whose quadrants are red, green (top), blue, white (bottom).
fn quadrants() -> RgbImage {
    RgbImage::from_fn(40, 20, |x, y| match (x < 20, y < 10) {
        (true, true) => Rgb([255, 0, 0]),
        (false, true) => Rgb([0, 255, 0]),
        (true, false) => Rgb([0, 0, 255]),
        (false, false) => Rgb([255, 255, 255]),
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).expect("encodes");
    bytes.into_inner()
}

/// A JPEG with an EXIF APP1 segment carrying `orientation`.
fn jpeg_with_orientation(image: &RgbImage, orientation: u8) -> Vec<u8> {
    let mut tiff = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0".to_vec();
    tiff.extend([orientation, 0, 0, 0, 0, 0, 0]);
    jpeg_with_exif(image, &tiff)
}

/// A JPEG of `image` with `tiff` (EXIF's TIFF structure) in an APP1 segment, as cameras write it.
fn jpeg_with_exif(image: &RgbImage, tiff: &[u8]) -> Vec<u8> {
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 98).encode_image(image).expect("jpeg");
    jpeg_with_segment(&jpeg, 0xE1, &[b"Exif\0\0".as_slice(), tiff].concat()).expect("a short EXIF block")
}

fn decode(thumbnail: &Thumbnail) -> RgbaImage {
    image::load_from_memory(&thumbnail.bytes).expect("thumbnail decodes").to_rgba8()
}

fn colour_at(image: &RgbaImage, x: u32, y: u32) -> &'static str {
    let [r, g, b, _] = image.get_pixel(x, y).0;
    match (r > 128, g > 128, b > 128) {
        (true, false, false) => "red",
        (false, true, false) => "green",
        (false, false, true) => "blue",
        (true, true, true) => "white",
        _ => "other",
    }
}

#[test]
fn every_exif_orientation_is_applied_to_the_pixels() {
    // Corners as displayed: top-left, top-right, bottom-left, bottom-right (EXIF 2.3, tag 0x0112).
    let cases = [
        (1, (40, 20), ["red", "green", "blue", "white"]),
        (2, (40, 20), ["green", "red", "white", "blue"]),
        (3, (40, 20), ["white", "blue", "green", "red"]),
        (4, (40, 20), ["blue", "white", "red", "green"]),
        (5, (20, 40), ["red", "blue", "green", "white"]),
        (6, (20, 40), ["blue", "red", "white", "green"]),
        (7, (20, 40), ["white", "green", "blue", "red"]),
        (8, (20, 40), ["green", "white", "red", "blue"]),
    ];
    for (orientation, (w, h), corners) in cases {
        let bytes = jpeg_with_orientation(&quadrants(), orientation);
        let thumbnails = make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect("thumbnail").thumbnails;
        let image = decode(&thumbnails[0]);
        assert_eq!(image.dimensions(), (w, h), "orientation {orientation}");
        let got = [
            colour_at(&image, 2, 2),
            colour_at(&image, w - 3, 2),
            colour_at(&image, 2, h - 3),
            colour_at(&image, w - 3, h - 3),
        ];
        assert_eq!(got, corners, "orientation {orientation}");
        assert!(!thumbnails[0].bytes.windows(4).any(|w| w == b"Exif"), "metadata stripped");
    }
}

#[test]
fn each_input_format_and_each_output_format() {
    let source =
        DynamicImage::ImageRgb8(RgbImage::from_fn(800, 600, |x, _| Rgb([u8::try_from(x % 256).unwrap_or(0), 90, 160])));
    for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP, ImageFormat::Gif] {
        let bytes = encode(&source, format);
        assert_eq!(probe(&bytes, LIMITS).map(|p| (p.width, p.height)), Ok((800, 600)), "{format:?}");
        for (output, content_type, extension) in [
            (OutputFormat::Jpeg { quality: 80 }, "image/jpeg", "jpg"),
            (OutputFormat::Png, "image/png", "png"),
            (OutputFormat::Webp { quality: 80 }, "image/webp", "webp"),
        ] {
            let thumbnail = &make_thumbnails(&bytes, &[BOX], output, LIMITS).expect("thumbnail").thumbnails[0];
            assert_eq!((thumbnail.kind.content_type(), thumbnail.kind.extension()), (content_type, extension));
            assert_eq!((thumbnail.width, thumbnail.height), (256, 192));
            assert_eq!(
                image::guess_format(&thumbnail.bytes).ok(),
                Some(image::ImageFormat::from_extension(extension).expect("ext"))
            );
        }
        let same =
            &make_thumbnails(&bytes, &[BOX], OutputFormat::Same { quality: 80 }, LIMITS).expect("same").thumbnails[0];
        let expected = match format {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::WebP => "webp",
            _ => "png",
        };
        assert_eq!(same.kind.extension(), expected, "{format:?}");
    }
}

#[test]
fn several_boxes_and_no_upscaling() {
    let bytes = encode(&DynamicImage::ImageRgb8(RgbImage::new(300, 100)), ImageFormat::Png);
    let sizes = [BoxSize { width: 128, height: 128 }, BoxSize { width: 512, height: 512 }];
    let thumbnails = make_thumbnails(&bytes, &sizes, OutputFormat::Png, LIMITS).expect("thumbnails").thumbnails;
    let dims: Vec<(u32, u32)> = thumbnails.iter().map(|t| (t.width, t.height)).collect();
    assert_eq!(dims, [(128, 43), (300, 100)]);
}

/// A `width` x `height` image whose left half is fully transparent and right half `opaque`.
fn half_clear(width: u32, height: u32, opaque: Rgba<u8>) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(
        width,
        height,
        |x, _| {
            if x < width / 2 { Rgba([0, 0, 0, 0]) } else { opaque }
        },
    ))
}

#[test]
fn transparency_is_kept_in_png_and_flattened_onto_white_in_jpeg() {
    let bytes = encode(&half_clear(64, 64, Rgba([200, 0, 0, 255])), ImageFormat::Png);
    let png = decode(&make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect("png").thumbnails[0]);
    assert_eq!(png.get_pixel(4, 4).0[3], 0, "still transparent");
    let jpeg = decode(
        &make_thumbnails(&bytes, &[BOX], OutputFormat::Jpeg { quality: 90 }, LIMITS).expect("jpeg").thumbnails[0],
    );
    assert_eq!(colour_at(&jpeg, 4, 4), "white", "not black");
    assert_eq!(colour_at(&jpeg, 60, 4), "red");
}

#[test]
fn sixteen_bit_png_becomes_correct_8_bit_colour() {
    let deep: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_pixel(32, 32, Rgb([65535, 0, 32768]));
    let bytes = encode(&DynamicImage::ImageRgb16(deep), ImageFormat::Png);
    let out = decode(&make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect("png").thumbnails[0]);
    assert_eq!(out.get_pixel(0, 0).0, [255, 0, 128, 255]);
}

#[test]
fn an_animated_gif_gives_its_first_frame() {
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        for colour in [[255, 0, 0, 255], [0, 0, 255, 255]] {
            let frame = Frame::from_parts(
                RgbaImage::from_pixel(16, 16, Rgba(colour)),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            );
            encoder.encode_frame(frame).expect("frame");
        }
    }
    let out = decode(&make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect("gif").thumbnails[0]);
    assert_eq!(colour_at(&out, 8, 8), "red");
}

#[test]
fn bad_files_are_rejected_with_the_reason() {
    let good = encode(&DynamicImage::ImageRgb8(quadrants()), ImageFormat::Jpeg);
    let truncated = &good[..good.len() / 2];
    for (name, bytes, expected) in [
        ("zero bytes", &b""[..], "not an image"),
        ("a text file named .jpg", &b"hello, this is not a photo\n"[..], "not an image"),
        ("a truncated JPEG", truncated, "the image is corrupt or truncated"),
    ] {
        let err = make_thumbnails(bytes, &[BOX], OutputFormat::Jpeg { quality: 80 }, LIMITS).expect_err(name);
        assert!(err.to_string().starts_with(expected), "{name}: {err}");
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG whose header claims 50,000 x 50,000 pixels, with a tiny first IDAT chunk
/// (a real bomb's data compresses just as well).
fn png_bomb() -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(50_000u32.to_be_bytes());
    ihdr.extend(50_000u32.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
    png.extend(8u32.to_be_bytes());
    png.extend(idat);
    png.extend(crc32(idat).to_be_bytes());
    png.extend(0u32.to_be_bytes());
    png.extend(b"IEND");
    png.extend(crc32(b"IEND").to_be_bytes());
    png
}

fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A 16-bit RGBA PNG with a gradient and a transparent left band.
fn sixteen_bit_png(width: u32, height: u32) -> Vec<u8> {
    let image = image::ImageBuffer::<image::Rgba<u16>, Vec<u16>>::from_fn(width, height, |x, y| {
        let alpha = if x < width / 4 { 0 } else { 65535 };
        image::Rgba([(x * 65535 / width) as u16, (y * 65535 / height) as u16, 40000, alpha])
    });
    encode(&DynamicImage::ImageRgba16(image), ImageFormat::Png)
}

#[test]
fn a_large_png_is_averaged_row_by_row_and_looks_like_the_whole_decode() {
    let bytes = sixteen_bit_png(2400, 1600);
    let whole = image::load_from_memory(&bytes).expect("decodes").to_rgba8();
    let thumbnail = &make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect("thumbnail").thumbnails[0];
    assert_eq!((thumbnail.width, thumbnail.height), (256, 171));
    let small = decode(thumbnail);
    // Against the whole image's pixels at the same place: within a few levels.
    for (x, y) in [(100, 20), (200, 150), (250, 85), (80, 100)] {
        let (sx, sy) = (x * 2400 / 256, y * 1600 / 171);
        let (got, want) = (small.get_pixel(x, y).0, whole.get_pixel(sx, sy).0);
        for c in 0..4 {
            assert!(got[c].abs_diff(want[c]) <= 12, "({x},{y}) channel {c}: {got:?} against {want:?}");
        }
    }
    // Fully transparent on the left, the colour not bled into by its neighbours.
    assert_eq!(small.get_pixel(10, 80).0[3], 0);
    // The whole 16-bit image would be 30 MB, and 15 MB more at 8 bits; averaged by 4, far less.
    let need = memory_need(&bytes, &[BOX], LIMITS).expect("need");
    assert!(need < 3 * 1024 * 1024, "{need}");
}

#[test]
fn a_decompression_bomb_is_refused_before_its_pixels_are_allocated() {
    let bomb = png_bomb();
    let err = probe(&bomb, LIMITS).expect_err("too big");
    assert_eq!(err, Rejection::TooManyPixels { width: 50_000, height: 50_000, limit: 100_000_000 });
    let err = make_thumbnails(&bomb, &[BOX], OutputFormat::Jpeg { quality: 80 }, LIMITS).expect_err("too big");
    assert!(err.to_string().starts_with("the image is 50000 x 50000 = 2500000000 pixels, over the limit"), "{err}");
    // 2.5 gigapixels of RGBA would be 10 GB; the whole test process stays far below that.
    assert!(peak_memory_kib() < 1024 * 1024, "peak memory {} KiB", peak_memory_kib());
}

/// A photo-like test card: smooth gradients with fine deterministic texture, so that
/// AC coefficients are not zero and the scans are not trivially small.
fn textured(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(2_246_822_519)) >> 27;
        let channel = |v: u32| u8::try_from((v + noise) % 256).unwrap_or(0);
        Rgb([channel(x * 255 / width), channel(y * 255 / height), channel((x + y) % 200)])
    })
}

/// Encodes with mozjpeg (libjpeg-turbo's code): `progressive` uses libjpeg's standard
/// script, whose DC refinement scan comes after most AC scans.
fn libjpeg_encode(pixels: &[u8], width: u32, height: u32, colour: mozjpeg::ColorSpace, progressive: bool) -> Vec<u8> {
    let mut compress = mozjpeg::Compress::new(colour);
    compress.set_fastest_defaults();
    compress.set_size(width as usize, height as usize);
    compress.set_quality(90.0);
    if progressive {
        compress.set_progressive_mode();
    }
    let mut started = compress.start_compress(Vec::new()).expect("start");
    started.write_scanlines(pixels).expect("pixels");
    started.finish().expect("finish")
}

#[test]
fn a_progressive_jpeg_decoded_without_its_luma_ac_scans_gives_the_same_eighth_scale_pixels() {
    let (width, height) = (2048, 1536);
    let bytes = libjpeg_encode(textured(width, height).as_raw(), width, height, mozjpeg::ColorSpace::JCS_RGB, true);
    let structure = jpeg::read_structure(&bytes).expect("structure");
    assert!(structure.progressive);
    assert_eq!(jpeg_scale(width, height, 256, 192), 1, "1/8 still covers the box");
    let reduced = jpeg::Slices::new(structure.stream_for_eighth_scale(&bytes).expect("progressive"));
    assert!(reduced.len() * 2 < bytes.len(), "kept {} of {} bytes", reduced.len(), bytes.len());

    let whole = run_libjpeg(jpeg::Slices::new(vec![&bytes]), 1, &structure, None).expect("whole file");
    let from_reduced = run_libjpeg(reduced, 1, &structure, None).expect("reduced stream");
    assert_eq!((whole.width(), whole.height()), (256, 192));
    assert!(whole.as_bytes() == from_reduced.as_bytes(), "identical 1/8-scale pixels");

    let thumbnail = &make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect("thumbnail").thumbnails[0];
    assert_eq!((thumbnail.width, thumbnail.height), (256, 192));
    // The thumbnail is the image, not grey: compare it with a full-size decode scaled by `image`.
    let reference = image::load_from_memory(&bytes).expect("decodes").thumbnail_exact(256, 192).to_rgba8();
    let got = decode(thumbnail);
    let mean_difference = got
        .pixels()
        .zip(reference.pixels())
        .map(|(a, b)| a.0.iter().zip(b.0).map(|(x, y)| u64::from(x.abs_diff(y))).sum::<u64>())
        .sum::<u64>() as f64
        / (256.0 * 192.0 * 4.0);
    assert!(mean_difference < 12.0, "mean difference {mean_difference}");
}

#[test]
fn the_jpeg_scale_is_the_smallest_that_covers_every_box() {
    // (width, height, needed width, needed height) -> N of N/8
    for (w, h, need_w, need_h, expected) in [
        (5640, 3172, 256, 144, 1),
        (1920, 1080, 256, 144, 2),
        (300, 200, 256, 171, 7),
        (200, 100, 200, 100, 8),
        (4000, 3000, 1024, 768, 3),
        (2047, 2047, 256, 256, 1), // libjpeg rounds 255.9 up to 256
    ] {
        assert_eq!(jpeg_scale(w, h, need_w, need_h), expected, "{w}x{h} -> {need_w}x{need_h}");
    }
}

#[test]
fn a_jpeg_needing_more_memory_than_allowed_is_refused_before_decoding() {
    let (width, height) = (1024, 768);
    let bytes = libjpeg_encode(textured(width, height).as_raw(), width, height, mozjpeg::ColorSpace::JCS_RGB, true);
    let small = Limits { max_pixels: 100_000_000, max_alloc_bytes: 1024 * 1024 };
    let err = make_thumbnails(&bytes, &[BOX], OutputFormat::Jpeg { quality: 80 }, small).expect_err("refused");
    assert!(matches!(err, Rejection::TooMuchMemory { width: 1024, height: 768, .. }), "{err}");
    assert!(err.to_string().contains("needs about 3 MiB, over the 1 MiB this function's memory size allows"), "{err}");
}

#[test]
fn a_cmyk_jpeg_becomes_correct_rgb() {
    // Photoshop's convention, with the Adobe marker libjpeg writes for CMYK: 255 = no ink.
    let inks = |c: u8, m: u8, y: u8, k: u8| [255 - c, 255 - m, 255 - y, 255 - k];
    let (width, height) = (40, 20);
    let mut pixels = Vec::new();
    for y in 0..height {
        for x in 0..width {
            pixels.extend(match (x < 20, y < 10) {
                (true, true) => inks(0, 255, 255, 0),  // red
                (false, true) => inks(255, 0, 255, 0), // green
                (true, false) => inks(255, 255, 0, 0), // blue
                (false, false) => inks(0, 0, 0, 0),    // white paper
            });
        }
    }
    let bytes = libjpeg_encode(&pixels, width, height, mozjpeg::ColorSpace::JCS_CMYK, false);
    assert!(jpeg::read_structure(&bytes).expect("structure").adobe);
    let image = decode(
        &make_thumbnails(&bytes, &[BOX], OutputFormat::Jpeg { quality: 90 }, LIMITS).expect("cmyk").thumbnails[0],
    );
    let corners =
        [colour_at(&image, 2, 2), colour_at(&image, 37, 2), colour_at(&image, 2, 17), colour_at(&image, 37, 17)];
    assert_eq!(corners, ["red", "green", "blue", "white"]);
}

#[test]
fn cmyk_to_rgb_with_and_without_inverted_values() {
    // (stored CMYK, inverted, RGB)
    for (cmyk, inverted, rgb) in [
        ([255, 255, 255, 255], true, [255, 255, 255]),
        ([0, 0, 0, 0], false, [255, 255, 255]),
        ([255, 0, 0, 255], true, [255, 0, 0]),
        ([0, 255, 255, 0], false, [255, 0, 0]),
        ([255, 255, 255, 0], true, [0, 0, 0]),
        ([255, 255, 255, 128], true, [128, 128, 128]),
    ] {
        assert_eq!(cmyk_to_rgb(&cmyk, inverted), rgb, "{cmyk:?} inverted={inverted}");
    }
}

#[test]
fn webp_in_with_alpha_and_lossy_webp_out() {
    let bytes = encode(&half_clear(600, 300, Rgba([0, 0, 200, 255])), ImageFormat::WebP);
    let png = decode(&make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect("png").thumbnails[0]);
    assert_eq!(png.dimensions(), (256, 128));
    assert_eq!(png.get_pixel(10, 64).0[3], 0, "still transparent");
    assert_eq!(colour_at(&png, 250, 64), "blue");
    let webp =
        &make_thumbnails(&bytes, &[BOX], OutputFormat::Webp { quality: 80 }, LIMITS).expect("webp").thumbnails[0];
    assert_eq!(&webp.bytes[12..16], b"VP8X", "extended format: lossy with an alpha chunk");
    assert!(webp.bytes.windows(4).any(|w| w == b"VP8 "), "lossy bitstream");
    let out = decode(webp);
    assert_eq!(out.get_pixel(10, 64).0[3], 0);
    assert_eq!(colour_at(&out, 250, 64), "blue");
}

#[test]
fn broken_jpeg_and_webp_structures_are_rejected() {
    let progressive = libjpeg_encode(textured(640, 480).as_raw(), 640, 480, mozjpeg::ColorSpace::JCS_RGB, true);
    let webp = encode(&DynamicImage::ImageRgb8(textured(320, 240)), ImageFormat::WebP);
    let mut garbage_after_soi = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, b'o', b'k'];
    garbage_after_soi.extend(b"not a marker at all");
    let mut no_frame = vec![0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 63, 0];
    no_frame.extend([0xFF, 0xD9]);
    for (name, bytes, expected) in [
        (
            "a truncated progressive JPEG",
            &progressive[..progressive.len() * 2 / 3],
            "ends before its end-of-image marker",
        ),
        ("a JPEG cut inside its headers", &progressive[..40], "ends inside a marker segment"),
        ("a JPEG with garbage after its start marker", &garbage_after_soi[..], "marker structure is broken"),
        ("a JPEG scan without a frame", &no_frame[..], "scan before its frame header"),
        ("a truncated WebP", &webp[..webp.len() / 2], "the image is corrupt or truncated"),
    ] {
        let err = make_thumbnails(bytes, &[BOX], OutputFormat::Jpeg { quality: 80 }, LIMITS).expect_err(name);
        assert!(matches!(err, Rejection::Corrupt(_)), "{name}: {err}");
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
}

#[test]
fn half_transparent_pixels_are_blended_onto_white_after_resizing() {
    let half = RgbaImage::from_pixel(600, 400, Rgba([200, 0, 0, 128]));
    let bytes = encode(&DynamicImage::ImageRgba8(half), ImageFormat::Png);
    let png = decode(&make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect("png").thumbnails[0]);
    let [r, g, b, a] = png.get_pixel(128, 85).0;
    assert!(r.abs_diff(200) <= 2 && g <= 2 && b <= 2 && a.abs_diff(128) <= 1, "png {:?}", png.get_pixel(128, 85));
    let jpeg = decode(
        &make_thumbnails(&bytes, &[BOX], OutputFormat::Jpeg { quality: 95 }, LIMITS).expect("jpeg").thumbnails[0],
    );
    let [r, g, b, _] = jpeg.get_pixel(128, 85).0;
    // 200 x 128/255 + 255 x 127/255 = 227; 0 + 127 = 127
    assert!(r.abs_diff(227) <= 4 && g.abs_diff(127) <= 4 && b.abs_diff(127) <= 4, "jpeg {:?}", jpeg.get_pixel(128, 85));
}

#[test]
fn very_wide_very_tall_and_small_images_through_every_decoder() {
    // (width, height, thumbnail in a 256 x 256 box)
    let cases = [(3000, 40, (256, 3)), (40, 3000, (3, 256)), (4000, 3, (256, 1)), (120, 90, (120, 90))];
    for (width, height, expected) in cases {
        let pixels = textured(width, height);
        let inputs = [
            ("baseline JPEG", libjpeg_encode(pixels.as_raw(), width, height, mozjpeg::ColorSpace::JCS_RGB, false)),
            ("progressive JPEG", libjpeg_encode(pixels.as_raw(), width, height, mozjpeg::ColorSpace::JCS_RGB, true)),
            ("WebP", encode(&DynamicImage::ImageRgb8(pixels.clone()), ImageFormat::WebP)),
            ("PNG", encode(&DynamicImage::ImageRgb8(pixels.clone()), ImageFormat::Png)),
        ];
        for (name, bytes) in inputs {
            let thumbnail = &make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect(name).thumbnails[0];
            assert_eq!((thumbnail.width, thumbnail.height), expected, "{name} {width}x{height}");
            assert_eq!(decode(thumbnail).dimensions(), expected, "{name} {width}x{height}: the encoded image");
        }
    }
}

/// Damaged copies of valid files (bytes overwritten, runs deleted, cut short) must each
/// give a thumbnail or a rejection: never a panic, a hang or a crash in C code.
#[test]
fn damaged_files_never_crash_the_pipeline() {
    let pixels = textured(320, 240);
    // Large enough that 1/8 covers the box, and one that needs 2/8: our decoder's paths, then libjpeg's.
    let large = textured(2048, 1536);
    let medium = textured(1600, 1000);
    let originals = [
        libjpeg_encode(large.as_raw(), 2048, 1536, mozjpeg::ColorSpace::JCS_RGB, false),
        libjpeg_encode(medium.as_raw(), 1600, 1000, mozjpeg::ColorSpace::JCS_RGB, false),
        libjpeg_encode(pixels.as_raw(), 320, 240, mozjpeg::ColorSpace::JCS_RGB, false),
        libjpeg_encode(pixels.as_raw(), 320, 240, mozjpeg::ColorSpace::JCS_RGB, true),
        encode(&DynamicImage::ImageRgb8(pixels.clone()), ImageFormat::Png),
        encode(&DynamicImage::ImageRgb8(pixels.clone()), ImageFormat::WebP),
        encode(&DynamicImage::ImageRgb8(pixels), ImageFormat::Gif),
    ];
    let mut damage = super::damage::Damage::new(0x2545_F491_4F6C_DD1D);
    let (mut made, mut rejected) = (0, 0);
    for original in &originals {
        for _ in 0..100 {
            let bytes = damage.copy(original, original.len() / 2);
            match make_thumbnails(&bytes, &[BOX], OutputFormat::Jpeg { quality: 80 }, LIMITS) {
                Ok(photo) => {
                    let thumbnails = photo.thumbnails;
                    assert!(thumbnails[0].width <= 256 && thumbnails[0].height <= 256);
                    made += 1;
                }
                Err(_) => rejected += 1,
            }
        }
    }
    assert_eq!(made + rejected, 700);
    assert!(rejected > 60, "much of the damage is detected: {rejected} rejected, {made} made");
}

#[test]
fn a_panic_in_the_pipeline_becomes_a_rejection() {
    for result in [
        memory_need(PANIC_INPUT, &[BOX], LIMITS).map(|_| ()),
        make_thumbnails(PANIC_INPUT, &[BOX], OutputFormat::Jpeg { quality: 80 }, LIMITS).map(|_| ()),
    ] {
        assert_eq!(result, Err(Rejection::DecoderPanic("test hook: the image worker panicked".to_owned())));
    }
}

#[test]
fn a_placeholder_decodes_to_the_photos_colours_and_shape() {
    // A landscape photo stand-in: a red field with a blue band along the bottom third.
    let (width, height) = (480, 320);
    let image =
        RgbaImage::from_fn(
            width,
            height,
            |_, y| if y < 213 { Rgba([200, 30, 40, 255]) } else { Rgba([20, 40, 190, 255]) },
        );
    let made = placeholder(&DynamicImage::ImageRgba8(image.clone()));

    // Its average colour is the image's, and it keeps the image's shape.
    let hash = placeholder_averages(&made.thumbhash, &image, 0.05);
    assert!(hash.len() <= 40, "a few dozen bytes, not {}", hash.len());
    let ratio = thumbhash::thumb_hash_to_approximate_aspect_ratio(&hash).expect("a ratio");
    assert!((ratio - 1.5).abs() < 0.2, "aspect {ratio}");
    let (w, h, _) = thumbhash::thumb_hash_to_rgba(&hash).expect("decodes");
    assert!(w > h, "{w} x {h}");

    // The dominant colour is the field's red, not the average's purple.
    assert_eq!(made.dominant_colour, "#c81e28");
}

/// Decodes a placeholder and checks that its average colour is `image`'s within
/// `tolerance` (0 to 1) and that it is opaque; gives the ThumbHash's bytes.
fn placeholder_averages(thumbhash: &str, image: &RgbaImage, tolerance: f64) -> Vec<u8> {
    use base64::Engine as _;
    let hash = base64::engine::general_purpose::STANDARD.decode(thumbhash).expect("base64");
    let (r, g, b, a) = thumbhash::thumb_hash_to_average_rgba(&hash).expect("a ThumbHash");
    let pixels = f64::from(image.width() * image.height());
    let mean = |channel: usize| image.pixels().map(|p| f64::from(p[channel])).sum::<f64>() / pixels / 255.0;
    for (decoded, expected) in [(r, mean(0)), (g, mean(1)), (b, mean(2))] {
        assert!((f64::from(decoded) - expected).abs() < tolerance, "{decoded} vs {expected}");
    }
    assert!(a > 0.99);
    hash
}

#[test]
fn a_small_or_transparent_image_still_has_a_placeholder() {
    let tiny = DynamicImage::ImageRgba8(RgbaImage::from_pixel(1, 1, Rgba([0, 128, 0, 255])));
    assert_eq!(placeholder(&tiny).dominant_colour, "#008000");
    let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(120, 40, Rgba([0, 0, 0, 0])));
    assert_eq!(placeholder(&clear).dominant_colour, "#ffffff");
    assert!(!placeholder(&clear).thumbhash.is_empty());
}

fn testdata(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn capture_time_camera_and_position_come_from_real_cameras_exif() {
    let image = RgbImage::from_pixel(64, 48, Rgb([90, 120, 60]));
    let location = |latitude, longitude, altitude| Some(Location { latitude, longitude, altitude });
    for (file, captured_at, make, model, position) in [
        ("exif/canon-eos-40d.tiff", "2008-05-30T15:56:01", "Canon", "Canon EOS 40D", None),
        ("exif/nikon-d70.tiff", "2008-03-15T09:52:01", "NIKON CORPORATION", "NIKON D70", None),
        // A phone: the offset from UTC, and where it was (60°8'48.14"N 24°54'24.38"E, written as
        // signed rationals, out of the standard; no altitude).
        (
            "exif/nokia-8.3-5g.tiff",
            "2022-08-14T14:12:31+03:00",
            "HMD Global",
            "Nokia 8.3 5G",
            location(60.146706, 24.906772, None),
        ),
    ] {
        let bytes = jpeg_with_exif(&image, &testdata(file));
        let photo = make_thumbnails(&bytes, &[BOX], OutputFormat::Jpeg { quality: 80 }, LIMITS).expect(file);
        let exif = &photo.facts.exif;
        assert_eq!(exif.captured_at.as_deref(), Some(captured_at), "{file}");
        assert_eq!(exif.camera_make.as_deref(), Some(make), "{file}");
        assert_eq!(exif.camera_model.as_deref(), Some(model), "{file}");
        assert_eq!(exif.location, position, "{file}");
        assert_eq!((photo.facts.format, photo.facts.width, photo.facts.height), ("jpeg", 64, 48), "{file}");
        assert_eq!(photo.facts.orientation, 1, "{file}");
        // The thumbnail carries none of it.
        let thumbnail = &photo.thumbnails[0].bytes;
        assert!(exif_facts(thumbnail) == ExifFacts::default(), "{file}: the thumbnail has no EXIF");
        assert!(!thumbnail.windows(4).any(|w| w == b"Exif"), "{file}");
    }
}

/// A TIFF structure with these primary-image ASCII fields (and GPS rationals), written by
/// kamadak-exif's own writer.
fn tiff_with(ascii: &[(::exif::Tag, &[u8])], gps: &[(::exif::Tag, ::exif::Value)]) -> Vec<u8> {
    let mut fields: Vec<::exif::Field> = ascii
        .iter()
        .map(|(tag, text)| ::exif::Field {
            tag: *tag,
            ifd_num: ::exif::In::PRIMARY,
            value: ::exif::Value::Ascii(vec![text.to_vec()]),
        })
        .collect();
    fields.extend(gps.iter().map(|(tag, value)| ::exif::Field {
        tag: *tag,
        ifd_num: ::exif::In::PRIMARY,
        value: value.clone(),
    }));
    let mut writer = ::exif::experimental::Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).expect("a TIFF structure");
    tiff.into_inner()
}

#[test]
fn exif_that_lies_is_left_out_not_trusted() {
    use ::exif::{Rational, Tag, Value};
    let facts = |tiff: Vec<u8>| exif_facts(&jpeg_with_exif(&RgbImage::new(8, 8), &tiff));
    let dms = |d: u32, m: u32, s: u32| Value::Rational(vec![(d, 1).into(), (m, 1).into(), (s, 1).into()]);
    for (date, offset, expected) in [
        (&b"2024:02:29 23:59:59"[..], &b"-05:30"[..], Some("2024-02-29T23:59:59-05:30")),
        (b"2024:02:29 23:59:59", b"   :  ", Some("2024-02-29T23:59:59")),
        (b"2023:02:29 10:00:00", b"+01:00", None), // not a leap year
        (b"2008:13:45 10:00:00", b"+01:00", None),
        (b"0000:00:00 00:00:00", b"+01:00", None), // what some cameras write for "not set"
        (b"    :  :     :  :  ", b"+01:00", None),
        (b"yesterday", b"+01:00", None),
        (b"2024:01:01 10:00:00", b"+99:00", Some("2024-01-01T10:00:00")), // an impossible offset is dropped
    ] {
        let got = facts(tiff_with(&[(Tag::DateTimeOriginal, date), (Tag::OffsetTimeOriginal, offset)], &[]));
        assert_eq!(got.captured_at.as_deref(), expected, "{:?} {:?}", String::from_utf8_lossy(date), offset);
    }
    let got = facts(tiff_with(&[(Tag::Make, b"  Acme\x07 \0"), (Tag::Model, b"   ")], &[]));
    assert_eq!((got.camera_make.as_deref(), got.camera_model), (Some("Acme"), None));
    let long = "X".repeat(500);
    let got = facts(tiff_with(&[(Tag::Model, long.as_bytes())], &[]));
    assert_eq!(got.camera_model.map(|m| m.len()), Some(64));

    // South and west are negative; a zero denominator or an impossible latitude is no position.
    let position = |latitude: Value, reference: &'static [u8]| {
        facts(tiff_with(
            &[(Tag::GPSLatitudeRef, reference), (Tag::GPSLongitudeRef, b"W")],
            &[(Tag::GPSLatitude, latitude), (Tag::GPSLongitude, dms(70, 30, 0))],
        ))
        .location
    };
    assert_eq!(
        position(dms(33, 52, 4), b"S"),
        Some(Location { latitude: -33.867778, longitude: -70.5, altitude: None })
    );
    assert_eq!(position(dms(91, 0, 0), b"N"), None);
    let broken = Value::Rational(vec![Rational { num: 1, denom: 0 }, (0, 1).into(), (0, 1).into()]);
    assert_eq!(position(broken, b"N"), None);
    let below_sea = facts(tiff_with(
        &[(Tag::GPSLatitudeRef, b"N"), (Tag::GPSLongitudeRef, b"E")],
        &[
            (Tag::GPSLatitude, dms(31, 30, 0)),
            (Tag::GPSLongitude, dms(35, 30, 0)),
            (Tag::GPSAltitude, Value::Rational(vec![(4305, 10).into()])),
            (Tag::GPSAltitudeRef, Value::Byte(vec![1])),
        ],
    ));
    assert_eq!(below_sea.location, Some(Location { latitude: 31.5, longitude: 35.5, altitude: Some(-430.5) }));
    // No EXIF at all, or not even an image: no facts, and no error.
    assert_eq!(exif_facts(b"not an image"), ExifFacts::default());
}

#[test]
fn a_photo_reports_its_oriented_size_and_its_placeholder_matches_its_smallest_thumbnail() {
    let bytes = jpeg_with_orientation(&quadrants(), 6);
    let sizes = [BoxSize { width: 16, height: 16 }, BOX];
    let photo = make_thumbnails(&bytes, &sizes, OutputFormat::Png, LIMITS).expect("photo");
    let (w, h) = quadrants().dimensions();
    assert_eq!((photo.facts.width, photo.facts.height, photo.facts.orientation), (h, w, 6), "turned a quarter");
    placeholder_averages(&photo.placeholder.thumbhash, &decode(&photo.thumbnails[0]), 0.06);
}

/// The reference: LittleCMS's sRGB for each test image's three stripes
/// (`scripts/make_icc_testdata.py` wrote both).
fn littlecms_expects(file: &str) -> Vec<[u8; 3]> {
    let expected: Value = serde_json::from_slice(&testdata("icc/expected.json")).expect("JSON");
    serde_json::from_value(expected[file].clone()).expect("three RGB triples")
}

fn stripes_of(photo: &Photo) -> Vec<[u8; 3]> {
    let image = decode(&photo.thumbnails[0]);
    assert_eq!(image.dimensions(), (48, 16), "not resized");
    (0..3)
        .map(|stripe| {
            let [r, g, b, _] = image.get_pixel(stripe * 16 + 8, 8).0;
            [r, g, b]
        })
        .collect()
}

#[test]
fn embedded_profiles_give_the_colours_littlecms_gives() {
    // (file, tolerance in levels: JPEG's own loss for the JPEGs, fixed-point arithmetic;
    // the profile's description, which these compact profiles keep short)
    for (file, tolerance, profile) in [
        ("display-p3.png", 2, "sP3"),
        ("display-p3.jpg", 3, "sP3"),
        ("adobe-rgb.jpg", 3, "A98C"),
        ("cmyk.jpg", 4, "uCMY"),
    ] {
        let photo = make_thumbnails(&testdata(&format!("icc/{file}")), &[BOX], OutputFormat::Png, LIMITS).expect(file);
        let (got, expected) = (stripes_of(&photo), littlecms_expects(file));
        for (stripe, (got, expected)) in got.iter().zip(&expected).enumerate() {
            let off = got.iter().zip(expected).map(|(g, e)| g.abs_diff(*e)).max().unwrap_or(0);
            assert!(off <= tolerance, "{file} stripe {stripe}: {got:?}, LittleCMS gives {expected:?}");
        }
        assert_eq!(photo.facts.colour_profile.as_deref(), Some(profile), "{file}");
    }
    // Unmanaged, the wide-gamut red would be off by far more than that: the test can tell.
    assert!(littlecms_expects("display-p3.png")[0][0].abs_diff(230) > 15);
}

#[test]
fn an_image_without_a_usable_profile_is_taken_as_srgb_and_left_alone() {
    let stripes = RgbImage::from_fn(48, 16, |x, _| match x / 16 {
        0 => Rgb([230, 40, 30]),
        1 => Rgb([60, 200, 70]),
        _ => Rgb([128, 128, 128]),
    });
    let plain = encode(&DynamicImage::ImageRgb8(stripes.clone()), ImageFormat::Png);
    let mut garbage = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut garbage);
    use image::ImageEncoder as _;
    encoder.set_icc_profile(b"not an ICC profile at all".to_vec()).expect("an iCCP chunk");
    encoder.write_image(stripes.as_raw(), 48, 16, image::ExtendedColorType::Rgb8).expect("png");
    for bytes in [plain, garbage] {
        let photo = make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS).expect("a photo");
        assert_eq!(stripes_of(&photo), [[230, 40, 30], [60, 200, 70], [128, 128, 128]]);
        assert_eq!(photo.facts.colour_profile, None);
    }
}

/// The width and height an AVIF file declares (its `ispe` property), and whether it has an
/// alpha plane (an auxiliary image of type alpha).
fn avif_header(bytes: &[u8]) -> ((u32, u32), bool) {
    assert_eq!(&bytes[4..12], b"ftypavif", "an AVIF file");
    let at = bytes.windows(4).position(|w| w == b"ispe").expect("an ispe property") + 8;
    let read = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("four bytes"));
    let alpha = bytes.windows(14).any(|w| w == b"auxiliary:alph");
    ((read(at), read(at + 4)), alpha)
}

#[test]
fn avif_thumbnails_are_avif_files_of_the_right_size_with_alpha_when_the_source_has_it() {
    let opaque = encode(&DynamicImage::ImageRgb8(quadrants()), ImageFormat::Png);
    let sizes = [BoxSize { width: 32, height: 32 }, BOX];
    let photo = make_thumbnails(&opaque, &sizes, OutputFormat::Avif { quality: 70 }, LIMITS).expect("avif");
    for (thumbnail, expected) in photo.thumbnails.iter().zip([(32, 16), (40, 20)]) {
        assert_eq!((thumbnail.kind.content_type(), thumbnail.kind.extension()), ("image/avif", "avif"));
        assert_eq!((thumbnail.width, thumbnail.height), expected);
        assert_eq!(avif_header(&thumbnail.bytes), (expected, false));
    }
    let transparent = RgbaImage::from_fn(40, 20, |x, _| Rgba([200, 30, 30, if x < 20 { 0 } else { 255 }]));
    let bytes = encode(&DynamicImage::ImageRgba8(transparent), ImageFormat::Png);
    let photo = make_thumbnails(&bytes, &[BOX], OutputFormat::Avif { quality: 70 }, LIMITS).expect("avif");
    assert_eq!(avif_header(&photo.thumbnails[0].bytes), ((40, 20), true));
    assert_eq!(output_kind(OutputFormat::Avif { quality: 70 }, &bytes), ImageKind::Avif);
}

/// A 1200 x 600 photo, as displayed: grey, with a skin-coloured disc of radius 100 at
/// (1050, 300), right of where a centred square crop (300 to 900) ends.
fn off_centre_face() -> RgbImage {
    RgbImage::from_fn(1200, 600, |x, y| {
        let (dx, dy) = (f64::from(x) - 1050.0, f64::from(y) - 300.0);
        if dx.hypot(dy) <= 100.0 { Rgb([224, 172, 140]) } else { Rgb([96, 110, 120]) }
    })
}

fn skin_pixels(image: &RgbaImage) -> usize {
    image
        .pixels()
        .filter(|p| p.0[0].abs_diff(224) < 24 && p.0[1].abs_diff(172) < 24 && p.0[2].abs_diff(140) < 24)
        .count()
}

#[test]
fn a_cover_thumbnail_fills_its_box_and_its_crop_keeps_the_subject_in_every_format_and_orientation() {
    let scene = off_centre_face();
    // Orientation 6 displays the stored image turned 90 degrees clockwise: store it turned back.
    let turned = image::imageops::rotate270(&scene);
    let inputs = [
        ("JPEG", encode(&DynamicImage::ImageRgb8(scene.clone()), ImageFormat::Jpeg)),
        ("PNG", encode(&DynamicImage::ImageRgb8(scene.clone()), ImageFormat::Png)),
        ("WebP", encode(&DynamicImage::ImageRgb8(scene.clone()), ImageFormat::WebP)),
        ("JPEG with orientation 6", jpeg_with_orientation(&turned, 6)),
    ];
    for (name, bytes) in inputs {
        let header = Header::read(&bytes, LIMITS).expect("a header");
        let make = |fit| {
            make_thumbnails_from(&bytes, &header, &[BOX], OutputFormat::Png, fit, LIMITS)
                .expect("thumbnails")
                .thumbnails
        };
        let contained = make(Fit::Contain);
        assert_eq!((contained[0].width, contained[0].height, contained[0].crop), (256, 128, None), "{name}");
        for (crop, keeps_the_face) in [(Crop::Centre, false), (Crop::Attention, true), (Crop::Entropy, true)] {
            let thumbnail = &make(Fit::Cover(crop))[0];
            assert_eq!((thumbnail.width, thumbnail.height), (256, 256), "{name}, {crop}");
            let area = thumbnail.crop.expect("a cover thumbnail says what it shows");
            assert_eq!((area.top, area.width, area.height), (0, 600, 600), "{name}, {crop}: {area:?}");
            let face_inside = area.left <= 950 && area.left + area.width >= 1150;
            assert_eq!(face_inside, keeps_the_face, "{name}, {crop}: {area:?}");
            // The pixels agree with the area: the whole disc (about 5,700 of 65,536 pixels at
            // this scale), or at most a sliver of it.
            let skin = skin_pixels(&decode(thumbnail));
            if keeps_the_face {
                assert!(skin > 5_000, "{name}, {crop}: {skin} skin pixels");
            } else {
                assert!(skin < 500, "{name}, {crop}: {skin} skin pixels");
            }
        }
        // A cover box decodes larger than a contain box (it binds on the shorter side).
        let (contain, cover) =
            (header.memory_need(&[BOX]), header.memory_need_for(&[BOX], Fit::Cover(Crop::Attention)));
        assert!(cover > contain, "{name}: cover {cover} <= contain {contain}");
    }
}

#[test]
fn a_cover_thumbnail_of_a_photo_smaller_than_its_box_keeps_the_photos_pixels() {
    let bytes = encode(&DynamicImage::ImageRgb8(off_centre_face()), ImageFormat::Png);
    let header = Header::read(&bytes, LIMITS).expect("a header");
    let big = BoxSize { width: 1000, height: 1000 };
    let photo = make_thumbnails_from(&bytes, &header, &[big], OutputFormat::Png, Fit::Cover(Crop::Attention), LIMITS)
        .expect("a photo");
    let thumbnail = &photo.thumbnails[0];
    // The largest square the photo has, not upscaled.
    assert_eq!((thumbnail.width, thumbnail.height), (600, 600));
    assert_eq!(thumbnail.crop, Some(CropArea { left: 600, top: 0, width: 600, height: 600 }));
}
