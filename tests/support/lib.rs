//! Test support shared by every function's tests: the emulator, and an AWS
//! configuration pointed at it with an account of the test's own.

pub mod cognito;
pub mod cost_seed;
pub mod eks_seed;
pub mod fault_proxy;
pub mod http_listener;
pub mod iam_seed;
pub mod ic_seed;
pub mod images;
pub mod kube_api;
pub mod kube_token;
pub mod lambda;
pub mod local_api;
pub mod moto;
pub mod org_seed;
pub mod photos;
pub mod pipeline;
pub mod price_list;
pub mod sign_in;
pub mod slow_proxy;
pub mod sqs;
pub mod xray_daemon;

use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_s3::config::{Credentials, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use shared::aws::Aws;

pub use moto::Moto;

/// The same client, its requests no longer the function's: a test that seeds or inspects
/// through a function's own client (`deps.s3`) would otherwise have its requests checked
/// against the function's role by the least-privilege check (they carry `app/<function>`).
pub trait Harness {
    fn harness(&self) -> Self;
}

macro_rules! harness {
    ($($sdk:ident),*) => {$(
        impl Harness for $sdk::Client {
            fn harness(&self) -> Self {
                let app_name = aws_config::AppName::new("test-harness").expect("a valid app name");
                $sdk::Client::from_conf(self.config().to_builder().app_name(app_name).build())
            }
        }
    )*};
}
harness!(aws_sdk_s3, aws_sdk_eks, aws_sdk_autoscaling);

/// The values of metric `name` in the Embedded Metric Format documents a function wrote
/// to its log, one per invocation, each checked against the format first.
pub fn emitted(log: &str, name: &str) -> Vec<f64> {
    shared::metrics::documents_in(log)
        .iter()
        .map(|document| {
            shared::metrics::check_document(document).unwrap_or_else(|err| panic!("{err}: {document}"));
            document[name].as_f64().unwrap_or_else(|| panic!("no metric {name} in {document}"))
        })
        .collect()
}

/// The function's log once it holds `documents` metrics documents (one per invocation),
/// or after 10 s: its stdout is read as it comes, so the last line can trail the answer.
pub async fn log_with_metrics(lambda: &lambda::LocalLambda, documents: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = lambda.log();
        if shared::metrics::documents_in(&log).len() >= documents || std::time::Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The repository's root folder.
pub fn workspace_root() -> std::path::PathBuf {
    // This crate is tests/support.
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().and_then(std::path::Path::parent).expect("tests/support has two parents").to_path_buf()
}

/// Runs `tests/browser/<script>` with the venv's Python and `arguments`: the JSON of its last
/// line (its verdict), or an error with everything it printed when it failed.
pub async fn browser_script(
    script: &str,
    arguments: impl IntoIterator<Item = std::ffi::OsString>,
) -> anyhow::Result<serde_json::Value> {
    use anyhow::Context as _;
    let path = workspace_root().join("tests/browser").join(script);
    let output = tokio::process::Command::new(moto::python())
        .arg(&path)
        .args(arguments)
        .output()
        .await
        .with_context(|| format!("running tests/browser/{script}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "tests/browser/{script} failed:\n{}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_str(stdout.lines().last().context("the script's result")?)?)
}

/// An AWS account of its own in the shared emulator, so tests run in parallel
/// without seeing each other's users, buckets or clusters.
#[derive(Debug, Clone)]
pub struct TestAccount {
    pub id: String,
    pub aws: Aws,
}

impl TestAccount {
    pub async fn new() -> Self {
        Self::at(Moto::shared().url()).await
    }

    /// The emulator's default account (123456789012), the one a function binary acts in:
    /// it sends no account header. Tests that share it name their buckets with
    /// [`TestAccount::unique_bucket`].
    pub async fn default_account(endpoint: &str) -> Self {
        Self::with_id(endpoint, "123456789012".to_owned()).await
    }

    /// A bucket name no other test uses, in any account.
    pub fn unique_bucket(&self, purpose: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        format!("{purpose}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// An account reached through `endpoint`, which forwards to the emulator (a benchmark's latency proxy).
    pub async fn at(endpoint: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(100_000_000_001);
        Self::with_id(endpoint, format!("{:012}", NEXT.fetch_add(1, Ordering::Relaxed))).await
    }

    /// An account whose id the emulator gave (an organization's member, made by `CreateAccount`).
    pub async fn existing(endpoint: &str, id: &str) -> Self {
        Self::with_id(endpoint, id.to_owned()).await
    }

    async fn with_id(endpoint: &str, id: String) -> Self {
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(TEST_ACCESS_KEY, "testing", None, None, "tests"))
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .load()
            .await;
        let aws = Aws::from_sdk_config(sdk_config).with_interceptor(AccountHeader(id.clone()));
        Self { id, aws }
    }

    /// This account reached through `endpoint` with the functions' own SDK settings
    /// (their retries), as a handler run in process must see AWS behind a fault proxy.
    pub async fn as_deployed(&self, endpoint: &str) -> Aws {
        let sdk_config = Aws::loader()
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(TEST_ACCESS_KEY, "testing", None, None, "tests"))
            .load()
            .await;
        Aws::from_sdk_config(sdk_config).with_interceptor(AccountHeader(self.id.clone()))
    }

    /// A bucket name no other test uses.
    pub fn bucket(&self, purpose: &str) -> String {
        format!("{purpose}-{}", self.id)
    }

    /// Dates `user`'s access key `key_id` (and the user) `days` ago: the emulator dates
    /// everything now (`scripts/moto_server.py`, `/_toolkit/age-access-key`).
    pub async fn age_access_key(&self, user: &str, key_id: &str, days: u32) -> anyhow::Result<()> {
        let endpoint = self.aws.sdk_config().endpoint_url().unwrap_or_default().trim_end_matches('/').to_owned();
        let body = serde_json::json!({"account": self.id, "user": user, "key_id": key_id, "days": days});
        let response = reqwest::Client::new()
            .post(format!("{endpoint}/_toolkit/age-access-key"))
            .body(body.to_string())
            .send()
            .await?;
        anyhow::ensure!(response.status().is_success(), "ageing {key_id}: {}", response.text().await?);
        Ok(())
    }
}

/// Tells moto which account a request belongs to (its `x-moto-account-id` header), for
/// requests signed with the tests' own key: a member role's credentials (STS `AssumeRole`)
/// act in the role's account, as on AWS, and a header would override that.
#[derive(Debug)]
struct AccountHeader(String);

/// The access key every test account signs with.
const TEST_ACCESS_KEY: &str = "testing";

impl Intercept for AccountHeader {
    fn name(&self) -> &'static str {
        "MotoAccountHeader"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let signed_by_tests = context
            .request()
            .headers()
            .get("authorization")
            .is_some_and(|value| value.contains(&format!("Credential={TEST_ACCESS_KEY}/")));
        if signed_by_tests {
            context.request_mut().headers_mut().insert("x-moto-account-id", self.0.clone());
        }
        Ok(())
    }
}

/// The JSON of one file under `events/`.
pub fn event(name: &str) -> serde_json::Value {
    let path = workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()))
}

/// Sets the bucket's default encryption: SSE-KMS with `kms_key`, SSE-S3 without. AWS gives
/// every bucket SSE-S3 by default; the emulator encrypts only when a bucket says so.
pub async fn default_encryption(s3: &aws_sdk_s3::Client, bucket: &str, kms_key: Option<&str>) -> anyhow::Result<()> {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let by_default = match kms_key {
        Some(key) => {
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::AwsKms).kms_master_key_id(key)
        }
        None => ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256),
    };
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default.build()?).build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(ServerSideEncryptionConfiguration::builder().rules(rule).build()?)
        .send()
        .await?;
    Ok(())
}

/// A key as S3 writes it in an event notification.
pub fn s3_event_key(key: &str) -> String {
    key.split('/').map(percent_encode_s3).collect::<Vec<_>>().join("/")
}

/// S3's event encoding: `+` for a space, percent-encoding for the rest of the unsafe bytes.
fn percent_encode_s3(part: &str) -> String {
    let mut out = String::new();
    for byte in part.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// How many times a benchmark repeats each measurement: `BENCH_RUNS`, 3 by default.
pub fn bench_runs() -> usize {
    std::env::var("BENCH_RUNS").ok().and_then(|runs| runs.parse().ok()).filter(|runs| *runs > 0).unwrap_or(3)
}

/// The middle of repeated figures.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// How far repeated figures disagree: (largest - smallest) / median, as a percentage; a
/// difference smaller than this between two figures is noise.
pub fn spread(values: &[f64]) -> String {
    if values.len() < 2 {
        return "one run".to_owned();
    }
    let largest = values.iter().copied().fold(f64::MIN, f64::max);
    let smallest = values.iter().copied().fold(f64::MAX, f64::min);
    format!("{:.0}%", 100.0 * (largest - smallest) / median(values))
}

/// Deletes every object under `prefix` (a benchmark's thumbnails between its rounds).
pub async fn delete_under(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> anyhow::Result<()> {
    let listed = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await?;
    for object in listed.contents() {
        s3.delete_object().bucket(bucket).key(object.key().unwrap_or_default()).send().await?;
    }
    Ok(())
}
