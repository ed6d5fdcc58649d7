//! API Gateway's HTTP API events (payload format 2.0, also what a function URL sends), the
//! answer it expects, and the routes.

use std::collections::BTreeMap;

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::PhotosApiError;

/// The parts of an HTTP API request the function reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiRequest {
    #[serde(default)]
    pub raw_path: String,
    #[serde(default)]
    pub query_string_parameters: BTreeMap<String, String>,
    /// Lower-case names (API Gateway lowers them in payload 2.0).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    #[serde(default)]
    pub request_context: RequestContext,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    #[serde(default)]
    pub http: HttpContext,
    #[serde(default)]
    pub request_id: String,
    /// The JWT authorizer's verified claims, when API Gateway checked the token.
    pub authorizer: Option<Authorizer>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpContext {
    #[serde(default)]
    pub method: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Authorizer {
    pub jwt: Option<JwtAuthorizer>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwtAuthorizer {
    #[serde(default)]
    pub claims: BTreeMap<String, Value>,
}

impl ApiRequest {
    /// The body's bytes (API Gateway base64-encodes bodies it does not take for text).
    pub fn body_bytes(&self) -> Result<Vec<u8>, PhotosApiError> {
        let body = self.body.as_deref().unwrap_or_default();
        if self.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| PhotosApiError::BadRequest("the body is marked base64 but is not base64".to_owned()))
        } else {
            Ok(body.as_bytes().to_vec())
        }
    }

    /// The bearer token of the `Authorization` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.headers.get("authorization")?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
    }

    /// The authorizer's `sub` claim, when API Gateway verified the token.
    pub fn authorizer_subject(&self) -> Option<&str> {
        self.request_context.authorizer.as_ref()?.jwt.as_ref()?.claims.get("sub")?.as_str()
    }
}

/// What the function answers; API Gateway turns it into the HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiResponse {
    pub status_code: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub is_base64_encoded: bool,
}

impl ApiResponse {
    pub fn json(status_code: u16, body: &Value) -> Self {
        let headers = BTreeMap::from([
            ("content-type".to_owned(), "application/json".to_owned()),
            // Presigned URLs and a user's own photos: nothing here may be kept by a cache.
            ("cache-control".to_owned(), "no-store".to_owned()),
        ]);
        Self { status_code, headers, body: body.to_string(), is_base64_encoded: false }
    }

    /// An error's answer: its message when it is the caller's to fix, else only the request
    /// id, which the log line carries with the details.
    pub fn error(err: &PhotosApiError, request_id: &str) -> Self {
        let message = if err.is_the_callers() {
            err.to_string()
        } else {
            format!("the request failed on our side; quote request id {request_id:?} to the operators")
        };
        let mut response = Self::json(err.status(), &json!({ "error": message, "request_id": request_id }));
        if let PhotosApiError::Unauthenticated(reason) = err {
            // RFC 6750: what a client library looks for to sign in again.
            let description = reason.replace(['"', '\\'], "'");
            response.headers.insert(
                "www-authenticate".to_owned(),
                format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
            );
        }
        response
    }

    pub fn page(page: &super::page::Page) -> Self {
        let headers = BTreeMap::from([
            ("content-type".to_owned(), "text/html; charset=utf-8".to_owned()),
            ("cache-control".to_owned(), "no-cache".to_owned()),
            ("content-security-policy".to_owned(), page.content_security_policy.clone()),
            // The gallery's URLs are signed: no other site learns them from a Referer.
            ("referrer-policy".to_owned(), "no-referrer".to_owned()),
            ("x-content-type-options".to_owned(), "nosniff".to_owned()),
        ]);
        Self { status_code: 200, headers, body: page.html.clone(), is_base64_encoded: false }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Page,
    CreateUpload,
    ListPhotos,
    GetPhoto(String),
    DeletePhoto(String),
}

/// The route of a method and raw (still percent-encoded) path. A photo's id is the rest of
/// the path after `/photos/`, decoded: its key below the caller's folder.
pub fn route(method: &str, raw_path: &str) -> Result<Route, PhotosApiError> {
    let not_allowed =
        |allowed| PhotosApiError::MethodNotAllowed { method: method.to_owned(), path: raw_path.to_owned(), allowed };
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    match path {
        "/" | "/index.html" => match method {
            "GET" => Ok(Route::Page),
            _ => Err(not_allowed("GET")),
        },
        "/uploads" => match method {
            "POST" => Ok(Route::CreateUpload),
            _ => Err(not_allowed("POST")),
        },
        "/photos" | "/photos/" => match method {
            "GET" => Ok(Route::ListPhotos),
            _ => Err(not_allowed("GET")),
        },
        _ => match path.strip_prefix("/photos/") {
            Some(encoded) => {
                let id = percent_decode_str(encoded)
                    .decode_utf8()
                    .map_err(|_| PhotosApiError::BadRequest("the photo id in the path is not UTF-8".to_owned()))?
                    .into_owned();
                match method {
                    "GET" => Ok(Route::GetPhoto(id)),
                    "DELETE" => Ok(Route::DeletePhoto(id)),
                    _ => Err(not_allowed("GET or DELETE")),
                }
            }
            None => Err(PhotosApiError::NoRoute { method: method.to_owned(), path: raw_path.to_owned() }),
        },
    }
}
