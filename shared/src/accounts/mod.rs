//! Many accounts from one deployment: which accounts a run covers, how it reaches each one,
//! and how many it works on at once. Nothing here knows what a function does in an account.
//!
//! - [`AccountsConfig`]: `ACCOUNTS`, `ORGANIZATIONAL_UNITS`, `EXCLUDE_ACCOUNTS`,
//!   `MEMBER_ROLE_NAME`, `MEMBER_EXTERNAL_ID`, `ACCOUNT_CONCURRENCY`, parsed at cold start.
//!   Empty `ACCOUNTS` is the single-account behaviour: the account the function runs in.
//! - [`select`] (pure): the accounts a run covers, from the organization's tree.
//! - [`organization`]: reads that tree from AWS Organizations, one walk from the root.
//! - [`access`]: an [`Aws`](crate::aws::Aws) per account, by assuming the member role
//!   through STS, with the credentials cached until shortly before they expire.
//! - [`for_each_account`]: runs one piece of work per account, at most `concurrency` at once,
//!   each account's result its own, so one account's failure never stops the others.
//! - [`Fleet`]: the three together, what a function's `Deps` holds when `ACCOUNTS` is set.

pub mod access;
pub mod organization;

use std::collections::BTreeSet;
use std::future::Future;

use futures_util::StreamExt;
use serde::Serialize;

use crate::aws::Aws;
use crate::config::{ConfigError, Env};

/// The role the spoke template (`member-role.yaml`) creates in every member account.
pub const DEFAULT_MEMBER_ROLE_NAME: &str = "CloudOpsToolkitMember";
/// Accounts worked on at once: enough to hide each account's latency, few enough that a
/// run's calls to the hub's own APIs (STS, S3) and Organizations stay far from throttling.
pub const DEFAULT_CONCURRENCY: usize = 8;
const MAX_CONCURRENCY: usize = 64;

/// Which accounts a run covers, and how it reaches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsConfig {
    pub scope: Scope,
    /// Never worked on, whatever the scope says.
    pub exclude: BTreeSet<String>,
    /// The role assumed in each member account (not in the function's own account).
    pub role_name: String,
    /// The `sts:ExternalId` the member role's trust policy requires.
    pub external_id: Option<String>,
    pub concurrency: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `ACCOUNTS` empty: the account the function runs in, with its own role (the default).
    ThisAccount,
    /// `ACCOUNTS=organization`: every ACTIVE account, or only those under `units`.
    Organization { units: Vec<UnitFilter> },
    /// `ACCOUNTS=111111111111,222222222222`.
    Listed(Vec<String>),
}

/// An entry of `ORGANIZATIONAL_UNITS`: an OU (or root) id, or an OU's path of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitFilter {
    /// `ou-ab12-cdef3456` or `r-ab12`.
    Id(String),
    /// `/Workloads/Prod/`, always in this form (leading and trailing slash).
    Path(String),
}

impl Default for AccountsConfig {
    /// The single-account behaviour: what empty settings give.
    fn default() -> Self {
        Self {
            scope: Scope::ThisAccount,
            exclude: BTreeSet::new(),
            role_name: DEFAULT_MEMBER_ROLE_NAME.to_owned(),
            external_id: None,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl AccountsConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let scope = match env.optional("ACCOUNTS") {
            None => Scope::ThisAccount,
            Some(value) if value.eq_ignore_ascii_case("organization") => {
                Scope::Organization { units: unit_filters(env.optional("ORGANIZATIONAL_UNITS").as_deref())? }
            }
            Some(value) => Scope::Listed(account_ids("ACCOUNTS", &value)?.into_iter().collect()),
        };
        if !matches!(scope, Scope::Organization { .. }) && env.optional("ORGANIZATIONAL_UNITS").is_some() {
            return Err(ConfigError::invalid(
                "ORGANIZATIONAL_UNITS",
                env.optional("ORGANIZATIONAL_UNITS").unwrap_or_default(),
                "to be empty unless ACCOUNTS=organization (it chooses among the organization's accounts)",
            ));
        }
        let exclude = match env.optional("EXCLUDE_ACCOUNTS") {
            None => BTreeSet::new(),
            Some(value) => account_ids("EXCLUDE_ACCOUNTS", &value)?,
        };
        let role_name = env.optional("MEMBER_ROLE_NAME").unwrap_or_else(|| DEFAULT_MEMBER_ROLE_NAME.to_owned());
        if !is_role_name(&role_name) {
            return Err(ConfigError::invalid(
                "MEMBER_ROLE_NAME",
                role_name,
                "an IAM role name (1 to 64 letters, digits and +=,.@_-), without a path or an ARN",
            ));
        }
        let external_id = env.optional("MEMBER_EXTERNAL_ID");
        if let Some(id) = &external_id
            && !(2..=1224).contains(&id.len())
        {
            // Secret-ish: a leaked external id weakens the confused-deputy guard, so it is not echoed.
            return Err(ConfigError::InvalidSecret {
                name: "MEMBER_EXTERNAL_ID",
                expected: "2 to 1224 characters, the ExternalId given to member-role.yaml".to_owned(),
            });
        }
        let concurrency = env.parse_or("ACCOUNT_CONCURRENCY", DEFAULT_CONCURRENCY, "a whole number from 1 to 64")?;
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            return Err(ConfigError::invalid(
                "ACCOUNT_CONCURRENCY",
                concurrency.to_string(),
                "a whole number from 1 to 64",
            ));
        }
        Ok(Self { scope, exclude, role_name, external_id, concurrency })
    }

    /// True when a run covers more than the function's own account.
    pub fn is_multi_account(&self) -> bool {
        !matches!(self.scope, Scope::ThisAccount)
    }
}

/// Account ids separated by commas, spaces or newlines; each exactly 12 digits.
fn account_ids(name: &'static str, value: &str) -> Result<BTreeSet<String>, ConfigError> {
    let mut ids = BTreeSet::new();
    for id in value.split(|c: char| c == ',' || c.is_whitespace()).filter(|id| !id.is_empty()) {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::invalid(
                name,
                value,
                format!(
                    "12-digit account ids separated by commas ({id:?} is not one){}",
                    if name == "ACCOUNTS" { ", or `organization`" } else { "" }
                ),
            ));
        }
        ids.insert(id.to_owned());
    }
    Ok(ids)
}

fn unit_filters(value: Option<&str>) -> Result<Vec<UnitFilter>, ConfigError> {
    let Some(value) = value else { return Ok(Vec::new()) };
    let mut filters = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        let is_id = |prefix: &str| {
            entry.strip_prefix(prefix).is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
        };
        if is_id("ou-") || is_id("r-") {
            filters.push(UnitFilter::Id(entry.to_owned()));
        } else if entry.contains('/') || !entry.starts_with("ou-") {
            filters.push(UnitFilter::Path(normalize_path(entry)));
        } else {
            return Err(ConfigError::invalid(
                "ORGANIZATIONAL_UNITS",
                value,
                format!(
                    "OU ids (ou-ab12-cdef3456) or OU paths (/Workloads/Prod) separated by commas ({entry:?} is neither)"
                ),
            ));
        }
    }
    Ok(filters)
}

/// `Workloads/Prod`, `/Workloads/Prod` and `/Workloads/Prod/` all become `/Workloads/Prod/`.
fn normalize_path(path: &str) -> String {
    let inner = path.trim().trim_matches('/');
    if inner.is_empty() { "/".to_owned() } else { format!("/{inner}/") }
}

fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// One AWS account as a run sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Account {
    pub id: String,
    /// From Organizations; empty when it could not be read (an explicit list outside it).
    pub name: String,
    /// The OU path of names from the root, `/Workloads/Prod/`; `/` directly under the root;
    /// empty when unknown.
    pub ou_path: String,
}

impl Account {
    pub fn unnamed(id: &str) -> Self {
        Self { id: id.to_owned(), name: String::new(), ou_path: String::new() }
    }

    /// `111111111111 (Payments prod)`, for messages.
    pub fn label(&self) -> String {
        if self.name.is_empty() { self.id.clone() } else { format!("{} ({})", self.id, self.name) }
    }
}

/// The organization as one walk from its root reads it: enough to select accounts and
/// name each one's OU path, with no call per account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgTree {
    pub root_id: String,
    pub units: Vec<OrgUnit>,
    pub accounts: Vec<OrgAccount>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUnit {
    pub id: String,
    pub name: String,
    pub parent_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    pub parent_id: String,
    /// `ACTIVE`; a `SUSPENDED` or closing account cannot be worked on.
    pub active: bool,
}

impl OrgTree {
    /// The OU path of a parent (root or OU) id: `/` for the root, `/A/B/` for an OU.
    pub fn path_of(&self, parent_id: &str) -> String {
        let mut names = Vec::new();
        let mut current = parent_id;
        // Bounded by the number of units: a cycle (never from AWS) cannot loop forever.
        for _ in 0..=self.units.len() {
            match self.units.iter().find(|unit| unit.id == current) {
                Some(unit) => {
                    names.push(unit.name.as_str());
                    current = &unit.parent_id;
                }
                None => break,
            }
        }
        names.reverse();
        if names.is_empty() { "/".to_owned() } else { format!("/{}/", names.join("/")) }
    }

    /// True when `parent_id` is `ancestor` or lies under it.
    fn is_under(&self, parent_id: &str, ancestor: &str) -> bool {
        let mut current = parent_id;
        for _ in 0..=self.units.len() + 1 {
            if current == ancestor {
                return true;
            }
            match self.units.iter().find(|unit| unit.id == current) {
                Some(unit) => current = &unit.parent_id,
                None => return false,
            }
        }
        false
    }

    fn account(&self, org_account: &OrgAccount) -> Account {
        Account {
            id: org_account.id.clone(),
            name: org_account.name.clone(),
            ou_path: self.path_of(&org_account.parent_id),
        }
    }
}

/// The accounts a run covers, and those it leaves out on purpose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Sorted by account id.
    pub accounts: Vec<Account>,
    /// In scope but in `EXCLUDE_ACCOUNTS`.
    pub excluded: Vec<Account>,
    /// In scope but not ACTIVE (suspended, or closing).
    pub inactive: Vec<Account>,
}

/// Why the configured scope does not fit the organization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error(
        "ORGANIZATIONAL_UNITS names {unit}, which is not in the organization (root {root}): use an OU id (ou-…) or a path of OU names such as /Workloads/Prod"
    )]
    UnknownUnit { unit: String, root: String },
}

/// The accounts `scope` covers in `tree` (`None` when Organizations could not be read, which
/// only a listed scope survives), minus `exclude`. Pure: the table test is the specification.
pub fn select(scope: &Scope, exclude: &BTreeSet<String>, tree: Option<&OrgTree>) -> Result<Selection, SelectionError> {
    let in_scope: Vec<(Account, bool)> = match scope {
        Scope::ThisAccount => Vec::new(),
        Scope::Listed(ids) => ids
            .iter()
            .map(|id| {
                let known = tree.and_then(|tree| tree.accounts.iter().find(|a| &a.id == id).map(|a| (tree, a)));
                match known {
                    Some((tree, org_account)) => (tree.account(org_account), org_account.active),
                    None => (Account::unnamed(id), true),
                }
            })
            .collect(),
        Scope::Organization { units } => {
            let Some(tree) = tree else { return Ok(Selection::default()) };
            let mut parents = Vec::new();
            for filter in units {
                let found: Vec<&str> = match filter {
                    UnitFilter::Id(id) => {
                        if id == &tree.root_id || tree.units.iter().any(|unit| &unit.id == id) {
                            vec![id.as_str()]
                        } else {
                            vec![]
                        }
                    }
                    UnitFilter::Path(path) if path == "/" => vec![tree.root_id.as_str()],
                    UnitFilter::Path(path) => tree
                        .units
                        .iter()
                        .filter(|unit| &tree.path_of(&unit.id) == path)
                        .map(|u| u.id.as_str())
                        .collect(),
                };
                if found.is_empty() {
                    let unit = match filter {
                        UnitFilter::Id(id) | UnitFilter::Path(id) => id.clone(),
                    };
                    return Err(SelectionError::UnknownUnit { unit, root: tree.root_id.clone() });
                }
                parents.extend(found);
            }
            tree.accounts
                .iter()
                .filter(|a| parents.is_empty() || parents.iter().any(|parent| tree.is_under(&a.parent_id, parent)))
                .map(|a| (tree.account(a), a.active))
                .collect()
        }
    };
    let mut selection = Selection::default();
    for (account, active) in in_scope {
        if exclude.contains(&account.id) {
            selection.excluded.push(account);
        } else if !active {
            selection.inactive.push(account);
        } else {
            selection.accounts.push(account);
        }
    }
    for list in [&mut selection.accounts, &mut selection.excluded, &mut selection.inactive] {
        list.sort();
        list.dedup();
    }
    Ok(selection)
}

/// The accounts a deployment covers and the way to reach each: built once at cold start
/// when `ACCOUNTS` is set.
#[derive(Debug)]
pub struct Fleet {
    pub config: AccountsConfig,
    organizations: aws_sdk_organizations::Client,
    access: access::MemberAccess,
}

/// Why a run could not even choose its accounts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    Organization(#[from] organization::OrganizationError),
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error(transparent)]
    Identity(#[from] access::AccessError),
}

impl AccountsError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Organization(err) => err.is_transient(),
            Self::Identity(err) => err.is_transient(),
            Self::Selection(_) => false,
        }
    }
}

impl Fleet {
    /// `None` for the single-account scope (empty `ACCOUNTS`): the function works as before.
    /// `session_name` names the function in the member accounts' CloudTrail.
    pub fn new(hub: &Aws, config: &AccountsConfig, session_name: &str) -> Option<Self> {
        config.is_multi_account().then(|| Self::including_this_account(hub, config, session_name))
    }

    /// A fleet even for the single-account scope, whose selection is then the function's own
    /// account by its id: for a function that also spans regions, and names its resources
    /// by account.
    pub fn including_this_account(hub: &Aws, config: &AccountsConfig, session_name: &str) -> Self {
        Self {
            config: config.clone(),
            organizations: crate::aws_client!(aws_sdk_organizations, hub),
            access: access::MemberAccess::new(hub, config, session_name),
        }
    }

    /// This run's accounts. An explicit list is named from Organizations when the function
    /// may read it, and used as ids alone when it may not.
    pub async fn select(&self) -> Result<Selection, AccountsError> {
        let tree = match &self.config.scope {
            Scope::ThisAccount => {
                let own = self.access.own_account().await?;
                return Ok(Selection { accounts: vec![Account::unnamed(own)], ..Selection::default() });
            }
            Scope::Organization { .. } => Some(organization::read_tree(&self.organizations).await?),
            Scope::Listed(_) => match organization::read_tree(&self.organizations).await {
                Ok(tree) => Some(tree),
                Err(err) => {
                    tracing::warn!(error = %err, "account names and OU paths are unknown: using the listed ids alone");
                    None
                }
            },
        };
        Ok(select(&self.config.scope, &self.config.exclude, tree.as_ref())?)
    }

    /// Clients for `account`: the function's own in its own account, the member role's elsewhere.
    pub async fn aws_for(&self, account: &Account) -> Result<Aws, access::AccessError> {
        self.access.aws_for(account).await
    }

    /// [`for_each_account`] at the configured concurrency.
    pub async fn each<'a, T, F, Fut>(&self, accounts: &'a [Account], work: F) -> Vec<T>
    where
        F: Fn(&'a Account) -> Fut,
        Fut: Future<Output = T>,
    {
        for_each_account(accounts, self.config.concurrency, work).await
    }
}

/// How one account's part of a run ended, for the run's result and summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Ok,
    Failed,
    /// In `EXCLUDE_ACCOUNTS`: nothing was done there.
    Excluded,
    /// Suspended or closing: nothing can be done there.
    Inactive,
}

/// Runs `work` once per account, at most `concurrency` at once, and returns each account's
/// result in the accounts' order. `work` returns its own `Result`: an account that fails is
/// one entry, never the end of the run.
pub async fn for_each_account<'a, T, F, Fut>(accounts: &'a [Account], concurrency: usize, work: F) -> Vec<T>
where
    F: Fn(&'a Account) -> Fut,
    Fut: Future<Output = T>,
{
    use tracing::Instrument as _;
    // Each account's work is one X-Ray subsegment.
    let each = accounts.iter().map(|account| {
        work(account).instrument(tracing::info_span!("account", account = %account.id, account_name = %account.name))
    });
    futures_util::stream::iter(each).buffered(concurrency.max(1)).collect().await
}

#[cfg(test)]
mod tests;
