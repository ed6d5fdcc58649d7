//! One row per IAM user: the authorization details joined with the credential
//! report, plus the computed columns and findings.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;

use super::credential_report::{AccessKeyUsage, CredentialRow};
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
}

/// How many rows carry each finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FindingCounts {
    pub no_mfa_with_console: usize,
    pub key_older_than_90d: usize,
    pub unused_45d: usize,
}

/// Joins users with their credential report lines by user name. The root account's
/// line comes first; then every user from the authorization details, by name.
/// Report lines for users that no longer exist are dropped: the details are newer. A line
/// whose creation time is not the user's belongs to an earlier user of the same name
/// (deleted and recreated since AWS built the report, which it reuses for 4 hours): it is
/// not joined, so the new user never shows the old one's credentials.
pub fn build_user_rows(users: &[UserDetail], report: &[CredentialRow], now: Timestamp) -> Vec<UserRow> {
    let by_name: HashMap<&str, &CredentialRow> = report.iter().map(|row| (row.user.as_str(), row)).collect();
    let root = report.iter().find(|row| row.is_root()).map(|row| {
        let detail = UserDetail {
            name: row.user.clone(),
            arn: row.arn.clone(),
            created: row.user_creation_time,
            ..UserDetail::default()
        };
        compute(detail, Some(row), true, now)
    });
    let mut rows: Vec<UserRow> = root.into_iter().collect();
    let mut sorted: Vec<&UserDetail> = users.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    rows.extend(sorted.into_iter().map(|user| {
        let line = by_name.get(user.name.as_str()).copied().filter(|line| same_user(user, line));
        compute(user.clone(), line, false, now)
    }));
    rows
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
        })
    }
}

pub fn count_findings(rows: &[UserRow]) -> FindingCounts {
    let count = |flag: fn(&UserRow) -> bool| rows.iter().filter(|row| flag(row)).count();
    FindingCounts {
        no_mfa_with_console: count(|row| row.no_mfa_with_console),
        key_older_than_90d: count(|row| row.key_older_than_90d),
        unused_45d: count(|row| row.unused_45d),
    }
}

fn compute(mut detail: UserDetail, report: Option<&CredentialRow>, is_root: bool, now: Timestamp) -> UserRow {
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

    UserRow {
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
