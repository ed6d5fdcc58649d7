//! The EKS scheduler end to end against the emulator: seeded clusters with
//! dependencies, stopped and started, every size and tag checked.
//!
//! The emulator applies nodegroup updates at once and can tag clusters only, which is
//! what the scheduler needs; busy nodegroups and slow updates are unit-tested in
//! `functions/eks-scheduler/src/aws/tests.rs`.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use eks_scheduler::core::{
    LAST_ACTION_TAG, MAX_TAGS_PER_RESOURCE, Report, Request, RequestedAction, Sizes, Status, parse_event, tag_problem,
};
use eks_scheduler::{Config, Deps, EksSchedulerError, handle, run};
use jiff::Timestamp;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use support::Harness as _;

use support::eks_seed::{Seed, scaling_run, seed};
use support::{TestAccount, event};

/// Five opted-in clusters with dependencies (web needs api needs data; qa needs data),
/// one Fargate-only, one not opted in.
const ACCOUNT: &[Seed<'static>] = &[
    ("staging-data", &[("auto-stop", "true"), ("auto-start", "true")], &[("system", "2/2/4"), ("workers", "1/3/10")]),
    (
        "staging-api",
        &[("auto-stop", "true"), ("auto-start", "true"), ("dependency", "staging-data")],
        &[("web", "2/4/8")],
    ),
    (
        "staging-web",
        &[("auto-stop", "true"), ("auto-start", "true"), ("dependency", "staging-api")],
        &[("frontend", "1/2/3")],
    ),
    ("qa", &[("auto-stop", "true"), ("auto-start", "true"), ("dependency", "staging-data")], &[("default", "3/3/3")]),
    ("dev-batch", &[("auto-stop", "true"), ("auto-start", "TRUE")], &[("gpu", "0/1/2"), ("spot", "0/5/20")]),
    ("serverless", &[("auto-stop", "true"), ("auto-start", "true")], &[]),
    ("production", &[("team", "payments")], &[("main", "3/6/12")]),
];

fn sizes(text: &str) -> Sizes {
    text.parse().expect("seed sizes")
}

/// A minute from now: the runs here take seconds.
fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(60)
}

/// Every cluster's tags and nodegroup sizes, as the emulator holds them now.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClusterState {
    tags: BTreeMap<String, String>,
    sizes: BTreeMap<String, String>,
}

async fn snapshot(eks: &aws_sdk_eks::Client) -> Result<BTreeMap<String, ClusterState>> {
    let mut state = BTreeMap::new();
    for name in eks.list_clusters().send().await?.clusters() {
        let cluster = eks.describe_cluster().name(name).send().await?;
        let tags = cluster.cluster().and_then(|c| c.tags()).context("tags")?;
        let mut sizes = BTreeMap::new();
        for nodegroup in eks.list_nodegroups().cluster_name(name).send().await?.nodegroups() {
            let described = eks.describe_nodegroup().cluster_name(name).nodegroup_name(nodegroup).send().await?;
            let scaling = described.nodegroup().and_then(|n| n.scaling_config()).context("scaling")?;
            let size = Sizes::new(
                scaling.min_size().unwrap_or(-1),
                scaling.desired_size().unwrap_or(-1),
                scaling.max_size().unwrap_or(-1),
            );
            sizes.insert(nodegroup.clone(), size.to_string());
        }
        let tags = tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        state.insert(name.clone(), ClusterState { tags, sizes });
    }
    Ok(state)
}

fn config() -> Config {
    Config::from_env(&shared::config::Env::default()).expect("default configuration")
}

async fn setup(clusters: &[Seed<'_>]) -> Result<Deps> {
    let account = TestAccount::new().await;
    let deps = Deps::new(config(), &account.aws);
    seed(&deps.eks.harness(), clusters).await?;
    Ok(deps)
}

async fn invoke(deps: &Deps, event_file: &str) -> Result<Report, EksSchedulerError> {
    handle(deps, LambdaEvent::new(event(event_file), Context::default())).await.map(scaling_run)
}

fn every_written_tag_is_valid(state: &BTreeMap<String, ClusterState>) {
    for (cluster, cluster_state) in state {
        assert!(cluster_state.tags.len() <= MAX_TAGS_PER_RESOURCE, "{cluster}: too many tags");
        for (key, value) in &cluster_state.tags {
            assert_eq!(tag_problem(key, value), None, "{cluster}: {key}={value}");
        }
    }
}

fn cluster<'a>(report: &'a Report, name: &str) -> &'a eks_scheduler::core::ClusterReport {
    report.clusters.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} in the report: {report:#?}"))
}

#[tokio::test]
async fn a_run_acts_only_on_the_clusters_the_pattern_names_and_says_so_of_a_named_one() -> Result<()> {
    // Given the opted-in clusters, and a scheduler whose role may touch staging-* only,
    let account = TestAccount::new().await;
    let staging_only = Config { cluster_name_pattern: "staging-*".to_owned(), ..config() };
    let deps = Deps::new(staging_only, &account.aws);
    seed(&deps.eks.harness(), ACCOUNT).await?;
    let before = snapshot(&deps.eks.harness()).await?;

    // when the evening stop runs,
    let request = Request { action: RequestedAction::Stop, dry_run: false, clusters: None };
    let report = run(&deps, &request, Timestamp::now(), deadline(), "test-run").await?;

    // then only the staging clusters are stopped; qa and dev-batch, opted in but outside the
    // pattern, are not even looked at (their reads would be denied),
    let reported: Vec<&str> = report.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(reported, ["staging-api", "staging-data", "staging-web"], "{report:#?}");
    let after = snapshot(&deps.eks.harness()).await?;
    assert_eq!(after["staging-api"].sizes["web"], "0/0/8");
    for untouched in ["qa", "dev-batch", "production"] {
        assert_eq!(after[untouched], before[untouched], "{untouched}");
    }

    // and a manual stop that names one outside it fails for that cluster, saying why.
    let named = Request { action: RequestedAction::Stop, dry_run: false, clusters: Some(vec!["qa".to_owned()]) };
    let report = run(&deps, &named, Timestamp::now(), deadline(), "test-run").await?;
    assert_eq!(cluster(&report, "qa").status, Status::Failed);
    let reason = &cluster(&report, "qa").reason;
    assert!(reason.contains("outside CLUSTER_NAME_PATTERN=staging-*"), "{reason}");
    assert_eq!(snapshot(&deps.eks.harness()).await?["qa"], before["qa"]);
    Ok(())
}

#[tokio::test]
async fn stop_then_start_restores_every_exact_size_in_dependency_order() -> Result<()> {
    // Given five opted-in clusters with dependencies, a Fargate-only one and one not opted in
    let deps = setup(ACCOUNT).await?;
    let before = snapshot(&deps.eks.harness()).await?;

    // When the evening stop runs
    let stopped = invoke(&deps, "eks-stop.json").await?;

    // Then dependents were ordered after what they need (stop runs these waves in reverse)
    let waves = &stopped.waves["stop"];
    assert_eq!(
        waves,
        &[vec!["dev-batch", "serverless", "staging-data"], vec!["qa", "staging-api"], vec!["staging-web"]]
            .into_iter()
            .map(|w| w.into_iter().map(str::to_owned).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
    assert_eq!(cluster(&stopped, "staging-web").wave, Some(2));
    assert_eq!(cluster(&stopped, "serverless").status, Status::Skipped);
    assert!(cluster(&stopped, "serverless").reason.starts_with("no managed nodegroups, no self-managed groups"));
    assert_eq!(cluster(&stopped, "serverless").nodegroups[0].kind, eks_scheduler::core::Kind::Fargate);
    assert!(stopped.clusters.iter().all(|c| c.name != "production"), "not opted in: not touched, not listed");
    assert_eq!(stopped.totals.nodegroups_changed, 7);
    assert_eq!(stopped.totals.clusters_failed, 0);

    let after_stop = snapshot(&deps.eks.harness()).await?;
    every_written_tag_is_valid(&after_stop);
    for (name, _, nodegroups) in
        ACCOUNT.iter().filter(|(name, _, nodegroups)| *name != "production" && !nodegroups.is_empty())
    {
        let state = &after_stop[*name];
        for (nodegroup, size) in *nodegroups {
            assert_eq!(state.sizes[*nodegroup], sizes(size).stopped().to_string(), "{name}/{nodegroup} at zero");
            assert_eq!(state.tags[&format!("eks-scheduler/saved/{nodegroup}")], *size, "{name}/{nodegroup} saved");
        }
        assert!(state.tags[LAST_ACTION_TAG].starts_with("stop@"), "{name}");
    }
    assert_eq!(after_stop["production"], before["production"]);

    // When the stop runs again (a retry, or a second schedule)
    let again = invoke(&deps, "eks-stop.json").await?;

    // Then nothing changes and the first saved sizes are kept
    assert_eq!(again.totals.nodegroups_changed, 0);
    assert_eq!(again.totals.nodegroups_unchanged, 7);
    let after_second_stop = snapshot(&deps.eks.harness()).await?;
    for (name, state) in &after_stop {
        let saved = |s: &ClusterState| {
            s.tags
                .iter()
                .filter(|(k, _)| k.contains("/saved/"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(saved(&after_second_stop[name]), saved(state), "{name}: saved sizes kept");
        assert_eq!(after_second_stop[name].sizes, state.sizes, "{name}");
    }

    // When the morning start runs
    let started = invoke(&deps, "eks-start.json").await?;

    // Then every nodegroup is back at its exact size and the saved sizes are gone
    assert_eq!(started.totals.nodegroups_changed, 7);
    assert_eq!(started.totals.clusters_failed, 0);
    let after_start = snapshot(&deps.eks.harness()).await?;
    every_written_tag_is_valid(&after_start);
    for (name, state) in &before {
        assert_eq!(after_start[name].sizes, state.sizes, "{name}: exact sizes restored");
        let mut tags = after_start[name].tags.clone();
        if !["production", "serverless"].contains(&name.as_str()) {
            assert!(tags.remove(LAST_ACTION_TAG).is_some_and(|v| v.starts_with("start@")), "{name}");
        }
        assert_eq!(tags, state.tags, "{name}: only the last-action tag is left");
    }
    Ok(())
}

#[tokio::test]
async fn dry_run_plans_everything_and_changes_nothing() -> Result<()> {
    let deps = setup(ACCOUNT).await?;
    let before = snapshot(&deps.eks.harness()).await?;

    let plan = invoke(&deps, "eks-dry-run.json").await?;

    assert!(plan.dry_run);
    let web = cluster(&plan, "staging-data");
    assert_eq!(web.wave, Some(0));
    let workers = web.nodegroups.iter().find(|n| n.name == "workers").context("workers")?;
    assert_eq!(
        (workers.before.as_str(), workers.after.as_str(), workers.status),
        ("1/3/10", "0/0/10", Status::Changed)
    );
    assert_eq!(plan.totals.nodegroups_changed, 7);
    assert_eq!(snapshot(&deps.eks.harness()).await?, before, "sizes and tags exactly as before");
    Ok(())
}

#[tokio::test]
async fn a_cycle_fails_only_the_clusters_in_it_and_the_run_reports_failure() -> Result<()> {
    let deps = setup(&[
        ("loop-a", &[("auto-stop", "true"), ("dependency", "loop-b")], &[("ng", "1/1/2")]),
        ("loop-b", &[("auto-stop", "true"), ("dependency", "loop-a")], &[("ng", "1/1/2")]),
        ("needs-ghost", &[("auto-stop", "true"), ("dependency", "ghost")], &[("ng", "1/1/2")]),
        ("fine", &[("auto-stop", "true")], &[("ng", "2/2/2")]),
    ])
    .await?;
    let request = Request { action: RequestedAction::Stop, dry_run: false, clusters: None };

    let report = run(&deps, &request, Timestamp::now(), deadline(), "test-run").await?;

    assert_eq!(cluster(&report, "loop-a").reason, "dependency cycle: loop-a -> loop-b -> loop-a");
    assert_eq!(cluster(&report, "loop-b").reason, "dependency cycle: loop-b -> loop-a -> loop-b");
    assert_eq!(cluster(&report, "needs-ghost").reason, "depends on ghost, which does not exist");
    assert_eq!(cluster(&report, "fine").status, Status::Changed);
    let state = snapshot(&deps.eks.harness()).await?;
    assert_eq!(state["fine"].sizes["ng"], "0/0/2");
    for name in ["loop-a", "loop-b", "needs-ghost"] {
        assert_eq!(state[name].sizes["ng"], "1/1/2", "{name} untouched");
        assert!(!state[name].tags.contains_key("eks-scheduler/saved/ng"), "{name}: no tag written");
    }

    // Through the handler, the same run is a failure that names the clusters.
    let err = invoke(&deps, "eks-stop.json").await.expect_err("clusters failed");
    let message = err.to_string();
    assert!(message.starts_with("3 of 4 clusters failed: loop-a: dependency cycle"), "{message}");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "ClustersFailed");
    Ok(())
}

#[tokio::test]
async fn a_manual_start_wakes_exactly_the_named_cluster() -> Result<()> {
    let deps = setup(ACCOUNT).await?;
    invoke(&deps, "eks-stop.json").await?;

    // staging-api is not opted in to start by itself here: the manual call names it.
    let report = invoke(&deps, "eks-wake-one.json").await?;

    assert_eq!(report.clusters.len(), 1);
    assert_eq!(cluster(&report, "staging-api").status, Status::Changed);
    let state = snapshot(&deps.eks.harness()).await?;
    assert_eq!(state["staging-api"].sizes["web"], "2/4/8");
    assert_eq!(state["staging-data"].sizes["workers"], "0/0/10", "its dependency is not started by a named start");
    assert_eq!(state["staging-web"].sizes["frontend"], "0/0/3");
    Ok(())
}

#[tokio::test]
async fn a_nodegroup_with_no_saved_size_uses_the_start_size_tag_or_is_left_alone() -> Result<()> {
    let deps = setup(&[
        ("with-start-size", &[("auto-start", "true"), ("eks-scheduler/start-size", "1/2/4")], &[("ng", "0/0/4")]),
        ("without", &[("auto-start", "true")], &[("ng", "0/0/4")]),
        ("bad-saved", &[("auto-start", "true"), ("eks-scheduler/saved/ng", "lots")], &[("ng", "0/0/4")]),
    ])
    .await?;

    let err = invoke(&deps, "eks-start.json").await.expect_err("bad-saved fails");

    assert!(
        err.to_string()
            .starts_with("1 of 3 clusters failed: bad-saved: nodegroup ng: tag eks-scheduler/saved/ng is unreadable"),
        "{err}"
    );
    let state = snapshot(&deps.eks.harness()).await?;
    assert_eq!(state["with-start-size"].sizes["ng"], "1/2/4");
    assert_eq!(state["without"].sizes["ng"], "0/0/4");
    assert_eq!(state["bad-saved"].sizes["ng"], "0/0/4");
    assert_eq!(state["bad-saved"].tags["eks-scheduler/saved/ng"], "lots", "left for a person to fix");
    let request = Request { action: RequestedAction::Start, dry_run: true, clusters: Some(vec!["without".into()]) };
    let plan = run(&deps, &request, Timestamp::now(), deadline(), "test-run").await?;
    let nodegroup = &cluster(&plan, "without").nodegroups[0];
    assert_eq!(nodegroup.status, Status::Skipped);
    assert_eq!(nodegroup.reason, "no saved size, and no eks-scheduler/start-size tag on the cluster to start from");
    Ok(())
}

#[tokio::test]
async fn a_cluster_whose_sizes_would_pass_50_tags_is_reported_not_half_saved() -> Result<()> {
    let crowded: Vec<(String, String)> = (0..48).map(|i| (format!("label-{i:02}"), "x".to_owned())).collect();
    let mut tags: Vec<(&str, &str)> = crowded.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    tags.push(("auto-stop", "true"));
    let deps = setup(&[("crowded", &tags, &[("a", "1/1/1"), ("b", "1/1/1")])]).await?;
    let before = snapshot(&deps.eks.harness()).await?;

    let err = invoke(&deps, "eks-stop.json").await.expect_err("too many tags");

    assert!(
        err.to_string().contains(
            // 48 labels, auto-stop, the run's lease, two saved sizes and the last action.
            "saving the nodegroup sizes needs 53 tags on the cluster, and EKS allows 50: remove 3 other tags"
        ),
        "{err}"
    );
    assert_eq!(snapshot(&deps.eks.harness()).await?, before, "nothing saved, nothing scaled");
    Ok(())
}

#[tokio::test]
async fn auto_follows_each_clusters_schedule_tag_once_per_moment() -> Result<()> {
    let deps = setup(&[
        (
            "office",
            &[("eks-scheduler/schedule", "off=mon-fri@19:00 on=mon-fri@07:00 tz=Europe/Paris")],
            &[("ng", "1/2/3")],
        ),
        ("broken", &[("eks-scheduler/schedule", "off=weekdays(19h)")], &[("ng", "1/1/1")]),
        ("no-schedule", &[("auto-stop", "true")], &[("ng", "1/1/1")]),
    ])
    .await?;
    let auto = Request { action: RequestedAction::Auto, dry_run: false, clusters: None };
    // Monday 2026-11-23, 19:30 in Paris (18:30 UTC): the 19:00 stop is due.
    let evening: Timestamp = "2026-11-23T18:30:00Z".parse()?;

    let report = run(&deps, &auto, evening, deadline(), "test-run").await?;

    assert_eq!(cluster(&report, "office").status, Status::Changed);
    assert_eq!(cluster(&report, "office").action, Some(eks_scheduler::core::Action::Stop));
    assert_eq!(cluster(&report, "broken").status, Status::Failed);
    assert!(
        cluster(&report, "broken")
            .reason
            .starts_with("tag eks-scheduler/schedule: \"off=weekdays(19h)\" has no @<HH:MM>")
    );
    assert!(report.clusters.iter().all(|c| c.name != "no-schedule"));
    assert_eq!(snapshot(&deps.eks.harness()).await?["office"].sizes["ng"], "0/0/3");

    // An hour later nothing is due: the stop was handled.
    let later = run(&deps, &auto, "2026-11-23T19:30:00Z".parse()?, deadline(), "test-run").await?;
    let office = cluster(&later, "office");
    assert_eq!((office.status, office.action), (Status::Unchanged, None));
    assert!(office.reason.starts_with("nothing due"), "{}", office.reason);

    // The next morning the 07:00 start is due and restores the size.
    run(&deps, &auto, "2026-11-24T06:05:00Z".parse()?, deadline(), "test-run").await?;
    let state = snapshot(&deps.eks.harness()).await?;
    assert_eq!(state["office"].sizes["ng"], "1/2/3");
    assert_eq!(state["office"].tags[LAST_ACTION_TAG], "start@2026-11-24T06:05:00Z");
    Ok(())
}

#[test]
fn eks_events_parse() {
    for (file, action) in [
        ("eks-stop.json", RequestedAction::Stop),
        ("eks-start.json", RequestedAction::Start),
        ("eks-auto.json", RequestedAction::Auto),
        ("eks-dry-run.json", RequestedAction::Stop),
        ("eks-wake-one.json", RequestedAction::Start),
        ("eks-report.json", RequestedAction::Report),
    ] {
        let payload: Value = event(file);
        let request = parse_event(&payload).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert_eq!(request.action, action, "{file}");
    }
}

#[tokio::test]
async fn a_run_announces_each_cluster_it_changed_on_the_topic_and_the_bus() -> Result<()> {
    use support::sqs::Queue;

    // Given two opted-in clusters with uniquely named nodegroups in the emulator's default
    // account (where the SQS helper's queues live), a topic and the default bus, each
    // delivering to a queue, the way a team routes them to chat,
    let moto = support::Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let id = format!("{}-{}", std::process::id(), Timestamp::now().as_millisecond());
    let (web, api) = (format!("announce-web-{id}"), format!("announce-api-{id}"));
    let opted_in: &[(&str, &str)] = &[("auto-stop", "true"), ("auto-start", "true")];
    let clusters: Vec<Seed<'_>> =
        vec![(web.as_str(), opted_in, &[("frontend", "1/2/3")]), (api.as_str(), opted_in, &[("web", "2/4/8")])];
    let sns = shared::aws_client!(aws_sdk_sns, &account.aws);
    let events = shared::aws_client!(aws_sdk_eventbridge, &account.aws);
    let topic = sns.create_topic().name(format!("announce-{id}")).send().await?.topic_arn.context("topic arn")?;
    let from_topic = Queue::create(moto.url(), &format!("from-topic-{id}"), None).await?;
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&from_topic.arn).send().await?;
    let from_bus = Queue::create(moto.url(), &format!("from-bus-{id}"), None).await?;
    let rule = format!("announce-{id}");
    let pattern = serde_json::json!({ "source": [eks_scheduler::core::EVENT_SOURCE], "detail.cluster": [web, api] });
    events.put_rule().name(&rule).event_pattern(pattern.to_string()).send().await?;
    events
        .put_targets()
        .rule(&rule)
        .targets(aws_sdk_eventbridge::types::Target::builder().id("queue").arn(&from_bus.arn).build()?)
        .send()
        .await?;
    let config = Config { notify_topic_arn: Some(topic.clone()), event_bus: Some("default".to_owned()), ..config() };
    let deps = Deps::new(config, &account.aws);
    seed(&deps.eks.harness(), &clusters).await?;

    // When the evening stop runs on them,
    let request = serde_json::json!({ "action": "stop", "clusters": [web, api] });
    let report = handle(&deps, LambdaEvent::new(request, Context::default())).await.map(scaling_run)?;
    assert_eq!(report.totals.nodegroups_changed, 2, "{report:#?}");

    // Then the topic got one message per cluster, with attributes to filter on and the
    // nodegroups' sizes before and after in the body,
    let received = from_topic.receive(10, std::time::Duration::from_secs(30), 2).await?;
    let mut messages: Vec<Value> = received.iter().map(|m| serde_json::from_str(&m.body)).collect::<Result<_, _>>()?;
    messages.sort_by_key(|m| m["Subject"].as_str().unwrap_or_default().to_owned());
    assert_eq!(messages.len(), 2, "{messages:#?}");
    let subjects: Vec<&str> = messages.iter().filter_map(|m| m["Subject"].as_str()).collect();
    assert_eq!(
        subjects,
        [format!("EKS Scheduler Cluster Stopped: {api}"), format!("EKS Scheduler Cluster Stopped: {web}")]
    );
    let web_message = &messages[1];
    let attributes = &web_message["MessageAttributes"];
    assert_eq!(attributes["event"]["Value"], "EKS Scheduler Cluster Stopped");
    assert_eq!(attributes["cluster"]["Value"], web.as_str());
    assert_eq!(attributes["action"]["Value"], "stop");
    assert_eq!(attributes["status"]["Value"], "changed");
    assert_eq!(attributes["dry_run"]["Value"], "false");
    let body: Value = serde_json::from_str(web_message["Message"].as_str().context("message")?)?;
    assert_eq!(body["cluster"], web.as_str());
    assert_eq!(body["action"], "stop");
    assert_eq!(body["status"], "changed");
    assert_eq!(body["dry_run"], false);
    assert_eq!(body["nodegroups"][0]["name"], "frontend");
    assert_eq!(body["nodegroups"][0]["before"], "1/2/3");
    assert_eq!(body["nodegroups"][0]["after"], "0/0/3");
    assert_eq!(body["failures"], serde_json::json!([]));

    // and the bus one event per cluster, with the same detail.
    let received = from_bus.receive(10, std::time::Duration::from_secs(30), 2).await?;
    let mut put: Vec<Value> = received.iter().map(|m| serde_json::from_str(&m.body)).collect::<Result<_, _>>()?;
    put.sort_by_key(|e| e["detail"]["cluster"].as_str().unwrap_or_default().to_owned());
    assert_eq!(put.len(), 2, "{put:#?}");
    assert_eq!(put[1]["source"], eks_scheduler::core::EVENT_SOURCE);
    assert_eq!(put[1]["detail-type"], "EKS Scheduler Cluster Stopped");
    assert_eq!(put[1]["detail"], body);
    assert_eq!(put[0]["detail"]["nodegroups"][0]["before"], "2/4/8");

    // A second stop changes nothing, and announces nothing.
    let request = serde_json::json!({ "action": "stop", "clusters": [web, api] });
    handle(&deps, LambdaEvent::new(request, Context::default())).await.map(scaling_run)?;
    assert!(from_topic.receive(10, std::time::Duration::from_secs(30), 1).await?.is_empty());
    assert!(from_bus.receive(10, std::time::Duration::from_secs(30), 1).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_announcement_that_cannot_be_sent_fails_the_run_and_names_the_topic() -> Result<()> {
    // Given a cluster to stop and a topic that does not exist,
    let mut config = config();
    config.notify_topic_arn = Some("arn:aws:sns:us-east-1:123456789012:no-such-topic".to_owned());
    let account = TestAccount::new().await;
    let deps = Deps::new(config, &account.aws);
    seed(&deps.eks.harness(), &[("lonely", &[("auto-stop", "true")], &[("ng", "1/1/2")])]).await?;

    // When the stop runs, the nodegroup is stopped, and the run fails naming the topic and the fix.
    let err = invoke(&deps, "eks-stop.json").await.expect_err("the announcement failed");
    let message = err.to_string();
    assert!(message.contains("SNS topic arn:aws:sns:us-east-1:123456789012:no-such-topic"), "{message}");
    assert!(message.contains("sns:Publish"), "{message}");
    assert!(matches!(err, EksSchedulerError::Notify { .. }), "{err:?}");
    let state = snapshot(&deps.eks.harness()).await?;
    assert_eq!(state["lonely"].sizes["ng"], "0/0/2");
    Ok(())
}
