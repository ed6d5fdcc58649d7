//! Clusters across accounts and regions. A run that spans them (`ACCOUNTS` or `REGIONS`)
//! names each cluster `<account>/<region>/<cluster>`; a single-account run names it by its
//! name alone, as before. A dependency tag's plain name means the same account and region;
//! a qualified one may point anywhere the run reaches.

use serde::Serialize;
use shared::accounts::AccountStatus;

/// The key of cluster `name` at `site` (`<account>/<region>`, or empty for a single-account run).
pub fn cluster_key(site: &str, name: &str) -> String {
    if site.is_empty() { name.to_owned() } else { format!("{site}/{name}") }
}

/// `<account>/<region>`.
pub fn site_key(account: &str, region: &str) -> String {
    format!("{account}/{region}")
}

/// A key's site and cluster name. Cluster names have no `/`, so the last one splits them.
pub fn split_key(key: &str) -> (&str, &str) {
    key.rsplit_once('/').unwrap_or(("", key))
}

/// A dependency named in a cluster's tag, as a key: `<account>/<region>/<cluster>` stays as
/// written; a plain name is in the dependent's own account and region.
pub fn qualify_dependency(dependency: &str, dependent_key: &str) -> String {
    let (site, _) = split_key(dependent_key);
    if dependency.contains('/') { dependency.to_owned() } else { cluster_key(site, dependency) }
}

/// The keys a cluster named in the event means: the key itself, or a plain name in every
/// account and region that has it. A name found nowhere is kept, to be reported missing.
pub fn resolve_named<'a>(named: &'a str, existing: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for key in existing {
        if key == named || (!named.contains('/') && split_key(key).1 == named) {
            found.push(key.clone());
        }
    }
    if found.is_empty() { vec![named.to_owned()] } else { found }
}

/// One account and region of a run that spans them: what it found there, or why it could not look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteReport {
    pub account_id: String,
    pub account_name: String,
    pub ou_path: String,
    /// Empty for an account that was not looked at (excluded, inactive, or unreachable).
    pub region: String,
    pub status: AccountStatus,
    pub clusters: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}
