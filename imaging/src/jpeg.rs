//! Reading a JPEG's structure without decoding it: the frame (size, components,
//! sampling, progressive or not), the EXIF orientation, the Adobe marker, whether the
//! file is complete, and where each scan lies.
//!
//! The structure gives the two things that make JPEG thumbnails fast and safe:
//! - **the memory a decode needs**, known before libjpeg allocates anything;
//! - **a reduced stream for progressive files decoded at 1/8.** At 1/8 scale libjpeg's
//!   inverse DCT of a full-resolution component is the block average, the DC
//!   coefficient alone; a subsampled component (the chroma of a 4:2:0 photo) gets a
//!   2 x 2 inverse DCT instead, which also reads its lowest AC coefficients. A
//!   progressive file carries DC in scans of their own and AC in single-component scans,
//!   so leaving out the AC scans of the full-resolution components decodes to exactly
//!   the same 1/8 image while skipping most of the entropy decoding (on the benchmark's
//!   largest photo, 11 MB of 16 MB). libjpeg-turbo cannot skip scans itself.

use image::metadata::Orientation;

use crate::rejection::Rejection;

/// What a JPEG's markers say, read before any pixel is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegStructure {
    pub width: u32,
    pub height: u32,
    pub progressive: bool,
    /// Horizontal and vertical sampling factor of each component.
    pub sampling: Vec<(u8, u8)>,
    /// Each component's identifier, in frame order.
    component_ids: Vec<u8>,
    pub orientation: Orientation,
    /// An APP14 "Adobe" marker: Photoshop's CMYK files store inverted ink values.
    pub adobe: bool,
    /// Where the embedded ICC profile's pieces lie (APP2 `ICC_PROFILE`): sequence
    /// number, start and end of its data.
    icc_chunks: Vec<(u8, usize, usize)>,
    /// Byte ranges of every scan (its SOS marker through its entropy-coded data).
    scans: Vec<Scan>,
    /// Every marker from SOI to EOI, in file order: the 1/8-scale decoder reads its
    /// tables and scans from here instead of walking the file a second time.
    segments: Vec<Segment>,
}

/// One marker, where the walk found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub marker: u8,
    /// Its payload, after the length; empty for a marker that has none (RSTn, TEM).
    pub payload: std::ops::Range<usize>,
    /// Where the next marker starts: after the payload, or for a scan (SOS) after its
    /// entropy-coded data.
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scan {
    start: usize,
    end: usize,
    /// Spectral selection 0..0.
    dc_only: bool,
    /// The component identifiers it codes (AC scans code exactly one).
    components: [Option<u8>; 4],
}

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const ICC_SIGNATURE: &[u8] = b"ICC_PROFILE\0";
const APP14: u8 = 0xEE;

fn corrupt(reason: &str) -> Rejection {
    Rejection::Corrupt(reason.to_owned())
}

/// Walks the markers from SOI to EOI. A file that ends before its EOI marker is
/// truncated and refused: libjpeg would quietly fill the missing part with grey.
pub fn read_structure(bytes: &[u8]) -> Result<JpegStructure, Rejection> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != SOI {
        return Err(Rejection::NotAnImage);
    }
    let mut frame: Option<Frame> = None;
    let mut orientation = Orientation::NoTransforms;
    let mut adobe = false;
    let mut icc_chunks = Vec::new();
    let mut scans = Vec::new();
    let mut segments = Vec::new();
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while at < bytes.len() && bytes[at] == 0xFF && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if at + 1 >= bytes.len() {
            return Err(corrupt("the JPEG ends before its end-of-image marker"));
        }
        if bytes[at] != 0xFF {
            return Err(corrupt("the JPEG's marker structure is broken"));
        }
        let marker = bytes[at + 1];
        let segment_start = at;
        at += 2;
        match marker {
            EOI => break,
            0x01 | 0xD0..=0xD7 => {
                // No length. Out of place outside a scan, but libjpeg skips it; the 1/8-scale
                // decoder leaves such a file to libjpeg.
                segments.push(Segment { marker, payload: at..at, end: at });
                continue;
            }
            _ => {}
        }
        let length = match bytes.get(at..at + 2) {
            Some(&[high, low]) => usize::from(u16::from_be_bytes([high, low])),
            _ => return Err(corrupt("the JPEG ends inside a marker segment")),
        };
        let payload = bytes.get(at + 2..at + length).filter(|_| length >= 2);
        let Some(payload) = payload else {
            return Err(corrupt("the JPEG ends inside a marker segment"));
        };
        let payload_range = at + 2..at + length;
        at += length;
        match marker {
            0xC0..=0xC2 => frame = Some(read_frame(payload, marker == 0xC2)?),
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(corrupt("the JPEG uses a lossless or arithmetic-coded process, which is not supported"));
            }
            APP1 if payload.starts_with(b"Exif\0\0") => {
                if let Some(found) = Orientation::from_exif_chunk(&payload[6..]) {
                    orientation = found;
                }
            }
            APP14 if payload.starts_with(b"Adobe") => adobe = true,
            // The signature, the piece's number and the count, then its data.
            APP2 if payload.starts_with(ICC_SIGNATURE) && payload.len() > ICC_SIGNATURE.len() + 2 => {
                let data_start = segment_start + 4 + ICC_SIGNATURE.len() + 2;
                icc_chunks.push((payload[ICC_SIGNATURE.len()], data_start, segment_start + 2 + length));
            }
            SOS => {
                if frame.is_none() {
                    return Err(corrupt("the JPEG has a scan before its frame header"));
                }
                let count = usize::from(*payload.first().unwrap_or(&0));
                let spectral = payload.get(1 + 2 * count..3 + 2 * count);
                let dc_only = spectral == Some(&[0, 0]);
                let mut components = [None; 4];
                for (slot, selector) in
                    components.iter_mut().zip(payload.get(1..1 + 2 * count).unwrap_or(&[]).chunks_exact(2))
                {
                    *slot = Some(selector[0]);
                }
                at = end_of_entropy_data(bytes, at);
                scans.push(Scan { start: segment_start, end: at, dc_only, components });
            }
            _ => {}
        }
        segments.push(Segment { marker, payload: payload_range, end: at });
    }
    let Some(Frame { width, height, progressive, sampling, component_ids }) = frame else {
        return Err(corrupt("the JPEG has no frame header"));
    };
    if scans.is_empty() {
        return Err(corrupt("the JPEG has no image data"));
    }
    Ok(JpegStructure {
        width,
        height,
        progressive,
        sampling,
        component_ids,
        orientation,
        adobe,
        icc_chunks,
        scans,
        segments,
    })
}

struct Frame {
    width: u32,
    height: u32,
    progressive: bool,
    sampling: Vec<(u8, u8)>,
    component_ids: Vec<u8>,
}

fn read_frame(payload: &[u8], progressive: bool) -> Result<Frame, Rejection> {
    let bad = || corrupt("the JPEG's frame header is malformed");
    let header = payload.get(..6).ok_or_else(bad)?;
    if header[0] != 8 {
        return Err(corrupt("the JPEG has 12-bit samples, which are not supported"));
    }
    let height = u32::from(u16::from_be_bytes([header[1], header[2]]));
    let width = u32::from(u16::from_be_bytes([header[3], header[4]]));
    let count = usize::from(header[5]);
    let components = payload.get(6..6 + 3 * count).ok_or_else(bad)?;
    let sampling: Vec<(u8, u8)> = components.chunks_exact(3).map(|c| (c[1] >> 4, c[1] & 0x0F)).collect();
    if width == 0 || height == 0 || !matches!(count, 1 | 3 | 4) {
        return Err(bad());
    }
    if sampling.iter().any(|&(h, v)| !(1..=4).contains(&h) || !(1..=4).contains(&v)) {
        return Err(bad());
    }
    let component_ids = components.chunks_exact(3).map(|c| c[0]).collect();
    Ok(Frame { width, height, progressive, sampling, component_ids })
}

/// `jpeg` with one more marker segment right after its start-of-image marker: how cameras
/// place their EXIF (`APP1`) and ICC profile (`APP2`). For tests, benchmarks and the demo's
/// data; `None` when `payload` is over a segment's 65,533 bytes or `jpeg` is no JPEG.
#[cfg(any(test, feature = "test-support"))]
pub fn with_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Option<Vec<u8>> {
    let length = u16::try_from(payload.len() + 2).ok()?;
    if !jpeg.starts_with(&[0xFF, SOI]) {
        return None;
    }
    let mut out = Vec::with_capacity(jpeg.len() + payload.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend([0xFF, marker]);
    out.extend(length.to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[2..]);
    Some(out)
}

/// The index just past a scan's entropy-coded data: the next marker that is not a
/// stuffed zero (FF 00), a restart marker or fill.
fn end_of_entropy_data(bytes: &[u8], mut at: usize) -> usize {
    while let Some(offset) = memchr::memchr(0xFF, &bytes[at..]) {
        at += offset;
        match bytes.get(at + 1) {
            Some(0x00 | 0xD0..=0xD7 | 0xFF) => at += 1,
            Some(_) => return at,
            None => return bytes.len(),
        }
    }
    bytes.len()
}

impl JpegStructure {
    /// The embedded ICC profile, its pieces joined in their numbered order; `None` when
    /// there is none or a piece is missing or repeated (a profile in pieces that do not
    /// fit together is no profile).
    pub fn icc_profile(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut chunks = self.icc_chunks.clone();
        chunks.sort_by_key(|&(sequence, _, _)| sequence);
        if chunks.is_empty() || chunks.iter().enumerate().any(|(i, &(sequence, _, _))| usize::from(sequence) != i + 1) {
            return None;
        }
        let mut profile = Vec::new();
        for (_, start, end) in chunks {
            profile.extend_from_slice(bytes.get(start..end)?);
        }
        Some(profile)
    }

    /// How many scans the file has (a baseline photo has one).
    pub fn scan_count(&self) -> usize {
        self.scans.len()
    }

    /// Every marker segment, in file order.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether libjpeg buffers the whole image's coefficients: whenever the file has more
    /// than one scan (every progressive file, and a sequential one whose components come
    /// in separate scans: `has_multiple_scans` in libjpeg's `jdinput.c`).
    pub(crate) fn buffers_coefficients(&self) -> bool {
        self.progressive || self.scans.len() > 1
    }

    /// Whether libjpeg's 1/8-scale decode reads AC coefficients of this component: it
    /// gives a subsampled component a larger inverse DCT instead of upsampling it
    /// (libjpeg-turbo's `jpeg_core_output_dimensions`).
    fn needs_ac_at_eighth_scale(&self, component_id: u8) -> bool {
        let Some(index) = self.component_ids.iter().position(|&id| id == component_id) else {
            return true;
        };
        let (max_h, max_v) = self.sampling.iter().fold((1, 1), |(h, v), &(ch, cv)| (h.max(ch), v.max(cv)));
        let (h, v) = self.sampling[index];
        max_h % (h * 2) == 0 && max_v % (v * 2) == 0
    }

    /// The same file without the scans that a 1/8-scale decode does not read, as the
    /// slices of `bytes` to read in order (no copy): decoded at 1/8 it gives the same
    /// pixels as the whole file (see the module comment). For progressive files only.
    pub fn stream_for_eighth_scale<'a>(&self, bytes: &'a [u8]) -> Option<Vec<&'a [u8]>> {
        if !self.progressive {
            return None;
        }
        let first_scan = self.scans.first()?.start;
        let mut parts = vec![&bytes[..first_scan]];
        let mut previous_end = first_scan;
        for scan in &self.scans {
            // Tables defined between scans (DHT, DRI) are kept: a later scan may use them.
            parts.push(&bytes[previous_end..scan.start]);
            let needed = scan.dc_only || scan.components.iter().flatten().any(|&id| self.needs_ac_at_eighth_scale(id));
            if needed {
                parts.push(&bytes[scan.start..scan.end]);
            }
            previous_end = scan.end;
        }
        parts.push(&[0xFF, EOI]);
        parts.retain(|part| !part.is_empty());
        Some(parts)
    }
}

/// Reads a list of slices as one stream, for libjpeg's source manager.
#[derive(Debug)]
pub struct Slices<'a> {
    parts: Vec<&'a [u8]>,
    index: usize,
    offset: usize,
}

impl<'a> Slices<'a> {
    pub fn new(parts: Vec<&'a [u8]>) -> Self {
        Self { parts, index: 0, offset: 0 }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.parts.iter().map(|part| part.len()).sum()
    }
}

impl std::io::Read for Slices<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = std::io::BufRead::fill_buf(self)?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        std::io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl std::io::BufRead for Slices<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while let Some(part) = self.parts.get(self.index) {
            if self.offset < part.len() {
                return Ok(&part[self.offset..]);
            }
            self.index += 1;
            self.offset = 0;
        }
        Ok(&[])
    }

    fn consume(&mut self, amount: usize) {
        self.offset += amount;
    }
}
