//! The oracle: for every file the decoder takes, at every scale from 1/8 to 8/8, its pixels
//! must equal libjpeg-turbo's own decode at that scale byte for byte; everything else must
//! fall back.

use image::DynamicImage;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

use super::huffman::{last_needed, transform_reads};
use super::{
    Fallback, flat, h2v1_fancy_upsample, idct_2x2, idct_3x3, idct_4x4, idct_5x5, idct_6x6, idct_8x8, range_limit,
};
use crate::jpeg::{Slices, read_structure, with_segment};
use crate::pipeline::run_libjpeg;

/// What a file gets before this decoder sees it: the structure reader refuses it
/// (truncated, not a JPEG, 12-bit, lossless, arithmetic-coded), and so does the pipeline.
const REFUSED_BEFORE: Fallback = Fallback("refused by the structure reader");

/// The decoder as the pipeline calls it: on the structure its one walk of the markers read.
fn decode(bytes: &[u8], scale: usize) -> Result<DynamicImage, Fallback> {
    let structure = read_structure(bytes).map_err(|_| REFUSED_BEFORE)?;
    super::decode(bytes, &structure, scale)
}

/// libjpeg-turbo (mozjpeg's build, as the thumbnailer uses it) at `scale`/8.
fn libjpeg_at(bytes: &[u8], scale: usize) -> Option<DynamicImage> {
    let structure = read_structure(bytes).ok()?;
    run_libjpeg(Slices::new(vec![bytes]), scale as u32, &structure, None).ok()
}

/// The reasons a file taken at 1/8 may fall back at a larger scale: libjpeg's fancy
/// upsampling across rows (4:4:0 chroma, and 4:2:0 chroma at full scale), and the inverse
/// DCT sizes not written here (7, and the 10, 12 and 14 of subsampled chroma at 5/8 to
/// 7/8).
const ACROSS_ROWS: Fallback = Fallback("fancy upsampling across rows");
const DCT_SIZE: Fallback = Fallback("a component needing a 7, 10, 12 or 14-point inverse DCT");

/// Every scale libjpeg decodes at.
const SCALES: [usize; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// Decodes `bytes` both ways at every scale; the new decoder must take it (but for the
/// reasons above) and agree to the byte. Returns the scales it took.
fn check_exact(bytes: &[u8], case: &str) -> Vec<usize> {
    let mut taken = Vec::new();
    for scale in SCALES {
        match decode(bytes, scale) {
            Err(ACROSS_ROWS) if scale >= 2 => {}
            Err(DCT_SIZE) if (5..=7).contains(&scale) => {}
            Err(fallback) => panic!("{case} at {scale}/8: fell back ({fallback})"),
            Ok(ours) => {
                check_same(&ours, bytes, scale, case);
                taken.push(scale);
            }
        }
    }
    taken
}

fn check_same(ours: &DynamicImage, bytes: &[u8], scale: usize, case: &str) {
    let case = format!("{case} at {scale}/8");
    let theirs = libjpeg_at(bytes, scale).unwrap_or_else(|| panic!("{case}: libjpeg failed"));
    assert_eq!((ours.width(), ours.height()), (theirs.width(), theirs.height()), "{case}: size");
    if ours.as_bytes() != theirs.as_bytes() {
        let first = ours.as_bytes().iter().zip(theirs.as_bytes()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{case}: pixels differ first at byte {first} (pixel {}, {}): ours {:?}, libjpeg {:?}",
            first / 3 % ours.width() as usize,
            first / 3 / ours.width() as usize,
            &ours.as_bytes()[first - first % 3..][..3],
            &theirs.as_bytes()[first - first % 3..][..3]
        );
    }
}

/// A photo-like test pattern: gradients, hard edges and noise, so that every coefficient
/// size and run occurs.
fn pattern(width: u16, height: u16, channels: usize) -> Vec<u8> {
    let (w, h) = (u32::from(width), u32::from(height));
    let mut pixels = Vec::with_capacity(w as usize * h as usize * channels);
    for y in 0..h {
        for x in 0..w {
            let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(2_246_822_519)) >> 26;
            let edge = if (x / 5 + y / 7) % 3 == 0 { 90 } else { 0 };
            for c in 0..channels as u32 {
                let base = match c {
                    0 => x * 255 / w.max(1),
                    1 => y * 255 / h.max(1),
                    2 => (x * y) % 251,
                    _ => (x + 3 * y) % 256,
                };
                pixels.push(((base + noise + edge + 40 * c) % 256) as u8);
            }
        }
    }
    pixels
}

struct Case {
    width: u16,
    height: u16,
    colour: ColorType,
    sampling: SamplingFactor,
    restart: Option<u16>,
    optimized: bool,
    quality: u8,
}

fn encode(case: &Case) -> Vec<u8> {
    let channels = match case.colour {
        ColorType::Luma => 1,
        ColorType::Cmyk | ColorType::Ycck | ColorType::CmykAsYcck => 4,
        _ => 3,
    };
    let mut bytes = Vec::new();
    let mut encoder = Encoder::new(&mut bytes, case.quality);
    encoder.set_sampling_factor(case.sampling);
    encoder.set_optimized_huffman_tables(case.optimized);
    if let Some(interval) = case.restart {
        encoder.set_restart_interval(interval);
    }
    encoder.encode(&pattern(case.width, case.height, channels), case.width, case.height, case.colour).expect("encodes");
    bytes
}

const SAMPLINGS: [SamplingFactor; 8] = [
    SamplingFactor::F_1_1,
    SamplingFactor::F_2_1,
    SamplingFactor::F_1_2,
    SamplingFactor::F_2_2,
    SamplingFactor::F_4_1,
    SamplingFactor::F_4_2,
    SamplingFactor::F_1_4,
    SamplingFactor::F_2_4,
];

/// Odd sizes (a partial block, a partial MCU, one pixel), every sampling factor the
/// encoders write, restart intervals of one MCU and of several, low and highest quality.
/// (jpeg-encoder writes factors of 4 as one scan per component, so those files also
/// cover sequential files in several scans.)
#[test]
fn every_sampling_size_and_restart_interval_decodes_exactly_as_libjpeg() {
    let sizes = [(1, 1), (7, 9), (8, 8), (17, 33), (65, 47), (129, 97), (301, 203)];
    let mut checked = 0;
    for sampling in SAMPLINGS {
        for &(width, height) in &sizes {
            for restart in [None, Some(1), Some(7)] {
                // (jpeg-encoder's optimized tables have a bug that the mozjpeg files cover.)
                for (optimized, quality) in [(false, 100), (false, 35)] {
                    let case = Case { width, height, colour: ColorType::Rgb, sampling, restart, optimized, quality };
                    let label = format!("{sampling:?} {width}x{height} restart {restart:?} q{quality}");
                    let taken = check_exact(&encode(&case), &label);
                    checked += 1;
                    // Only 4:4:0 and 2x4 chroma need libjpeg's upsampling across rows at 2/8
                    // to 4/8 (and 4:2:0 at 8/8).
                    let across_rows = matches!(sampling, SamplingFactor::F_1_2 | SamplingFactor::F_2_4);
                    for scale in [2, 3, 4] {
                        assert!(taken.contains(&scale) || across_rows, "{label}: taken at {scale}/8");
                    }
                }
            }
        }
    }
    assert_eq!(checked, 8 * 7 * 3 * 2);
}

#[test]
fn grey_files_decode_exactly_as_libjpeg() {
    for (width, height) in [(1, 1), (9, 7), (64, 64), (333, 111)] {
        for restart in [None, Some(3)] {
            for sampling in [SamplingFactor::F_1_1, SamplingFactor::F_2_2] {
                let case =
                    Case { width, height, colour: ColorType::Luma, sampling, restart, optimized: true, quality: 90 };
                check_exact(&encode(&case), &format!("grey {width}x{height} {sampling:?} restart {restart:?}"));
            }
        }
    }
}

/// Files from the other encoders the project meets: libjpeg's own (mozjpeg, baseline)
/// and the `image` crate's, and a photo-sized 4:2:0 file at the highest quality, whose
/// long codes and large coefficients exercise every table path.
#[test]
fn files_from_other_encoders_decode_exactly_as_libjpeg() {
    let (width, height) = (1024u32, 768u32);
    let rgb = pattern(width as u16, height as u16, 3);
    let mozjpeg_file = |chroma: (u8, u8)| {
        let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        compress.set_fastest_defaults();
        compress.set_optimize_coding(true);
        compress.set_size(width as usize, height as usize);
        compress.set_quality(92.0);
        compress.set_chroma_sampling_pixel_sizes(chroma, chroma);
        let mut started = compress.start_compress(Vec::new()).expect("start");
        started.write_scanlines(&rgb).expect("pixels");
        started.finish().expect("finish")
    };
    let mut image_crate_file = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut image_crate_file, 85)
        .encode(&rgb, width, height, image::ExtendedColorType::Rgb8)
        .expect("encodes");
    let large = Case {
        width: 2048,
        height: 1536,
        colour: ColorType::Rgb,
        sampling: SamplingFactor::F_2_2,
        restart: None,
        optimized: false,
        quality: 100,
    };
    let files = [
        ("mozjpeg 4:2:0, optimized tables", mozjpeg_file((2, 2))),
        ("mozjpeg 4:2:2, optimized tables", mozjpeg_file((2, 1))),
        ("mozjpeg 4:4:4, optimized tables", mozjpeg_file((1, 1))),
        ("image crate", image_crate_file),
        ("2048x1536 q100", encode(&large)),
    ];
    for (label, bytes) in files {
        let structure = read_structure(&bytes).expect("structure");
        assert!(!structure.progressive && structure.scan_count() == 1, "{label}: baseline, one scan");
        check_exact(&bytes, label);
    }
}

#[test]
fn what_it_does_not_take_falls_back_with_the_reason() {
    let base = Case {
        width: 64,
        height: 48,
        colour: ColorType::Rgb,
        sampling: SamplingFactor::F_2_2,
        restart: Some(2),
        optimized: false,
        quality: 80,
    };
    let baseline = encode(&base);
    let marker_at = |bytes: &[u8], marker: u8| {
        bytes.windows(2).position(|w| w == [0xFF, marker]).unwrap_or_else(|| panic!("marker {marker:02X}"))
    };
    let mut progressive = Vec::new();
    let mut encoder = Encoder::new(&mut progressive, 80);
    encoder.set_progressive(true);
    encoder.encode(&pattern(64, 48, 3), 64, 48, ColorType::Rgb).expect("encodes");
    let mut cmyk = encode(&Case { colour: ColorType::Cmyk, ..base });
    let adobe_at = marker_at(&cmyk, 0xEE);
    let adobe_length = usize::from(cmyk[adobe_at + 3]) + 2;
    cmyk.drain(adobe_at..adobe_at + adobe_length); // so that the component count is what falls back
    let with = |change: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = baseline.clone();
        change(&mut bytes);
        bytes
    };
    let sof = marker_at(&baseline, 0xC0);
    let arithmetic = with(&|b| b[sof + 1] = 0xC9);
    let twelve_bit = with(&|b| b[sof + 4] = 12);
    let lossless = with(&|b| b[sof + 1] = 0xC3);
    let rst = marker_at(&baseline, 0xD0);
    let restart_out_of_order = with(&|b| b[rst + 1] = 0xD3);
    let adobe = with_segment(&baseline, 0xEE, b"Adobe\0\x64\0\0\0\0\x01").expect("segment");
    let rgb_ids = with(&|b| {
        for (i, id) in b"RGB".iter().enumerate() {
            b[sof + 10 + 3 * i] = *id;
        }
        let sos = marker_at(b, 0xDA);
        for (i, id) in b"RGB".iter().enumerate() {
            b[sos + 5 + 2 * i] = *id;
        }
    });
    let eoi = baseline.len() - 2;
    let truncated = baseline[..eoi - 10].to_vec();
    let sos = marker_at(&baseline, 0xDA);
    let repeated_scan = with(&|b| b.splice(eoi..eoi, baseline[sos..eoi].to_vec()).for_each(drop));
    let no_scan = with(&|b| b.splice(sos..eoi, []).for_each(drop));
    let cases: [(&str, &[u8], &str); 11] = [
        ("CMYK", &cmyk, "neither grey nor three components"),
        ("arithmetic", &arithmetic, REFUSED_BEFORE.0),
        ("lossless", &lossless, REFUSED_BEFORE.0),
        ("12-bit", &twelve_bit, REFUSED_BEFORE.0),
        ("restart out of order", &restart_out_of_order, "a restart marker out of sequence"),
        ("Adobe", &adobe, "an Adobe colour transform marker"),
        ("RGB ids", &rgb_ids, "RGB components"),
        ("truncated", &truncated, REFUSED_BEFORE.0),
        ("a component's second scan", &repeated_scan, "scan components out of order or repeated"),
        ("no scan", &no_scan, REFUSED_BEFORE.0),
        ("not a JPEG", b"GIF89a", REFUSED_BEFORE.0),
    ];
    for (label, bytes, reason) in cases {
        assert_eq!(decode(bytes, 1).err(), Some(Fallback(reason)), "{label}");
    }
    assert_eq!(decode(&baseline, 9).err(), Some(Fallback("a scale other than 1/8 to 8/8")));
    check_exact(&baseline, "the unchanged file");
    check_exact(&progressive, "a progressive file");
    // A comment after the scan changes nothing, to libjpeg or here.
    check_exact(
        &with(&|b| b.splice(eoi..eoi, [0xFF, 0xFE, 0, 4, b'o', b'k']).for_each(drop)),
        "a comment after the scan",
    );
}

/// Damaged copies of baseline and progressive files (bytes overwritten, runs deleted, bits flipped in the
/// entropy-coded data, cut short) never panic or read out of bounds; when the decoder
/// takes one anyway (the damage decodes as valid codes), libjpeg takes it too and the
/// pixels are the same.
#[test]
fn damaged_files_fall_back_or_decode_exactly_as_libjpeg() {
    let originals: Vec<Vec<u8>> = [
        (SamplingFactor::F_2_2, None, ColorType::Rgb, false),
        (SamplingFactor::F_2_2, Some(3), ColorType::Rgb, false),
        (SamplingFactor::F_1_1, None, ColorType::Rgb, true),
        (SamplingFactor::F_2_1, Some(1), ColorType::Rgb, false),
        (SamplingFactor::F_1_1, Some(5), ColorType::Luma, false),
    ]
    .into_iter()
    .map(|(sampling, restart, colour, optimized)| {
        encode(&Case { width: 200, height: 150, colour, sampling, restart, optimized, quality: 90 })
    })
    .chain([mozjpeg_progressive(200, 150, (2, 2), false, true)])
    .collect();
    let mut damage = crate::damage::Damage::new(0x9E37_79B9_7F4A_7C15);
    let (mut taken, mut fell_back) = (0, 0);
    for original in &originals {
        let data_start = original.windows(2).position(|w| w == [0xFF, 0xDA]).expect("scan") + 14;
        for _ in 0..400 {
            let bytes = damage.copy(original, data_start);
            let scale = 1 + damage.next(4);
            match decode(&bytes, scale) {
                Ok(ours) => {
                    taken += 1;
                    let theirs = libjpeg_at(&bytes, scale).expect("libjpeg decodes what the new decoder takes");
                    assert!(ours.as_bytes() == theirs.as_bytes(), "a damaged file decoded differently at {scale}/8");
                }
                Err(_) => fell_back += 1,
            }
        }
    }
    assert_eq!(taken + fell_back, 2400);
    assert!(fell_back > 1000, "most damage is detected: {fell_back} fell back, {taken} taken");
}

/// Which coefficients each transform reads, as the decoder assumes when it skips the others'
/// symbols or leaves them out of the block it hands the transform: one alone (small or
/// large, of either sign) changes the output of a DC-only block exactly when it is marked read.
#[test]
fn each_transform_reads_exactly_the_coefficients_marked() {
    type Transform = fn(&[i16; 64], &[u16; 64]) -> Vec<u8>;
    let transforms: [(usize, Transform); 6] = [
        (2, |b, q| idct_2x2(b, q).to_vec()),
        (3, |b, q| idct_3x3(b, q).to_vec()),
        (4, |b, q| idct_4x4(b, q).to_vec()),
        (5, |b, q| idct_5x5(b, q).to_vec()),
        (6, |b, q| idct_6x6(b, q).to_vec()),
        (8, |b, q| idct_8x8(b, q).to_vec()),
    ];
    let quant = [4u16; 64];
    let mut dc_alone = [0i16; 64];
    dc_alone[0] = -20;
    for (side, transform) in transforms {
        let reads = transform_reads(side);
        let flat = transform(&dc_alone, &quant);
        for zigzag in 1..64 {
            let natural = super::huffman::NATURAL_ORDER[zigzag];
            let changes = [25, -25, 1000, -1000].iter().any(|&value| {
                let mut block = dc_alone;
                block[natural] = value;
                transform(&block, &quant) != flat
            });
            assert_eq!(changes, reads & 1 << zigzag != 0, "{side} x {side}, coefficient {zigzag} (zig-zag)");
        }
        assert_eq!(last_needed(side), 63 - reads.leading_zeros() as usize);
    }
    assert_eq!(transform_reads(1), 1, "1/8 reads the DC alone");
    assert_eq!(transform_reads(2).count_ones(), 25);
    assert_eq!(transform_reads(4).count_ones(), 49);
    assert_eq!((last_needed(3), last_needed(5), last_needed(6)), (12, 39, 51));
}

/// The inverse DCTs and upsampling against libjpeg's arithmetic at its extremes: the range
/// limit wraps modulo 1024 as libjpeg's table does, and a flat block is its DC.
#[test]
fn range_limit_and_idct_follow_libjpeg_at_the_extremes() {
    for (value, expected) in
        [(0, 128), (127, 255), (128, 255), (511, 255), (512, 0), (-128, 0), (-129, 0), (-513, 255), (1024, 128)]
    {
        assert_eq!(range_limit(value), expected, "{value}");
    }
    let mut block = [0i16; 64];
    block[0] = 40;
    let quant = [2u16; 64];
    assert_eq!(flat(&block, &quant), 138, "a flat block: 128 + 40 x 2 / 8");
    // Every transform of a block of DC alone gives that flat value everywhere, which is
    // why the decoder writes it without a transform.
    assert_eq!(idct_2x2(&block, &quant), [138; 4]);
    assert_eq!(idct_3x3(&block, &quant), [138; 9]);
    assert_eq!(idct_4x4(&block, &quant), [138; 16]);
    assert_eq!(idct_5x5(&block, &quant), [138; 25]);
    assert_eq!(idct_6x6(&block, &quant), [138; 36]);
    assert_eq!(idct_8x8(&block, &quant), [138; 64]);
    for dc in [-1024, -1023, -5, -1, 0, 1, 7, 1023] {
        let block = std::array::from_fn(|i| if i == 0 { dc } else { 0 });
        let quant = [3u16; 64];
        let value = flat(&block, &quant);
        assert_eq!(idct_3x3(&block, &quant), [value; 9], "DC {dc}");
        assert_eq!(idct_5x5(&block, &quant), [value; 25], "DC {dc}");
        assert_eq!(idct_6x6(&block, &quant), [value; 36], "DC {dc}");
        assert_eq!(idct_8x8(&block, &quant), [value; 64], "DC {dc}");
        assert_eq!(idct_4x4(&block, &quant), [value; 16], "DC {dc}");
    }
    block[1] = 30;
    let [left, right, ..] = idct_2x2(&block, &quant);
    assert!(left > right, "a positive first horizontal coefficient makes the left brighter");
    let row = idct_4x4(&block, &quant);
    assert!(row[0] > row[1] && row[1] > row[2] && row[2] > row[3], "and falls across a 4 x 4 row: {row:?}");
    // 3/4 of the nearer sample and 1/4 of the further, rounding down then up; edges kept.
    let mut upsampled = [0u8; 6];
    h2v1_fancy_upsample(&[0, 100, 200], &mut upsampled);
    assert_eq!(upsampled, [0, 25, 75, 125, 175, 200]);
}

/// A progressive file from `mozjpeg`: libjpeg's standard scan script, or mozjpeg's own
/// (scans chosen per image to be smallest, so bands and successive approximations vary).
fn mozjpeg_progressive(width: usize, height: usize, chroma: (u8, u8), grey: bool, optimized_scans: bool) -> Vec<u8> {
    let space = if grey { mozjpeg::ColorSpace::JCS_GRAYSCALE } else { mozjpeg::ColorSpace::JCS_RGB };
    let mut compress = mozjpeg::Compress::new(space);
    if optimized_scans {
        compress.set_scan_optimization_mode(mozjpeg::ScanMode::ScanPerComponent);
        compress.set_optimize_scans(true);
    } else {
        compress.set_fastest_defaults();
    }
    compress.set_progressive_mode();
    compress.set_size(width, height);
    compress.set_quality(88.0);
    if !grey {
        compress.set_chroma_sampling_pixel_sizes(chroma, chroma);
    }
    let pixels = pattern(width as u16, height as u16, if grey { 1 } else { 3 });
    let mut started = compress.start_compress(Vec::new()).expect("start");
    started.write_scanlines(&pixels).expect("pixels");
    started.finish().expect("finish")
}

/// Progressive files of every kind the encoders write: libjpeg's scan script and
/// mozjpeg's optimised ones (which split bands and approximations differently per image),
/// jpeg-encoder's (four AC bands a component, restart intervals), every common sampling,
/// grey, odd sizes: each must decode exactly as libjpeg does at every scale.
#[test]
fn progressive_files_decode_exactly_as_libjpeg() {
    let mut checked = 0;
    for (width, height) in [(1, 1), (17, 9), (64, 48), (301, 203)] {
        for chroma in [(1, 1), (2, 1), (2, 2)] {
            for optimized_scans in [false, true] {
                let bytes = mozjpeg_progressive(width, height, chroma, false, optimized_scans);
                let label =
                    format!("mozjpeg progressive {chroma:?} {width}x{height} optimised scans {optimized_scans}");
                assert!(read_structure(&bytes).expect("structure").progressive, "{label}");
                let taken = check_exact(&bytes, &label);
                assert!([1, 2, 3, 4].iter().all(|scale| taken.contains(scale)), "{label}: taken at {taken:?}");
                checked += 1;
            }
        }
        let bytes = mozjpeg_progressive(width, height, (1, 1), true, true);
        check_exact(&bytes, &format!("mozjpeg progressive grey {width}x{height}"));
        for sampling in SAMPLINGS {
            for restart in [None, Some(1), Some(5)] {
                let mut bytes = Vec::new();
                let mut encoder = Encoder::new(&mut bytes, 85);
                encoder.set_progressive(true);
                encoder.set_sampling_factor(sampling);
                if let Some(interval) = restart {
                    encoder.set_restart_interval(interval);
                }
                encoder
                    .encode(&pattern(width as u16, height as u16, 3), width as u16, height as u16, ColorType::Rgb)
                    .expect("encodes");
                check_exact(
                    &bytes,
                    &format!("jpeg-encoder progressive {sampling:?} {width}x{height} restart {restart:?}"),
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * (3 * 2 + 8 * 3));
}

/// libjpeg smooths the blocks of a progressive file whose first AC coefficients are not
/// all complete (`smoothing_ok`), as when the refinement scans are missing: such a file
/// falls back, and one cut after its last scan is still exact.
#[test]
fn a_progressive_file_libjpeg_would_smooth_falls_back() {
    let bytes = mozjpeg_progressive(200, 120, (2, 2), false, false);
    let structure = read_structure(&bytes).expect("structure");
    let scans: Vec<_> = structure.segments().iter().filter(|segment| segment.marker == 0xDA).collect();
    assert!(scans.len() >= 6, "libjpeg's script has {} scans", scans.len());
    // Without the last scan (luma's final refinement of coefficients 1 to 63): then without
    // the last three (the chroma's final refinements too).
    for dropped in [1, 3] {
        let first_dropped = scans[scans.len() - dropped].payload.start - 4;
        let mut cut = bytes[..first_dropped].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        assert_eq!(
            decode(&cut, 2).err(),
            Some(Fallback("block smoothing of incomplete coefficients")),
            "without the last {dropped} scans"
        );
        assert!(libjpeg_at(&cut, 2).is_some(), "libjpeg decodes it, smoothing");
    }
    check_exact(&bytes, "the whole file");
}

/// The benchmark's corpus of real photos (`scripts/photos.py`, which `make test` runs
/// first): every JPEG the decoder takes must decode exactly as libjpeg does, and every
/// baseline one must be taken.
#[test]
fn every_corpus_jpeg_the_decoder_takes_decodes_exactly_as_libjpeg() {
    let files = crate::corpus::corpus_jpegs();
    let (mut taken, mut baseline, mut progressive) = (0, 0, 0);
    for file in &files {
        let bytes = std::fs::read(file).expect("readable");
        let Ok(structure) = read_structure(&bytes) else { continue };
        let label = file.display().to_string();
        let scales = check_exact(&bytes, &label);
        if structure.progressive {
            progressive += 1;
        } else {
            baseline += 1;
        }
        if [1, 2, 3, 4].iter().all(|scale| scales.contains(scale)) {
            taken += 1;
        }
    }
    assert!(baseline >= 20, "the corpus has {baseline} baseline JPEGs");
    assert!(progressive >= 10, "the corpus has {progressive} progressive JPEGs");
    assert_eq!(taken, baseline + progressive);
}
