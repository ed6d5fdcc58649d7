//! The EKS scheduler as it is deployed and invoked: the packaged binary (`cargo lambda
//! build --release`, or the artifact `EKS_SCHEDULER_BOOTSTRAP` names) run by the local
//! Lambda with Lambda's asynchronous delivery (EventBridge Scheduler invokes it so: a
//! failed run is run again, up to twice, with the same event). The emulator never fails
//! a scaling call, so the proxy in front of it fails the ones a test names.

use std::time::Duration;

use anyhow::{Context as _, Result};
use jiff::{Timestamp, ToSpan};

use crate::eks_scheduler::seed;
use crate::support::lambda::{Limits, LocalLambda, Outcome, packaged_binary};
use crate::support::slow_proxy::{Fault, SlowProxy};
use crate::support::{Moto, TestAccount, event};

#[tokio::test]
async fn a_stop_that_failed_for_one_nodegroup_is_finished_by_lambdas_retry() -> Result<()> {
    // Given a cluster whose schedule says it should have stopped ten minutes ago,
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let cluster = format!("retried-{}", std::process::id());
    let off = Timestamp::now().checked_sub(10.minutes())?.to_zoned(jiff::tz::TimeZone::UTC);
    let schedule = format!("off=daily@{:02}:{:02} tz=UTC", off.hour(), off.minute());
    seed(&eks, &[(&cluster, &[("eks-scheduler/schedule", &schedule)], &[("system", "2/2/4"), ("workers", "1/3/10")])])
        .await?;
    // and an EKS that refuses the first scaling of one of its nodegroups.
    let fault = Fault {
        request_contains: format!("/clusters/{cluster}/node-groups/workers/update-config"),
        times: 1,
        status: 400,
        error_type: "InvalidParameterException".to_owned(),
    };
    let proxy = SlowProxy::with_faults(moto.url(), Duration::ZERO, 0, vec![fault]).await;
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
    Ok(())
}
