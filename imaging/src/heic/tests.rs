//! HEIC end to end on real files (`scripts/heic_fixtures.py`): photos from iPhones, an
//! Android phone and a camera, and HEICs made from the corpus (plain, turned by `irot`,
//! Display P3), each thumbnail compared with libheif's own decode of the same file; and the
//! header sniffing, orientation and pricing on hand-made bytes.

use image::metadata::Orientation;
use image::{DynamicImage, GenericImageView as _};
use serde_json::Value;

use super::{HeicHeader, container_orientation, is_heic, memory_need};
use crate::corpus::heic_fixtures;
use crate::{BoxSize, Header, ImageKind, Limits, OutputFormat, Photo, Rejection, RejectionClass, make_thumbnails};

const LIMITS: Limits = Limits { max_pixels: 100_000_000, max_alloc_bytes: 400 * 1024 * 1024 };
const BOX: BoxSize = BoxSize { width: 256, height: 256 };
/// How far a thumbnail may be from libheif's decode, resized the same way: the mean difference
/// of all samples, in levels, and the share of samples off by more than [`FAR`]. The two
/// decoders upsample chroma differently (libde265 by nearest neighbour, `heic-decoder`
/// bilinearly) and round differently; the measured worst is 0.44 levels and no sample at all.
const MEAN_TOLERANCE: f64 = 1.0;
const FAR: u8 = 16;
const FAR_SHARE_TOLERANCE: f64 = 0.001;

struct Fixture {
    file: String,
    width: u32,
    height: u32,
    thumbnail: (u32, u32),
    unmanaged: bool,
    rejected: bool,
}

fn fixtures() -> Vec<Fixture> {
    let dir = heic_fixtures();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest")).expect("JSON");
    let number = |value: &Value| u32::try_from(value.as_u64().unwrap_or(0)).unwrap_or(0);
    manifest["fixtures"]
        .as_array()
        .expect("a list of fixtures")
        .iter()
        .map(|fixture| Fixture {
            file: fixture["file"].as_str().expect("a file").to_owned(),
            width: number(&fixture["width"]),
            height: number(&fixture["height"]),
            thumbnail: (number(&fixture["thumbnail"][0]), number(&fixture["thumbnail"][1])),
            unmanaged: fixture["unmanaged"].as_bool().unwrap_or(false),
            rejected: fixture["rejected"].as_bool().unwrap_or(false),
        })
        .collect()
}

fn read(name: &str) -> Vec<u8> {
    let path = heic_fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn thumbnail_of(photo: &Photo) -> DynamicImage {
    image::load_from_memory(&photo.thumbnails[0].bytes).expect("a PNG thumbnail")
}

/// The mean absolute difference of all samples, and the share off by more than [`FAR`].
fn difference(ours: &DynamicImage, reference: &DynamicImage) -> (f64, f64) {
    assert_eq!(ours.dimensions(), reference.dimensions());
    let (ours, reference) = (ours.to_rgb8(), reference.to_rgb8());
    let (mut sum, mut far) = (0u64, 0usize);
    for (a, b) in ours.as_raw().iter().zip(reference.as_raw()) {
        let off = a.abs_diff(*b);
        sum += u64::from(off);
        far += usize::from(off > FAR);
    }
    let samples = ours.as_raw().len().max(1) as f64;
    (sum as f64 / samples, far as f64 / samples)
}

#[test]
fn heic_photos_become_thumbnails_that_look_as_libheif_decodes_them() {
    let fixtures = fixtures();
    assert!(fixtures.iter().filter(|f| !f.rejected).count() >= 8, "the fixtures are all there");
    let mut table = Vec::new();
    for fixture in fixtures.iter().filter(|f| !f.rejected) {
        let bytes = read(&fixture.file);
        let header = Header::read(&bytes, LIMITS).unwrap_or_else(|err| panic!("{}: {err}", fixture.file));
        assert_eq!(header.format(), ImageKind::Heic, "{}", fixture.file);
        assert_eq!(header.dimensions(), (fixture.width, fixture.height), "{}: as displayed", fixture.file);
        let photo = make_thumbnails(&bytes, &[BOX], OutputFormat::Png, LIMITS)
            .unwrap_or_else(|err| panic!("{}: {err}", fixture.file));
        assert_eq!(
            (photo.facts.format, photo.facts.width, photo.facts.height),
            ("heic", fixture.width, fixture.height)
        );
        let ours = thumbnail_of(&photo);
        // Turned the way libheif turns it: a landscape box for a landscape photo.
        assert_eq!(ours.dimensions(), fixture.thumbnail, "{}", fixture.file);
        let reference = image::open(heic_fixtures().join(format!("{}.ref.png", fixture.file))).expect("reference");
        let (mean, far) = difference(&ours, &reference);
        table.push(format!("{:<28} mean {mean:.2} levels, {:.3}% off by more than {FAR}", fixture.file, far * 100.0));
        assert!(
            mean <= MEAN_TOLERANCE && far <= FAR_SHARE_TOLERANCE,
            "{}: mean {mean:.2} levels, {:.2}% off by more than {FAR}, against libheif's decode",
            fixture.file,
            far * 100.0
        );
    }
    eprintln!("{}", table.join("\n"));
}

#[test]
fn a_heic_declared_display_p3_is_converted_to_srgb_as_littlecms_converts_it() {
    let fixture = fixtures().into_iter().find(|f| f.file == "made-display-p3.heic").expect("the Display P3 fixture");
    assert!(fixture.unmanaged, "the fixture carries its profile");
    let photo = make_thumbnails(&read(&fixture.file), &[BOX], OutputFormat::Png, LIMITS).expect("a photo");
    assert_eq!(photo.facts.colour_profile.as_deref(), Some("sP3"));
    let ours = thumbnail_of(&photo);
    let unmanaged = image::open(heic_fixtures().join("made-display-p3.heic.unmanaged.png")).expect("unmanaged");
    let reference = image::open(heic_fixtures().join("made-display-p3.heic.ref.png")).expect("reference");
    let (managed_mean, _) = difference(&ours, &reference);
    let (unmanaged_mean, _) = difference(&ours, &unmanaged);
    // The test can tell: left as it is, the photo would be far further off.
    assert!(managed_mean <= MEAN_TOLERANCE, "{managed_mean:.2} levels from LittleCMS's sRGB");
    assert!(unmanaged_mean > 3.0 * MEAN_TOLERANCE, "{unmanaged_mean:.2} levels from the unconverted decode");
}

#[test]
fn the_containers_rotation_is_applied_once_and_reported_as_its_exif_number() {
    for (file, orientation, size) in [
        ("made-turned.heic", 6, (1440, 720)),
        ("iphone-8-plus-turned.heic", 6, (3024, 4032)),
        ("made-plain.heic", 1, (1600, 900)),
    ] {
        let photo = make_thumbnails(&read(file), &[BOX], OutputFormat::Png, LIMITS).expect(file);
        assert_eq!(
            (photo.facts.orientation, photo.facts.width, photo.facts.height),
            (orientation, size.0, size.1),
            "{file}"
        );
    }
}

#[test]
fn a_truncated_heic_is_a_recorded_rejection_that_names_the_format() {
    let err = make_thumbnails(&read("truncated.heic"), &[BOX], OutputFormat::Jpeg { quality: 80 }, LIMITS)
        .expect_err("cut at two thirds");
    assert_eq!(err.class(), RejectionClass::Corrupt, "{err}");
    assert!(err.to_string().starts_with("the image is corrupt or truncated: HEIC: "), "{err}");
}

#[test]
fn a_heic_over_the_limits_is_refused_from_its_header() {
    let bytes = read("iphone-13-pro.heic");
    let few_pixels = Limits { max_pixels: 1_000_000, ..LIMITS };
    assert!(matches!(
        Header::read(&bytes, few_pixels),
        Err(Rejection::TooManyPixels { width: 4032, height: 3024, .. })
    ));
    let little_memory = Limits { max_alloc_bytes: 64 * 1024 * 1024, ..LIMITS };
    let err = make_thumbnails(&bytes, &[BOX], OutputFormat::Jpeg { quality: 80 }, little_memory).expect_err("over");
    assert!(matches!(err, Rejection::TooMuchMemory { width: 4032, height: 3024, .. }), "{err}");
}

/// An `ftyp` box with `major` and `compatible` brands, then `rest`.
fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend(u32::try_from(16 + 4 * compatible.len()).unwrap_or(0).to_be_bytes());
    bytes.extend(b"ftyp");
    bytes.extend(major);
    bytes.extend([0; 4]);
    for brand in compatible {
        bytes.extend(*brand);
    }
    bytes
}

#[test]
fn heic_is_told_from_avif_and_the_rest_by_its_brands() {
    assert!(is_heic(&ftyp(b"heic", &[b"mif1", b"heic"])));
    assert!(is_heic(&ftyp(b"heix", &[])));
    assert!(is_heic(&ftyp(b"mif1", &[b"mif1", b"heic"])), "a generic HEIF brand with an HEVC one");
    assert!(!is_heic(&ftyp(b"avif", &[b"mif1", b"avif"])));
    assert!(!is_heic(&ftyp(b"mif1", &[b"avif"])), "HEIF with AV1 is AVIF");
    assert!(!is_heic(b"\xff\xd8\xff\xe0 a JPEG"));
    assert!(!is_heic(&ftyp(b"heic", &[])[..12]), "too short to hold a brand");
    assert_eq!(ImageKind::of_input(&ftyp(b"heic", &[])), Some(ImageKind::Heic));
}

/// A file whose `meta/iprp/ipco` holds `properties` (each a type and a body).
fn with_properties(properties: &[(&[u8; 4], u8)]) -> Vec<u8> {
    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(8 + body.len()).unwrap_or(0).to_be_bytes().to_vec();
        out.extend(kind);
        out.extend(body);
        out
    }
    let ipco: Vec<u8> = properties.iter().flat_map(|(kind, value)| boxed(kind, &[*value])).collect();
    let iprp = boxed(b"iprp", &boxed(b"ipco", &ipco));
    let mut meta_body = vec![0; 4]; // version and flags
    meta_body.extend(boxed(b"hdlr", b"pictpict"));
    meta_body.extend(iprp);
    let mut bytes = ftyp(b"heic", &[b"mif1"]);
    bytes.extend(boxed(b"meta", &meta_body));
    bytes
}

#[test]
fn irot_and_imir_are_the_exif_orientation_that_shows_the_picture_the_same_way() {
    for (properties, expected) in [
        (vec![], 1),
        (vec![(b"irot", 0)], 1),
        (vec![(b"irot", 3)], 6), // three quarters anticlockwise: a quarter clockwise
        (vec![(b"irot", 2)], 3),
        (vec![(b"irot", 1)], 8),
        (vec![(b"imir", 0)], 2), // about the vertical axis: left and right swap
        (vec![(b"imir", 1)], 4),
        // HEIF applies the rotation, then the mirroring.
        (vec![(b"irot", 1), (b"imir", 0)], 7),
        (vec![(b"irot", 3), (b"imir", 0)], 5),
    ] {
        let properties: Vec<(&[u8; 4], u8)> = properties.iter().map(|(kind, value)| (*kind, *value)).collect();
        let found = container_orientation(&with_properties(&properties));
        assert_eq!(found, Orientation::from_exif(expected).expect("1 to 8"), "{properties:?}");
    }
    assert_eq!(container_orientation(b"not even a box"), Orientation::NoTransforms);
}

#[test]
fn the_price_counts_the_planes_their_copies_and_the_rgb() {
    let header = |chroma_format, alpha, turned| HeicHeader { width: 4032, height: 3024, chroma_format, alpha, turned };
    let pixels = 4032 * 3024;
    // 4:2:0: 6 bytes of planes a pixel, twice, then RGB and a margin of 3 bytes.
    assert_eq!(memory_need(&header(1, false, false)), pixels * (12 + 3 + 3));
    assert_eq!(memory_need(&header(1, false, true)), pixels * (18 + 3 + 3), "a turned copy");
    assert_eq!(memory_need(&header(2, false, false)), pixels * (16 + 3 + 3), "4:2:2");
    assert_eq!(memory_need(&header(1, true, false)), pixels * (20 + 4 + 3), "an alpha plane, and RGBA");
    assert_eq!(memory_need(&header(0, false, false)), pixels * (8 + 3 + 3), "monochrome");
}

#[test]
fn a_phones_heic_gives_the_same_exif_facts_as_a_jpeg() {
    let photo = make_thumbnails(&read("iphone-13-pro.heic"), &[BOX], OutputFormat::Png, LIMITS).expect("a photo");
    let exif = &photo.facts.exif;
    assert_eq!((exif.camera_make.as_deref(), exif.camera_model.as_deref()), (Some("Apple"), Some("iPhone 13 Pro")));
    assert!(exif.captured_at.as_deref().is_some_and(|at| at.starts_with("20")), "{exif:?}");
}
