//! Who the caller is. Behind API Gateway's JWT authorizer, its verified `sub` claim; without
//! it (a function URL, a local run) the function verifies the bearer token itself, as the
//! authorizer does: an RS256 signature by a key of the issuer's key set, `iss`, the audience
//! (`aud` of an ID token, `client_id` of an access token), `token_use` and the time claims.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::TokenCheck;
use crate::error::PhotosApiError;

/// Which of Cognito's tokens the API takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    Access,
    Id,
}

impl TokenUse {
    fn claim(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
        }
    }

    /// The claim that names the app client.
    fn audience_claim(self) -> &'static str {
        match self {
            Self::Access => "client_id",
            Self::Id => "aud",
        }
    }
}

/// Seconds of clock difference forgiven in `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: i64 = 60;

/// The signed-in caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`: the caller's folder is `<UPLOADS_PREFIX><sub>/`.
    pub subject: String,
}

impl Caller {
    /// A caller whose `sub` can name a folder: letters, digits and `-_.@+`, up to 128
    /// characters (a Cognito sub is a UUID). Anything else, a `/` above all, is refused.
    pub fn from_subject(subject: &str) -> Result<Self, PhotosApiError> {
        let usable = !subject.is_empty()
            && subject.len() <= 128
            && subject != "."
            && subject != ".."
            && subject.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@+".contains(&b));
        if !usable {
            return Err(denied("the token's sub claim is not a user id this API can file photos under"));
        }
        Ok(Self { subject: subject.to_owned() })
    }
}

fn denied(reason: &str) -> PhotosApiError {
    PhotosApiError::Unauthenticated(reason.to_owned())
}

/// One RSA key of the issuer's JSON Web Key Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: String,
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

/// The issuer's signing keys (`keys` of its JWKS document); keys that are not RSA signing
/// keys for RS256 are left out.
pub fn parse_key_set(document: &[u8]) -> Result<Vec<Jwk>, String> {
    #[derive(Deserialize)]
    struct KeySet {
        keys: Vec<Map<String, Value>>,
    }
    let set: KeySet = serde_json::from_slice(document).map_err(|err| format!("not a JWKS document: {err}"))?;
    let text = |key: &Map<String, Value>, name: &str| key.get(name).and_then(Value::as_str).map(str::to_owned);
    let keys: Vec<Jwk> = set
        .keys
        .iter()
        .filter(|key| text(key, "kty").as_deref() == Some("RSA"))
        .filter(|key| text(key, "use").is_none_or(|u| u == "sig"))
        .filter(|key| text(key, "alg").is_none_or(|alg| alg == "RS256"))
        .filter_map(|key| {
            Some(Jwk {
                kid: text(key, "kid")?,
                modulus: URL_SAFE_NO_PAD.decode(text(key, "n")?).ok()?,
                exponent: URL_SAFE_NO_PAD.decode(text(key, "e")?).ok()?,
            })
        })
        .collect();
    if keys.is_empty() {
        return Err("the JWKS document has no RS256 signing key".to_owned());
    }
    Ok(keys)
}

/// A token split and decoded, its signature not yet checked.
#[derive(Debug, Clone)]
pub struct UnverifiedToken {
    pub kid: String,
    signed: String,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

impl UnverifiedToken {
    /// Three base64url parts; a header that asks for RS256 and names its key. Any other
    /// algorithm (`none`, `HS256` with the public key as the secret) is refused here.
    pub fn parse(token: &str) -> Result<Self, PhotosApiError> {
        let malformed = || denied("the bearer token is not a JWT (three base64url parts)");
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let decode_json = |part: &str| -> Result<Map<String, Value>, PhotosApiError> {
            let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed())?;
            serde_json::from_slice(&bytes).map_err(|_| malformed())
        };
        let header_fields = decode_json(header)?;
        if header_fields.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(denied("the token is not signed with RS256, the only algorithm accepted"));
        }
        let kid =
            header_fields.get("kid").and_then(Value::as_str).ok_or_else(|| denied("the token names no key (kid)"))?;
        Ok(Self {
            kid: kid.to_owned(),
            signed: format!("{header}.{claims}"),
            signature: URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?,
            claims: decode_json(claims)?,
        })
    }

    /// The caller, if `key` signed the token and its claims are what `check` requires at `now_unix`.
    pub fn verify(&self, key: &Jwk, check: &TokenCheck, now_unix: i64) -> Result<Caller, PhotosApiError> {
        RsaPublicKeyComponents { n: key.modulus.as_slice(), e: key.exponent.as_slice() }
            .verify(&RSA_PKCS1_2048_8192_SHA256, self.signed.as_bytes(), &self.signature)
            .map_err(|_| denied("the token's signature does not verify with the issuer's key"))?;
        let text = |name: &str| self.claims.get(name).and_then(Value::as_str);
        let time = |name: &str| self.claims.get(name).and_then(Value::as_i64);
        if text("iss") != Some(check.issuer.as_str()) {
            return Err(denied("the token is from another issuer"));
        }
        if text("token_use") != Some(check.token_use.claim()) {
            return Err(denied(&format!("the API takes {} tokens only", check.token_use.claim())));
        }
        let audience = text(check.token_use.audience_claim());
        if !audience.is_some_and(|audience| check.audiences.iter().any(|accepted| accepted == audience)) {
            return Err(denied("the token is for another app client (audience)"));
        }
        match time("exp") {
            Some(exp) if exp + LEEWAY_SECONDS > now_unix => {}
            Some(_) => return Err(denied("the token has expired: sign in again")),
            None => return Err(denied("the token has no expiry (exp)")),
        }
        if time("nbf").is_some_and(|nbf| nbf > now_unix + LEEWAY_SECONDS)
            || time("iat").is_some_and(|iat| iat > now_unix + LEEWAY_SECONDS)
        {
            return Err(denied("the token is not valid yet"));
        }
        Caller::from_subject(text("sub").ok_or_else(|| denied("the token has no sub claim"))?)
    }
}
