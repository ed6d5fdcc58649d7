//! Metrics in CloudWatch's Embedded Metric Format (EMF): one JSON line per invocation on
//! stdout, which CloudWatch Logs turns into metrics. No API call, no latency, nothing to
//! fail: a function's metrics cost one log line.
//!
//! Written here rather than through the `metrics` facade and a recorder crate
//! (`metrics_cloudwatch_embedded`): a function emits one document per invocation, built
//! from its result by a pure function that a unit test can read; a global recorder would
//! add a process-wide state that in-process tests share and a flush tied to the runtime.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{Map, Value, json};

use crate::config::{ConfigError, Env};

/// The dimension every metric carries: the deployed function's name, as Lambda's own
/// metrics (`AWS/Lambda`) name it, so an alarm or a dashboard uses the same value for both.
pub const FUNCTION_DIMENSION: &str = "FunctionName";
/// The heartbeat: 1 for a run that succeeded, 0 for one that failed. A scheduled function's
/// alarm fires when its sum stays under 1 for longer than the schedule's period.
pub const SUCCEEDED: &str = "Succeeded";
/// The property every document carries: the toolkit's version, so that a change in a metric
/// can be matched to the upgrade that made it (a property, not a dimension: no new metrics).
pub const VERSION_PROPERTY: &str = "ToolkitVersion";
const DEFAULT_NAMESPACE: &str = "CloudOpsToolkit";
/// CloudWatch's limit on metrics per document.
const MAX_METRICS: usize = 100;

/// Where the metrics go, read once at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub namespace: String,
    pub function_name: String,
    /// `false` only in tools that run a handler in process and print a report of their own
    /// (the soak): the documents are built, not written.
    pub write: bool,
}

impl MetricsConfig {
    /// The default namespace and `function_name`: what a run outside Lambda uses.
    pub fn local(function_name: &str) -> Self {
        Self { namespace: DEFAULT_NAMESPACE.to_owned(), function_name: function_name.to_owned(), write: true }
    }

    /// Like [`MetricsConfig::local`], but writing nothing.
    pub fn silent(function_name: &str) -> Self {
        Self { write: false, ..Self::local(function_name) }
    }

    /// `METRICS_NAMESPACE` (the template's parameter) and Lambda's `AWS_LAMBDA_FUNCTION_NAME`;
    /// `default_function_name` (the crate's) outside Lambda.
    pub fn from_env(env: &Env, default_function_name: &str) -> Result<Self, ConfigError> {
        let namespace = env.optional("METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        if namespace.len() > 255 || namespace.starts_with(':') || namespace.starts_with("AWS/") {
            return Err(ConfigError::invalid(
                "METRICS_NAMESPACE",
                namespace,
                "a CloudWatch namespace of at most 255 characters, not starting with AWS/ (reserved for AWS)",
            ));
        }
        let function_name =
            env.optional("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| default_function_name.to_owned());
        Ok(Self { namespace, function_name, write: true })
    }
}

/// CloudWatch's units; the ones the functions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
    Megabytes,
    /// A plain number (an amount of money, a ratio).
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
            Unit::Megabytes => "Megabytes",
            Unit::None => "None",
        }
    }
}

/// One invocation's metrics, and properties that are logged with them but not charted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    values: Vec<(String, Unit, f64)>,
    properties: Map<String, Value>,
    /// Dimensions beside `FunctionName` (a cluster's savings carry `Cluster`).
    dimensions: Vec<(String, String)>,
}

impl Metrics {
    /// The metrics of a run, starting with its heartbeat.
    pub fn of_run(succeeded: bool) -> Self {
        let mut metrics = Self::default();
        metrics.put(SUCCEEDED, Unit::Count, if succeeded { 1.0 } else { 0.0 });
        metrics
    }

    /// Sets `name` (a second call replaces the first value).
    pub fn put(&mut self, name: &str, unit: Unit, value: f64) -> &mut Self {
        let value = if value.is_finite() { value } else { 0.0 };
        match self.values.iter_mut().find(|(n, ..)| n == name) {
            Some(slot) => *slot = (name.to_owned(), unit, value),
            None => self.values.push((name.to_owned(), unit, value)),
        }
        self
    }

    pub fn count(&mut self, name: &str, count: impl TryInto<u32>) -> &mut Self {
        let count = count.try_into().map_or(f64::from(u32::MAX), f64::from);
        self.put(name, Unit::Count, count)
    }

    /// A field logged with the metrics, searchable in Logs Insights, not a metric.
    pub fn property(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    /// Adds a dimension to every metric of this document, beside `FunctionName`.
    pub fn dimension(&mut self, name: &str, value: &str) -> &mut Self {
        self.dimensions.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The value of `name`, for tests and summaries.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, ..)| n == name).map(|(_, _, v)| *v)
    }

    /// The EMF document, at `timestamp_ms` (milliseconds since the epoch).
    pub fn document(&self, config: &MetricsConfig, timestamp_ms: i64) -> Value {
        let mut document = self.properties.clone();
        let definitions: Vec<Value> = self
            .values
            .iter()
            .take(MAX_METRICS)
            .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        for (name, _, value) in self.values.iter().take(MAX_METRICS) {
            document.insert(name.clone(), json!(value));
        }
        document.insert(FUNCTION_DIMENSION.to_owned(), json!(config.function_name));
        let mut dimensions = vec![FUNCTION_DIMENSION.to_owned()];
        for (name, value) in &self.dimensions {
            document.insert(name.clone(), json!(value));
            dimensions.push(name.clone());
        }
        document.insert(VERSION_PROPERTY.to_owned(), json!(crate::VERSION));
        document.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": config.namespace,
                    "Dimensions": [dimensions],
                    "Metrics": definitions,
                }],
            }),
        );
        Value::Object(document)
    }

    /// Writes the document as one line on stdout, where Lambda sends it to CloudWatch Logs.
    // `println!` rather than a locked writer: the test harness captures it in in-process tests.
    #[allow(clippy::print_stdout)]
    pub fn emit(&self, config: &MetricsConfig) {
        if !config.write {
            return;
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut document = self.document(config, now_ms);
        // The invocation's X-Ray trace: from a metric's spike to its traces and log lines.
        if let Some(trace) = crate::xray::current_trace_id() {
            document[crate::logging::TRACE_FIELD] = Value::String(trace);
        }
        println!("{document}");
    }
}

/// Why `document` is not a valid EMF document, checked as CloudWatch does: a `_aws` object
/// with an integer `Timestamp` and `CloudWatchMetrics` directives, each with a namespace,
/// dimension sets whose dimensions are top-level strings, and metrics whose values are
/// top-level numbers. For tests, here so that every function's tests check the same rules.
pub fn check_document(document: &Value) -> Result<(), String> {
    let root = document.as_object().ok_or("not a JSON object")?;
    let aws = root.get("_aws").and_then(Value::as_object).ok_or("no _aws object")?;
    aws.get("Timestamp").and_then(Value::as_i64).ok_or("_aws.Timestamp is not an integer")?;
    let directives = aws.get("CloudWatchMetrics").and_then(Value::as_array).ok_or("no _aws.CloudWatchMetrics array")?;
    if directives.is_empty() {
        return Err("_aws.CloudWatchMetrics is empty".to_owned());
    }
    for directive in directives {
        let namespace = directive.get("Namespace").and_then(Value::as_str).ok_or("a directive without Namespace")?;
        if namespace.is_empty() || namespace.len() > 255 {
            return Err(format!("namespace {namespace:?} is not 1 to 255 characters"));
        }
        let sets = directive.get("Dimensions").and_then(Value::as_array).ok_or("a directive without Dimensions")?;
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("a dimension set has more than 30 dimensions".to_owned());
            }
            for dimension in set {
                let name = dimension.as_str().ok_or("a dimension name is not a string")?;
                root.get(name)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("dimension {name} has no string value at the top level"))?;
            }
        }
        let metrics = directive.get("Metrics").and_then(Value::as_array).ok_or("a directive without Metrics")?;
        if metrics.is_empty() || metrics.len() > MAX_METRICS {
            return Err(format!("{} metrics in a directive: CloudWatch takes 1 to 100", metrics.len()));
        }
        for metric in metrics {
            let name = metric.get("Name").and_then(Value::as_str).ok_or("a metric without Name")?;
            if name.is_empty() || name.len() > 255 {
                return Err(format!("metric name {name:?} is not 1 to 255 characters"));
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) if values.iter().all(Value::is_number) && values.len() <= 100 => {}
                _ => return Err(format!("metric {name} has no numeric value at the top level")),
            }
        }
    }
    Ok(())
}

/// The EMF documents among the lines of a log (stdout), for tests and the demo.
pub fn documents_in(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .filter(|value| value.get("_aws").is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> MetricsConfig {
        MetricsConfig { namespace: "Ops".to_owned(), function_name: "stack-fn".to_owned(), write: true }
    }

    #[test]
    fn a_document_names_its_metrics_and_carries_their_values() {
        let mut metrics = Metrics::of_run(true);
        metrics.count("ThumbnailsWritten", 3_usize).put("DecodeMilliseconds", Unit::Milliseconds, 12.5);
        metrics.property("RequestId", "abc");
        let document = metrics.document(&config(), 1_700_000_000_000);
        check_document(&document).unwrap_or_else(|err| panic!("{err}: {document}"));
        assert_eq!(document["Succeeded"], json!(1.0));
        assert_eq!(document["ThumbnailsWritten"], json!(3.0));
        assert_eq!(document["FunctionName"], json!("stack-fn"));
        assert_eq!(document["RequestId"], json!("abc"));
        assert_eq!(document["ToolkitVersion"], json!(env!("CARGO_PKG_VERSION")));
        assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Namespace"], json!("Ops"));
        assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Metrics"][2]["Unit"], json!("Milliseconds"));
    }

    #[test]
    fn a_failed_run_has_a_zero_heartbeat_and_a_value_set_twice_is_replaced() {
        let mut metrics = Metrics::of_run(false);
        metrics.count("X", 1_u32).count("X", 2_u32).put("Nan", Unit::None, f64::NAN);
        let document = metrics.document(&config(), 0);
        check_document(&document).unwrap_or_else(|err| panic!("{err}: {document}"));
        assert_eq!(document["Succeeded"], json!(0.0));
        assert_eq!(document["X"], json!(2.0));
        assert_eq!(document["Nan"], json!(0.0));
    }

    #[test]
    fn the_checker_refuses_what_cloudwatch_refuses() {
        let valid = Metrics::of_run(true).document(&config(), 0);
        let broken = |edit: fn(&mut Value)| {
            let mut document = valid.clone();
            edit(&mut document);
            check_document(&document).is_err()
        };
        assert!(check_document(&valid).is_ok());
        assert!(broken(|d| d["_aws"] = json!(null)));
        assert!(broken(|d| d["Succeeded"] = json!("1")));
        assert!(broken(|d| d["FunctionName"] = json!(null)));
        assert!(broken(|d| d["_aws"]["Timestamp"] = json!("now")));
        assert!(broken(|d| d["_aws"]["CloudWatchMetrics"] = json!([])));
    }

    #[test]
    fn the_namespace_and_function_name_come_from_the_environment() {
        let env = Env::from_pairs([("METRICS_NAMESPACE", "Team/Ops"), ("AWS_LAMBDA_FUNCTION_NAME", "stack-Thumb")]);
        let config = MetricsConfig::from_env(&env, "thumbnailer").expect("valid");
        assert_eq!((config.namespace.as_str(), config.function_name.as_str()), ("Team/Ops", "stack-Thumb"));
        let local = MetricsConfig::from_env(&Env::default(), "thumbnailer").expect("valid");
        assert_eq!((local.namespace.as_str(), local.function_name.as_str()), (DEFAULT_NAMESPACE, "thumbnailer"));
        let reserved = MetricsConfig::from_env(&Env::from_pairs([("METRICS_NAMESPACE", "AWS/Lambda")]), "x");
        assert!(reserved.is_err_and(|err| err.to_string().contains("METRICS_NAMESPACE")));
    }

    #[test]
    fn documents_are_found_among_other_log_lines() {
        let line = Metrics::of_run(true).document(&config(), 0).to_string();
        let log = format!("{{\"level\":\"INFO\",\"message\":\"x\"}}\nnot json\n{line}\n");
        assert_eq!(documents_in(&log).len(), 1);
    }
}
