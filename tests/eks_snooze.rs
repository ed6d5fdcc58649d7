//! A notice before each scheduled stop, and the snooze that postpones one, end to end with an
//! injected clock: the notice sent once (not again on the next run), a snoozed cluster left
//! running and announced as such once, the snooze ending and the stop following, and a
//! snooze that never holds back a start. What was announced is read from the topic's queue;
//! what was kept is read from the cluster's tags and sizes.

use anyhow::{Context as _, Result};
use eks_scheduler::core::{NOTICED_TAG, Report, Request, RequestedAction, SNOOZE_TAG, Status};
use eks_scheduler::{Config, Deps, run};
use jiff::Timestamp;
use serde_json::Value;
use support::TestAccount;
use support::eks_seed::seed;
use support::sqs::Queue;

struct Office {
    deps: Deps,
    eks: aws_sdk_eks::Client,
    cluster: String,
    arn: String,
    topic_queue: Queue,
}

/// One cluster on an office-hours schedule in Paris, its announcements to a topic a queue reads.
async fn office() -> Result<Office> {
    let moto = support::Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let id = format!("{}-{}", std::process::id(), Timestamp::now().as_millisecond());
    let cluster = format!("office-{id}");
    let schedule = "off=mon-fri@19:00 on=mon-fri@07:00 tz=Europe/Paris";
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    seed(&eks, &[(cluster.as_str(), &[("eks-scheduler/schedule", schedule)], &[("ng", "1/2/3")])]).await?;
    let arn =
        eks.describe_cluster().name(&cluster).send().await?.cluster().and_then(|c| c.arn()).context("arn")?.to_owned();
    let sns = shared::aws_client!(aws_sdk_sns, &account.aws);
    let topic = sns.create_topic().name(format!("notice-{id}")).send().await?.topic_arn.context("topic arn")?;
    let topic_queue = Queue::create(moto.url(), &format!("notice-{id}"), None).await?;
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&topic_queue.arn).send().await?;
    let config = Config {
        notify_topic_arn: Some(topic),
        ..Config::from_env(&shared::config::Env::default()).expect("default configuration")
    };
    Ok(Office { deps: Deps::new(config, &account.aws), eks, cluster, arn, topic_queue })
}

impl Office {
    /// An `auto` run at `now`, announced as the handler announces it.
    async fn auto_at(&self, now: &str) -> Result<Report> {
        let request =
            Request { action: RequestedAction::Auto, dry_run: false, clusters: Some(vec![self.cluster.clone()]) };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let report = run(&self.deps, &request, now.parse()?, deadline, "auto-run").await?;
        eks_scheduler::handler::announce(&self.deps, &report, "auto-run").await?;
        Ok(report)
    }

    /// The subjects and bodies the topic delivered since last asked.
    async fn announced(&self, expected: usize) -> Result<Vec<(String, Value)>> {
        // Long polling: a second when nothing is expected, up to five for what is.
        let wait_seconds = if expected == 0 { 1 } else { 5 };
        let received = self.topic_queue.receive(10, std::time::Duration::from_secs(30), wait_seconds).await?;
        received
            .iter()
            .map(|message| {
                let envelope: Value = serde_json::from_str(&message.body)?;
                let body = serde_json::from_str(envelope["Message"].as_str().unwrap_or("null"))?;
                Ok((envelope["Subject"].as_str().unwrap_or_default().to_owned(), body))
            })
            .collect()
    }

    async fn tag(&self, key: &str) -> Result<Option<String>> {
        let described = self.eks.describe_cluster().name(&self.cluster).send().await?;
        Ok(described.cluster().and_then(|c| c.tags()).and_then(|tags| tags.get(key).cloned()))
    }

    async fn desired(&self) -> Result<i32> {
        let ng = self.eks.describe_nodegroup().cluster_name(&self.cluster).nodegroup_name("ng").send().await?;
        Ok(ng.nodegroup().and_then(|n| n.scaling_config()).and_then(|s| s.desired_size()).unwrap_or(-1))
    }

    async fn snooze(&self, value: &str) -> Result<()> {
        self.eks.tag_resource().resource_arn(&self.arn).tags(SNOOZE_TAG, value).send().await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_stop_is_noticed_once_snoozed_once_announced_and_taken_when_the_snooze_ends() -> Result<()> {
    let office = office().await?;
    let cluster = office.cluster.as_str();

    // Monday 2026-12-07, 18:32 in Paris: the 19:00 stop is 28 minutes away.
    let report = office.auto_at("2026-12-07T17:32:00Z").await?;
    assert_eq!(report.notices.len(), 1, "{report:#?}");
    let sent = office.announced(1).await?;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].0, format!("EKS Scheduler Cluster Stop Notice: {cluster}"));
    assert_eq!(sent[0].1["stop_at_local"], "Mon 2026-12-07 19:00 CET (Europe/Paris)");
    assert_eq!(sent[0].1["minutes_left"], 28);
    assert!(sent[0].1["postpone"].as_str().is_some_and(|p| p.contains(&office.arn)), "{:?}", sent[0].1);
    assert_eq!(office.tag(NOTICED_TAG).await?.as_deref(), Some("2026-12-07T18:00:00Z"));

    // The next run (or Lambda's retry) does not send it again.
    let report = office.auto_at("2026-12-07T17:47:00Z").await?;
    assert!(report.notices.is_empty(), "{report:#?}");
    assert!(office.announced(0).await?.is_empty());

    // The team works late: two hours, counted from the first run that reads them.
    office.snooze("2h").await?;
    let report = office.auto_at("2026-12-07T18:02:00Z").await?;
    let skipped = report.clusters.iter().find(|c| c.name == cluster).context("the cluster")?;
    assert_eq!(skipped.status, Status::Skipped, "{skipped:#?}");
    assert_eq!(skipped.snoozed_until(), Some("2026-12-07T20:02:00Z".parse()?));
    assert!(
        skipped.reason.starts_with("stop snoozed until Mon 2026-12-07 21:02 CET (Europe/Paris)"),
        "{}",
        skipped.reason
    );
    assert_eq!(office.tag(SNOOZE_TAG).await?.as_deref(), Some("2026-12-07T20:02:00Z"), "the duration made a time");
    assert_eq!(office.desired().await?, 2, "left running");
    let sent = office.announced(1).await?;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].0, format!("EKS Scheduler Cluster Stop Snoozed: {cluster}"));
    assert_eq!(sent[0].1["snoozed_until"], "2026-12-07T20:02:00Z");

    // Later runs during the snooze skip the stop again, and say nothing more.
    office.auto_at("2026-12-07T18:17:00Z").await?;
    assert_eq!(office.desired().await?, 2);
    assert!(office.announced(0).await?.is_empty());

    // When it has ended, the snooze is removed and the stop is taken.
    office.auto_at("2026-12-07T20:17:00Z").await?;
    assert_eq!(office.desired().await?, 0, "stopped");
    assert_eq!(office.tag(SNOOZE_TAG).await?, None, "an ended snooze is removed");
    let sent = office.announced(1).await?;
    assert_eq!(
        sent.iter().map(|(subject, _)| subject.as_str()).collect::<Vec<_>>(),
        [format!("EKS Scheduler Cluster Stopped: {cluster}")]
    );

    // A snooze set overnight does not hold back the morning's start.
    office.snooze("1d").await?;
    office.auto_at("2026-12-08T06:02:00Z").await?;
    assert_eq!(office.desired().await?, 2, "started");
    Ok(())
}
