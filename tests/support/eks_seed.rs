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
            .resources_vpc_config(VpcConfigRequest::builder().subnet_ids("subnet-0a1b2c3d").build())
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
