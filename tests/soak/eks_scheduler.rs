//! The EKS scheduler's soak: stop/start cycles of clusters with dependencies, run by the
//! packaged binary with Lambda's asynchronous retries (up to three attempts of the same
//! event), some runs overlapping a second one, every EKS call through the fault proxy.
//!
//! About half the clusters also run a self-managed node group (an Auto Scaling group, some
//! with a warm pool), every Auto Scaling call through the same proxy. A third run Karpenter:
//! two NodePools each, served by the Kubernetes API stand-in (`support::kube_api`), which
//! answers the same share of its requests with a 500 or a 429; after each start, every
//! running pool gets a new node, as Karpenter would provision one.
//!
//! After every run, each nodegroup and group is either running at its original size or
//! stopped (`0/0/max`, a group `0/0/0`) with its original size saved; after a start that
//! reported success, every one runs at its original size, and a group has its processes
//! resumed, its warm pool back and no record left; after a stop that reported success, a
//! group's processes that would fight it are suspended; and a last, fault-free start
//! restores everything. A NodePool is likewise running at its original limits with no record,
//! or at zero limits with its original limits saved; after a stop that reported success it has
//! no node left.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use crate::{Rng, Row, plan};
use support::TestAccount;
use support::eks_seed::Seed;
use support::eks_seed::{GroupSeed, group_state, seed, seed_groups, state_of};
use support::fault_proxy::FaultProxy;
use support::kube_api::KubeApiServer;
use support::lambda::{Invoked, Limits, LocalLambda, Outcome, packaged_binary};

const TIMEOUT: Duration = Duration::from_secs(120);
const SAVED_TAG: &str = "eks-scheduler/saved/";

/// The packaged scheduler against `endpoint`, reaching each Karpenter cluster's API stand-in.
async fn scheduler(endpoint: &str, kube_endpoints: &str) -> LocalLambda {
    let limits = Limits { memory_mb: 256, cpu_share: false };
    let env = [("AWS_ENDPOINT_URL", endpoint), ("KUBERNETES_ENDPOINT_URLS", kube_endpoints)];
    LocalLambda::start(packaged_binary("eks-scheduler"), limits, &env).await
}

/// The NodePools every Karpenter cluster starts with: name and `spec.limits`.
fn nodepools() -> [(&'static str, Value); 2] {
    [("default", json!({"cpu": "1000", "memory": "1000Gi"})), ("spot", json!({}))]
}

/// What must hold of every NodePool now: running at its original limits with no record, or at
/// zero limits with them saved; when `all_are` says so, every one `started`, or `stopped` with
/// no node left.
fn check_pools(servers: &[(String, KubeApiServer)], all_are: Option<&str>) -> Vec<String> {
    let mut violations = Vec::new();
    for (cluster, server) in servers {
        for (pool, original) in nodepools() {
            let Some(now) = server.nodepool(pool) else {
                violations.push(format!("{cluster}'s NodePool {pool} is gone"));
                continue;
            };
            let (limits, saved) = (&now["spec"]["limits"], &now["metadata"]["annotations"][SAVED_LIMITS]);
            let original_limits = if original == json!({}) { Value::Null } else { original.clone() };
            let running = *limits == original_limits && saved.is_null();
            let zero = limits.as_object().is_some_and(|l| !l.is_empty() && l.values().all(|q| q == "0"));
            let saved_original =
                saved.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()).is_some_and(|s| s == original);
            let nodes = server.nodeclaims().iter().filter(|claim| claim.starts_with(&format!("{pool}-"))).count();
            if zero && !saved_original {
                violations
                    .push(format!("{cluster}'s NodePool {pool} is stopped, and its saved limits are {saved}: lost"));
            } else if !running && !zero {
                violations
                    .push(format!("{cluster}'s NodePool {pool} has limits {limits}, neither {original} nor zero"));
            } else if all_are == Some("started") && !running {
                violations.push(format!("{cluster}'s NodePool {pool} is stopped, though the start reported success"));
            } else if all_are == Some("stopped") && (!zero || nodes > 0) {
                violations.push(format!(
                    "{cluster}'s NodePool {pool} has limits {limits} and {nodes} nodes, though the stop reported success"
                ));
            }
        }
    }
    violations
}

/// The annotation holding a stopped pool's limits (`core::SAVED_LIMITS_ANNOTATION`).
const SAVED_LIMITS: &str = eks_scheduler::core::SAVED_LIMITS_ANNOTATION;

/// `(key, value)` pairs: a cluster's tags, or its nodegroups and their sizes.
type Pairs = Vec<(String, String)>;
/// The same, borrowed, as `seed` takes them.
type PairViews<'a> = Vec<(&'a str, &'a str)>;

/// Clusters with random nodegroups and dependencies on earlier clusters (no cycles), opted in
/// to stops and starts as scheduled clusters are (the deployed role tags no other).
fn clusters(seed: u64, count: usize, rng: &mut Rng) -> Vec<(String, Pairs, Pairs)> {
    let names: Vec<String> = (0..count).map(|i| format!("soak{seed}-{i}")).collect();
    (0..count)
        .map(|i| {
            let mut tags =
                vec![("auto-stop".to_owned(), "true".to_owned()), ("auto-start".to_owned(), "true".to_owned())];
            if i > 0 && rng.below(10) < 6 {
                let mut needs: Vec<String> =
                    (0..1 + rng.below(2)).map(|_| names[rng.below(i as u64) as usize].clone()).collect();
                needs.dedup();
                tags.push(("dependency".to_owned(), needs.join(" ")));
            }
            let nodegroups = (0..1 + rng.below(3))
                .map(|n| {
                    let min = rng.below(3);
                    let desired = min.max(1) + rng.below(3);
                    let max = desired + rng.below(4);
                    (format!("ng{n}"), format!("{min}/{desired}/{max}"))
                })
                .collect();
            (names[i].clone(), tags, nodegroups)
        })
        .collect()
}

/// Each run's attempts, and whether its last attempt succeeded.
fn succeeded(attempts: &[Invoked]) -> bool {
    matches!(attempts.last().map(|a| &a.outcome), Some(Outcome::Response(_)))
}

/// Runs `event` once, or in both functions at once (an overlapping run).
async fn run(first: &LocalLambda, second: &LocalLambda, event: &Value, overlap: bool) -> Vec<Vec<Invoked>> {
    if overlap {
        let (a, b) = tokio::join!(first.invoke_async(event, TIMEOUT), second.invoke_async(event, TIMEOUT));
        vec![a, b]
    } else {
        vec![first.invoke_async(event, TIMEOUT).await]
    }
}

/// A self-managed group for about half the clusters: `(cluster, group, size, warm pool min)`.
fn groups(owned: &[(String, Pairs, Pairs)], rng: &mut Rng) -> Vec<(String, String, String, Option<i32>)> {
    let mut groups = Vec::new();
    for (cluster, _, _) in owned {
        if rng.below(2) == 0 {
            continue;
        }
        let min = rng.below(2);
        let desired = min.max(1) + rng.below(3);
        let max = desired + rng.below(3);
        let warm_pool = (rng.below(2) == 0).then(|| i32::try_from(rng.below(3)).unwrap_or(0));
        groups.push((cluster.clone(), format!("{cluster}-asg"), format!("{min}/{desired}/{max}"), warm_pool));
    }
    groups
}

/// The processes a stop suspends (`PROCESSES_SUSPENDED_WHILE_STOPPED`).
const SUSPENDED_WHILE_STOPPED: [&str; 4] = ["AZRebalance", "AlarmNotification", "ReplaceUnhealthy", "ScheduledActions"];

pub async fn soak(moto: &str, seed_number: u64, rate: f64, count: usize, cycles: usize) -> Result<Row> {
    let account = TestAccount::default_account(moto).await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let autoscaling = shared::aws_client!(aws_sdk_autoscaling, &account.aws);
    let mut rng = Rng::new(seed_number ^ 0xe45);
    let mut owned = clusters(seed_number, count, &mut rng);
    let owned_groups = groups(&owned, &mut rng);
    // Every third cluster runs Karpenter, its API a stand-in failing as often as AWS does here.
    let mut kube_servers = Vec::new();
    for (index, (cluster, tags, _)) in owned.iter_mut().enumerate().filter(|(i, _)| i % 3 == 1) {
        tags.push(("eks-scheduler/karpenter".to_owned(), "true".to_owned()));
        let server = KubeApiServer::start(cluster, "testing").await?;
        for (pool, limits) in nodepools() {
            server.add_nodepool(pool, limits);
            server.add_nodeclaim(&format!("{pool}-c0"), pool);
        }
        server.fail_randomly(seed_number ^ index as u64, rate);
        kube_servers.push((cluster.clone(), server));
    }
    let kube_endpoints: Vec<String> =
        kube_servers.iter().map(|(cluster, server)| format!("{cluster}={}", server.url)).collect();
    let kube_endpoints = kube_endpoints.join(",");
    for (cluster, group, size, warm_pool) in &owned_groups {
        let tags: &[(&str, &str)] =
            &[(&format!("kubernetes.io/cluster/{cluster}"), "owned"), ("eks-scheduler/cluster", cluster)];
        let seeds: [GroupSeed<'_>; 1] = [(group, tags, size)];
        seed_groups(&autoscaling, &seeds).await?;
        if let Some(min) = warm_pool {
            autoscaling.put_warm_pool().auto_scaling_group_name(group).min_size(*min).send().await?;
        }
    }
    let original_groups: BTreeMap<String, GroupOriginal> = owned_groups
        .iter()
        .map(|(_, group, size, warm_pool)| (group.clone(), (size.clone(), warm_pool.map(|min| (min, -1)))))
        .collect();
    let views: Vec<(PairViews<'_>, PairViews<'_>)> = owned
        .iter()
        .map(|(_, tags, nodegroups)| {
            (
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
                nodegroups.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            )
        })
        .collect();
    let seeds: Vec<Seed<'_>> = owned
        .iter()
        .zip(&views)
        .map(|((name, _, _), (tags, nodegroups))| (name.as_str(), &tags[..], &nodegroups[..]))
        .collect();
    seed(&eks, &seeds).await?;
    let original: BTreeMap<(String, String), String> = owned
        .iter()
        .flat_map(|(name, _, nodegroups)| {
            nodegroups.iter().map(move |(ng, size)| ((name.clone(), ng.clone()), size.clone()))
        })
        .collect();
    let names: Vec<&str> = owned.iter().map(|(name, _, _)| name.as_str()).collect();

    // Scaling fails more often: enough to fail some runs past the SDK's retries.
    let hot = [("eks", "update-config"), ("autoscaling", "UpdateAutoScalingGroup")];
    let proxy = FaultProxy::start(moto, plan(seed_number, rate, &hot)).await;
    let (first, second) = (scheduler(&proxy.url, &kube_endpoints).await, scheduler(&proxy.url, &kube_endpoints).await);
    let mut violations = Vec::new();
    let (mut invocations, mut retries, mut failed_runs) = (0, 0, 0);
    for cycle in 0..cycles {
        for action in ["stop", "start"] {
            let overlap = (action == "stop" && cycle % 5 == 4) || (action == "start" && cycle % 5 == 2);
            let started = std::time::Instant::now();
            let runs = run(&first, &second, &json!({"action": action, "clusters": names}), overlap).await;
            let outcomes: Vec<String> = runs
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|a| match &a.outcome {
                            Outcome::Response(_) => "ok".to_owned(),
                            Outcome::Error { error_type, message } => {
                                format!("{error_type}: {}", message.chars().take(300).collect::<String>())
                            }
                            other => format!("{other:?}"),
                        })
                        .collect::<Vec<_>>()
                        .join(" | ")
                })
                .collect();
            eprintln!("eks-scheduler cycle {cycle} {action}: {:.1} s: {outcomes:?}", started.elapsed().as_secs_f64());
            invocations += runs.iter().map(Vec::len).sum::<usize>();
            retries += runs.iter().map(|r| r.len() - 1).sum::<usize>();
            let all_succeeded = runs.iter().all(|r| succeeded(r));
            if !all_succeeded {
                failed_runs += 1;
            }
            let when = format!("cycle {cycle}, after the {action}{}", if overlap { " (overlapping runs)" } else { "" });
            let now = (all_succeeded && action == "start").then_some("started");
            violations.extend(check(&eks, &names, &original, now).await?.into_iter().map(|v| format!("{when}: {v}")));
            let groups_now = check_groups(&autoscaling, &original_groups, now).await?;
            violations.extend(groups_now.into_iter().map(|v| format!("{when}: {v}")));
            violations.extend(check_pools(&kube_servers, now).into_iter().map(|v| format!("{when}: {v}")));
            if all_succeeded && action == "start" {
                // Pending pods: Karpenter provisions a node for each pool that runs again.
                for (_, server) in &kube_servers {
                    for (pool, _) in nodepools() {
                        server.add_nodeclaim(&format!("{pool}-c{}", cycle + 1), pool);
                    }
                }
            }
            if all_succeeded && action == "stop" {
                violations.extend(
                    check(&eks, &names, &original, Some("stopped")).await?.into_iter().map(|v| format!("{when}: {v}")),
                );
                let stopped = check_groups(&autoscaling, &original_groups, Some("stopped")).await?;
                violations.extend(stopped.into_iter().map(|v| format!("{when}: {v}")));
                let pools = check_pools(&kube_servers, Some("stopped"));
                violations.extend(pools.into_iter().map(|v| format!("{when}: {v}")));
            }
        }
    }
    // A last start without faults: nothing saved may have been lost on the way.
    let kube_faults: usize = kube_servers.iter().map(|(_, server)| server.faults()).sum();
    for (_, server) in &kube_servers {
        server.fail_randomly(0, 0.0);
    }
    let direct = scheduler(moto, &kube_endpoints).await;
    let last = direct.invoke_async(&json!({"action": "start", "clusters": names}), TIMEOUT).await;
    if !succeeded(&last) {
        violations.push(format!("the fault-free start at the end failed: {:?}", last.last().map(|a| &a.outcome)));
    }
    violations
        .extend(check(&eks, &names, &original, Some("started")).await?.into_iter().map(|v| format!("at the end: {v}")));
    let at_the_end = check_groups(&autoscaling, &original_groups, Some("started")).await?;
    violations.extend(at_the_end.into_iter().map(|v| format!("at the end: {v}")));
    violations.extend(check_pools(&kube_servers, Some("started")).into_iter().map(|v| format!("at the end: {v}")));

    let notes = vec![format!(
        "{count} clusters, {} nodegroups, {} self-managed groups, {} NodePools ({kube_faults} of their API's answers \
         faulted), {cycles} stop/start cycles; {failed_runs} runs failed all their attempts",
        original.len(),
        original_groups.len(),
        kube_servers.len() * nodepools().len(),
    )];
    Ok(Row::new("eks-scheduler", &[&proxy], invocations, retries, violations, notes))
}

/// What must hold now: every nodegroup running at its original size, or stopped with that
/// size saved; and, when `all_are` says so, every one `started` or `stopped`.
async fn check(
    eks: &aws_sdk_eks::Client,
    names: &[&str],
    original: &BTreeMap<(String, String), String>,
    all_are: Option<&str>,
) -> Result<Vec<String>> {
    let mut violations = Vec::new();
    for cluster in names {
        let (sizes, tags) = state_of(eks, cluster).await?;
        for ((_, nodegroup), size) in original.iter().filter(|((c, _), _)| c == cluster) {
            let now = sizes.get(nodegroup).cloned().unwrap_or_default();
            let saved = tags.get(&format!("{SAVED_TAG}{nodegroup}"));
            let max = size.rsplit('/').next().unwrap_or_default();
            let running = now == *size;
            let stopped = now == format!("0/0/{max}");
            if stopped && saved != Some(size) {
                violations.push(format!(
                    "{cluster}/{nodegroup} is stopped, and its saved size is {saved:?}, not {size}: lost"
                ));
            } else if !running && !stopped {
                violations.push(format!("{cluster}/{nodegroup} is at {now}, neither its size {size} nor stopped"));
            } else if all_are == Some("started") && !running {
                violations.push(format!("{cluster}/{nodegroup} is stopped, though the start reported success"));
            } else if all_are == Some("stopped") && !stopped {
                violations.push(format!("{cluster}/{nodegroup} runs at {now}, though the stop reported success"));
            }
        }
    }
    Ok(violations)
}

/// A group's original size, and its warm pool's `(min, max prepared)` if it has one.
type GroupOriginal = (String, Option<(i32, i32)>);

/// What must hold of every self-managed group now: running at its original size, or at
/// `0/0/0` with that size saved; and, when `all_are` says so, every one `started` (its
/// processes resumed, its warm pool back, no record left) or `stopped` (the processes that
/// would fight the stop suspended, no warm instance kept).
async fn check_groups(
    autoscaling: &aws_sdk_autoscaling::Client,
    original: &BTreeMap<String, GroupOriginal>,
    all_are: Option<&str>,
) -> Result<Vec<String>> {
    let mut violations = Vec::new();
    for (group, (size, warm_pool)) in original {
        let state = group_state(autoscaling, group).await?;
        let saved = state.tags.get("eks-scheduler/saved");
        let running = state.sizes == *size;
        let stopped = state.sizes == "0/0/0";
        let record: Vec<&String> = state.tags.keys().filter(|k| k.starts_with("eks-scheduler/saved")).collect();
        if stopped && saved != Some(size) {
            violations.push(format!("group {group} is stopped, and its saved size is {saved:?}, not {size}: lost"));
        } else if !running && !stopped {
            violations.push(format!("group {group} is at {}, neither its size {size} nor stopped", state.sizes));
        } else if all_are == Some("started") {
            if !running || !state.suspended.is_empty() || state.warm_pool != *warm_pool || !record.is_empty() {
                violations.push(format!(
                    "group {group} is not back as it was ({size}, warm pool {warm_pool:?}, nothing suspended), though the start reported success: {state:?}"
                ));
            }
        } else if all_are == Some("stopped") {
            let fought = SUSPENDED_WHILE_STOPPED.iter().any(|p| !state.suspended.contains(*p));
            let warm = state.warm_pool.is_some_and(|(min, max)| min > 0 || max > 0);
            if !stopped || fought || warm {
                violations
                    .push(format!("group {group} is not fully stopped, though the stop reported success: {state:?}"));
            }
        }
    }
    Ok(violations)
}
