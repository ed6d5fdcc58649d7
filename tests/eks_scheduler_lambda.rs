//! The EKS scheduler as it is deployed and invoked: the packaged binary (`cargo lambda
//! build --release`, or the artifact `EKS_SCHEDULER_BOOTSTRAP` names) run by the local
//! Lambda with Lambda's asynchronous delivery (EventBridge Scheduler invokes it so: a
//! failed run is run again, up to twice, with the same event). The emulator never fails
//! a scaling call, so the proxy in front of it fails the ones a test names.

use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::json;

use support::eks_seed::{seed, state_of};
use support::fault_proxy::{FaultKind, FaultPlan, FaultProxy};
use support::lambda::{Limits, LocalLambda, Outcome, packaged_binary};
use support::slow_proxy::SlowProxy;
use support::{Moto, TestAccount, emitted, event, log_with_metrics};

#[tokio::test]
async fn a_stop_that_failed_for_one_nodegroup_is_finished_by_lambdas_retry() -> Result<()> {
    // Given a cluster whose schedule says it should have stopped ten minutes ago,
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let cluster = format!("retried-{}", std::process::id());
    let schedule = support::eks_seed::stopped_minutes_ago(10)?;
    seed(&eks, &[(&cluster, &[("eks-scheduler/schedule", &schedule)], &[("system", "2/2/4"), ("workers", "1/3/10")])])
        .await?;
    // and an EKS that refuses the first scaling of one of its nodegroups.
    let refused = FaultKind::Refused { status: 400, error_type: "InvalidParameterException" };
    let update = format!("POST /clusters/{cluster}/node-groups/workers/update-config");
    let proxy = FaultProxy::start(moto.url(), FaultPlan::first("eks", &update, refused, Some(1))).await;
    let lambda = LocalLambda::start(
        packaged_binary("eks-scheduler"),
        Limits { memory_mb: 256, cpu_share: false },
        &[("AWS_ENDPOINT_URL", proxy.url.as_str())],
    )
    .await;

    // When the hourly `auto` schedule invokes it, as EventBridge Scheduler does,
    let attempts = lambda.invoke_async(&event("eks-auto.json"), Duration::from_secs(120)).await;

    // then the first run fails, and Lambda's retry finishes the stop.
    let outcomes: Vec<&Outcome> = attempts.iter().map(|a| &a.outcome).collect();
    assert_eq!(attempts.len(), 2, "{outcomes:#?}\n{}", lambda.log());
    assert!(
        matches!(outcomes[0], Outcome::Error { message, .. } if message.contains("InvalidParameterException")),
        "{outcomes:#?}"
    );
    for (nodegroup, saved) in [("system", "2/2/4"), ("workers", "1/3/10")] {
        let described = eks.describe_nodegroup().cluster_name(&cluster).nodegroup_name(nodegroup).send().await?;
        let scaling = described.nodegroup().and_then(|n| n.scaling_config()).context("scaling")?;
        assert_eq!((scaling.min_size(), scaling.desired_size()), (Some(0), Some(0)), "{nodegroup} stopped");
        let arn =
            eks.describe_cluster().name(&cluster).send().await?.cluster().and_then(|c| c.arn().map(str::to_owned));
        let tags = eks.list_tags_for_resource().resource_arn(arn.context("arn")?).send().await?;
        let tags = tags.tags().context("tags")?;
        assert_eq!(tags.get(&format!("eks-scheduler/saved/{nodegroup}")).map(String::as_str), Some(saved));
        assert!(tags.get("eks-scheduler/last-action").is_some_and(|v| v.starts_with("stop@")), "{tags:?}");
    }
    // Its metrics, in its log, say so: a failed run with one nodegroup failed, then a
    // successful one; together they stopped both nodegroups.
    let log = log_with_metrics(&lambda, 2).await;
    assert_eq!(emitted(&log, "Succeeded"), [0.0, 1.0]);
    assert_eq!(emitted(&log, "NodegroupsFailed"), [1.0, 0.0]);
    assert!(emitted(&log, "NodegroupsStopped").iter().sum::<f64>() >= 2.0);
    Ok(())
}

fn scheduler(env: &[(&str, &str)]) -> impl std::future::Future<Output = LocalLambda> {
    LocalLambda::start(packaged_binary("eks-scheduler"), Limits { memory_mb: 256, cpu_share: false }, env)
}

#[tokio::test]
async fn a_stop_that_overlaps_a_slow_start_cannot_lose_the_saved_sizes() -> Result<()> {
    // Given a stopped cluster with its saved sizes (opted in: the deployed role tags no other),
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let cluster = format!("overlapped-{}", std::process::id());
    let saved = [
        ("auto-stop", "true"),
        ("auto-start", "true"),
        ("eks-scheduler/saved/system", "2/2/4"),
        ("eks-scheduler/saved/workers", "1/3/10"),
    ];
    seed(&eks, &[(&cluster, &saved, &[("system", "0/0/4"), ("workers", "0/0/10")])]).await?;
    let only_this = |action: &str| json!({"action": action, "clusters": [cluster]});

    // when a start runs slowly (1.5 s a request, as a busy EKS or a long DescribeUpdate
    // wait makes it), and a stop runs in a second process as soon as the start has scaled,
    let slow = SlowProxy::start(moto.url(), Duration::from_millis(1500), 0).await;
    let starting = scheduler(&[("AWS_ENDPOINT_URL", slow.url.as_str())]).await;
    let stopping = scheduler(&[("AWS_ENDPOINT_URL", moto.url())]).await;
    let start_event = only_this("start");
    let start = starting.invoke(&start_event, Duration::from_secs(120));
    let stop_once_started = async {
        loop {
            let (sizes, _) = state_of(&eks, &cluster).await?;
            if sizes.get("system").map(String::as_str) == Some("2/2/4")
                && sizes.get("workers").map(String::as_str) == Some("1/3/10")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok::<_, anyhow::Error>(stopping.invoke(&only_this("stop"), Duration::from_secs(60)).await)
    };
    let (started, stopped) = tokio::join!(start, stop_once_started);
    let stopped = stopped?;

    // then whatever each run did, the cluster is either running, or stopped with its
    // sizes saved: the next start restores every exact size.
    assert!(matches!(started.outcome, Outcome::Response(_)), "{:#?}\n{}", started.outcome, starting.log());
    assert!(matches!(stopped.outcome, Outcome::Response(_)), "{:#?}\n{}", stopped.outcome, stopping.log());
    let restart = stopping.invoke(&only_this("start"), Duration::from_secs(60)).await;
    assert!(matches!(restart.outcome, Outcome::Response(_)), "{:#?}\n{}", restart.outcome, stopping.log());
    let (sizes, tags) = state_of(&eks, &cluster).await?;
    assert_eq!(sizes.get("system").map(String::as_str), Some("2/2/4"), "{sizes:?} {tags:?}");
    assert_eq!(sizes.get("workers").map(String::as_str), Some("1/3/10"), "{sizes:?} {tags:?}");
    assert!(!tags.keys().any(|k| k.starts_with("eks-scheduler/saved/")), "restored sizes are untagged: {tags:?}");
    assert!(!tags.contains_key("eks-scheduler/lease"), "no lease is left behind: {tags:?}");
    Ok(())
}

#[tokio::test]
async fn a_start_waits_for_a_dependency_that_could_not_be_described() -> Result<()> {
    // Given an app that needs its database, both stopped with saved sizes (and opted in to
    // starts: the deployed role tags no other cluster),
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let (database, app) = (format!("database-{}", std::process::id()), format!("app-{}", std::process::id()));
    let saved = [("auto-start", "true"), ("eks-scheduler/saved/ng", "1/2/3")];
    let needs_database =
        [("auto-start", "true"), ("eks-scheduler/saved/ng", "1/2/3"), ("dependency", database.as_str())];
    seed(&eks, &[(&database, &saved, &[("ng", "0/0/3")]), (&app, &needs_database, &[("ng", "0/0/3")])]).await?;
    // and an EKS that cannot describe the database (throttled, or access denied) on any attempt,
    // (the operation of a REST call is its method, path and query names: `GET /clusters/x `)
    let denied = FaultKind::Refused { status: 403, error_type: "AccessDeniedException" };
    let describe = format!("GET /clusters/{database} ");
    let proxy = FaultProxy::start(moto.url(), FaultPlan::first("eks", &describe, denied, Some(10))).await;
    let lambda = scheduler(&[("AWS_ENDPOINT_URL", proxy.url.as_str())]).await;

    // when both are started, asynchronously as a schedule does,
    let attempts =
        lambda.invoke_async(&json!({"action": "start", "clusters": [database, app]}), Duration::from_secs(60)).await;

    // then every attempt fails, naming the database, and the app is not started.
    assert_eq!(attempts.len(), 3, "{:#?}", attempts.iter().map(|a| &a.outcome).collect::<Vec<_>>());
    for attempt in &attempts {
        assert!(
            matches!(&attempt.outcome, Outcome::Error { message, .. }
                if message.contains(&format!("{app}: not started: it needs {database}, which could not be described"))),
            "{:#?}",
            attempt.outcome
        );
    }
    let (sizes, tags) = state_of(&eks, &app).await?;
    assert_eq!(sizes.get("ng").map(String::as_str), Some("0/0/3"), "the app waits for its database");
    assert_eq!(tags.get("eks-scheduler/saved/ng").map(String::as_str), Some("1/2/3"));
    Ok(())
}

#[tokio::test]
async fn a_dry_run_with_a_problem_returns_its_whole_plan() -> Result<()> {
    // Given one running cluster, and a name that is no cluster,
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let (running, missing) = (format!("planned-{}", std::process::id()), format!("missing-{}", std::process::id()));
    seed(&eks, &[(&running, &[], &[("ng", "1/2/3")])]).await?;
    let lambda = scheduler(&[("AWS_ENDPOINT_URL", moto.url())]).await;

    // when an operator asks what a stop of both would do,
    let invoked = lambda
        .invoke(&json!({"action": "stop", "dry_run": true, "clusters": [running, missing]}), Duration::from_secs(60))
        .await;

    // then the answer is the plan, the problem in it, and nothing changed.
    let plan = invoked.outcome.response(&lambda.log());
    let clusters = plan["clusters"].as_array().context("clusters")?;
    let find = |name: &str| clusters.iter().find(|c| c["name"] == name).cloned().unwrap_or_default();
    assert_eq!(find(&running)["nodegroups"][0]["after"], "0/0/3", "{plan:#}");
    assert_eq!(find(&missing)["status"], "failed", "{plan:#}");
    assert!(find(&missing)["reason"].as_str().is_some_and(|r| r.contains("does not exist")), "{plan:#}");
    let (sizes, tags) = state_of(&eks, &running).await?;
    assert_eq!(sizes.get("ng").map(String::as_str), Some("1/2/3"));
    assert!(tags.is_empty(), "{tags:?}");
    Ok(())
}
