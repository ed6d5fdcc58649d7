//! Settings from environment variables, parsed once at cold start.
//!
//! An empty variable counts as unset: SAM passes an empty string for a template
//! parameter left at its empty default, and that must mean "use the default".

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// A setting that is missing or malformed. The message names the variable and the fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing setting {name}: set it to {expected}")]
    Missing { name: &'static str, expected: &'static str },
    #[error("invalid setting {name}={value:?}: expected {expected}")]
    Invalid { name: &'static str, value: String, expected: String },
    /// A secret (a webhook URL, a token) that is malformed: its value is never shown.
    #[error("invalid setting {name} (its value is a secret and is not shown): expected {expected}")]
    InvalidSecret { name: &'static str, expected: String },
}

impl ConfigError {
    /// `name` is set to `value`, which is not `expected`.
    pub fn invalid(name: &'static str, value: impl Into<String>, expected: impl Into<String>) -> Self {
        Self::Invalid { name, value: value.into(), expected: expected.into() }
    }
}

/// A snapshot of the environment, so configuration parsing is a pure function of it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

/// Runs a function's `Config::from_env` on the given settings and gives its error as the
/// text an operator reads: what every crate's configuration tests check.
pub fn parse_settings<T>(from_env: fn(&Env) -> Result<T, ConfigError>, pairs: &[(&str, &str)]) -> Result<T, String> {
    from_env(&Env::from_pairs(pairs.iter().copied())).map_err(|err| err.to_string())
}

impl Env {
    pub fn from_process() -> Self {
        Self { vars: std::env::vars().collect() }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect() }
    }

    /// The trimmed value, or `None` when unset or empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    pub fn required(&self, name: &'static str, expected: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing { name, expected })
    }

    /// An AWS account id (12 digits), or `None` when unset.
    pub fn account_id(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.optional(name) {
            Some(id) if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) => {
                Err(ConfigError::invalid(name, id, "an AWS account id (12 digits), or nothing"))
            }
            id => Ok(id),
        }
    }

    /// `REPORT_PREFIX`: the folder a function's reports go under, without leading or trailing
    /// slashes; `default` (the function's name) when unset.
    pub fn report_prefix(&self, default: &str) -> String {
        self.optional("REPORT_PREFIX").unwrap_or_else(|| default.to_owned()).trim_matches('/').to_owned()
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, any case), or `default` when unset.
    pub fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(value) => parse_bool(&value).ok_or_else(|| ConfigError::Invalid {
                name,
                value,
                expected: "true or false".to_owned(),
            }),
        }
    }

    /// Any `FromStr` value, or `default` when unset.
    pub fn parse_or<T>(&self, name: &'static str, default: T, expected: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|err: T::Err| ConfigError::Invalid {
                name,
                expected: format!("{expected} ({err})"),
                value,
            }),
        }
    }
}

/// The spellings of a boolean accepted in settings and event fields.
/// An S3 bucket's name as S3 allows it: 3 to 63 lowercase letters, digits, dots and hyphens,
/// starting and ending with a letter or digit (not an ARN, not an `s3://` URL).
pub fn is_bucket_name(name: &str) -> bool {
    let edges_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edges_ok(name.chars().next())
        && edges_ok(name.chars().last())
}

pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
