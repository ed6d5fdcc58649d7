//! Thin async functions over the Auto Scaling client for a cluster's self-managed node
//! groups: find them by their tags, and carry out one group's plan step by step.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_autoscaling::config::http::HttpResponse;
use aws_sdk_autoscaling::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter, Tag};
use shared::error::{describe, is_transient};

use crate::core::{
    CLUSTER_NAME_TAG, Distribution, GROUP_CLUSTER_TAG, GroupPlan, Kind, NodegroupPlan, RunningPiece, SelfManagedGroup,
    Sizes, WarmPool, WarmPoolSettings, cluster_ownership_tag, group_machines, is_self_managed_group_of,
};
use crate::error::EksSchedulerError;

/// Auto Scaling takes at most this many instances in one `SetInstanceProtection`.
const INSTANCES_PER_PROTECTION_CALL: usize = 50;

fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &str,
    group: &str,
    err: &SdkError<E, HttpResponse>,
) -> EksSchedulerError {
    let denied = err.as_service_error().and_then(|e| e.code()).is_some_and(|code| code.contains("AccessDenied"));
    EksSchedulerError::AutoScaling {
        operation: operation.to_owned(),
        group: group.to_owned(),
        message: describe(err),
        transient: is_transient(err),
        fix: denied.then_some(
            "the function's role may change only Auto Scaling groups tagged eks:cluster-name or eks-scheduler/cluster \
             with a cluster name EksClusterNamePattern matches, and not a managed nodegroup's own group; across \
             accounts, member-role.yaml's role must grant the same",
        ),
    }
}

/// The self-managed node groups of `cluster`: the groups tagged `kubernetes.io/cluster/<name>`
/// or `eks:cluster-name` = `<name>` that are not a managed nodegroup's own, by name; and the
/// machines each runs (its in-service instances' types).
pub async fn self_managed_groups(
    autoscaling: &aws_sdk_autoscaling::Client,
    cluster: &str,
) -> Result<(Vec<SelfManagedGroup>, Vec<RunningPiece>), EksSchedulerError> {
    // Two queries (a filter's values are alternatives, its filters all apply): the ownership
    // tag's key, then a name tag's key with the cluster's name as some tag's value; the
    // groups are then checked tag by tag.
    let queries = [
        vec![Filter::builder().name("tag-key").values(cluster_ownership_tag(cluster)).build()],
        vec![
            Filter::builder().name("tag-key").values(CLUSTER_NAME_TAG).values(GROUP_CLUSTER_TAG).build(),
            Filter::builder().name("tag-value").values(cluster).build(),
        ],
    ];
    let mut groups: BTreeMap<String, SelfManagedGroup> = BTreeMap::new();
    let mut running: BTreeMap<String, RunningPiece> = BTreeMap::new();
    for filters in queries {
        let mut pages = autoscaling.describe_auto_scaling_groups().set_filters(Some(filters)).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| failed("DescribeAutoScalingGroups", cluster, &err))?;
            for group in page.auto_scaling_groups() {
                let machines = machines_of(group);
                let group = self_managed_group(group);
                if is_self_managed_group_of(cluster, &group.tags) {
                    let piece = RunningPiece { kind: Kind::SelfManaged, name: group.name.clone(), machines };
                    running.insert(group.name.clone(), piece);
                    groups.insert(group.name.clone(), group);
                }
            }
        }
    }
    Ok((groups.into_values().collect(), running.into_values().collect()))
}

/// The machines a group runs: its instances in service (or on their way), by type, split
/// between on-demand and spot by its mixed instances policy's distribution.
fn machines_of(group: &AutoScalingGroup) -> Vec<crate::core::Machines> {
    let types: Vec<String> = group
        .instances()
        .iter()
        .filter(|instance| {
            instance.lifecycle_state().is_some_and(|state| {
                let state = state.as_str();
                state == "InService" || state.starts_with("Pending") || state == "Standby"
            })
        })
        .filter_map(|instance| instance.instance_type().map(str::to_owned))
        .collect();
    let distribution =
        group.mixed_instances_policy().and_then(|policy| policy.instances_distribution()).map(|d| Distribution {
            on_demand_base: u32::try_from(d.on_demand_base_capacity().unwrap_or(0)).unwrap_or(0),
            on_demand_percent_above_base: u32::try_from(d.on_demand_percentage_above_base_capacity().unwrap_or(100))
                .unwrap_or(100),
        });
    group_machines(&types, distribution)
}

fn self_managed_group(group: &AutoScalingGroup) -> SelfManagedGroup {
    let tags = group.tags().iter().filter_map(|tag| Some((tag.key()?.to_owned(), tag.value()?.to_owned()))).collect();
    let suspended: BTreeSet<String> =
        group.suspended_processes().iter().filter_map(|p| p.process_name().map(str::to_owned)).collect();
    let protected_instances = group
        .instances()
        .iter()
        .filter(|instance| instance.protected_from_scale_in().unwrap_or(false))
        .filter_map(|instance| instance.instance_id().map(str::to_owned))
        .collect();
    let pool = group.warm_pool_configuration();
    let warm_pool = pool.map(|pool| WarmPool {
        min: pool.min_size().unwrap_or(0),
        // -1 (or nothing) is AWS's "the group's max size".
        max_prepared: pool.max_group_prepared_capacity().filter(|max| *max >= 0),
    });
    let warm_pool_settings = WarmPoolSettings {
        state: pool.and_then(|pool| pool.pool_state()).map(|state| state.as_str().to_owned()),
        reuse_on_scale_in: pool
            .and_then(|pool| pool.instance_reuse_policy())
            .and_then(|policy| policy.reuse_on_scale_in()),
    };
    SelfManagedGroup {
        name: group.auto_scaling_group_name().unwrap_or_default().to_owned(),
        sizes: Sizes::new(
            group.min_size().unwrap_or(0),
            group.desired_capacity().unwrap_or(0),
            group.max_size().unwrap_or(0),
        ),
        tags,
        suspended,
        protected_instances,
        warm_pool,
        warm_pool_settings,
    }
}

/// Stops one group as planned: its record first (if that fails, nothing else is done), then
/// the processes, the warm pool, the instances' protection, and last its sizes.
pub async fn stop_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    group: &str,
    plan: &GroupPlan,
) -> Result<(), EksSchedulerError> {
    let NodegroupPlan::Change { after, .. } = plan.sizes else { return Ok(()) };
    let steps = &plan.steps;
    tag_group(autoscaling, group, &steps.save).await?;
    if !steps.suspend.is_empty() {
        autoscaling
            .suspend_processes()
            .auto_scaling_group_name(group)
            .set_scaling_processes(Some(steps.suspend.clone()))
            .send()
            .await
            .map_err(|err| failed("SuspendProcesses", group, &err))?;
    }
    if let Some((pool, settings)) = &steps.warm_pool {
        put_warm_pool(autoscaling, group, *pool, settings).await?;
    }
    for instances in steps.unprotect.chunks(INSTANCES_PER_PROTECTION_CALL) {
        autoscaling
            .set_instance_protection()
            .auto_scaling_group_name(group)
            .set_instance_ids(Some(instances.to_vec()))
            .protected_from_scale_in(false)
            .send()
            .await
            .map_err(|err| failed("SetInstanceProtection", group, &err))?;
    }
    resize_group(autoscaling, group, after).await
}

/// Starts one group as planned: its sizes, its warm pool, its processes, and last the
/// removal of the stop's record (so a start that fails part way is tried again in full).
pub async fn start_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    group: &str,
    plan: &GroupPlan,
) -> Result<(), EksSchedulerError> {
    let NodegroupPlan::Change { before, after, .. } = plan.sizes else { return Ok(()) };
    let steps = &plan.steps;
    if after != before {
        resize_group(autoscaling, group, after).await?;
    }
    if let Some((pool, settings)) = &steps.warm_pool {
        put_warm_pool(autoscaling, group, *pool, settings).await?;
    }
    if !steps.resume.is_empty() {
        autoscaling
            .resume_processes()
            .auto_scaling_group_name(group)
            .set_scaling_processes(Some(steps.resume.clone()))
            .send()
            .await
            .map_err(|err| failed("ResumeProcesses", group, &err))?;
    }
    if !steps.clear.is_empty() {
        let tags = steps.clear.iter().map(|key| group_tag(group, key, "")).collect();
        autoscaling.delete_tags().set_tags(Some(tags)).send().await.map_err(|err| failed("DeleteTags", group, &err))?;
    }
    Ok(())
}

async fn resize_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    group: &str,
    sizes: Sizes,
) -> Result<(), EksSchedulerError> {
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(group)
        .min_size(sizes.min)
        .desired_capacity(sizes.desired)
        .max_size(sizes.max)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| failed("UpdateAutoScalingGroup", group, &err))
}

async fn put_warm_pool(
    autoscaling: &aws_sdk_autoscaling::Client,
    group: &str,
    pool: WarmPool,
    settings: &WarmPoolSettings,
) -> Result<(), EksSchedulerError> {
    use aws_sdk_autoscaling::types::{InstanceReusePolicy, WarmPoolState};
    // PutWarmPool sets the whole configuration: the state and reuse policy go back as read.
    autoscaling
        .put_warm_pool()
        .auto_scaling_group_name(group)
        .min_size(pool.min)
        .max_group_prepared_capacity(pool.max_prepared.unwrap_or(-1))
        .set_pool_state(settings.state.as_deref().map(WarmPoolState::from))
        .set_instance_reuse_policy(
            settings.reuse_on_scale_in.map(|reuse| InstanceReusePolicy::builder().reuse_on_scale_in(reuse).build()),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|err| failed("PutWarmPool", group, &err))
}

async fn tag_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    group: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), EksSchedulerError> {
    if tags.is_empty() {
        return Ok(());
    }
    let tags = tags.iter().map(|(key, value)| group_tag(group, key, value)).collect();
    autoscaling
        .create_or_update_tags()
        .set_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| failed("CreateOrUpdateTags", group, &err))
}

/// A tag on the group itself, not copied to the instances it launches.
fn group_tag(group: &str, key: &str, value: &str) -> Tag {
    Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(false)
        .build()
}
