//! An [`Aws`] per account: the function's own for the account it runs in, the member
//! role's (STS `AssumeRole`, with the external id) for every other one. Credentials are
//! cached per account until five minutes before they expire, so a warm function assumes
//! each role about once an hour, not once per run.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use tokio::sync::OnceCell;

use super::{Account, AccountsConfig};
use crate::aws::Aws;

/// Credentials are replaced this long before they expire: a run must not start an
/// account's work with credentials that die half way through it.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// Why an account could not be reached, with the role it tried and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error(
        "cannot assume {role_arn} ({message}): deploy member-role.yaml to account {account} (the StackSet's OUs must include it) with HubRoleArns naming this function's role (the hub stack's output <Function>RoleArn) and ExternalId equal to MEMBER_EXTERNAL_ID, or add the account to EXCLUDE_ACCOUNTS"
    )]
    Denied { account: String, role_arn: String, message: String },
    #[error("assuming {role_arn} in account {account} failed: {message}")]
    Call { account: String, role_arn: String, message: String, transient: bool },
    #[error("this function's own account could not be read (STS GetCallerIdentity: {message})")]
    Identity { message: String, transient: bool },
}

impl AccessError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Call { transient: true, .. } | Self::Identity { transient: true, .. })
    }
}

/// Reaches accounts for one function. Built once at cold start; shared by its invocations.
#[derive(Debug)]
pub struct MemberAccess {
    hub: Aws,
    sts: aws_sdk_sts::Client,
    role_name: String,
    external_id: Option<String>,
    /// Names the function in the member account's CloudTrail.
    session_name: String,
    own_account: OnceCell<String>,
    cache: Mutex<HashMap<String, Credentials>>,
}

impl MemberAccess {
    /// `session_name`: what CloudTrail in each member account shows as the session, such as
    /// the function's name (at most 64 characters of `[\w+=,.@-]`).
    pub fn new(hub: &Aws, config: &AccountsConfig, session_name: &str) -> Self {
        Self {
            hub: hub.clone(),
            sts: crate::aws_client!(aws_sdk_sts, hub),
            role_name: config.role_name.clone(),
            external_id: config.external_id.clone(),
            session_name: session_name.chars().take(64).collect(),
            own_account: OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The account the function runs in (STS `GetCallerIdentity`, once per process).
    pub async fn own_account(&self) -> Result<&str, AccessError> {
        self.own_account
            .get_or_try_init(|| async {
                let identity = self.sts.get_caller_identity().send().await.map_err(|err| AccessError::Identity {
                    message: crate::error::describe(&err),
                    transient: crate::error::is_transient(&err),
                })?;
                Ok(identity.account().unwrap_or_default().to_owned())
            })
            .await
            .map(String::as_str)
    }

    /// The member role's ARN in `account`.
    pub fn role_arn(&self, account: &str) -> String {
        let region = self.hub.sdk_config().region().map(|region| region.as_ref().to_owned()).unwrap_or_default();
        format!("arn:{}:iam::{account}:role/{}", partition_of(&region), self.role_name)
    }

    /// Clients for `account`: the function's own in its own account, the member role's elsewhere.
    pub async fn aws_for(&self, account: &Account) -> Result<Aws, AccessError> {
        if account.id == self.own_account().await? {
            return Ok(self.hub.clone());
        }
        let cached = self.cache.lock().ok().and_then(|cache| cache.get(&account.id).cloned());
        let fresh = cached.filter(|credentials| {
            credentials.expiry().is_some_and(|expiry| expiry > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
        });
        let credentials = match fresh {
            Some(credentials) => credentials,
            None => {
                let credentials = self.assume(&account.id).await?;
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(account.id.clone(), credentials.clone());
                }
                credentials
            }
        };
        Ok(self.hub.with_credentials(credentials))
    }

    async fn assume(&self, account: &str) -> Result<Credentials, AccessError> {
        let role_arn = self.role_arn(account);
        let answer = self
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.clone())
            .send()
            .await
            .map_err(|err| {
                let message = crate::error::describe(&err);
                match crate::error::code(&err) {
                    // AWS answers the same for a missing role, a trust policy that does not
                    // name this function's role, and a wrong external id: it does not say which.
                    Some("AccessDenied" | "AccessDeniedException") => {
                        AccessError::Denied { account: account.to_owned(), role_arn: role_arn.clone(), message }
                    }
                    _ => AccessError::Call {
                        account: account.to_owned(),
                        role_arn: role_arn.clone(),
                        message,
                        transient: crate::error::is_transient(&err),
                    },
                }
            })?;
        let Some(credentials) = answer.credentials() else {
            return Err(AccessError::Call {
                account: account.to_owned(),
                role_arn,
                message: "STS answered without credentials".to_owned(),
                transient: true,
            });
        };
        let expiry = SystemTime::try_from(*credentials.expiration()).ok();
        Ok(Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_owned()),
            expiry,
            "member-role",
        ))
    }
}

/// The ARN partition of a region: `aws-cn` in China, `aws-us-gov` in GovCloud, `aws` elsewhere.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}
