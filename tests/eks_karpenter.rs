//! The EKS scheduler on clusters that run on Karpenter: whole runs (the handler, as deployed)
//! against the emulator's EKS and Auto Scaling and, for each cluster's Kubernetes API, the
//! in-test API server (`support::kube_api`, the one hand-written stand-in: see its header).
//! A stop zeroes each NodePool's limits (saved in an annotation) and deletes its NodeClaims
//! before any group or nodegroup is scaled; a start restores the limits last, exactly. The
//! order is asserted from when each server saw each call, not from the report.

use std::time::Instant;

use anyhow::{Context as _, Result};
use aws_sdk_eks::types::VpcConfigRequest;
use eks_scheduler::core::{ClusterReport, Kind, Report, SAVED_LIMITS_ANNOTATION, Status};
use eks_scheduler::{Config, Deps, EksSchedulerError, handle};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::eks_seed::{scaling_run, seed, state_of};
use support::fault_proxy::{FaultPlan, FaultProxy};
use support::kube_api::KubeApiServer;
use support::{Moto, TestAccount, event};

/// The secret of the key every test account signs with: the API server checks tokens with it.
const SECRET: &str = "testing";
const OPTED_IN: &[(&str, &str)] = &[("auto-stop", "true"), ("auto-start", "true"), ("eks-scheduler/karpenter", "true")];

async fn deps(account: &TestAccount, endpoint: &str, servers: &[(&str, &KubeApiServer)]) -> Deps {
    let urls: Vec<String> = servers.iter().map(|(cluster, server)| format!("{cluster}={}", server.url)).collect();
    let env = shared::config::Env::from_pairs([("KUBERNETES_ENDPOINT_URLS", urls.join(",").as_str())]);
    let config = Config::from_env(&env).expect("configuration");
    Deps::new(config, &account.as_deployed(endpoint).await)
}

async fn invoke(deps: &Deps, event_file: &str) -> Result<Report, EksSchedulerError> {
    handle(deps, LambdaEvent::new(event(event_file), Context::default())).await.map(scaling_run)
}

fn cluster<'a>(report: &'a Report, name: &str) -> &'a ClusterReport {
    report.clusters.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} in the report: {report:#?}"))
}

fn pieces(report: &ClusterReport) -> Vec<(Kind, &str, &str, &str, Status)> {
    report.nodegroups.iter().map(|n| (n.kind, n.name.as_str(), n.before.as_str(), n.after.as_str(), n.status)).collect()
}

/// A pool's limits and its saved-limits annotation, as the API server holds them.
fn limits(server: &KubeApiServer, name: &str) -> Result<(Value, Value)> {
    let pool = server.nodepool(name).context("the pool")?;
    Ok((pool["spec"]["limits"].clone(), pool["metadata"]["annotations"][SAVED_LIMITS_ANNOTATION].clone()))
}

/// When the server saw each call that changes something (a patch or a delete), from the `from`th request on.
fn writes(server: &KubeApiServer, from: usize) -> Vec<Instant> {
    let requests = server.requests();
    let arrivals = server.arrivals();
    requests[from..]
        .iter()
        .zip(&arrivals[from..])
        .filter(|((method, _, _), _)| method != "GET")
        .map(|(_, at)| *at)
        .collect()
}

/// When the proxy saw each managed nodegroup's scaling call, from the `from`th exchange on.
fn nodegroup_scalings(proxy: &FaultProxy, from: usize) -> Vec<Instant> {
    proxy.exchanges()[from..].iter().filter(|e| e.operation.contains("/update-config")).map(|e| e.at).collect()
}

/// `ml` runs Karpenter: its controller on the managed nodegroup `karpenter`, and three pools:
/// `default` (limited, two nodes), `gpu` (no limits, one node) and `paused` (limits at
/// zero set by its operator, one node left running on purpose).
async fn karpenter_cluster() -> Result<(TestAccount, aws_sdk_eks::Client, KubeApiServer)> {
    let account = TestAccount::new().await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    seed(&eks, &[("ml", OPTED_IN, &[("karpenter", "2/2/3")])]).await?;
    let server = KubeApiServer::start("ml", SECRET).await?;
    server.add_nodepool("default", json!({"cpu": "1000", "memory": "1000Gi"}));
    server.add_nodepool("gpu", json!({}));
    server.add_nodepool("paused", json!({"cpu": "0"}));
    for (claim, pool) in
        [("default-a1", "default"), ("default-b2", "default"), ("gpu-c3", "gpu"), ("paused-d4", "paused")]
    {
        server.add_nodeclaim(claim, pool);
    }
    Ok((account, eks, server))
}

#[tokio::test]
async fn a_karpenter_cluster_stops_its_nodepools_before_the_controllers_nodegroup_and_starts_them_after_exactly()
-> Result<()> {
    // Given a Karpenter cluster, reached through a recording proxy
    let (account, eks, server) = karpenter_cluster().await?;
    let proxy =
        FaultProxy::start(Moto::shared().url(), FaultPlan { rules: Vec::new(), ..FaultPlan::uniform(0, 0.0) }).await;
    let deps = deps(&account, &proxy.url, &[("ml", &server)]).await;
    let before = limits(&server, "default")?;

    // When a dry run plans the stop, nothing changes
    let planned = invoke(&deps, "eks-dry-run.json").await?;
    assert_eq!(
        pieces(cluster(&planned, "ml"))[0],
        (Kind::NodePool, "default", "cpu=1000 memory=1000Gi, 2 nodes", "cpu=0 memory=0, 0 nodes", Status::Changed)
    );
    assert!(writes(&server, 0).is_empty() && nodegroup_scalings(&proxy, 0).is_empty());

    // When the evening stop runs
    let stopped = invoke(&deps, "eks-stop.json").await?;

    // Then every piece is listed with its kind, the pools first
    assert_eq!(
        pieces(cluster(&stopped, "ml")),
        [
            (Kind::NodePool, "default", "cpu=1000 memory=1000Gi, 2 nodes", "cpu=0 memory=0, 0 nodes", Status::Changed),
            (Kind::NodePool, "gpu", "no limits, 1 node", "cpu=0, 0 nodes", Status::Changed),
            (Kind::NodePool, "paused", "cpu=0, 1 node", "cpu=0, 1 node", Status::Unchanged),
            (Kind::Managed, "karpenter", "2/2/3", "0/0/3", Status::Changed),
        ]
    );
    // the limits are zero with the old ones saved, the claims of the pools it stopped are gone
    assert_eq!(
        limits(&server, "default")?,
        (json!({"cpu": "0", "memory": "0"}), json!(r#"{"cpu":"1000","memory":"1000Gi"}"#))
    );
    assert_eq!(limits(&server, "gpu")?, (json!({"cpu": "0"}), json!("{}")));
    assert_eq!(limits(&server, "paused")?, (json!({"cpu": "0"}), Value::Null), "its operator's pause is theirs");
    assert_eq!(server.nodeclaims(), ["paused-d4"]);
    // and every change to the pools came before the controller's nodegroup was scaled.
    let (pool_writes, scalings) = (writes(&server, 0), nodegroup_scalings(&proxy, 0));
    assert_eq!((pool_writes.len(), scalings.len()), (5, 1), "2 patches and 3 deletions, then one nodegroup");
    assert!(pool_writes.iter().all(|at| *at < scalings[0]));
    assert_eq!(state_of(&eks, "ml").await?.0["karpenter"], "0/0/3");

    // When the stop runs again (Lambda's retry), nothing changes
    let (requests, exchanges) = (server.requests().len(), proxy.exchanges().len());
    let again = invoke(&deps, "eks-stop.json").await?;
    assert_eq!(again.totals.nodegroups_changed, 0, "{again:#?}");
    assert!(writes(&server, requests).is_empty() && nodegroup_scalings(&proxy, exchanges).is_empty());
    assert_eq!(limits(&server, "default")?.1, json!(r#"{"cpu":"1000","memory":"1000Gi"}"#), "the record is kept");

    // When the morning start runs
    let (requests, exchanges) = (server.requests().len(), proxy.exchanges().len());
    let started = invoke(&deps, "eks-start.json").await?;

    // Then the nodegroup came back first, the limits after it, exactly as they were
    assert_eq!(
        pieces(cluster(&started, "ml")),
        [
            (Kind::Managed, "karpenter", "0/0/3", "2/2/3", Status::Changed),
            (Kind::NodePool, "default", "cpu=0 memory=0, 0 nodes", "cpu=1000 memory=1000Gi", Status::Changed),
            (Kind::NodePool, "gpu", "cpu=0, 0 nodes", "no limits", Status::Changed),
            (Kind::NodePool, "paused", "cpu=0, 1 node", "cpu=0, 1 node", Status::Skipped),
        ]
    );
    let (pool_writes, scalings) = (writes(&server, requests), nodegroup_scalings(&proxy, exchanges));
    assert_eq!((pool_writes.len(), scalings.len()), (2, 1));
    assert!(pool_writes.iter().all(|at| *at > scalings[0]));
    assert_eq!(limits(&server, "default")?, before);
    assert_eq!(limits(&server, "gpu")?, (Value::Null, Value::Null), "no limits again, the record gone");
    assert_eq!(limits(&server, "paused")?, (json!({"cpu": "0"}), Value::Null));
    assert_eq!(state_of(&eks, "ml").await?.0["karpenter"], "2/2/3");
    Ok(())
}

#[tokio::test]
async fn a_conflict_is_planned_again_and_a_missing_permission_fails_that_cluster_alone_naming_the_access_entry()
-> Result<()> {
    // Given two Karpenter clusters: `ml`'s default pool is written by someone else as the stop
    // patches it, and `batch`'s access entry may not delete NodeClaims
    let (account, eks, ml) = karpenter_cluster().await?;
    seed(&eks, &[("batch", OPTED_IN, &[("system", "1/1/2")])]).await?;
    let batch = KubeApiServer::start("batch", SECRET).await?;
    batch.add_nodepool("jobs", json!({"cpu": "256"}));
    batch.add_nodeclaim("jobs-e5", "jobs");
    batch.deny("delete", "nodeclaims");
    ml.conflict_next_patches(1);
    let deps = deps(&account, Moto::shared().url(), &[("ml", &ml), ("batch", &batch)]).await;

    // When the stop runs
    let failed = invoke(&deps, "eks-stop.json").await;

    // Then it fails, for batch alone
    let Err(EksSchedulerError::ClustersFailed(summary)) = &failed else { panic!("{failed:#?}") };
    assert!(summary.contains("batch: NodePool jobs: "), "{summary}");
    assert!(summary.contains("access entry may not delete NodeClaim jobs-e5") && !summary.contains("ml:"), "{summary}");
    // ml's conflict was read again and planned again: its limits are saved, not the zero ones
    assert!(ml.requests().iter().any(|(method, _, code)| method == "PATCH" && *code == 409));
    assert_eq!(
        limits(&ml, "default")?,
        (json!({"cpu": "0", "memory": "0"}), json!(r#"{"cpu":"1000","memory":"1000Gi"}"#))
    );
    assert_eq!(state_of(&eks, "ml").await?.0["karpenter"], "0/0/3");
    // batch's pool line names the access entry and the permission, and its nodegroup was
    // held back: the controller stays up while Karpenter's nodes are still there.
    let recheck = invoke(&deps, "eks-dry-run.json").await?;
    let jobs = &cluster(&recheck, "batch").nodegroups[0];
    assert_eq!((jobs.kind, jobs.before.as_str()), (Kind::NodePool, "cpu=0, 1 node"), "limits zeroed, its node left");
    assert_eq!(state_of(&eks, "batch").await?.0["system"], "1/1/2");
    assert_eq!(batch.nodeclaims(), ["jobs-e5"]);

    // When the permission is granted and the stop runs again (Lambda's retry)
    batch.allow("delete", "nodeclaims");
    let retried = invoke(&deps, "eks-stop.json").await?;

    // Then the node left behind is deleted, the record kept, and the nodegroup stopped.
    assert_eq!(
        pieces(cluster(&retried, "batch")),
        [
            (Kind::NodePool, "jobs", "cpu=0, 1 node", "cpu=0, 0 nodes", Status::Changed),
            (Kind::Managed, "system", "1/1/2", "0/0/2", Status::Changed),
        ]
    );
    assert!(batch.nodeclaims().is_empty());
    assert_eq!(limits(&batch, "jobs")?.1, json!(r#"{"cpu":"256"}"#));
    Ok(())
}

#[tokio::test]
async fn a_cluster_whose_nodepools_cannot_be_reached_is_skipped_or_failed_with_the_fix_and_left_as_it_was() -> Result<()>
{
    // Given three Karpenter clusters: one whose API endpoint is private, one without
    // Karpenter installed, and one whose API refuses the function's token
    let account = TestAccount::new().await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    eks.create_cluster()
        .name("private")
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .subnet_ids("subnet-0a1b2c3d")
                .endpoint_public_access(false)
                .endpoint_private_access(true)
                .build(),
        )
        .set_tags(Some(OPTED_IN.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()))
        .send()
        .await?;
    eks.create_nodegroup()
        .cluster_name("private")
        .nodegroup_name("system")
        .node_role("arn:aws:iam::123456789012:role/eks")
        .subnets("subnet-0a1b2c3d")
        .scaling_config(
            aws_sdk_eks::types::NodegroupScalingConfig::builder().min_size(2).desired_size(2).max_size(2).build(),
        )
        .send()
        .await?;
    seed(&eks, &[("plain", OPTED_IN, &[("system", "1/1/1")]), ("refusing", OPTED_IN, &[("system", "1/1/1")])]).await?;
    let plain = KubeApiServer::start("plain", SECRET).await?;
    plain.without_karpenter();
    // A server that takes only another cluster's tokens: the function's is refused (401).
    let refusing = KubeApiServer::start("another-cluster", SECRET).await?;
    let deps = deps(&account, Moto::shared().url(), &[("plain", &plain), ("refusing", &refusing)]).await;

    // When the stop runs
    let Err(EksSchedulerError::ClustersFailed(_)) = invoke(&deps, "eks-stop.json").await else {
        panic!("the clusters that could not be read fail the run")
    };
    let report = invoke(&deps, "eks-dry-run.json").await?;

    // Then the private one is skipped, saying how to reach it
    let private = cluster(&report, "private");
    assert_eq!(private.status, Status::Skipped, "{private:#?}");
    assert!(private.reason.contains("KubernetesApiSubnetIds"), "{}", private.reason);
    // the one without Karpenter fails naming the tag, the refused one naming the access entry
    let plain_report = cluster(&report, "plain");
    assert!(
        plain_report.status == Status::Failed && plain_report.reason.contains("eks-scheduler/karpenter"),
        "{plain_report:#?}"
    );
    let refused = cluster(&report, "refusing");
    assert!(refused.status == Status::Failed && refused.reason.contains("access entry"), "{refused:#?}");
    // and none of their nodegroups was scaled.
    assert_eq!(state_of(&eks, "private").await?.0["system"], "2/2/2");
    assert_eq!(state_of(&eks, "plain").await?.0["system"], "1/1/1");
    assert_eq!(state_of(&eks, "refusing").await?.0["system"], "1/1/1");
    Ok(())
}

#[tokio::test]
async fn an_auto_mode_cluster_is_found_without_a_tag_its_own_pools_stopped_and_the_built_in_ones_left_running()
-> Result<()> {
    // Given a cluster in EKS Auto Mode (no nodegroup, no Karpenter tag) with its two built-in
    // pools and one of its own, each with a node
    let account = TestAccount::new().await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let compute = aws_sdk_eks::types::ComputeConfigRequest::builder()
        .enabled(true)
        .node_pools("general-purpose")
        .node_pools("system")
        .node_role_arn("arn:aws:iam::123456789012:role/eks-auto-nodes")
        .build();
    eks.create_cluster()
        .name("auto")
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(VpcConfigRequest::builder().subnet_ids("subnet-0a1b2c3d").build())
        .compute_config(compute)
        .tags("auto-stop", "true")
        .tags("auto-start", "true")
        .send()
        .await?;
    let server = KubeApiServer::start("auto", SECRET).await?;
    server.add_nodepool("general-purpose", json!({}));
    server.add_nodepool("system", json!({}));
    server.add_nodepool("inference", json!({"cpu": "64"}));
    for (claim, pool) in
        [("general-purpose-a", "general-purpose"), ("system-b", "system"), ("inference-c", "inference")]
    {
        server.add_nodeclaim(claim, pool);
    }
    let deps = deps(&account, Moto::shared().url(), &[("auto", &server)]).await;

    // When the stop runs
    let stopped = invoke(&deps, "eks-stop.json").await?;

    // Then its own pool is stopped, and the built-in ones are listed, saying why they run on
    let report = cluster(&stopped, "auto");
    assert_eq!(
        pieces(report),
        [
            (Kind::NodePool, "general-purpose", "no limits, 1 node", "no limits, 1 node", Status::Skipped),
            (Kind::NodePool, "inference", "cpu=64, 1 node", "cpu=0, 0 nodes", Status::Changed),
            (Kind::NodePool, "system", "no limits, 1 node", "no limits, 1 node", Status::Skipped),
        ]
    );
    assert!(report.nodegroups[0].reason.contains("computeConfig.nodePools"), "{report:#?}");
    assert_eq!(server.nodeclaims(), ["general-purpose-a", "system-b"]);
    assert_eq!(limits(&server, "general-purpose")?, (json!({}), Value::Null), "a built-in pool is never written");

    // and the start brings its own pool back.
    invoke(&deps, "eks-start.json").await?;
    assert_eq!(limits(&server, "inference")?, (json!({"cpu": "64"}), Value::Null));
    Ok(())
}

#[test]
fn the_rbac_the_docs_give_grants_exactly_what_the_stand_in_allows() -> Result<()> {
    // The ClusterRole operators apply (functions/eks-scheduler/rbac.yaml), read rule by rule
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/eks-scheduler/rbac.yaml");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let list = |line: &str| -> Vec<String> {
        let inside = line.split_once('[').and_then(|(_, rest)| rest.split_once(']')).map(|(items, _)| items);
        inside.unwrap_or_default().split(',').map(|item| item.trim().trim_matches('"').to_owned()).collect()
    };
    let mut granted = std::collections::BTreeSet::new();
    let mut resources = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("resources:") {
            resources = list(line);
        } else if line.starts_with("verbs:") {
            for verb in list(line) {
                granted.extend(resources.iter().map(|resource| (verb.clone(), resource.clone())));
            }
        }
    }
    // is every verb the scheduler uses against the stand-in, and nothing more.
    let used: std::collections::BTreeSet<(String, String)> = support::kube_api::SCHEDULER_RBAC
        .iter()
        .map(|(verb, resource)| ((*verb).to_owned(), (*resource).to_owned()))
        .collect();
    assert_eq!(granted, used);
    Ok(())
}
