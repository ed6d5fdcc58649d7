//! Times the image library's thumbnails on files, like `scripts/bench/thumbnails_peers.py`:
//! `cargo run --release -p imaging --features test-support --example bench -- FILE...`
//! prints one JSON line.
//!
//! `THUMB_FORMAT` (`jpeg`, default, or `avif`) and `THUMB_SIZE` (the box's side, 256, or
//! several, `256,1024`, made from one decode as the thumbnailer does) choose the thumbnails; `EMBED_PROFILE=FILE.icc` first embeds that ICC profile in each JPEG (as
//! a phone's Display P3 photo carries one), to time colour management.
//!
//! `THUMB_FIT` (`contain`, default, or a `cover` crop: `centre`, `attention`, `entropy`)
//! chooses how the thumbnail fills its box, to time what a crop costs.
//!
//! `THUMB_DECODER=libjpeg` decodes every JPEG with libjpeg, as before the 1/8-scale
//! decoder; `THUMB_STAGE=decode` times the JPEG's 1/8-scale decode alone,
//! `THUMB_STAGE=decode-for-box` its decode alone at the scale the largest box needs, and
//! `THUMB_STAGE=phash` the perceptual hash alone, on that decode (what the pipeline hashes), and
//! `THUMB_STAGE=crop` (with a `THUMB_FIT` crop) choosing the crop alone, on the decode a cover
//! thumbnail starts from. Each result
//! says which decoder its file takes (`eighth-scale N/8` or `libjpeg`) and at what scale.
//!
//! Each file is timed `THUMB_REPEATS` times (3) after one warm-up, and the fastest kept: on
//! a shared machine a timing is only ever slowed by others, by ±15–30% from run to run.

#![allow(clippy::print_stdout)] // a command-line report

use std::time::Instant;

use image::ImageFormat;

use imaging::test_support::{
    JpegDecoder, crop_window, decoded_for, eighth_scale_takes, jpeg_at_scale, jpeg_eighth_scale, jpeg_with_segment,
    make_thumbnails_with, perceptual_hash,
};
use imaging::{BoxSize, Crop, Fit, Limits, OutputFormat, fit_inside, probe};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    imaging::allocator::reuse_buffers_across_images(); // as the thumbnailer's main.rs does
    let limits = Limits { max_pixels: 100_000_000, max_alloc_bytes: 384 * 1024 * 1024 };
    let sides = std::env::var("THUMB_SIZE").unwrap_or_else(|_| "256".into());
    let mut size: Vec<BoxSize> = sides
        .split(',')
        .map(|side| side.trim().parse().map(|side| BoxSize { width: side, height: side }))
        .collect::<Result<_, _>>()?;
    size.sort_by_key(|size| size.width); // as the thumbnailer's configuration sorts them
    let largest = *size.last().ok_or("THUMB_SIZE names no box")?;
    let format = match std::env::var("THUMB_FORMAT").as_deref() {
        Ok("avif") => OutputFormat::Avif { quality: 80 },
        _ => OutputFormat::Jpeg { quality: 80 },
    };
    let profile = std::env::var_os("EMBED_PROFILE").map(std::fs::read).transpose()?;
    let decoder = match std::env::var("THUMB_DECODER").as_deref() {
        Ok("libjpeg") => JpegDecoder::LibjpegOnly,
        _ => JpegDecoder::Fastest,
    };
    let fit = match std::env::var("THUMB_FIT").as_deref() {
        Ok("centre") => Fit::Cover(Crop::Centre),
        Ok("attention") => Fit::Cover(Crop::Attention),
        Ok("entropy") => Fit::Cover(Crop::Entropy),
        _ => Fit::Contain,
    };
    let decode_only = std::env::var("THUMB_STAGE").as_deref() == Ok("decode");
    let decode_for_box = std::env::var("THUMB_STAGE").as_deref() == Ok("decode-for-box");
    let hash_only = std::env::var("THUMB_STAGE").as_deref() == Ok("phash");
    let crop_only = std::env::var("THUMB_STAGE").as_deref() == Ok("crop");
    let repeats: usize = std::env::var("THUMB_REPEATS").ok().and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    let mut results = Vec::new();
    for file in std::env::args().skip(1) {
        let mut data = std::fs::read(&file)?;
        // One APP2 piece (profiles under 64 KiB): the signature, piece 1 of 1, the profile.
        if let Some(icc) = &profile
            && let Some(with_profile) =
                jpeg_with_segment(&data, 0xE2, &[b"ICC_PROFILE\0\x01\x01".as_slice(), icc].concat())
        {
            data = with_profile;
        }
        let info = probe(&data, limits)?;
        // The scale a JPEG is decoded at: the smallest N/8 that covers the largest box (a
        // square box, so orientation does not matter).
        let (fit_w, fit_h) = fit_inside(info.width, info.height, largest);
        let covers = |n: u32| (info.width * n).div_ceil(8) >= fit_w && (info.height * n).div_ceil(8) >= fit_h;
        let scale = if decode_only { 1 } else { (1..=8).find(|&n| covers(n)).unwrap_or(8) };
        // Where a cover thumbnail cropped, in the photo's pixels: the same on every run.
        let mut crop = None;
        let decoded = match (hash_only, crop_only) {
            (true, _) => Some(jpeg_eighth_scale(&data, decoder)?),
            (_, true) => Some(decoded_for(&data, &size, fit, limits)?),
            _ => None,
        };
        let mut run = || -> Result<usize, Box<dyn std::error::Error>> {
            match (&decoded, fit) {
                (Some(image), Fit::Cover(strategy)) if crop_only => {
                    return Ok(usize::from(crop_window(image, size[0], strategy)[2] > 0.0));
                }
                (Some(image), _) => return Ok(usize::from(perceptual_hash(image) != 0)),
                (None, _) => {}
            }
            if decode_only {
                return Ok(jpeg_eighth_scale(&data, decoder)?.as_bytes().len());
            }
            if decode_for_box {
                return Ok(jpeg_at_scale(&data, scale, decoder)?.as_bytes().len());
            }
            let photo = make_thumbnails_with(&data, &size, format, fit, limits, decoder)?;
            crop = photo.thumbnails.first().and_then(|t| t.crop);
            Ok(photo.thumbnails.iter().map(|t| t.bytes.len()).sum())
        };
        let bytes = run()?; // warm-up
        let mut ms = f64::INFINITY;
        for _ in 0..repeats {
            let start = Instant::now();
            run()?;
            ms = ms.min(start.elapsed().as_secs_f64() * 1000.0);
        }
        let mp = f64::from(info.width) * f64::from(info.height) / 1e6;
        let path = match eighth_scale_takes(&data, scale as usize) {
            _ if info.format != ImageFormat::Jpeg => "not JPEG".to_owned(),
            Ok(_) if decoder == JpegDecoder::Fastest => format!("eighth-scale {scale}/8"),
            _ => format!("libjpeg {scale}/8"),
        };
        let crop = crop.map(|c| [c.left, c.top, c.width, c.height]);
        results
            .push(serde_json::json!({"file": file, "ms": ms, "mp": mp, "bytes": bytes, "decoder": path, "crop": crop}));
    }
    let peak = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok()))
        .unwrap_or(0);
    println!("{}", serde_json::json!({"peer": "thumbnailer", "results": results, "peak_rss_kib": peak}));
    Ok(())
}
