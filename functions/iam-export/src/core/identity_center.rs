//! IAM Identity Center: its users, groups and permission sets, and who holds which set in which
//! account, as the rows of three files (users, access, permission sets), each with its
//! administrator finding and verdict.
//!
//! A permission set is evaluated as the role it provisions in each account: its AWS managed
//! policies, its inline policy, and its customer-managed policies, which are read from the
//! account they name (an organization-wide run reads every account; a customer-managed policy
//! of an account the run did not read is named as not evaluated).

use std::collections::{BTreeMap, BTreeSet};

use super::accounts::AccountExport;
use super::admin::{Admin, AdminFinding, Authorization, Holder, Policy, evaluate_admin};
use super::users::FindingCounts;
use super::verdict::Verdict;

/// An Identity Center user, as the identity store describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IcUser {
    pub id: String,
    pub user_name: String,
    pub display_name: String,
    pub emails: Vec<String>,
    /// `ENABLED` or `DISABLED`; empty when the store does not say.
    pub status: String,
    /// `issuer:id` of a user synced from an identity provider (SCIM).
    pub external_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IcGroup {
    pub id: String,
    pub name: String,
    /// The member users' ids.
    pub members: Vec<String>,
}

/// A policy a permission set names: an AWS managed one by ARN, a customer-managed one by path
/// and name (the same name in every account it is assigned to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRef {
    Managed { arn: String, name: String },
    CustomerManaged { path: String, name: String },
}

impl PolicyRef {
    /// `AdministratorAccess`, `/team/DeployPolicy`.
    pub fn label(&self) -> String {
        match self {
            Self::Managed { name, .. } => name.clone(),
            Self::CustomerManaged { path, name } => format!("{path}{name}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PermissionSet {
    pub arn: String,
    pub name: String,
    pub description: String,
    /// ISO 8601, as Identity Center keeps it: `PT8H`.
    pub session_duration: String,
    /// AWS managed policies (`PolicyRef::Managed`) then customer-managed ones.
    pub policies: Vec<PolicyRef>,
    pub inline: Option<String>,
    pub boundary: Option<PolicyRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    User(String),
    Group(String),
}

/// A permission set assigned to a user or group in an account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Assignment {
    pub account_id: String,
    pub permission_set_arn: String,
    pub principal: Principal,
}

/// What the run read of the instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityCenter {
    pub instance_arn: String,
    pub users: Vec<IcUser>,
    pub groups: Vec<IcGroup>,
    pub permission_sets: Vec<PermissionSet>,
    pub assignments: Vec<Assignment>,
    /// (set ARN, account) pairs whose assignments AWS refused to list (a delegated
    /// administrator may not read the management account's): not in the files.
    pub unreadable: Vec<(String, String)>,
    /// AWS managed policies' ARN to name and default version's document.
    pub managed_documents: BTreeMap<String, (String, String)>,
}

/// The accounts the run read: id to name (empty when unknown) and the account's policies, for
/// customer-managed policies.
pub type ReadAccounts<'a> = BTreeMap<String, (String, &'a Authorization)>;

/// One row of the access file: a user's permission set in an account, and how it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRow {
    pub user_name: String,
    pub user_id: String,
    pub account_id: String,
    pub account_name: String,
    pub permission_set: String,
    pub permission_set_arn: String,
    /// `direct`, or `group <name>`.
    pub assigned_via: String,
    pub admin: AdminFinding,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcUserRow {
    pub user: IcUser,
    pub groups: Vec<String>,
    pub accounts: usize,
    pub permission_sets: Vec<String>,
    /// The highest of the user's access rows.
    pub admin: Admin,
    pub verdict: Verdict,
    pub verdict_reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSetRow {
    pub permission_set: PermissionSet,
    pub accounts: usize,
    /// Users and groups it is assigned to.
    pub principals: usize,
    pub admin: AdminFinding,
    pub verdict: Verdict,
    pub verdict_reason: String,
}

/// The three files' rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IcExport {
    pub users: Vec<IcUserRow>,
    pub access: Vec<AccessRow>,
    pub permission_sets: Vec<PermissionSetRow>,
    /// The accounts some of whose assignments could not be read.
    pub accounts_unreadable: Vec<String>,
}

impl IcExport {
    /// Admins and verdicts of users and permission sets, for the run's totals.
    pub fn findings(&self) -> FindingCounts {
        let users = |verdict| self.users.iter().filter(|row| row.verdict == verdict).count();
        let sets = |verdict| self.permission_sets.iter().filter(|row| row.verdict == verdict).count();
        FindingCounts {
            admins: self.users.iter().filter(|row| row.admin == Admin::Yes).count(),
            to_remove: users(Verdict::Remove) + sets(Verdict::Remove),
            to_review: users(Verdict::Review) + sets(Verdict::Review),
            ..FindingCounts::default()
        }
    }
}

impl PermissionSet {
    /// The administrator finding of the role this set provisions in `account` (`None`: no
    /// account in particular, so customer-managed policies are not evaluated).
    pub fn evaluate(
        &self,
        managed_documents: &BTreeMap<String, (String, String)>,
        partition: &str,
        account: Option<(&str, Option<&Authorization>)>,
    ) -> AdminFinding {
        let mut unread = Vec::new();
        let mut read = |reference: &PolicyRef, prefix: &str| -> Option<Policy> {
            let document = match reference {
                PolicyRef::Managed { arn, .. } => managed_documents.get(arn).map(|(_, document)| document),
                PolicyRef::CustomerManaged { path, name } => match account {
                    Some((id, Some(authorization))) => {
                        let arn = format!("arn:{partition}:iam::{id}:policy{path}{name}");
                        match authorization.managed.get(&arn) {
                            Some((_, document)) => Some(document),
                            None => {
                                unread.push(format!("{prefix}{} (not in account {id})", reference.label()));
                                return None;
                            }
                        }
                    }
                    Some((id, None)) => {
                        unread.push(format!("{prefix}{} (account {id} not read)", reference.label()));
                        return None;
                    }
                    None => {
                        unread.push(format!("{prefix}{} (per account: see the access file)", reference.label()));
                        return None;
                    }
                },
            };
            let Some(document) = document else {
                unread.push(format!("{prefix}{} (its document could not be read)", reference.label()));
                return None;
            };
            match Policy::parse(&format!("{prefix}{}", reference.label()), document) {
                Ok(policy) => Some(policy),
                Err(why) => {
                    unread.push(format!("{prefix}{} ({why})", reference.label()));
                    None
                }
            }
        };
        let mut policies: Vec<Policy> = self.policies.iter().filter_map(|reference| read(reference, "")).collect();
        let boundary = self.boundary.as_ref().and_then(|reference| read(reference, "boundary "));
        if let Some(document) = &self.inline {
            match Policy::parse("inline", document) {
                Ok(policy) => policies.push(policy),
                Err(why) => unread.push(format!("inline ({why})")),
            }
        }
        let mut finding = evaluate_admin(Holder::Role, &policies, boundary.as_ref());
        if !unread.is_empty() {
            finding.via.push(format!("not evaluated: {}", unread.join(", ")));
        }
        finding
    }

    fn has_policies(&self) -> bool {
        !self.policies.is_empty() || self.inline.is_some()
    }
}

/// An AWS managed policy's ARN (`arn:aws:iam::aws:policy/…`), the same in every account.
pub fn is_aws_managed(arn: &str) -> bool {
    arn.split(':').nth(4) == Some("aws")
}

/// The account an export's ARNs name (its users', roles' or own policies'): a single-account
/// run is not told its account's id.
pub fn account_of(export: &AccountExport) -> Option<String> {
    let arns = export
        .users
        .iter()
        .map(|row| row.detail.arn.as_str())
        .chain(export.roles.iter().map(|row| row.detail.arn.as_str()))
        .chain(export.authorization.managed.keys().map(String::as_str));
    arns.filter_map(|arn| arn.split(':').nth(4))
        .find(|account| account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

/// The partition of an instance ARN (`arn:aws:sso:::instance/…`): `aws`, `aws-cn`, `aws-us-gov`.
pub fn partition(instance_arn: &str) -> &str {
    instance_arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws")
}

/// The rows of the three files. A group's assignment is one access row per member; an
/// assignment to a principal the store no longer has is a row with its id alone.
pub fn build_identity_center(center: &IdentityCenter, accounts: &ReadAccounts<'_>) -> IcExport {
    let partition = partition(&center.instance_arn);
    let users: BTreeMap<&str, &IcUser> = center.users.iter().map(|user| (user.id.as_str(), user)).collect();
    let groups: BTreeMap<&str, &IcGroup> = center.groups.iter().map(|group| (group.id.as_str(), group)).collect();
    let sets: BTreeMap<&str, &PermissionSet> =
        center.permission_sets.iter().map(|set| (set.arn.as_str(), set)).collect();

    // Each (set, account) evaluated once, however many hold it there.
    let mut findings: BTreeMap<(&str, &str), AdminFinding> = BTreeMap::new();
    let mut access = Vec::new();
    for assignment in &center.assignments {
        let Some(set) = sets.get(assignment.permission_set_arn.as_str()) else { continue };
        let account_id = assignment.account_id.as_str();
        let read = accounts.get(account_id);
        let finding = findings
            .entry((set.arn.as_str(), account_id))
            .or_insert_with(|| {
                set.evaluate(&center.managed_documents, partition, Some((account_id, read.map(|(_, a)| *a))))
            })
            .clone();
        let holders: Vec<(&str, String)> = match &assignment.principal {
            Principal::User(id) => vec![(id.as_str(), "direct".to_owned())],
            Principal::Group(id) => match groups.get(id.as_str()) {
                Some(group) => {
                    group.members.iter().map(|member| (member.as_str(), format!("group {}", group.name))).collect()
                }
                None => Vec::new(),
            },
        };
        for (user_id, via) in holders {
            access.push(AccessRow {
                user_name: users.get(user_id).map(|user| user.user_name.clone()).unwrap_or_default(),
                user_id: user_id.to_owned(),
                account_id: account_id.to_owned(),
                account_name: read.map(|(name, _)| name.clone()).unwrap_or_default(),
                permission_set: set.name.clone(),
                permission_set_arn: set.arn.clone(),
                assigned_via: via,
                admin: finding.clone(),
            });
        }
    }
    access.sort_by(|a, b| {
        (&a.user_name, &a.user_id, &a.account_id, &a.permission_set, &a.assigned_via).cmp(&(
            &b.user_name,
            &b.user_id,
            &b.account_id,
            &b.permission_set,
            &b.assigned_via,
        ))
    });
    access.dedup();

    let mut user_rows: Vec<IcUserRow> = center
        .users
        .iter()
        .map(|user| {
            let mut member_of: Vec<String> =
                center.groups.iter().filter(|g| g.members.contains(&user.id)).map(|g| g.name.clone()).collect();
            member_of.sort();
            let rows: Vec<&AccessRow> = access.iter().filter(|row| row.user_id == user.id).collect();
            let accounts: BTreeSet<&str> = rows.iter().map(|row| row.account_id.as_str()).collect();
            let sets: BTreeSet<&str> = rows.iter().map(|row| row.permission_set.as_str()).collect();
            let admin = rows.iter().map(|row| row.admin.admin).max().unwrap_or_default();
            let (verdict, verdict_reason) = user_verdict(user, accounts.len(), sets.len());
            IcUserRow {
                user: user.clone(),
                groups: member_of,
                accounts: accounts.len(),
                permission_sets: sets.into_iter().map(str::to_owned).collect(),
                admin,
                verdict,
                verdict_reason,
            }
        })
        .collect();
    user_rows.sort_by(|a, b| (&a.user.user_name, &a.user.id).cmp(&(&b.user.user_name, &b.user.id)));

    let mut set_rows: Vec<PermissionSetRow> = center
        .permission_sets
        .iter()
        .map(|set| {
            let assigned: Vec<&Assignment> =
                center.assignments.iter().filter(|a| a.permission_set_arn == set.arn).collect();
            let accounts: BTreeSet<&str> = assigned.iter().map(|a| a.account_id.as_str()).collect();
            let principals: BTreeSet<&Principal> = assigned.iter().map(|a| &a.principal).collect();
            // The widest of its accounts' findings; unassigned, the set alone.
            let admin = accounts
                .iter()
                .filter_map(|account| findings.get(&(set.arn.as_str(), *account)))
                .max_by_key(|finding| finding.admin)
                .cloned()
                .unwrap_or_else(|| set.evaluate(&center.managed_documents, partition, None));
            let (verdict, verdict_reason) = permission_set_verdict(set, accounts.len(), principals.len());
            PermissionSetRow {
                permission_set: set.clone(),
                accounts: accounts.len(),
                principals: principals.len(),
                admin,
                verdict,
                verdict_reason,
            }
        })
        .collect();
    set_rows.sort_by(|a, b| a.permission_set.name.cmp(&b.permission_set.name));
    let accounts_unreadable: BTreeSet<String> = center.unreadable.iter().map(|(_, account)| account.clone()).collect();
    IcExport {
        users: user_rows,
        access,
        permission_sets: set_rows,
        accounts_unreadable: accounts_unreadable.into_iter().collect(),
    }
}

/// `remove`: no access at all; `review`: disabled yet still assigned; `keep` otherwise.
/// Identity Center's API tells neither sign-ins nor MFA, so neither is judged here.
fn user_verdict(user: &IcUser, accounts: usize, sets: usize) -> (Verdict, String) {
    if accounts == 0 {
        return (Verdict::Remove, "no access: no permission set assigned, directly or through a group".to_owned());
    }
    let access = format!("{} through {}", plural(accounts, "account"), plural(sets, "permission set"));
    if user.status.eq_ignore_ascii_case("DISABLED") {
        return (Verdict::Review, format!("disabled, yet still assigned {access}"));
    }
    (Verdict::Keep, format!("access to {access}"))
}

/// `remove`: no policy at all; `review`: assigned to nobody; `keep` otherwise.
fn permission_set_verdict(set: &PermissionSet, accounts: usize, principals: usize) -> (Verdict, String) {
    if !set.has_policies() {
        return (Verdict::Remove, "no permissions: no managed, customer-managed or inline policy".to_owned());
    }
    if principals == 0 {
        return (Verdict::Review, "assigned to nobody".to_owned());
    }
    (Verdict::Keep, format!("assigned to {} in {}", plural(principals, "user or group"), plural(accounts, "account")))
}

fn plural(count: usize, what: &str) -> String {
    match (count, what) {
        (1, _) => format!("1 {what}"),
        (_, "user or group") => format!("{count} users or groups"),
        _ => format!("{count} {what}s"),
    }
}

/// How the assignments are read, whichever costs fewer requests:
/// - `ByAccount`: `ListAccountAssignments` for each account each set is provisioned to
///   (the only way open to a delegated administrator);
/// - `ByPrincipal`: `ListAccountAssignmentsForPrincipal` for each user and group (the
///   management account only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentReading {
    ByAccount,
    ByPrincipal,
}

impl AssignmentReading {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "by-account" => Some(Self::ByAccount),
            "by-principal" => Some(Self::ByPrincipal),
            _ => None,
        }
    }

    /// The cheaper for `pairs` (set, account) pairs provisioned and `principals` users and groups.
    pub fn cheaper(pairs: usize, principals: usize) -> Self {
        if principals < pairs { Self::ByPrincipal } else { Self::ByAccount }
    }
}

#[cfg(test)]
mod tests;
