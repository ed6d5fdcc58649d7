//! The EKS scheduler's client of a cluster's Kubernetes API (`aws::kube::KubeApi`) and its
//! NodePool plans (`core::plan_nodepool_stop`, `plan_nodepool_start`), against the in-test
//! Kubernetes API server (`support::kube_api`, the one hand-written stand-in: see its
//! header): a stop saves and zeroes the limits and deletes the pool's NodeClaims, a start
//! restores them exactly, a conflict is read again and planned again, and a refused token or
//! a missing RBAC verb fails naming what to grant.
//!
//! `eks_karpenter.rs` runs them as part of the scheduler's runs; these tests hold the client to the API.

use std::time::SystemTime;

use anyhow::{Context as _, Result};
use aws_credential_types::Credentials;
use base64::Engine as _;
use eks_scheduler::EksSchedulerError;
use eks_scheduler::aws::kube::KubeApi;
use eks_scheduler::aws::kube_token::token;
use eks_scheduler::core::{NodePoolPlan, SAVED_LIMITS_ANNOTATION, plan_nodepool_start, plan_nodepool_stop};
use serde_json::{Value, json};
use support::kube_api::KubeApiServer;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn client(server: &KubeApiServer, cluster: &str, signed_for: &str) -> Result<KubeApi> {
    let credentials = Credentials::new("AKIDEXAMPLE", SECRET, None, None, "test");
    let bearer = token(&credentials, "eu-west-1", signed_for, SystemTime::now()).map_err(anyhow::Error::msg)?;
    Ok(KubeApi::new(cluster, &server.url, None, bearer)?)
}

/// Plans and applies one action to one pool, reading it again after a conflict (at most 3 times).
async fn act(api: &KubeApi, name: &str, stop: bool) -> Result<NodePoolPlan> {
    for _ in 0..3 {
        let pool = api.nodepool(name).await?;
        let plan = if stop { plan_nodepool_stop(&pool) } else { plan_nodepool_start(&pool) };
        let NodePoolPlan::Change { patch: Some(patch), .. } = &plan else { return Ok(plan) };
        match api.patch_nodepool(name, patch).await {
            Ok(()) => {}
            Err(EksSchedulerError::Kubernetes { status: Some(409), .. }) => continue,
            Err(err) => return Err(err.into()),
        }
        if stop {
            for claim in api.nodeclaims_of(name).await? {
                api.delete_nodeclaim(&claim).await?;
            }
        }
        return Ok(plan);
    }
    anyhow::bail!("{name}: still conflicting after 3 reads")
}

fn limits(server: &KubeApiServer, name: &str) -> Result<(Value, Value)> {
    let pool = server.nodepool(name).context("the pool")?;
    Ok((pool["spec"]["limits"].clone(), pool["metadata"]["annotations"][SAVED_LIMITS_ANNOTATION].clone()))
}

#[tokio::test]
async fn a_stop_zeroes_the_limits_and_deletes_the_claims_and_a_start_restores_them_exactly() -> Result<()> {
    // Given a cluster with a limited pool, an unlimited one, and their NodeClaims
    let server = KubeApiServer::start("platform", SECRET).await?;
    server.add_nodepool("general", json!({"cpu": "1000", "memory": "1000Gi"}));
    server.add_nodepool("batch", json!({}));
    for (claim, pool) in [("general-abc12", "general"), ("general-def34", "general"), ("batch-xyz89", "batch")] {
        server.add_nodeclaim(claim, pool);
    }
    let api = client(&server, "platform", "platform")?;
    let listed = api.nodepools().await?.context("Karpenter is installed")?;
    assert_eq!(listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["batch", "general"]);

    // When both are stopped (one after a concurrent writer changed it: a 409, read again)
    server.conflict_next_patches(1);
    for name in ["general", "batch"] {
        assert!(matches!(act(&api, name, true).await?, NodePoolPlan::Change { .. }), "{name}");
    }

    // Then nothing can be provisioned, the limits are saved, and every claim is deleted
    assert_eq!(
        limits(&server, "general")?,
        (json!({"cpu": "0", "memory": "0"}), json!(r#"{"cpu":"1000","memory":"1000Gi"}"#))
    );
    assert_eq!(limits(&server, "batch")?, (json!({"cpu": "0"}), json!("{}")));
    assert!(server.nodeclaims().is_empty(), "{:?}", server.nodeclaims());
    assert!(server.requests().iter().any(|(method, _, code)| method == "PATCH" && *code == 409));

    // When the stop runs again, it changes nothing and keeps what it saved
    for name in ["general", "batch"] {
        assert!(matches!(act(&api, name, true).await?, NodePoolPlan::Unchanged { .. }), "{name}");
    }
    assert_eq!(limits(&server, "general")?.1, json!(r#"{"cpu":"1000","memory":"1000Gi"}"#));

    // When they are started, each pool's limits are exactly what they were, the record gone
    for name in ["general", "batch"] {
        assert!(matches!(act(&api, name, false).await?, NodePoolPlan::Change { .. }), "{name}");
    }
    assert_eq!(limits(&server, "general")?, (json!({"cpu": "1000", "memory": "1000Gi"}), Value::Null));
    assert_eq!(limits(&server, "batch")?, (Value::Null, Value::Null));
    Ok(())
}

#[tokio::test]
async fn a_refused_token_or_a_missing_verb_fails_naming_what_to_grant_and_no_karpenter_is_none() -> Result<()> {
    let server = KubeApiServer::start("platform", SECRET).await?;
    server.add_nodepool("general", json!({"cpu": "64"}));
    server.add_nodeclaim("general-abc12", "general");

    // A token made for another cluster is refused: 401, and the message names the access entry.
    let elsewhere = client(&server, "platform", "qa")?;
    let refused = elsewhere.nodepools().await.expect_err("another cluster's token").to_string();
    assert!(refused.contains("access entry") && refused.contains("another cluster"), "{refused}");

    // Without the verb to delete NodeClaims: the stop's patch lands, the deletion fails naming it.
    server.deny("delete", "nodeclaims");
    let api = client(&server, "platform", "platform")?;
    let denied = act(&api, "general", true).await.expect_err("no delete verb").to_string();
    assert!(denied.contains("may not delete NodeClaim general-abc12"), "{denied}");
    assert_eq!(server.nodeclaims(), ["general-abc12"]);

    // A cluster without Karpenter has no NodePools to list: none, not a failure.
    server.without_karpenter();
    assert_eq!(api.nodepools().await?, None);
    Ok(())
}

#[tokio::test]
async fn the_client_trusts_the_clusters_own_certificate_authority_and_no_other() -> Result<()> {
    // Given a cluster's API over TLS, its certificate issued by the cluster's own CA (named
    // `kubernetes`, as every EKS cluster's is)
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kube-tls");
    let read = |name: &str| std::fs::read(dir.join(name)).with_context(|| format!("testdata/kube-tls/{name}"));
    let server = KubeApiServer::start_tls("platform", SECRET, &read("server.pem")?, &read("server.key")?).await?;
    server.add_nodepool("general", json!({"cpu": "10"}));
    let ca_of = |pem: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(pem);
    let credentials = Credentials::new("AKIDEXAMPLE", SECRET, None, None, "test");
    let bearer = || token(&credentials, "eu-west-1", "platform", SystemTime::now()).map_err(anyhow::Error::msg);

    // When the client trusts that CA, as DescribeCluster's certificateAuthority.data gives it
    let trusting = KubeApi::new("platform", &server.url, Some(&ca_of(read("ca.pem")?)), bearer()?)?;

    // Then it reads the pools
    assert_eq!(trusting.nodepools().await?.map(|pools| pools.len()), Some(1));

    // When it trusts another cluster's CA of the same name, or only the system's roots,
    // the connection is refused before any request reaches the server
    let other = KubeApi::new("platform", &server.url, Some(&ca_of(read("other-ca.pem")?)), bearer()?)?;
    let system = KubeApi::new("platform", &server.url, None, bearer()?)?;
    for refused in [other.nodepools().await, system.nodepools().await] {
        assert!(matches!(refused, Err(EksSchedulerError::Kubernetes { status: None, .. })), "{refused:?}");
    }
    assert_eq!(server.requests().len(), 1, "only the trusting client's request arrived");

    // and a certificate authority that is not one is named as such.
    for bad in ["not base64!", "bm90IGEgY2VydGlmaWNhdGU="] {
        let err = KubeApi::new("platform", &server.url, Some(bad), bearer()?).expect_err("refused");
        assert!(err.to_string().contains("certificate authority"), "{err}");
    }
    Ok(())
}

#[tokio::test]
async fn each_nodeclaim_says_what_it_runs_on_for_the_savings_ledger() -> Result<()> {
    let server = KubeApiServer::start("platform", SECRET).await?;
    server.add_nodepool("general", json!({"cpu": "64"}));
    server.add_launched_nodeclaim("general-a", "general", "m6g.large", "spot");
    server.add_launched_nodeclaim("general-b", "general", "c6g.xlarge", "on-demand");
    server.add_nodeclaim("general-c", "general");
    let api = client(&server, "platform", "platform")?;
    let claims = api.nodeclaims().await?;
    let read: Vec<(&str, Option<&str>, Option<&str>)> = claims
        .iter()
        .map(|claim| (claim.name.as_str(), claim.instance_type.as_deref(), claim.capacity_type.as_deref()))
        .collect();
    assert_eq!(
        read,
        [
            ("general-a", Some("m6g.large"), Some("spot")),
            ("general-b", Some("c6g.xlarge"), Some("on-demand")),
            ("general-c", None, None)
        ]
    );
    let labels: Vec<(Option<String>, Option<String>)> =
        claims.iter().map(|claim| (claim.instance_type.clone(), claim.capacity_type.clone())).collect();
    let machines = eks_scheduler::core::nodepool_machines(&labels);
    let text: Vec<String> =
        machines.iter().map(|m| format!("{} {} {}", m.count, m.instance_type, m.market.as_str())).collect();
    assert_eq!(text, ["1 m6g.large spot", "1 c6g.xlarge on-demand", "1 unknown on-demand"]);
    Ok(())
}
