//! Who can act as an administrator, and through what: an identity's policies (attached,
//! inline, through its groups, or a permission set's) evaluated against a short list of
//! administrator-equivalent capabilities.
//!
//! The list is Rhino Security Labs' "AWS IAM Privilege Escalation - Methods and Mitigation"
//! (its 21 methods), which Prowler's `iam_policy_allows_privilege_escalation` and PMapper build
//! on, with `*` on `*` and full IAM before them. A capability is:
//! - **yes** when every action it needs is allowed on every resource with no condition, and it
//!   gives the identity the power by itself (`*`, `iam:*`, attaching or writing a policy to
//!   itself, rewriting a policy it holds);
//! - **possible** when its actions are allowed but only on some resources or under a
//!   condition, or when it needs something that may not exist (a powerful role to pass or
//!   assume, another user to become, a function or stack that runs as an administrator).
//!
//! Deny statements are honoured (one on every resource without a condition removes the
//! action; a narrower one leaves it `possible`), and so is a permission boundary (the lower of
//! the two levels). Service control policies, resource policies and session policies are not
//! evaluated.

use std::collections::BTreeMap;

use serde_json::Value;

/// How sure the export is that an identity can act as an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Admin {
    #[default]
    No,
    Possible,
    Yes,
}

impl Admin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::Possible => "possible",
            Self::Yes => "yes",
        }
    }
}

/// What holds the policies: it decides which self-escalations need nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// An IAM user, `in_group` when it belongs to at least one group.
    User { in_group: bool },
    /// An IAM role, or the role a permission set provisions.
    Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// One statement, with what the evaluation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    effect: Effect,
    /// `Action` patterns, or (`negated`) `NotAction` ones.
    actions: Vec<String>,
    negated: bool,
    /// Applies to every resource (`Resource: "*"`); `NotResource` or named resources do not.
    every_resource: bool,
    conditional: bool,
    /// `Sid`, or its position.
    label: String,
}

/// A named policy: `AdministratorAccess`, `inline:deploy`, `group ops: inline:deploy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    statements: Vec<Statement>,
}

impl Policy {
    /// Parses a policy document, as IAM returns it (URL-encoded) or as plain JSON.
    pub fn parse(name: &str, document: &str) -> Result<Self, String> {
        let value = super::roles::parse_policy_document(document)?;
        let statements = match value.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        };
        let mut parsed = Vec::new();
        for (index, statement) in statements.into_iter().enumerate() {
            let effect = match statement.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                other => return Err(format!("statement {index} has Effect {other:?}, not Allow or Deny")),
            };
            let (actions, negated) = match (statement.get("Action"), statement.get("NotAction")) {
                (Some(actions), None) => (strings(actions), false),
                (None, Some(actions)) => (strings(actions), true),
                _ => return Err(format!("statement {index} needs Action or NotAction, not both or neither")),
            };
            let every_resource = statement.get("Resource").is_some_and(|r| strings(r).iter().any(|r| r == "*"));
            let label = match statement.get("Sid").and_then(Value::as_str) {
                Some(sid) if !sid.is_empty() => sid.to_owned(),
                _ => format!("statement {index}"),
            };
            parsed.push(Statement {
                effect,
                actions,
                negated,
                every_resource,
                conditional: statement.get("Condition").is_some_and(|c| c.as_object().is_some_and(|o| !o.is_empty())),
                label,
            });
        }
        Ok(Self { name: name.to_owned(), statements: parsed })
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// An IAM action pattern (`*` and `?` wildcards, case-insensitive) against an action. The
/// capabilities `*` and `iam:*` are written as actions too: only a pattern as wide matches them.
fn matches(pattern: &str, action: &str) -> bool {
    fn glob(pattern: &[u8], text: &[u8]) -> bool {
        match (pattern.first(), text.first()) {
            (None, None) => true,
            (Some(b'*'), _) => glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..])),
            (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
            (Some(p), Some(t)) if p.eq_ignore_ascii_case(t) => glob(&pattern[1..], &text[1..]),
            _ => false,
        }
    }
    glob(pattern.as_bytes(), action.as_bytes())
}

impl Statement {
    fn covers(&self, action: &str) -> bool {
        let any = self.actions.iter().any(|pattern| matches(pattern, action));
        match (self.negated, action) {
            // `NotAction` never grants all of `*`, it leaves something out; as a `Deny`, it takes
            // all but what it lists, and so `*` too.
            (true, "*") => self.effect == Effect::Deny,
            (true, _) => !any,
            (false, _) => any,
        }
    }

    /// Grants the action without limit: every resource, no condition.
    fn unlimited(&self) -> bool {
        self.every_resource && !self.conditional
    }
}

/// How far `policies` allow `action`, and the statements that allow it that far.
fn allowed<'a>(policies: &'a [Policy], action: &str) -> (Admin, Vec<(&'a Policy, &'a Statement)>) {
    let mut best: (Admin, Vec<(&Policy, &Statement)>) = (Admin::No, Vec::new());
    for policy in policies {
        for statement in policy.statements.iter().filter(|s| s.effect == Effect::Allow && s.covers(action)) {
            let level = if statement.unlimited() { Admin::Yes } else { Admin::Possible };
            if level > best.0 {
                best = (level, vec![(policy, statement)]);
            } else if level == best.0 {
                best.1.push((policy, statement));
            }
        }
    }
    let denied = policies
        .iter()
        .flat_map(|p| &p.statements)
        .filter(|s| s.effect == Effect::Deny && s.covers(action))
        .map(|s| if s.unlimited() { Admin::Yes } else { Admin::Possible })
        .max();
    match denied {
        Some(Admin::Yes) => (Admin::No, Vec::new()),
        Some(_) => (best.0.min(Admin::Possible), best.1),
        None => best,
    }
}

/// A capability: the actions it needs, and whether it makes its holder an administrator by
/// itself (`direct`) or only given something that may exist.
struct Capability {
    name: &'static str,
    actions: &'static [&'static str],
    direct: fn(Holder) -> bool,
}

const ALWAYS: fn(Holder) -> bool = |_| true;

/// A capability that needs something that may not exist: never more than `possible`.
const fn indirect(name: &'static str, actions: &'static [&'static str]) -> Capability {
    Capability { name, actions, direct: |_| false }
}

/// In the order they are reported: the widest first.
const CAPABILITIES: &[Capability] = &[
    Capability { name: "* on *", actions: &["*"], direct: ALWAYS },
    Capability { name: "full IAM (iam:*)", actions: &["iam:*"], direct: ALWAYS },
    Capability { name: "iam:CreatePolicyVersion", actions: &["iam:CreatePolicyVersion"], direct: ALWAYS },
    Capability {
        name: "iam:AttachUserPolicy",
        actions: &["iam:AttachUserPolicy"],
        direct: |holder| matches!(holder, Holder::User { .. }),
    },
    Capability {
        name: "iam:PutUserPolicy",
        actions: &["iam:PutUserPolicy"],
        direct: |holder| matches!(holder, Holder::User { .. }),
    },
    Capability {
        name: "iam:AttachGroupPolicy",
        actions: &["iam:AttachGroupPolicy"],
        direct: |holder| holder == Holder::User { in_group: true },
    },
    Capability {
        name: "iam:PutGroupPolicy",
        actions: &["iam:PutGroupPolicy"],
        direct: |holder| holder == Holder::User { in_group: true },
    },
    Capability { name: "iam:AttachRolePolicy", actions: &["iam:AttachRolePolicy"], direct: |h| h == Holder::Role },
    Capability { name: "iam:PutRolePolicy", actions: &["iam:PutRolePolicy"], direct: |h| h == Holder::Role },
    indirect("iam:SetDefaultPolicyVersion", &["iam:SetDefaultPolicyVersion"]),
    indirect("iam:AddUserToGroup", &["iam:AddUserToGroup"]),
    indirect("iam:CreateAccessKey", &["iam:CreateAccessKey"]),
    indirect("iam:CreateLoginProfile", &["iam:CreateLoginProfile"]),
    indirect("iam:UpdateLoginProfile", &["iam:UpdateLoginProfile"]),
    indirect("iam:UpdateAssumeRolePolicy with sts:AssumeRole", &["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"]),
    indirect("iam:PassRole with ec2:RunInstances", &["iam:PassRole", "ec2:RunInstances"]),
    indirect(
        "iam:PassRole with lambda:CreateFunction and lambda:InvokeFunction",
        &["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
    ),
    indirect(
        "iam:PassRole with lambda:CreateFunction and lambda:CreateEventSourceMapping",
        &["iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"],
    ),
    indirect("lambda:UpdateFunctionCode", &["lambda:UpdateFunctionCode"]),
    indirect("iam:PassRole with glue:CreateDevEndpoint", &["iam:PassRole", "glue:CreateDevEndpoint"]),
    indirect("glue:UpdateDevEndpoint", &["glue:UpdateDevEndpoint"]),
    indirect("iam:PassRole with cloudformation:CreateStack", &["iam:PassRole", "cloudformation:CreateStack"]),
    indirect(
        "iam:PassRole with datapipeline:CreatePipeline",
        &["iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"],
    ),
    indirect("sts:AssumeRole on any role", &["sts:AssumeRole"]),
];

/// The verdict on one identity: its level, and what grants it (`<capability> via <policy>
/// (<statement>)`): the widest capability at that level, and each other one that a statement
/// not named yet grants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdminFinding {
    pub admin: Admin,
    pub via: Vec<String>,
}

/// The account's policies, as `GetAccountAuthorizationDetails` describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    /// Managed policy ARN to its name and its default version's document.
    pub managed: BTreeMap<String, (String, String)>,
    /// Group name to its policies.
    pub groups: BTreeMap<String, Holdings>,
}

/// The policies an identity (or a group) holds: managed ones by ARN, inline ones by name with
/// their documents, its groups, and its permission boundary's ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holdings {
    pub attached: Vec<String>,
    pub inline: Vec<(String, String)>,
    pub groups: Vec<String>,
    pub boundary: Option<String>,
}

impl Authorization {
    /// Whether the identity holds any policy, directly or through a group.
    pub fn has_permissions(&self, holdings: &Holdings) -> bool {
        let holds = |h: &Holdings| !h.attached.is_empty() || !h.inline.is_empty();
        holds(holdings) || holdings.groups.iter().filter_map(|g| self.groups.get(g)).any(holds)
    }

    /// The identity's administrator finding over every policy it holds. A policy that cannot
    /// be read is named in `via` (and left out), so a finding never hides what it did not see.
    pub fn evaluate(&self, holder: Holder, holdings: &Holdings) -> AdminFinding {
        let mut policies = Vec::new();
        let mut unread = Vec::new();
        let mut add = |prefix: &str, holdings: &Holdings| {
            for arn in &holdings.attached {
                match self.managed.get(arn) {
                    Some((name, document)) => match Policy::parse(&format!("{prefix}{name}"), document) {
                        Ok(policy) => policies.push(policy),
                        Err(why) => unread.push(format!("{prefix}{name} ({why})")),
                    },
                    None => unread.push(format!("{prefix}{arn} (not in the account's details)")),
                }
            }
            for (name, document) in &holdings.inline {
                match Policy::parse(&format!("{prefix}inline:{name}"), document) {
                    Ok(policy) => policies.push(policy),
                    Err(why) => unread.push(format!("{prefix}inline:{name} ({why})")),
                }
            }
        };
        add("", holdings);
        for group in &holdings.groups {
            if let Some(group_holdings) = self.groups.get(group) {
                add(&format!("group {group}: "), group_holdings);
            }
        }
        let boundary = holdings.boundary.as_ref().map(|arn| match self.managed.get(arn) {
            Some((name, document)) => {
                Policy::parse(&format!("boundary {name}"), document).map_err(|why| format!("{name} ({why})"))
            }
            None => Err(format!("{arn} (not in the account's details)")),
        });
        let boundary = match boundary {
            Some(Ok(policy)) => Some(policy),
            Some(Err(why)) => {
                unread.push(format!("boundary {why}"));
                None
            }
            None => None,
        };
        let mut finding = evaluate_admin(holder, &policies, boundary.as_ref());
        if !unread.is_empty() {
            finding.via.push(format!("not evaluated: {}", unread.join(", ")));
        }
        finding
    }
}

/// Evaluates `policies` (every policy the identity holds), capped by `boundary` when it has one.
pub fn evaluate_admin(holder: Holder, policies: &[Policy], boundary: Option<&Policy>) -> AdminFinding {
    let mut finding = AdminFinding::default();
    let mut cited: Vec<String> = Vec::new();
    for capability in CAPABILITIES {
        let mut level = Admin::Yes;
        let mut grants: Vec<String> = Vec::new();
        for action in capability.actions {
            let (granted, by) = allowed(policies, action);
            let capped = match boundary {
                Some(boundary) => granted.min(allowed(std::slice::from_ref(boundary), action).0),
                None => granted,
            };
            level = level.min(capped);
            for (policy, statement) in by {
                let grant = format!("{} ({})", policy.name, statement.label);
                if !grants.contains(&grant) {
                    grants.push(grant);
                }
            }
        }
        if level == Admin::Yes && !(capability.direct)(holder) {
            level = Admin::Possible;
        }
        if level == Admin::No || level < finding.admin {
            continue;
        }
        if level > finding.admin {
            finding =
                AdminFinding { admin: level, via: vec![format!("{} via {}", capability.name, grants.join(", "))] };
            cited = grants;
            continue;
        }
        let new: Vec<String> = grants.into_iter().filter(|grant| !cited.contains(grant)).collect();
        if !new.is_empty() {
            finding.via.push(format!("{} via {}", capability.name, new.join(", ")));
            cited.extend(new);
        }
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, statements: &str) -> Policy {
        Policy::parse(name, &format!(r#"{{"Version": "2012-10-17", "Statement": {statements}}}"#)).expect("valid")
    }

    const USER: Holder = Holder::User { in_group: false };

    fn level(holder: Holder, policies: &[Policy], boundary: Option<&Policy>) -> (Admin, String) {
        let finding = evaluate_admin(holder, policies, boundary);
        (finding.admin, finding.via.first().cloned().unwrap_or_default())
    }

    #[test]
    fn each_path_to_administrator_is_found_and_named() {
        let admin = policy("AdministratorAccess", r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#);
        let expected = (Admin::Yes, "* on * via AdministratorAccess (statement 0)".to_owned());
        assert_eq!(level(USER, std::slice::from_ref(&admin), None), expected);
        let iam =
            policy("IAMFullAccess", r#"[{"Sid": "All", "Effect": "Allow", "Action": ["iam:*"], "Resource": "*"}]"#);
        let expected = (Admin::Yes, "full IAM (iam:*) via IAMFullAccess (All)".to_owned());
        assert_eq!(level(USER, std::slice::from_ref(&iam), None), expected);
        // Each grant is named once, under the widest capability it gives.
        let both = evaluate_admin(USER, &[admin, iam], None);
        assert_eq!(
            both.via,
            ["* on * via AdministratorAccess (statement 0)", "full IAM (iam:*) via IAMFullAccess (All)"]
        );
        // Case and wildcards in the middle of an action.
        let versions = policy("versions", r#"{"Effect": "Allow", "Action": "IAM:Create*Version", "Resource": "*"}"#);
        assert_eq!(level(Holder::Role, &[versions], None).0, Admin::Yes);
        let put_user = policy("inline:self", r#"{"Effect": "Allow", "Action": "iam:PutUserPolicy", "Resource": "*"}"#);
        assert_eq!(level(USER, std::slice::from_ref(&put_user), None).0, Admin::Yes);
        // A role cannot write a user policy onto itself: it needs a user to become.
        assert_eq!(level(Holder::Role, &[put_user], None).0, Admin::Possible);
        let group = policy("g", r#"{"Effect": "Allow", "Action": "iam:AttachGroupPolicy", "Resource": "*"}"#);
        assert_eq!(level(Holder::User { in_group: true }, std::slice::from_ref(&group), None).0, Admin::Yes);
        assert_eq!(level(USER, &[group], None).0, Admin::Possible, "only once it is in a group");
        // Passing a role needs a powerful role to pass: possible, and both statements named.
        let pass = policy(
            "deployer",
            r#"[{"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                {"Sid": "Run", "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}]"#,
        );
        assert_eq!(
            level(USER, &[pass], None),
            (Admin::Possible, "iam:PassRole with ec2:RunInstances via deployer (Pass), deployer (Run)".into())
        );
        // Across two policies, as a group's and the user's own combine.
        let lambda = [
            policy("a", r#"{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}"#),
            policy(
                "b",
                r#"{"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}"#,
            ),
        ];
        assert_eq!(level(USER, &lambda, None).0, Admin::Possible);
        let readonly = policy(
            "ReadOnly",
            r#"{"Effect": "Allow", "Action": ["s3:Get*", "iam:Get*", "iam:List*"], "Resource": "*"}"#,
        );
        assert_eq!(level(USER, &[readonly], None), (Admin::No, String::new()));
        assert_eq!(level(USER, &[], None).0, Admin::No);
    }

    #[test]
    fn denies_boundaries_resources_conditions_and_not_action_are_honoured() {
        let admin = policy("AdministratorAccess", r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#);
        // NotAction: everything but IAM is not everything, and leaves no IAM path...
        let but_iam =
            policy("PowerUser", r#"{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}"#);
        let (power, via) = level(USER, std::slice::from_ref(&but_iam), None);
        // ...but it still runs instances and creates functions with any role it may pass: none here.
        assert_eq!((power, via.as_str()), (Admin::Possible, "lambda:UpdateFunctionCode via PowerUser (statement 0)"));
        // NotAction that leaves IAM in grants it.
        let but_s3 = policy("NotS3", r#"{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}"#);
        assert_eq!(level(USER, &[but_s3], None).1, "full IAM (iam:*) via NotS3 (statement 0)");
        // A Deny on every resource removes the action; a narrower one leaves it possible.
        let only_s3 = policy("only-s3", r#"{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}"#);
        assert_eq!(level(USER, &[admin.clone(), only_s3], None).0, Admin::No, "a Deny of all but S3");
        let deny_all = policy("deny", r#"{"Effect": "Deny", "Action": "*", "Resource": "*"}"#);
        assert_eq!(level(USER, &[admin.clone(), deny_all], None).0, Admin::No);
        let deny_some = policy(
            "deny",
            r#"{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}"#,
        );
        assert_eq!(level(USER, &[admin.clone(), deny_some], None).0, Admin::Possible);
        // A condition or named resources on the grant: possible.
        let scoped = policy(
            "scoped",
            r#"{"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::111122223333:user/ci-*"}"#,
        );
        assert_eq!(level(USER, &[scoped], None).0, Admin::Possible);
        let not_resource = policy("nr", r#"{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::audit/*"}"#);
        assert_eq!(level(USER, &[not_resource], None).0, Admin::Possible);
        // A boundary caps it: nothing it does not allow, possible where it is narrower.
        let s3_only = policy("boundary", r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#);
        assert_eq!(level(USER, std::slice::from_ref(&admin), Some(&s3_only)).0, Admin::No);
        let conditional = policy(
            "boundary",
            r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}"#,
        );
        assert_eq!(level(USER, &[admin], Some(&conditional)).0, Admin::Possible);
    }

    #[test]
    fn an_identity_is_evaluated_over_its_own_and_its_groups_policies_within_its_boundary() {
        let document = |statement: &str| format!(r#"{{"Version": "2012-10-17", "Statement": [{statement}]}}"#);
        let admin_arn = "arn:aws:iam::aws:policy/AdministratorAccess";
        let s3_arn = "arn:aws:iam::111122223333:policy/s3-only";
        let authorization = Authorization {
            managed: BTreeMap::from([
                (
                    admin_arn.to_owned(),
                    (
                        "AdministratorAccess".to_owned(),
                        document(r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#),
                    ),
                ),
                (
                    s3_arn.to_owned(),
                    ("s3-only".to_owned(), document(r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#)),
                ),
            ]),
            groups: BTreeMap::from([(
                "ops".to_owned(),
                Holdings { attached: vec![admin_arn.to_owned()], ..Holdings::default() },
            )]),
        };
        let in_ops = Holdings { groups: vec!["ops".into()], ..Holdings::default() };
        let finding = authorization.evaluate(Holder::User { in_group: true }, &in_ops);
        assert_eq!(finding.admin, Admin::Yes);
        assert_eq!(finding.via[0], "* on * via group ops: AdministratorAccess (statement 0)");
        assert!(authorization.has_permissions(&in_ops), "through its group");
        let bounded = Holdings { boundary: Some(s3_arn.to_owned()), ..in_ops.clone() };
        assert_eq!(authorization.evaluate(Holder::User { in_group: true }, &bounded).admin, Admin::No);
        // A policy it cannot read is named, never silently left out.
        let unknown = Holdings {
            attached: vec!["arn:aws:iam::111122223333:policy/gone".into()],
            inline: vec![("broken".into(), "{".into())],
            ..Holdings::default()
        };
        let finding = authorization.evaluate(Holder::Role, &unknown);
        assert_eq!(finding.admin, Admin::No);
        assert!(
            finding.via[0].starts_with(
                "not evaluated: arn:aws:iam::111122223333:policy/gone (not in the account's details), inline:broken ("
            ),
            "{:?}",
            finding.via
        );
        assert!(!authorization.has_permissions(&Holdings::default()));
    }

    #[test]
    fn policy_documents_are_read_as_iam_returns_them_or_refused_naming_the_statement() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%7D";
        assert_eq!(evaluate_admin(USER, &[Policy::parse("p", encoded).expect("decoded")], None).admin, Admin::Yes);
        let err =
            Policy::parse("p", r#"{"Statement": [{"Effect": "Allow", "Resource": "*"}]}"#).expect_err("no action");
        assert_eq!(err, "statement 0 needs Action or NotAction, not both or neither");
        let err = Policy::parse("p", r#"{"Statement": {"Effect": "Maybe", "Action": "*"}}"#).expect_err("effect");
        assert!(err.contains("Effect Some(\"Maybe\")"), "{err}");
    }
}
