//! `make bench-tracing` (its core part): the thumbnail core, X-Ray tracing on against off.
//!
//! Each photo (JPEG paths on standard input) becomes its 256x256 JPEG thumbnail as the
//! thumbnailer makes it (its configuration, header read, decode, resize, encode), inside the
//! runtime's invocation span and a record span, under the functions' own subscriber
//! (`shared::logging::subscriber`, lines to nowhere). Off: no daemon and an unsampled
//! invocation, as a deployment without tracing runs. On: a sampled invocation sending each
//! subsegment to a UDP listener here, as Lambda's daemon receives them. The two take turns on
//! each photo, BENCH_ROUNDS (5) rounds; a photo's time is its fastest. Prints a table and, last,
//! one JSON line.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line report

use std::io::BufRead as _;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shared::xray::{Daemon, XrayLayer};
use tracing::Dispatch;

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let photos: Vec<Vec<u8>> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter(|line| line.to_ascii_lowercase().ends_with(".jpg"))
        .map(std::fs::read)
        .collect::<Result<_, _>>()?;
    if photos.is_empty() {
        return Err("no JPEG paths on standard input".into());
    }
    let config = thumbnailer::Config::from_env(&shared::config::Env::from_pairs([("THUMBNAIL_SIZES", "256x256")]))?;

    // The daemon: counts what arrives.
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let address = socket.local_addr()?;
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    std::thread::spawn(move || {
        let mut buffer = vec![0; 70_000];
        while socket.recv(&mut buffer).is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let off = Dispatch::new(shared::logging::subscriber(std::io::sink, XrayLayer::without_daemon()));
    let on = Dispatch::new(shared::logging::subscriber(std::io::sink, XrayLayer::sending_to(Daemon::at(address)?)));
    let thumbnail = |dispatch: &Dispatch, sampled: bool, bytes: &[u8]| -> Result<Duration, Failure> {
        let header =
            format!("Root=1-6b146212-905fb9584127ef2a8505cabc;Parent=53995c3f42cd8ad8;Sampled={}", u8::from(sampled));
        tracing::dispatcher::with_default(dispatch, || {
            let started = Instant::now();
            let invocation =
                tracing::info_span!("Lambda runtime invoke", requestId = "bench", xrayTraceId = header.as_str());
            invocation.in_scope(|| {
                tracing::info_span!("record", bucket = "bench", key = "uploads/photo.jpg").in_scope(|| {
                    let header = imaging::Header::read(bytes, config.limits)?;
                    imaging::make_thumbnails_from(
                        bytes,
                        &header,
                        &config.sizes,
                        config.format,
                        config.fit,
                        config.limits,
                    )
                })
            })?;
            Ok(started.elapsed())
        })
    };

    let mut fastest = [vec![Duration::MAX; photos.len()], vec![Duration::MAX; photos.len()]];
    let mut round_overheads = Vec::new();
    let mut sent_before = 0;
    for round in 0..rounds {
        let mut totals = [Duration::ZERO; 2];
        for (n, bytes) in photos.iter().enumerate() {
            // Turns: off first in even rounds, on first in odd ones.
            let order = if (round + n) % 2 == 0 { [0, 1] } else { [1, 0] };
            for mode in order {
                let took = if mode == 0 { thumbnail(&off, false, bytes)? } else { thumbnail(&on, true, bytes)? };
                totals[mode] += took;
                fastest[mode][n] = fastest[mode][n].min(took);
            }
        }
        round_overheads.push(totals[1].as_secs_f64() / totals[0].as_secs_f64() - 1.0);
        if round == 0 {
            std::thread::sleep(Duration::from_millis(200));
            sent_before = received.load(Ordering::Relaxed);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let per_photo = sent_before as f64 / photos.len() as f64;
    let [off_ms, on_ms] = fastest.map(|times| times.iter().map(|t| t.as_secs_f64() * 1000.0).collect::<Vec<_>>());
    let (off_total, on_total) = (off_ms.iter().sum::<f64>(), on_ms.iter().sum::<f64>());
    let overhead = on_total / off_total - 1.0;
    let (low, high) = round_overheads.iter().fold((f64::MAX, f64::MIN), |(l, h), o| (l.min(*o), h.max(*o)));
    println!(
        "thumbnail core: {} JPEG photos, 256x256 q{}, {rounds} rounds taking turns, a photo's fastest",
        photos.len(),
        match config.format {
            imaging::OutputFormat::Jpeg { quality } => quality.to_string(),
            _ => "?".to_owned(),
        }
    );
    println!("| | tracing off | tracing on | on against off |");
    println!("|---|---|---|---|");
    println!(
        "| ms per photo (median) | {:.2} | {:.2} | {:+.2}% |",
        median(&off_ms),
        median(&on_ms),
        (median(&on_ms) / median(&off_ms) - 1.0) * 100.0
    );
    println!(
        "| all photos, ms | {off_total:.1} | {on_total:.1} | {:+.2}% (rounds {:+.2}% to {:+.2}%) |",
        overhead * 100.0,
        low * 100.0,
        high * 100.0
    );
    println!("| subsegments sent per photo | 0 | {per_photo:.1} | |");
    println!(
        "{{\"core_overhead\": {overhead:.4}, \"core_overhead_low\": {low:.4}, \"core_overhead_high\": {high:.4}, \
         \"core_ms_off\": {:.3}, \"core_ms_on\": {:.3}, \"subsegments_per_photo\": {per_photo:.1}}}",
        median(&off_ms),
        median(&on_ms)
    );
    if per_photo < 4.0 {
        eprintln!("only {per_photo:.1} subsegments a photo arrived: tracing did not run as deployed");
        std::process::exit(1);
    }
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}
