//! The hash's arithmetic, its behaviour on synthetic pictures, and the duplicate table over
//! the corpus's real photos: each against resized, recompressed, cropped and converted copies
//! of itself, and against every other photo.

use std::f64::consts::PI;
use std::io::Cursor;
use std::time::Instant;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::png::{CompressionType, PngEncoder};
use image::{DynamicImage, ImageEncoder, Rgb, RgbImage};

use super::{hamming_distance, hash_bands, low_frequencies, perceptual_hash};
use crate::corpus::corpus_jpegs;
use crate::{BoxSize, Limits, OutputFormat, make_thumbnails};

const LIMITS: Limits = Limits { max_pixels: 100_000_000, max_alloc_bytes: 1024 * 1024 * 1024 };

/// Near-duplicates: at most this many bits apart (`DUPLICATE_DISTANCE`'s default, chosen from
/// the corpus table below).
const THRESHOLD: u32 = 10;

#[test]
fn the_separable_transform_is_the_2d_dct() {
    let grey: Vec<f32> = (0..32 * 32).map(|i| ((i * 7919) % 251) as f32).collect();
    let low = low_frequencies(&grey);
    for v in 0..8 {
        for u in 0..8 {
            let mut direct = 0f64;
            for y in 0..32 {
                for x in 0..32 {
                    direct += f64::from(grey[y * 32 + x])
                        * ((2 * x + 1) as f64 * u as f64 * PI / 64.0).cos()
                        * ((2 * y + 1) as f64 * v as f64 * PI / 64.0).cos();
                }
            }
            let ours = f64::from(low[v * 8 + u]);
            assert!((ours - direct).abs() <= 1e-3 * direct.abs().max(1000.0), "({u}, {v}): {ours} against {direct}");
        }
    }
}

#[test]
fn half_the_bits_are_set_and_the_same_picture_at_another_size_keeps_its_hash() {
    let picture = |width: u32, height: u32| {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            let (fx, fy) = (f64::from(x) / f64::from(width), f64::from(y) / f64::from(height));
            let v = 128.0 + 90.0 * (fx * 7.0).sin() * (fy * 5.0).cos();
            Rgb([v as u8, (255.0 * fy) as u8, (255.0 * fx) as u8])
        }))
    };
    let big = perceptual_hash(&picture(1200, 800));
    assert_eq!(big.count_ones(), 32, "{big:064b}");
    assert!(hamming_distance(big, perceptual_hash(&picture(300, 200))) <= 2);
    let other = perceptual_hash(&DynamicImage::ImageRgb8(RgbImage::from_fn(1200, 800, |x, y| {
        Rgb([((x / 40 + y / 40) % 2 * 255) as u8, 80, 80])
    })));
    assert!(hamming_distance(big, other) >= 16, "{big:064b} {other:064b}");
}

fn resized(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    let mut out = Image::new(width, height, fast_image_resize::PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new().resize(image, &mut out, &options).expect("resizes");
    RgbImage::from_raw(width, height, out.into_vec()).expect("a buffer of the size")
}

fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    let (w, h) = (u16::try_from(image.width()).expect("width"), u16::try_from(image.height()).expect("height"));
    jpeg_encoder::Encoder::new(&mut bytes, quality)
        .encode(image.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .expect("encodes");
    bytes
}

fn png(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, image::codecs::png::FilterType::Sub)
        .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8)
        .expect("encodes");
    bytes.into_inner()
}

/// The hash the pipeline files for `bytes` (the thumbnails' decode, at its reduced scale).
fn filed_hash(bytes: &[u8]) -> u64 {
    let size = BoxSize { width: 256, height: 256 };
    make_thumbnails(bytes, &[size], OutputFormat::Jpeg { quality: 80 }, LIMITS).expect("a photo").phash
}

/// Which picture a corpus file is, for the pairs that are the same picture and so not false
/// matches: a wallpaper theme holds its picture at several sizes (`<theme>/contents/images/
/// 2560x1600.jpg`, or MATE's `Elephants_3840x2160.jpg`), the same aspect being the same picture; a different aspect is another
/// framing (portrait against landscape), a distinct picture. A dark variant (`images_dark`)
/// is counted apart, as the same picture recoloured.
fn picture_of(path: &std::path::Path, width: u32, height: u32) -> (String, bool) {
    let text = path.display().to_string();
    let dark = text.contains("/images_dark/");
    // MATE's names carry the size: `Elephants_3840x2160.jpg` is `Elephants.jpg` larger.
    let stem =
        text.trim_end_matches(".jpg").trim_end_matches(|c: char| c.is_ascii_digit() || c == 'x').trim_end_matches('_');
    let theme = text.split_once("/contents/").map_or(stem, |(theme, _)| theme);
    let picture = format!("{theme} at {:.2}", f64::from(width) / f64::from(height));
    (picture, dark)
}

#[test]
fn the_duplicate_table_over_the_corpus() {
    let started = Instant::now();
    // The benchmark's photos: the packages' small preview screenshots are copies of their
    // wallpapers, not photos of their own (scripts/photos.py leaves them out too).
    let files: Vec<_> = corpus_jpegs().into_iter().filter(|f| !f.ends_with("screenshot.jpg")).collect();
    let mut originals = Vec::new();
    // Per modification: (copies within the threshold, of those the ones sharing a band with
    // the original (what the band index finds), copies, largest distance seen).
    let mut found = [(0usize, 0usize, 0usize, 0u32); 5];
    let names = ["resized to 50%", "JPEG quality 60", "cropped 5%", "PNG", "WebP quality 80"];
    for file in &files {
        let bytes = std::fs::read(file).expect("readable");
        let original = filed_hash(&bytes);
        let full = crate::pipeline::run_libjpeg(
            crate::jpeg::Slices::new(vec![bytes.as_slice()]),
            8,
            &crate::jpeg::read_structure(&bytes).expect("a JPEG"),
            None,
        )
        .expect("decodes")
        .into_rgb8();
        let (w, h) = full.dimensions();
        originals.push((picture_of(file, w, h), original));
        let (dx, dy) = (w / 40, h / 40); // 2.5% off each side: 5% of each dimension
        let cropped = image::imageops::crop_imm(&full, dx, dy, w - 2 * dx, h - 2 * dy).to_image();
        let copies = [
            jpeg(&resized(&full, w / 2, h / 2), 90),
            jpeg(&full, 60),
            jpeg(&cropped, 90),
            png(&full),
            crate::webp::encode_lossy(&DynamicImage::ImageRgb8(full.clone()), 80).expect("encodes"),
        ];
        for (index, copy) in copies.iter().enumerate() {
            let copy_hash = filed_hash(copy);
            let distance = hamming_distance(original, copy_hash);
            let shares_a_band = hash_bands(original).iter().zip(hash_bands(copy_hash)).any(|(a, b)| *a == b);
            let (hits, indexed, total, worst) = &mut found[index];
            *total += 1;
            *hits += usize::from(distance <= THRESHOLD);
            *indexed += usize::from(distance <= THRESHOLD && shares_a_band);
            *worst = (*worst).max(distance);
        }
    }
    // Every pair of different pictures; a picture against itself at another size, or dark.
    let (mut false_matches, mut pairs, mut closest) = (Vec::new(), 0, u32::MAX);
    let (mut same_size, mut recoloured) = (Vec::new(), Vec::new());
    for (i, ((picture_a, dark_a), a)) in originals.iter().enumerate() {
        for ((picture_b, dark_b), b) in &originals[i + 1..] {
            let distance = hamming_distance(*a, *b);
            match (picture_a == picture_b, dark_a == dark_b) {
                (true, true) => same_size.push(distance),
                (true, false) => recoloured.push(distance),
                (false, _) => {
                    pairs += 1;
                    closest = closest.min(distance);
                    if distance <= THRESHOLD {
                        false_matches.push((picture_a.clone(), picture_b.clone(), distance));
                    }
                }
            }
        }
    }
    eprintln!("| copy | within {THRESHOLD} bits | and found by the band index | largest distance |\n|---|---|---|---|");
    for ((hits, indexed, total, worst), name) in found.iter().zip(names) {
        eprintln!("| {name} | {hits} of {total} | {indexed} of {total} | {worst} |");
    }
    let within = |distances: &[u32]| distances.iter().filter(|d| **d <= THRESHOLD).count();
    eprintln!(
        "| the same wallpaper at another size | {} of {} | {:?} |\n\
         | its dark variant | {} of {} | {:?} |\n\
         | different pictures | {} false matches of {pairs} pairs | closest {closest} |\n({} photos, {:.0} s)",
        within(&same_size),
        same_size.len(),
        same_size,
        within(&recoloured),
        recoloured.len(),
        recoloured,
        false_matches.len(),
        files.len(),
        started.elapsed().as_secs_f64()
    );
    let (hits, indexed, total) =
        found.iter().fold((0, 0, 0), |(h, i, t), (hits, indexed, total, _)| (h + hits, i + indexed, t + total));
    assert!(hits * 100 >= total * 95, "recall {hits} of {total} below 95%");
    assert!(indexed * 100 >= total * 90, "the band index finds {indexed} of {total}");
    assert!(false_matches.is_empty(), "false matches: {false_matches:?}");
}
