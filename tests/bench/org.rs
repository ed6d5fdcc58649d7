//! `make bench-org`: one deployment across an organization of 100 member accounts (#12).
//! The IAM export of 200 users per account and an EKS stop and start of 2 clusters per
//! account, through a loopback proxy that holds every request 30 ms (an AWS round trip),
//! with accounts one at a time (what a loop over accounts does) and several at once.
//! Prints wall time, requests per account beside the single-account run's, and the speed-up.
//!
//! `BENCH_ACCOUNTS` and `BENCH_USERS` make it smaller for a quick look.

#![allow(clippy::print_stdout)] // a command-line report

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use aws_sdk_iam::types::Tag;
use eks_scheduler::core::{Request, RequestedAction, Status};
use jiff::Timestamp;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use support::eks_seed::seed;
use support::org_seed::{EXTERNAL_ID, Org};
use support::slow_proxy::SlowProxy;
use support::{Moto, TestAccount};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Added to every request by the latency proxy.
const ROUND_TRIP: Duration = Duration::from_millis(30);
const CLUSTERS_PER_ACCOUNT: usize = 2;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Users with a tag each, and an access key for every third: what a credential report and
/// the authorization details carry for them, without the minutes a full seed takes.
async fn seed_users(account: TestAccount, users: usize) -> Result<()> {
    let iam = shared::aws_client!(aws_sdk_iam, &account.aws);
    for index in 0..users {
        let name = format!("user-{index:03}");
        let tag = Tag::builder().key("team").value(format!("team-{}", index % 7)).build()?;
        iam.create_user().user_name(&name).path("/people/").tags(tag).send().await?;
        if index % 3 == 0 {
            iam.create_access_key().user_name(&name).send().await?;
        }
    }
    Ok(())
}

async fn seed_clusters(account: TestAccount) -> Result<()> {
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let opted_in: &[(&str, &str)] = &[("auto-stop", "true"), ("auto-start", "true")];
    seed(&eks, &[("web", opted_in, &[("workers", "1/3/6")]), ("batch", opted_in, &[("spot", "0/2/4")])]).await
}

/// Runs `seeding` for every account, 16 at a time.
async fn for_all<F, Fut>(accounts: &[TestAccount], seeding: F) -> Result<()>
where
    F: Fn(TestAccount) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(16));
    let mut tasks = JoinSet::new();
    for account in accounts {
        let (permits, work) = (permits.clone(), seeding(account.clone()));
        tasks.spawn(async move {
            let _permit = permits.acquire().await?;
            work.await
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(())
}

struct Measured {
    wall: Duration,
    requests: u64,
    /// Requests signed for IAM (or EKS): the per-account work, without STS and Organizations.
    service_requests: usize,
}

async fn export(
    hub: &TestAccount,
    proxy: &SlowProxy,
    bucket: &str,
    settings: &[(&str, &str)],
    runs: usize,
) -> Result<Vec<Measured>> {
    let mut pairs =
        vec![("REPORT_BUCKET", bucket), ("MEMBER_EXTERNAL_ID", EXTERNAL_ID), ("METRICS_NAMESPACE", "Bench")];
    pairs.extend_from_slice(settings);
    let mut config =
        shared::config::parse_settings(iam_export::Config::from_env, &pairs).map_err(anyhow::Error::msg)?;
    config.metrics = shared::metrics::MetricsConfig::silent("iam-export");
    // One Deps for every run: the second run is a warm invocation, its member roles cached.
    let deps = iam_export::Deps::new(config, &hub.aws);
    let mut measured = Vec::new();
    for _ in 0..runs {
        let (requests, iam) = (proxy.requests(), proxy.requests_containing("/iam/aws4_request"));
        let started = Instant::now();
        let summary = iam_export::handle(&deps, LambdaEvent::new(json!({}), Context::default())).await?;
        anyhow::ensure!(
            summary.accounts.iter().all(|a| a.reason.is_none()),
            "an account failed: {:?}",
            summary.accounts
        );
        measured.push(Measured {
            wall: started.elapsed(),
            requests: proxy.requests() - requests,
            service_requests: proxy.requests_containing("/iam/aws4_request") - iam,
        });
    }
    Ok(measured)
}

async fn stop_and_start(
    hub: &TestAccount,
    proxy: &SlowProxy,
    settings: &[(&str, &str)],
    expected: usize,
) -> Result<Measured> {
    let mut pairs = vec![("MEMBER_EXTERNAL_ID", EXTERNAL_ID)];
    pairs.extend_from_slice(settings);
    let mut config =
        shared::config::parse_settings(eks_scheduler::Config::from_env, &pairs).map_err(anyhow::Error::msg)?;
    config.metrics = shared::metrics::MetricsConfig::silent("eks-scheduler");
    let deps = eks_scheduler::Deps::new(config, &hub.aws);
    let (requests, eks) = (proxy.requests(), proxy.requests_containing("/eks/aws4_request"));
    let started = Instant::now();
    for action in [RequestedAction::Stop, RequestedAction::Start] {
        let request = Request { action, dry_run: false, clusters: None };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(900);
        let report = eks_scheduler::run(&deps, &request, Timestamp::now(), deadline, "bench").await?;
        let changed = report.clusters.iter().filter(|c| c.status == Status::Changed).count();
        anyhow::ensure!(
            changed == expected,
            "{action:?} changed {changed} clusters of {expected}: {:?}",
            report.failure_summary()
        );
    }
    Ok(Measured {
        wall: started.elapsed(),
        requests: proxy.requests() - requests,
        service_requests: proxy.requests_containing("/eks/aws4_request") - eks,
    })
}

fn row(what: &str, measured: &Measured, accounts: usize, baseline: Option<&Measured>) {
    let speed_up =
        baseline.map(|b| format!("{:.1}x", b.wall.as_secs_f64() / measured.wall.as_secs_f64())).unwrap_or_default();
    println!(
        "| {what} | {:.1} s | {} | {:.1} | {:.1} | {speed_up} |",
        measured.wall.as_secs_f64(),
        measured.requests,
        measured.requests as f64 / accounts as f64,
        measured.service_requests as f64 / accounts as f64,
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let (accounts, users) = (setting("BENCH_ACCOUNTS", 100), setting("BENCH_USERS", 200));
    let concurrency = shared::accounts::DEFAULT_CONCURRENCY;
    println!(
        "Seeding an organization of {accounts} member accounts in 3 OUs, {users} IAM users and {CLUSTERS_PER_ACCOUNT} EKS clusters each..."
    );
    let org = Org::new(accounts).await?;
    let members: Vec<TestAccount> = org.members.iter().map(|m| m.account.clone()).collect();
    for_all(&members, move |account| seed_users(account, users)).await?;
    for_all(&members, seed_clusters).await?;

    let proxy = SlowProxy::start(Moto::shared().url(), ROUND_TRIP, 0).await;
    let hub = TestAccount::existing(&proxy.url, &org.hub.id).await;
    let bucket = org.hub.bucket("bench-org");
    org.hub.aws.s3().create_bucket().bucket(&bucket).send().await?;
    // The single-account figure: one member exporting itself, as a stack deployed in it would.
    let alone = TestAccount::existing(&proxy.url, &members[0].id).await;
    alone.aws.s3().create_bucket().bucket(alone.bucket("bench-alone")).send().await?;

    println!();
    println!(
        "Across an organization: {accounts} member accounts and the hub, {} ms added to every request",
        ROUND_TRIP.as_millis()
    );
    println!();
    println!(
        "| iam-export, {users} users per account | wall | requests | requests per account | IAM requests per account | speed-up |"
    );
    println!("|---|---|---|---|---|---|");
    let single = export(&alone, &proxy, &alone.bucket("bench-alone"), &[], 1).await?.remove(0);
    row("one account, single-account stack (the per-account figure)", &single, 1, None);
    let sequential = export(&hub, &proxy, &bucket, &[("ACCOUNTS", "organization"), ("ACCOUNT_CONCURRENCY", "1")], 1)
        .await?
        .remove(0);
    row("organization, one account at a time", &sequential, accounts + 1, None);
    let concurrent_runs = export(&hub, &proxy, &bucket, &[("ACCOUNTS", "organization")], 2).await?;
    row(
        &format!("organization, {concurrency} accounts at once (default)"),
        &concurrent_runs[0],
        accounts + 1,
        Some(&sequential),
    );
    row(
        &format!("organization, {concurrency} at once, warm (member roles cached)"),
        &concurrent_runs[1],
        accounts + 1,
        Some(&sequential),
    );

    println!();
    println!(
        "| eks-scheduler stop then start, {CLUSTERS_PER_ACCOUNT} clusters per account | wall | requests | requests per account | EKS requests per account | speed-up |"
    );
    println!("|---|---|---|---|---|---|");
    let expected = accounts * CLUSTERS_PER_ACCOUNT;
    let single = stop_and_start(&alone, &proxy, &[], CLUSTERS_PER_ACCOUNT).await?;
    row("one account, single-account stack (the per-account figure)", &single, 1, None);
    let org_settings = |accounts: &'static str, clusters: &'static str| {
        vec![("ACCOUNTS", "organization"), ("ACCOUNT_CONCURRENCY", accounts), ("MAX_CONCURRENCY", clusters)]
    };
    let sequential = stop_and_start(&hub, &proxy, &org_settings("1", "1"), expected).await?;
    row("organization, one account and one cluster at a time", &sequential, accounts + 1, None);
    let defaults = stop_and_start(&hub, &proxy, &org_settings("8", "5"), expected).await?;
    row("organization, 8 accounts and 5 clusters at once (defaults)", &defaults, accounts + 1, Some(&sequential));
    let wider = stop_and_start(&hub, &proxy, &org_settings("8", "16"), expected).await?;
    row("organization, 8 accounts and 16 clusters at once", &wider, accounts + 1, Some(&sequential));
    Ok(())
}
