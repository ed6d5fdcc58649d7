//! Image files the tests build for themselves: a photo-like JPEG, and the hostile files a
//! real deployment meets (decompression bombs of every format, a JPEG libjpeg rejects
//! with a fatal error). Each is small on disk and built in well under a second.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

/// A photo-like image: smooth gradients with fine texture, so encoders have real work.
pub fn photo(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        let texture = ((x * 7 + y * 13) % 17) as u8;
        Rgb([(x * 255 / width) as u8 ^ texture, (y * 255 / height) as u8, ((x + y) % 256) as u8])
    });
    let mut bytes = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image).write_to(&mut bytes, format).expect("encodes");
    bytes.into_inner()
}

/// A flat 16-bit RGBA PNG: under 1 MB on disk, `width * height * 8` bytes decoded whole
/// (800 MB at 10000 x 10000), and as much again converted to 8 bits.
/// A 1200 x 600 JPEG of a skin-coloured disc of radius 100 at (1050, 300) on grey: a subject a
/// centred square crop (x 300 to 900) cuts off.
pub fn off_centre_face_jpeg() -> Vec<u8> {
    let image = RgbImage::from_fn(1200, 600, |x, y| {
        let (dx, dy) = (f64::from(x) - 1050.0, f64::from(y) - 300.0);
        if dx.hypot(dy) <= 100.0 { Rgb(SKIN) } else { Rgb([96, 110, 120]) }
    });
    let mut bytes = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image).write_to(&mut bytes, ImageFormat::Jpeg).expect("encodes");
    bytes.into_inner()
}

/// The disc's colour (L* 74, a* 11, b* 20).
pub const SKIN: [u8; 3] = [224, 172, 140];

pub fn flat_png_16_bit(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Sixteen);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().expect("header");
        let mut stream = writer.stream_writer().expect("stream");
        // Opaque mid-grey: R, G, B, A big-endian.
        let row: Vec<u8> = [0x80, 0x00, 0x80, 0x00, 0x80, 0x00, 0xFF, 0xFF].repeat(width as usize);
        for _ in 0..height {
            std::io::Write::write_all(&mut stream, &row).expect("row");
        }
        stream.finish().expect("finish");
    }
    bytes
}

/// A GIF whose logical screen is `width` x `height` with one 1 x 1 frame: a few dozen
/// bytes, and a full screen of RGBA to compose the frame onto.
pub fn gif_with_screen(width: u16, height: u16) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend(width.to_le_bytes());
    gif.extend(height.to_le_bytes());
    gif.extend([0x80, 0, 0]); // a global colour table of 2 entries
    gif.extend([0, 0, 0, 255, 255, 255]);
    gif.extend([0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // a 1 x 1 image at 0,0
    gif.extend([0x02, 0x02, 0x44, 0x01, 0x00]); // its LZW data
    gif.push(0x3B);
    gif
}

/// An animated WebP with a `width` x `height` canvas and one 1 x 1 lossless frame.
pub fn animated_webp_canvas(width: u32, height: u32) -> Vec<u8> {
    let frame = {
        let mut bytes = Cursor::new(Vec::new());
        DynamicImage::ImageRgba8(image::RgbaImage::new(1, 1)).write_to(&mut bytes, ImageFormat::WebP).expect("webp");
        let bytes = bytes.into_inner();
        assert_eq!(&bytes[12..16], b"VP8L", "the image crate writes lossless WebP");
        bytes[12..].to_vec() // the VP8L chunk, header included
    };
    let u24 = |v: u32| v.to_le_bytes()[..3].to_vec();
    let chunk = |name: &[u8], data: Vec<u8>| {
        let mut chunk = name.to_vec();
        chunk.extend(u32::try_from(data.len()).expect("small").to_le_bytes());
        let padded = data.len() % 2 == 1;
        chunk.extend(data);
        if padded {
            chunk.push(0);
        }
        chunk
    };
    let mut vp8x = vec![0x12, 0, 0, 0]; // animation and alpha
    vp8x.extend(u24(width - 1));
    vp8x.extend(u24(height - 1));
    let mut anmf = [u24(0), u24(0), u24(0), u24(0), u24(100)].concat();
    anmf.push(0);
    anmf.extend(frame);
    let body = [chunk(b"VP8X", vp8x), chunk(b"ANIM", vec![0, 0, 0, 0, 0, 0]), chunk(b"ANMF", anmf)].concat();
    let mut webp = b"RIFF".to_vec();
    webp.extend(u32::try_from(body.len() + 4).expect("small").to_le_bytes());
    webp.extend(b"WEBP");
    webp.extend(body);
    webp
}

/// A flat grey baseline JPEG of `width` x `height`, three components at 4:4:4, written by
/// hand with one-symbol Huffman tables (every block is "DC unchanged, end of block": two
/// zero bits), so 100 megapixels take about 1 MB. `scans` lists the components of each
/// scan: `[[1, 2, 3]]` is the usual interleaved file, which libjpeg decodes a row of MCUs
/// at a time; `[[1], [2], [3]]` puts each component in a scan of its own, and libjpeg then
/// buffers every coefficient of the image (600 MB at 100 megapixels) before it outputs a row.
pub fn flat_jpeg(width: u16, height: u16, scans: &[&[u8]]) -> Vec<u8> {
    let segment = |marker: u8, payload: Vec<u8>| {
        let mut segment = vec![0xFF, marker];
        segment.extend(u16::try_from(payload.len() + 2).expect("small").to_be_bytes());
        segment.extend(payload);
        segment
    };
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend(segment(0xDB, [vec![0], vec![1; 64]].concat())); // quantisation table 0: all ones
    let mut frame = vec![8];
    frame.extend(height.to_be_bytes());
    frame.extend(width.to_be_bytes());
    frame.push(3);
    for id in 1..=3 {
        frame.extend([id, 0x11, 0]);
    }
    jpeg.extend(segment(0xC0, frame));
    let one_symbol_table = |class_and_id: u8| {
        let mut table = vec![class_and_id, 1];
        table.extend([0; 15]); // one code of length 1
        table.push(0); // the symbol: DC category 0, or AC end of block
        table
    };
    jpeg.extend(segment(0xC4, [one_symbol_table(0x00), one_symbol_table(0x10)].concat()));
    let blocks = usize::from(width).div_ceil(8) * usize::from(height).div_ceil(8);
    for components in scans {
        let mut header = vec![u8::try_from(components.len()).expect("small")];
        for id in *components {
            header.extend([*id, 0x00]);
        }
        header.extend([0, 63, 0]);
        jpeg.extend(segment(0xDA, header));
        // Two zero bits a block; the last byte padded with ones, as the standard asks.
        let bits = blocks * components.len() * 2;
        jpeg.extend(std::iter::repeat_n(0u8, bits / 8));
        if bits % 8 != 0 {
            jpeg.push(0xFF >> (bits % 8));
            if jpeg.last() == Some(&0xFF) {
                jpeg.push(0);
            }
        }
    }
    jpeg.extend([0xFF, 0xD9]);
    jpeg
}

/// A JPEG whose scan names a component its frame does not have: libjpeg stops with a
/// fatal error ("Invalid component ID 9 in SOS"), which reaches the thumbnailer as an
/// unwind out of libjpeg's error callback.
pub fn jpeg_with_a_bad_component_id() -> Vec<u8> {
    flat_jpeg(64, 64, &[&[9]])
}

/// A HEIC fixture that `scripts/heic_fixtures.py` made (`make test` runs it first): a real
/// phone's photo or one made from the corpus, from `HEIC_FIXTURES` or `.bench/heic`.
pub fn heic_fixture(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("HEIC_FIXTURES").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.bench/heic"),
        std::path::PathBuf::from,
    );
    let path = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err}. Make the HEIC fixtures with `.venv/bin/python scripts/heic_fixtures.py` (make test does), or set HEIC_FIXTURES",
            path.display()
        )
    })
}
