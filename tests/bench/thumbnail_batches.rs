//! `make bench-thumbnails` (its batch part): what a batch of uploads costs, S3 included.
//!
//! The packaged binary (`cargo lambda build --release`) runs as Lambda runs it: under
//! the local Lambda, in a cgroup with the memory size as a hard limit and Lambda's CPU
//! share (one vCPU per 1,769 MB). It gets SQS batches of 10 real photos (Debian's
//! wallpapers, the paths on standard input) from the emulator behind a proxy that makes
//! S3 realistic: 20 ms before each request and 100 MB/s each way. Each memory size runs
//! with one record at a time and with records concurrent, and the run prints wall time
//! per batch, images/s, peak RSS and dollars per million thumbnails (Lambda's x86 price
//! per GB-second, billed per millisecond, plus the request price). The last line is JSON.

#![allow(clippy::print_stdout)] // a command-line report

use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::{Value, json};
use support::Moto;
use support::lambda::{Limits, LocalLambda, Outcome, packaged_binary};
use support::photos::BenchBatches;
use support::slow_proxy::SlowProxy;

const BATCH: usize = 10;
const BATCHES: usize = 3;
const MEMORY_SIZES: [u32; 3] = [512, 1024, 1769];
const LATENCY: Duration = Duration::from_millis(20);
const BANDWIDTH: u64 = 100_000_000;
/// Lambda's x86 price in us-east-1: per GB-second, and per request.
const USD_PER_GB_SECOND: f64 = 0.000_016_666_7;
const USD_PER_REQUEST: f64 = 0.000_000_2;

struct Run {
    memory_mb: u32,
    concurrent: bool,
    wall_per_batch: Duration,
    peak_rss_mib: u64,
    usd_per_million: f64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let BenchBatches { account, bucket, batches, megabytes } =
        BenchBatches::from_stdin("bench-batches", BATCH, BATCHES).await?;
    let moto = Moto::shared();
    let s3 = account.aws.s3();
    let proxy = SlowProxy::start(moto.url(), LATENCY, BANDWIDTH).await;
    println!(
        "{} batches of {BATCH} JPEG photos ({megabytes:.0} MB), packaged binary, Lambda's memory limit and CPU share; \
         S3 through a proxy: {} ms a request, {} MB/s",
        BATCHES,
        LATENCY.as_millis(),
        BANDWIDTH / 1_000_000
    );
    println!(
        "| memory MB | records | wall per batch s | images/s | peak RSS MiB | USD per million thumbnails | speed-up |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut runs: Vec<Run> = Vec::new();
    for memory_mb in MEMORY_SIZES {
        for concurrent in [false, true] {
            let records = if concurrent { "8" } else { "1" };
            let env = [
                ("AWS_ENDPOINT_URL", proxy.url.as_str()),
                ("THUMBNAIL_SIZES", "256x256"),
                ("MAX_CONCURRENT_RECORDS", records),
            ];
            let lambda =
                LocalLambda::start(packaged_binary("thumbnailer"), Limits { memory_mb, cpu_share: true }, &env).await;
            let (mut wall, mut peak) = (Duration::ZERO, 0);
            let mut billed_ms = 0u128;
            for batch in &batches {
                support::delete_under(&s3, &bucket, "thumbnails/").await?;
                let invoked = lambda.invoke(batch, Duration::from_secs(300)).await;
                let response = match invoked.outcome {
                    Outcome::Response(value) => value,
                    other => bail!("{memory_mb} MB: {other:?}\n{}", lambda.log()),
                };
                let written = response["results"]
                    .as_array()
                    .map_or(0, |r| r.iter().filter(|r| r["outcome"] == "written").count());
                if written != BATCH {
                    bail!("{memory_mb} MB: {written} of {BATCH} written: {response:#}");
                }
                wall += invoked.elapsed;
                billed_ms += invoked.elapsed.as_millis() + 1;
                peak = peak.max(invoked.peak_rss_kib / 1024);
            }
            let wall_per_batch = wall / u32::try_from(BATCHES).unwrap_or(1);
            let gb_seconds = f64::from(memory_mb) / 1024.0 * billed_ms as f64 / 1000.0;
            let usd = gb_seconds * USD_PER_GB_SECOND + BATCHES as f64 * USD_PER_REQUEST;
            let run = Run {
                memory_mb,
                concurrent,
                wall_per_batch,
                peak_rss_mib: peak,
                usd_per_million: usd / (BATCHES * BATCH) as f64 * 1e6,
            };
            let speedup = runs
                .iter()
                .find(|r| r.memory_mb == memory_mb && !r.concurrent)
                .map_or(1.0, |sequential| sequential.wall_per_batch.as_secs_f64() / run.wall_per_batch.as_secs_f64());
            println!(
                "| {memory_mb} | {} | {:.2} | {:.1} | {} | {:.2} | {speedup:.2}x |",
                if concurrent { "concurrent (8)" } else { "one at a time" },
                run.wall_per_batch.as_secs_f64(),
                BATCH as f64 / run.wall_per_batch.as_secs_f64(),
                run.peak_rss_mib,
                run.usd_per_million,
            );
            runs.push(run);
        }
    }
    let find =
        |memory_mb: u32, concurrent: bool| runs.iter().find(|r| r.memory_mb == memory_mb && r.concurrent == concurrent);
    let speedup_1769 = match (find(1769, false), find(1769, true)) {
        (Some(seq), Some(conc)) => seq.wall_per_batch.as_secs_f64() / conc.wall_per_batch.as_secs_f64(),
        _ => 0.0,
    };
    let peak_within = runs.iter().all(|r| r.peak_rss_mib < u64::from(r.memory_mb));
    let usd: Value = MEMORY_SIZES
        .iter()
        .filter_map(|m| {
            find(*m, true).map(|r| (format!("usd_per_million_{m}"), json!((r.usd_per_million * 100.0).round() / 100.0)))
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let mut summary =
        json!({"batch_speedup": (speedup_1769 * 100.0).round() / 100.0, "peak_rss_within_memory": peak_within});
    if let (Some(summary), Some(usd)) = (summary.as_object_mut(), usd.as_object()) {
        summary.extend(usd.clone());
    }
    println!("{summary}");
    Ok(())
}
