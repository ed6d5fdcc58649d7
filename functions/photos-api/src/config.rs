//! The photos API's settings, read once at cold start. The uploads bucket, prefix, table and
//! size limit are the thumbnailer's own settings, so one stack passes both the same values.

use std::time::Duration;

use shared::config::{ConfigError, Env};

use crate::core::TokenUse;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub uploads_bucket: String,
    /// Empty or ends with `/`; each caller's photos are under `<prefix><sub>/`.
    pub uploads_prefix: String,
    /// `UPLOADS_BUCKET_OWNER`: the account that must own the bucket (S3 refuses any other).
    pub uploads_bucket_owner: Option<String>,
    /// Where the thumbnails are (`DEST_BUCKET`, the thumbnailer's; default the uploads bucket).
    pub thumbnails_bucket: String,
    pub photos_table: String,
    /// The catalogue's index by owner (`PHOTOS_OWNER_INDEX`, default `by-owner`).
    pub owner_index: String,
    /// `PHOTOS_OWNER_DEPTH`: must make `<prefix><sub>/` a photo's owner.
    pub owner_depth: usize,
    /// The thumbnailer's `MAX_INPUT_BYTES`: the largest upload the POST policy allows.
    pub max_input_bytes: u64,
    pub encryption: Encryption,
    /// How long a presigned POST may be used (`UPLOAD_URL_SECONDS`, default 300).
    pub upload_expiry: Duration,
    /// How long the gallery's presigned GET URLs work (`DOWNLOAD_URL_SECONDS`, default 900).
    pub download_expiry: Duration,
    /// Photos per gallery page when the caller names no `limit` (`PAGE_SIZE`, default 24).
    pub page_size: u32,
    /// How long a gallery cursor stays valid (`CURSOR_TTL_SECONDS`, default 3600).
    pub cursor_ttl: Duration,
    /// `CURSOR_KEY_SECRET_ARN`: the Secrets Manager secret whose value signs cursors. Without
    /// it each instance signs with a key of its own, and a cursor works only where it was made.
    pub cursor_key_secret: Option<String>,
    /// The function's own token check (`JWT_ISSUER`), for a caller that reaches it without
    /// API Gateway's authorizer (a function URL, a local run).
    pub token_check: Option<TokenCheck>,
    /// `PAGE_CLIENT_ID`: the app client the page signs in with (default: the first of `JWT_AUDIENCE`).
    pub page_client_id: Option<String>,
    /// `PAGE_COGNITO_ENDPOINT`: where the page posts `InitiateAuth` (default Cognito's in the region).
    pub page_cognito_endpoint: Option<String>,
    /// `PAGE_SIGN_IN_URL`: the hosted sign-in's base URL (Cognito's user pool domain,
    /// `https://<domain>.auth.<region>.amazoncognito.com`), whose `/oauth2/authorize` and
    /// `/oauth2/token` the page uses with PKCE; without it the page signs in by password only.
    pub page_sign_in_url: Option<String>,
}

/// How uploads are encrypted at rest; the POST policy requires it of every upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3 (`AES256`).
    S3Managed,
    /// SSE-KMS with this key (`UPLOADS_KMS_KEY_ARN`).
    Kms(String),
}

/// What a bearer token must be to name a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCheck {
    /// `JWT_ISSUER`: the `iss` claim, exactly (`https://cognito-idp.<region>.amazonaws.com/<pool id>`).
    pub issuer: String,
    /// `JWT_AUDIENCE`: the app client ids accepted in `aud` (ID tokens) or `client_id` (access tokens).
    pub audiences: Vec<String>,
    /// `JWKS_URL`: default `<issuer>/.well-known/jwks.json`, Cognito's.
    pub jwks_url: String,
    /// `JWT_TOKEN_USE`: `access` (default) or `id`.
    pub token_use: TokenUse,
}

fn seconds(
    env: &Env,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    let expected = format!("a number of seconds from {} to {}", range.start(), range.end());
    let value = env.parse_or(name, default, &expected)?;
    if !range.contains(&value) {
        return Err(ConfigError::invalid(name, value.to_string(), expected));
    }
    Ok(Duration::from_secs(value))
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let uploads_bucket = env.required("UPLOADS_BUCKET", "the bucket users upload photos to (the thumbnailer's)")?;
        let uploads_prefix = match env.optional("UPLOADS_PREFIX").as_deref() {
            None => "uploads/".to_owned(),
            Some("/") => String::new(),
            Some(prefix) if prefix.starts_with('/') || prefix.contains("//") => {
                return Err(ConfigError::invalid(
                    "UPLOADS_PREFIX",
                    prefix,
                    "a key prefix such as uploads/ (no leading slash, no empty folder), or / for none",
                ));
            }
            Some(prefix) if prefix.ends_with('/') => prefix.to_owned(),
            Some(prefix) => format!("{prefix}/"),
        };
        let prefix_folders = uploads_prefix.matches('/').count();
        let owner_depth = env.parse_or("PHOTOS_OWNER_DEPTH", prefix_folders + 1, "a number of folders")?;
        if owner_depth != prefix_folders + 1 {
            return Err(ConfigError::invalid(
                "PHOTOS_OWNER_DEPTH",
                owner_depth.to_string(),
                format!(
                    "{}: the folders of UPLOADS_PREFIX={uploads_prefix:?} and one for the user, so that the catalogue's by-owner index groups each user's photos (set the thumbnailer's PHOTOS_OWNER_DEPTH to the same)",
                    prefix_folders + 1
                ),
            ));
        }
        let max_input_bytes = env.parse_or("MAX_INPUT_BYTES", 50_000_000u64, "a number of bytes")?;
        if max_input_bytes == 0 {
            return Err(ConfigError::invalid("MAX_INPUT_BYTES", "0", "a number of bytes above 0"));
        }
        let encryption = match env.optional("UPLOADS_KMS_KEY_ARN") {
            Some(key) if !key.starts_with("arn:") => {
                return Err(ConfigError::invalid("UPLOADS_KMS_KEY_ARN", key, "a KMS key ARN, arn:aws:kms:..."));
            }
            Some(key) => Encryption::Kms(key),
            None => Encryption::S3Managed,
        };
        let page_size = env.parse_or("PAGE_SIZE", 24u32, "a number of photos from 1 to 100")?;
        if !(1..=100).contains(&page_size) {
            return Err(ConfigError::invalid("PAGE_SIZE", page_size.to_string(), "a number of photos from 1 to 100"));
        }
        let token_check = TokenCheck::from_env(env)?;
        let cursor_key_secret = env.optional("CURSOR_KEY_SECRET_ARN");
        if let Some(arn) = cursor_key_secret.as_ref().filter(|arn| !arn.starts_with("arn:")) {
            return Err(ConfigError::invalid(
                "CURSOR_KEY_SECRET_ARN",
                arn.clone(),
                "a Secrets Manager secret ARN, arn:aws:secretsmanager:...",
            ));
        }
        Ok(Self {
            thumbnails_bucket: env.optional("DEST_BUCKET").unwrap_or_else(|| uploads_bucket.clone()),
            uploads_bucket,
            uploads_prefix,
            uploads_bucket_owner: env.account_id("UPLOADS_BUCKET_OWNER")?,
            photos_table: env.required("PHOTOS_TABLE", "the photo catalogue's DynamoDB table (the thumbnailer's)")?,
            owner_index: env.optional("PHOTOS_OWNER_INDEX").unwrap_or_else(|| "by-owner".to_owned()),
            owner_depth,
            max_input_bytes,
            encryption,
            upload_expiry: seconds(env, "UPLOAD_URL_SECONDS", 300, 30..=3600)?,
            download_expiry: seconds(env, "DOWNLOAD_URL_SECONDS", 900, 60..=43_200)?,
            page_size,
            cursor_ttl: seconds(env, "CURSOR_TTL_SECONDS", 3600, 60..=604_800)?,
            cursor_key_secret,
            page_client_id: env
                .optional("PAGE_CLIENT_ID")
                .or_else(|| token_check.as_ref().and_then(|check| check.audiences.first().cloned())),
            page_cognito_endpoint: env.optional("PAGE_COGNITO_ENDPOINT"),
            page_sign_in_url: sign_in_url(env)?,
            token_check,
        })
    }
}

fn sign_in_url(env: &Env) -> Result<Option<String>, ConfigError> {
    let Some(url) = env.optional("PAGE_SIGN_IN_URL") else { return Ok(None) };
    let address = url.trim_end_matches('/');
    let host = address.strip_prefix("https://").or_else(|| address.strip_prefix("http://"));
    // The page appends /oauth2/authorize and /oauth2/token: a base URL, not an endpoint.
    if !host.is_some_and(|host| !host.is_empty() && !host.contains(['?', '#']) && !host.contains("/oauth2/")) {
        return Err(ConfigError::invalid(
            "PAGE_SIGN_IN_URL",
            url,
            "the hosted sign-in's base URL, such as https://<domain>.auth.<region>.amazoncognito.com",
        ));
    }
    Ok(Some(address.to_owned()))
}

impl TokenCheck {
    fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(issuer) = env.optional("JWT_ISSUER") else {
            if let Some(audience) = env.optional("JWT_AUDIENCE") {
                return Err(ConfigError::invalid(
                    "JWT_AUDIENCE",
                    audience,
                    "JWT_ISSUER set too: the audience is checked only on tokens the function verifies itself",
                ));
            }
            return Ok(None);
        };
        if !issuer.starts_with("https://") && !issuer.starts_with("http://") {
            return Err(ConfigError::invalid("JWT_ISSUER", issuer, "the issuer's URL, the tokens' iss claim"));
        }
        let issuer = issuer.trim_end_matches('/').to_owned();
        let audiences: Vec<String> = env
            .required("JWT_AUDIENCE", "the app client ids whose tokens are accepted, separated by commas")?
            .split(',')
            .map(|client| client.trim().to_owned())
            .filter(|client| !client.is_empty())
            .collect();
        let token_use = match env.optional("JWT_TOKEN_USE").as_deref() {
            None | Some("access") => TokenUse::Access,
            Some("id") => TokenUse::Id,
            Some(other) => return Err(ConfigError::invalid("JWT_TOKEN_USE", other, "access or id")),
        };
        let jwks_url = env.optional("JWKS_URL").unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
        Ok(Some(Self { issuer, audiences, jwks_url, token_use }))
    }
}

#[cfg(test)]
mod tests;
