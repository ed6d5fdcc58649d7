//! EKS clusters for the tests to act on: seeded with tags and nodegroup sizes, and read
//! back as the emulator holds them.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use aws_sdk_eks::types::{FargateProfileSelector, NodegroupScalingConfig, VpcConfigRequest};
use eks_scheduler::core::Sizes;

const ROLE: &str = "arn:aws:iam::123456789012:role/eks";

/// A cluster to seed: name, tags, nodegroups with their sizes (`min/desired/max`).
pub type Seed<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);

/// A schedule tag value whose daily stop came `minutes` ago (UTC): a run now should stop the cluster.
pub fn stopped_minutes_ago(minutes: i64) -> Result<String> {
    use jiff::ToSpan as _;
    let off = jiff::Timestamp::now().checked_sub(minutes.minutes())?.to_zoned(jiff::tz::TimeZone::UTC);
    Ok(format!("off=daily@{:02}:{:02} tz=UTC", off.hour(), off.minute()))
}

fn sizes(text: &str) -> Sizes {
    text.parse().expect("seed sizes")
}

/// Creates the clusters, each with its tags and nodegroups (a Fargate profile for one with none).
pub async fn seed(eks: &aws_sdk_eks::Client, clusters: &[Seed<'_>]) -> Result<()> {
    for (name, tags, nodegroups) in clusters {
        let tags: HashMap<String, String> = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        eks.create_cluster()
            .name(*name)
            .role_arn(ROLE)
            // EKS's default: the API endpoint is public (the emulator says so only if told).
            .resources_vpc_config(
                VpcConfigRequest::builder().subnet_ids("subnet-0a1b2c3d").endpoint_public_access(true).build(),
            )
            .set_tags(Some(tags))
            .send()
            .await?;
        for (nodegroup, size) in *nodegroups {
            let size = sizes(size);
            eks.create_nodegroup()
                .cluster_name(*name)
                .nodegroup_name(*nodegroup)
                .node_role(ROLE)
                .subnets("subnet-0a1b2c3d")
                .scaling_config(
                    NodegroupScalingConfig::builder()
                        .min_size(size.min)
                        .desired_size(size.desired)
                        .max_size(size.max)
                        .build(),
                )
                .send()
                .await?;
        }
        if nodegroups.is_empty() {
            eks.create_fargate_profile()
                .cluster_name(*name)
                .fargate_profile_name("default")
                .pod_execution_role_arn(ROLE)
                .selectors(FargateProfileSelector::builder().namespace("default").build())
                .send()
                .await?;
        }
    }
    Ok(())
}

/// Adds a nodegroup of `instance_types` (the first is the one EKS launches) bought as `capacity`.
pub async fn add_nodegroup(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    nodegroup: &str,
    instance_types: &[&str],
    capacity: aws_sdk_eks::types::CapacityTypes,
    size: &str,
) -> Result<()> {
    let size = sizes(size);
    eks.create_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .node_role(ROLE)
        .subnets("subnet-0a1b2c3d")
        .set_instance_types(Some(instance_types.iter().map(|t| (*t).to_owned()).collect()))
        .capacity_type(capacity)
        .scaling_config(
            NodegroupScalingConfig::builder().min_size(size.min).desired_size(size.desired).max_size(size.max).build(),
        )
        .send()
        .await?;
    Ok(())
}

/// Each nodegroup's `min/desired/max`, and the cluster's tags, as EKS has them now.
pub async fn state_of(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<(HashMap<String, String>, HashMap<String, String>)> {
    let mut sizes = HashMap::new();
    for nodegroup in eks.list_nodegroups().cluster_name(cluster).send().await?.nodegroups() {
        let described = eks.describe_nodegroup().cluster_name(cluster).nodegroup_name(nodegroup).send().await?;
        let s = described.nodegroup().and_then(|n| n.scaling_config()).context("scaling")?;
        let size = |v: Option<i32>| v.unwrap_or(-1);
        sizes.insert(
            nodegroup.clone(),
            format!("{}/{}/{}", size(s.min_size()), size(s.desired_size()), size(s.max_size())),
        );
    }
    let arn = eks.describe_cluster().name(cluster).send().await?.cluster().and_then(|c| c.arn().map(str::to_owned));
    let tags = eks.list_tags_for_resource().resource_arn(arn.context("arn")?).send().await?;
    Ok((sizes, tags.tags().cloned().unwrap_or_default()))
}

/// A self-managed node group to seed: the Auto Scaling group's name, its tags, and its
/// `min/desired/max` (`0/0/0` allowed).
pub type GroupSeed<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// The launch configuration every seeded group launches from (the emulator's stock image).
const LAUNCH_CONFIGURATION: &str = "eks-nodes";

fn group_sizes(text: &str) -> Result<[i32; 3]> {
    let parts: Vec<i32> = text.split('/').map(str::parse).collect::<Result<_, _>>()?;
    parts.try_into().map_err(|_| anyhow::anyhow!("{text} is not min/desired/max"))
}

/// Creates the Auto Scaling groups, each with its tags; the emulator launches their instances.
pub async fn seed_groups(autoscaling: &aws_sdk_autoscaling::Client, groups: &[GroupSeed<'_>]) -> Result<()> {
    use aws_sdk_autoscaling::types::Tag;
    let created = autoscaling
        .create_launch_configuration()
        .launch_configuration_name(LAUNCH_CONFIGURATION)
        .image_id("ami-12c6146b")
        .instance_type("m6i.large")
        .send()
        .await;
    if let Err(err) = created {
        let exists = err.as_service_error().and_then(|e| e.meta().code()) == Some("AlreadyExists");
        anyhow::ensure!(exists, "creating the launch configuration: {err:?}");
    }
    let region = autoscaling.config().region().map(|region| region.to_string()).unwrap_or_default();
    let zone = format!("{region}a");
    for (name, tags, sizes) in groups {
        let [min, desired, max] = group_sizes(sizes)?;
        let tags = tags.iter().map(|(key, value)| {
            Tag::builder()
                .resource_id(*name)
                .resource_type("auto-scaling-group")
                .key(*key)
                .value(*value)
                .propagate_at_launch(true)
                .build()
        });
        autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(*name)
            .launch_configuration_name(LAUNCH_CONFIGURATION)
            .availability_zones(&zone)
            .min_size(min)
            .desired_capacity(desired)
            .max_size(max)
            .set_tags(Some(tags.collect()))
            .send()
            .await
            .with_context(|| format!("creating group {name}"))?;
    }
    Ok(())
}

/// A group as Auto Scaling has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    /// `min/desired/max`.
    pub sizes: String,
    pub tags: std::collections::BTreeMap<String, String>,
    pub suspended: std::collections::BTreeSet<String>,
    /// The warm pool's `(min, max prepared)`, `-1` for the group's max.
    pub warm_pool: Option<(i32, i32)>,
    pub instances: usize,
    pub protected_instances: usize,
}

pub async fn group_state(autoscaling: &aws_sdk_autoscaling::Client, name: &str) -> Result<GroupState> {
    let described = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(name).send().await?;
    let group = described.auto_scaling_groups().first().with_context(|| format!("group {name}"))?;
    let size = |v: Option<i32>| v.unwrap_or(-1);
    Ok(GroupState {
        sizes: format!("{}/{}/{}", size(group.min_size()), size(group.desired_capacity()), size(group.max_size())),
        tags: group.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect(),
        suspended: group.suspended_processes().iter().filter_map(|p| p.process_name().map(str::to_owned)).collect(),
        warm_pool: group
            .warm_pool_configuration()
            .map(|pool| (pool.min_size().unwrap_or(0), pool.max_group_prepared_capacity().unwrap_or(-1))),
        instances: group.instances().len(),
        protected_instances: group.instances().iter().filter(|i| i.protected_from_scale_in() == Some(true)).count(),
    })
}

/// The report of a scaling run answered by `eks_scheduler::handle` (not a `report` run's).
pub fn scaling_run(outcome: eks_scheduler::Outcome) -> eks_scheduler::core::Report {
    outcome.run().expect("a scaling run answers with its report")
}
