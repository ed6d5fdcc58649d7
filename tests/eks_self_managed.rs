//! The EKS scheduler on clusters with self-managed node groups (Auto Scaling groups) beside
//! managed nodegroups and Fargate, against the emulator's EKS and Auto Scaling: every kind
//! stopped and started exactly, in the order a cluster needs, under overlapping runs.
//!
//! Each run goes through a recording proxy, so the order of the scaling calls themselves
//! is asserted, not the report's word for it.

use std::collections::BTreeSet;

use anyhow::Result;
use eks_scheduler::core::{ClusterReport, Kind, Report, Status};
use eks_scheduler::{Config, Deps, EksSchedulerError, handle};
use lambda_runtime::{Context, LambdaEvent};
use support::eks_seed::{GroupState, group_state, scaling_run, seed, seed_groups, state_of};
use support::fault_proxy::{FaultPlan, FaultProxy};
use support::{Harness as _, Moto, TestAccount, event};

/// `platform` runs a managed nodegroup, two self-managed groups (one a scale-from-zero
/// group at `0/0/4`) and EKS's own group for its managed nodegroup; `apps` needs
/// `platform` and runs a self-managed group and a Fargate profile; `other` is not opted in.
const CLUSTERS: &[support::eks_seed::Seed<'static>] = &[
    ("platform", &[("auto-stop", "true"), ("auto-start", "true")], &[("system", "2/2/3")]),
    ("apps", &[("auto-stop", "true"), ("auto-start", "true"), ("dependency", "platform")], &[]),
    ("other", &[("team", "payments")], &[("main", "1/1/2")]),
];
const GROUPS: &[support::eks_seed::GroupSeed<'static>] = &[
    (
        "platform-workers",
        &[("kubernetes.io/cluster/platform", "owned"), ("eks-scheduler/cluster", "platform"), ("team", "platform")],
        "1/3/6",
    ),
    ("platform-gpu", &[("eks:cluster-name", "platform")], "0/0/4"),
    (
        "eks-system-1a2b",
        &[
            ("kubernetes.io/cluster/platform", "owned"),
            ("eks:cluster-name", "platform"),
            ("eks:nodegroup-name", "system"),
        ],
        "2/2/3",
    ),
    ("apps-nodes", &[("kubernetes.io/cluster/apps", "shared"), ("eks-scheduler/cluster", "apps")], "2/2/5"),
    ("other-nodes", &[("kubernetes.io/cluster/other", "owned")], "1/1/1"),
];
const ALL_GROUPS: [&str; 5] = ["platform-workers", "platform-gpu", "eks-system-1a2b", "apps-nodes", "other-nodes"];

struct Setup {
    account: TestAccount,
    eks: aws_sdk_eks::Client,
    autoscaling: aws_sdk_autoscaling::Client,
}

/// The clusters and groups seeded; `platform-workers` with a warm pool of one stopped
/// instance, an instance protected from scale in, and `AZRebalance` suspended by its operator.
async fn setup() -> Result<Setup> {
    let account = TestAccount::new().await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let autoscaling = shared::aws_client!(aws_sdk_autoscaling, &account.aws);
    seed(&eks, CLUSTERS).await?;
    seed_groups(&autoscaling, GROUPS).await?;
    autoscaling
        .put_warm_pool()
        .auto_scaling_group_name("platform-workers")
        .min_size(1)
        .pool_state(aws_sdk_autoscaling::types::WarmPoolState::Stopped)
        .send()
        .await?;
    let workers =
        autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("platform-workers").send().await?;
    let first = workers.auto_scaling_groups()[0].instances()[0].instance_id().unwrap_or_default().to_owned();
    autoscaling
        .set_instance_protection()
        .auto_scaling_group_name("platform-workers")
        .instance_ids(first)
        .protected_from_scale_in(true)
        .send()
        .await?;
    autoscaling
        .suspend_processes()
        .auto_scaling_group_name("platform-workers")
        .scaling_processes("AZRebalance")
        .send()
        .await?;
    Ok(Setup { account, eks, autoscaling })
}

async fn deps_through(setup: &Setup, proxy: &FaultProxy) -> Deps {
    let config = Config::from_env(&shared::config::Env::default()).expect("default configuration");
    Deps::new(config, &setup.account.as_deployed(&proxy.url).await)
}

async fn invoke(deps: &Deps, event_file: &str) -> Result<Report, EksSchedulerError> {
    invoke_as(deps, event_file, "run").await
}

/// An invocation with its own request id: the name its leases are taken in.
async fn invoke_as(deps: &Deps, event_file: &str, request_id: &str) -> Result<Report, EksSchedulerError> {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    handle(deps, LambdaEvent::new(event(event_file), context)).await.map(scaling_run)
}

/// A manual stop of `platform` alone.
async fn stop_platform(deps: &Deps) -> Result<Report, EksSchedulerError> {
    let event = serde_json::json!({ "action": "stop", "clusters": ["platform"] });
    handle(deps, LambdaEvent::new(event, Context::default())).await.map(scaling_run)
}

async fn groups(autoscaling: &aws_sdk_autoscaling::Client) -> Result<Vec<GroupState>> {
    let mut states = Vec::new();
    for name in ALL_GROUPS {
        states.push(group_state(&autoscaling.harness(), name).await?);
    }
    Ok(states)
}

fn cluster<'a>(report: &'a Report, name: &str) -> &'a ClusterReport {
    report.clusters.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} in the report: {report:#?}"))
}

/// Each piece of a cluster's capacity as the report lists it: kind, name, before, after, status.
fn pieces(report: &ClusterReport) -> Vec<(Kind, &str, &str, &str, Status)> {
    report.nodegroups.iter().map(|n| (n.kind, n.name.as_str(), n.before.as_str(), n.after.as_str(), n.status)).collect()
}

/// The position of each scaling call the proxy saw, from `from` on: `UpdateAutoScalingGroup`
/// (a self-managed group) or `update-config` of the managed nodegroup (`system`).
fn scaling_calls(proxy: &FaultProxy, from: usize) -> Vec<&'static str> {
    proxy.exchanges()[from..]
        .iter()
        .filter_map(|e| match e.operation.as_str() {
            "UpdateAutoScalingGroup" => Some("self-managed"),
            op if op.contains("/update-config") => Some("managed"),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_mixed_cluster_stops_every_kind_in_order_and_starts_each_back_exactly() -> Result<()> {
    // Given clusters that run on managed nodegroups, self-managed groups and Fargate
    let setup = setup().await?;
    let proxy =
        FaultProxy::start(Moto::shared().url(), FaultPlan { rules: Vec::new(), ..FaultPlan::uniform(0, 0.0) }).await;
    let deps = deps_through(&setup, &proxy).await;
    let groups_before = groups(&setup.autoscaling).await?;
    let (platform_before, apps_before) = (state_of(&setup.eks, "platform").await?, state_of(&setup.eks, "apps").await?);

    // When a dry run plans the stop
    let planned = invoke(&deps, "eks-dry-run.json").await?;

    // Then it lists each group as it would change, and changes nothing
    let plan = pieces(cluster(&planned, "platform"));
    assert_eq!(plan[1], (Kind::SelfManaged, "platform-workers", "1/3/6", "0/0/0", Status::Changed), "{plan:?}");
    assert_eq!(groups(&setup.autoscaling).await?, groups_before);
    assert!(scaling_calls(&proxy, 0).is_empty());
    let calls = proxy.exchanges().len();

    // When two stops overlap (a retry racing the schedule), one under each other's lease
    let (first, second) =
        tokio::join!(invoke_as(&deps, "eks-stop.json", "first"), invoke_as(&deps, "eks-stop.json", "second"));
    let (first, second) = (first?, second?);

    // Then one run stopped each cluster and the other left it to that run
    for name in ["platform", "apps"] {
        let statuses = [cluster(&first, name).status, cluster(&second, name).status];
        assert!(
            statuses == [Status::Changed, Status::Skipped] || statuses == [Status::Skipped, Status::Changed],
            "{name}: {first:#?}\n{second:#?}"
        );
    }
    let stopped = if cluster(&first, "platform").status == Status::Changed { &first } else { &second };
    // listing every piece with its kind, in the order it was stopped
    assert_eq!(
        pieces(cluster(stopped, "platform")),
        [
            (Kind::SelfManaged, "platform-gpu", "0/0/4", "0/0/4", Status::Unchanged),
            (Kind::SelfManaged, "platform-workers", "1/3/6", "0/0/0", Status::Changed),
            (Kind::Managed, "system", "2/2/3", "0/0/3", Status::Changed),
        ]
    );
    let apps_stopped = if cluster(&first, "apps").status == Status::Changed { &first } else { &second };
    assert_eq!(
        pieces(cluster(apps_stopped, "apps")),
        [
            (Kind::SelfManaged, "apps-nodes", "2/2/5", "0/0/0", Status::Changed),
            (Kind::Fargate, "default", "-", "-", Status::Skipped),
        ]
    );
    // and the calls went apps first (it needs platform), then platform's groups before its nodegroup.
    assert_eq!(scaling_calls(&proxy, calls), ["self-managed", "self-managed", "managed"]);

    // Every group is at zero with its record on it; the scale-from-zero group, EKS's own
    // group and another cluster's are as they were.
    let stopped_groups = groups(&setup.autoscaling).await?;
    let workers = &stopped_groups[0];
    assert_eq!(
        (workers.sizes.as_str(), workers.instances),
        ("0/0/0", 0),
        "the protected instance went too: {workers:?}"
    );
    assert_eq!(workers.warm_pool, Some((0, 0)), "the warm pool keeps no instance");
    let all_four: BTreeSet<String> =
        ["AZRebalance", "AlarmNotification", "ReplaceUnhealthy", "ScheduledActions"].map(str::to_owned).into();
    assert_eq!(workers.suspended, all_four);
    assert_eq!(workers.tags["eks-scheduler/saved"], "1/3/6");
    assert_eq!(workers.tags["eks-scheduler/suspended"], "AlarmNotification ReplaceUnhealthy ScheduledActions");
    assert_eq!(workers.tags["eks-scheduler/saved-warm-pool"], "min=1 max-prepared=group-max");
    assert_eq!(stopped_groups[3].sizes, "0/0/0");
    assert_eq!(stopped_groups[3].tags["eks-scheduler/saved"], "2/2/5");
    for index in [1, 2, 4] {
        assert_eq!(stopped_groups[index], groups_before[index], "{} untouched", ALL_GROUPS[index]);
    }

    // When the stop runs again, nothing changes: no record is overwritten with a zero.
    let calls = proxy.exchanges().len();
    let again = invoke(&deps, "eks-stop.json").await?;
    assert_eq!(again.totals.nodegroups_changed, 0, "{again:#?}");
    assert!(scaling_calls(&proxy, calls).is_empty());
    assert_eq!(groups(&setup.autoscaling).await?, stopped_groups);

    // When the morning start runs
    let calls = proxy.exchanges().len();
    let started = invoke(&deps, "eks-start.json").await?;

    // Then the managed nodegroup came back first, then the groups (platform before apps)
    assert_eq!(scaling_calls(&proxy, calls), ["managed", "self-managed", "self-managed"]);
    assert_eq!(
        pieces(cluster(&started, "platform")),
        [
            (Kind::Managed, "system", "0/0/3", "2/2/3", Status::Changed),
            (Kind::SelfManaged, "platform-gpu", "0/0/4", "0/0/4", Status::Skipped),
            (Kind::SelfManaged, "platform-workers", "0/0/0", "1/3/6", Status::Changed),
        ]
    );
    // and every group is exactly as it was: sizes, warm pool, its operator's suspension
    // kept and the stop's resumed, the scheduler's tags gone.
    let started_groups = groups(&setup.autoscaling).await?;
    for (index, (after, before)) in started_groups.iter().zip(&groups_before).enumerate() {
        let (mut after, mut before) = (after.clone(), before.clone());
        // The emulator launches new instances unprotected, as AWS does for a group that
        // does not protect new instances.
        (after.instances, after.protected_instances, before.instances, before.protected_instances) = (0, 0, 0, 0);
        assert_eq!(after, before, "{}", ALL_GROUPS[index]);
    }
    assert_eq!(started_groups[0].instances, 3);
    assert_eq!(state_of(&setup.eks, "platform").await?.0, platform_before.0);
    assert_eq!(state_of(&setup.eks, "apps").await?.0, apps_before.0);
    Ok(())
}

#[tokio::test]
async fn a_group_the_role_may_not_change_fails_its_cluster_up_front_and_holds_its_nodegroups_back() -> Result<()> {
    // Given a cluster with a group known only by kubernetes.io/cluster/<name>, which the
    // function's role may not change (IAM cannot match a tag key holding the name)
    let setup = setup().await?;
    seed_groups(&setup.autoscaling, &[("platform-legacy", &[("kubernetes.io/cluster/platform", "owned")], "1/1/2")])
        .await?;
    let deps = Deps::new(
        Config::from_env(&shared::config::Env::default()).expect("default configuration"),
        &setup.account.aws,
    );

    // When it is stopped
    let Err(err) = stop_platform(&deps).await else { panic!("a group it may not change must fail the run") };

    // Then the run fails, naming the group and the tag that permits it
    let message = err.to_string();
    assert!(message.contains("group platform-legacy:"), "{message}");
    assert!(message.contains("tag it eks-scheduler/cluster=platform"), "{message}");
    // and nothing was done: not the other group, and not the managed nodegroup, which may
    // host the controllers of that capacity
    assert_eq!(group_state(&setup.autoscaling, "platform-legacy").await?.sizes, "1/1/2");
    assert_eq!(group_state(&setup.autoscaling, "platform-workers").await?.sizes, "0/0/0", "its kind's phase ran");
    let (sizes, tags) = state_of(&setup.eks, "platform").await?;
    assert_eq!(sizes["system"], "2/2/3");
    assert!(!tags.contains_key("eks-scheduler/last-action"), "a failed stop is not recorded as done: {tags:?}");

    // When the operator tags the group as told, and the stop is retried
    setup
        .autoscaling
        .create_or_update_tags()
        .tags(
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id("platform-legacy")
                .resource_type("auto-scaling-group")
                .key("eks-scheduler/cluster")
                .value("platform")
                .propagate_at_launch(false)
                .build(),
        )
        .send()
        .await?;
    let retried = stop_platform(&deps).await?;

    // Then it finishes the stop; the group stopped before keeps its first record
    assert_eq!(cluster(&retried, "platform").status, Status::Changed, "{retried:#?}");
    let legacy = group_state(&setup.autoscaling, "platform-legacy").await?;
    assert_eq!((legacy.sizes.as_str(), legacy.tags["eks-scheduler/saved"].as_str()), ("0/0/0", "1/1/2"));
    let workers = group_state(&setup.autoscaling, "platform-workers").await?;
    assert_eq!(workers.tags["eks-scheduler/saved"], "1/3/6");
    assert_eq!(state_of(&setup.eks, "platform").await?.0["system"], "0/0/3");
    Ok(())
}
