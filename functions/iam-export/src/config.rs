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
            metrics: shared::metrics::MetricsConfig::from_env(env, "iam-export")?,
            accounts: AccountsConfig::from_env(env)?,
        })
    }
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
        ] {
            let err = parse_settings(Config::from_env, pairs).expect_err("invalid");
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
