//! Dependency order. A cluster tag `dependency=data api` means "this cluster needs
//! data and api": starting goes in waves, each cluster after everything it needs;
//! stopping goes in the reverse order. Problems stay local: a cycle, or a dependency
//! on a missing cluster, blocks only the clusters it touches.

use std::collections::{BTreeMap, BTreeSet};

/// The clusters a dependency tag names (space-separated; EKS tag values allow no commas).
pub fn parse_dependencies(tag_value: &str) -> Vec<String> {
    let mut names: Vec<String> = tag_value.split_whitespace().map(str::to_owned).collect();
    names.sort();
    names.dedup();
    names
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DependencyPlan {
    /// Start order: wave 0 needs nothing else in the selection; wave n needs only earlier waves.
    pub waves: Vec<Vec<String>>,
    /// Clusters that cannot be ordered, with the reason.
    pub blocked: BTreeMap<String, String>,
}

impl DependencyPlan {
    pub fn wave_of(&self, cluster: &str) -> Option<usize> {
        self.waves.iter().position(|wave| wave.iter().any(|c| c == cluster))
    }
}

/// Orders `selected` clusters. `dependencies` maps each cluster to the ones it needs;
/// `existing` is every cluster in the account. A dependency outside the selection
/// that exists imposes no order (it is not acted on in this run).
pub fn plan_waves(
    selected: &BTreeSet<String>,
    dependencies: &BTreeMap<String, Vec<String>>,
    existing: &BTreeSet<String>,
) -> DependencyPlan {
    let needs = |cluster: &str| dependencies.get(cluster).map(Vec::as_slice).unwrap_or_default();
    let mut blocked = BTreeMap::new();
    for cluster in selected {
        let missing: Vec<&str> = needs(cluster).iter().map(String::as_str).filter(|d| !existing.contains(*d)).collect();
        if !missing.is_empty() {
            blocked.insert(cluster.clone(), format!("depends on {}, which does not exist", missing.join(" and ")));
        }
    }

    // Kahn's algorithm over the selection; whatever cannot be placed is in or behind a cycle.
    let mut waves: Vec<Vec<String>> = Vec::new();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    loop {
        let wave: Vec<String> = selected
            .iter()
            .filter(|c| !placed.contains(*c) && !blocked.contains_key(*c))
            .filter(|c| needs(c).iter().all(|d| !selected.contains(d) || placed.contains(d)))
            .cloned()
            .collect();
        if wave.is_empty() {
            break;
        }
        placed.extend(wave.iter().cloned());
        waves.push(wave);
    }

    // Whatever could not be placed is on a cycle, or needs a cluster that is blocked.
    let unplaced: Vec<&String> =
        selected.iter().filter(|c| !placed.contains(*c) && !blocked.contains_key(*c)).collect();
    for cluster in &unplaced {
        if let Some(cycle) = cycle_through(cluster, selected, &needs) {
            blocked.insert((*cluster).clone(), format!("dependency cycle: {}", cycle.join(" -> ")));
        }
    }
    loop {
        let newly: Vec<(String, String)> = unplaced
            .iter()
            .filter(|c| !blocked.contains_key(**c))
            .filter_map(|cluster| {
                let dependency = needs(cluster).iter().find(|d| blocked.contains_key(*d))?;
                let reason =
                    format!("depends on {dependency}, which is blocked ({})", root_cause(&blocked[dependency]));
                Some(((*cluster).clone(), reason))
            })
            .collect();
        if newly.is_empty() {
            break;
        }
        blocked.extend(newly);
    }
    DependencyPlan { waves, blocked }
}

/// The innermost reason of a chain of "depends on X, which is blocked (...)".
fn root_cause(reason: &str) -> &str {
    match reason.split_once("which is blocked (") {
        Some((_, inner)) => inner.strip_suffix(')').unwrap_or(inner),
        None => reason,
    }
}

/// A cycle from `start` back to itself, as `[start, ..., start]`, if there is one.
fn cycle_through<'a>(
    start: &'a str,
    selected: &'a BTreeSet<String>,
    needs: &impl Fn(&str) -> &'a [String],
) -> Option<Vec<&'a str>> {
    fn walk<'a>(
        start: &'a str,
        path: &mut Vec<&'a str>,
        visited: &mut BTreeSet<&'a str>,
        selected: &'a BTreeSet<String>,
        needs: &impl Fn(&str) -> &'a [String],
    ) -> Option<Vec<&'a str>> {
        let current = *path.last()?;
        for next in needs(current).iter().filter(|d| selected.contains(*d)) {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start);
                return Some(cycle);
            }
            if visited.insert(next.as_str()) {
                path.push(next.as_str());
                if let Some(cycle) = walk(start, path, visited, selected, needs) {
                    return Some(cycle);
                }
                path.pop();
            }
        }
        None
    }
    walk(start, &mut vec![start], &mut BTreeSet::new(), selected, needs)
}

/// Why `cluster` must not start: a cluster it needs could not be described (so it may be
/// down), with the reason. `undescribed` maps such clusters to why.
pub fn held_by_undescribed(
    cluster: &str,
    dependencies: &BTreeMap<String, Vec<String>>,
    undescribed: &BTreeMap<String, String>,
) -> Option<String> {
    let needs = dependencies.get(cluster)?;
    needs.iter().find_map(|needed| {
        undescribed.get(needed).map(|reason| {
            format!("not started: it needs {needed}, which could not be described ({reason}); it starts once {needed} can be read")
        })
    })
}
