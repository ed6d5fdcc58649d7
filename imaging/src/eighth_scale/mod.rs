//! A baseline JPEG decoded straight to N/8 scale, pixel for pixel as libjpeg-turbo decodes
//! it at that scale (the oracle tests compare the two byte for byte at every scale), in a
//! fraction of the time. (The module keeps its first scale's name.)
//!
//! libjpeg's inverse DCT at N/8 gives N x N pixels a block, and its transforms do not all
//! read the same coefficients. At 1/8 a block is its DC coefficient, dequantized and
//! descaled (`jpeg_idct_1x1`); the 3, 5 and 6-point transforms of `jidctint.c` read only
//! the top-left N x N; the 2 and 4-point ones of `jidctred.c` and the 8-point one read
//! rows and columns up to 7. libjpeg still decodes every coefficient a symbol at a time.
//! Here the coefficients after the last one a block's transform reads (in zig-zag order)
//! are skipped several symbols at a time through a table of whole symbols
//! (`huffman::SkipTable`), and never given a value: all the AC ones at 1/8, all but 12 at
//! 3/8.
//!
//! libjpeg gives a subsampled chroma component a larger inverse DCT instead of upsampling
//! it, while sizes stay whole: a 4:2:0 file's chroma gets `jpeg_idct_2x2` at 1/8,
//! `jpeg_idct_4x4` at 2/8, `jpeg_idct_6x6` at 3/8 and `jpeg_idct_islow` at 4/8 (the 10,
//! 12 and 14-point ones of 5/8 to 7/8, and 7/8's 7-point one, are not written here: such
//! files fall back). Each transform is libjpeg's step for step; a block of DC alone is flat
//! in all of them. Then upsampling: replication at 1/8 (libjpeg uses no fancy upsampling
//! there), from 2/8 a 4:2:2 file's chroma by libjpeg's `h2v1_fancy_upsample`; and the
//! colour conversion is libjpeg's own fixed-point tables (`jdcolor.c`). Upsampling that
//! libjpeg does across rows (fancy 4:4:0, and 4:2:0 at 8/8) falls back.
//!
//! A file whose one scan holds every component is converted a row of MCUs at a time, so
//! its planes never exist whole; components in scans of their own are kept whole until
//! the last scan. A progressive file's scans fill each component's whole coefficient
//! buffer, as libjpeg's do (`progressive`), and the inverse DCTs and conversion then run a
//! row of MCUs at a time.
//!
//! Only what libjpeg would decode the same way is taken: Huffman scans (SOF0, SOF1, or
//! progressive SOF2) of 8-bit samples, grey or YCbCr, with or without restart markers. Anything else, and any
//! damage (a bad code, a run past the block, missing data, a restart marker out of place),
//! is a [`Fallback`]: the caller hands the file to libjpeg, which decodes or refuses it as
//! before. Nothing here guesses.

mod huffman;
mod progressive;
#[cfg(test)]
mod tests;

use image::{DynamicImage, RgbImage};

use huffman::{BadData, BitReader, HuffmanTable, SkipTable};
use progressive::Coefficients;

use crate::jpeg::JpegStructure;

/// Why a file is left to libjpeg: what this decoder does not take, or damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback(pub &'static str);

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl From<BadData> for Fallback {
    fn from(_: BadData) -> Self {
        Fallback("damaged entropy-coded data")
    }
}

#[derive(Debug, Clone, Copy)]
struct FrameComponent {
    id: u8,
    h: usize,
    v: usize,
    quant_table: usize,
}

/// The tables and frame read so far, as they stand when the scan starts.
#[derive(Debug, Default)]
struct Header {
    width: usize,
    height: usize,
    components: Vec<FrameComponent>,
    dc_tables: [Option<HuffmanTable>; 4],
    ac_tables: [Option<HuffmanTable>; 4],
    quant_tables: [Option<[u16; 64]>; 4],
    restart_interval: usize,
}

/// The image of `bytes` at `scale`/8 (1 to 8) as 8-bit RGB (grey made RGB, as the libjpeg
/// path does). `structure` is the file's, from [`read_structure`](crate::jpeg::read_structure):
/// its walk of the markers (which has already refused a truncated file) is the one this
/// decoder reads its tables and scans from.
pub fn decode(bytes: &[u8], structure: &JpegStructure, scale: usize) -> Result<DynamicImage, Fallback> {
    if !(1..=8).contains(&scale) {
        return Err(Fallback("a scale other than 1/8 to 8/8"));
    }
    let mut header = Header::default();
    let mut planes: Vec<Plane> = Vec::new();
    // The image, when its one scan holds every component: converted a row of MCUs at a time.
    let mut streamed: Option<Vec<u8>> = None;
    // A progressive file's coefficients, every component's whole, until the last scan.
    let mut progressive: Option<Vec<Coefficients>> = None;
    for segment in structure.segments() {
        let payload = bytes.get(segment.payload.clone()).ok_or(Fallback("a broken marker structure"))?;
        match segment.marker {
            0xC0 | 0xC1 => read_frame(&mut header, payload)?,
            0xC2 => {
                read_frame(&mut header, payload)?;
                progressive = Some(Vec::new());
            }
            0xC4 => read_huffman_tables(&mut header, payload)?,
            0xDB => read_quant_tables(&mut header, payload)?,
            0xDD => {
                let &[high, low] = payload else { return Err(Fallback("a malformed restart interval")) };
                header.restart_interval = usize::from(u16::from_be_bytes([high, low]));
            }
            0xEE if payload.starts_with(b"Adobe") => return Err(Fallback("an Adobe colour transform marker")),
            0xE0..=0xEF | 0xFE => {}
            0xDA if progressive.is_some() => {
                let coefficients = progressive.as_mut().ok_or(Fallback("progressive"))?;
                if planes.is_empty() {
                    planes = planes_of(&header, scale)?;
                    *coefficients = Coefficients::for_planes(&planes);
                }
                let end =
                    progressive::decode_scan(&header, &mut planes, coefficients, bytes, payload, segment.payload.end)?;
                if end != segment.end {
                    return Err(Fallback("a scan that ends elsewhere than its markers say"));
                }
            }
            0xDA => {
                if planes.is_empty() {
                    planes = planes_of(&header, scale)?;
                    if usize::from(payload.first().copied().unwrap_or(0)) == header.components.len() {
                        check_coverage(&header, &planes, scale)?;
                        let interleaved = planes.len() > 1;
                        for plane in &mut planes {
                            // One row of MCUs: `v` block rows, one for a lone component's scan.
                            plane.band_block_rows = if interleaved { plane.v } else { 1 };
                            plane.samples = vec![0; plane.stride() * plane.band_block_rows * plane.block_side];
                        }
                        let (width, height) = output_size(&header, scale);
                        streamed = Some(vec![0; width * height * 3]);
                    }
                }
                let end = decode_scan(
                    &header,
                    &mut planes,
                    bytes,
                    payload,
                    segment.payload.end,
                    streamed.as_deref_mut(),
                    scale,
                )?;
                if end != segment.end {
                    return Err(Fallback("a scan that ends elsewhere than its markers say"));
                }
            }
            0xC6 | 0xCA | 0xCE => return Err(Fallback("progressive hierarchical or arithmetic-coded")),
            0xC3 | 0xC5 | 0xC7 | 0xC9 | 0xCB | 0xCC | 0xCD | 0xCF => {
                return Err(Fallback("arithmetic-coded, lossless or hierarchical"));
            }
            _ => return Err(Fallback("an unusual marker")),
        }
    }
    if planes.is_empty() || planes.iter().any(|plane| plane.quant.is_none()) {
        return Err(Fallback("a component without a scan"));
    }
    let (width, height) = output_size(&header, scale);
    if let Some(coefficients) = progressive {
        if progressive::libjpeg_smooths(&planes, &coefficients) {
            return Err(Fallback("block smoothing of incomplete coefficients"));
        }
        let rgb = inverse_transform(&header, &mut planes, &coefficients, scale)?;
        let image = RgbImage::from_raw(width as u32, height as u32, rgb).ok_or(Fallback("an image too large"))?;
        return Ok(DynamicImage::ImageRgb8(image));
    }
    let rgb = match streamed {
        Some(rgb) => rgb,
        None => {
            check_coverage(&header, &planes, scale)?;
            let mut rgb = vec![0u8; width * height * 3];
            Converter::new(&planes, width).rows(&planes, &mut rgb, 0..height);
            rgb
        }
    };
    let image = RgbImage::from_raw(width as u32, height as u32, rgb).ok_or(Fallback("an image too large"))?;
    Ok(DynamicImage::ImageRgb8(image))
}

fn read_frame(header: &mut Header, payload: &[u8]) -> Result<(), Fallback> {
    if !header.components.is_empty() {
        return Err(Fallback("a second frame header"));
    }
    let bad = Fallback("a malformed frame header");
    let &[precision, h1, h0, w1, w0, count, ref rest @ ..] = payload else { return Err(bad) };
    if precision != 8 {
        return Err(Fallback("not 8-bit samples"));
    }
    header.height = usize::from(u16::from_be_bytes([h1, h0]));
    header.width = usize::from(u16::from_be_bytes([w1, w0]));
    if header.height == 0 || header.width == 0 {
        return Err(Fallback("a height given later (DNL) or none"));
    }
    if !matches!(count, 1 | 3) || rest.len() != 3 * usize::from(count) {
        return Err(Fallback("neither grey nor three components"));
    }
    for c in rest.chunks_exact(3) {
        let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || c[2] > 3 {
            return Err(bad);
        }
        if header.components.iter().any(|other| other.id == c[0]) {
            return Err(bad);
        }
        header.components.push(FrameComponent { id: c[0], h, v, quant_table: usize::from(c[2]) });
    }
    // libjpeg takes three components with these ids and no JFIF or Adobe marker as RGB.
    if header.components.iter().map(|c| c.id).eq(*b"RGB") {
        return Err(Fallback("RGB components"));
    }
    Ok(())
}

fn read_huffman_tables(header: &mut Header, mut payload: &[u8]) -> Result<(), Fallback> {
    let bad = Fallback("a malformed Huffman table");
    while let Some((&class_and_id, rest)) = payload.split_first() {
        let counts: &[u8; 16] = rest.get(..16).and_then(|c| c.try_into().ok()).ok_or(bad)?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = rest.get(16..16 + total).ok_or(bad)?;
        let (is_dc, id) = match class_and_id {
            0x00..=0x03 => (true, usize::from(class_and_id)),
            0x10..=0x13 => (false, usize::from(class_and_id - 0x10)),
            _ => return Err(bad),
        };
        let table = HuffmanTable::new(counts, symbols, is_dc).ok_or(bad)?;
        if is_dc {
            header.dc_tables[id] = Some(table)
        } else {
            header.ac_tables[id] = Some(table)
        }
        payload = &rest[16 + total..];
    }
    Ok(())
}

fn read_quant_tables(header: &mut Header, mut payload: &[u8]) -> Result<(), Fallback> {
    let bad = Fallback("a malformed quantization table");
    while let Some((&precision_and_id, rest)) = payload.split_first() {
        let (wide, id) = (precision_and_id >> 4, usize::from(precision_and_id & 15));
        if wide > 1 || id > 3 {
            return Err(bad);
        }
        let size = if wide == 1 { 128 } else { 64 };
        let values = rest.get(..size).ok_or(bad)?;
        let mut zigzag = [0u16; 64];
        for (k, value) in zigzag.iter_mut().enumerate() {
            *value =
                if wide == 1 { u16::from_be_bytes([values[2 * k], values[2 * k + 1]]) } else { u16::from(values[k]) };
        }
        header.quant_tables[id] = Some(huffman::natural_order(&zigzag));
        payload = &rest[size..];
    }
    Ok(())
}

/// One component's samples at the output scale, as its scan fills them and the output reads them.
#[derive(Debug)]
struct Plane {
    /// Latched when the component's scan starts, as libjpeg does; `None` before.
    quant: Option<[u16; 64]>,
    h: usize,
    v: usize,
    width_in_blocks: usize,
    height_in_blocks: usize,
    /// Output samples per block side: the inverse DCT's size, 1, 2 or 4.
    block_side: usize,
    /// How many output pixels each sample covers, across and down.
    expand_x: usize,
    expand_y: usize,
    /// Upsampled 2:1 across by `h2v1_fancy_upsample` rather than replicated.
    fancy: bool,
    /// libjpeg's `downsampled_width`: the samples of a row that upsampling reads.
    downsampled_width: usize,
    /// The block rows `samples` holds (0: all of them), from `first_block_row`: a
    /// streamed scan holds one row of MCUs at a time.
    band_block_rows: usize,
    first_block_row: usize,
    samples: Vec<u8>,
}

impl Plane {
    fn stride(&self) -> usize {
        self.width_in_blocks * self.block_side
    }
}

fn max_sampling(header: &Header) -> (usize, usize) {
    let max_h = header.components.iter().map(|c| c.h).max().unwrap_or(1);
    let max_v = header.components.iter().map(|c| c.v).max().unwrap_or(1);
    (max_h, max_v)
}

/// Each component's geometry at `scale`/8, from the frame.
fn planes_of(header: &Header, scale: usize) -> Result<Vec<Plane>, Fallback> {
    if header.components.is_empty() {
        return Err(Fallback("a scan before the frame header"));
    }
    let (max_h, max_v) = max_sampling(header);
    let mut planes = Vec::with_capacity(header.components.len());
    for component in &header.components {
        // libjpeg's choice of inverse DCT size (`jpeg_core_output_dimensions`): a
        // subsampled component is scaled up by the DCT while that keeps sizes whole.
        let mut block_side = scale;
        while block_side < 8
            && (max_h * scale).is_multiple_of(component.h * block_side * 2)
            && (max_v * scale).is_multiple_of(component.v * block_side * 2)
        {
            block_side *= 2;
        }
        if !matches!(block_side, 1..=6 | 8) {
            return Err(Fallback("a component needing a 7, 10, 12 or 14-point inverse DCT"));
        }
        // libjpeg's `jinit_upsampler`: an input group of samples becomes max_h x max_v pixels.
        let (in_h, in_v) = (component.h * block_side / scale, component.v * block_side / scale);
        if max_h % in_h != 0 || max_v % in_v != 0 {
            return Err(Fallback("fractional sampling factors"));
        }
        let (expand_x, expand_y) = (max_h / in_h, max_v / in_v);
        let downsampled_width = (header.width * component.h * block_side).div_ceil(max_h * 8);
        // Fancy upsampling is on from 2/8 (libjpeg's `do_fancy`); 2:1 across only for a
        // component more than 2 samples wide, 2:1 down for any.
        let fancy = scale > 1 && (downsampled_width > 2 || (expand_x, expand_y) == (1, 2));
        if fancy && matches!((expand_x, expand_y), (1, 2) | (2, 2)) {
            return Err(Fallback("fancy upsampling across rows"));
        }
        let width_in_blocks = (header.width * component.h).div_ceil(max_h).div_ceil(8);
        let height_in_blocks = (header.height * component.v).div_ceil(max_v).div_ceil(8);
        planes.push(Plane {
            quant: None,
            h: component.h,
            v: component.v,
            width_in_blocks,
            height_in_blocks,
            block_side,
            expand_x,
            expand_y,
            fancy: fancy && (expand_x, expand_y) == (2, 1),
            downsampled_width,
            band_block_rows: 0,
            first_block_row: 0,
            samples: vec![0u8; width_in_blocks * height_in_blocks * block_side * block_side],
        });
    }
    Ok(planes)
}

/// One component as a scan codes it.
#[derive(Debug)]
struct ScanComponent<'t> {
    plane: usize,
    dc: &'t HuffmanTable,
    ac: &'t HuffmanTable,
    /// Present when the inverse DCT reads only some coefficients (DC alone at 1/8, the
    /// top-left 3 x 3 or 6 x 6 for `jidctint.c`'s 3 and 6-point transforms): those after
    /// `last` in zig-zag order are skipped, never given a value.
    skip: Option<&'t SkipTable>,
    last: usize,
    quant: [u16; 64],
    /// Blocks in the MCU, across and down, and in the image's last MCU column and row
    /// (libjpeg's `last_col_width`, `last_row_height`): the rest are padding.
    mcu_width: usize,
    mcu_height: usize,
    last_column_width: usize,
    last_row_height: usize,
    dc_predictor: i32,
}

/// Decodes one scan into its components' planes; returns where the marker after it starts.
fn decode_scan(
    header: &Header,
    planes: &mut [Plane],
    bytes: &[u8],
    payload: &[u8],
    data_start: usize,
    mut streamed: Option<&mut [u8]>,
    scale: usize,
) -> Result<usize, Fallback> {
    let count = usize::from(*payload.first().unwrap_or(&0));
    if count == 0 || payload.len() != 4 + 2 * count {
        return Err(Fallback("a malformed scan header"));
    }
    if payload[1 + 2 * count..] != [0, 63, 0] {
        return Err(Fallback("not a sequential scan"));
    }
    let interleaved = count > 1;
    let selectors: Vec<&[u8]> = payload[1..1 + 2 * count].chunks_exact(2).collect();
    let missing = Fallback("a table the scan uses is not defined");
    // One skip table per AC table that a component reading only some coefficients uses
    // (Cb and Cr share theirs).
    let mut skip_tables: [Option<SkipTable>; 4] = Default::default();
    for selector in &selectors {
        let id = usize::from(selector[1] & 15);
        let index = header.components.iter().position(|c| c.id == selector[0]);
        let skips = index.is_some_and(|i| huffman::last_needed(planes[i].block_side) < 63);
        if skips && skip_tables.get(id).is_some_and(Option::is_none) {
            let ac = header.ac_tables.get(id).and_then(Option::as_ref).ok_or(missing)?;
            skip_tables[id] = Some(SkipTable::new(ac));
        }
    }
    let mut scan: Vec<ScanComponent<'_>> = Vec::with_capacity(count);
    for selector in selectors {
        let index = header.components.iter().position(|c| c.id == selector[0]);
        // Components come in frame order, each in one scan only.
        let in_order = scan.last().is_none_or(|last| index > Some(last.plane));
        let Some(index) = index.filter(|&i| in_order && planes[i].quant.is_none()) else {
            return Err(Fallback("scan components out of order or repeated"));
        };
        let dc = header.dc_tables.get(usize::from(selector[1] >> 4)).and_then(Option::as_ref).ok_or(missing)?;
        let ac_id = usize::from(selector[1] & 15);
        let ac = header.ac_tables.get(ac_id).and_then(Option::as_ref).ok_or(missing)?;
        let quant = header.quant_tables[header.components[index].quant_table].ok_or(missing)?;
        let plane = &mut planes[index];
        plane.quant = Some(quant);
        let (mcu_width, mcu_height) = if interleaved { (plane.h, plane.v) } else { (1, 1) };
        let last = |blocks: usize, per_mcu: usize| match blocks % per_mcu {
            0 => per_mcu,
            partial => partial,
        };
        scan.push(ScanComponent {
            plane: index,
            dc,
            ac,
            skip: skip_tables[ac_id].as_ref().filter(|_| huffman::last_needed(plane.block_side) < 63),
            last: huffman::last_needed(plane.block_side),
            quant,
            mcu_width,
            mcu_height,
            last_column_width: last(plane.width_in_blocks, mcu_width),
            last_row_height: last(plane.height_in_blocks, mcu_height),
            dc_predictor: 0,
        });
    }
    if interleaved && scan.iter().map(|c| c.mcu_width * c.mcu_height).sum::<usize>() > 10 {
        return Err(Fallback("more than 10 blocks in an MCU"));
    }
    let (mcus_x, mcus_y) = if interleaved {
        let (max_h, max_v) = max_sampling(header);
        (header.width.div_ceil(8 * max_h), header.height.div_ceil(8 * max_v))
    } else {
        (planes[scan[0].plane].width_in_blocks, planes[scan[0].plane].height_in_blocks)
    };
    let mut walk = IntervalWalk::new(header, bytes, data_start, mcus_x * mcus_y)?;
    let (width, height) = output_size(header, scale);
    // Output rows per row of MCUs: a lone component's scan has rows of single blocks.
    let rows_per_mcu = if interleaved { max_sampling(header).1 * scale } else { planes[0].block_side };
    let mut converter = streamed.is_some().then(|| Converter::new(planes, width));
    for mcu_y in 0..mcus_y {
        for plane in planes.iter_mut().filter(|plane| plane.band_block_rows > 0) {
            plane.first_block_row = mcu_y * plane.band_block_rows;
        }
        for mcu_x in 0..mcus_x {
            if walk.next_mcu()? {
                scan.iter_mut().for_each(|component| component.dc_predictor = 0);
            }
            let edges = (mcu_x + 1 == mcus_x, mcu_y + 1 == mcus_y);
            for component in &mut scan {
                let reader = &mut walk.reader;
                decode_mcu_blocks(reader, component, &mut planes[component.plane], (mcu_x, mcu_y), edges)?;
            }
        }
        if let (Some(rgb), Some(converter)) = (streamed.as_deref_mut(), converter.as_mut()) {
            let rows = (mcu_y * rows_per_mcu).min(height)..((mcu_y + 1) * rows_per_mcu).min(height);
            converter.rows(planes, rgb, rows);
        }
    }
    walk.finish()
}

/// Decodes one component's blocks of one MCU. Blocks past the component's edge (padding
/// of the last MCU column or row) are decoded and dropped, as libjpeg's `decompress_onepass`.
#[inline(always)]
fn decode_mcu_blocks(
    reader: &mut BitReader<'_>,
    component: &mut ScanComponent<'_>,
    plane: &mut Plane,
    (mcu_x, mcu_y): (usize, usize),
    (last_column, last_row): (bool, bool),
) -> Result<(), Fallback> {
    let useful_width = if last_column { component.last_column_width } else { component.mcu_width };
    let useful_height = if last_row { component.last_row_height } else { component.mcu_height };
    let stride = plane.stride();
    for y in 0..component.mcu_height {
        for x in 0..component.mcu_width {
            let difference = huffman::dc_difference(reader, component.dc)?;
            // libjpeg keeps the predictor in an int with wrapping arithmetic and stores
            // the coefficient in 16 bits.
            component.dc_predictor = component.dc_predictor.wrapping_add(difference);
            let dc = component.dc_predictor as i16;
            let (column, row) = (mcu_x * component.mcu_width + x, mcu_y * component.mcu_height + y);
            let kept = x < useful_width && y < useful_height;
            let row = row - plane.first_block_row;
            let side = plane.block_side;
            if side == 1 {
                let skip = component.skip.ok_or(Fallback("no skip table"))?;
                huffman::skip_ac(reader, component.ac, skip, 0)?;
                if kept {
                    let sample = plane.samples.get_mut(row * stride + column).ok_or(Fallback("a block outside"))?;
                    *sample = idct_1x1(dc, component.quant[0]);
                }
            } else {
                let mut block = [0i16; 64];
                block[0] = dc;
                let has_ac = match component.skip {
                    Some(skip) => huffman::decode_ac_then_skip(reader, component.ac, skip, &mut block, component.last)?,
                    None => huffman::decode_ac(reader, component.ac, &mut block)?,
                };
                if kept {
                    write_block(plane, &component.quant, &block, has_ac, row, column)?;
                }
            }
        }
    }
    Ok(())
}

/// Writes one block's inverse DCT at its place in the plane (`row` counted from the
/// plane's first block row); `has_ac` false when the block is its DC alone.
#[inline(always)]
fn write_block(
    plane: &mut Plane,
    quant: &[u16; 64],
    block: &[i16; 64],
    has_ac: bool,
    row: usize,
    column: usize,
) -> Result<(), Fallback> {
    let (side, stride) = (plane.block_side, plane.stride());
    let samples = &mut plane.samples;
    let at = row * side * stride + column * side;
    // A block of DC alone is flat in every one of libjpeg's transforms.
    match side {
        _ if !has_ac => store::<1, 1>(samples, at, stride, side, &[flat(block, quant)]),
        1 => store::<1, 1>(samples, at, stride, side, &[idct_1x1(block[0], quant[0])]),
        2 => store::<2, 4>(samples, at, stride, side, &idct_2x2(block, quant)),
        3 => store::<3, 9>(samples, at, stride, side, &idct_3x3(block, quant)),
        4 => store::<4, 16>(samples, at, stride, side, &idct_4x4(block, quant)),
        5 => store::<5, 25>(samples, at, stride, side, &idct_5x5(block, quant)),
        6 => store::<6, 36>(samples, at, stride, side, &idct_6x6(block, quant)),
        _ => store::<8, 64>(samples, at, stride, side, &idct_8x8(block, quant)),
    }
}

/// Writes one block's `N` x `N` inverse DCT (`pixels`, `NN` of them) at `at` in a plane of
/// `stride`; a single pixel (`N` = 1) is a flat block and fills all `side` x `side`.
#[inline(always)]
fn store<const N: usize, const NN: usize>(
    samples: &mut [u8],
    at: usize,
    stride: usize,
    side: usize,
    pixels: &[u8; NN],
) -> Result<(), Fallback> {
    let outside = Fallback("a block outside");
    if N == 1 {
        for dy in 0..side {
            samples.get_mut(at + dy * stride..at + dy * stride + side).ok_or(outside)?.fill(pixels[0]);
        }
        return Ok(());
    }
    for (dy, line) in pixels.chunks_exact(N).enumerate() {
        let start = at + dy * stride;
        let target: &mut [u8; N] = samples.get_mut(start..start + N).and_then(|s| s.try_into().ok()).ok_or(outside)?;
        target.copy_from_slice(line);
    }
    Ok(())
}

/// A scan's restart intervals, walked an MCU at a time: the reader of the current one.
struct IntervalWalk<'a> {
    bytes: &'a [u8],
    intervals: std::vec::IntoIter<Interval>,
    reader: BitReader<'a>,
    /// The current interval's data in bytes (stuffing not counted), and its MCUs not yet begun.
    data_bytes: usize,
    left: usize,
    per_interval: usize,
    started: bool,
    /// Where the marker after the scan starts.
    end: usize,
}

impl<'a> IntervalWalk<'a> {
    /// The scan whose entropy-coded data starts at `data_start`, of `total_mcus` MCUs: its
    /// restart markers must match the restart interval.
    fn new(header: &Header, bytes: &'a [u8], data_start: usize, total_mcus: usize) -> Result<Self, Fallback> {
        let entropy = read_entropy(bytes, data_start)?;
        let per_interval = if header.restart_interval == 0 { total_mcus } else { header.restart_interval };
        if entropy.intervals.len() != total_mcus.div_ceil(per_interval).max(1) {
            return Err(Fallback("restart markers that do not match the restart interval"));
        }
        let reader = BitReader::new(&[]);
        let intervals = entropy.intervals.into_iter();
        Ok(Self { bytes, intervals, reader, data_bytes: 0, left: 0, per_interval, started: false, end: entropy.end })
    }

    /// Before each MCU: whether it starts an interval (the decoder's state resets), the
    /// previous one then checked read to its end.
    fn next_mcu(&mut self) -> Result<bool, Fallback> {
        let restarted = self.left == 0;
        if restarted {
            if self.started {
                finish_interval(&self.reader, self.data_bytes)?;
            }
            let interval = self.intervals.next().ok_or(Fallback("missing restart intervals"))?;
            self.reader = BitReader::new(&self.bytes[interval.start..interval.end]);
            (self.data_bytes, self.left, self.started) =
                (interval.end - interval.start - interval.stuffed, self.per_interval, true);
        }
        self.left -= 1;
        Ok(restarted)
    }

    /// After the last MCU: the last interval read to its end; where the next marker starts.
    fn finish(self) -> Result<usize, Fallback> {
        finish_interval(&self.reader, self.data_bytes)?;
        Ok(self.end)
    }
}

/// An interval's data (`end` bytes, stuffing not counted) must be read to its last byte,
/// whose unused bits are padding.
fn finish_interval(reader: &BitReader<'_>, end: usize) -> Result<(), Fallback> {
    let consumed = reader.consumed_bits();
    if consumed > end * 8 {
        return Err(Fallback("entropy-coded data that ends too soon"));
    }
    if end * 8 - consumed >= 8 {
        return Err(Fallback("entropy-coded data longer than the image"));
    }
    Ok(())
}

/// Where a scan's restart intervals lie in the file, and where the marker after it starts.
#[derive(Debug)]
struct Entropy {
    intervals: Vec<Interval>,
    end: usize,
}

/// One restart interval's bytes in the file (up to the marker after it), and how many of
/// them are stuffed zero bytes.
#[derive(Debug)]
struct Interval {
    start: usize,
    end: usize,
    stuffed: usize,
}

/// Finds the scan's restart intervals and its end, and checks what lies between: a 0xFF
/// inside the data must be followed by a stuffed zero or the next restart marker in
/// sequence.
fn read_entropy(bytes: &[u8], start: usize) -> Result<Entropy, Fallback> {
    let mut intervals = Vec::new();
    let (mut interval_start, mut stuffed, mut next_restart, mut at) = (start, 0, 0u8, start);
    loop {
        let rest = bytes.get(at..).unwrap_or(&[]);
        let Some(offset) = memchr::memchr(0xFF, rest) else {
            return Err(Fallback("a scan without an end"));
        };
        at += offset;
        match bytes.get(at + 1) {
            Some(0x00) => {
                stuffed += 1;
                at += 2;
            }
            Some(&marker @ 0xD0..=0xD7) => {
                if marker != 0xD0 + next_restart {
                    return Err(Fallback("a restart marker out of sequence"));
                }
                next_restart = (next_restart + 1) % 8;
                intervals.push(Interval { start: interval_start, end: at, stuffed });
                (interval_start, stuffed) = (at + 2, 0);
                at += 2;
            }
            Some(0xFF) => return Err(Fallback("fill bytes inside the entropy-coded data")),
            Some(_) => {
                intervals.push(Interval { start: interval_start, end: at, stuffed });
                return Ok(Entropy { intervals, end: at });
            }
            None => return Err(Fallback("a scan without an end")),
        }
    }
}

/// libjpeg's range limit after the inverse DCT (`prepare_range_limit_table`, indexed with
/// `RANGE_MASK`): values wrap modulo 1024, then clamp to the sample range.
#[inline(always)]
fn range_limit(value: i32) -> u8 {
    IDCT_RANGE_LIMIT[(value & 1023) as usize]
}

static IDCT_RANGE_LIMIT: [u8; 1024] = {
    let mut table = [0u8; 1024];
    let mut i = 0;
    while i < 1024 {
        let wrapped = if i < 512 { i as i32 } else { i as i32 - 1024 };
        table[i] = (if wrapped < -128 {
            0
        } else if wrapped > 127 {
            255
        } else {
            wrapped + 128
        }) as u8;
        i += 1;
    }
    table
};

/// `jpeg_idct_1x1`: the block's average, its DC coefficient dequantized over 8.
#[inline(always)]
fn idct_1x1(dc: i16, quant: u16) -> u8 {
    let dequantized = i64::from(dc) * i64::from(quant);
    range_limit(((dequantized + 4) >> 3) as i32)
}

/// `jidctred.c`'s scaling for 8-bit samples.
const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;

/// libjpeg's `DESCALE`: a right shift that rounds.
#[inline(always)]
fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// A reduced inverse DCT's every pixel when the block has only its DC term (both passes'
/// shortcuts).
#[inline(always)]
fn flat(block: &[i16; 64], quant: &[u16; 64]) -> u8 {
    let column = (i64::from(block[0]) * i64::from(quant[0])) << PASS1_BITS;
    range_limit(descale(column, PASS1_BITS + 3) as i32)
}

/// `jpeg_idct_2x2` of libjpeg-turbo's `jidctred.c` (8-bit samples, 64-bit `JLONG`): the
/// even part is the DC term, the odd part coefficients 1, 3, 5 and 7 of rows and columns 0,
/// 1, 3, 5 and 7. Its shortcuts for columns and rows without odd terms give the same values
/// as the full computation (a flat value shifted up, then descaled back), so only the
/// whole-block one (`has_ac` false: DC alone) is kept; the rest runs without branches.
#[inline(always)]
fn idct_2x2(block: &[i16; 64], quant: &[u16; 64]) -> [u8; 4] {
    // FIX(0.720959822), FIX(0.850430095), FIX(1.272758580), FIX(3.624509785).
    let odd = |c7: i64, c5: i64, c3: i64, c1: i64| c7 * -5906 + c5 * 6967 + c3 * -10426 + c1 * 29692;
    let mut workspace = [[0i64; 5]; 2];
    for (i, column) in [0, 1, 3, 5, 7].into_iter().enumerate() {
        let at = |row: usize| i64::from(block[row * 8 + column]) * i64::from(quant[row * 8 + column]);
        let even = at(0) << (CONST_BITS + 2);
        let odd = odd(at(7), at(5), at(3), at(1));
        workspace[0][i] = i64::from(descale(even + odd, CONST_BITS - PASS1_BITS + 2) as i32);
        workspace[1][i] = i64::from(descale(even - odd, CONST_BITS - PASS1_BITS + 2) as i32);
    }
    let mut out = [0u8; 4];
    for (pair, w) in out.chunks_exact_mut(2).zip(workspace) {
        let even = w[0] << (CONST_BITS + 2);
        let odd = odd(w[4], w[3], w[2], w[1]);
        let shift = CONST_BITS + PASS1_BITS + 3 + 2;
        pair[0] = range_limit(descale(even + odd, shift) as i32);
        pair[1] = range_limit(descale(even - odd, shift) as i32);
    }
    out
}

/// `jpeg_idct_4x4` of libjpeg-turbo's `jidctred.c` (8-bit samples, 64-bit `JLONG`), which
/// reads every row and column but 4. Unlike [`idct_2x2`] it keeps libjpeg's shortcuts for a
/// column or row of DC alone: they give the same values, and at 4/8 most columns of a
/// photo's blocks are such (about 2% of a baseline file's decode at 1024).
#[inline(always)]
fn idct_4x4(block: &[i16; 64], quant: &[u16; 64]) -> [u8; 16] {
    // FIX(1.847759065), FIX(0.765366865); the odd part's FIX(0.211164243) to FIX(2.562915447).
    let even = |c0: i64, c2: i64, c6: i64| {
        let (tmp0, tmp2) = (c0 << (CONST_BITS + 1), c2 * 15137 + c6 * -6270);
        (tmp0 + tmp2, tmp0 - tmp2)
    };
    let odd = |z1: i64, z2: i64, z3: i64, z4: i64| {
        (z1 * -1730 + z2 * 11893 + z3 * -17799 + z4 * 8697, z1 * -4176 + z2 * -4926 + z3 * 7373 + z4 * 20995)
    };
    let mut workspace = [0i32; 32];
    for column in [0, 1, 2, 3, 5, 6, 7] {
        let at = |row: usize| i64::from(block[row * 8 + column]) * i64::from(quant[row * 8 + column]);
        // A column of DC alone (most of them) is that DC, shifted: libjpeg's shortcut,
        // taken for speed; the whole computation gives the same.
        if [1, 2, 3, 5, 6, 7].iter().all(|&row| block[row * 8 + column] == 0) {
            let dc = (at(0) << PASS1_BITS) as i32;
            for row in 0..4 {
                workspace[row * 8 + column] = dc;
            }
            continue;
        }
        let (tmp10, tmp12) = even(at(0), at(2), at(6));
        let (tmp0, tmp2) = odd(at(7), at(5), at(3), at(1));
        let shift = CONST_BITS - PASS1_BITS + 1;
        workspace[column] = descale(tmp10 + tmp2, shift) as i32;
        workspace[24 + column] = descale(tmp10 - tmp2, shift) as i32;
        workspace[8 + column] = descale(tmp12 + tmp0, shift) as i32;
        workspace[16 + column] = descale(tmp12 - tmp0, shift) as i32;
    }
    let mut out = [0u8; 16];
    for (row, line) in out.chunks_exact_mut(4).enumerate() {
        let w = |i: usize| i64::from(workspace[row * 8 + i]);
        if [1, 2, 3, 5, 6, 7].iter().all(|&i| workspace[row * 8 + i] == 0) {
            line.fill(range_limit(descale(w(0), PASS1_BITS + 3) as i32));
            continue;
        }
        let (tmp10, tmp12) = even(w(0), w(2), w(6));
        let (tmp0, tmp2) = odd(w(7), w(5), w(3), w(1));
        let shift = CONST_BITS + PASS1_BITS + 3 + 1;
        line[0] = range_limit(descale(tmp10 + tmp2, shift) as i32);
        line[3] = range_limit(descale(tmp10 - tmp2, shift) as i32);
        line[1] = range_limit(descale(tmp12 + tmp0, shift) as i32);
        line[2] = range_limit(descale(tmp12 - tmp0, shift) as i32);
    }
    out
}

/// libjpeg's `FIX`: a constant in 13-bit fixed point, rounded (its `FIX(0.707106781)` is
/// `FRAC_1_SQRT_2`'s, 5793).
const fn fix(x: f64) -> i64 {
    (x * (1 << CONST_BITS) as f64 + 0.5) as i64
}

/// `jpeg_idct_3x3` of libjpeg-turbo's `jidctint.c`, which reads only the top-left 3 x 3
/// coefficients.
#[inline(always)]
fn idct_3x3(block: &[i16; 64], quant: &[u16; 64]) -> [u8; 9] {
    let at = |row: usize, column: usize| i64::from(block[row * 8 + column]) * i64::from(quant[row * 8 + column]);
    // Returns the three outputs of one 3-point transform with the rounding `fudge` added.
    let three = |c0: i64, c1: i64, c2: i64, fudge: i64| {
        let tmp0 = (c0 << CONST_BITS) + fudge;
        let tmp12 = c2 * fix(std::f64::consts::FRAC_1_SQRT_2);
        let (tmp10, tmp2) = (tmp0 + tmp12, tmp0 - tmp12 - tmp12);
        let tmp0 = c1 * fix(1.224744871);
        [tmp10 + tmp0, tmp2, tmp10 - tmp0]
    };
    let mut workspace = [0i64; 9];
    for column in 0..3 {
        let values = three(at(0, column), at(1, column), at(2, column), 1 << (CONST_BITS - PASS1_BITS - 1));
        for (row, value) in values.into_iter().enumerate() {
            workspace[row * 3 + column] = i64::from((value >> (CONST_BITS - PASS1_BITS)) as i32);
        }
    }
    let mut out = [0u8; 9];
    for (line, w) in out.chunks_exact_mut(3).zip(workspace.chunks_exact(3)) {
        let values = three(w[0] + (1 << (PASS1_BITS + 2)), w[1], w[2], 0);
        for (pixel, value) in line.iter_mut().zip(values) {
            *pixel = range_limit((value >> (CONST_BITS + PASS1_BITS + 3)) as i32);
        }
    }
    out
}

/// `jpeg_idct_5x5` of libjpeg-turbo's `jidctint.c`, which reads only the top-left 5 x 5
/// coefficients.
#[inline(always)]
fn idct_5x5(block: &[i16; 64], quant: &[u16; 64]) -> [u8; 25] {
    let at = |row: usize, column: usize| i64::from(block[row * 8 + column]) * i64::from(quant[row * 8 + column]);
    // One 5-point transform of `c` with the rounding `fudge`, descaled by `shift`.
    let five = |c: [i64; 5], fudge: i64, shift: u32| {
        let tmp12 = (c[0] << CONST_BITS) + fudge;
        let z1 = (c[2] + c[4]) * fix(0.790569415);
        let z2 = (c[2] - c[4]) * fix(0.353553391);
        let z3 = tmp12 + z2;
        let (tmp10, tmp11, tmp12) = (z3 + z1, z3 - z1, tmp12 - (z2 << 2));
        let z1 = (c[1] + c[3]) * fix(0.831253876);
        let tmp0 = z1 + c[1] * fix(0.513743148);
        let tmp1 = z1 - c[3] * fix(2.176250899);
        [tmp10 + tmp0, tmp11 + tmp1, tmp12, tmp11 - tmp1, tmp10 - tmp0].map(|value| value >> shift)
    };
    let mut workspace = [0i64; 25];
    for column in 0..5 {
        let c = std::array::from_fn(|row| at(row, column));
        let values = five(c, 1 << (CONST_BITS - PASS1_BITS - 1), CONST_BITS - PASS1_BITS);
        for (row, value) in values.into_iter().enumerate() {
            workspace[row * 5 + column] = i64::from(value as i32);
        }
    }
    let mut out = [0u8; 25];
    for (line, w) in out.chunks_exact_mut(5).zip(workspace.chunks_exact(5)) {
        let c = [w[0] + (1 << (PASS1_BITS + 2)), w[1], w[2], w[3], w[4]];
        for (pixel, value) in line.iter_mut().zip(five(c, 0, CONST_BITS + PASS1_BITS + 3)) {
            *pixel = range_limit(value as i32);
        }
    }
    out
}

/// `jpeg_idct_6x6` of libjpeg-turbo's `jidctint.c`, which reads only the top-left 6 x 6
/// coefficients.
#[inline(always)]
fn idct_6x6(block: &[i16; 64], quant: &[u16; 64]) -> [u8; 36] {
    let at = |row: usize, column: usize| i64::from(block[row * 8 + column]) * i64::from(quant[row * 8 + column]);
    // One 6-point transform of `c` with the rounding `fudge`, descaled for the column pass
    // (whose middle outputs libjpeg descales before adding the odd term) or the row pass.
    let six = |c: [i64; 6], fudge: i64, column_pass: bool| {
        let shift = if column_pass { CONST_BITS - PASS1_BITS } else { CONST_BITS + PASS1_BITS + 3 };
        let tmp0 = (c[0] << CONST_BITS) + fudge;
        let tmp10 = c[4] * fix(std::f64::consts::FRAC_1_SQRT_2);
        let tmp1 = tmp0 + tmp10;
        let tmp11 = tmp0 - tmp10 - tmp10;
        let tmp0 = c[2] * fix(1.224744871);
        let (tmp10, tmp12) = (tmp1 + tmp0, tmp1 - tmp0);
        let (z1, z2, z3) = (c[1], c[3], c[5]);
        let tmp1 = (z1 + z3) * fix(0.366025404);
        let tmp0 = tmp1 + ((z1 + z2) << CONST_BITS);
        let tmp2 = tmp1 + ((z3 - z2) << CONST_BITS);
        let (middle_plus, middle_minus) = if column_pass {
            let (tmp11, tmp1) = (tmp11 >> shift, (z1 - z2 - z3) << PASS1_BITS);
            (tmp11 + tmp1, tmp11 - tmp1)
        } else {
            let tmp1 = (z1 - z2 - z3) << CONST_BITS;
            ((tmp11 + tmp1) >> shift, (tmp11 - tmp1) >> shift)
        };
        [
            (tmp10 + tmp0) >> shift,
            middle_plus,
            (tmp12 + tmp2) >> shift,
            (tmp12 - tmp2) >> shift,
            middle_minus,
            (tmp10 - tmp0) >> shift,
        ]
    };
    let mut workspace = [0i64; 36];
    for column in 0..6 {
        let c = std::array::from_fn(|row| at(row, column));
        for (row, value) in six(c, 1 << (CONST_BITS - PASS1_BITS - 1), true).into_iter().enumerate() {
            workspace[row * 6 + column] = i64::from(value as i32);
        }
    }
    let mut out = [0u8; 36];
    for (line, w) in out.chunks_exact_mut(6).zip(workspace.chunks_exact(6)) {
        let c = [w[0] + (1 << (PASS1_BITS + 2)), w[1], w[2], w[3], w[4], w[5]];
        for (pixel, value) in line.iter_mut().zip(six(c, 0, false)) {
            *pixel = range_limit(value as i32);
        }
    }
    out
}

/// `jpeg_idct_islow` of libjpeg-turbo's `jidctint.c` (its SIMD versions give the same
/// values): the full 8 x 8 inverse DCT, which libjpeg gives a 4:2:0 file's chroma at 4/8.
#[inline(always)]
fn idct_8x8(block: &[i16; 64], quant: &[u16; 64]) -> [u8; 64] {
    let mut out = [0u8; 64];
    // One 8-point transform of `c`, before the descale.
    let eight = |c: [i64; 8]| {
        let z1 = (c[2] + c[6]) * 4433;
        let tmp2 = z1 + c[6] * -15137;
        let tmp3 = z1 + c[2] * 6270;
        let tmp0 = (c[0] + c[4]) << CONST_BITS;
        let tmp1 = (c[0] - c[4]) << CONST_BITS;
        let (tmp10, tmp13, tmp11, tmp12) = (tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2);
        let (t0, t1, t2, t3) = (c[7], c[5], c[3], c[1]);
        let (z1, z2, z3, z4) = (t0 + t3, t1 + t2, t0 + t2, t1 + t3);
        let z5 = (z3 + z4) * 9633;
        let (t0, t1, t2, t3) = (t0 * 2446, t1 * 16819, t2 * 25172, t3 * 12299);
        let (z1, z2, z3, z4) = (z1 * -7373, z2 * -20995, z3 * -16069 + z5, z4 * -3196 + z5);
        let (t0, t1, t2, t3) = (t0 + z1 + z3, t1 + z2 + z4, t2 + z2 + z3, t3 + z1 + z4);
        [tmp10 + t3, tmp11 + t2, tmp12 + t1, tmp13 + t0, tmp13 - t0, tmp12 - t1, tmp11 - t2, tmp10 - t3]
    };
    let mut workspace = [0i64; 64];
    for column in 0..8 {
        let c: [i64; 8] =
            std::array::from_fn(|row| i64::from(block[row * 8 + column]) * i64::from(quant[row * 8 + column]));
        if c[1..].iter().all(|&v| v == 0) {
            // libjpeg's shortcut, which gives what the full transform would.
            for row in 0..8 {
                workspace[row * 8 + column] = i64::from((c[0] << PASS1_BITS) as i32);
            }
            continue;
        }
        for (row, value) in eight(c).into_iter().enumerate() {
            workspace[row * 8 + column] = i64::from(descale(value, CONST_BITS - PASS1_BITS) as i32);
        }
    }
    for (line, w) in out.chunks_exact_mut(8).zip(workspace.chunks_exact(8)) {
        let c: [i64; 8] = std::array::from_fn(|i| w[i]);
        for (pixel, value) in line.iter_mut().zip(eight(c)) {
            *pixel = range_limit(descale(value, CONST_BITS + PASS1_BITS + 3) as i32);
        }
    }
    out
}

/// A progressive file's image, from its coefficients: each row of MCUs inverse-transformed
/// into the planes, then converted.
fn inverse_transform(
    header: &Header,
    planes: &mut [Plane],
    coefficients: &[Coefficients],
    scale: usize,
) -> Result<Vec<u8>, Fallback> {
    check_coverage(header, planes, scale)?;
    for plane in planes.iter_mut() {
        plane.band_block_rows = plane.v;
        plane.samples = vec![0; plane.stride() * plane.band_block_rows * plane.block_side];
    }
    let (width, height) = output_size(header, scale);
    let mut rgb = vec![0u8; width * height * 3];
    let mut converter = Converter::new(planes, width);
    let (_, max_v) = max_sampling(header);
    let rows_per_mcu = max_v * scale;
    for mcu_y in 0..header.height.div_ceil(8 * max_v) {
        for (plane, component) in planes.iter_mut().zip(coefficients) {
            let quant = plane.quant.ok_or(Fallback("a component without a scan"))?;
            plane.first_block_row = mcu_y * plane.band_block_rows;
            let rows =
                plane.first_block_row..(plane.first_block_row + plane.band_block_rows).min(plane.height_in_blocks);
            for row in rows {
                for column in 0..plane.width_in_blocks {
                    let (block, has_ac) = component.block_for(column, row).ok_or(Fallback("a block outside"))?;
                    write_block(plane, &quant, &block, has_ac, row - plane.first_block_row, column)?;
                }
            }
        }
        let rows = (mcu_y * rows_per_mcu).min(height)..((mcu_y + 1) * rows_per_mcu).min(height);
        converter.rows(planes, &mut rgb, rows);
    }
    Ok(rgb)
}

/// The decoded image's size at `scale`/8 (libjpeg rounds up).
fn output_size(header: &Header, scale: usize) -> (usize, usize) {
    ((header.width * scale).div_ceil(8), (header.height * scale).div_ceil(8))
}

/// Whether every plane has the samples every output pixel reads.
fn check_coverage(header: &Header, planes: &[Plane], scale: usize) -> Result<(), Fallback> {
    let (width, height) = output_size(header, scale);
    for plane in planes {
        let rows = plane.height_in_blocks * plane.block_side;
        let covered = if plane.fancy {
            plane.downsampled_width <= plane.stride() && 2 * plane.downsampled_width >= width
        } else {
            (width - 1) / plane.expand_x < plane.stride()
        };
        if !covered || (height - 1) / plane.expand_y >= rows {
            return Err(Fallback("components that do not cover the image"));
        }
    }
    Ok(())
}

/// Upsamples (replication, or libjpeg's fancy 2:1 across) and converts to RGB with
/// libjpeg's tables, rows at a time.
struct Converter {
    width: usize,
    /// Which sample of each replicated plane every output column reads.
    columns: Vec<Vec<usize>>,
    /// A fancy-upsampled plane's current row at full width.
    upsampled: Vec<Vec<u8>>,
}

impl Converter {
    fn new(planes: &[Plane], width: usize) -> Self {
        let columns = planes.iter().map(|plane| (0..width).map(|x| x / plane.expand_x).collect()).collect();
        let upsampled = planes
            .iter()
            .map(|plane| if plane.fancy { vec![0; 2 * plane.downsampled_width] } else { Vec::new() })
            .collect();
        Self { width, columns, upsampled }
    }

    /// Converts the output `rows` of `rgb` (the whole image), whose samples the planes hold.
    fn rows(&mut self, planes: &[Plane], rgb: &mut [u8], rows: std::ops::Range<usize>) {
        let (width, columns, upsampled) = (self.width, &self.columns, &mut self.upsampled);
        // Where a plane's sample row for output row `y` starts in its samples.
        let start_of =
            |plane: &Plane, y: usize| (y / plane.expand_y - plane.first_block_row * plane.block_side) * plane.stride();
        let first = rows.start;
        for (y, out) in rgb.chunks_exact_mut(width * 3).skip(first).take(rows.len()).enumerate() {
            let y = y + first;
            for (plane, row) in planes.iter().zip(upsampled.iter_mut()) {
                if plane.fancy {
                    let start = start_of(plane, y);
                    h2v1_fancy_upsample(&plane.samples[start..start + plane.downsampled_width], row);
                }
            }
            let row = |i: usize| {
                let plane = &planes[i];
                if plane.fancy {
                    return &upsampled[i][..];
                }
                let start = start_of(plane, y);
                &plane.samples[start..start + plane.stride()]
            };
            // Straight through: full-size and fancy-upsampled planes; by `columns`: replicated ones.
            let direct = |i: usize| planes[i].expand_x == 1 || planes[i].fancy;
            if planes.len() == 1 {
                let grey = row(0);
                for (pixel, &x) in out.chunks_exact_mut(3).zip(&columns[0]) {
                    pixel.fill(grey[x]);
                }
                continue;
            }
            let (luma, cb, cr) = (row(0), row(1), row(2));
            let pixels = out.chunks_exact_mut(3);
            if (0..3).all(direct) {
                // 4:4:4, 4:2:0 whose chroma a larger inverse DCT already brought to size, fancy 4:2:2.
                for (pixel, ((&y, &cb), &cr)) in pixels.zip(luma.iter().zip(cb).zip(cr)) {
                    pixel.copy_from_slice(&ycc_to_rgb(y, cb, cr));
                }
            } else {
                let source = |i: usize, x: usize| if direct(i) { x } else { columns[i][x] };
                for (x, pixel) in pixels.enumerate() {
                    pixel.copy_from_slice(&ycc_to_rgb(luma[source(0, x)], cb[source(1, x)], cr[source(2, x)]));
                }
            }
        }
    }
}

/// libjpeg's `h2v1_fancy_upsample`: each sample becomes two, 3/4 of it and 1/4 of its
/// neighbour on that side, rounding alternately down and up; the edge samples are kept.
fn h2v1_fancy_upsample(input: &[u8], output: &mut [u8]) {
    let n = input.len();
    let at = |i: usize| i32::from(input[i]);
    output[0] = input[0];
    output[1] = ((at(0) * 3 + at(1) + 2) >> 2) as u8;
    for i in 1..n - 1 {
        let nearer = at(i) * 3;
        output[2 * i] = ((nearer + at(i - 1) + 1) >> 2) as u8;
        output[2 * i + 1] = ((nearer + at(i + 1) + 2) >> 2) as u8;
    }
    output[2 * n - 2] = ((at(n - 1) * 3 + at(n - 2) + 1) >> 2) as u8;
    output[2 * n - 1] = input[n - 1];
}

/// libjpeg's `sample_range_limit` for colour conversion: values from -384 to 639 clamped
/// to 0..=255 (the conversion's results lie well inside).
/// `ycc_rgb_convert` for one pixel.
#[inline(always)]
fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (i32::from(y), usize::from(cb), usize::from(cr));
    let green = ((COLOUR.cb_g[cb] + COLOUR.cr_g[cr]) >> 16) as i32;
    [clamp(y + COLOUR.cr_r[cr]), clamp(y + green), clamp(y + COLOUR.cb_b[cb])]
}

#[inline(always)]
fn clamp(value: i32) -> u8 {
    SAMPLE_RANGE_LIMIT[((value + 384) & 1023) as usize]
}

static SAMPLE_RANGE_LIMIT: [u8; 1024] = {
    let mut table = [0u8; 1024];
    let mut i = 0;
    while i < 1024 {
        let value = i as i32 - 384;
        table[i] = (if value < 0 {
            0
        } else if value > 255 {
            255
        } else {
            value
        }) as u8;
        i += 1;
    }
    table
};

/// libjpeg's YCbCr to RGB tables (`build_ycc_rgb_table`), 16-bit fixed point.
struct ColourTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i64; 256],
    cb_g: [i64; 256],
}

static COLOUR: ColourTables = colour_tables();

const fn colour_tables() -> ColourTables {
    const ONE_HALF: i64 = 1 << 15;
    // FIX(x) = x * 65536 + 0.5, truncated: FIX(1.40200), FIX(1.77200), FIX(0.71414), FIX(0.34414).
    const CR_R: i64 = 91_881;
    const CB_B: i64 = 116_130;
    const CR_G: i64 = 46_802;
    const CB_G: i64 = 22_554;
    let mut tables = ColourTables { cr_r: [0; 256], cb_b: [0; 256], cr_g: [0; 256], cb_g: [0; 256] };
    let mut i = 0;
    while i < 256 {
        let x = i as i64 - 128;
        tables.cr_r[i] = ((CR_R * x + ONE_HALF) >> 16) as i32;
        tables.cb_b[i] = ((CB_B * x + ONE_HALF) >> 16) as i32;
        tables.cr_g[i] = -CR_G * x;
        tables.cb_g[i] = -CB_G * x + ONE_HALF;
        i += 1;
    }
    tables
}
