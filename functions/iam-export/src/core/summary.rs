//! What an export returns: the files written and the counts an operator reads first.

use jiff::Timestamp;
use serde::Serialize;

use super::accounts::{AccountExport, AccountSummary};
use super::format_time;
use super::identity_center::{AssignmentReading, IcExport};
use super::users::{FindingCounts, count_findings};

/// The function's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub bucket: String,
    pub keys: Vec<String>,
    /// IAM users, not counting the root account's row (of every account, organization-wide).
    pub user_count: usize,
    pub role_count: usize,
    pub root_account_included: bool,
    /// Users created after the credential report was generated: their credential columns are empty.
    pub users_not_in_credential_report: usize,
    /// Organization-wide, the oldest account's report.
    pub credential_report_generated_at: Option<String>,
    /// How old the credential report was when read: AWS reuses a report for 4 hours.
    pub credential_report_age_seconds: Option<i64>,
    pub findings: FindingCounts,
    /// HTTP requests sent to AWS by this invocation, retries included.
    pub api_calls: u64,
    /// What the run found in Identity Center; absent where no instance is visible (or it is turned off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_center: Option<IdentityCenterSummary>,
    /// Organization-wide runs only: every account seen, with its status, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountSummary>,
}

impl ExportSummary {
    /// The summary of `exports` (one per account reached) written as `keys` to `bucket`;
    /// `api_calls` is left for the handler to fill in once everything is written.
    pub fn of(
        bucket: &str,
        keys: Vec<String>,
        exports: &[AccountExport],
        accounts: Vec<AccountSummary>,
        now: Timestamp,
    ) -> Self {
        let users = exports.iter().flat_map(|export| &export.users);
        let oldest_report = exports.iter().filter_map(|export| export.credential_report_generated_at).min();
        Self {
            bucket: bucket.to_owned(),
            keys,
            user_count: users.clone().filter(|row| !row.is_root_account).count(),
            role_count: exports.iter().map(|export| export.roles.len()).sum(),
            root_account_included: users.clone().any(|row| row.is_root_account),
            users_not_in_credential_report: users.clone().filter(|row| !row.in_credential_report).count(),
            credential_report_generated_at: oldest_report.map(format_time),
            credential_report_age_seconds: oldest_report.map(|generated| now.as_second() - generated.as_second()),
            findings: exports.iter().map(|export| count_findings(&export.users, &export.roles)).sum(),
            api_calls: 0,
            identity_center: None,
            accounts,
        }
    }

    /// Adds Identity Center's counts, and its admins and verdicts to the run's findings.
    pub fn add_identity_center(&mut self, instance_arn: &str, export: &IcExport, reading: AssignmentReading) {
        self.findings = [self.findings, export.findings()].into_iter().sum();
        self.identity_center = Some(IdentityCenterSummary {
            instance_arn: instance_arn.to_owned(),
            users: export.users.len(),
            permission_sets: export.permission_sets.len(),
            access_rows: export.access.len(),
            findings: export.findings(),
            accounts_unreadable: export.accounts_unreadable.clone(),
            assignments_read: match reading {
                AssignmentReading::ByAccount => "by-account",
                AssignmentReading::ByPrincipal => "by-principal",
            },
        });
    }
}

/// Identity Center's part of the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityCenterSummary {
    pub instance_arn: String,
    pub users: usize,
    pub permission_sets: usize,
    /// Rows of the access file: user, account, permission set and the way it was assigned.
    pub access_rows: usize,
    /// Admins (users with `admin` yes) and the users' and permission sets' verdicts.
    pub findings: FindingCounts,
    /// `by-account` or `by-principal`: how the assignments were read.
    pub assignments_read: &'static str,
    /// Accounts whose assignments AWS refused to list, in part or whole (a delegated
    /// administrator may not read the management account's): missing from the files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts_unreadable: Vec<String>,
}
