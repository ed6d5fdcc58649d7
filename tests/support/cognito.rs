//! Moto's Cognito user pools, through its JSON protocol (as a browser calls `InitiateAuth`:
//! no signature), so no SDK crate is compiled for it. Its tokens are real RS256 JWTs and
//! the emulator serves the pool's key set, so a function verifies them as it would AWS's.

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct UserPool {
    endpoint: String,
    http: reqwest::Client,
    pub id: String,
    /// The app client the page signs in with.
    pub client_id: String,
}

/// A signed-in user's tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub id: String,
    /// The `sub` claim: the user's folder name.
    pub subject: String,
}

impl UserPool {
    pub async fn create(endpoint: &str, name: &str) -> Result<Self> {
        let http = reqwest::Client::new();
        let mut pool = Self { endpoint: endpoint.to_owned(), http, id: String::new(), client_id: String::new() };
        let created = pool.call("CreateUserPool", json!({ "PoolName": name })).await?;
        pool.id = created["UserPool"]["Id"].as_str().context("a pool id")?.to_owned();
        pool.client_id = pool.add_client("web").await?;
        Ok(pool)
    }

    async fn call(&self, action: &str, body: Value) -> Result<Value> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("AWSCognitoIdentityProviderService.{action}"))
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("Cognito {action}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("Cognito {action}: HTTP {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Another app client of the pool (tokens for another audience).
    pub async fn add_client(&self, name: &str) -> Result<String> {
        let created = self
            .call(
                "CreateUserPoolClient",
                json!({ "UserPoolId": self.id, "ClientName": name, "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"] }),
            )
            .await?;
        Ok(created["UserPoolClient"]["ClientId"].as_str().context("a client id")?.to_owned())
    }

    pub async fn add_user(&self, username: &str, password: &str) -> Result<()> {
        let user = json!({ "UserPoolId": self.id, "Username": username });
        let mut create = user.clone();
        create["TemporaryPassword"] = json!("Temporary-1");
        create["MessageAction"] = json!("SUPPRESS");
        self.call("AdminCreateUser", create).await?;
        let mut set = user;
        set["Password"] = json!(password);
        set["Permanent"] = json!(true);
        self.call("AdminSetUserPassword", set).await?;
        Ok(())
    }

    /// `InitiateAuth` with the user-password flow, as the page signs in.
    pub async fn sign_in(&self, client_id: &str, username: &str, password: &str) -> Result<Tokens> {
        let answer = self
            .call(
                "InitiateAuth",
                json!({ "ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": { "USERNAME": username, "PASSWORD": password } }),
            )
            .await?;
        let result = &answer["AuthenticationResult"];
        let access = result["AccessToken"].as_str().context("an access token")?.to_owned();
        let id = result["IdToken"].as_str().context("an ID token")?.to_owned();
        let subject = claims(&access)?["sub"].as_str().context("a sub claim")?.to_owned();
        Ok(Tokens { access, id, subject })
    }

    /// The tokens' `iss`: Cognito's URL for the pool, which the emulator writes too.
    pub fn issuer(&self) -> String {
        format!("https://cognito-idp.us-east-1.amazonaws.com/{}", self.id)
    }

    /// The photos API's settings for `bucket` and `table`, verifying this pool's tokens itself.
    pub fn api_settings(&self, bucket: &str, table: &str) -> Vec<(&'static str, String)> {
        vec![
            ("UPLOADS_BUCKET", bucket.to_owned()),
            ("PHOTOS_TABLE", table.to_owned()),
            ("JWT_ISSUER", self.issuer()),
            ("JWT_AUDIENCE", self.client_id.clone()),
            ("JWKS_URL", self.jwks_url()),
        ]
    }

    /// Where the emulator serves the pool's key set.
    pub fn jwks_url(&self) -> String {
        format!("{}/{}/.well-known/jwks.json", self.endpoint.trim_end_matches('/'), self.id)
    }
}

/// A JWT's claims, unverified.
pub fn claims(token: &str) -> Result<Value> {
    let part = token.split('.').nth(1).context("a JWT")?;
    Ok(serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part)?)?)
}

/// Posts a presigned POST's form with the file last, as a browser's `FormData` does.
pub async fn post_form(
    url: &str,
    fields: &serde_json::Map<String, Value>,
    file: &[u8],
    content_type: &str,
) -> Result<reqwest::StatusCode> {
    let boundary = "----photos-api-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        let value = value.as_str().context("a form field's value")?;
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await?;
    Ok(response.status())
}
