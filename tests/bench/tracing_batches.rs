//! `make bench-tracing` (its batch part): what X-Ray tracing adds to a batch of uploads.
//!
//! The packaged binary (`cargo lambda build --release`) runs twice under the local Lambda,
//! 1,024 MB with Lambda's CPU share: once as a deployment without tracing runs (no daemon, an
//! unsampled invocation), once traced (a sampled invocation, each subsegment sent to a UDP
//! daemon here). They take turns on the same SQS batches of 10 real photos (the paths on
//! standard input), with S3 behind a proxy that makes it realistic (20 ms a request,
//! 100 MB/s), BENCH_ROUNDS (3) rounds. Prints a table and, last, one JSON line.

#![allow(clippy::print_stdout)] // a command-line report

use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::{Value, json};
use support::Moto;
use support::lambda::{Limits, LocalLambda, Outcome, packaged_binary};
use support::photos::BenchBatches;
use support::slow_proxy::SlowProxy;
use support::xray_daemon::XrayDaemon;

const BATCH: usize = 10;
const BATCHES: usize = 3;
const MEMORY_MB: u32 = 1024;

#[tokio::main]
async fn main() -> Result<()> {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let BenchBatches { account, bucket, batches, .. } =
        BenchBatches::from_stdin("bench-tracing", BATCH, BATCHES).await?;
    let moto = Moto::shared();
    let s3 = account.aws.s3();
    let proxy = SlowProxy::start(moto.url(), Duration::from_millis(20), 100_000_000).await;
    let daemon = XrayDaemon::start();
    let limits = Limits { memory_mb: MEMORY_MB, cpu_share: true };
    let common = [("AWS_ENDPOINT_URL", proxy.url.as_str()), ("THUMBNAIL_SIZES", "256x256")];
    let off = LocalLambda::start(packaged_binary("thumbnailer"), limits, &common).await;
    let traced_env = [common[0], common[1], ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str())];
    let on = LocalLambda::start(packaged_binary("thumbnailer"), limits, &traced_env).await;

    // A warm-up batch each (the cold start is measured on its own), then the rounds.
    let mut walls = [Vec::new(), Vec::new()];
    for round in 0..=rounds {
        for (n, batch) in batches.iter().enumerate() {
            let order = if (round + n) % 2 == 0 { [0, 1] } else { [1, 0] };
            for mode in order {
                support::delete_under(&s3, &bucket, "thumbnails/").await?;
                let invoked = if mode == 0 {
                    off.invoke(batch, Duration::from_secs(300)).await
                } else {
                    let header =
                        format!("Root=1-6b146212-{:024x};Parent=53995c3f42cd8ad8;Sampled=1", round * BATCHES + n + 1);
                    on.invoke_traced(batch, Duration::from_secs(300), &header).await
                };
                let response = match invoked.outcome {
                    Outcome::Response(value) => value,
                    other => bail!("{other:?}\n{}", if mode == 0 { off.log() } else { on.log() }),
                };
                let written = response["results"]
                    .as_array()
                    .map_or(0, |r| r.iter().filter(|r| r["outcome"] == "written").count());
                if written != BATCH {
                    bail!("{written} of {BATCH} written: {response:#}");
                }
                if round > 0 {
                    walls[mode].push(invoked.elapsed.as_secs_f64());
                }
            }
        }
    }
    let subsegments = daemon.documents().len();
    let per_photo = subsegments as f64 / ((rounds + 1) * BATCHES * BATCH) as f64;
    let [off_s, on_s] = [&walls[0], &walls[1]].map(|w| w.iter().sum::<f64>() / w.len() as f64);
    let overhead = on_s / off_s - 1.0;
    // The spread: each round's batches, on against off.
    let per_round: Vec<f64> = (0..rounds)
        .map(|r| {
            let span = r * BATCHES..(r + 1) * BATCHES;
            walls[1][span.clone()].iter().sum::<f64>() / walls[0][span].iter().sum::<f64>() - 1.0
        })
        .collect();
    let (low, high) = per_round.iter().fold((f64::MAX, f64::MIN), |(l, h), o| (l.min(*o), h.max(*o)));
    println!(
        "batches: {BATCHES} batches of {BATCH} JPEG photos, {rounds} rounds taking turns, packaged binary at {MEMORY_MB} MB \
         with Lambda's CPU share, S3 through a 20 ms, 100 MB/s proxy"
    );
    println!("| | tracing off | tracing on | on against off |");
    println!("|---|---|---|---|");
    println!(
        "| wall per batch, s (mean) | {off_s:.3} | {on_s:.3} | {:+.2}% (rounds {:+.2}% to {:+.2}%) |",
        overhead * 100.0,
        low * 100.0,
        high * 100.0
    );
    println!("| ms per photo | {:.1} | {:.1} | |", off_s * 1000.0 / BATCH as f64, on_s * 1000.0 / BATCH as f64);
    println!("| subsegments sent per photo | 0 | {per_photo:.1} | |");
    let summary: Value = json!({
        "batch_overhead": (overhead * 10_000.0).round() / 10_000.0,
        "batch_overhead_low": (low * 10_000.0).round() / 10_000.0,
        "batch_overhead_high": (high * 10_000.0).round() / 10_000.0,
        "subsegments_per_photo": (per_photo * 10.0).round() / 10.0,
    });
    println!("{summary}");
    if per_photo < 4.0 {
        bail!("only {per_photo:.1} subsegments a photo arrived: the traced binary did not trace");
    }
    Ok(())
}
