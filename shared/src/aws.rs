//! The AWS SDK configuration, loaded once at cold start, and clients built from it.
//!
//! `AWS_ENDPOINT_URL` (read by `aws-config`) points every client at another
//! endpoint, so the same binary runs against AWS or the local emulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::BehaviorVersion;
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Attempts per call, throttled calls included. Adaptive retry also slows the
/// client down when AWS throttles, rather than hammering the API.
const MAX_ATTEMPTS: u32 = 6;

/// The loaded SDK configuration plus what every client built from it carries:
/// the request counter and any extra interceptors (tests add one to pick an account).
#[derive(Debug, Clone)]
pub struct Aws {
    sdk_config: SdkConfig,
    api_calls: ApiCallCounter,
    interceptors: Vec<SharedInterceptor>,
}

impl Aws {
    /// Loads credentials, region and endpoint the standard way (environment, profile, Lambda role).
    pub async fn from_env() -> Self {
        Self::from_sdk_config(Self::loader().load().await)
    }

    /// The functions' settings (retries above all) before loading: a test that runs a
    /// handler in process loads from it, pointed at the emulator, to retry as deployed.
    pub fn loader() -> aws_config::ConfigLoader {
        aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS))
    }

    pub fn from_sdk_config(sdk_config: SdkConfig) -> Self {
        let api_calls = ApiCallCounter::default();
        let interceptors =
            vec![SharedInterceptor::new(api_calls.clone()), SharedInterceptor::new(crate::xray::AwsCallTracing)];
        Self { sdk_config, api_calls, interceptors }
    }

    /// Adds an interceptor to every client built after this call.
    pub fn with_interceptor(mut self, interceptor: impl Intercept + 'static) -> Self {
        self.interceptors.push(SharedInterceptor::new(interceptor));
        self
    }

    /// The same settings, interceptors and request counter, acting with `credentials`:
    /// another account's clients (a member role's), counted with this function's calls.
    pub fn with_credentials(&self, credentials: aws_credential_types::Credentials) -> Self {
        let provider = aws_credential_types::provider::SharedCredentialsProvider::new(credentials);
        Self { sdk_config: self.sdk_config.to_builder().credentials_provider(provider).build(), ..self.clone() }
    }

    /// The same, with every request naming `function` in its user agent (`app/<function>`):
    /// CloudTrail's `userAgent` then tells which function made a call, and the tests'
    /// least-privilege check tells the function's requests from the test's own.
    pub fn for_function(&self, function: &'static str) -> Self {
        let app_name = aws_config::AppName::new(function).expect("a function's name is a valid app name");
        Self { sdk_config: self.sdk_config.to_builder().app_name(app_name).build(), ..self.clone() }
    }

    /// The same, in another region.
    pub fn in_region(&self, region: &str) -> Self {
        let region = aws_config::Region::new(region.to_owned());
        Self { sdk_config: self.sdk_config.to_builder().region(region).build(), ..self.clone() }
    }

    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk_config
    }

    pub fn interceptors(&self) -> &[SharedInterceptor] {
        &self.interceptors
    }

    /// Counts the HTTP requests sent by every client built from this configuration.
    pub fn api_calls(&self) -> &ApiCallCounter {
        &self.api_calls
    }

    /// True when `AWS_ENDPOINT_URL` (or the config's endpoint) points somewhere other than AWS.
    pub fn endpoint_overridden(&self) -> bool {
        self.sdk_config.endpoint_url().is_some()
    }

    /// An S3 client. Path-style addressing when the endpoint is overridden: an emulator
    /// on `127.0.0.1:port` has no DNS for `bucket.127.0.0.1`.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        self.s3_owned_by(None)
    }

    /// An S3 client whose every request names the account that must own its bucket
    /// (`ExpectedBucketOwner`), when `owner` is given: S3 then refuses (403) a bucket of any
    /// other account, such as one that took the name of a deleted bucket.
    pub fn s3_owned_by(&self, owner: Option<&str>) -> aws_sdk_s3::Client {
        let owner = owner.map(|owner| ExpectedBucketOwner(owner.to_owned()));
        crate::aws_client!(aws_sdk_s3, self, |builder: aws_sdk_s3::config::Builder| {
            let builder = builder.force_path_style(self.endpoint_overridden());
            match owner {
                Some(owner) => builder.interceptor(owner),
                None => builder,
            }
        })
    }
}

/// Builds a client of any SDK crate from an [`Aws`], with its interceptors.
///
/// `aws_client!(aws_sdk_iam, &aws)`, or with a closure that customises the builder:
/// `aws_client!(aws_sdk_s3, &aws, |b: aws_sdk_s3::config::Builder| b.force_path_style(true))`.
#[macro_export]
macro_rules! aws_client {
    ($sdk:ident, $aws:expr) => {
        $crate::aws_client!($sdk, $aws, |builder| builder)
    };
    ($sdk:ident, $aws:expr, $customize:expr) => {{
        let aws: &$crate::aws::Aws = $aws;
        let mut builder = $sdk::config::Builder::from(aws.sdk_config());
        for interceptor in aws.interceptors() {
            builder.push_interceptor(interceptor.clone());
        }
        $sdk::Client::from_conf(($customize)(builder).build())
    }};
}

/// Puts `x-amz-expected-bucket-owner` on every request of an S3 client (see [`Aws::s3_owned_by`]).
#[derive(Debug, Clone)]
struct ExpectedBucketOwner(String);

impl Intercept for ExpectedBucketOwner {
    fn name(&self) -> &'static str {
        "ExpectedBucketOwner"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context.request_mut().headers_mut().insert("x-amz-expected-bucket-owner", self.0.clone());
        Ok(())
    }
}

/// The number of HTTP requests sent, retries included: what AWS bills and throttles.
#[derive(Debug, Clone, Default)]
pub struct ApiCallCounter(Arc<AtomicU64>);

impl ApiCallCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for ApiCallCounter {
    fn name(&self) -> &'static str {
        "ApiCallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Why an S3 upload failed, already in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutFailure {
    /// The bucket does not exist (`NoSuchBucket`).
    pub bucket_missing: bool,
    pub message: String,
    pub transient: bool,
}

/// What to do when an object is already at the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    Replace,
    /// Keep it and write nothing (a conditional `If-None-Match: *` put): the first writer wins.
    Keep,
}

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Written,
    /// `IfExists::Keep`, and an object was there.
    AlreadyThere,
}

/// Writes one object: SSE-KMS with `kms_key_id`. Without a key no encryption header is
/// sent and S3 applies the bucket's default encryption (SSE-S3 at least, on every bucket
/// since 2023), so a bucket whose default is SSE-KMS is not downgraded to SSE-S3.
pub async fn put_encrypted(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    kms_key_id: Option<&str>,
) -> Result<(), PutFailure> {
    put_object(s3, bucket, key, body, content_type, kms_key_id, IfExists::Replace).await.map(|_| ())
}

/// [`put_encrypted`], with a choice of what happens to an object already at the key.
pub async fn put_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    kms_key_id: Option<&str>,
    if_exists: IfExists,
) -> Result<Put, PutFailure> {
    use aws_sdk_s3::types::ServerSideEncryption;
    let request = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(aws_sdk_s3::primitives::ByteStream::from(body));
    let request = match kms_key_id {
        Some(key_id) => request.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key_id),
        None => request,
    };
    let request = match if_exists {
        IfExists::Replace => request,
        IfExists::Keep => request.if_none_match("*"),
    };
    match request.send().await {
        Ok(_) => Ok(Put::Written),
        Err(err) if crate::error::code(&err) == Some("PreconditionFailed") => Ok(Put::AlreadyThere),
        Err(err) => Err(PutFailure {
            bucket_missing: crate::error::code(&err) == Some("NoSuchBucket"),
            message: crate::error::describe(&err),
            transient: crate::error::is_transient(&err),
        }),
    }
}
