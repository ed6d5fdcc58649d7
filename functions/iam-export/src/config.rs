//! The export's settings, read once at cold start.

use shared::accounts::AccountsConfig;
use shared::config::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub report_bucket: String,
    /// `REPORT_BUCKET_OWNER`: the account that must own the bucket; S3 refuses any other.
    pub report_bucket_owner: Option<String>,
    /// Without leading or trailing slashes; may be empty.
    pub report_prefix: String,
    /// SSE-KMS with this key when set, SSE-S3 otherwise.
    pub kms_key_id: Option<String>,
    pub include_roles: bool,
    /// `ACCESS_KEY_IDS`: `findings` (the keys a finding names) or `all`.
    pub access_key_ids: crate::core::KeyIds,
    /// `IDENTITY_CENTER`: export Identity Center's users and access when an instance is visible.
    pub identity_center: bool,
    /// `IDENTITY_CENTER_REGION`: where the instance lives; `None`: the function's own region.
    pub identity_center_region: Option<String>,
    /// Where the run's metrics go (CloudWatch Embedded Metric Format on stdout).
    pub metrics: shared::metrics::MetricsConfig,
    /// Which accounts a run exports (`ACCOUNTS` and the settings beside it); empty: this one.
    pub accounts: AccountsConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let report_bucket = env.required("REPORT_BUCKET", "the name of the S3 bucket that receives the CSV files")?;
        if !shared::config::is_bucket_name(&report_bucket) {
            return Err(ConfigError::Invalid {
                name: "REPORT_BUCKET",
                value: report_bucket,
                expected:
                    "a bucket name (3 to 63 lowercase letters, digits, dots and hyphens), not an ARN or s3:// URL"
                        .to_owned(),
            });
        }
        Ok(Self {
            report_bucket,
            report_bucket_owner: env.account_id("REPORT_BUCKET_OWNER")?,
            report_prefix: env.report_prefix("iam-export"),
            kms_key_id: env.optional("KMS_KEY_ID"),
            include_roles: env.bool_or("INCLUDE_ROLES", false)?,
            access_key_ids: match env.optional("ACCESS_KEY_IDS").as_deref() {
                None | Some("findings") => crate::core::KeyIds::Findings,
                Some("all") => crate::core::KeyIds::All,
                Some(other) => {
                    return Err(ConfigError::invalid(
                        "ACCESS_KEY_IDS",
                        other,
                        "findings (the ids of the keys a finding names) or all (every key's, one request per user with a key)",
                    ));
                }
            },
            identity_center: env.bool_or("IDENTITY_CENTER", true)?,
            identity_center_region: match env.optional("IDENTITY_CENTER_REGION") {
                Some(region) if !is_region(&region) => {
                    return Err(ConfigError::invalid(
                        "IDENTITY_CENTER_REGION",
                        region,
                        "a region code such as eu-west-1 (the region of the Identity Center instance), or empty for the function's own",
                    ));
                }
                region => region,
            },
            metrics: shared::metrics::MetricsConfig::from_env(env, "iam-export")?,
            accounts: AccountsConfig::from_env(env)?,
        })
    }
}

/// `eu-west-1`, `us-gov-west-1`: lowercase letters and digits in dash-separated parts.
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use shared::config::parse_settings;

    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let config = parse_settings(Config::from_env, &[("REPORT_BUCKET", "audit-bucket")]).expect("valid");
        assert_eq!(
            config,
            Config {
                report_bucket: "audit-bucket".into(),
                report_bucket_owner: None,
                report_prefix: "iam-export".into(),
                kms_key_id: None,
                include_roles: false,
                access_key_ids: crate::core::KeyIds::Findings,
                identity_center: true,
                identity_center_region: None,
                metrics: shared::metrics::MetricsConfig::local("iam-export"),
                accounts: AccountsConfig::default(),
            }
        );
        let config = parse_settings(
            Config::from_env,
            &[
                ("REPORT_BUCKET", "audit-bucket"),
                ("REPORT_PREFIX", "/audit/iam/"),
                ("KMS_KEY_ID", "alias/audit"),
                ("INCLUDE_ROLES", "true"),
            ],
        )
        .expect("valid");
        assert_eq!(config.report_prefix, "audit/iam");
        assert_eq!(config.kms_key_id.as_deref(), Some("alias/audit"));
        let elsewhere = parse_settings(
            Config::from_env,
            &[("REPORT_BUCKET", "audit-bucket"), ("IDENTITY_CENTER_REGION", "eu-west-1")],
        )
        .expect("valid");
        assert_eq!(elsewhere.identity_center_region.as_deref(), Some("eu-west-1"));
        let every = parse_settings(Config::from_env, &[("REPORT_BUCKET", "audit-bucket"), ("ACCESS_KEY_IDS", "all")])
            .expect("valid");
        assert_eq!(every.access_key_ids, crate::core::KeyIds::All);
        assert!(config.include_roles);
    }

    #[test]
    fn errors_name_the_setting() {
        for (pairs, expected) in [
            (&[][..], "missing setting REPORT_BUCKET: set it to the name of the S3 bucket that receives the CSV files"),
            (
                &[("REPORT_BUCKET", "s3://audit")][..],
                "invalid setting REPORT_BUCKET=\"s3://audit\": expected a bucket name",
            ),
            (&[("REPORT_BUCKET", "Audit")][..], "invalid setting REPORT_BUCKET=\"Audit\""),
            (
                &[("REPORT_BUCKET", "audit"), ("INCLUDE_ROLES", "sometimes")][..],
                "invalid setting INCLUDE_ROLES=\"sometimes\": expected true or false",
            ),
            (
                &[("REPORT_BUCKET", "audit"), ("ACCESS_KEY_IDS", "some")][..],
                "invalid setting ACCESS_KEY_IDS=\"some\": expected findings",
            ),
            (
                &[("REPORT_BUCKET", "audit"), ("IDENTITY_CENTER_REGION", "Ireland")][..],
                "invalid setting IDENTITY_CENTER_REGION=\"Ireland\": expected a region code such as eu-west-1",
            ),
        ] {
            let err = parse_settings(Config::from_env, pairs).expect_err("invalid");
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
