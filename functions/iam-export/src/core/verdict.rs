//! One verdict per identity, with its reason, so the summary can say "12 identities to remove,
//! 3 admins without MFA" in one line:
//! - `remove`: it has no permissions at all, or no sign-in and no active key used in 90 days
//!   (counted from its creation when never used);
//! - `review`: an administrator (`yes`) that signs in without MFA, an active key older than 90 days, root
//!   access keys, or a permission set assigned to nobody;
//! - `keep`: none of these.
//!
//! The root user is never `remove`: it cannot be deleted, only kept safe.

use jiff::Timestamp;

use super::admin::Admin;
use super::whole_days_between;

/// Identities idle this long are `remove` (IAM Access Analyzer's default for unused access).
pub const IDLE_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Verdict {
    Remove,
    Review,
    #[default]
    Keep,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Remove => "remove",
            Self::Review => "review",
            Self::Keep => "keep",
        }
    }
}

/// What the verdict is made from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    pub is_root: bool,
    pub created: Option<Timestamp>,
    /// A console password it can sign in with, and when it last did.
    pub password_enabled: bool,
    pub password_last_used: Option<Timestamp>,
    /// Each active access key: its id (when known), when it was made and last used.
    pub active_keys: Vec<(String, Option<Timestamp>, Option<Timestamp>)>,
    pub mfa: bool,
    pub admin: Admin,
    /// Holds at least one policy, directly or through a group (or, for a permission set, is assigned).
    pub has_permissions: bool,
    /// A role's last use (roles have no password or keys).
    pub role_last_used: Option<Timestamp>,
    pub is_role: bool,
}

/// An administrator (`yes`) that can sign in, with a password or an active key, without MFA.
pub fn admin_without_mfa(facts: &Facts) -> bool {
    facts.admin == Admin::Yes
        && !facts.mfa
        && !facts.is_role
        && (facts.password_enabled || !facts.active_keys.is_empty())
}

/// The verdict, and every reason for it, `; `-separated.
pub fn verdict(facts: &Facts, now: Timestamp) -> (Verdict, String) {
    let days = |at: Timestamp| whole_days_between(at, now);
    let mut remove: Vec<String> = Vec::new();
    let mut review: Vec<String> = Vec::new();
    if !facts.is_root && !facts.has_permissions {
        remove.push("no permissions: no policy, directly or through a group".to_owned());
    }
    let used = [facts.password_last_used.filter(|_| facts.password_enabled), facts.role_last_used]
        .into_iter()
        .chain(facts.active_keys.iter().map(|(_, _, used)| *used))
        .flatten()
        .max();
    let idle_days = match used {
        Some(at) => Some(days(at)),
        None => facts.created.map(days),
    };
    if !facts.is_root && idle_days.is_some_and(|idle| idle >= IDLE_DAYS) {
        let what = if facts.is_role { "not used" } else { "no sign-in and no active key used" };
        let last = used.map_or_else(|| "never used".to_owned(), |at| format!("last used {}", ago(days(at))));
        remove.push(format!("{what} in {IDLE_DAYS} days ({last})"));
    }
    // The root user's own line says it.
    if admin_without_mfa(facts) && !facts.is_root {
        review.push("administrator without MFA".to_owned());
    }
    for (id, created, _) in &facts.active_keys {
        if let Some(age) = created.map(days).filter(|age| *age > IDLE_DAYS) {
            let key = if id.is_empty() { "an active access key".to_owned() } else { format!("access key {id}") };
            review.push(format!("{key} is {age} days old"));
        }
    }
    if facts.is_root && !facts.active_keys.is_empty() {
        review.push("the root user has an active access key".to_owned());
    }
    if facts.is_root && !facts.mfa {
        review.push("the root user has no MFA".to_owned());
    }
    if !remove.is_empty() {
        remove.extend(review);
        return (Verdict::Remove, remove.join("; "));
    }
    if !review.is_empty() {
        return (Verdict::Review, review.join("; "));
    }
    let mut reason = match (used, facts.created) {
        (Some(at), _) => format!("used {}", ago(days(at))),
        (None, Some(created)) => format!("made {}, not used yet", ago(days(created))),
        (None, None) => "not used yet".to_owned(),
    };
    if facts.mfa && !facts.is_role {
        reason.push_str(", MFA on");
    }
    (Verdict::Keep, reason)
}

fn ago(days: i64) -> String {
    match days {
        0 => "today".to_owned(),
        1 => "1 day ago".to_owned(),
        days => format!("{days} days ago"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a time")
    }

    #[test]
    fn verdicts_follow_use_permissions_mfa_and_key_age() {
        let now = at("2026-12-06T00:00:00Z");
        let active = Facts {
            created: Some(at("2025-01-01T00:00:00Z")),
            password_enabled: true,
            password_last_used: Some(at("2026-12-01T00:00:00Z")),
            mfa: true,
            has_permissions: true,
            ..Facts::default()
        };
        let cases: Vec<(&str, Facts, (Verdict, &str))> = vec![
            ("signed in last week, MFA on", active.clone(), (Verdict::Keep, "used 5 days ago, MFA on")),
            (
                "no policy at all",
                Facts { has_permissions: false, ..active.clone() },
                (Verdict::Remove, "no permissions: no policy, directly or through a group"),
            ),
            (
                "last sign-in 120 days ago, no key",
                Facts { password_last_used: Some(at("2026-08-08T00:00:00Z")), ..active.clone() },
                (Verdict::Remove, "no sign-in and no active key used in 90 days (last used 120 days ago)"),
            ),
            (
                "a password never used, made a year ago",
                Facts { password_last_used: None, ..active.clone() },
                (Verdict::Remove, "no sign-in and no active key used in 90 days (never used)"),
            ),
            (
                "made a week ago, not used yet",
                Facts { created: Some(at("2026-11-29T00:00:00Z")), password_last_used: None, ..active.clone() },
                (Verdict::Keep, "made 7 days ago, not used yet, MFA on"),
            ),
            (
                "an old sign-in but a key used yesterday",
                Facts {
                    password_last_used: Some(at("2025-06-01T00:00:00Z")),
                    active_keys: vec![(
                        "AKIAOLD".into(),
                        Some(at("2026-10-01T00:00:00Z")),
                        Some(at("2026-12-05T00:00:00Z")),
                    )],
                    ..active.clone()
                },
                (Verdict::Keep, "used 1 day ago, MFA on"),
            ),
            (
                "an admin without MFA and a 200-day-old key",
                Facts {
                    mfa: false,
                    admin: Admin::Yes,
                    active_keys: vec![(
                        "AKIAOLD".into(),
                        Some(at("2026-05-20T00:00:00Z")),
                        Some(at("2026-12-05T00:00:00Z")),
                    )],
                    ..active.clone()
                },
                (Verdict::Review, "administrator without MFA; access key AKIAOLD is 200 days old"),
            ),
            (
                "a possible admin without MFA is not flagged for MFA",
                Facts { mfa: false, admin: Admin::Possible, ..active.clone() },
                (Verdict::Keep, "used 5 days ago"),
            ),
            (
                "root with a key and no MFA is reviewed, never removed",
                Facts {
                    is_root: true,
                    mfa: false,
                    has_permissions: false,
                    password_last_used: None,
                    active_keys: vec![(String::new(), Some(at("2026-11-01T00:00:00Z")), None)],
                    ..active.clone()
                },
                (Verdict::Review, "the root user has an active access key; the root user has no MFA"),
            ),
            (
                "a role unused for 100 days",
                Facts {
                    is_role: true,
                    password_enabled: false,
                    role_last_used: Some(at("2026-08-28T00:00:00Z")),
                    ..active.clone()
                },
                (Verdict::Remove, "not used in 90 days (last used 100 days ago)"),
            ),
        ];
        for (case, facts, (expected, reason)) in cases {
            assert_eq!(verdict(&facts, now), (expected, reason.to_owned()), "{case}");
        }
    }
}
