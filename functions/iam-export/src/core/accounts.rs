//! The organization-wide export: every account's rows in one file, led by the account's
//! id, name and OU path, and one summary line per account.

use jiff::Timestamp;
use serde::Serialize;
use shared::accounts::{Account, AccountStatus};

use super::admin::Authorization;
use super::format_time;
use super::roles::RoleRow;
use super::users::{FindingCounts, UserRow, count_findings};

/// The columns that lead every row of an organization-wide file.
pub const ACCOUNT_COLUMNS: &[&str] = &["account_id", "account_name", "ou_path"];

/// What one account gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountExport {
    pub account: Account,
    pub users: Vec<UserRow>,
    pub roles: Vec<RoleRow>,
    pub credential_report_generated_at: Option<Timestamp>,
    /// The account's policies, for Identity Center's customer-managed ones.
    pub authorization: Authorization,
}

/// One account's line in the run's result and in the summary file next to the CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSummary {
    pub account_id: String,
    pub account_name: String,
    pub ou_path: String,
    pub status: AccountStatus,
    /// IAM users, not counting the root account's row.
    pub users: usize,
    pub roles: usize,
    pub findings: FindingCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_report_generated_at: Option<String>,
    /// Why the account failed: the account, what was tried, and the fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl AccountSummary {
    fn of(account: &Account, status: AccountStatus) -> Self {
        Self {
            account_id: account.id.clone(),
            account_name: account.name.clone(),
            ou_path: account.ou_path.clone(),
            status,
            users: 0,
            roles: 0,
            findings: FindingCounts::default(),
            credential_report_generated_at: None,
            reason: None,
        }
    }
}

/// Every account the run saw, by id: exported, failed (with its reason), excluded, inactive.
pub fn summarize_accounts(
    exported: &[AccountExport],
    failed: &[(Account, String)],
    excluded: &[Account],
    inactive: &[Account],
) -> Vec<AccountSummary> {
    let mut lines: Vec<AccountSummary> = exported
        .iter()
        .map(|export| AccountSummary {
            users: export.users.iter().filter(|row| !row.is_root_account).count(),
            roles: export.roles.len(),
            findings: count_findings(&export.users, &export.roles),
            credential_report_generated_at: export.credential_report_generated_at.map(format_time),
            ..AccountSummary::of(&export.account, AccountStatus::Ok)
        })
        .chain(failed.iter().map(|(account, reason)| AccountSummary {
            reason: Some(reason.clone()),
            ..AccountSummary::of(account, AccountStatus::Failed)
        }))
        .chain(excluded.iter().map(|account| AccountSummary::of(account, AccountStatus::Excluded)))
        .chain(inactive.iter().map(|account| AccountSummary::of(account, AccountStatus::Inactive)))
        .collect();
    lines.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    lines
}

/// The cells that lead each of `account`'s rows.
pub(super) fn account_cells(account: &Account) -> [String; 3] {
    [account.id.clone(), account.name.clone(), account.ou_path.clone()]
}

/// Accounts in id order, each one's rows in their own order (the root account's line first,
/// then users by name): "sorted by account, then user".
pub fn by_account(exports: &mut [AccountExport]) {
    exports.sort_by(|a, b| a.account.id.cmp(&b.account.id));
}
