//! A baseline JPEG decoded straight to 1/8 or 2/8 scale, pixel for pixel as libjpeg-turbo
//! decodes it at that scale (the oracle tests compare the two byte for byte), in a fraction
//! of the time.
//!
//! At 1/8 scale libjpeg's inverse DCT of a block is one pixel: the block's DC coefficient,
//! dequantized and descaled (`jpeg_idct_1x1`). The AC coefficients, most of the file's
//! bits, are thrown away, yet libjpeg still decodes every one of them a symbol at a time.
//! Here they are skipped several symbols at a time through a table of whole symbols
//! (`huffman::SkipTable`), and never given a value.
//!
//! libjpeg gives a subsampled chroma component a larger inverse DCT instead of upsampling
//! it: at 1/8 a 4:2:0 file's chroma gets `jpeg_idct_2x2` (25 coefficients), at 2/8 the luma
//! gets `jpeg_idct_2x2` and 4:2:0 chroma `jpeg_idct_4x4` (49). Such blocks are decoded
//! whole, a symbol at a time, and inverse-transformed step for step as libjpeg does. Then
//! upsampling: replication at 1/8 (libjpeg uses no fancy upsampling there), at 2/8 a 4:2:2
//! file's chroma by libjpeg's `h2v1_fancy_upsample`; and the colour conversion is libjpeg's
//! own fixed-point tables (`jdcolor.c`). Upsampling that libjpeg does across rows (fancy
//! 4:4:0 and 4:2:0 at 2/8, which 4:2:0 never needs there) falls back.
//!
//! Only what libjpeg would decode the same way is taken: one interleaved Huffman scan
//! (SOF0 or SOF1) of 8-bit samples, grey or YCbCr, with or without restart markers.
//! Anything else, and any damage (a bad code, a run past the block, missing data, a
//! restart marker out of place), is a [`Fallback`]: the caller hands the file to libjpeg,
//! which decodes or refuses it as before. Nothing here guesses.

mod huffman;
#[cfg(test)]
mod tests;

use image::{DynamicImage, RgbImage};

use huffman::{BadData, BitReader, HuffmanTable, SkipTable};

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

/// The image of `bytes` at `scale`/8 (1 or 2) as 8-bit RGB (grey made RGB, as the libjpeg
/// path does). `structure` is the file's, from [`read_structure`](crate::jpeg::read_structure):
/// its walk of the markers (which has already refused a truncated file) is the one this
/// decoder reads its tables and scans from.
pub fn decode(bytes: &[u8], structure: &JpegStructure, scale: usize) -> Result<DynamicImage, Fallback> {
    if !matches!(scale, 1 | 2) {
        return Err(Fallback("a scale other than 1/8 and 2/8"));
    }
    let mut header = Header::default();
    let mut planes: Vec<Plane> = Vec::new();
    for segment in structure.segments() {
        let payload = bytes.get(segment.payload.clone()).ok_or(Fallback("a broken marker structure"))?;
        match segment.marker {
            0xC0 | 0xC1 => read_frame(&mut header, payload)?,
            0xC4 => read_huffman_tables(&mut header, payload)?,
            0xDB => read_quant_tables(&mut header, payload)?,
            0xDD => {
                let &[high, low] = payload else { return Err(Fallback("a malformed restart interval")) };
                header.restart_interval = usize::from(u16::from_be_bytes([high, low]));
            }
            0xEE if payload.starts_with(b"Adobe") => return Err(Fallback("an Adobe colour transform marker")),
            0xE0..=0xEF | 0xFE => {}
            0xDA => {
                if planes.is_empty() {
                    planes = planes_of(&header, scale)?;
                }
                let end = decode_scan(&header, &mut planes, bytes, payload, segment.payload.end)?;
                if end != segment.end {
                    return Err(Fallback("a scan that ends elsewhere than its markers say"));
                }
            }
            0xC2 | 0xC6 | 0xCA | 0xCE => return Err(Fallback("progressive")),
            0xC3 | 0xC5 | 0xC7 | 0xC9 | 0xCB | 0xCC | 0xCD | 0xCF => {
                return Err(Fallback("arithmetic-coded, lossless or hierarchical"));
            }
            _ => return Err(Fallback("an unusual marker")),
        }
    }
    if planes.is_empty() || planes.iter().any(|plane| plane.quant.is_none()) {
        return Err(Fallback("a component without a scan"));
    }
    to_rgb(&header, &planes, scale)
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
        if block_side > 4 {
            return Err(Fallback("a component needing an 8 x 8 inverse DCT"));
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
    /// Present when only DC is needed: the AC coefficients are skipped.
    skip: Option<&'t SkipTable>,
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
    // One skip table per AC table that a DC-only component uses (Cb and Cr share theirs).
    let mut skip_tables: [Option<SkipTable>; 4] = Default::default();
    for selector in &selectors {
        let id = usize::from(selector[1] & 15);
        let index = header.components.iter().position(|c| c.id == selector[0]);
        let dc_only = index.is_some_and(|i| planes[i].block_side == 1);
        if dc_only && skip_tables.get(id).is_some_and(Option::is_none) {
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
            skip: if plane.block_side == 1 { skip_tables[ac_id].as_ref() } else { None },
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
    let entropy = read_entropy(bytes, data_start)?;
    let total_mcus = mcus_x * mcus_y;
    let per_interval = if header.restart_interval == 0 { total_mcus } else { header.restart_interval };
    if entropy.intervals.len() != total_mcus.div_ceil(per_interval).max(1) {
        return Err(Fallback("restart markers that do not match the restart interval"));
    }
    let mut intervals = entropy.intervals.iter();
    let mut reader = BitReader::new(&[]);
    let (mut interval_end, mut left_in_interval) = (0, 0);
    for mcu_y in 0..mcus_y {
        for mcu_x in 0..mcus_x {
            if left_in_interval == 0 {
                if mcu_x + mcu_y > 0 {
                    finish_interval(&reader, interval_end)?;
                }
                let interval = intervals.next().ok_or(Fallback("missing restart intervals"))?;
                reader = BitReader::new(&bytes[interval.start..interval.end]);
                (interval_end, left_in_interval) = (interval.end - interval.start - interval.stuffed, per_interval);
                scan.iter_mut().for_each(|component| component.dc_predictor = 0);
            }
            left_in_interval -= 1;
            let edges = (mcu_x + 1 == mcus_x, mcu_y + 1 == mcus_y);
            for component in &mut scan {
                decode_mcu_blocks(&mut reader, component, &mut planes[component.plane], (mcu_x, mcu_y), edges)?;
            }
        }
    }
    finish_interval(&reader, interval_end)?;
    Ok(entropy.end)
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
            if let Some(skip) = component.skip {
                huffman::skip_ac(reader, component.ac, skip)?;
                if kept {
                    let sample = plane.samples.get_mut(row * stride + column).ok_or(Fallback("a block outside"))?;
                    *sample = idct_1x1(dc, component.quant[0]);
                }
            } else {
                let mut block = [0i16; 64];
                block[0] = dc;
                let has_ac = huffman::decode_ac(reader, component.ac, &mut block)?;
                if kept {
                    let side = plane.block_side;
                    let pixels = if side == 2 {
                        &idct_2x2(&block, &component.quant, has_ac)[..]
                    } else {
                        &idct_4x4(&block, &component.quant, has_ac)[..]
                    };
                    for (dy, line) in pixels.chunks_exact(side).enumerate() {
                        let at = (row * side + dy) * stride + column * side;
                        plane.samples.get_mut(at..at + side).ok_or(Fallback("a block outside"))?.copy_from_slice(line);
                    }
                }
            }
        }
    }
    Ok(())
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
fn idct_2x2(block: &[i16; 64], quant: &[u16; 64], has_ac: bool) -> [u8; 4] {
    if !has_ac {
        return [flat(block, quant); 4];
    }
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
/// reads every row and column but 4; shortcuts as in [`idct_2x2`].
#[inline(always)]
fn idct_4x4(block: &[i16; 64], quant: &[u16; 64], has_ac: bool) -> [u8; 16] {
    if !has_ac {
        return [flat(block, quant); 16];
    }
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

/// Upsamples (replication, or libjpeg's fancy 2:1 across) and converts to RGB with libjpeg's tables.
fn to_rgb(header: &Header, planes: &[Plane], scale: usize) -> Result<DynamicImage, Fallback> {
    let (width, height) = ((header.width * scale).div_ceil(8), (header.height * scale).div_ceil(8));
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
    // Which sample of each replicated plane every output column reads.
    let columns: Vec<Vec<usize>> =
        planes.iter().map(|plane| (0..width).map(|x| x / plane.expand_x).collect()).collect();
    // A fancy-upsampled plane's current row at full width.
    let mut upsampled: Vec<Vec<u8>> = planes
        .iter()
        .map(|plane| if plane.fancy { vec![0; 2 * plane.downsampled_width] } else { Vec::new() })
        .collect();
    let mut rgb = vec![0u8; width * height * 3];
    for (y, out) in rgb.chunks_exact_mut(width * 3).enumerate() {
        for (plane, row) in planes.iter().zip(&mut upsampled) {
            if plane.fancy {
                let start = (y / plane.expand_y) * plane.stride();
                h2v1_fancy_upsample(&plane.samples[start..start + plane.downsampled_width], row);
            }
        }
        let row = |i: usize| {
            let plane = &planes[i];
            if plane.fancy {
                return &upsampled[i][..];
            }
            let start = (y / plane.expand_y) * plane.stride();
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
    let image = RgbImage::from_raw(width as u32, height as u32, rgb).ok_or(Fallback("an image too large"))?;
    Ok(DynamicImage::ImageRgb8(image))
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
