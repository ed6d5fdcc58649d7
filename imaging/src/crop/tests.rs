//! Synthetic photos with their subject off-centre: the `attention` and `entropy` crops must
//! keep it, the centre crop must not (so each case shows the difference).

use image::{DynamicImage, Rgb, RgbImage};

use super::{Crop, Region, crop_region, entropy_trim, window};

/// Where the subject is, in the image's pixels: left, top, right, bottom (exclusive).
type Bounds = (u32, u32, u32, u32);
/// A synthetic photo and where its subject is.
type Scene = (RgbImage, Bounds);

const GREY: Rgb<u8> = Rgb([128, 128, 128]);

fn flat(width: u32, height: u32, colour: Rgb<u8>) -> RgbImage {
    RgbImage::from_pixel(width, height, colour)
}

/// A disc of a light skin tone (L* 74, a* 11, b* 20) on a flat grey background.
fn face_disc(width: u32, height: u32, centre: (u32, u32), radius: u32) -> Scene {
    let mut image = flat(width, height, Rgb([96, 110, 120]));
    for (x, y, pixel) in image.enumerate_pixels_mut() {
        let (dx, dy) = (f64::from(x) - f64::from(centre.0), f64::from(y) - f64::from(centre.1));
        if dx.hypot(dy) <= f64::from(radius) {
            *pixel = Rgb([224, 172, 140]);
        }
    }
    (image, (centre.0 - radius, centre.1 - radius, centre.0 + radius + 1, centre.1 + radius + 1))
}

/// A saturated red square on grey.
fn saturated_object(width: u32, height: u32, left: u32, top: u32, side: u32) -> Scene {
    let mut image = flat(width, height, GREY);
    for y in top..top + side {
        for x in left..left + side {
            image.put_pixel(x, y, Rgb([220, 20, 30]));
        }
    }
    (image, (left, top, left + side, top + side))
}

/// A corner of fine grey detail (a deterministic pseudo-random texture) on a flat image.
fn detailed_corner(width: u32, height: u32, side: u32) -> Scene {
    let mut image = flat(width, height, Rgb([200, 200, 200]));
    let mut state = 0x2545_f491_u32;
    for y in height - side..height {
        for x in width - side..width {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let v = (state % 256) as u8;
            image.put_pixel(x, y, Rgb([v, v, v]));
        }
    }
    (image, (width - side, height - side, width, height))
}

fn contains(region: Region, (left, top, right, bottom): Bounds) -> bool {
    region.left <= f64::from(left)
        && region.top <= f64::from(top)
        && region.left + region.width >= f64::from(right)
        && region.top + region.height >= f64::from(bottom)
}

#[test]
fn smart_crops_keep_an_off_centre_subject_that_the_centre_crop_cuts_off() {
    let cases: Vec<(&str, Scene, (u32, u32))> = vec![
        ("a face-coloured disc at the right", face_disc(900, 450, (800, 200), 60), (256, 256)),
        ("a face-coloured disc at the left", face_disc(900, 450, (90, 300), 50), (256, 256)),
        ("a saturated object at the top of a portrait", saturated_object(400, 800, 120, 30, 110), (300, 300)),
        ("a saturated object at the bottom, 16:9 box", saturated_object(600, 900, 250, 700, 120), (320, 180)),
        ("a detailed corner", detailed_corner(900, 450, 150), (256, 256)),
    ];
    for (name, (image, subject), (box_w, box_h)) in cases {
        let image = DynamicImage::ImageRgb8(image);
        let centre = crop_region(&image, box_w, box_h, Crop::Centre);
        assert!(!contains(centre, subject), "{name}: the centre crop {centre:?} keeps the subject {subject:?}");
        for crop in [Crop::Attention, Crop::Entropy] {
            let region = crop_region(&image, box_w, box_h, crop);
            assert!(contains(region, subject), "{name}: the {crop} crop {region:?} cuts the subject {subject:?}");
            // The window has the box's aspect and lies inside the image.
            let aspect = region.width / region.height;
            assert!((aspect - f64::from(box_w) / f64::from(box_h)).abs() < 0.01, "{name}, {crop}: aspect {aspect}");
            assert!(region.left >= 0.0 && region.top >= 0.0, "{name}, {crop}: {region:?}");
            assert!(region.left + region.width <= f64::from(image.width()) + 1e-6, "{name}, {crop}: {region:?}");
            assert!(region.top + region.height <= f64::from(image.height()) + 1e-6, "{name}, {crop}: {region:?}");
        }
    }
}

#[test]
fn a_photo_with_nothing_to_choose_between_is_cropped_in_the_middle() {
    for crop in [Crop::Centre, Crop::Attention] {
        let image = DynamicImage::ImageRgb8(flat(800, 400, GREY));
        let region = crop_region(&image, 100, 100, crop);
        assert_eq!((region.width, region.height), (400.0, 400.0), "{crop}");
        assert!((region.left - 200.0).abs() <= 800.0 / 64.0, "{crop}: {region:?}");
        assert_eq!(region.top, 0.0, "{crop}");
    }
}

#[test]
fn a_photo_already_of_the_boxs_aspect_is_kept_whole() {
    let (image, _) = face_disc(400, 300, (350, 50), 30);
    let image = DynamicImage::ImageRgb8(image);
    for crop in [Crop::Centre, Crop::Attention, Crop::Entropy] {
        assert_eq!(
            crop_region(&image, 200, 150, crop),
            Region { left: 0.0, top: 0.0, width: 400.0, height: 300.0 },
            "{crop}"
        );
    }
}

#[test]
fn the_window_is_the_largest_of_the_boxs_aspect() {
    let cases = [
        ((900, 450), (256, 256), (450.0, 450.0)),
        ((400, 800), (300, 300), (400.0, 400.0)),
        ((600, 900), (320, 180), (600.0, 337.5)),
        ((1000, 100), (16, 9), (177.777_777_777_777_77, 100.0)),
        ((1, 1000), (100, 1), (1.0, 1.0)),
    ];
    for ((width, height), (box_w, box_h), expected) in cases {
        assert_eq!(window(width, height, box_w, box_h), expected, "{width}x{height} in {box_w}x{box_h}");
    }
}

#[test]
fn the_entropy_trim_takes_strips_from_the_duller_side() {
    // 10 x 4: a busy column band at x 6..10, flat elsewhere; keep 4 x 4.
    let mut grey = vec![50u8; 40];
    for y in 0..4 {
        for x in 6..10 {
            grey[y * 10 + x] = (x * 37 + y * 91) as u8;
        }
    }
    assert_eq!(entropy_trim(&grey, 10, 4, 4, 4), (6, 0));
    // Nothing to trim.
    assert_eq!(entropy_trim(&grey, 10, 4, 10, 4), (0, 0));
}
