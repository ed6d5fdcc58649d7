//! The report's settings, read once at cold start. Every channel is optional, but
//! at least one must be set.

use std::fmt;

use rust_decimal::Decimal;
use shared::config::{ConfigError, Env};

use crate::core::{Alerts, BudgetChoice, GroupBy, Metric, RecordTypes};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvTarget {
    pub bucket: String,
    /// `REPORT_BUCKET_OWNER`: the account that must own the bucket; S3 refuses any other.
    pub bucket_owner: Option<String>,
    /// Without leading or trailing slashes; may be empty.
    pub prefix: String,
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTarget {
    pub from: String,
    pub to: Vec<String>,
}

/// A webhook URL: a secret, so its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The hosts of Slack's incoming webhooks (hooks.slack-gov.com is GovSlack's).
const SLACK_WEBHOOK_HOSTS: [&str; 2] = ["hooks.slack.com", "hooks.slack-gov.com"];

/// Where a webhook URL may send the report. Whoever can write the setting or the secret
/// would otherwise choose where the report goes: any host, or the Lambda Runtime API on
/// 127.0.0.1. So only Slack's hosts, over HTTPS; and this machine too when the AWS
/// endpoint is overridden (`AWS_ENDPOINT_URL`), which is a local run against an emulator
/// (the tests and the demo post to a local listener), never a deployed function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookHosts {
    Slack,
    SlackAndThisMachine,
}

impl WebhookHosts {
    pub fn from_env(env: &Env) -> Self {
        if env.optional("AWS_ENDPOINT_URL").is_some() { Self::SlackAndThisMachine } else { Self::Slack }
    }

    /// Whether `url` is an incoming webhook these hosts take: `https://<Slack's host>/...`
    /// (no port, no user, nothing that makes another host of it), or a local `http://` one.
    fn allow(self, url: &str) -> bool {
        let slack = url.strip_prefix("https://").and_then(|rest| rest.split_once('/')).is_some_and(|(host, path)| {
            SLACK_WEBHOOK_HOSTS.contains(&host) && !path.is_empty() && !path.contains(['\\', '@', ' '])
        });
        let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
        slack || (self == Self::SlackAndThisMachine && local.iter().any(|prefix| url.starts_with(prefix)))
    }

    fn expected(self) -> &'static str {
        match self {
            Self::Slack => "a Slack incoming-webhook URL, https://hooks.slack.com/services/...",
            Self::SlackAndThisMachine => {
                "a Slack incoming-webhook URL, https://hooks.slack.com/services/..., or http://localhost:<port>/... (AWS_ENDPOINT_URL is set)"
            }
        }
    }
}

impl SecretUrl {
    /// A webhook URL from setting `name`, or why not (without showing the value).
    pub fn parse(name: &'static str, url: String, hosts: WebhookHosts) -> Result<Self, ConfigError> {
        if hosts.allow(&url) {
            Ok(Self(url))
        } else {
            Err(ConfigError::InvalidSecret { name, expected: hosts.expected().to_owned() })
        }
    }

    /// The URL in a Secrets Manager secret's string: the URL itself, or a JSON object
    /// holding it as `url` or `webhook_url` (the console's key/value form).
    pub fn from_secret_string(secret: &str, hosts: WebhookHosts) -> Result<Self, String> {
        let text = secret.trim();
        let url = if text.starts_with('{') {
            let object: serde_json::Value =
                serde_json::from_str(text).map_err(|_| "the secret is neither a URL nor a JSON object".to_owned())?;
            ["url", "webhook_url"]
                .iter()
                .find_map(|key| object.get(key).and_then(serde_json::Value::as_str))
                .ok_or("the secret's JSON has no \"url\" or \"webhook_url\" key")?
                .to_owned()
        } else {
            text.to_owned()
        };
        Self::parse("SLACK_WEBHOOK_SECRET_ARN", url, hosts)
            .map_err(|_| format!("the secret's value is not {}", hosts.expected()))
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretUrl(***)")
    }
}

/// Where the Slack webhook URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackSource {
    /// `SLACK_WEBHOOK_URL`: simple, for local runs; on AWS anyone who may read the
    /// function's configuration can read it.
    Url(SecretUrl),
    /// `SLACK_WEBHOOK_SECRET_ARN`: read from Secrets Manager once, at cold start.
    Secret { arn: String },
}

/// When email and Slack are sent. The CSV is always written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    Always,
    OnAlert,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub csv: Option<CsvTarget>,
    pub email: Option<EmailTarget>,
    pub slack: Option<SlackSource>,
    /// Where a webhook URL, set or read from the secret, may point.
    pub webhook_hosts: WebhookHosts,
    pub top_n: usize,
    pub metric: Metric,
    pub group_by: GroupBy,
    /// `INCLUDE_CREDITS`: whether credits, refunds and discounts count (by default they do not).
    pub record_types: RecordTypes,
    pub alerts: Alerts,
    pub notify: Notify,
    /// `BUDGET`: the AWS Budget the month is compared with.
    pub budget: BudgetChoice,
    /// `BUDGET_ALERT_PERCENT`: alert when the month's cost reaches this share of the budget.
    pub budget_alert_percent: Decimal,
    /// Where the run's metrics go (CloudWatch Embedded Metric Format on stdout).
    pub metrics: shared::metrics::MetricsConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let bucket_owner = env.account_id("REPORT_BUCKET_OWNER")?;
        let csv = env.optional("REPORT_BUCKET").map(|bucket| CsvTarget {
            bucket,
            bucket_owner,
            prefix: env.report_prefix("cost-report"),
            kms_key_id: env.optional("KMS_KEY_ID"),
        });
        let email = match (env.optional("SES_FROM"), env.optional("SES_TO")) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    name: "SES_TO",
                    expected: "comma-separated recipient addresses (SES_FROM is set)",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    name: "SES_FROM",
                    expected: "the verified sender address (SES_TO is set)",
                });
            }
            (Some(from), Some(to)) => {
                let to: Vec<String> =
                    to.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect();
                if let Some(bad) = to.iter().chain(std::iter::once(&from)).find(|a| !looks_like_address(a)) {
                    let name = if *bad == from { "SES_FROM" } else { "SES_TO" };
                    return Err(ConfigError::invalid(
                        name,
                        bad.clone(),
                        "email addresses like ops@example.com, comma-separated for SES_TO",
                    ));
                }
                Some(EmailTarget { from, to })
            }
        };
        let webhook_hosts = WebhookHosts::from_env(env);
        let slack = match (env.optional("SLACK_WEBHOOK_URL"), env.optional("SLACK_WEBHOOK_SECRET_ARN")) {
            (None, None) => None,
            (Some(url), None) => Some(SlackSource::Url(SecretUrl::parse("SLACK_WEBHOOK_URL", url, webhook_hosts)?)),
            (None, Some(arn)) if arn.starts_with("arn:") && arn.contains(":secretsmanager:") => {
                Some(SlackSource::Secret { arn })
            }
            (None, Some(arn)) => {
                return Err(ConfigError::invalid(
                    "SLACK_WEBHOOK_SECRET_ARN",
                    arn,
                    "the ARN of a Secrets Manager secret, arn:aws:secretsmanager:<region>:<account>:secret:<name>",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::InvalidSecret {
                    name: "SLACK_WEBHOOK_URL",
                    expected:
                        "one of SLACK_WEBHOOK_URL and SLACK_WEBHOOK_SECRET_ARN, not both: unset SLACK_WEBHOOK_URL"
                            .to_owned(),
                });
            }
        };
        if csv.is_none() && email.is_none() && slack.is_none() {
            return Err(ConfigError::Missing {
                name: "REPORT_BUCKET",
                expected: "a bucket for the CSV; or set SES_FROM and SES_TO, or SLACK_WEBHOOK_URL: the report needs somewhere to go",
            });
        }
        let top_n = env.parse_or("TOP_N", 10usize, "a whole number from 1 to 100")?;
        if !(1..=100).contains(&top_n) {
            return Err(ConfigError::invalid("TOP_N", top_n.to_string(), "a whole number from 1 to 100"));
        }
        let metric = env.parse_or("COST_METRIC", Metric::UnblendedCost, Metric::FORM)?;
        let group_by = env.parse_or("GROUP_BY", GroupBy::service(), GroupBy::FORM)?;
        let record_types = if env.bool_or("INCLUDE_CREDITS", false)? { RecordTypes::All } else { RecordTypes::Usage };
        let amount = |name: &'static str, form: &str| -> Result<Option<Decimal>, ConfigError> {
            env.optional(name)
                .map(|value| {
                    value
                        .parse::<Decimal>()
                        .ok()
                        .filter(|d| *d >= Decimal::ZERO)
                        .ok_or_else(|| ConfigError::invalid(name, value, form))
                })
                .transpose()
        };
        let alerts = Alerts {
            daily_above: amount("ALERT_DAILY_ABOVE", "an amount in the report's currency, like 250 or 99.50")?,
            change_pct_above: amount("ALERT_CHANGE_PCT", "a percentage, like 20 for a 20% rise")?,
        };
        let notify = match env.optional("NOTIFY").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("always") => Notify::Always,
            Some("on_alert") => Notify::OnAlert,
            Some(other) => return Err(ConfigError::invalid("NOTIFY", other.to_owned(), "always or on_alert")),
        };
        let budget = match env.optional("BUDGET") {
            None => BudgetChoice::Account,
            Some(value) if value.eq_ignore_ascii_case("auto") => BudgetChoice::Account,
            Some(value) if value.eq_ignore_ascii_case("off") => BudgetChoice::Off,
            Some(name) => BudgetChoice::Named(name),
        };
        let budget_alert_percent =
            amount("BUDGET_ALERT_PERCENT", "a percentage of the budget, like 80")?.unwrap_or(Decimal::from(80));
        let metrics = shared::metrics::MetricsConfig::from_env(env, "cost-report")?;
        Ok(Self {
            csv,
            email,
            slack,
            webhook_hosts,
            top_n,
            metric,
            group_by,
            record_types,
            alerts,
            notify,
            budget,
            budget_alert_percent,
            metrics,
        })
    }
}

fn looks_like_address(address: &str) -> bool {
    address
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !address.contains(' '))
}

#[cfg(test)]
mod tests {
    use shared::config::parse_settings;

    use super::*;

    #[test]
    fn channels_are_optional_but_one_is_needed() {
        let err = parse_settings(Config::from_env, &[]).expect_err("no channel");
        assert!(
            err.starts_with("missing setting REPORT_BUCKET: set it to a bucket for the CSV; or set SES_FROM"),
            "{err}"
        );
        let config =
            parse_settings(Config::from_env, &[("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X")])
                .expect("slack only");
        assert!(config.csv.is_none() && config.email.is_none());
        assert_eq!(format!("{:?}", config.slack), "Some(Url(SecretUrl(***)))", "the secret never shows in Debug");
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-webhook-AbCdEf";
        let config = parse_settings(Config::from_env, &[("SLACK_WEBHOOK_SECRET_ARN", arn)]).expect("slack secret");
        assert_eq!(config.slack, Some(SlackSource::Secret { arn: arn.to_owned() }));
        let config = parse_settings(
            Config::from_env,
            &[
                ("REPORT_BUCKET", "finance"),
                ("SES_FROM", "costs@example.com"),
                ("SES_TO", "a@example.com, b@example.com"),
            ],
        )
        .expect("csv and email");
        assert_eq!(config.email.map(|e| e.to), Some(vec!["a@example.com".to_owned(), "b@example.com".to_owned()]));
        assert_eq!(config.csv.map(|c| c.prefix), Some("cost-report".to_owned()));
    }

    #[test]
    fn the_budget_is_the_accounts_unless_named_or_off() {
        for (value, expected) in [
            (None, BudgetChoice::Account),
            (Some("auto"), BudgetChoice::Account),
            (Some("OFF"), BudgetChoice::Off),
            (Some("Team data"), BudgetChoice::Named("Team data".to_owned())),
        ] {
            let mut pairs = vec![("REPORT_BUCKET", "b")];
            pairs.extend(value.map(|v| ("BUDGET", v)));
            let config = parse_settings(Config::from_env, &pairs).expect("valid");
            assert_eq!((config.budget, config.budget_alert_percent), (expected, Decimal::from(80)), "{value:?}");
        }
        let config = parse_settings(Config::from_env, &[("REPORT_BUCKET", "b"), ("BUDGET_ALERT_PERCENT", "95.5")])
            .expect("valid");
        assert_eq!(config.budget_alert_percent.to_string(), "95.5");
    }

    #[test]
    fn errors_name_the_setting_and_never_show_the_secret() {
        let secret = "http://hooks.example.com/services/T000/B000/very-secret-token";
        for (pairs, expected) in [
            (&[("SES_FROM", "costs@example.com")][..], "missing setting SES_TO"),
            (&[("SES_TO", "a@example.com")][..], "missing setting SES_FROM"),
            (&[("SES_FROM", "costs"), ("SES_TO", "a@example.com")][..], "invalid setting SES_FROM=\"costs\""),
            (
                &[("SLACK_WEBHOOK_URL", secret)][..],
                "invalid setting SLACK_WEBHOOK_URL (its value is a secret and is not shown)",
            ),
            (&[("REPORT_BUCKET", "b"), ("TOP_N", "0")][..], "invalid setting TOP_N=\"0\""),
            (
                &[("SLACK_WEBHOOK_URL", secret), ("SLACK_WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:x")][..],
                "invalid setting SLACK_WEBHOOK_URL (its value is a secret and is not shown): expected one of",
            ),
            (
                &[("SLACK_WEBHOOK_SECRET_ARN", "slack-webhook")][..],
                "invalid setting SLACK_WEBHOOK_SECRET_ARN=\"slack-webhook\"",
            ),
            (
                &[("REPORT_BUCKET", "b"), ("COST_METRIC", "BlendedCost")][..],
                "invalid setting COST_METRIC=\"BlendedCost\": expected UnblendedCost, AmortizedCost",
            ),
            (
                &[("REPORT_BUCKET", "b"), ("GROUP_BY", "REGION")][..],
                "invalid setting GROUP_BY=\"REGION\": expected one or two of SERVICE, LINKED_ACCOUNT, TAG:<cost allocation tag key> and COST_CATEGORY:<name>",
            ),
            (
                &[("REPORT_BUCKET", "b"), ("ALERT_DAILY_ABOVE", "lots")][..],
                "invalid setting ALERT_DAILY_ABOVE=\"lots\"",
            ),
            (
                &[("REPORT_BUCKET", "b"), ("NOTIFY", "sometimes")][..],
                "invalid setting NOTIFY=\"sometimes\": expected always or on_alert",
            ),
            (
                &[("REPORT_BUCKET", "b"), ("BUDGET_ALERT_PERCENT", "most")][..],
                "invalid setting BUDGET_ALERT_PERCENT=\"most\": expected a percentage of the budget, like 80",
            ),
        ] {
            let err = parse_settings(Config::from_env, pairs).expect_err("invalid");
            assert!(err.starts_with(expected), "{err}");
            assert!(!err.contains("very-secret-token"));
        }
    }

    #[test]
    fn a_secret_holds_the_url_itself_or_as_json() {
        let url = "https://hooks.slack.com/services/T000/B000/very-secret-token";
        for secret in [
            url.to_owned(),
            format!("{url}\n"),
            format!(r#"{{"url": "{url}"}}"#),
            format!(r#"{{"webhook_url": "{url}", "channel": "costs"}}"#),
        ] {
            let parsed = SecretUrl::from_secret_string(&secret, WebhookHosts::Slack).expect("a webhook");
            assert_eq!(parsed.expose(), url);
        }
        for (secret, expected) in [
            ("not a url", "the secret's value is not a Slack incoming-webhook URL"),
            (r#"{"token": "xoxb-very-secret-token"}"#, "the secret's JSON has no \"url\" or \"webhook_url\" key"),
            ("{very-secret-token", "the secret is neither a URL nor a JSON object"),
        ] {
            let err = SecretUrl::from_secret_string(secret, WebhookHosts::Slack).expect_err(secret);
            assert!(err.starts_with(expected), "{err}");
            assert!(!err.contains("very-secret-token"));
        }
    }

    #[test]
    fn a_webhook_goes_to_slack_and_to_this_machine_only_in_a_local_run() {
        use WebhookHosts::{Slack, SlackAndThisMachine};
        for (url, deployed, local) in [
            ("https://hooks.slack.com/services/T000/B000/XXXX", true, true),
            ("https://hooks.slack-gov.com/services/T000/B000/XXXX", true, true),
            ("https://hooks.slack.com/workflows/T000/A000/123/XXXX", true, true),
            ("https://hooks.slack.com/", false, false),
            ("https://hooks.slack.com", false, false),
            ("http://hooks.slack.com/services/T000/B000/XXXX", false, false),
            ("https://hooks.slack.com:8443/services/T000/B000/XXXX", false, false),
            ("https://hooks.slack.com.example.com/services/T000/B000/XXXX", false, false),
            ("https://evil.example.com/hooks.slack.com/services/T000", false, false),
            ("https://hooks.slack.com@evil.example.com/services/T000", false, false),
            ("https://hooks.slack.com/services/T000@evil.example.com", false, false),
            ("https://hooks.slack.com\\@evil.example.com/services/T000", false, false),
            ("https://example.com/webhook", false, false),
            // The Lambda Runtime API, and any local listener: only in a local run.
            ("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", false, true),
            ("http://localhost:8080/slack", false, true),
            ("http://[::1]:8080/slack", false, true),
            ("http://127.0.0.1.example.com/slack", false, false),
        ] {
            assert_eq!((Slack.allow(url), SlackAndThisMachine.allow(url)), (deployed, local), "{url}");
        }
        let local = "http://127.0.0.1:9001/slack";
        let err = parse_settings(Config::from_env, &[("SLACK_WEBHOOK_URL", local)]).expect_err("deployed");
        assert!(err.ends_with("expected a Slack incoming-webhook URL, https://hooks.slack.com/services/..."), "{err}");
        let config = parse_settings(
            Config::from_env,
            &[("SLACK_WEBHOOK_URL", local), ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")],
        )
        .expect("a local run");
        assert_eq!(config.webhook_hosts, SlackAndThisMachine);
        let err = SecretUrl::from_secret_string(local, Slack).expect_err("deployed");
        assert!(err.starts_with("the secret's value is not a Slack incoming-webhook URL"), "{err}");
        assert!(SecretUrl::from_secret_string(local, SlackAndThisMachine).is_ok());
    }
}
