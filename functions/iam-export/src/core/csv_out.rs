//! CSV rendering: RFC 4180 (CRLF, quotes where needed), UTF-8, and cells that a
//! spreadsheet would run as a formula are neutralised.

use jiff::Timestamp;
use shared::spreadsheet::neutralize_formula;

use super::accounts::{ACCOUNT_COLUMNS, AccountExport, account_cells};
use super::admin::AdminFinding;
use super::format_time;
use super::identity_center::{IcExport, PermissionSet, PolicyRef};
use super::roles::RoleRow;
use super::users::UserRow;
use super::verdict::Verdict;

/// The users file's columns, in order. Documented in docs/functions/iam-export.md; change both together.
pub const USER_COLUMNS: &[&str] = &[
    "user_name",
    "arn",
    "path",
    "created",
    "is_root_account",
    "in_credential_report",
    "groups",
    "attached_policies",
    "inline_policies",
    "tags",
    "console_password_enabled",
    "password_last_used",
    "password_last_changed",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_service",
    "access_key_1_last_used_region",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_service",
    "access_key_2_last_used_region",
    "days_since_last_activity",
    "oldest_active_key_age_days",
    "no_mfa_with_console",
    "key_older_than_90d",
    "unused_45d",
    "admin",
    "admin_via",
    "verdict",
    "verdict_reason",
    "access_key_1_id",
    "access_key_2_id",
    "owner",
    "team",
];

/// The roles file's columns, in order.
pub const ROLE_COLUMNS: &[&str] = &[
    "role_name",
    "arn",
    "path",
    "created",
    "last_used_date",
    "last_used_region",
    "attached_policies",
    "inline_policies",
    "trust_principals",
    "admin",
    "admin_via",
    "verdict",
    "verdict_reason",
];

/// Identity Center's users file.
pub const IC_USER_COLUMNS: &[&str] = &[
    "user_name",
    "user_id",
    "display_name",
    "emails",
    "status",
    "external_ids",
    "groups",
    "accounts",
    "permission_sets",
    "admin",
    "verdict",
    "verdict_reason",
];

/// Identity Center's access file: one row per user, account, permission set and way assigned.
pub const IC_ACCESS_COLUMNS: &[&str] = &[
    "user_name",
    "user_id",
    "account_id",
    "account_name",
    "permission_set",
    "permission_set_arn",
    "assigned_via",
    "session_duration",
    "managed_policies",
    "customer_managed_policies",
    "inline_policy",
    "permissions_boundary",
    "admin",
    "admin_via",
];

/// Identity Center's permission sets file.
pub const IC_PERMISSION_SET_COLUMNS: &[&str] = &[
    "permission_set",
    "arn",
    "description",
    "session_duration",
    "managed_policies",
    "customer_managed_policies",
    "inline_policy",
    "permissions_boundary",
    "accounts",
    "principals",
    "admin",
    "admin_via",
    "verdict",
    "verdict_reason",
];

/// The three Identity Center files: users, access, permission sets.
pub fn render_identity_center_csvs(export: &IcExport) -> Result<[Vec<u8>; 3], csv::Error> {
    let users = render(
        IC_USER_COLUMNS,
        export.users.iter().map(|row| {
            let user = &row.user;
            vec![
                user.user_name.clone(),
                user.id.clone(),
                user.display_name.clone(),
                list(&user.emails),
                user.status.clone(),
                list(&user.external_ids),
                list(&row.groups),
                row.accounts.to_string(),
                list(&row.permission_sets),
                row.admin.as_str().to_owned(),
                row.verdict.as_str().to_owned(),
                row.verdict_reason.clone(),
            ]
        }),
    )?;
    let sets = &export.permission_sets;
    let access = render(
        IC_ACCESS_COLUMNS,
        export.access.iter().map(|row| {
            let set = sets.iter().map(|r| &r.permission_set).find(|set| set.arn == row.permission_set_arn);
            let mut cells = vec![
                row.user_name.clone(),
                row.user_id.clone(),
                row.account_id.clone(),
                row.account_name.clone(),
                row.permission_set.clone(),
                row.permission_set_arn.clone(),
                row.assigned_via.clone(),
            ];
            cells.extend(set.map(permission_set_cells).unwrap_or_default());
            cells.extend([row.admin.admin.as_str().to_owned(), row.admin.via.join("; ")]);
            cells
        }),
    )?;
    let permission_sets = render(
        IC_PERMISSION_SET_COLUMNS,
        sets.iter().map(|row| {
            let set = &row.permission_set;
            let mut cells = vec![set.name.clone(), set.arn.clone(), set.description.clone()];
            cells.extend(permission_set_cells(set));
            cells.extend([row.accounts.to_string(), row.principals.to_string()]);
            cells.extend(finding_cells(&row.admin, row.verdict, &row.verdict_reason));
            cells
        }),
    )?;
    Ok([users, access, permission_sets])
}

/// `session_duration`, `managed_policies`, `customer_managed_policies`, `inline_policy`
/// (`true` when it has one), `permissions_boundary`.
fn permission_set_cells(set: &PermissionSet) -> [String; 5] {
    let names = |managed: bool| {
        set.policies
            .iter()
            .filter(|policy| matches!(policy, PolicyRef::Managed { .. }) == managed)
            .map(PolicyRef::label)
            .collect::<Vec<_>>()
            .join(";")
    };
    [
        set.session_duration.clone(),
        names(true),
        names(false),
        flag(set.inline.is_some()),
        set.boundary.as_ref().map(PolicyRef::label).unwrap_or_default(),
    ]
}

pub fn render_users_csv(rows: &[UserRow]) -> Result<Vec<u8>, csv::Error> {
    render(USER_COLUMNS, rows.iter().map(user_cells))
}

pub fn render_roles_csv(rows: &[RoleRow]) -> Result<Vec<u8>, csv::Error> {
    render(ROLE_COLUMNS, rows.iter().map(role_cells))
}

/// The organization's users file: [`ACCOUNT_COLUMNS`], then [`USER_COLUMNS`], accounts in the given order.
pub fn render_org_users_csv(exports: &[AccountExport]) -> Result<Vec<u8>, csv::Error> {
    let columns: Vec<&str> = ACCOUNT_COLUMNS.iter().chain(USER_COLUMNS).copied().collect();
    let rows = exports.iter().flat_map(|export| {
        export.users.iter().map(|row| account_cells(&export.account).into_iter().chain(user_cells(row)).collect())
    });
    render(&columns, rows)
}

/// The organization's roles file: [`ACCOUNT_COLUMNS`], then [`ROLE_COLUMNS`].
pub fn render_org_roles_csv(exports: &[AccountExport]) -> Result<Vec<u8>, csv::Error> {
    let columns: Vec<&str> = ACCOUNT_COLUMNS.iter().chain(ROLE_COLUMNS).copied().collect();
    let rows = exports.iter().flat_map(|export| {
        export.roles.iter().map(|row| account_cells(&export.account).into_iter().chain(role_cells(row)).collect())
    });
    render(&columns, rows)
}

fn render(columns: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    writer.write_record(columns)?;
    for row in rows {
        writer.write_record(row.iter().map(|cell| neutralize_formula(cell).into_owned()))?;
    }
    writer.into_inner().map_err(|err| csv::Error::from(err.into_error()))
}

fn user_cells(row: &UserRow) -> Vec<String> {
    let detail = &row.detail;
    let credentials = &row.credentials;
    let mut cells = vec![
        detail.name.clone(),
        detail.arn.clone(),
        detail.path.clone(),
        time(detail.created),
        flag(row.is_root_account),
        flag(row.in_credential_report),
        list(&detail.groups),
        list(&detail.attached_policies),
        list(&detail.inline_policies),
        detail.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";"),
        optional_flag(credentials.password_enabled),
        time(credentials.password_last_used),
        time(credentials.password_last_changed),
        optional_flag(credentials.mfa_active),
    ];
    for key in &credentials.access_keys {
        let known = row.in_credential_report;
        cells.extend([
            if known { flag(key.active) } else { String::new() },
            time(key.last_rotated),
            time(key.last_used),
            key.last_used_service.clone().unwrap_or_default(),
            key.last_used_region.clone().unwrap_or_default(),
        ]);
    }
    cells.extend([
        number(row.days_since_last_activity),
        number(row.oldest_active_key_age_days),
        flag(row.no_mfa_with_console),
        flag(row.key_older_than_90d),
        flag(row.unused_45d),
    ]);
    cells.extend(finding_cells(&row.admin, row.verdict, &row.verdict_reason));
    for index in 0..2 {
        cells.push(credentials.access_keys.get(index).and_then(|key| key.id.clone()).unwrap_or_default());
    }
    // The owner and team tags, whatever their case, so a finding reaches whoever answers for it.
    for wanted in ["owner", "team"] {
        let tag = detail.tags.iter().find(|(key, _)| key.eq_ignore_ascii_case(wanted));
        cells.push(tag.map(|(_, value)| value.clone()).unwrap_or_default());
    }
    cells
}

/// `admin`, `admin_via` (each grant `;`-separated), `verdict`, `verdict_reason`.
fn finding_cells(admin: &AdminFinding, verdict: Verdict, reason: &str) -> [String; 4] {
    [admin.admin.as_str().to_owned(), admin.via.join("; "), verdict.as_str().to_owned(), reason.to_owned()]
}

fn role_cells(row: &RoleRow) -> Vec<String> {
    let detail = &row.detail;
    let mut cells = vec![
        detail.name.clone(),
        detail.arn.clone(),
        detail.path.clone(),
        time(detail.created),
        time(detail.last_used),
        detail.last_used_region.clone().unwrap_or_default(),
        list(&detail.attached_policies),
        list(&detail.inline_policies),
        list(&row.trust_principals),
    ];
    cells.extend(finding_cells(&row.admin, row.verdict, &row.verdict_reason));
    cells
}

fn list(items: &[String]) -> String {
    items.join(";")
}

fn time(at: Option<Timestamp>) -> String {
    at.map(format_time).unwrap_or_default()
}

fn flag(value: bool) -> String {
    value.to_string()
}

fn optional_flag(value: Option<bool>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn number(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}
