//! Thin async functions over the EKS client (and, in `groups`, the Auto Scaling client): pagination, retrying a busy nodegroup,
//! waiting for an update, and conversion to core types. Failures come back as the
//! crate's error (`EksSchedulerError::Eks` for a call, `::Update` for an update that
//! did not complete); the handler reports them on their cluster or nodegroup.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_eks::config::http::HttpResponse;
use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eks::types::{NodegroupScalingConfig, UpdateStatus};
use shared::error::{describe, is_transient};
use tokio::time::Instant;

use crate::core::{
    Announcement, ClusterInfo, EVENT_SOURCE, Kind, KubernetesApi, RunningPiece, Sizes, managed_machines,
};
use crate::error::EksSchedulerError;

/// First wait before retrying a busy nodegroup or reading an update again; doubles up to the cap.
const FIRST_WAIT: Duration = Duration::from_secs(2);
const MAX_WAIT: Duration = Duration::from_secs(20);

/// One failed EKS call, named, with whether trying later can help.
fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &str,
    err: &SdkError<E, HttpResponse>,
) -> EksSchedulerError {
    EksSchedulerError::Eks { operation: operation.to_owned(), message: describe(err), transient: is_transient(err) }
}

/// Every cluster name in the account and region.
pub async fn list_clusters(eks: &aws_sdk_eks::Client) -> Result<Vec<String>, EksSchedulerError> {
    let mut pages = eks.list_clusters().into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| failed("ListClusters", &err))?;
        names.extend(page.clusters().iter().cloned());
    }
    Ok(names)
}

pub async fn describe_cluster(eks: &aws_sdk_eks::Client, name: &str) -> Result<ClusterInfo, EksSchedulerError> {
    let output = eks.describe_cluster().name(name).send().await.map_err(|err| failed("DescribeCluster", &err))?;
    let cluster = output.cluster().ok_or_else(|| EksSchedulerError::Eks {
        operation: "DescribeCluster".to_owned(),
        message: "the answer has no cluster".to_owned(),
        transient: true,
    })?;
    Ok(ClusterInfo {
        name: name.to_owned(),
        arn: cluster.arn().unwrap_or_default().to_owned(),
        tags: cluster.tags().map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        api: KubernetesApi {
            endpoint: cluster.endpoint().unwrap_or_default().to_owned(),
            certificate_authority: cluster.certificate_authority().and_then(|ca| ca.data()).map(str::to_owned),
            public: cluster.resources_vpc_config().is_some_and(|vpc| vpc.endpoint_public_access()),
            auto_mode: cluster.compute_config().and_then(|compute| compute.enabled()).unwrap_or(false),
        },
    })
}

/// The cluster's managed nodegroups with their current sizes, by name, and the machines each
/// runs (its desired size of its first instance type, `core::managed_machines`).
pub async fn nodegroup_sizes(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<(Vec<(String, Sizes)>, Vec<RunningPiece>), EksSchedulerError> {
    let mut pages = eks.list_nodegroups().cluster_name(cluster).into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| failed("ListNodegroups", &err))?;
        names.extend(page.nodegroups().iter().cloned());
    }
    let mut nodegroups = Vec::with_capacity(names.len());
    let mut running = Vec::with_capacity(names.len());
    for name in names {
        let output = eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(&name)
            .send()
            .await
            .map_err(|err| failed(&format!("DescribeNodegroup {name}"), &err))?;
        let nodegroup = output.nodegroup();
        let scaling = nodegroup.and_then(|n| n.scaling_config());
        let size = |value: Option<i32>| value.unwrap_or(0);
        let sizes = Sizes::new(
            size(scaling.and_then(|s| s.min_size())),
            size(scaling.and_then(|s| s.desired_size())),
            size(scaling.and_then(|s| s.max_size())),
        );
        let instance_types = nodegroup.map(|n| n.instance_types().to_vec()).unwrap_or_default();
        let capacity_type = nodegroup.and_then(|n| n.capacity_type()).map(|c| c.as_str());
        let machines = managed_machines(&instance_types, capacity_type, sizes.desired);
        running.push(RunningPiece { kind: Kind::Managed, name: name.clone(), machines });
        nodegroups.push((name, sizes));
    }
    nodegroups.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((nodegroups, running))
}

/// The names of a cluster's Fargate profiles, which the report lists as not schedulable.
pub async fn fargate_profiles(eks: &aws_sdk_eks::Client, cluster: &str) -> Result<Vec<String>, EksSchedulerError> {
    let mut pages = eks.list_fargate_profiles().cluster_name(cluster).into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| failed("ListFargateProfiles", &err))?;
        names.extend(page.fargate_profile_names().iter().cloned());
    }
    names.sort();
    Ok(names)
}

/// A cluster's tags as they are now (`DescribeCluster` read them at the start of the run).
pub async fn cluster_tags(eks: &aws_sdk_eks::Client, arn: &str) -> Result<BTreeMap<String, String>, EksSchedulerError> {
    let output = eks
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|err| failed("ListTagsForResource", &err))?;
    Ok(output.tags().map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default())
}

pub async fn tag_cluster(
    eks: &aws_sdk_eks::Client,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), EksSchedulerError> {
    let tags: HashMap<String, String> = tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    eks.tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| failed("TagResource", &err))
}

/// Removes tags from a cluster, every key in one request (EKS takes up to 50, the most a
/// resource can carry); no keys, no request (EKS requires at least one).
pub async fn untag_cluster(eks: &aws_sdk_eks::Client, arn: &str, keys: Vec<String>) -> Result<(), EksSchedulerError> {
    if keys.is_empty() {
        return Ok(());
    }
    eks.untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| failed("UntagResource", &err))
}

/// Sets a nodegroup's scaling configuration and waits until EKS has applied it.
/// A nodegroup busy with another update is tried again, with backoff, until `deadline`.
pub async fn scale_nodegroup(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    nodegroup: &str,
    sizes: Sizes,
    deadline: Instant,
) -> Result<(), EksSchedulerError> {
    let scaling =
        NodegroupScalingConfig::builder().min_size(sizes.min).desired_size(sizes.desired).max_size(sizes.max).build();
    let mut wait = FIRST_WAIT;
    let update = loop {
        let result = eks
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(nodegroup)
            .scaling_config(scaling.clone())
            .send()
            .await;
        match result {
            Ok(output) => break output.update().cloned(),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {
                if Instant::now() + wait > deadline {
                    return Err(EksSchedulerError::Update(format!(
                        "the nodegroup was still busy with another update at the time limit ({}); the next run will try again",
                        describe(&err)
                    )));
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_WAIT);
            }
            Err(err) => return Err(failed("UpdateNodegroupConfig", &err)),
        }
    };
    let Some(update) = update else { return Ok(()) };
    let mut status = update.status().cloned();
    let update_id = update.id().unwrap_or_default().to_owned();
    let mut errors = update_errors(&update);
    let mut wait = FIRST_WAIT;
    loop {
        match &status {
            Some(UpdateStatus::Successful) | None => return Ok(()),
            Some(ended @ (UpdateStatus::Failed | UpdateStatus::Cancelled)) => {
                return Err(EksSchedulerError::Update(format!(
                    "the update {update_id} ended {}: {errors}",
                    ended.as_str()
                )));
            }
            _ => {}
        }
        if Instant::now() + wait > deadline {
            return Err(EksSchedulerError::Update(format!(
                "the update {update_id} was still in progress at the time limit; EKS will finish it, check the nodegroup"
            )));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_WAIT);
        let output = eks
            .describe_update()
            .name(cluster)
            .nodegroup_name(nodegroup)
            .update_id(&update_id)
            .send()
            .await
            .map_err(|err| failed(&format!("DescribeUpdate {update_id}"), &err))?;
        let Some(update) = output.update() else { return Ok(()) };
        status = update.status().cloned();
        errors = update_errors(update);
    }
}

fn update_errors(update: &aws_sdk_eks::types::Update) -> String {
    let messages: Vec<&str> = update.errors().iter().filter_map(|e| e.error_message()).collect();
    if messages.is_empty() { "no detail given".to_owned() } else { messages.join("; ") }
}

mod groups;
pub mod kube;
pub mod kube_token;
pub mod ledger;
pub mod prices;
pub use groups::{self_managed_groups, start_group, stop_group};

#[cfg(test)]
mod tests;

/// Publishes each announcement to the topic, with attributes subscribers can filter on
/// (`event`, `cluster`, `action`, `status`, `dry_run`) without parsing the body.
pub async fn publish_announcements(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    announcements: &[Announcement],
) -> Result<(), EksSchedulerError> {
    use aws_sdk_sns::types::MessageAttributeValue;
    let attribute = |value: &str| MessageAttributeValue::builder().data_type("String").string_value(value).build();
    for announcement in announcements {
        let mut publish = sns
            .publish()
            .topic_arn(topic_arn)
            .subject(&announcement.subject)
            .message(serde_json::to_string_pretty(&announcement.detail).unwrap_or_default());
        let dry_run = announcement.detail["dry_run"].as_bool().unwrap_or(false).to_string();
        let action = announcement.action.map(|a| a.as_str()).unwrap_or("none");
        // SNS refuses an empty attribute: the detail's status, else the announcement's own.
        let status = match announcement.detail["status"].as_str() {
            Some(status) if !status.is_empty() => status.to_owned(),
            _ => serde_json::to_value(announcement.status)
                .ok()
                .and_then(|s| s.as_str().map(str::to_owned))
                .unwrap_or_default(),
        };
        for (name, value) in [
            ("event", announcement.detail_type.as_str()),
            ("cluster", announcement.cluster.as_str()),
            ("action", action),
            ("status", status.as_str()),
            ("dry_run", dry_run.as_str()),
        ] {
            let value = attribute(value).map_err(|err| notify_failed(topic_arn, &announcement.cluster, err))?;
            publish = publish.message_attributes(name, value);
        }
        publish.send().await.map_err(|err| EksSchedulerError::Notify {
            target: format!("SNS topic {topic_arn}"),
            cluster: announcement.cluster.clone(),
            message: describe(&err),
            fix: "the function's role needs sns:Publish on it (and kms:GenerateDataKey on its key if encrypted)",
        })?;
    }
    Ok(())
}

/// Puts one EventBridge event per announcement on `bus` (a name or an ARN), ten per
/// request; an entry EventBridge refuses fails the call as a whole would.
pub async fn put_announcement_events(
    events: &aws_sdk_eventbridge::Client,
    bus: &str,
    announcements: &[Announcement],
) -> Result<(), EksSchedulerError> {
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;
    for chunk in announcements.chunks(10) {
        let entries: Vec<PutEventsRequestEntry> = chunk
            .iter()
            .map(|announcement| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(EVENT_SOURCE)
                    .detail_type(&announcement.detail_type)
                    .detail(announcement.detail.to_string())
                    .build()
            })
            .collect();
        let failed = |cluster: &str, message: String| EksSchedulerError::Notify {
            target: format!("EventBridge bus {bus}"),
            cluster: cluster.to_owned(),
            message,
            fix: "the function's role needs events:PutEvents on the bus",
        };
        let output = events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| failed(&chunk[0].cluster, describe(&err)))?;
        for (announcement, entry) in chunk.iter().zip(output.entries()) {
            if let Some(code) = entry.error_code() {
                return Err(failed(&announcement.cluster, format!("{code}: {}", entry.error_message().unwrap_or(""))));
            }
        }
    }
    Ok(())
}

fn notify_failed(topic_arn: &str, cluster: &str, err: impl std::fmt::Display) -> EksSchedulerError {
    EksSchedulerError::Notify {
        target: format!("SNS topic {topic_arn}"),
        cluster: cluster.to_owned(),
        message: err.to_string(),
        fix: "this is a bug in the scheduler's message: report it",
    }
}
