//! Thumbnail boxes (`256x256`) and fitting an image inside one.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BoxSize {
    pub width: u32,
    pub height: u32,
}

impl fmt::Display for BoxSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// `256x256` or several, comma-separated: `128x128,512x512`. Each side 1 to 4096.
pub fn parse_sizes(text: &str) -> Result<Vec<BoxSize>, String> {
    let mut sizes = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = part
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
        match parsed {
            Some((width, height)) if (1..=4096).contains(&width) && (1..=4096).contains(&height) => {
                sizes.push(BoxSize { width, height });
            }
            _ => return Err(format!("{part:?} is not WIDTHxHEIGHT with sides from 1 to 4096")),
        }
    }
    if sizes.is_empty() {
        return Err("no size given".to_owned());
    }
    sizes.sort();
    sizes.dedup();
    Ok(sizes)
}

/// The size that fits `width` x `height` inside the box keeping the aspect ratio,
/// never larger than the original, never 0.
pub fn fit_inside(width: u32, height: u32, size: BoxSize) -> (u32, u32) {
    if width <= size.width && height <= size.height {
        return (width.max(1), height.max(1));
    }
    let (w, h, bw, bh) = (u64::from(width), u64::from(height), u64::from(size.width), u64::from(size.height));
    // Compare w/h with bw/bh without floating point: the binding side is the one that overflows more.
    let (out_w, out_h) = if w * bh >= h * bw { (bw, (h * bw + w / 2) / w) } else { ((w * bh + h / 2) / h, bh) };
    (u32::try_from(out_w).unwrap_or(size.width).max(1), u32::try_from(out_h).unwrap_or(size.height).max(1))
}
