//! S3's presigned POST (browser-based upload, Signature Version 4), which the SDK does not
//! make: a policy naming everything the upload may be, signed with the function's
//! credentials. S3 refuses any upload that differs: another key, a size outside the range,
//! another content type, no encryption, after the expiry. And presigned GET URLs, made here
//! too: the SDK's presigner runs a whole request pipeline per URL (about a millisecond each,
//! 150 for a gallery page of 50); this is a few HMACs.

use std::collections::BTreeMap;

use aws_lc_rs::digest;
use aws_lc_rs::hmac;
use base64::Engine as _;
use jiff::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Encryption;

/// The credentials that sign (the function's role's, or the tests').
#[derive(Debug, Clone)]
pub struct SigningCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// One upload the POST allows.
#[derive(Debug, Clone)]
pub struct PostUpload<'a> {
    /// Where the form is posted: the bucket's endpoint.
    pub url: String,
    pub bucket: &'a str,
    pub region: &'a str,
    pub key: &'a str,
    pub content_type: &'a str,
    pub max_bytes: u64,
    pub encryption: &'a Encryption,
    /// Shown in the gallery; stored percent-encoded as `x-amz-meta-filename`.
    pub filename: &'a str,
    /// The X-Ray trace header of the request that signed it, stored as `x-amz-meta-trace`:
    /// S3 does not pass a browser's upload on in a trace, so the thumbnailer continues
    /// the upload's trace from the object (`None`: not traced).
    pub trace_header: Option<&'a str>,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// What the caller posts: `url`, and `fields` as form fields before the file (which must be
/// the form's last field, named `file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresignedPost {
    pub url: String,
    pub fields: BTreeMap<String, String>,
}

/// The form field (and so the object's metadata, `trace`) that carries the upload's trace.
pub const TRACE_METADATA_FIELD: &str = "x-amz-meta-trace";

/// Characters kept as they are in the stored filename (metadata travels in HTTP headers,
/// which carry ASCII only).
const FILENAME_ESCAPES: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b' ').remove(b'-').remove(b'_').remove(b'.').remove(b'(').remove(b')');

/// The filename as stored in the object's metadata.
pub fn filename_metadata(filename: &str) -> String {
    utf8_percent_encode(filename, FILENAME_ESCAPES).to_string()
}

/// The signed POST for `upload`.
pub fn presign_post(upload: &PostUpload<'_>, credentials: &SigningCredentials) -> PresignedPost {
    let date = upload.now.strftime("%Y%m%d").to_string();
    let amz_date = upload.now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let credential = format!("{}/{date}/{}/s3/aws4_request", credentials.access_key_id, upload.region);

    // Every field but the file, and the signature fields, must be named by a condition.
    let mut fields = BTreeMap::from([
        ("key".to_owned(), upload.key.to_owned()),
        ("Content-Type".to_owned(), upload.content_type.to_owned()),
        ("x-amz-meta-filename".to_owned(), filename_metadata(upload.filename)),
        ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
    ]);
    if let Some(header) = upload.trace_header {
        fields.insert(TRACE_METADATA_FIELD.to_owned(), header.to_owned());
    }
    match upload.encryption {
        Encryption::S3Managed => {
            fields.insert("x-amz-server-side-encryption".to_owned(), "AES256".to_owned());
        }
        Encryption::Kms(key) => {
            fields.insert("x-amz-server-side-encryption".to_owned(), "aws:kms".to_owned());
            fields.insert("x-amz-server-side-encryption-aws-kms-key-id".to_owned(), key.clone());
        }
    }
    if let Some(token) = &credentials.session_token {
        fields.insert("x-amz-security-token".to_owned(), token.clone());
    }
    let mut conditions: Vec<Value> = vec![json!({ "bucket": upload.bucket })];
    conditions.extend(fields.iter().map(|(name, value)| json!({ name: value })));
    conditions.push(json!(["content-length-range", 1, upload.max_bytes]));
    let policy = json!({
        "expiration": upload.expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
        "conditions": conditions,
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let signature = sign(&credentials.secret_access_key, &date, upload.region, &encoded);
    fields.insert("policy".to_owned(), encoded);
    fields.insert("x-amz-signature".to_owned(), signature);
    PresignedPost { url: upload.url.clone(), fields }
}

/// SigV4: the signing key of the day, region and service, then the string to sign (for a
/// POST, the base64 policy), as lower-case hex.
pub fn sign(secret_access_key: &str, date: &str, region: &str, string_to_sign: &str) -> String {
    let step = |key: &[u8], data: &str| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
    let mut key = step(format!("AWS4{secret_access_key}").as_bytes(), date);
    for part in [region, "s3", "aws4_request"] {
        key = step(key.as_ref(), part);
    }
    step(key.as_ref(), string_to_sign).as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The URL a browser posts a bucket's uploads to.
pub fn bucket_url(endpoint: Option<&str>, bucket: &str, region: &str) -> String {
    BucketEndpoint::of(endpoint, bucket, region).url()
}

/// SigV4's URI encoding: everything but the unreserved characters.
const SIGV4_QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// The same in a path, where `/` separates segments.
const SIGV4_PATH: &AsciiSet = &SIGV4_QUERY.remove(b'/');

/// Where a bucket's objects are addressed: `https://bucket.s3.region.amazonaws.com/key`, or
/// path-style (`<endpoint>/bucket/key`) at an overridden endpoint or for a name with dots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketEndpoint {
    pub scheme: String,
    /// With the port, if any: what the `Host` header carries.
    pub host: String,
    /// `""` (virtual-hosted) or `/<bucket>` (path-style).
    pub path_prefix: String,
}

impl BucketEndpoint {
    pub fn of(endpoint: Option<&str>, bucket: &str, region: &str) -> Self {
        let split = |url: &str, path_prefix: String| {
            let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
            let host = rest.split('/').next().unwrap_or_default().to_owned();
            Self { scheme: scheme.to_owned(), host, path_prefix }
        };
        match endpoint {
            Some(endpoint) => split(endpoint, format!("/{bucket}")),
            None if bucket.contains('.') => split(&format!("https://s3.{region}.amazonaws.com"), format!("/{bucket}")),
            None => split(&format!("https://{bucket}.s3.{region}.amazonaws.com"), String::new()),
        }
    }

    /// The bucket's URL (where a presigned POST is posted).
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.path_prefix)
    }
}

/// A presigned GET URL of `key`, valid `expires_seconds` from `now` (query-string SigV4, the
/// `host` header signed, the payload unsigned).
pub fn presign_get(
    bucket: &BucketEndpoint,
    key: &str,
    region: &str,
    credentials: &SigningCredentials,
    now: Timestamp,
    expires_seconds: u64,
) -> String {
    let date = now.strftime("%Y%m%d").to_string();
    let amz_date = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let path = format!("{}/{}", bucket.path_prefix, utf8_percent_encode(key, SIGV4_PATH));
    let credential = format!("{}/{date}/{region}/s3/aws4_request", credentials.access_key_id);
    let mut query = vec![
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", amz_date.clone()),
        ("X-Amz-Expires", expires_seconds.to_string()),
        ("X-Amz-SignedHeaders", "host".to_owned()),
    ];
    if let Some(token) = &credentials.session_token {
        query.push(("X-Amz-Security-Token", token.clone()));
    }
    query.sort();
    let query = query
        .iter()
        .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, SIGV4_QUERY)))
        .collect::<Vec<_>>()
        .join("&");
    let canonical = format!("GET\n{path}\n{query}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD", bucket.host);
    let hashed: String =
        digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/s3/aws4_request\n{hashed}");
    let signature = sign(&credentials.secret_access_key, &date, region, &to_sign);
    format!("{}://{}{path}?{query}&X-Amz-Signature={signature}", bucket.scheme, bucket.host)
}
