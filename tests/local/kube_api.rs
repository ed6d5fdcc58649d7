//! The in-test Kubernetes API server (`support::kube_api`, the one hand-written stand-in) as a
//! process, for `make demo`: one cluster's NodePools and NodeClaims, seeded from the
//! environment, checking the EKS scheduler's tokens as EKS does.
//!
//! Settings: `CLUSTER` (the name tokens must be signed for), `SECRET` (the secret access key the
//! function signs with), `NODEPOOLS` (a JSON object: pool name to its `spec.limits`, `{}` for
//! none) and `NODECLAIMS` (a JSON object: claim name to its pool, or to `{"nodepool", "instance_type",
//! "capacity_type"}` for a launched claim). Prints the server's URL as
//! its first line; then, for each line `state` on its standard input, one JSON line of every
//! pool's limits and saved-limits annotation and the claims left; ends when its input closes.

#![allow(clippy::print_stdout)]

use std::io::Write as _;

use anyhow::{Context as _, Result};
use serde_json::{Map, Value, json};
use support::kube_api::KubeApiServer;
use tokio::io::AsyncBufReadExt as _;

fn object(name: &str) -> Result<Map<String, Value>> {
    let text = std::env::var(name).unwrap_or_else(|_| "{}".to_owned());
    match serde_json::from_str(&text).with_context(|| format!("{name} is not JSON: {text}"))? {
        Value::Object(map) => Ok(map),
        other => anyhow::bail!("{name} must be a JSON object, not {other}"),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cluster = std::env::var("CLUSTER").context("CLUSTER: the cluster's name")?;
    let secret = std::env::var("SECRET").context("SECRET: the secret access key the function signs with")?;
    let server = KubeApiServer::start(&cluster, &secret).await?;
    let pools = object("NODEPOOLS")?;
    for (name, limits) in &pools {
        server.add_nodepool(name, limits.clone());
    }
    for (claim, of) in object("NODECLAIMS")? {
        // A pool's name, or a launched claim: {"nodepool", "instance_type", "capacity_type"}.
        match &of {
            Value::String(pool) => server.add_nodeclaim(&claim, pool),
            Value::Object(launched) => {
                let field = |key: &str| {
                    launched
                        .get(key)
                        .and_then(Value::as_str)
                        .with_context(|| format!("NODECLAIMS: {claim} has no {key}"))
                };
                server.add_launched_nodeclaim(
                    &claim,
                    field("nodepool")?,
                    field("instance_type")?,
                    field("capacity_type")?,
                );
            }
            other => anyhow::bail!("NODECLAIMS: {claim} is {other}, not a pool's name or a launched claim"),
        }
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", server.url)?;
    stdout.flush()?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim() != "state" {
            continue;
        }
        let state: Map<String, Value> = pools
            .keys()
            .filter_map(|name| server.nodepool(name).map(|pool| (name.clone(), pool)))
            .map(|(name, pool)| {
                let saved = &pool["metadata"]["annotations"][eks_scheduler::core::SAVED_LIMITS_ANNOTATION];
                (name, json!({"limits": pool["spec"]["limits"], "saved": saved}))
            })
            .collect();
        writeln!(stdout, "{}", json!({"nodepools": state, "nodeclaims": server.nodeclaims()}))?;
        stdout.flush()?;
    }
    Ok(())
}
