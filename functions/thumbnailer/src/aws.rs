//! Thin async functions over the S3 client. Failures come back as [`S3Failure`]:
//! the object is gone (skip it), or the call failed (try the record again).

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use shared::error::describe;

/// Marks an object written by the thumbnailer, so it is never processed.
pub const OUTPUT_MARKER: &str = "thumbnailer-output";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Failure {
    /// `NoSuchKey` / 404: deleted before it could be processed.
    Gone,
    /// Anything else: throttling, a 5xx, a timeout, a permission: worth another try,
    /// and visible in the dead-letter queue if it keeps failing.
    Failed(String),
}

/// What a `HeadObject` says that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub is_output: bool,
}

/// The object's size, ETag and marker. A 404 has no body to say whether the key or the
/// whole bucket is missing, so a `GetObject` tells them apart.
pub async fn head(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<ObjectInfo, S3Failure> {
    let output = match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(output) => output,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
            get(s3, bucket, key).await?;
            return Err(S3Failure::Failed(format!(
                "s3://{bucket}/{key} was not found by HeadObject but was by GetObject"
            )));
        }
        Err(err) => {
            return Err(S3Failure::Failed(format!("HeadObject s3://{bucket}/{key} failed: {}", describe(&err))));
        }
    };
    Ok(ObjectInfo {
        size: u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0),
        etag: output.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
        is_output: output.metadata().is_some_and(|m| m.get(OUTPUT_MARKER).is_some_and(|v| v == "true")),
    })
}

pub async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, S3Failure> {
    let output = s3.get_object().bucket(bucket).key(key).send().await.map_err(|err| {
        if err.as_service_error().is_some_and(|e| e.is_no_such_key()) {
            S3Failure::Gone
        } else if shared::error::code(&err) == Some("NoSuchBucket") {
            S3Failure::Failed(format!("bucket {bucket} does not exist: check the S3 notification and DEST_BUCKET"))
        } else {
            S3Failure::Failed(format!("GetObject s3://{bucket}/{key} failed: {}", describe(&err)))
        }
    })?;
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|err| S3Failure::Failed(format!("reading s3://{bucket}/{key} failed: {err}")))?;
    Ok(bytes.into_bytes().to_vec())
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
        .map_err(|err| S3Failure::Failed(format!("PutObject s3://{bucket}/{key} failed: {}", describe(&err))))
}

/// Deletes keys (missing ones are fine) in one request.
pub async fn delete(s3: &aws_sdk_s3::Client, bucket: &str, keys: &[String]) -> Result<(), S3Failure> {
    let objects: Result<Vec<ObjectIdentifier>, _> =
        keys.iter().map(|k| ObjectIdentifier::builder().key(k).build()).collect();
    let delete = objects
        .and_then(|objects| Delete::builder().set_objects(Some(objects)).quiet(true).build())
        .map_err(|err| S3Failure::Failed(err.to_string()))?;
    s3.delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| S3Failure::Failed(format!("DeleteObjects in s3://{bucket} failed: {}", describe(&err))))
}
