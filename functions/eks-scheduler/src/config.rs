//! The scheduler's settings, read once at cold start.

use std::collections::BTreeMap;

use shared::accounts::AccountsConfig;
use shared::config::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Clusters tagged `<stop_tag>=true` are stopped by `action: stop`.
    pub stop_tag: String,
    /// Clusters tagged `<start_tag>=true` are started by `action: start`.
    pub start_tag: String,
    /// The tag holding a cluster's own schedule, for `action: auto`.
    pub schedule_tag: String,
    /// The tag naming the clusters a cluster needs (space-separated).
    pub dependency_tag: String,
    /// The zone of schedule tags that give no `tz=`.
    pub default_timezone: String,
    /// Clusters handled at once within a wave.
    pub max_concurrency: usize,
    /// The SNS topic told what each run did, per cluster (`NOTIFY_TOPIC_ARN`).
    pub notify_topic_arn: Option<String>,
    /// The EventBridge bus that receives an event per cluster acted on (`EVENT_BUS_NAME`).
    pub event_bus: Option<String>,
    /// Where the run's metrics go (CloudWatch Embedded Metric Format on stdout).
    pub metrics: shared::metrics::MetricsConfig,
    /// Which accounts a run covers (`ACCOUNTS` and the settings beside it); empty: this one.
    pub accounts: AccountsConfig,
    /// `REGIONS`: where clusters are looked for in each account; empty: the function's own region.
    pub regions: Vec<String>,
    /// `CLUSTER_NAME_PATTERN`: an IAM wildcard of the cluster names the run acts on, the same
    /// as the role's resource ARNs (`*` by default).
    pub cluster_name_pattern: String,
    /// `IN_VPC`: the function runs in the clusters' VPC (the template's
    /// `KubernetesApiSubnetIds`), so a private Kubernetes API endpoint is reached.
    pub in_vpc: bool,
    /// `KUBERNETES_ENDPOINT_URLS`: `<cluster>=<url>` pairs reaching a cluster's Kubernetes API
    /// somewhere other than its own endpoint, trusting the system's roots, for local stand-ins
    /// (as `AWS_ENDPOINT_URL` does for AWS); empty in a deployment.
    pub kubernetes_endpoints: BTreeMap<String, String>,
    /// `REPORT_BUCKET`: where the savings ledger goes (with `REPORT_BUCKET_OWNER`, the account
    /// that must own it); `None`: no ledger, and no savings.
    pub report_bucket: Option<String>,
    pub report_bucket_owner: Option<String>,
    /// `REPORT_PREFIX`, without leading or trailing slashes.
    pub report_prefix: String,
    /// `PRICE_OVERRIDES`: USD an hour per instance type (`<type>/spot` for spot), over the APIs' prices.
    pub price_overrides: BTreeMap<(String, crate::core::Market), f64>,
    /// `PRICING_ENDPOINT_URL`: the Price List API somewhere else, for a local stand-in (the
    /// emulator has none); empty in a deployment.
    pub pricing_endpoint: Option<String>,
    /// `NOTICE_MINUTES`: how long before a scheduled stop an `auto` run announces it; 0: never.
    pub notice_minutes: u32,
    /// `NON_PRODUCTION`: the tag and values the coverage report takes for non-production
    /// (`environment=dev,test,staging` by default); empty: none.
    pub non_production: Option<crate::core::NonProduction>,
    /// `SUGGESTED_SCHEDULE`: the schedule the coverage report prices for an unscheduled
    /// non-production cluster, as a schedule tag is written; zone: `DEFAULT_TIMEZONE`.
    pub suggested_schedule: (String, crate::core::Schedule),
}

impl Config {
    /// The tags that select clusters, for the core's decisions.
    pub fn selection(&self) -> crate::core::Selection<'_> {
        crate::core::Selection {
            stop_tag: &self.stop_tag,
            start_tag: &self.start_tag,
            schedule_tag: &self.schedule_tag,
            default_timezone: &self.default_timezone,
        }
    }

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let tag = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = env.optional(name).unwrap_or_else(|| default.to_owned());
            match crate::core::tag_problem(&value, "") {
                None => Ok(value),
                Some(problem) => {
                    Err(ConfigError::Invalid { name, value, expected: format!("a valid EKS tag key ({problem})") })
                }
            }
        };
        let default_timezone = env.optional("DEFAULT_TIMEZONE").unwrap_or_else(|| "UTC".to_owned());
        if jiff::tz::TimeZone::get(&default_timezone).is_err() {
            return Err(ConfigError::Invalid {
                name: "DEFAULT_TIMEZONE",
                value: default_timezone,
                expected: "an IANA time zone name, like Europe/Paris or UTC".to_owned(),
            });
        }
        let max_concurrency = env.parse_or("MAX_CONCURRENCY", 5usize, "a whole number from 1 to 50")?;
        if !(1..=50).contains(&max_concurrency) {
            return Err(ConfigError::Invalid {
                name: "MAX_CONCURRENCY",
                value: max_concurrency.to_string(),
                expected: "a whole number from 1 to 50".to_owned(),
            });
        }
        let notify_topic_arn = env.optional("NOTIFY_TOPIC_ARN");
        if let Some(arn) = &notify_topic_arn
            && !(arn.starts_with("arn:") && arn.split(':').nth(2) == Some("sns") && arn.split(':').count() == 6)
        {
            return Err(ConfigError::invalid(
                "NOTIFY_TOPIC_ARN",
                arn.clone(),
                "an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>), or nothing for no notifications",
            ));
        }
        let suggested_schedule = {
            let text = env
                .optional("SUGGESTED_SCHEDULE")
                .unwrap_or_else(|| crate::core::DEFAULT_SUGGESTED_SCHEDULE.to_owned());
            let schedule = crate::core::Schedule::parse(&text, &default_timezone)
                .map_err(|problem| ConfigError::invalid("SUGGESTED_SCHEDULE", text.clone(), problem))?;
            (text, schedule)
        };
        Ok(Self {
            stop_tag: tag("STOP_TAG", "auto-stop")?,
            start_tag: tag("START_TAG", "auto-start")?,
            schedule_tag: tag("SCHEDULE_TAG", "eks-scheduler/schedule")?,
            dependency_tag: tag("DEPENDENCY_TAG", "dependency")?,
            default_timezone,
            max_concurrency,
            notify_topic_arn,
            event_bus: env.optional("EVENT_BUS_NAME"),
            metrics: shared::metrics::MetricsConfig::from_env(env, "eks-scheduler")?,
            accounts: AccountsConfig::from_env(env)?,
            regions: regions(env.optional("REGIONS").as_deref())?,
            cluster_name_pattern: cluster_name_pattern(env)?,
            in_vpc: env.bool_or("IN_VPC", false)?,
            kubernetes_endpoints: kubernetes_endpoints(env.optional("KUBERNETES_ENDPOINT_URLS").as_deref())?,
            report_bucket: report_bucket(env)?,
            report_bucket_owner: env.account_id("REPORT_BUCKET_OWNER")?,
            report_prefix: env.report_prefix("eks-scheduler"),
            price_overrides: match env.optional("PRICE_OVERRIDES") {
                None => BTreeMap::new(),
                Some(text) => crate::core::parse_price_overrides(&text).map_err(|problem| {
                    ConfigError::invalid(
                        "PRICE_OVERRIDES",
                        text.clone(),
                        format!("{} ({problem})", crate::core::OVERRIDES_FORM),
                    )
                })?,
            },
            pricing_endpoint: env.optional("PRICING_ENDPOINT_URL"),
            notice_minutes: notice_minutes(env)?,
            non_production: match env.optional("NON_PRODUCTION").as_deref() {
                None => crate::core::NonProduction::parse("environment=dev,test,staging").ok(),
                Some("none") => None,
                Some(text) => Some(crate::core::NonProduction::parse(text).map_err(|problem| {
                    ConfigError::invalid(
                        "NON_PRODUCTION",
                        text,
                        format!("{} ({problem}), or none", crate::core::NON_PRODUCTION_FORM),
                    )
                })?),
            },
            suggested_schedule,
        })
    }

    /// True when clusters are named `<account>/<region>/<cluster>`: a run across accounts or regions.
    pub fn spans_sites(&self) -> bool {
        self.accounts.is_multi_account() || !self.regions.is_empty()
    }
}

/// `NOTICE_MINUTES`: 0 (no notices) to a day.
fn notice_minutes(env: &Env) -> Result<u32, ConfigError> {
    const EXPECTED: &str = "a whole number of minutes from 0 (no notices) to 1440";
    let minutes = env.parse_or("NOTICE_MINUTES", 30u32, EXPECTED)?;
    if minutes > 1440 {
        return Err(ConfigError::invalid("NOTICE_MINUTES", minutes.to_string(), EXPECTED));
    }
    Ok(minutes)
}

/// `REPORT_BUCKET`: a bucket's name, not an ARN or a URL.
fn report_bucket(env: &Env) -> Result<Option<String>, ConfigError> {
    let Some(bucket) = env.optional("REPORT_BUCKET") else { return Ok(None) };
    if shared::config::is_bucket_name(&bucket) {
        Ok(Some(bucket))
    } else {
        Err(ConfigError::invalid(
            "REPORT_BUCKET",
            bucket,
            "a bucket name (3 to 63 lowercase letters, digits, dots and hyphens), not an ARN or s3:// URL, or nothing for no savings ledger",
        ))
    }
}

/// `CLUSTER_NAME_PATTERN`, as the template's pattern allows it: letters, digits, `-`, `_`, `*` and `?`.
fn cluster_name_pattern(env: &Env) -> Result<String, ConfigError> {
    let pattern = env.optional("CLUSTER_NAME_PATTERN").unwrap_or_else(|| "*".to_owned());
    if pattern.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '?')) {
        Ok(pattern)
    } else {
        Err(ConfigError::invalid(
            "CLUSTER_NAME_PATTERN",
            pattern,
            "an IAM wildcard of cluster names, like staging-* (letters, digits, - and _, with * and ?)",
        ))
    }
}

/// `<cluster>=<url>` pairs separated by commas or spaces.
fn kubernetes_endpoints(value: Option<&str>) -> Result<BTreeMap<String, String>, ConfigError> {
    let Some(value) = value else { return Ok(BTreeMap::new()) };
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((cluster, url))
                if !cluster.is_empty() && (url.starts_with("http://") || url.starts_with("https://")) =>
            {
                Ok((cluster.to_owned(), url.to_owned()))
            }
            _ => Err(ConfigError::invalid(
                "KUBERNETES_ENDPOINT_URLS",
                value,
                "<cluster>=<url> pairs separated by commas, like dev=http://127.0.0.1:8001, or nothing (a deployment's clusters are reached at their own endpoints)",
            )),
        })
        .collect()
}

/// Region names separated by commas or spaces, like `eu-west-1, us-east-1`.
fn regions(value: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else { return Ok(Vec::new()) };
    let mut regions: Vec<String> = Vec::new();
    for region in value.split(|c: char| c == ',' || c.is_whitespace()).filter(|r| !r.is_empty()) {
        let parts: Vec<&str> = region.split('-').collect();
        let valid = parts.len() >= 3
            && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return Err(ConfigError::invalid(
                "REGIONS",
                value,
                format!("AWS region names separated by commas, like eu-west-1,us-east-1 ({region:?} is not one)"),
            ));
        }
        if !regions.iter().any(|r| r == region) {
            regions.push(region.to_owned());
        }
    }
    Ok(regions)
}

#[cfg(test)]
mod tests {
    use shared::config::parse_settings;

    use super::*;

    #[test]
    fn defaults() {
        let config = parse_settings(Config::from_env, &[]).expect("defaults are valid");
        assert_eq!(
            config,
            Config {
                stop_tag: "auto-stop".into(),
                start_tag: "auto-start".into(),
                schedule_tag: "eks-scheduler/schedule".into(),
                dependency_tag: "dependency".into(),
                default_timezone: "UTC".into(),
                max_concurrency: 5,
                notify_topic_arn: None,
                event_bus: None,
                metrics: shared::metrics::MetricsConfig::local("eks-scheduler"),
                accounts: AccountsConfig::default(),
                regions: Vec::new(),
                cluster_name_pattern: "*".into(),
                in_vpc: false,
                kubernetes_endpoints: BTreeMap::new(),
                report_bucket: None,
                report_bucket_owner: None,
                report_prefix: "eks-scheduler".into(),
                price_overrides: BTreeMap::new(),
                pricing_endpoint: None,
                notice_minutes: 30,
                non_production: Some(crate::core::NonProduction {
                    tag: "environment".into(),
                    values: vec!["dev".into(), "test".into(), "staging".into()],
                }),
                suggested_schedule: (
                    "off=mon-fri@19:00 on=mon-fri@07:00".into(),
                    crate::core::Schedule::parse("off=mon-fri@19:00 on=mon-fri@07:00", "UTC").expect("valid"),
                ),
            }
        );
        assert!(!config.spans_sites());
        let err = parse_settings(Config::from_env, &[("CLUSTER_NAME_PATTERN", "arn:aws:eks:*")]).expect_err("an ARN");
        assert!(err.starts_with(r#"invalid setting CLUSTER_NAME_PATTERN="arn:aws:eks:*""#), "{err}");
    }

    #[test]
    fn coverage_settings() {
        let config = parse_settings(
            Config::from_env,
            &[("NON_PRODUCTION", "Stage = Dev, QA ,"), ("SUGGESTED_SCHEDULE", "off=daily@20:00 on=mon-fri@06:00")],
        )
        .expect("valid");
        assert_eq!(
            config.non_production,
            Some(crate::core::NonProduction { tag: "Stage".into(), values: vec!["dev".into(), "qa".into()] })
        );
        assert_eq!(config.suggested_schedule.0, "off=daily@20:00 on=mon-fri@06:00");
        assert_eq!(
            parse_settings(Config::from_env, &[("NON_PRODUCTION", "none")]).expect("valid").non_production,
            None
        );
        let err = parse_settings(Config::from_env, &[("NON_PRODUCTION", "environment")]).expect_err("no values");
        assert!(err.contains("<tag>=<value>[,<value>...]"), "{err}");
        let err =
            parse_settings(Config::from_env, &[("SUGGESTED_SCHEDULE", "off=someday@19:00")]).expect_err("bad day");
        assert!(err.starts_with(r#"invalid setting SUGGESTED_SCHEDULE="off=someday@19:00""#), "{err}");
    }

    #[test]
    fn regions_and_accounts() {
        let config = parse_settings(Config::from_env, &[("REGIONS", "eu-west-1, us-east-1 eu-west-1,us-gov-west-1")])
            .expect("valid");
        assert_eq!(config.regions, ["eu-west-1", "us-east-1", "us-gov-west-1"]);
        assert!(config.spans_sites(), "regions alone name clusters by account and region");
        let config = parse_settings(Config::from_env, &[("ACCOUNTS", "organization")]).expect("valid");
        assert!(config.spans_sites() && config.regions.is_empty());
    }

    #[test]
    fn kubernetes_endpoints_and_vpc() {
        let config = parse_settings(
            Config::from_env,
            &[("KUBERNETES_ENDPOINT_URLS", "dev=http://127.0.0.1:8001, prod=https://k8s.internal"), ("IN_VPC", "true")],
        )
        .expect("valid");
        assert_eq!(
            config.kubernetes_endpoints,
            BTreeMap::from([
                ("dev".to_owned(), "http://127.0.0.1:8001".to_owned()),
                ("prod".to_owned(), "https://k8s.internal".to_owned())
            ])
        );
        assert!(config.in_vpc);
    }

    #[test]
    fn the_ledger_and_prices() {
        let config = parse_settings(
            Config::from_env,
            &[
                ("REPORT_BUCKET", "ops-reports"),
                ("REPORT_PREFIX", "/finops/eks/"),
                ("PRICE_OVERRIDES", r#"{"m5.large": 0.07, "m5.large/spot": 0.031}"#),
            ],
        )
        .expect("valid");
        assert_eq!(config.report_bucket.as_deref(), Some("ops-reports"));
        assert_eq!(config.report_prefix, "finops/eks");
        assert_eq!(
            config.price_overrides,
            BTreeMap::from([
                (("m5.large".to_owned(), crate::core::Market::OnDemand), 0.07),
                (("m5.large".to_owned(), crate::core::Market::Spot), 0.031),
            ])
        );
    }

    #[test]
    fn errors_name_the_setting() {
        for (pairs, expected) in [
            (
                &[("DEFAULT_TIMEZONE", "Paris")][..],
                "invalid setting DEFAULT_TIMEZONE=\"Paris\": expected an IANA time zone name",
            ),
            (
                &[("MAX_CONCURRENCY", "0")][..],
                "invalid setting MAX_CONCURRENCY=\"0\": expected a whole number from 1 to 50",
            ),
            (
                &[("MAX_CONCURRENCY", "many")][..],
                "invalid setting MAX_CONCURRENCY=\"many\": expected a whole number from 1 to 50",
            ),
            (&[("STOP_TAG", "stop(now)")][..], "invalid setting STOP_TAG=\"stop(now)\": expected a valid EKS tag key"),
            (
                &[("REGIONS", "eu-west-1,Ireland")][..],
                "invalid setting REGIONS=\"eu-west-1,Ireland\": expected AWS region names separated by commas, like eu-west-1,us-east-1 (\"Ireland\" is not one)",
            ),
            (&[("ACCOUNTS", "everything")][..], "invalid setting ACCOUNTS=\"everything\""),
            (
                &[("KUBERNETES_ENDPOINT_URLS", "dev:8001")][..],
                "invalid setting KUBERNETES_ENDPOINT_URLS=\"dev:8001\": expected <cluster>=<url> pairs",
            ),
            (&[("IN_VPC", "maybe")][..], "invalid setting IN_VPC=\"maybe\""),
            (
                &[("REPORT_BUCKET", "arn:aws:s3:::reports")][..],
                "invalid setting REPORT_BUCKET=\"arn:aws:s3:::reports\": expected a bucket name",
            ),
            (
                &[("PRICE_OVERRIDES", r#"{"m5.large": "cheap"}"#)][..],
                r#"invalid setting PRICE_OVERRIDES="{\"m5.large\": \"cheap\"}": expected a JSON object of instance type to USD an hour, like {"m5.large": 0.07, "m5.large/spot": 0.03} (m5.large: "cheap" is not a number of dollars)"#,
            ),
        ] {
            let err = parse_settings(Config::from_env, pairs).expect_err("invalid");
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
