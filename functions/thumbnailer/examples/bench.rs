//! Times this crate's thumbnail core on files, like `scripts/bench/thumbnails_peers.py`:
//! `cargo run --release -p thumbnailer --example bench -- FILE...` prints one JSON line.

#![allow(clippy::print_stdout)] // a command-line report

use std::time::Instant;

use thumbnailer::core::{BoxSize, Limits, OutputFormat, make_thumbnails, probe};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    thumbnailer::memory::return_large_buffers_to_the_system(); // as main.rs does
    let limits = Limits { max_pixels: 100_000_000, max_alloc_bytes: 384 * 1024 * 1024 };
    let size = [BoxSize { width: 256, height: 256 }];
    let mut results = Vec::new();
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path)?;
        let info = probe(&data, limits)?;
        make_thumbnails(&data, &size, OutputFormat::Jpeg { quality: 80 }, limits)?;
        let start = Instant::now();
        make_thumbnails(&data, &size, OutputFormat::Jpeg { quality: 80 }, limits)?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let mp = f64::from(info.width) * f64::from(info.height) / 1e6;
        results.push(serde_json::json!({"file": path, "ms": ms, "mp": mp}));
    }
    let peak = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok()))
        .unwrap_or(0);
    println!("{}", serde_json::json!({"peer": "thumbnailer", "results": results, "peak_rss_kib": peak}));
    Ok(())
}
