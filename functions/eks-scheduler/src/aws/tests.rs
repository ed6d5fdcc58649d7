//! Retrying a busy nodegroup and waiting for an update, on a paused clock. The emulator
//! applies every update at once and is never busy, so these paths need scripted answers.

use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::operation::describe_update::DescribeUpdateOutput;
use aws_sdk_eks::operation::update_nodegroup_config::{UpdateNodegroupConfigError, UpdateNodegroupConfigOutput};
use aws_sdk_eks::types::error::ResourceInUseException;
use aws_sdk_eks::types::{ErrorDetail, Update, UpdateStatus};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use tokio::time::Instant;

use super::*;

fn busy() -> UpdateNodegroupConfigError {
    UpdateNodegroupConfigError::ResourceInUseException(
        ResourceInUseException::builder().message("Nodegroup is currently updating").build(),
    )
}

fn update(status: UpdateStatus) -> Update {
    let mut update = Update::builder().id("update-1").status(status.clone());
    if status == UpdateStatus::Failed {
        update = update.errors(ErrorDetail::builder().error_message("insufficient capacity in eu-west-1a").build());
    }
    update.build()
}

fn accepted(status: UpdateStatus) -> UpdateNodegroupConfigOutput {
    UpdateNodegroupConfigOutput::builder().update(update(status)).build()
}

fn described(status: UpdateStatus) -> DescribeUpdateOutput {
    DescribeUpdateOutput::builder().update(update(status)).build()
}

fn scale_request_is_exact()
-> impl Fn(&aws_sdk_eks::operation::update_nodegroup_config::UpdateNodegroupConfigInput) -> bool {
    |req| {
        let scaling = req.scaling_config();
        req.cluster_name() == Some("dev")
            && req.nodegroup_name() == Some("ng-1")
            && scaling.and_then(|s| s.min_size()) == Some(2)
            && scaling.and_then(|s| s.desired_size()) == Some(3)
            && scaling.and_then(|s| s.max_size()) == Some(6)
    }
}

async fn scale(rules: &[&Rule], budget: Duration) -> (Result<(), String>, Duration) {
    let eks = mock_client!(aws_sdk_eks, RuleMode::MatchAny, rules);
    let start = Instant::now();
    // As the report shows it: the error's message.
    let result = scale_nodegroup(&eks, "dev", "ng-1", Sizes::new(2, 3, 6), start + budget).await;
    (result.map_err(|err| err.to_string()), start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_busy_nodegroup_is_retried_then_the_update_is_waited_for() {
    let update_config = mock!(Client::update_nodegroup_config)
        .match_requests(scale_request_is_exact())
        .sequence()
        .error(busy)
        .times(2)
        .output(|| accepted(UpdateStatus::InProgress))
        .build();
    let describe = mock!(Client::describe_update)
        .match_requests(|req| req.update_id() == Some("update-1") && req.nodegroup_name() == Some("ng-1"))
        .sequence()
        .output(|| described(UpdateStatus::InProgress))
        .output(|| described(UpdateStatus::Successful))
        .build();

    let (result, elapsed) = scale(&[&update_config, &describe], Duration::from_secs(300)).await;

    assert_eq!(result, Ok(()));
    assert_eq!((update_config.num_calls(), describe.num_calls()), (3, 2));
    assert_eq!(elapsed, Duration::from_secs(2 + 4 + 2 + 4), "busy waits 2 s then 4 s; polls 2 s then 4 s");
}

#[tokio::test(start_paused = true)]
async fn an_update_applied_at_once_needs_no_wait() {
    let update_config = mock!(Client::update_nodegroup_config).then_output(|| accepted(UpdateStatus::Successful));
    let describe = mock!(Client::describe_update).then_output(|| described(UpdateStatus::Successful));

    let (result, elapsed) = scale(&[&update_config, &describe], Duration::from_secs(300)).await;

    assert_eq!(result, Ok(()));
    assert_eq!(describe.num_calls(), 0);
    assert_eq!(elapsed, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_nodegroup_busy_until_the_deadline_fails_inside_the_budget() {
    let update_config = mock!(Client::update_nodegroup_config).sequence().error(busy).repeatedly().build();

    let (result, elapsed) = scale(&[&update_config], Duration::from_secs(60)).await;

    let reason = result.expect_err("always busy");
    assert!(reason.starts_with("the nodegroup was still busy with another update at the time limit"), "{reason}");
    assert!(elapsed <= Duration::from_secs(60), "{elapsed:?}");
    assert_eq!(
        update_config.num_calls(),
        6,
        "tries at 0, 2, 6, 14, 30 and 50 s (waits double to 20 s); the next would pass 60 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_update_reports_what_eks_said() {
    let update_config = mock!(Client::update_nodegroup_config).then_output(|| accepted(UpdateStatus::InProgress));
    let describe = mock!(Client::describe_update).then_output(|| described(UpdateStatus::Failed));

    let (result, _) = scale(&[&update_config, &describe], Duration::from_secs(300)).await;

    assert_eq!(result, Err("the update update-1 ended Failed: insufficient capacity in eu-west-1a".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn an_update_still_running_at_the_deadline_is_reported_not_waited_for_forever() {
    let update_config = mock!(Client::update_nodegroup_config).then_output(|| accepted(UpdateStatus::InProgress));
    let describe =
        mock!(Client::describe_update).sequence().output(|| described(UpdateStatus::InProgress)).repeatedly().build();

    let (result, elapsed) = scale(&[&update_config, &describe], Duration::from_secs(100)).await;

    let reason = result.expect_err("never finishes");
    assert!(reason.contains("was still in progress at the time limit"), "{reason}");
    assert!(elapsed <= Duration::from_secs(100));
    assert_eq!(describe.num_calls(), 7, "polls at 2, 6, 14, 30, 50, 70 and 90 s; the next would pass 100 s");
}

#[tokio::test]
async fn restored_sizes_are_untagged_in_one_request_and_none_makes_no_request() {
    use aws_sdk_eks::operation::untag_resource::UntagResourceOutput;
    // AWS removes every key of one UntagResource (the emulator only the first: its launcher
    // makes it answer as AWS does), and refuses a request with no key.
    let untag = mock!(Client::untag_resource)
        .match_requests(|req| {
            req.resource_arn() == Some("arn:aws:eks:us-east-1:123456789012:cluster/dev")
                && req.tag_keys() == ["eks-scheduler/saved/a", "eks-scheduler/saved/b"]
        })
        .then_output(|| UntagResourceOutput::builder().build());
    let eks = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&untag]);
    let arn = "arn:aws:eks:us-east-1:123456789012:cluster/dev";
    let keys = vec!["eks-scheduler/saved/a".to_owned(), "eks-scheduler/saved/b".to_owned()];
    untag_cluster(&eks, arn, keys).await.expect("one request with both keys");
    untag_cluster(&eks, arn, Vec::new()).await.expect("nothing to remove");
    assert_eq!(untag.num_calls(), 1, "both keys in one request, and none for no key");
}
