//! `make bench-org`: one deployment across an organization of 100 member accounts.
//! The IAM export of 200 users per account and an EKS stop and start of 2 clusters per
//! account, through a loopback proxy that holds every request 30 ms (an AWS round trip),
//! with accounts one at a time (what a loop over accounts does) and several at once.
//! Prints wall time, requests per account beside the single-account run's, and the speed-up.
//!
//! Then Identity Center in the hub: 20 permission sets provisioned to every member account,
//! each (set, account) pair assigned to a group, and some users assigned directly; its files
//! read by account, by principal, and whichever is cheaper (the default), with the requests
//! per access row.
//!
//! `BENCH_ACCOUNTS`, `BENCH_USERS` and `BENCH_IC_USERS` make it smaller for a quick look.

#![allow(clippy::print_stdout)] // a command-line report

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use aws_sdk_iam::types::Tag;
use eks_scheduler::core::{Request, RequestedAction, Status};
use jiff::Timestamp;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use support::eks_seed::seed;
use support::ic_seed::{IdentityCenter, SetSpec};
use support::org_seed::{EXTERNAL_ID, Org};
use support::slow_proxy::SlowProxy;
use support::{Moto, TestAccount};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Added to every request by the latency proxy.
const ROUND_TRIP: Duration = Duration::from_millis(30);
const CLUSTERS_PER_ACCOUNT: usize = 2;
const PERMISSION_SETS: usize = 20;
const IC_GROUPS: usize = 30;

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
    /// The time the emulator had a request in progress. It is one Python process whose
    /// requests take turns, so no run is faster than this, however many accounts it works
    /// on at once; on AWS every account is served in parallel.
    emulator_busy: Duration,
    requests: u64,
    /// Requests signed for IAM (or EKS): the per-account work, without STS and Organizations.
    service_requests: usize,
}

impl Measured {
    /// The time a run spent beyond the emulator's own work: waiting on the modelled latency,
    /// and the client's own work. This is what working on accounts at once can remove.
    fn beyond_emulator(&self) -> f64 {
        (self.wall.as_secs_f64() - self.emulator_busy.as_secs_f64()).max(0.001)
    }
}

/// The emulator's busy clock (`scripts/moto_server.py`).
async fn emulator_busy() -> Result<Duration> {
    let text = reqwest::get(format!("{}/_toolkit/busy", Moto::shared().url())).await?.text().await?;
    let answer: serde_json::Value = serde_json::from_str(&text)?;
    let seconds = answer["busy_seconds"].as_f64().ok_or_else(|| anyhow::anyhow!("no busy_seconds in {answer}"))?;
    Ok(Duration::from_secs_f64(seconds))
}

/// Counts what `work` cost: wall time, the emulator's busy time, requests, and requests to `service`.
async fn measure<F: std::future::Future<Output = Result<()>>>(
    proxy: &SlowProxy,
    service: &str,
    work: F,
) -> Result<Measured> {
    let signed_for = format!("/{service}/aws4_request");
    let (requests, of_service, busy) =
        (proxy.requests(), proxy.requests_containing(&signed_for), emulator_busy().await?);
    let started = Instant::now();
    work.await?;
    let wall = started.elapsed();
    Ok(Measured {
        wall,
        emulator_busy: emulator_busy().await? - busy,
        requests: proxy.requests() - requests,
        service_requests: proxy.requests_containing(&signed_for) - of_service,
    })
}

async fn export(
    hub: &TestAccount,
    proxy: &SlowProxy,
    bucket: &str,
    settings: &[(&str, &str)],
    runs: usize,
) -> Result<Vec<Measured>> {
    // Identity Center has its own table below; here, the IAM accounts alone.
    let mut pairs = vec![
        ("REPORT_BUCKET", bucket),
        ("MEMBER_EXTERNAL_ID", EXTERNAL_ID),
        ("METRICS_NAMESPACE", "Bench"),
        ("IDENTITY_CENTER", "false"),
    ];
    pairs.extend_from_slice(settings);
    let mut config =
        shared::config::parse_settings(iam_export::Config::from_env, &pairs).map_err(anyhow::Error::msg)?;
    config.metrics = shared::metrics::MetricsConfig::silent("iam-export");
    // One Deps for every run: the second run is a warm invocation, its member roles cached.
    let deps = iam_export::Deps::new(config, &hub.aws);
    let mut measured = Vec::new();
    for _ in 0..runs {
        measured.push(
            measure(proxy, "iam", async {
                let summary = iam_export::handle(&deps, LambdaEvent::new(json!({}), Context::default())).await?;
                anyhow::ensure!(
                    summary.accounts.iter().all(|a| a.reason.is_none()),
                    "an account failed: {:?}",
                    summary.accounts
                );
                Ok(())
            })
            .await?,
        );
    }
    Ok(measured)
}

/// The hub's Identity Center: `users` users, [`IC_GROUPS`] groups of them, [`PERMISSION_SETS`]
/// sets (AdministratorAccess, ReadOnlyAccess, or a customer-managed policy with an inline one),
/// each assigned in every member account to a group, and every tenth user directly in one account.
async fn seed_identity_center(hub: &TestAccount, members: &[TestAccount], users: usize) -> Result<usize> {
    let center = IdentityCenter::of(hub).await?;
    let mut user_ids = Vec::new();
    for index in 0..users {
        user_ids.push(center.user(&format!("person-{index:04}"), "Bench Person", "person@example.com").await?);
    }
    let mut group_ids = Vec::new();
    for index in 0..IC_GROUPS {
        let members: Vec<&str> = user_ids.iter().skip(index).step_by(IC_GROUPS).map(String::as_str).collect();
        group_ids.push(center.group(&format!("team-{index:02}"), &members).await?);
    }
    let inline = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}"#;
    let mut sets = Vec::new();
    for index in 0..PERMISSION_SETS {
        let name = format!("Set{index:02}");
        let spec = match index % 3 {
            0 => SetSpec { managed: &["arn:aws:iam::aws:policy/AdministratorAccess"], ..SetSpec::default() },
            1 => SetSpec { managed: &["arn:aws:iam::aws:policy/ReadOnlyAccess"], ..SetSpec::default() },
            _ => SetSpec { customer_managed: &["team-policy"], inline: Some(inline), ..SetSpec::default() },
        };
        sets.push(center.permission_set(&SetSpec { name: &name, session_duration: "PT8H", ..spec }).await?);
    }
    let mut assignments = 0;
    for (set_index, set) in sets.iter().enumerate() {
        for (account_index, member) in members.iter().enumerate() {
            let group = &group_ids[(set_index + account_index) % IC_GROUPS];
            center.assign(&member.id, set, group, true).await?;
            assignments += 1;
        }
    }
    for (index, user) in user_ids.iter().enumerate().step_by(10) {
        center.assign(&members[index % members.len()].id, &sets[index % PERMISSION_SETS], user, false).await?;
        assignments += 1;
    }
    Ok(assignments)
}

/// One export of the hub's own account with Identity Center read `reading` way: what it cost,
/// its Identity Center requests, and the access file's rows.
async fn identity_center_export(
    hub: &TestAccount,
    proxy: &SlowProxy,
    bucket: &str,
    reading: Option<&str>,
) -> Result<(Measured, usize, usize, &'static str)> {
    let pairs = [("REPORT_BUCKET", bucket), ("METRICS_NAMESPACE", "Bench")];
    let mut config =
        shared::config::parse_settings(iam_export::Config::from_env, &pairs).map_err(anyhow::Error::msg)?;
    config.metrics = shared::metrics::MetricsConfig::silent("iam-export");
    let deps = iam_export::Deps::new(config, &hub.aws);
    let payload = reading.map_or_else(|| json!({}), |way| json!({"identity_center_assignments": way}));
    let asked = |proxy: &SlowProxy| {
        proxy.requests_containing("/sso/aws4_request") + proxy.requests_containing("/identitystore/aws4_request")
    };
    let before = asked(proxy);
    let mut found = None;
    let measured = measure(proxy, "iam", async {
        let summary = iam_export::handle(&deps, LambdaEvent::new(payload, Context::default())).await?;
        found = summary.identity_center;
        Ok(())
    })
    .await?;
    let center = found.ok_or_else(|| anyhow::anyhow!("no Identity Center in the hub's export"))?;
    Ok((measured, asked(proxy) - before, center.access_rows, center.assignments_read))
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
    measure(proxy, "eks", async {
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
        Ok(())
    })
    .await
}

fn header(what: &str, service: &str) {
    println!(
        "| {what} | wall | emulator busy | wall beyond the emulator | requests | requests per account | {service} requests per account | speed-up | speed-up beyond the emulator |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
}

fn row(what: &str, measured: &Measured, accounts: usize, baseline: Option<&Measured>) {
    let ratio =
        |of: fn(&Measured) -> f64| baseline.map(|b| format!("{:.1}x", of(b) / of(measured))).unwrap_or_default();
    println!(
        "| {what} | {:.1} s | {:.1} s | {:.1} s | {} | {:.1} | {:.1} | {} | {} |",
        measured.wall.as_secs_f64(),
        measured.emulator_busy.as_secs_f64(),
        measured.beyond_emulator(),
        measured.requests,
        measured.requests as f64 / accounts as f64,
        measured.service_requests as f64 / accounts as f64,
        ratio(|m| m.wall.as_secs_f64()),
        ratio(Measured::beyond_emulator),
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
    let all = accounts + 1;

    println!();
    println!(
        "Across an organization: {accounts} member accounts and the hub, {} ms added to every request; \
         one run per row, so no spread is measured (a run takes minutes): compare ratios only where they differ by \
         more than the 15-30% run-to-run noise this machine has shown",
        ROUND_TRIP.as_millis()
    );
    println!();
    header(&format!("iam-export, {users} users per account"), "IAM");
    let single = export(&alone, &proxy, &alone.bucket("bench-alone"), &[], 1).await?.remove(0);
    row("one account, single-account stack (the per-account figure)", &single, 1, None);
    let one_at_a_time = [("ACCOUNTS", "organization"), ("ACCOUNT_CONCURRENCY", "1")];
    let sequential = export(&hub, &proxy, &bucket, &one_at_a_time, 1).await?.remove(0);
    row("organization, one account at a time", &sequential, all, None);
    let runs = export(&hub, &proxy, &bucket, &[("ACCOUNTS", "organization")], 2).await?;
    row(&format!("organization, {concurrency} accounts at once (default)"), &runs[0], all, Some(&sequential));
    row(&format!("organization, {concurrency} at once, warm (roles cached)"), &runs[1], all, Some(&sequential));
    let sixteen = [("ACCOUNTS", "organization"), ("ACCOUNT_CONCURRENCY", "16")];
    let wider = export(&hub, &proxy, &bucket, &sixteen, 1).await?.remove(0);
    row("organization, 16 accounts at once", &wider, all, Some(&sequential));

    println!();
    header(&format!("eks-scheduler stop then start, {CLUSTERS_PER_ACCOUNT} clusters per account"), "EKS");
    let expected = accounts * CLUSTERS_PER_ACCOUNT;
    let single = stop_and_start(&alone, &proxy, &[], CLUSTERS_PER_ACCOUNT).await?;
    row("one account, single-account stack (the per-account figure)", &single, 1, None);
    let org_settings = |accounts: &'static str, clusters: &'static str| {
        vec![("ACCOUNTS", "organization"), ("ACCOUNT_CONCURRENCY", accounts), ("MAX_CONCURRENCY", clusters)]
    };
    let sequential = stop_and_start(&hub, &proxy, &org_settings("1", "1"), expected).await?;
    row("organization, one account and one cluster at a time", &sequential, all, None);
    for (accounts_at_once, clusters_at_once, label) in [("8", "5", " (defaults)"), ("8", "16", ""), ("16", "32", "")] {
        let measured =
            stop_and_start(&hub, &proxy, &org_settings(accounts_at_once, clusters_at_once), expected).await?;
        let what = format!("organization, {accounts_at_once} accounts and {clusters_at_once} clusters at once{label}");
        row(&what, &measured, all, Some(&sequential));
    }

    let ic_users = setting("BENCH_IC_USERS", 300);
    println!();
    println!(
        "Seeding Identity Center in the hub: {ic_users} users in {IC_GROUPS} groups, {PERMISSION_SETS} permission sets \
         provisioned to each of the {accounts} member accounts..."
    );
    let assignments = seed_identity_center(&org.hub, &members, ic_users).await?;
    println!();
    println!(
        "Identity Center: {PERMISSION_SETS} permission sets x {accounts} accounts ({} (set, account) pairs), \
         {assignments} assignments, {ic_users} users, {IC_GROUPS} groups; {} ms added to every request",
        PERMISSION_SETS * accounts,
        ROUND_TRIP.as_millis()
    );
    println!();
    println!(
        "| assignments read | wall | Identity Center requests | requests per (set, account) pair | access rows | requests per access row |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, reading) in [
        (
            "by account: ListAccountAssignments per (set, account), as a loop over accounts and sets does",
            Some("by-account"),
        ),
        ("by principal: ListAccountAssignmentsForPrincipal per user and group", Some("by-principal")),
        ("the cheaper of the two, chosen per run (default)", None),
    ] {
        let (measured, requests, rows, used) = identity_center_export(&hub, &proxy, &bucket, reading).await?;
        println!(
            "| {label} ({used}) | {:.1} s | {requests} | {:.2} | {rows} | {:.3} |",
            measured.wall.as_secs_f64(),
            requests as f64 / (PERMISSION_SETS * accounts) as f64,
            requests as f64 / rows.max(1) as f64,
        );
    }
    Ok(())
}
