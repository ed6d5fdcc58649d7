//! The entropy-coded data of a baseline JPEG: its bits, its Huffman codes, and the two
//! ways a block's AC coefficients are read: decoded a symbol at a time while the block's
//! inverse DCT reads them, and skipped several symbols at a time after the last one it
//! reads (at 1/8, every AC coefficient: most of the file).

/// Codes up to this length are decoded by one table look-up, as libjpeg's `HUFF_LOOKAHEAD`.
const LOOKUP_BITS: u32 = 9;

/// A symbol whose code and extra bits fit in this many bits is decoded with its value by
/// one look-up ([`HuffmanTable`]'s `values`).
const VALUE_BITS: u32 = 10;

/// The bits a skip-table entry covers: 4096 entries of 2 bytes, which stay in L1 cache.
const SKIP_BITS: u32 = 12;

/// An AC coefficient of 8-bit samples needs at most 10 extra bits, a DC difference 11.
pub(super) const MAX_AC_SIZE: u32 = 10;
pub(super) const MAX_DC_SIZE: u32 = 11;

/// Why the data cannot be decoded here; the caller hands the file to libjpeg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadData;

/// Reads one restart interval's entropy-coded data, as the file holds it (each 0xFF
/// followed by a stuffed zero byte, which the reader drops), most significant bit first,
/// 64 bits at a time.
#[derive(Debug)]
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// The next byte to load.
    position: usize,
    /// The stuffed zero bytes dropped so far.
    stuffed: usize,
    /// Unread bits, left-aligned; below the `count` valid ones sit the next bits of the
    /// stream again (a refill ORs the same values over them).
    bits: u64,
    count: u32,
}

impl<'a> BitReader<'a> {
    /// `data` is the interval's bytes, up to the marker after it: every 0xFF in it is
    /// followed by a zero byte (`read_entropy` checked).
    pub(super) fn new(data: &'a [u8]) -> Self {
        Self { data, position: 0, stuffed: 0, bits: 0, count: 0 }
    }

    /// Tops the buffer up to at least 56 valid bits; past the end of the data the stream
    /// reads as zeros (consuming them is caught by [`Self::consumed_bits`]).
    #[inline(always)]
    pub(super) fn refill(&mut self) {
        if let Some(chunk) = self.data.get(self.position..self.position + 8) {
            let word =
                u64::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
            // The usual case: eight bytes without a 0xFF, so nothing to drop.
            let inverted = !word;
            if inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080 == 0 {
                self.bits |= word >> self.count;
                self.position += ((63 - self.count) >> 3) as usize;
                self.count |= 56;
                return;
            }
        }
        self.refill_bytewise();
    }

    /// A byte at a time, dropping the zero after each 0xFF; zeros past the end.
    #[inline(never)]
    fn refill_bytewise(&mut self) {
        while self.count < 56 {
            let byte = self.data.get(self.position).copied().unwrap_or(0);
            self.position += 1;
            if byte == 0xFF {
                self.position += 1;
                self.stuffed += 1;
            }
            self.bits |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    #[inline(always)]
    fn ensure(&mut self, needed: u32) {
        if self.count < needed {
            self.refill();
        }
    }

    /// The next `n` bits (1 to 32) without consuming them.
    #[inline(always)]
    fn peek(&self, n: u32) -> u32 {
        (self.bits >> (64 - n)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.bits <<= n;
        self.count -= n;
    }

    /// `size` (0 to 15) bits as the signed value they code (libjpeg's `HUFF_EXTEND`).
    #[inline(always)]
    fn signed(&mut self, size: u32) -> i32 {
        if size == 0 {
            return 0;
        }
        let raw = self.peek(size) as i32;
        self.consume(size);
        extend(raw, size)
    }

    /// One bit.
    #[inline(always)]
    pub(super) fn bit(&mut self) -> bool {
        self.ensure(1);
        let bit = self.peek(1) == 1;
        self.consume(1);
        bit
    }

    /// `n` bits (0 to 32) as an unsigned number.
    #[inline(always)]
    pub(super) fn raw(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        self.ensure(n);
        let raw = self.peek(n);
        self.consume(n);
        raw
    }

    /// `size` (0 to 15) bits as the signed value they code.
    #[inline(always)]
    pub(super) fn value(&mut self, size: u32) -> i32 {
        self.ensure(size);
        self.signed(size)
    }

    /// How many bits of the interval have been read, stuffed bytes not counted.
    pub(super) fn consumed_bits(&self) -> usize {
        (self.position - self.stuffed) * 8 - self.count as usize
    }
}

/// `size` raw bits as the signed value they code (`HUFF_EXTEND`).
#[inline(always)]
fn extend(raw: i32, size: u32) -> i32 {
    if size == 0 {
        0
    } else if raw < 1 << (size - 1) {
        raw - (1 << size) + 1
    } else {
        raw
    }
}

/// One Huffman table, ready to decode.
#[derive(Debug, Clone)]
pub(super) struct HuffmanTable {
    /// By the next [`LOOKUP_BITS`] bits: `(code length << 8) | symbol`, 0 for a longer code.
    lookup: Box<[u16; 1 << LOOKUP_BITS]>,
    /// The largest code of each length (-1: none), and what to add to a code of that
    /// length to find its symbol's index: libjpeg's `maxcode` and `valoffset`.
    max_code: [i32; 17],
    value_offset: [i32; 17],
    symbols: Vec<u8>,
    /// By the next [`VALUE_BITS`] bits, a whole symbol with its extra bits, as
    /// `bits << 24 | run << 16 | value as u16`; 0 when it does not fit, and for
    /// end-of-block and zero runs (which have no value).
    values: Box<[u32; 1 << VALUE_BITS]>,
}

impl HuffmanTable {
    /// Builds a table from a DHT segment's 16 counts and its symbols; `None` for a table
    /// libjpeg refuses (`jpeg_make_d_derived_tbl`): too many codes, a code that does not
    /// fit its length, a DC symbol over 15.
    pub(super) fn new(counts: &[u8; 16], symbols: &[u8], is_dc: bool) -> Option<Self> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || symbols.len() != total || (is_dc && symbols.iter().any(|&s| s > 15)) {
            return None;
        }
        let mut lookup = Box::new([0u16; 1 << LOOKUP_BITS]);
        let mut max_code = [-1i32; 17];
        let mut value_offset = [0i32; 17];
        let (mut code, mut index) = (0u32, 0usize);
        for length in 1..=16u32 {
            let count = usize::from(counts[length as usize - 1]);
            value_offset[length as usize] = index as i32 - code as i32;
            for &symbol in &symbols[index..index + count] {
                if length <= LOOKUP_BITS {
                    let shift = LOOKUP_BITS - length;
                    let first = (code << shift) as usize;
                    lookup[first..first + (1 << shift)].fill(((length as u16) << 8) | u16::from(symbol));
                }
                code += 1;
            }
            index += count;
            if count > 0 {
                max_code[length as usize] = code as i32 - 1;
            }
            // No code may be all ones, so one past the last must still fit the length.
            if code >= 1 << length {
                return None;
            }
            code <<= 1;
        }
        let mut table =
            Self { lookup, max_code, value_offset, symbols: symbols.to_vec(), values: Box::new([0; 1 << VALUE_BITS]) };
        for prefix in 0..1u32 << VALUE_BITS {
            let bits = prefix << (32 - VALUE_BITS);
            let Some((length, symbol)) = table.decode_bits(bits, VALUE_BITS) else { continue };
            // A DC symbol is the size alone; an AC one the run and the size.
            let (run, size) =
                if is_dc { (0, u32::from(symbol)) } else { (u32::from(symbol >> 4), u32::from(symbol & 15)) };
            if length + size > VALUE_BITS || (!is_dc && size == 0) {
                continue;
            }
            let raw = if size == 0 { 0 } else { ((bits << length) >> (32 - size)) as i32 };
            let value = extend(raw, size);
            table.values[prefix as usize] = ((length + size) << 24) | (run << 16) | u32::from(value as i16 as u16);
        }
        Some(table)
    }

    /// The symbol whose code starts `bits` (`available` bits, left-aligned in 32), and its
    /// code length; `None` when no code of at most `available` bits matches.
    fn decode_bits(&self, bits: u32, available: u32) -> Option<(u32, u8)> {
        let entry = self.lookup[(bits >> (32 - LOOKUP_BITS)) as usize];
        if entry != 0 {
            let length = u32::from(entry >> 8);
            return (length <= available).then_some((length, entry as u8));
        }
        for length in LOOKUP_BITS + 1..=available.min(16) {
            let code = (bits >> (32 - length)) as i32;
            if code <= self.max_code[length as usize] {
                let index = usize::try_from(code + self.value_offset[length as usize]).ok()?;
                return self.symbols.get(index).map(|&symbol| (length, symbol));
            }
        }
        None
    }

    /// Reads one symbol; the reader must hold at least 16 bits.
    #[inline(always)]
    fn decode(&self, reader: &mut BitReader<'_>) -> Result<u8, BadData> {
        let entry = self.lookup[reader.peek(LOOKUP_BITS) as usize];
        if entry != 0 {
            reader.consume(u32::from(entry >> 8));
            return Ok(entry as u8);
        }
        let (length, symbol) = self.decode_bits(reader.peek(16) << 16, 16).ok_or(BadData)?;
        reader.consume(length);
        Ok(symbol)
    }
}

/// For an AC table: by the next [`SKIP_BITS`] bits, how many whole symbols (code and
/// extra bits) they hold, as `bits | need << 4 | end << 10`:
/// - `bits`, the bits they take (at most 12; 0 when not even one symbol fits);
/// - `need`, the coefficient positions they advance, plus one when the last symbol is
///   end-of-block (which must come while a position is still open): taken only if the
///   block's position plus `need` is at most 63;
/// - `end`, 63 when the last symbol is end-of-block, which ORed into the new position
///   ends the block.
///
/// 8 KiB, so that a scan's tables stay in L1 cache together.
#[derive(Debug, Clone)]
pub(super) struct SkipTable {
    entries: Box<[u16; 1 << SKIP_BITS]>,
}

const BLOCK_END: u32 = 63;

impl SkipTable {
    pub(super) fn new(table: &HuffmanTable) -> Self {
        let mut entries = Box::new([0u16; 1 << SKIP_BITS]);
        for (value, entry) in (0..1u32 << SKIP_BITS).zip(entries.iter_mut()) {
            let (mut used, mut positions) = (0u32, 0u32);
            *entry = loop {
                let available = SKIP_BITS - used;
                let bits = (value << (32 - SKIP_BITS)) << used;
                let Some((length, symbol)) = table.decode_bits(bits, available) else {
                    break (used | (positions << 4)) as u16;
                };
                let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
                if size == 0 && run != 15 {
                    if positions < BLOCK_END {
                        break ((used + length) | ((positions + 1) << 4) | (BLOCK_END << 10)) as u16;
                    }
                    break (used | (positions << 4)) as u16;
                }
                let advance = if size == 0 { 16 } else { run + 1 };
                if length + size > available || size > MAX_AC_SIZE || positions + advance > BLOCK_END {
                    break (used | (positions << 4)) as u16;
                }
                used += length + size;
                positions += advance;
            };
        }
        Self { entries }
    }
}

/// Decodes one block's DC difference: the reader must hold at least 32 bits.
#[inline(always)]
pub(super) fn dc_difference(reader: &mut BitReader<'_>, dc: &HuffmanTable) -> Result<i32, BadData> {
    reader.ensure(32);
    let entry = dc.values[reader.peek(VALUE_BITS) as usize];
    if entry != 0 {
        reader.consume(entry >> 24);
        return Ok(i32::from(entry as u16 as i16));
    }
    let size = u32::from(dc.decode(reader)?);
    if size > MAX_DC_SIZE {
        return Err(BadData);
    }
    Ok(reader.signed(size))
}

/// Reads past one block's AC coefficients from `position` (how many of its 63 positions
/// are already read; less than 63). A block ends at end-of-block or once its 63 positions
/// are filled; a run past position 63 is damage (libjpeg would clip it).
#[inline(always)]
pub(super) fn skip_ac(
    reader: &mut BitReader<'_>,
    ac: &HuffmanTable,
    skip: &SkipTable,
    mut position: u32,
) -> Result<(), BadData> {
    loop {
        // At least 56 bits: four table steps of at most 12 bits need no further refill.
        reader.refill();
        let mut stuck = false;
        for _ in 0..4 {
            let entry = u32::from(skip.entries[reader.peek(SKIP_BITS) as usize]);
            let (bits, need) = (entry & 0xF, (entry >> 4) & 0x3F);
            if bits == 0 || position + need > BLOCK_END {
                stuck = true;
                break;
            }
            reader.consume(bits);
            position = (position + need) | (entry >> 10);
            if position == BLOCK_END {
                return Ok(());
            }
        }
        if !stuck {
            continue;
        }
        // A symbol the table cannot take whole (a long code, or the block's last): alone.
        reader.refill();
        let entry = ac.values[reader.peek(VALUE_BITS) as usize];
        if entry != 0 {
            reader.consume(entry >> 24);
            position += ((entry >> 16) & 0xFF) + 1;
            if position >= BLOCK_END {
                return if position == BLOCK_END { Ok(()) } else { Err(BadData) };
            }
            continue;
        }
        let symbol = ac.decode(reader)?;
        let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
        if size == 0 {
            if run != 15 {
                return Ok(());
            }
            position += 16;
        } else {
            if size > MAX_AC_SIZE {
                return Err(BadData);
            }
            reader.consume(size);
            position += run + 1;
        }
        if position >= BLOCK_END {
            return if position == BLOCK_END { Ok(()) } else { Err(BadData) };
        }
    }
}

/// Decodes one block's AC coefficients into `block` (natural order, all zero on entry);
/// returns whether it may have written any (false: the block is its DC alone).
#[inline(always)]
pub(super) fn decode_ac(reader: &mut BitReader<'_>, ac: &HuffmanTable, block: &mut [i16; 64]) -> Result<bool, BadData> {
    let mut k = 1usize;
    while k < 64 {
        reader.ensure(32);
        let entry = ac.values[reader.peek(VALUE_BITS) as usize];
        if entry != 0 {
            reader.consume(entry >> 24);
            k += ((entry >> 16) & 0xFF) as usize;
            if k > 63 {
                return Err(BadData);
            }
            block[NATURAL_ORDER[k] & 63] = entry as u16 as i16;
            k += 1;
            continue;
        }
        let symbol = ac.decode(reader)?;
        let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
        if size == 0 {
            if run != 15 {
                return Ok(k > 1);
            }
            k += 16;
            if k > 64 {
                return Err(BadData);
            }
            continue;
        }
        k += run;
        if k > 63 || size > MAX_AC_SIZE {
            return Err(BadData);
        }
        block[NATURAL_ORDER[k] & 63] = reader.signed(size) as i16;
        k += 1;
    }
    Ok(true)
}

/// Decodes one block's AC coefficients up to zig-zag index `last` into `block` (natural
/// order, all zero on entry) and skips the rest by `skip`, as [`decode_ac`] otherwise;
/// returns whether it may have written any.
#[inline(always)]
pub(super) fn decode_ac_then_skip(
    reader: &mut BitReader<'_>,
    ac: &HuffmanTable,
    skip: &SkipTable,
    block: &mut [i16; 64],
    last: usize,
) -> Result<bool, BadData> {
    let (mut k, mut stored) = (1usize, false);
    while k <= last {
        reader.ensure(32);
        let entry = ac.values[reader.peek(VALUE_BITS) as usize];
        let value = if entry != 0 {
            reader.consume(entry >> 24);
            k += ((entry >> 16) & 0xFF) as usize;
            entry as u16 as i16
        } else {
            let symbol = ac.decode(reader)?;
            let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
            if size == 0 {
                if run != 15 {
                    return Ok(stored);
                }
                k += 16;
                if k > 64 {
                    return Err(BadData);
                }
                continue;
            }
            if size > MAX_AC_SIZE {
                return Err(BadData);
            }
            k += run;
            reader.signed(size) as i16
        };
        if k > 63 {
            return Err(BadData);
        }
        if k <= last {
            block[NATURAL_ORDER[k] & 63] = value;
            stored = true;
        }
        k += 1;
    }
    if k < 64 {
        skip_ac(reader, ac, skip, k as u32 - 1)?;
    }
    Ok(stored)
}

/// The coefficients libjpeg's inverse DCT of `side` x `side` outputs reads, a bit per
/// zig-zag position: `jidctint.c`'s 3, 5 and 6-point transforms read only the top-left
/// `side` x `side` (DC alone at 1); `jidctred.c`'s 2-point one rows and columns 0, 1, 3, 5
/// and 7, its 4-point one all but row and column 4; the 8-point one all 64.
pub(super) fn transform_reads(side: usize) -> u64 {
    let read = |line: usize| match side {
        2 => matches!(line, 0 | 1 | 3 | 5 | 7),
        4 => line != 4,
        1 | 3 | 5 | 6 => line < side,
        _ => true,
    };
    (0..64).filter(|&k| read(NATURAL_ORDER[k] / 8) && read(NATURAL_ORDER[k] % 8)).fold(0, |mask, k| mask | 1 << k)
}

/// The last coefficient, in zig-zag order, that the inverse DCT of `side` x `side` reads.
pub(super) fn last_needed(side: usize) -> usize {
    63 - transform_reads(side).leading_zeros() as usize
}

/// One AC symbol with its value, by one look-up, when its code and extra bits fit
/// [`VALUE_BITS`]: the run of zeros before the value, and the value; `None` (nothing read)
/// for any other symbol, end-of-band and zero runs among them.
#[inline(always)]
pub(super) fn ac_run_and_value(reader: &mut BitReader<'_>, ac: &HuffmanTable) -> Option<(usize, i32)> {
    reader.ensure(32);
    let entry = ac.values[reader.peek(VALUE_BITS) as usize];
    if entry == 0 {
        return None;
    }
    reader.consume(entry >> 24);
    Some((((entry >> 16) & 0xFF) as usize, i32::from(entry as u16 as i16)))
}

/// One AC symbol: its run of zeros and the size of its value (0: end-of-band or, with a
/// run of 15, sixteen zeros).
#[inline(always)]
pub(super) fn ac_symbol(reader: &mut BitReader<'_>, ac: &HuffmanTable) -> Result<(u8, u8), BadData> {
    reader.ensure(16);
    let symbol = ac.decode(reader)?;
    Ok((symbol >> 4, symbol & 15))
}

/// Where the k-th coefficient in zig-zag order sits in the 8 x 8 block.
pub(super) const NATURAL_ORDER: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// A quantization table as read from DQT (zig-zag order) put in natural order.
pub(super) fn natural_order(zigzag: &[u16; 64]) -> [u16; 64] {
    let mut natural = [0u16; 64];
    for (k, &value) in zigzag.iter().enumerate() {
        natural[NATURAL_ORDER[k]] = value;
    }
    natural
}
