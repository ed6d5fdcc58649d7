//! The web page, assembled once at cold start: the HTML, its one script (the vendored
//! ThumbHash decoder and the page's code), its settings, and a Content-Security-Policy that
//! allows exactly that script and style (by hash) and only the origins the page talks to.

use aws_lc_rs::digest;
use base64::Engine as _;
use serde_json::json;

const HTML: &str = include_str!("../page/index.html");
const THUMBHASH: &str = include_str!("../page/thumbhash.js");
const APP: &str = include_str!("../page/app.js");

/// What the page needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSettings {
    /// Where `InitiateAuth` is posted: `https://cognito-idp.<region>.amazonaws.com/`.
    pub cognito_endpoint: String,
    /// The app client the page signs in with.
    pub client_id: String,
    /// The hosted sign-in's base URL (its `/oauth2/authorize` and `/oauth2/token`), if any.
    pub sign_in_url: Option<String>,
    pub page_size: u32,
    /// Origins the page loads images from and posts uploads to (the buckets').
    pub bucket_origins: Vec<String>,
}

/// The page and its Content-Security-Policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub html: String,
    pub content_security_policy: String,
}

/// `scheme://host[:port]` of a URL.
pub fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}")
}

fn sha256_source(text: &str) -> String {
    let hash = digest::digest(&digest::SHA256, text.as_bytes());
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(hash.as_ref()))
}

/// The text between `start` and `end` in `html`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    html.split_once(start).and_then(|(_, rest)| rest.split_once(end)).map_or("", |(inside, _)| inside)
}

pub fn page(settings: &PageSettings) -> Page {
    // One classic script: the decoder's exports become plain functions the page's code calls.
    let script = format!("{}\n{APP}", THUMBHASH.replace("export function", "function"));
    let config = json!({
        "cognito_endpoint": settings.cognito_endpoint,
        "client_id": settings.client_id,
        "sign_in_url": settings.sign_in_url,
        "page_size": settings.page_size,
    })
    .to_string()
    // A value can never close the script element it sits in.
    .replace('<', "\\u003c");
    let html = HTML.replace("/*CONFIG*/", &config).replace("/*SCRIPT*/", &script);
    let style = between(&html, "<style>", "</style>");
    let buckets = settings.bucket_origins.join(" ");
    // The page posts to Cognito's API (InitiateAuth) and, after the hosted sign-in, to its token
    // endpoint; the sign-in page itself is a navigation, which connect-src does not govern.
    let mut cognito = origin_of(&settings.cognito_endpoint);
    if let Some(sign_in) = &settings.sign_in_url {
        cognito = format!("{cognito} {}", origin_of(sign_in));
    }
    let content_security_policy = format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'self' data: {buckets}; connect-src 'self' {cognito} {buckets}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        sha256_source(&script),
        sha256_source(style),
    );
    Page { html, content_security_policy }
}
