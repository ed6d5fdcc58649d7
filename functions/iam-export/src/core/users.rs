//! One row per IAM user: the authorization details joined with the credential
//! report, plus the computed columns and findings.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::admin::{Admin, AdminFinding, Authorization, Holder, Holdings};
use super::credential_report::{AccessKeyUsage, CredentialRow};
use super::verdict::{Facts, Verdict, admin_without_mfa, verdict};
use super::whole_days_between;

/// Active keys older than this are flagged (CIS AWS Foundations 1.14: rotate every 90 days).
pub const KEY_MAX_AGE_DAYS: i64 = 90;
/// Enabled credentials unused this long or longer are flagged (CIS AWS Foundations 1.12,
/// "unused for 45 days or greater"; Security Hub IAM.22).
pub const UNUSED_DAYS: i64 = 45;

/// A user as `GetAccountAuthorizationDetails` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserDetail {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub created: Option<Timestamp>,
    pub groups: Vec<String>,
    pub attached_policies: Vec<String>,
    pub inline_policies: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// What the administrator finding reads: policy ARNs, inline documents, its boundary.
    pub holdings: Holdings,
}

/// One line of the users CSV.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserRow {
    pub detail: UserDetail,
    pub is_root_account: bool,
    /// False for users created after the credential report was generated.
    pub in_credential_report: bool,
    pub credentials: CredentialRow,
    pub days_since_last_activity: Option<i64>,
    pub oldest_active_key_age_days: Option<i64>,
    pub no_mfa_with_console: bool,
    pub key_older_than_90d: bool,
    pub unused_45d: bool,
    pub admin: AdminFinding,
    /// An administrator that signs in (a password or an active key) without MFA.
    pub admin_without_mfa: bool,
    pub verdict: Verdict,
    pub verdict_reason: String,
}

/// How many rows carry each finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FindingCounts {
    pub no_mfa_with_console: usize,
    pub key_older_than_90d: usize,
    pub unused_45d: usize,
    /// Users whose `admin` is `yes`, the root user included.
    pub admins: usize,
    pub admins_without_mfa: usize,
    /// Users whose verdict is `remove`, and `review`.
    pub to_remove: usize,
    pub to_review: usize,
}

/// Joins users with their credential report lines by user name. The root account's
/// line comes first; then every user from the authorization details, by name.
/// Report lines for users that no longer exist are dropped: the details are newer. A line
/// whose creation time is not the user's belongs to an earlier user of the same name
/// (deleted and recreated since AWS built the report, which it reuses for 4 hours): it is
/// not joined, so the new user never shows the old one's credentials.
pub fn build_user_rows(
    users: &[UserDetail],
    report: &[CredentialRow],
    authorization: &Authorization,
    now: Timestamp,
) -> Vec<UserRow> {
    let by_name: HashMap<&str, &CredentialRow> = report.iter().map(|row| (row.user.as_str(), row)).collect();
    let root = report.iter().find(|row| row.is_root()).map(|row| {
        let detail = UserDetail {
            name: row.user.clone(),
            arn: row.arn.clone(),
            created: row.user_creation_time,
            ..UserDetail::default()
        };
        compute(detail, Some(row), true, authorization, now)
    });
    let mut rows: Vec<UserRow> = root.into_iter().collect();
    let mut sorted: Vec<&UserDetail> = users.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    rows.extend(sorted.into_iter().map(|user| {
        let line = by_name.get(user.name.as_str()).copied().filter(|line| same_user(user, line));
        compute(user.clone(), line, false, authorization, now)
    }));
    rows
}

/// Which access keys' ids the export reads (`ACCESS_KEY_IDS`): each costs a `ListAccessKeys`
/// per user, which the credential report's three requests per account do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyIds {
    /// The keys a finding names: requests grow with findings, not with users.
    #[default]
    Findings,
    /// Every user's keys: one request per user with a key.
    All,
}

/// The users whose keys' ids `which` asks for: with `Findings`, those with an active key older
/// than 90 days or unused for 45, so the finding reaches the key.
pub fn users_needing_key_ids(rows: &[UserRow], which: KeyIds, now: Timestamp) -> Vec<String> {
    rows.iter()
        .filter(|row| !row.is_root_account)
        .filter(|row| {
            if which == KeyIds::All {
                return row.credentials.access_keys.iter().any(|key| key.last_rotated.is_some());
            }
            row.credentials.access_keys.iter().filter(|key| key.active).any(|key| {
                let old = key.last_rotated.is_some_and(|made| whole_days_between(made, now) > KEY_MAX_AGE_DAYS);
                let idle =
                    key.last_used.or(key.last_rotated).is_some_and(|at| whole_days_between(at, now) >= UNUSED_DAYS);
                old || idle
            })
        })
        .map(|row| row.detail.name.clone())
        .collect()
}

/// Puts each listed key's id on the report's key it is: the one made the same second (the
/// report's `access_key_N_last_rotated` is the key's creation time), else the same position.
pub fn assign_key_ids(report: &mut [CredentialRow], listed: &BTreeMap<String, Vec<(String, Option<Timestamp>)>>) {
    for row in report {
        let Some(keys) = listed.get(&row.user) else { continue };
        let mut unplaced: Vec<&(String, Option<Timestamp>)> = keys.iter().collect();
        for slot in &mut row.access_keys {
            let same_second = unplaced.iter().position(|(_, made)| {
                matches!((made, slot.last_rotated), (Some(made), Some(rotated)) if made.as_second() == rotated.as_second())
            });
            if let Some(found) = same_second {
                slot.id = Some(unplaced.remove(found).0.clone());
            }
        }
        for slot in row.access_keys.iter_mut().filter(|slot| slot.id.is_none() && slot.last_rotated.is_some()) {
            if unplaced.is_empty() {
                break;
            }
            slot.id = Some(unplaced.remove(0).0.clone());
        }
    }
}

/// The report line is this user's, not a deleted namesake's: created the same second
/// (when either time is unknown, the name decides).
fn same_user(user: &UserDetail, line: &CredentialRow) -> bool {
    match (user.created, line.user_creation_time) {
        (Some(created), Some(reported)) => created.as_second() == reported.as_second(),
        _ => true,
    }
}

impl std::iter::Sum for FindingCounts {
    fn sum<I: Iterator<Item = Self>>(counts: I) -> Self {
        counts.fold(Self::default(), |total, more| Self {
            no_mfa_with_console: total.no_mfa_with_console + more.no_mfa_with_console,
            key_older_than_90d: total.key_older_than_90d + more.key_older_than_90d,
            unused_45d: total.unused_45d + more.unused_45d,
            admins: total.admins + more.admins,
            admins_without_mfa: total.admins_without_mfa + more.admins_without_mfa,
            to_remove: total.to_remove + more.to_remove,
            to_review: total.to_review + more.to_review,
        })
    }
}

/// The findings of an account's users and roles (roles count only as admins and verdicts).
pub fn count_findings(rows: &[UserRow], roles: &[super::roles::RoleRow]) -> FindingCounts {
    let role_count = |flag: fn(&super::roles::RoleRow) -> bool| roles.iter().filter(|role| flag(role)).count();
    let of_roles = FindingCounts {
        admins: role_count(|role| role.admin.admin == Admin::Yes),
        to_remove: role_count(|role| role.verdict == Verdict::Remove),
        to_review: role_count(|role| role.verdict == Verdict::Review),
        ..FindingCounts::default()
    };
    [count_user_findings(rows), of_roles].into_iter().sum()
}

fn count_user_findings(rows: &[UserRow]) -> FindingCounts {
    let count = |flag: fn(&UserRow) -> bool| rows.iter().filter(|row| flag(row)).count();
    FindingCounts {
        no_mfa_with_console: count(|row| row.no_mfa_with_console),
        key_older_than_90d: count(|row| row.key_older_than_90d),
        unused_45d: count(|row| row.unused_45d),
        admins: count(|row| row.admin.admin == Admin::Yes),
        admins_without_mfa: count(|row| row.admin_without_mfa),
        to_remove: count(|row| row.verdict == Verdict::Remove),
        to_review: count(|row| row.verdict == Verdict::Review),
    }
}

fn compute(
    mut detail: UserDetail,
    report: Option<&CredentialRow>,
    is_root: bool,
    authorization: &Authorization,
    now: Timestamp,
) -> UserRow {
    detail.groups.sort();
    detail.attached_policies.sort();
    detail.inline_policies.sort();
    detail.tags.sort();
    let credentials = report.cloned().unwrap_or_default();
    let active_keys: Vec<&AccessKeyUsage> = credentials.access_keys.iter().filter(|key| key.active).collect();

    let last_activity = [credentials.password_last_used]
        .into_iter()
        .chain(credentials.access_keys.iter().map(|key| key.last_used))
        .flatten()
        .max();
    let oldest_active_key_age_days =
        active_keys.iter().filter_map(|key| key.last_rotated).map(|rotated| whole_days_between(rotated, now)).max();

    // The root user's password cannot be read from the report ("not_supported"),
    // but the root user can always reach the console (by password reset), so MFA is what counts.
    let console_enabled = if is_root { true } else { credentials.password_enabled == Some(true) };
    let no_mfa_with_console = report.is_some() && console_enabled && credentials.mfa_active != Some(true);

    // A credential never used counts from when it was made.
    let password_idle_since = (!is_root && credentials.password_enabled == Some(true)).then(|| {
        credentials
            .password_last_used
            .or(credentials.password_last_changed)
            .or(credentials.user_creation_time)
            .or(detail.created)
    });
    let keys_idle_since = active_keys.iter().map(|key| key.last_used.or(key.last_rotated));
    let unused_45d = password_idle_since
        .into_iter()
        .chain(keys_idle_since)
        .flatten()
        .any(|since| whole_days_between(since, now) >= UNUSED_DAYS);

    let holdings = Holdings { groups: detail.groups.clone(), ..detail.holdings.clone() };
    // The root user holds every permission, and no policy says so.
    let admin = if is_root {
        AdminFinding { admin: Admin::Yes, via: vec!["the root user".to_owned()] }
    } else {
        authorization.evaluate(Holder::User { in_group: !detail.groups.is_empty() }, &holdings)
    };
    let facts = Facts {
        is_root,
        created: credentials.user_creation_time.or(detail.created),
        // The root user can always reach the console (by password reset).
        password_enabled: is_root || credentials.password_enabled == Some(true),
        password_last_used: credentials.password_last_used,
        active_keys: credentials
            .access_keys
            .iter()
            .enumerate()
            .filter(|(_, key)| key.active)
            .map(|(index, key)| {
                (key.id.clone().unwrap_or_else(|| (index + 1).to_string()), key.last_rotated, key.last_used)
            })
            .collect(),
        mfa: credentials.mfa_active == Some(true),
        admin: admin.admin,
        has_permissions: authorization.has_permissions(&holdings),
        role_last_used: None,
        is_role: false,
    };
    let (verdict, verdict_reason) = verdict(&facts, now);

    UserRow {
        admin_without_mfa: admin_without_mfa(&facts),
        admin,
        verdict,
        verdict_reason,
        is_root_account: is_root,
        in_credential_report: report.is_some(),
        days_since_last_activity: last_activity.map(|at| whole_days_between(at, now)),
        key_older_than_90d: oldest_active_key_age_days.is_some_and(|days| days > KEY_MAX_AGE_DAYS),
        oldest_active_key_age_days,
        no_mfa_with_console,
        unused_45d,
        credentials,
        detail,
    }
}
