//! What EKS does with a bearer token before its Kubernetes API answers (aws-iam-authenticator's
//! checks, and STS's signature check they end in), written again here from the SigV4
//! specification so the scheduler's tokens are checked by code that is not the SDK's signer:
//! the token's form, the presigned `GetCallerIdentity` URL, the cluster's name among its
//! signed headers, its age, and its signature under the secret of its access key.
//!
//! The in-test Kubernetes API server (issue #30's second part) refuses with 401 what this refuses.

use std::collections::BTreeMap;

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;

/// How long EKS accepts a token after its signing time.
const TOKEN_LIFETIME_SECONDS: i64 = 15 * 60;
/// Clock skew allowed for a token signed "in the future".
const SKEW_SECONDS: i64 = 5 * 60;

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// Checks `token` as EKS would for the cluster named `cluster`, at `now` (seconds since the
/// epoch), with `secret_of` giving an access key's secret; returns the access key it was
/// signed with.
pub fn verify(
    token: &str,
    cluster: &str,
    now: i64,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<String, Refused> {
    let refuse = |why: &str| Err(Refused(why.to_owned()));
    let Some(encoded) = token.strip_prefix("k8s-aws-v1.") else { return refuse("not a k8s-aws-v1 token") };
    let Ok(url) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')) else {
        return refuse("not base64url");
    };
    let Ok(url) = String::from_utf8(url) else { return refuse("not a URL") };
    let Some(rest) = url.strip_prefix("https://") else { return refuse("not an https URL") };
    let Some((host, query)) = rest.split_once("/?") else { return refuse("no query") };
    let Some(region) = host.strip_prefix("sts.").and_then(|h| h.strip_suffix(".amazonaws.com")) else {
        return refuse("not an STS endpoint");
    };
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (percent_decode(key), percent_decode(value)))
        .collect();
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    if param("Action") != Some("GetCallerIdentity") || param("Version") != Some("2011-06-15") {
        return refuse("not GetCallerIdentity");
    }
    if param("X-Amz-Algorithm") != Some("AWS4-HMAC-SHA256") {
        return refuse("not SigV4");
    }
    let signed_headers = param("X-Amz-SignedHeaders").unwrap_or_default();
    if !signed_headers.split(';').any(|header| header == "x-k8s-aws-id") {
        return refuse("x-k8s-aws-id is not signed");
    }
    let credential: Vec<&str> = param("X-Amz-Credential").unwrap_or_default().split('/').collect();
    let [access_key, day, scope_region, "sts", "aws4_request"] = credential[..] else {
        return refuse("not an STS credential scope");
    };
    let amz_date = param("X-Amz-Date").unwrap_or_default();
    let Some(signed_at) = epoch_seconds(amz_date) else { return refuse("no signing time") };
    if now > signed_at + TOKEN_LIFETIME_SECONDS {
        return refuse("expired");
    }
    if signed_at > now + SKEW_SECONDS || !amz_date.starts_with(day) || scope_region != region {
        return refuse("signed for another time or region");
    }
    let Some(secret) = secret_of(access_key) else { return refuse("unknown access key") };

    // The canonical request: every parameter but the signature, encoded and sorted; the
    // signed headers as EKS sends them to STS (the cluster's name its own).
    let mut canonical_query: Vec<(String, String)> = params
        .iter()
        .filter(|(key, _)| key != "X-Amz-Signature")
        .map(|(key, value)| (percent_encode(key), percent_encode(value)))
        .collect();
    canonical_query.sort();
    let canonical_query: Vec<String> = canonical_query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let headers = BTreeMap::from([("host", host), ("x-k8s-aws-id", cluster)]);
    let canonical_headers: String = signed_headers
        .split(';')
        .map(|name| format!("{name}:{}\n", headers.get(name).copied().unwrap_or_default()))
        .collect();
    let empty_payload = hex(digest::digest(&digest::SHA256, b"").as_ref());
    let canonical_request =
        format!("GET\n/\n{}\n{canonical_headers}\n{signed_headers}\n{empty_payload}", canonical_query.join("&"));
    let scope = format!("{day}/{region}/sts/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [day, region, "sts", "aws4_request"] {
        key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes()).as_ref().to_vec();
    }
    let expected = hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), string_to_sign.as_bytes()).as_ref());
    if param("X-Amz-Signature") != Some(expected.as_str()) {
        return refuse("the signature does not match (another cluster's token, or another secret)");
    }
    Ok(access_key.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 encoding, as SigV4 canonicalizes: unreserved characters kept, the rest `%XX`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_pair = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex_pair.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (b'+', _) => {
                decoded.push(b' ');
                i += 1;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// `20261206T000000Z` as seconds since the epoch.
fn epoch_seconds(amz_date: &str) -> Option<i64> {
    let time: jiff::civil::DateTime = jiff::fmt::strtime::parse("%Y%m%dT%H%M%SZ", amz_date).ok()?.to_datetime().ok()?;
    Some(time.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second())
}
