//! Karpenter NodePools (EKS Auto Mode's among them): what a stop and a start change, as the
//! JSON merge patches the cluster's Kubernetes API applies.
//!
//! A stop saves a NodePool's `spec.limits` in an annotation on the NodePool, then sets every
//! limit (and `cpu`) to zero, so Karpenter provisions nothing new; the handler then deletes
//! the pool's NodeClaims, and Karpenter drains their nodes by its own termination flow. A
//! start restores the limits, and pending pods bring nodes back. Like a nodegroup's size,
//! limits are saved only from a running pool, never all-zero ones. Each patch carries the
//! `resourceVersion` it was planned from: the API server refuses it (409) if the pool changed
//! since, and the handler reads it again.
//!
//! Which clusters' APIs are asked: those in EKS Auto Mode, and those tagged
//! `eks-scheduler/karpenter=true` (Karpenter installed by its operator). Auto Mode's two
//! built-in pools cannot be changed (EKS puts them back), only disabled in the cluster's
//! compute config, which deletes them: they are listed as skipped, saying so.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The annotation a stop writes: the NodePool's `spec.limits` as JSON (`{}`: no limits).
pub const SAVED_LIMITS_ANNOTATION: &str = "eks-scheduler.cloud-ops-toolkit.io/saved-limits";
/// `eks-scheduler/karpenter` = `true` on a cluster: Karpenter runs in it, so its NodePools are
/// stopped and started through the cluster's API (Auto Mode clusters need no tag).
pub const KARPENTER_TAG: &str = "eks-scheduler/karpenter";
/// EKS Auto Mode's own NodePools, which EKS reconciles: changeable only by disabling them.
pub const BUILT_IN_POOLS: [&str; 2] = ["general-purpose", "system"];

/// How a cluster's Kubernetes API is reached, from `DescribeCluster`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KubernetesApi {
    /// `https://…eks.amazonaws.com`.
    pub endpoint: String,
    /// `certificateAuthority.data`: the base64 PEM the endpoint's certificate chains to.
    pub certificate_authority: Option<String>,
    /// `resourcesVpcConfig.endpointPublicAccess`: reachable from outside the cluster's VPC.
    pub public: bool,
    /// `computeConfig.enabled`: EKS Auto Mode, whose compute is NodePools.
    pub auto_mode: bool,
}

/// Whether a run asks a cluster's API for its NodePools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodePoolAccess {
    /// Neither Auto Mode nor tagged `eks-scheduler/karpenter=true`.
    NotUsed,
    Reachable,
    /// Its endpoint is private and the function is not in its VPC: the reason.
    Unreachable(String),
}

/// Whether a cluster's NodePools are in a run, from what `DescribeCluster` said and its tags;
/// `in_vpc`: the function runs in the clusters' VPC (`IN_VPC`), so private endpoints are reached.
pub fn nodepool_access(api: &KubernetesApi, tags: &BTreeMap<String, String>, in_vpc: bool) -> NodePoolAccess {
    let tagged = tags.get(KARPENTER_TAG).is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
    if !api.auto_mode && !tagged {
        return NodePoolAccess::NotUsed;
    }
    if api.public || in_vpc {
        return NodePoolAccess::Reachable;
    }
    let runs_on = if api.auto_mode { "EKS Auto Mode" } else { "Karpenter (tagged eks-scheduler/karpenter=true)" };
    NodePoolAccess::Unreachable(format!(
        "it runs on {runs_on}, and its Kubernetes API endpoint is private, which the function cannot reach from          outside the cluster's VPC: deploy with KubernetesApiSubnetIds and KubernetesApiSecurityGroupIds (the          function then runs in the VPC), or enable the endpoint's public access; nothing of it was changed, since          stopping the rest would leave its Karpenter nodes running with no controller"
    ))
}

/// A NodePool as the scheduler reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePool {
    pub name: String,
    pub resource_version: String,
    /// `spec.limits`: resource to quantity (`cpu` = `1000`, `memory` = `1000Gi`); empty: none.
    pub limits: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The names of its NodeClaims (its nodes), read beside it.
    pub nodeclaims: Vec<String>,
}

/// Reads a NodePool from its API object (`karpenter.sh/v1` `NodePool`).
pub fn parse_nodepool(object: &Value) -> Result<NodePool, String> {
    let metadata = &object["metadata"];
    let name = metadata["name"].as_str().ok_or("a NodePool without metadata.name")?.to_owned();
    let resource_version =
        metadata["resourceVersion"].as_str().ok_or_else(|| format!("NodePool {name} has no resourceVersion"))?;
    let strings = |value: &Value, what: &str| -> Result<BTreeMap<String, String>, String> {
        match value {
            Value::Null => Ok(BTreeMap::new()),
            Value::Object(map) => map
                .iter()
                .map(|(key, value)| match value {
                    Value::String(text) => Ok((key.clone(), text.clone())),
                    Value::Number(number) => Ok((key.clone(), number.to_string())),
                    other => Err(format!("NodePool {name}: {what} {key} is {other}, not a quantity")),
                })
                .collect(),
            other => Err(format!("NodePool {name}: {what} is {other}, not an object")),
        }
    };
    Ok(NodePool {
        limits: strings(&object["spec"]["limits"], "spec.limits")?,
        annotations: strings(&metadata["annotations"], "an annotation")?,
        resource_version: resource_version.to_owned(),
        nodeclaims: Vec::new(),
        name,
    })
}

/// Whether a Kubernetes quantity is zero (`0`, `0Gi`, `0.0`, `0m`).
fn is_zero(quantity: &str) -> bool {
    let number = quantity.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic());
    number.parse::<f64>().is_ok_and(|value| value == 0.0)
}

/// A pool whose limits are all zero provisions nothing: it is stopped.
pub fn limits_stopped(limits: &BTreeMap<String, String>) -> bool {
    !limits.is_empty() && limits.values().all(|quantity| is_zero(quantity))
}

/// Limits as reports write them: `cpu=1000 memory=1000Gi`, or `no limits`.
pub fn limits_text(limits: &BTreeMap<String, String>) -> String {
    if limits.is_empty() {
        return "no limits".to_owned();
    }
    limits.iter().map(|(resource, quantity)| format!("{resource}={quantity}")).collect::<Vec<_>>().join(" ")
}

/// A pool as reports write it: its limits and how many nodes it has.
fn pool_text(limits: &BTreeMap<String, String>, nodes: usize) -> String {
    format!("{}, {nodes} node{}", limits_text(limits), if nodes == 1 { "" } else { "s" })
}

/// What a stop or a start does to one NodePool.
#[derive(Debug, Clone, PartialEq)]
pub enum NodePoolPlan {
    /// Apply `patch` (a JSON merge patch with the `resourceVersion` read), if any, then delete
    /// the NodeClaims in `delete` (a stop's).
    Change {
        before: String,
        after: String,
        patch: Option<Value>,
        delete: Vec<String>,
    },
    Unchanged {
        before: String,
        reason: String,
    },
    Skipped {
        before: String,
        reason: String,
    },
    Failed {
        before: String,
        reason: String,
    },
}

/// What `action` does to a pool of a cluster (`auto_mode`: in EKS Auto Mode).
pub fn plan_nodepool(action: super::Action, pool: &NodePool, auto_mode: bool) -> NodePoolPlan {
    if auto_mode && BUILT_IN_POOLS.contains(&pool.name.as_str()) {
        let reason = "a built-in pool of EKS Auto Mode: EKS puts back any change to it, and disabling it (the \
                      cluster's computeConfig.nodePools) deletes it; left running. Move its workloads to a NodePool of \
                      your own to have them stopped"
            .to_owned();
        return NodePoolPlan::Skipped { before: pool_text(&pool.limits, pool.nodeclaims.len()), reason };
    }
    match action {
        super::Action::Stop => plan_nodepool_stop(pool),
        super::Action::Start => plan_nodepool_start(pool),
    }
}

/// Stop: save the limits, then set each (and `cpu`) to zero, and delete the pool's NodeClaims.
/// A pool this scheduler stopped whose nodes are still there (a stop that failed part way)
/// has them deleted again; one someone else paused keeps its nodes.
pub fn plan_nodepool_stop(pool: &NodePool) -> NodePoolPlan {
    let before = pool_text(&pool.limits, pool.nodeclaims.len());
    if limits_stopped(&pool.limits) {
        let Some(saved) = pool.annotations.get(SAVED_LIMITS_ANNOTATION) else {
            let reason = format!(
                "limits already at zero with no saved limits (annotation {SAVED_LIMITS_ANNOTATION}): paused by someone \
                 else, its nodes left alone"
            );
            return NodePoolPlan::Unchanged { before, reason };
        };
        if !pool.nodeclaims.is_empty() {
            let after = pool_text(&pool.limits, 0);
            return NodePoolPlan::Change { before, after, patch: None, delete: pool.nodeclaims.clone() };
        }
        let reason = format!("limits already at zero; saved limits {saved} kept");
        return NodePoolPlan::Unchanged { before, reason };
    }
    let mut zero: BTreeMap<String, String> = pool.limits.keys().map(|key| (key.clone(), "0".to_owned())).collect();
    zero.insert("cpu".to_owned(), "0".to_owned());
    let saved = serde_json::to_string(&pool.limits).unwrap_or_else(|_| "{}".to_owned());
    let patch = json!({
        "metadata": {"resourceVersion": pool.resource_version, "annotations": {SAVED_LIMITS_ANNOTATION: saved}},
        "spec": {"limits": zero},
    });
    NodePoolPlan::Change { before, after: pool_text(&zero, 0), patch: Some(patch), delete: pool.nodeclaims.clone() }
}

/// Start: restore the saved limits (a limit the stop added is removed again) and drop the
/// annotation. A pool at zero without saved limits was paused by someone else: left alone.
pub fn plan_nodepool_start(pool: &NodePool) -> NodePoolPlan {
    let before = pool_text(&pool.limits, pool.nodeclaims.len());
    if !limits_stopped(&pool.limits) {
        return NodePoolPlan::Unchanged { before, reason: "limits not at zero: running".to_owned() };
    }
    let Some(saved) = pool.annotations.get(SAVED_LIMITS_ANNOTATION) else {
        let reason = format!(
            "limits at zero and no saved limits (annotation {SAVED_LIMITS_ANNOTATION}): paused by someone else, left alone"
        );
        return NodePoolPlan::Skipped { before, reason };
    };
    let saved: BTreeMap<String, String> = match serde_json::from_str(saved) {
        Ok(limits) if !limits_stopped(&limits) => limits,
        Ok(_) => {
            let reason = format!(
                "annotation {SAVED_LIMITS_ANNOTATION} holds zero limits, which is not a running pool; set it to the limits to start with"
            );
            return NodePoolPlan::Failed { before, reason };
        }
        Err(err) => {
            let reason = format!("annotation {SAVED_LIMITS_ANNOTATION} is unreadable ({err}): {saved:?}");
            return NodePoolPlan::Failed { before, reason };
        }
    };
    // A merge patch removes a key given as null: the limits the stop added, or all of them.
    let limits = if saved.is_empty() {
        Value::Null
    } else {
        let mut limits: serde_json::Map<String, Value> =
            pool.limits.keys().filter(|key| !saved.contains_key(*key)).map(|key| (key.clone(), Value::Null)).collect();
        limits.extend(saved.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))));
        Value::Object(limits)
    };
    let patch = json!({
        "metadata": {"resourceVersion": pool.resource_version, "annotations": {SAVED_LIMITS_ANNOTATION: null}},
        "spec": {"limits": limits},
    });
    // Nodes come back as pending pods ask for them.
    NodePoolPlan::Change { before, after: limits_text(&saved), patch: Some(patch), delete: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(limits: &[(&str, &str)], saved: Option<&str>) -> NodePool {
        NodePool {
            name: "default".into(),
            resource_version: "41".into(),
            limits: limits.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            annotations: saved.map(|s| (SAVED_LIMITS_ANNOTATION.to_owned(), s.to_owned())).into_iter().collect(),
            nodeclaims: Vec::new(),
        }
    }

    #[test]
    fn a_nodepool_is_read_from_its_api_object() {
        let object = json!({
            "apiVersion": "karpenter.sh/v1", "kind": "NodePool",
            "metadata": {"name": "general", "resourceVersion": "7", "annotations": {"team": "web"}},
            "spec": {"limits": {"cpu": 1000, "memory": "1000Gi"}, "template": {}},
        });
        let read = parse_nodepool(&object).expect("a NodePool");
        assert_eq!(limits_text(&read.limits), "cpu=1000 memory=1000Gi");
        assert_eq!((read.name.as_str(), read.resource_version.as_str()), ("general", "7"));
        let unlimited = parse_nodepool(&json!({"metadata": {"name": "system", "resourceVersion": "1"}, "spec": {}}));
        assert_eq!(unlimited.map(|p| limits_text(&p.limits)), Ok("no limits".to_owned()));
        for bad in [
            json!({}),
            json!({"metadata": {"name": "x"}}),
            json!({"metadata": {"name": "x", "resourceVersion": "1"}, "spec": {"limits": ["cpu"]}}),
        ] {
            assert!(parse_nodepool(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zero_limits_are_a_stopped_pool_whatever_their_units() {
        for (limits, stopped) in [
            (&[("cpu", "0")][..], true),
            (&[("cpu", "0"), ("memory", "0Gi")][..], true),
            (&[("cpu", "0.0"), ("nvidia.com/gpu", "0")][..], true),
            (&[("cpu", "0"), ("memory", "100Gi")][..], false),
            (&[("cpu", "500m")][..], false),
            (&[][..], false),
        ] {
            assert_eq!(limits_stopped(&pool(limits, None).limits), stopped, "{limits:?}");
        }
    }

    #[test]
    fn a_stop_saves_the_limits_and_zeroes_them_under_the_version_it_read() {
        let running = NodePool { nodeclaims: vec!["default-x7k2p".into()], ..pool(&[("memory", "1000Gi")], None) };
        let NodePoolPlan::Change { before, after, patch: Some(patch), delete } = plan_nodepool_stop(&running) else {
            panic!("a running pool is stopped")
        };
        assert_eq!((before.as_str(), after.as_str()), ("memory=1000Gi, 1 node", "cpu=0 memory=0, 0 nodes"));
        assert_eq!(delete, ["default-x7k2p"]);
        assert_eq!(patch["metadata"]["resourceVersion"], "41");
        assert_eq!(patch["metadata"]["annotations"][SAVED_LIMITS_ANNOTATION], r#"{"memory":"1000Gi"}"#);
        assert_eq!(patch["spec"]["limits"], json!({"cpu": "0", "memory": "0"}));
        // A pool without limits is saved as such, and stopped by a cpu limit of zero.
        let NodePoolPlan::Change { patch: Some(patch), .. } = plan_nodepool_stop(&pool(&[], None)) else {
            panic!("unlimited")
        };
        assert_eq!(patch["metadata"]["annotations"][SAVED_LIMITS_ANNOTATION], "{}");
        // Never all-zero limits saved: a stopped pool is left, its saved limits kept.
        let stopped = plan_nodepool_stop(&pool(&[("cpu", "0")], Some(r#"{"cpu":"64"}"#)));
        assert!(
            matches!(&stopped, NodePoolPlan::Unchanged { reason, .. } if reason.contains(r#"{"cpu":"64"}"#)),
            "{stopped:?}"
        );
        // Its nodes still there (a stop that failed part way): deleted again, the limits left.
        let left = NodePool { nodeclaims: vec!["default-a".into()], ..pool(&[("cpu", "0")], Some(r#"{"cpu":"64"}"#)) };
        assert_eq!(
            plan_nodepool_stop(&left),
            NodePoolPlan::Change {
                before: "cpu=0, 1 node".into(),
                after: "cpu=0, 0 nodes".into(),
                patch: None,
                delete: vec!["default-a".into()]
            }
        );
        // Paused by someone else: its nodes are theirs.
        let paused = NodePool { nodeclaims: vec!["default-a".into()], ..pool(&[("cpu", "0")], None) };
        assert!(matches!(plan_nodepool_stop(&paused), NodePoolPlan::Unchanged { .. }));
    }

    #[test]
    fn auto_modes_built_in_pools_are_listed_and_left_running() {
        let general = NodePool { name: "general-purpose".into(), ..pool(&[], None) };
        for action in [crate::core::Action::Stop, crate::core::Action::Start] {
            assert!(
                matches!(plan_nodepool(action, &general, true), NodePoolPlan::Skipped { ref reason, .. } if reason.contains("computeConfig")),
            );
        }
        // Outside Auto Mode, a pool of that name is the operator's own.
        assert!(matches!(plan_nodepool(crate::core::Action::Stop, &general, false), NodePoolPlan::Change { .. }));
    }

    #[test]
    fn a_clusters_nodepools_are_asked_for_in_auto_mode_or_when_tagged_and_reachable() {
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let api = |public, auto_mode| KubernetesApi { public, auto_mode, ..KubernetesApi::default() };
        assert_eq!(nodepool_access(&api(true, false), &tags(&[]), false), NodePoolAccess::NotUsed);
        assert_eq!(
            nodepool_access(&api(true, false), &tags(&[(KARPENTER_TAG, "false")]), false),
            NodePoolAccess::NotUsed
        );
        assert_eq!(
            nodepool_access(&api(true, false), &tags(&[(KARPENTER_TAG, "True")]), false),
            NodePoolAccess::Reachable
        );
        assert_eq!(nodepool_access(&api(true, true), &tags(&[]), false), NodePoolAccess::Reachable);
        assert_eq!(nodepool_access(&api(false, true), &tags(&[]), true), NodePoolAccess::Reachable);
        let NodePoolAccess::Unreachable(reason) = nodepool_access(&api(false, true), &tags(&[]), false) else {
            panic!("a private endpoint out of reach")
        };
        assert!(reason.contains("KubernetesApiSubnetIds") && reason.contains("Auto Mode"), "{reason}");
    }

    #[test]
    fn a_start_restores_the_saved_limits_exactly_and_removes_what_the_stop_added() {
        let NodePoolPlan::Change { after, patch: Some(patch), .. } =
            plan_nodepool_start(&pool(&[("cpu", "0"), ("memory", "0")], Some(r#"{"memory":"1000Gi"}"#)))
        else {
            panic!("a stopped pool with saved limits is started")
        };
        assert_eq!(after, "memory=1000Gi");
        assert_eq!(patch["spec"]["limits"], json!({"cpu": null, "memory": "1000Gi"}));
        assert_eq!(patch["metadata"]["annotations"][SAVED_LIMITS_ANNOTATION], Value::Null);
        assert_eq!(patch["metadata"]["resourceVersion"], "41");
        // Saved as no limits: the limits go entirely.
        let NodePoolPlan::Change { patch: Some(patch), .. } = plan_nodepool_start(&pool(&[("cpu", "0")], Some("{}")))
        else {
            panic!("unlimited pool started")
        };
        assert_eq!(patch["spec"]["limits"], Value::Null);
        // Running: left as it is. Paused by someone else: left alone. A bad record: failed, naming it.
        assert!(matches!(plan_nodepool_start(&pool(&[("cpu", "64")], None)), NodePoolPlan::Unchanged { .. }));
        assert!(matches!(plan_nodepool_start(&pool(&[("cpu", "0")], None)), NodePoolPlan::Skipped { .. }));
        for bad in ["not json", r#"{"cpu":"0"}"#] {
            let plan = plan_nodepool_start(&pool(&[("cpu", "0")], Some(bad)));
            assert!(
                matches!(&plan, NodePoolPlan::Failed { reason, .. } if reason.contains(SAVED_LIMITS_ANNOTATION)),
                "{plan:?}"
            );
        }
    }
}
