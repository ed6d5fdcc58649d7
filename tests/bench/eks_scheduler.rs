//! `make bench-eks`: stops and starts 30 clusters of 3 managed nodegroups each against
//! the local emulator, with clusters handled concurrently and one at a time, and prints
//! wall time and AWS API calls per nodegroup side by side; then 30 mixed clusters (2 managed
//! nodegroups, a self-managed group and a Fargate profile each), and 30 Karpenter clusters (the
//! controller's managed nodegroup, a self-managed group and a NodePool with two nodes, its
//! Kubernetes API the tests' stand-in), with the requests per piece of capacity (AWS's and the
//! Kubernetes API's) beside the managed-only figure.
//!
//! The emulator answers in a few milliseconds, one request at a time, and applies updates
//! at once, so against it concurrency barely shows. The same runs are repeated through a
//! loopback proxy that holds each request 50 ms, about an AWS API round trip, which is
//! where handling clusters concurrently pays. EKS's own scaling time is not modelled.

#![allow(clippy::print_stdout)] // a command-line report

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use support::{bench_runs, median, spread};

use anyhow::Result;
use aws_sdk_eks::types::{NodegroupScalingConfig, VpcConfigRequest};
use eks_scheduler::core::{Request, RequestedAction, Status};
use eks_scheduler::{Config, Deps, run};
use jiff::Timestamp;
use support::Harness as _;
use support::eks_seed::seed_groups;
use support::kube_api::KubeApiServer;
use support::slow_proxy::SlowProxy;
use support::{Moto, TestAccount};

const CLUSTERS: usize = 30;
const NODEGROUPS_PER_CLUSTER: usize = 3;
const ROLE: &str = "arn:aws:iam::123456789012:role/eks";
/// Added to every request by the latency proxy.
const ROUND_TRIP: Duration = Duration::from_millis(50);

/// The clusters' compute: managed nodegroups only, mixed (2 managed nodegroups, a
/// self-managed group and a Fargate profile), or Karpenter (the controller's managed
/// nodegroup, a self-managed group and a NodePool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Managed,
    Mixed,
    Karpenter,
}

impl Shape {
    /// Managed nodegroups per cluster.
    fn nodegroups(self) -> usize {
        match self {
            Self::Managed => NODEGROUPS_PER_CLUSTER,
            Self::Mixed => NODEGROUPS_PER_CLUSTER - 1,
            Self::Karpenter => NODEGROUPS_PER_CLUSTER - 2,
        }
    }
}

/// The pieces of capacity a run scales, in all clusters: 3 a cluster either way.
const PIECES: usize = CLUSTERS * NODEGROUPS_PER_CLUSTER;

struct Measured {
    wall: Duration,
    /// Requests to AWS and to the clusters' Kubernetes APIs.
    api_calls: u64,
}

/// The Kubernetes API stand-ins of a Karpenter bench's clusters, and the URL each is reached at.
struct KubeApis {
    servers: Vec<KubeApiServer>,
    endpoints: BTreeMap<String, String>,
    /// The latency proxies in front of them, kept running.
    _proxies: Vec<SlowProxy>,
}

impl KubeApis {
    fn requests(&self) -> u64 {
        self.servers.iter().map(|server| server.requests().len() as u64).sum()
    }
}

/// One stand-in a cluster, with a NodePool of two nodes, behind a proxy adding `round_trip`.
async fn kube_apis(shape: Shape, round_trip: Option<Duration>) -> Result<KubeApis> {
    let mut apis = KubeApis { servers: Vec::new(), endpoints: BTreeMap::new(), _proxies: Vec::new() };
    if shape != Shape::Karpenter {
        return Ok(apis);
    }
    for c in 0..CLUSTERS {
        let name = format!("bench-{c:02}");
        let server = KubeApiServer::start(&name, "testing").await?;
        server.add_nodepool("default", serde_json::json!({"cpu": "1000"}));
        server.add_nodeclaim("default-a", "default");
        server.add_nodeclaim("default-b", "default");
        let url = match round_trip {
            Some(delay) => {
                let proxy = SlowProxy::start(&server.url, delay, 0).await;
                let url = proxy.url.clone();
                apis._proxies.push(proxy);
                url
            }
            None => server.url.clone(),
        };
        apis.endpoints.insert(name, url);
        apis.servers.push(server);
    }
    Ok(apis)
}

async fn seed(eks: &aws_sdk_eks::Client, autoscaling: &aws_sdk_autoscaling::Client, shape: Shape) -> Result<()> {
    for c in 0..CLUSTERS {
        let name = format!("bench-{c:02}");
        let mut tags =
            HashMap::from([("auto-stop".to_owned(), "true".to_owned()), ("auto-start".to_owned(), "true".to_owned())]);
        if shape == Shape::Karpenter {
            tags.insert("eks-scheduler/karpenter".to_owned(), "true".to_owned());
        }
        eks.create_cluster()
            .name(&name)
            .role_arn(ROLE)
            .resources_vpc_config(
                VpcConfigRequest::builder().subnet_ids("subnet-1").endpoint_public_access(true).build(),
            )
            .set_tags(Some(tags))
            .send()
            .await?;
        for n in 0..shape.nodegroups() {
            let desired = i32::try_from(n + 1)?;
            eks.create_nodegroup()
                .cluster_name(&name)
                .nodegroup_name(format!("ng-{n}"))
                .node_role(ROLE)
                .subnets("subnet-1")
                .scaling_config(
                    NodegroupScalingConfig::builder().min_size(1).desired_size(desired).max_size(10).build(),
                )
                .send()
                .await?;
        }
        if shape != Shape::Managed {
            let ownership = format!("kubernetes.io/cluster/{name}");
            let group = format!("{name}-workers");
            let tags: &[(&str, &str)] = &[(&ownership, "owned"), ("eks-scheduler/cluster", &name)];
            seed_groups(autoscaling, &[(&group, tags, "1/3/10")]).await?;
        }
        if shape == Shape::Mixed {
            eks.create_fargate_profile()
                .cluster_name(&name)
                .fargate_profile_name("jobs")
                .pod_execution_role_arn(ROLE)
                .selectors(aws_sdk_eks::types::FargateProfileSelector::builder().namespace("jobs").build())
                .send()
                .await?;
        }
    }
    Ok(())
}

async fn measure(deps: &Deps, kube: &KubeApis, action: RequestedAction) -> Result<Measured> {
    let request = Request { action, dry_run: false, clusters: None };
    let calls_before = deps.api_calls.get() + kube.requests();
    let started = Instant::now();
    let report =
        run(deps, &request, Timestamp::now(), tokio::time::Instant::now() + Duration::from_secs(600), "bench").await?;
    let wall = started.elapsed();
    let changed = report.clusters.iter().flat_map(|c| &c.nodegroups).filter(|n| n.status == Status::Changed).count();
    anyhow::ensure!(changed == PIECES, "{action:?} changed {changed} pieces of capacity");
    Ok(Measured { wall, api_calls: deps.api_calls.get() + kube.requests() - calls_before })
}

async fn bench(
    endpoint: &str,
    round_trip: Option<Duration>,
    max_concurrency: usize,
    shape: Shape,
) -> Result<(Measured, Measured)> {
    let account = TestAccount::at(endpoint).await;
    let kube = kube_apis(shape, round_trip).await?;
    let config = Config {
        max_concurrency,
        kubernetes_endpoints: kube.endpoints.clone(),
        ..Config::from_env(&shared::config::Env::default())?
    };
    let deps = Deps::new(config, &account.aws);
    seed(&deps.eks.harness(), &deps.autoscaling.harness(), shape).await?;
    let stop = measure(&deps, &kube, RequestedAction::Stop).await?;
    let start = measure(&deps, &kube, RequestedAction::Start).await?;
    Ok((stop, start))
}

/// One row's `runs` runs: the stop's and the start's median walls, the spread of their
/// sums, and the first run's requests per piece of capacity, stop and start.
async fn row(
    endpoint: &str,
    round_trip: Option<Duration>,
    in_flight: usize,
    shape: Shape,
    runs: usize,
) -> Result<(f64, f64, String, f64, f64)> {
    let mut measured = Vec::new();
    for _ in 0..runs {
        measured.push(bench(endpoint, round_trip, in_flight, shape).await?);
    }
    let stops: Vec<f64> = measured.iter().map(|(stop, _)| stop.wall.as_secs_f64()).collect();
    let starts: Vec<f64> = measured.iter().map(|(_, start)| start.wall.as_secs_f64()).collect();
    let totals: Vec<f64> = stops.iter().zip(&starts).map(|(stop, start)| stop + start).collect();
    let (stop, start) = &measured[0];
    let per_piece = |calls: u64| calls as f64 / PIECES as f64;
    Ok((median(&stops), median(&starts), spread(&totals), per_piece(stop.api_calls), per_piece(start.api_calls)))
}

#[tokio::main]
async fn main() -> Result<()> {
    let concurrent = Config::from_env(&shared::config::Env::default())?.max_concurrency;
    let direct = Moto::shared().url().to_owned();
    // No bandwidth cap: EKS requests and answers are small.
    let delayed = SlowProxy::start(&direct, ROUND_TRIP, 0).await.url;
    let runs = bench_runs();
    println!(
        "EKS scheduler: stop then start {CLUSTERS} clusters x {NODEGROUPS_PER_CLUSTER} managed nodegroups, moto server on loopback; \
         median of {runs} runs (BENCH_RUNS), spread = (slowest - fastest) / median"
    );
    println!();
    println!(
        "| endpoint | mode | clusters in flight | stop wall | start wall | spread (stop + start) | stop calls/nodegroup | start calls/nodegroup |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut managed_calls = Vec::new();
    let endpoints = [("emulator", &direct, None), ("emulator + 50 ms a request", &delayed, Some(ROUND_TRIP))];
    for (endpoint_name, endpoint, round_trip) in endpoints {
        let mut walls = Vec::new();
        for (mode, in_flight) in [("concurrent", concurrent), ("one at a time", 1)] {
            let (stop, start, spread, stop_calls, start_calls) =
                row(endpoint, round_trip, in_flight, Shape::Managed, runs).await?;
            println!(
                "| {endpoint_name} | {mode} | {in_flight} | {stop:.2} s | {start:.2} s | {spread} | {stop_calls:.2} | {start_calls:.2} |"
            );
            walls.push(stop + start);
            managed_calls.push((stop_calls, start_calls));
        }
        println!(
            "| {endpoint_name} | speed-up from concurrency | | {:.2}x (stop + start) | | | | |",
            walls[1] / walls[0]
        );
    }

    println!();
    println!(
        "Mixed clusters: {CLUSTERS} clusters x (2 managed nodegroups + 1 self-managed group + 1 Fargate profile), \
         the self-managed groups stopped before the nodegroups; Karpenter clusters: {CLUSTERS} x (the controller's \
         managed nodegroup + 1 self-managed group + 1 NodePool of 2 nodes, its Kubernetes API the tests' stand-in, \
         behind the same 50 ms in the second row); requests per piece of capacity scaled (AWS's and the Kubernetes \
         API's), beside the managed-only figure above"
    );
    println!();
    println!(
        "| endpoint | clusters in flight | stop wall | start wall | spread (stop + start) | stop calls/piece | start calls/piece | managed-only stop calls/nodegroup | managed-only start calls/nodegroup |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let (managed_stop, managed_start) = managed_calls[0];
    for (shape, caption) in [(Shape::Mixed, "mixed"), (Shape::Karpenter, "Karpenter")] {
        for (endpoint_name, endpoint, round_trip) in endpoints {
            let (stop, start, spread, stop_calls, start_calls) =
                row(endpoint, round_trip, concurrent, shape, runs).await?;
            println!(
                "| {caption}: {endpoint_name} | {concurrent} | {stop:.2} s | {start:.2} s | {spread} | {stop_calls:.2} | {start_calls:.2} | {managed_stop:.2} | {managed_start:.2} |"
            );
        }
    }
    Ok(())
}
