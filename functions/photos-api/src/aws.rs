//! Thin async functions over S3, DynamoDB, Secrets Manager and the token issuer's key set.
//! A gallery page is one `Query` of the by-owner index; the URLs in it are signed by the core,
//! with no request.

use std::collections::HashMap;

use aws_credential_types::provider::ProvideCredentials as _;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;
use shared::error::{describe, is_transient};

use crate::core::SigningCredentials;
use crate::core::photo::photo_record_id;
use crate::core::token::{Jwk, parse_key_set};
use crate::error::PhotosApiError;

const TABLE_FIX: &str = "check PHOTOS_TABLE (and PHOTOS_OWNER_INDEX) and that the function's role allows dynamodb:Query on the index and dynamodb:GetItem on the table";
const BUCKET_FIX: &str =
    "check UPLOADS_BUCKET and that the function's role allows s3:GetObject and s3:DeleteObject under UPLOADS_PREFIX";

fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(
    action: String,
    fix: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> PhotosApiError {
    PhotosApiError::Aws { action, message: describe(err), fix, transient: is_transient(err) }
}

/// A stored attribute as JSON (numbers as JSON numbers), as the catalogue wrote it.
pub fn json_of(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::from(s.clone()),
        AttributeValue::N(n) => serde_json::from_str(n).unwrap_or(Value::Null),
        AttributeValue::Bool(b) => Value::from(*b),
        AttributeValue::L(items) => items.iter().map(json_of).collect(),
        AttributeValue::M(fields) => fields.iter().map(|(k, v)| (k.clone(), json_of(v))).collect(),
        _ => Value::Null,
    }
}

fn record_of(item: &HashMap<String, AttributeValue>) -> Value {
    item.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()
}

/// Where a gallery page is read.
#[derive(Debug, Clone, Copy)]
pub struct Gallery<'a> {
    pub table: &'a str,
    pub index: &'a str,
    pub bucket: &'a str,
    /// `<bucket>/<folder>`: the index's partition.
    pub owner: &'a str,
}

/// One page of the owner's records, newest key first, and the last key read when there is
/// more. Deleted photos are filtered out by DynamoDB (a page may then hold fewer than `limit`).
pub async fn gallery_page(
    dynamodb: &aws_sdk_dynamodb::Client,
    gallery: Gallery<'_>,
    start_after: Option<&str>,
    limit: u32,
) -> Result<(Vec<Value>, Option<String>), PhotosApiError> {
    let start = start_after.map(|key| {
        HashMap::from([
            ("photo_id".to_owned(), AttributeValue::S(photo_record_id(gallery.bucket, key))),
            ("owner".to_owned(), AttributeValue::S(gallery.owner.to_owned())),
            ("key".to_owned(), AttributeValue::S(key.to_owned())),
        ])
    });
    let output = dynamodb
        .query()
        .table_name(gallery.table)
        .index_name(gallery.index)
        .key_condition_expression("#owner = :owner")
        .filter_expression("#status <> :deleted")
        .expression_attribute_names("#owner", "owner")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":owner", AttributeValue::S(gallery.owner.to_owned()))
        .expression_attribute_values(":deleted", AttributeValue::S("deleted".to_owned()))
        .scan_index_forward(false)
        .limit(i32::try_from(limit).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|err| {
            failed(format!("reading the gallery from {} index {}", gallery.table, gallery.index), TABLE_FIX, &err)
        })?;
    let last_key = output.last_evaluated_key().and_then(|key| key.get("key")).and_then(|key| key.as_s().ok()).cloned();
    Ok((output.items().iter().map(record_of).collect(), last_key))
}

/// A photo's record, read consistently.
pub async fn record(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    photo_id: &str,
) -> Result<Option<Value>, PhotosApiError> {
    let output = dynamodb
        .get_item()
        .table_name(table)
        .key("photo_id", AttributeValue::S(photo_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|err| failed(format!("reading the record of {photo_id} from {table}"), TABLE_FIX, &err))?;
    Ok(output.item().map(record_of))
}

/// Whether the object exists (an upload the thumbnailer has not filed yet).
pub async fn object_exists(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<bool, PhotosApiError> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().is_some_and(|service| service.is_not_found()) => Ok(false),
        Err(err) => Err(failed(format!("looking up s3://{bucket}/{key}"), BUCKET_FIX, &err)),
    }
}

/// Deletes the source object; the thumbnailer's delete path does the rest.
pub async fn delete_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), PhotosApiError> {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|err| failed(format!("deleting s3://{bucket}/{key}"), BUCKET_FIX, &err))?;
    Ok(())
}

/// The credentials that sign presigned POSTs and URLs: the function's own, as its S3 client has them.
pub async fn signing_credentials(sdk_config: &aws_config::SdkConfig) -> Result<SigningCredentials, PhotosApiError> {
    let unavailable = |message: String| PhotosApiError::Aws {
        action: "loading the function's credentials to sign the upload".to_owned(),
        message,
        fix: "check the function's execution role",
        transient: true,
    };
    let provider =
        sdk_config.credentials_provider().ok_or_else(|| unavailable("no credentials provider".to_owned()))?;
    let credentials = provider.provide_credentials().await.map_err(|err| unavailable(err.to_string()))?;
    Ok(SigningCredentials {
        access_key_id: credentials.access_key_id().to_owned(),
        secret_access_key: credentials.secret_access_key().to_owned(),
        session_token: credentials.session_token().map(str::to_owned),
    })
}

/// The issuer's signing keys, from its JWKS URL.
pub async fn key_set(http: &reqwest::Client, url: &str) -> Result<Vec<Jwk>, PhotosApiError> {
    let keys_failed = |message: String| PhotosApiError::Keys { url: url.to_owned(), message };
    let response = http.get(url).send().await.map_err(|err| keys_failed(err.to_string()))?;
    if !response.status().is_success() {
        return Err(keys_failed(format!("HTTP {}", response.status())));
    }
    let body = response.bytes().await.map_err(|err| keys_failed(err.to_string()))?;
    parse_key_set(&body).map_err(keys_failed)
}

/// The secret that signs gallery cursors.
pub async fn cursor_secret(secrets: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<Vec<u8>, PhotosApiError> {
    let output = secrets.get_secret_value().secret_id(arn).send().await.map_err(|err| {
        failed(
            format!("reading the cursor key secret {arn}"),
            "check CURSOR_KEY_SECRET_ARN and that the function's role allows secretsmanager:GetSecretValue on it",
            &err,
        )
    })?;
    match output.secret_string() {
        Some(secret) if secret.len() >= 32 => Ok(secret.as_bytes().to_vec()),
        _ => Err(PhotosApiError::Aws {
            action: format!("reading the cursor key secret {arn}"),
            message: "the secret is not a string of at least 32 characters".to_owned(),
            fix: "store a random string of 32 or more characters in it (the template generates one)",
            transient: false,
        }),
    }
}
