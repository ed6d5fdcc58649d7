//! `make soak`: the functions under injected faults, and the invariants that must hold.
//!
//! Every AWS call a function makes goes through the fault proxy (`tests/support/
//! fault_proxy.rs`), which fails a share of them (`--rate`, default 10%) with every kind
//! of fault AWS produces, by a schedule fixed by `--seeds` so a failing run can be
//! replayed. The harness itself (uploads, queues, checks) talks to the emulator directly:
//! it plays S3, SQS and Lambda, which do not fail the way the APIs a function calls do.
//!
//!     soak [--seeds 1,2] [--rate 0.1] [--budget ci|full] [--only thumbnailer]
//!
//! Prints one table row per function and seed, and exits non-zero on any violation.

#![allow(clippy::print_stdout)] // a command-line report

mod cost_report;
mod eks_scheduler;
mod iam_export;
mod photos_api;
mod thumbnailer;

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use support::Moto;
use support::fault_proxy::{FaultKind, FaultPlan, FaultProxy, Rule};

/// A seeded random sequence (splitmix64): the same seed, the same workload.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5eed_5eed_5eed_5eed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

/// The soak's faults: `rate` of every request, and a hotter rate (4.5 times, at most
/// 90%) on the calls named in `hot` (service, operation text), so that some calls fail
/// past the SDK's own retries and the functions' retries of whole runs are exercised too.
/// The hot faults are failures, not throttles or latency: a throttle makes the SDK's
/// adaptive retry slow the whole client down, which at that rate stretches a run to minutes.
pub fn plan(seed: u64, rate: f64, hot: &[(&str, &str)]) -> FaultPlan {
    let mut plan = FaultPlan::uniform(seed, rate);
    let kinds: Vec<FaultKind> =
        FaultKind::ALL.into_iter().filter(|k| !matches!(k, FaultKind::Latency | FaultKind::Throttle)).collect();
    for (service, operation) in hot.iter().rev() {
        let rule = Rule {
            service: (*service).to_owned(),
            operation: (*operation).to_owned(),
            rate: (rate * 4.5).min(0.9),
            kinds: kinds.clone(),
            limit: None,
        };
        plan.rules.insert(0, rule);
    }
    plan
}

/// One function's soak under one seed.
#[derive(Debug)]
pub struct Row {
    pub function: &'static str,
    pub invocations: usize,
    /// Requests that reached the fault proxy (the function's AWS calls, retries included).
    pub requests: usize,
    pub faults: BTreeMap<FaultKind, usize>,
    /// Whole-invocation retries: SQS redeliveries, Lambda's async retries.
    pub retries: usize,
    pub violations: Vec<String>,
    pub notes: Vec<String>,
}

impl Row {
    /// A row whose requests and faults are those `proxies` saw.
    pub fn new(
        function: &'static str,
        proxies: &[&FaultProxy],
        invocations: usize,
        retries: usize,
        violations: Vec<String>,
        notes: Vec<String>,
    ) -> Self {
        let (mut requests, mut faults) = (0, BTreeMap::new());
        for proxy in proxies {
            let (seen, faulted) = proxy.counts();
            requests += seen;
            for (kind, count) in faulted {
                *faults.entry(kind).or_insert(0) += count;
            }
        }
        Self { function, invocations, requests, faults, retries, violations, notes }
    }
}

struct Options {
    seeds: Vec<u64>,
    rate: f64,
    full: bool,
    only: Option<String>,
}

fn options() -> Result<Options> {
    let mut options = Options { seeds: vec![1], rate: 0.1, full: false, only: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seeds" => {
                options.seeds = value()?.split(',').map(|s| s.trim().parse()).collect::<Result<_, _>>()?;
            }
            "--rate" => options.rate = value()?.parse()?,
            "--budget" => {
                options.full = match value()?.as_str() {
                    "ci" => false,
                    "full" => true,
                    other => bail!("--budget is ci or full, not {other}"),
                }
            }
            "--only" => options.only = Some(value()?),
            other => bail!(
                "unknown argument {other}; usage: soak [--seeds 1,2] [--rate 0.1] [--budget ci|full] [--only thumbnailer]"
            ),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = options()?;
    let moto = Moto::shared().url().to_owned();
    let wanted = |name: &str| options.only.as_deref().is_none_or(|only| only == name);
    let mut rows = Vec::new();
    for &seed in &options.seeds {
        if wanted("thumbnailer") {
            let operations = if options.full { 1000 } else { 200 };
            rows.push((seed, timed(thumbnailer::soak(&moto, seed, options.rate, operations)).await?));
        }
        if wanted("eks-scheduler") {
            let cycles = if options.full { 50 } else { 5 };
            rows.push((seed, timed(eks_scheduler::soak(&moto, seed, options.rate, 10, cycles)).await?));
        }
        if wanted("cost-report") {
            let (days, runs) = if options.full { (10, 5) } else { (3, 3) };
            rows.push((seed, timed(cost_report::soak(&moto, seed, options.rate, days, runs)).await?));
        }
        if wanted("iam-export") {
            let (users, runs) = if options.full { (1500, 50) } else { (300, 10) };
            rows.push((seed, timed(iam_export::soak(&moto, seed, options.rate, users, runs)).await?));
        }
        if wanted("photos-api") {
            let requests = if options.full { 500 } else { 20 };
            rows.push((seed, timed(photos_api::soak(&moto, seed, options.rate, requests)).await?));
        }
    }
    print_table(options.rate, &rows);
    let violations: usize = rows.iter().map(|(_, (row, _))| row.violations.len()).sum();
    if violations > 0 {
        bail!("{violations} invariant violation(s)");
    }
    Ok(())
}

async fn timed(run: impl std::future::Future<Output = Result<Row>>) -> Result<(Row, f64)> {
    let started = Instant::now();
    let row = run.await?;
    Ok((row, started.elapsed().as_secs_f64()))
}

fn print_table(rate: f64, rows: &[(u64, (Row, f64))]) {
    println!("\nsoak at {:.0}% faults", rate * 100.0);
    let kinds: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
    println!(
        "| function | seed | invocations | requests | faults: {} | retries | violations | seconds |",
        kinds.join(" / ")
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (seed, (row, seconds)) in rows {
        let faults: Vec<String> =
            FaultKind::ALL.iter().map(|k| row.faults.get(k).copied().unwrap_or(0).to_string()).collect();
        let total: usize = row.faults.values().sum();
        println!(
            "| {} | {seed} | {} | {} | {total}: {} | {} | {} | {seconds:.0} |",
            row.function,
            row.invocations,
            row.requests,
            faults.join(" / "),
            row.retries,
            row.violations.len()
        );
    }
    for (seed, (row, _)) in rows {
        for note in &row.notes {
            println!("{} seed {seed}: {note}", row.function);
        }
        for violation in &row.violations {
            println!("VIOLATION {} seed {seed}: {violation}", row.function);
        }
    }
}
