//! One row per IAM role, for the optional roles file.

use jiff::Timestamp;
use serde_json::Value;

use super::CoreError;
use super::admin::{AdminFinding, Authorization, Holder, Holdings};
use super::verdict::{Facts, Verdict, verdict};

/// A role as `GetAccountAuthorizationDetails` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleDetail {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub created: Option<Timestamp>,
    pub last_used: Option<Timestamp>,
    pub last_used_region: Option<String>,
    pub attached_policies: Vec<String>,
    pub inline_policies: Vec<String>,
    /// The trust policy as IAM returns it: URL-encoded on AWS, sometimes plain JSON elsewhere.
    pub trust_policy: Option<String>,
    /// What the administrator finding reads: policy ARNs, inline documents, its boundary.
    pub holdings: Holdings,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleRow {
    pub detail: RoleDetail,
    pub trust_principals: Vec<String>,
    pub admin: AdminFinding,
    pub verdict: Verdict,
    pub verdict_reason: String,
}

pub fn build_role_rows(
    roles: &[RoleDetail],
    authorization: &Authorization,
    now: Timestamp,
) -> Result<Vec<RoleRow>, CoreError> {
    let mut rows = roles
        .iter()
        .map(|role| {
            let mut detail = role.clone();
            detail.attached_policies.sort();
            detail.inline_policies.sort();
            let trust_principals = match &role.trust_policy {
                None => Vec::new(),
                Some(document) => trust_principals(document)
                    .map_err(|reason| CoreError::TrustPolicy { role: role.name.clone(), reason })?,
            };
            let admin = authorization.evaluate(Holder::Role, &role.holdings);
            let facts = Facts {
                created: role.created,
                role_last_used: role.last_used,
                admin: admin.admin,
                has_permissions: authorization.has_permissions(&role.holdings),
                is_role: true,
                ..Facts::default()
            };
            let (verdict, verdict_reason) = verdict(&facts, now);
            Ok(RoleRow { detail, trust_principals, admin, verdict, verdict_reason })
        })
        .collect::<Result<Vec<_>, CoreError>>()?;
    rows.sort_by(|a, b| a.detail.name.cmp(&b.detail.name));
    Ok(rows)
}

/// The principals a trust policy allows, as `Type:value` (`Service:lambda.amazonaws.com`,
/// `AWS:arn:aws:iam::123456789012:root`, or `*`), sorted and without repeats.
pub fn trust_principals(document: &str) -> Result<Vec<String>, String> {
    let policy = parse_policy_document(document)?;
    let statements = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    let mut principals = Vec::new();
    for statement in statements {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        match statement.get("Principal") {
            Some(Value::String(any)) => principals.push(any.clone()),
            Some(Value::Object(by_type)) => {
                for (kind, values) in by_type {
                    let values = match values {
                        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                        Value::String(one) => vec![one.as_str()],
                        _ => Vec::new(),
                    };
                    principals.extend(values.into_iter().map(|value| format!("{kind}:{value}")));
                }
            }
            _ => {}
        }
    }
    principals.sort();
    principals.dedup();
    Ok(principals)
}

/// IAM returns policy documents URL-encoded (RFC 3986); emulators may not. Plain JSON
/// is taken as it is, anything else is decoded first.
pub(super) fn parse_policy_document(document: &str) -> Result<Value, String> {
    if let Ok(value) = serde_json::from_str(document) {
        return Ok(value);
    }
    let decoded = percent_encoding::percent_decode_str(document)
        .decode_utf8()
        .map_err(|err| format!("not UTF-8 after URL-decoding: {err}"))?;
    serde_json::from_str(&decoded).map_err(|err| err.to_string())
}
