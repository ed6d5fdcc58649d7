//! The pure core of the export: parse the credential report, join it with the
//! authorization details, compute the findings, render the CSV files.
//!
//! No I/O, no SDK types, no clock: `now` is an argument.

mod accounts;
mod admin;
mod credential_report;
mod csv_out;
mod event;
mod identity_center;
mod roles;
mod summary;
mod users;
mod verdict;

pub use accounts::{ACCOUNT_COLUMNS, AccountExport, AccountSummary, by_account, summarize_accounts};
pub use admin::{Admin, AdminFinding, Authorization, Holder, Holdings, Policy, evaluate_admin};
pub use credential_report::{AccessKeyUsage, CredentialRow, ROOT_ACCOUNT_USER, parse_credential_report};
pub use csv_out::{
    IC_ACCESS_COLUMNS, IC_PERMISSION_SET_COLUMNS, IC_USER_COLUMNS, ROLE_COLUMNS, USER_COLUMNS,
    render_identity_center_csvs, render_org_roles_csv, render_org_users_csv, render_roles_csv, render_users_csv,
};
pub use event::{RunOptions, parse_event};
pub use identity_center::{
    AccessRow, Assignment, AssignmentReading, IcExport, IcGroup, IcUser, IcUserRow, IdentityCenter, PermissionSet,
    PermissionSetRow, PolicyRef, Principal, ReadAccounts, account_of, build_identity_center, is_aws_managed,
};
pub use roles::{RoleDetail, RoleRow, build_role_rows, trust_principals};
pub use summary::{ExportSummary, IdentityCenterSummary};
pub use users::{
    FindingCounts, KeyIds, UserDetail, UserRow, assign_key_ids, build_user_rows, count_findings, users_needing_key_ids,
};
pub use verdict::{Facts, IDLE_DAYS, Verdict, admin_without_mfa, verdict};

use jiff::Timestamp;

/// A problem in what AWS or the caller handed us, named precisely enough to act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    #[error("credential report: {0}")]
    CredentialReport(String),
    #[error("role {role}: trust policy is not valid JSON ({reason})")]
    TrustPolicy { role: String, reason: String },
    #[error("invalid event: {0}")]
    Event(String),
}

/// Where one run's files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportKeys {
    /// `<prefix>/YYYY/MM/DD/iam-users-<UTC timestamp>.csv`
    pub users: String,
    /// `iam-roles-<UTC timestamp>.csv` beside it.
    pub roles: String,
    /// `iam-accounts-<UTC timestamp>.json` beside it: an organization-wide run's per-account summary.
    pub accounts: String,
    /// `identity-center-users-<UTC timestamp>.csv`, `-access-` and `-permission-sets-` beside it.
    pub identity_center_users: String,
    pub identity_center_access: String,
    pub identity_center_permission_sets: String,
}

pub fn report_keys(prefix: &str, now: Timestamp) -> ReportKeys {
    let day = now.strftime("%Y/%m/%d");
    let stamp = now.strftime("%Y%m%dT%H%M%SZ");
    let folder = match prefix.trim_matches('/') {
        "" => day.to_string(),
        prefix => format!("{prefix}/{day}"),
    };
    ReportKeys {
        users: format!("{folder}/iam-users-{stamp}.csv"),
        roles: format!("{folder}/iam-roles-{stamp}.csv"),
        accounts: format!("{folder}/iam-accounts-{stamp}.json"),
        identity_center_users: format!("{folder}/identity-center-users-{stamp}.csv"),
        identity_center_access: format!("{folder}/identity-center-access-{stamp}.csv"),
        identity_center_permission_sets: format!("{folder}/identity-center-permission-sets-{stamp}.csv"),
    }
}

/// Whole days from `then` to `now`; 0 when `then` is in the future (clock skew).
pub fn whole_days_between(then: Timestamp, now: Timestamp) -> i64 {
    (now.as_second() - then.as_second()).max(0) / 86_400
}

/// Timestamps in the output: UTC, to the second, `2026-01-31T08:00:00Z`.
pub fn format_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests;
