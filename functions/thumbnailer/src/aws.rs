//! Thin async functions over the S3 client. Failures come back as [`S3Failure`], already
//! in their class: the object is gone or was replaced (skip it: another event covers
//! it), the request can never succeed for this object (permanent), or the call failed
//! (transient: try the record again).

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use shared::error::describe;

/// Marks an object written by the thumbnailer, so it is never processed.
pub const OUTPUT_MARKER: &str = "thumbnailer-output";

/// S3 answers these for a request that this object's name or size makes impossible:
/// asking again cannot help.
const PERMANENT_CODES: &[&str] = &["KeyTooLongError", "MetadataTooLarge", "EntityTooLarge"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Failure {
    /// `NoSuchKey` / 404: deleted before it could be processed.
    Gone,
    /// 412 on `If-Match`: the object was replaced after the event; the new version's own
    /// event processes it.
    Replaced,
    /// The body is larger than the limit (checked as it streams in).
    TooLarge { limit: u64 },
    /// The request can never succeed for this object (a key or metadata over S3's limits).
    Permanent(String),
    /// Throttling, a 5xx, a timeout, access denied, a missing bucket: worth another try
    /// once the cause is fixed, and visible in the dead-letter queue if it keeps failing.
    Transient(String),
}

/// What a `HeadObject` says that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub is_output: bool,
    /// The `source-key` and `source-etag` metadata of a thumbnail.
    pub source_key: Option<String>,
    pub source_etag: Option<String>,
    /// The `trace` metadata of an upload the photos API signed: the X-Ray trace its
    /// thumbnails are made in.
    pub trace_header: Option<String>,
}

fn classify<E>(err: &SdkError<E, HttpResponse>, doing: String) -> S3Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = shared::error::code(err);
    if code.is_some_and(|code| PERMANENT_CODES.contains(&code)) {
        S3Failure::Permanent(format!("{doing} failed: {}", describe(err)))
    } else if code == Some("PreconditionFailed") || status(err) == Some(412) {
        S3Failure::Replaced
    } else {
        S3Failure::Transient(format!("{doing} failed: {}", describe(err)))
    }
}

fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|response| response.status().as_u16())
}

/// The object's size, ETag and metadata, if it still has the ETag `if_match` (when
/// given). A 404 has no body to say whether the key or the whole bucket is missing, so a
/// `HeadBucket` tells them apart.
pub async fn head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    if_match: Option<&str>,
) -> Result<ObjectInfo, S3Failure> {
    match head_if_present(s3, bucket, key, if_match).await? {
        Some(info) => Ok(info),
        None => Err(missing(s3, bucket).await),
    }
}

/// A thumbnail's metadata, or `None` when there is no such object (no bucket check:
/// the destination is known to exist).
pub async fn head_output(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, S3Failure> {
    head_if_present(s3, bucket, key, None).await
}

async fn head_if_present(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    if_match: Option<&str>,
) -> Result<Option<ObjectInfo>, S3Failure> {
    let request = s3.head_object().bucket(bucket).key(key).set_if_match(if_match.map(quoted));
    let output = match request.send().await {
        Ok(output) => output,
        Err(err) if status(&err) == Some(404) => return Ok(None),
        Err(err) => return Err(classify(&err, format!("HeadObject s3://{bucket}/{key}"))),
    };
    let metadata = output.metadata();
    let value = |name: &str| metadata.and_then(|m| m.get(name)).cloned();
    Ok(Some(ObjectInfo {
        size: u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0),
        etag: output.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
        is_output: value(OUTPUT_MARKER).is_some_and(|v| v == "true"),
        source_key: value("source-key")
            .map(|k| percent_encoding::percent_decode_str(&k).decode_utf8_lossy().into_owned()),
        source_etag: value("source-etag"),
        trace_header: value("trace"),
    }))
}

/// A missing object, or a missing bucket (which no retry of the object fixes, but a
/// corrected notification plus a redrive does).
async fn missing(s3: &aws_sdk_s3::Client, bucket: &str) -> S3Failure {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => S3Failure::Gone,
        Err(err) if status(&err) == Some(404) => {
            S3Failure::Transient(format!("bucket {bucket} does not exist: check the S3 notification and DEST_BUCKET"))
        }
        Err(err) => classify(&err, format!("HeadBucket {bucket}")),
    }
}

fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}

/// The object's bytes, only if it still has the ETag `if_match` and is no larger than
/// `limit`: the body is counted as it streams in, whatever `HeadObject` said before.
pub async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    if_match: &str,
    limit: u64,
) -> Result<Vec<u8>, S3Failure> {
    let output = match s3.get_object().bucket(bucket).key(key).if_match(quoted(if_match)).send().await {
        Ok(output) => output,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Err(S3Failure::Gone),
        Err(err) if status(&err) == Some(404) => return Err(missing(s3, bucket).await),
        Err(err) => return Err(classify(&err, format!("GetObject s3://{bucket}/{key}"))),
    };
    if output.content_length().and_then(|n| u64::try_from(n).ok()).is_some_and(|n| n > limit) {
        return Err(S3Failure::TooLarge { limit });
    }
    let capacity = output.content_length().and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    let mut body = output.body;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|err| S3Failure::Transient(format!("reading s3://{bucket}/{key} failed: {err}")))?
    {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(S3Failure::TooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Writes an output object, marked as the thumbnailer's, with its metadata.
pub async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    cache_control: Option<&str>,
    metadata: HashMap<String, String>,
) -> Result<(), S3Failure> {
    let mut metadata = metadata;
    metadata.insert(OUTPUT_MARKER.to_owned(), "true".to_owned());
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .content_type(content_type)
        .set_cache_control(cache_control.map(str::to_owned))
        .set_metadata(Some(metadata))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| classify(&err, format!("PutObject s3://{bucket}/{key}")))
}

/// Deletes `key` only while its ETag is still `etag` (S3's conditional delete, which
/// needs `s3:GetObject` besides `s3:DeleteObject`): an object rewritten since it was
/// read stays. True when it was deleted; false when it had changed or was already gone.
pub async fn delete_if_unchanged(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: &str,
) -> Result<bool, S3Failure> {
    match s3.delete_object().bucket(bucket).key(key).if_match(format!("\"{etag}\"")).send().await {
        Ok(_) => Ok(true),
        Err(err) if status(&err) == Some(404) => Ok(false),
        Err(err) => match classify(&err, format!("DeleteObject of s3://{bucket}/{key}")) {
            S3Failure::Replaced => Ok(false),
            other => Err(other),
        },
    }
}
