//! A progressive JPEG's scans, decoded into each component's whole coefficient buffer as
//! libjpeg's `jdphuff.c` does (its `decode_mcu_DC_first`, `_DC_refine`, `_AC_first` and
//! `_AC_refine`, step for step), for the inverse DCTs of the scale to read at the end.
//!
//! Only a progression libjpeg decodes without a warning is taken: every coefficient's
//! successive approximation in order (libjpeg warns and goes on; here that falls back),
//! AC bands after their component's DC, refinement corrections of one bit. And at the end
//! libjpeg smooths the blocks of a file whose first AC coefficients are not all complete
//! (`smoothing_ok`): such a file falls back too.

use super::huffman::{self, BadData, BitReader, HuffmanTable};
use super::{Fallback, Header, IntervalWalk, Plane};

/// One component's coefficients, a whole image of blocks (padded to whole MCUs, as
/// libjpeg's buffer is), which of each block's AC coefficients are nonzero, and how far
/// each coefficient is known (libjpeg's `coef_bits`: -1 never sent, else the point
/// transform of its last scan; 0 complete).
///
/// Of each block only the coefficients the scale's inverse DCT reads are kept (25 of 64 at
/// 2/8, 9 at 3/8): the scans must still decode the others, but only whether they are
/// nonzero matters to them, which the mask holds. A large photo's buffer is a third to a
/// seventh of libjpeg's.
#[derive(Debug)]
pub(super) struct Coefficients {
    /// `stride` values a block: the kept coefficients, then one slot that takes the writes
    /// to the others (so that the scans write without a branch).
    values: Vec<i16>,
    stride: usize,
    /// Where the k-th coefficient in zig-zag order is kept in its block's values.
    slots: [usize; 64],
    /// The coefficients the inverse DCT reads, a bit per zig-zag position, DC included.
    reads: u64,
    /// By block, a bit per AC coefficient that is not zero (bit k: the k-th in zig-zag
    /// order), kept as the AC scans write them: a refinement scan's corrections go to
    /// those, and the inverse DCT reads only those, so no scan or transform looks at all 64.
    nonzero: Vec<u64>,
    padded_width: usize,
    known_to: [i8; 64],
}

impl Coefficients {
    /// Empty buffers for every component of the frame, keeping what its transform reads.
    pub(super) fn for_planes(planes: &[Plane]) -> Vec<Self> {
        planes
            .iter()
            .map(|plane| {
                let padded_width = plane.width_in_blocks.next_multiple_of(plane.h);
                let padded_height = plane.height_in_blocks.next_multiple_of(plane.v);
                let count = padded_width * padded_height;
                let reads = huffman::transform_reads(plane.block_side) | 1;
                let kept = reads.count_ones() as usize;
                let mut slots = [kept; 64];
                for (slot, k) in (0..64).filter(|&k| reads & 1 << k != 0).enumerate() {
                    slots[k] = slot;
                }
                Self {
                    values: vec![0; count * (kept + 1)],
                    stride: kept + 1,
                    slots,
                    reads,
                    nonzero: vec![0; count],
                    padded_width,
                    known_to: [-1; 64],
                }
            })
            .collect()
    }

    /// The block at block column `x` and row `y` as the inverse DCT needs it: in natural
    /// order, and whether any AC coefficient it reads is nonzero (without one the block is
    /// flat, and only its DC is put in place).
    pub(super) fn block_for(&self, x: usize, y: usize) -> Option<([i16; 64], bool)> {
        let at = y * self.padded_width + x;
        let values = self.values.get(at * self.stride..(at + 1) * self.stride)?;
        let has_ac = self.nonzero.get(at)? & self.reads & !1 != 0;
        let mut natural = [0i16; 64];
        let mut reads = if has_ac { self.reads } else { 1 };
        while reads != 0 {
            let k = reads.trailing_zeros() as usize & 63;
            reads &= reads - 1;
            natural[huffman::NATURAL_ORDER[k]] = values[self.slots[k]];
        }
        Some((natural, has_ac))
    }
}

/// One block as a scan writes it: its kept coefficients, and its mask of nonzero ones.
struct Block<'b> {
    values: &'b mut [i16],
    slots: &'b [usize; 64],
    nonzero: &'b mut u64,
}

impl Block<'_> {
    /// The k-th coefficient in zig-zag order (one not kept: the slot that takes those).
    #[inline(always)]
    fn at(&mut self, k: usize) -> &mut i16 {
        &mut self.values[self.slots[k & 63]]
    }
}

/// Whether libjpeg would smooth the blocks of this file (`smoothing_ok` at the start of
/// its output pass, after every scan): some of coefficients 1 to 9 of a component not
/// complete, unless a component's DC was never sent or one of those ten quantizers is 0.
pub(super) fn libjpeg_smooths(planes: &[Plane], coefficients: &[Coefficients]) -> bool {
    // The natural-order positions of coefficients 0 to 9 (Q00, Q01, Q10, Q20, Q11, ...).
    const FIRST_TEN: [usize; 10] = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24];
    let mut useful = false;
    for (plane, component) in planes.iter().zip(coefficients) {
        let Some(quant) = plane.quant else { return false };
        if FIRST_TEN.iter().any(|&at| quant[at] == 0) || component.known_to[0] < 0 {
            return false;
        }
        useful |= component.known_to[1..10].iter().any(|&bits| bits != 0);
    }
    useful
}

/// The scan's parameters: its band of coefficients and their successive approximation.
#[derive(Debug, Clone, Copy)]
struct Band {
    start: usize,
    end: usize,
    high: u8,
    low: u8,
}

/// One component as a progressive scan codes it.
struct ScanComponent<'t> {
    index: usize,
    dc: Option<&'t HuffmanTable>,
    ac: Option<&'t HuffmanTable>,
    mcu_width: usize,
    mcu_height: usize,
    dc_predictor: i32,
}

/// Decodes one progressive scan into `coefficients`; returns where the marker after it starts.
pub(super) fn decode_scan(
    header: &Header,
    planes: &mut [Plane],
    coefficients: &mut [Coefficients],
    bytes: &[u8],
    payload: &[u8],
    data_start: usize,
) -> Result<usize, Fallback> {
    let count = usize::from(*payload.first().unwrap_or(&0));
    if count == 0 || payload.len() != 4 + 2 * count {
        return Err(Fallback("a malformed scan header"));
    }
    let parameters = &payload[1 + 2 * count..];
    let band = Band {
        start: usize::from(parameters[0]),
        end: usize::from(parameters[1]),
        high: parameters[2] >> 4,
        low: parameters[2] & 15,
    };
    // libjpeg's `start_pass_phuff_decoder` refuses these (JERR_BAD_PROGRESSION).
    let is_dc = band.start == 0;
    let bad = if is_dc { band.end != 0 } else { band.start > band.end || band.end > 63 || count != 1 };
    if bad || (band.high != 0 && band.low + 1 != band.high) || band.low > 13 {
        return Err(Fallback("a bad progression"));
    }
    let missing = Fallback("a table the scan uses is not defined");
    let mut scan: Vec<ScanComponent<'_>> = Vec::with_capacity(count);
    for selector in payload[1..1 + 2 * count].chunks_exact(2) {
        let index = header.components.iter().position(|c| c.id == selector[0]);
        let in_order = scan.last().is_none_or(|last| index > Some(last.index));
        let Some(index) = index.filter(|_| in_order) else {
            return Err(Fallback("scan components out of order or repeated"));
        };
        // The tables this kind of scan reads (a DC refinement reads none).
        let dc = if is_dc && band.high == 0 {
            Some(header.dc_tables.get(usize::from(selector[1] >> 4)).and_then(Option::as_ref).ok_or(missing)?)
        } else {
            None
        };
        let ac = if is_dc {
            None
        } else {
            Some(header.ac_tables.get(usize::from(selector[1] & 15)).and_then(Option::as_ref).ok_or(missing)?)
        };
        // libjpeg latches a component's quantization table at its first scan.
        let plane = &mut planes[index];
        if plane.quant.is_none() {
            plane.quant = Some(header.quant_tables[header.components[index].quant_table].ok_or(missing)?);
        }
        // Where libjpeg would warn (JWRN_BOGUS_PROGRESSION) and go on: not taken here.
        let known_to = &mut coefficients[index].known_to;
        if !is_dc && known_to[0] < 0 {
            return Err(Fallback("an AC scan before its component's DC"));
        }
        for bits in &mut known_to[band.start..=band.end] {
            if band.high != (*bits).max(0) as u8 {
                return Err(Fallback("a coefficient's successive approximation out of order"));
            }
            *bits = band.low as i8;
        }
        let (mcu_width, mcu_height) = if count > 1 { (plane.h, plane.v) } else { (1, 1) };
        scan.push(ScanComponent { index, dc, ac, mcu_width, mcu_height, dc_predictor: 0 });
    }
    if count > 1 && scan.iter().map(|c| c.mcu_width * c.mcu_height).sum::<usize>() > 10 {
        return Err(Fallback("more than 10 blocks in an MCU"));
    }
    let (mcus_x, mcus_y) = if count > 1 {
        let (max_h, max_v) = super::max_sampling(header);
        (header.width.div_ceil(8 * max_h), header.height.div_ceil(8 * max_v))
    } else {
        (planes[scan[0].index].width_in_blocks, planes[scan[0].index].height_in_blocks)
    };
    let walk = IntervalWalk::new(header, bytes, data_start, mcus_x * mcus_y)?;
    let blocks = Blocks { walk, scan, mcus_x, mcus_y };
    match (is_dc, band.high) {
        (true, 0) => blocks.decode(coefficients, DcScan::<false> { low: band.low }),
        (true, _) => blocks.decode(coefficients, DcScan::<true> { low: band.low }),
        (false, high) => {
            let table = blocks.scan[0].ac.ok_or(missing)?;
            let ac = AcScan { table, band, end_of_band_run: 0 };
            if high == 0 { blocks.decode(coefficients, ac.first()) } else { blocks.decode(coefficients, ac.refine()) }
        }
    }
}

/// What a scan does to each block it codes, in the order the scan codes them.
trait BlockStep {
    /// After a restart marker (the DC predictors are reset by the walk).
    fn restart(&mut self) {}

    /// Decodes the scan's part of one `block` of `component` (whose mask of nonzero AC
    /// coefficients it must go on keeping).
    fn block(
        &mut self,
        reader: &mut BitReader<'_>,
        component: &mut ScanComponent<'_>,
        block: Block<'_>,
    ) -> Result<(), Fallback>;
}

/// A scan's walk over its MCUs and their blocks.
struct Blocks<'a, 't> {
    walk: IntervalWalk<'a>,
    scan: Vec<ScanComponent<'t>>,
    mcus_x: usize,
    mcus_y: usize,
}

impl Blocks<'_, '_> {
    /// Runs `step` over every block of the scan (made generic so that each kind of scan's
    /// loop is compiled on its own); returns where the marker after the scan starts.
    fn decode(mut self, coefficients: &mut [Coefficients], mut step: impl BlockStep) -> Result<usize, Fallback> {
        for mcu_y in 0..self.mcus_y {
            for mcu_x in 0..self.mcus_x {
                if self.walk.next_mcu()? {
                    self.scan.iter_mut().for_each(|component| component.dc_predictor = 0);
                    step.restart();
                }
                let reader = &mut self.walk.reader;
                for component in &mut self.scan {
                    let buffer = &mut coefficients[component.index];
                    for y in 0..component.mcu_height {
                        let row = mcu_y * component.mcu_height + y;
                        for x in 0..component.mcu_width {
                            let at = row * buffer.padded_width + mcu_x * component.mcu_width + x;
                            let values = buffer.values.get_mut(at * buffer.stride..(at + 1) * buffer.stride);
                            let (Some(values), Some(nonzero)) = (values, buffer.nonzero.get_mut(at)) else {
                                return Err(Fallback("a block outside"));
                            };
                            step.block(reader, component, Block { values, slots: &buffer.slots, nonzero })?;
                        }
                    }
                }
            }
        }
        self.walk.finish()
    }
}

/// A DC scan: `decode_mcu_DC_first` (the difference, its predictor kept in an int, shifted
/// up by the point transform into 16 bits) or `decode_mcu_DC_refine` (one more bit).
struct DcScan<const REFINE: bool> {
    low: u8,
}

impl<const REFINE: bool> BlockStep for DcScan<REFINE> {
    #[inline(always)]
    fn block(
        &mut self,
        reader: &mut BitReader<'_>,
        component: &mut ScanComponent<'_>,
        mut block: Block<'_>,
    ) -> Result<(), Fallback> {
        if REFINE {
            if reader.bit() {
                *block.at(0) |= 1 << self.low;
            }
        } else {
            let table = component.dc.ok_or(Fallback("no DC table"))?;
            let difference = huffman::dc_difference(reader, table)?;
            component.dc_predictor = component.dc_predictor.wrapping_add(difference);
            *block.at(0) = component.dc_predictor.wrapping_shl(u32::from(self.low)) as i16;
        }
        Ok(())
    }
}

/// An AC scan of one component: its table, its band, and the blocks left of an end-of-band run.
struct AcScan<'t> {
    table: &'t HuffmanTable,
    band: Band,
    end_of_band_run: u32,
}

/// An [`AcScan`] that is a first scan of its band (`REFINE` false) or a refinement.
struct AcStep<'t, const REFINE: bool>(AcScan<'t>);

impl<'t> AcScan<'t> {
    fn first(self) -> AcStep<'t, false> {
        AcStep(self)
    }

    fn refine(self) -> AcStep<'t, true> {
        AcStep(self)
    }

    /// `decode_mcu_AC_first`: the band's coefficients, or one more block of an end-of-band run.
    #[inline(always)]
    fn first_block(&mut self, reader: &mut BitReader<'_>, mut block: Block<'_>) -> Result<(), Fallback> {
        if self.end_of_band_run > 0 {
            self.end_of_band_run -= 1;
            return Ok(());
        }
        let band = self.band;
        let mut k = band.start;
        let mut mask = *block.nonzero;
        while k <= band.end {
            // The usual symbol, a short code and value, by one look-up.
            if let Some((run, value)) = huffman::ac_run_and_value(reader, self.table) {
                k += run;
                if k > band.end {
                    return Err(BadData.into());
                }
                let value = value.wrapping_shl(u32::from(band.low)) as i16;
                *block.at(k) = value;
                mask = (mask & !(1 << k)) | (u64::from(value != 0) << k);
                k += 1;
                continue;
            }
            let (run, size) = huffman::ac_symbol(reader, self.table)?;
            if size != 0 {
                k += usize::from(run);
                if k > band.end {
                    return Err(BadData.into());
                }
                let value = reader.value(u32::from(size)).wrapping_shl(u32::from(band.low)) as i16;
                *block.at(k) = value;
                // A value shifted out of 16 bits is a zero (a damaged file's, not libjpeg's to refuse).
                mask = (mask & !(1 << k)) | (u64::from(value != 0) << k);
            } else if run == 15 {
                k += 15;
            } else {
                self.end_of_band_run = (1 << run) + reader.raw(u32::from(run)) - 1;
                break;
            }
            k += 1;
        }
        *block.nonzero = mask;
        Ok(())
    }

    /// `decode_mcu_AC_refine`: a correction bit for each coefficient already nonzero, and the
    /// coefficients that become nonzero (of magnitude one at this bit). The walk over the band
    /// that libjpeg makes a coefficient at a time is made on the mask of the nonzero ones: the
    /// zero a new coefficient lands on is found by its rank, and the correction bits of the
    /// nonzero ones passed on the way are read together.
    #[inline(always)]
    fn refine_block(&mut self, reader: &mut BitReader<'_>, mut block: Block<'_>) -> Result<(), Fallback> {
        let band = self.band;
        let plus = 1i16 << band.low;
        let in_band = (u64::MAX >> (63 - band.end)) & (u64::MAX << band.start);
        let from = |k: usize| if k > 63 { 0 } else { u64::MAX << k };
        let mut k = band.start;
        let mut mask = *block.nonzero;
        if self.end_of_band_run == 0 {
            while k <= band.end {
                let (run, new_value) = {
                    let (run, size) = huffman::ac_symbol(reader, self.table)?;
                    let new_value = match size {
                        0 if run != 15 => {
                            self.end_of_band_run = (1 << run) + reader.raw(u32::from(run));
                            break;
                        }
                        0 => 0,
                        // libjpeg warns of any other size (JWRN_HUFF_BAD_CODE) and reads it as one.
                        1 => {
                            if reader.bit() {
                                plus
                            } else {
                                (-1i16).wrapping_shl(u32::from(band.low))
                            }
                        }
                        _ => return Err(Fallback("a refinement coefficient larger than one")),
                    };
                    (run, new_value)
                };
                // The zero the value lands on (ZRL: the sixteenth) is the run's + 1st from k.
                let mut zeros = !mask & in_band & from(k);
                for _ in 0..run {
                    zeros &= zeros.wrapping_sub(1);
                }
                let target = zeros.trailing_zeros() as usize;
                let passed = mask & from(k) & !from(target);
                correct(reader, &mut block, passed, plus);
                if zeros == 0 {
                    // The band ended first: libjpeg would write a new value past it.
                    if new_value != 0 {
                        return Err(BadData.into());
                    }
                    k = band.end + 1;
                    break;
                }
                if new_value != 0 {
                    *block.at(target) = new_value;
                    mask |= 1 << target;
                }
                k = target + 1;
            }
        }
        if self.end_of_band_run > 0 {
            // The rest of the band is zero but for corrections to the nonzero coefficients.
            correct(reader, &mut block, mask & in_band & from(k), plus);
            self.end_of_band_run -= 1;
        }
        *block.nonzero = mask;
        Ok(())
    }
}

impl<const REFINE: bool> BlockStep for AcStep<'_, REFINE> {
    fn restart(&mut self) {
        self.0.end_of_band_run = 0;
    }

    #[inline(always)]
    fn block(
        &mut self,
        reader: &mut BitReader<'_>,
        _: &mut ScanComponent<'_>,
        block: Block<'_>,
    ) -> Result<(), Fallback> {
        if REFINE { self.0.refine_block(reader, block) } else { self.0.first_block(reader, block) }
    }
}

/// Reads a correction bit for each coefficient of `positions` (a mask, in order) and adds
/// `plus` to the magnitude of those whose bit is set and who lack it.
#[inline(always)]
fn correct(reader: &mut BitReader<'_>, block: &mut Block<'_>, mut positions: u64, plus: i16) {
    while positions != 0 {
        let at = positions.trailing_zeros() as usize;
        positions &= positions - 1;
        // Without branches: the bits are as good as random, and mispredicted.
        let coefficient = block.at(at);
        let set = i16::from(reader.bit()) * i16::from(*coefficient & plus == 0);
        let sign = (*coefficient >> 15) | 1;
        *coefficient = coefficient.wrapping_add(set * sign * plus);
    }
}
