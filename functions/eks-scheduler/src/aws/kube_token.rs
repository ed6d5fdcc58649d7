//! The bearer token an EKS cluster's Kubernetes API takes from an IAM identity, as
//! `aws eks get-token` and aws-iam-authenticator make it: an STS `GetCallerIdentity` URL
//! presigned locally (no request) by the SDK's own SigV4 signer, with the cluster's name
//! signed in the `x-k8s-aws-id` header, so a token made for one cluster is refused by another.
//! EKS calls STS with it and maps the identity it answers to an access entry.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;

/// What every token starts with.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header that names the cluster, signed into the URL.
pub const CLUSTER_HEADER: &str = "x-k8s-aws-id";
/// How long the presigned URL is good for, as `aws eks get-token` signs it (EKS accepts a
/// token for 15 minutes from its signing time whatever it says; a run makes a fresh one per cluster).
const EXPIRES_IN: Duration = Duration::from_secs(60);

/// A token for `cluster` (its name, as EKS knows it) from `credentials`, signed at `now` for
/// the STS endpoint of `region` (the cluster's).
pub fn token(credentials: &Credentials, region: &str, cluster: &str, now: SystemTime) -> Result<String, String> {
    let url = format!("https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(EXPIRES_IN);
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|err| format!("signing the token for {cluster}: {err}"))?
        .into();
    let headers = [(CLUSTER_HEADER, cluster)];
    let signable = SignableRequest::new("GET", &url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|err| format!("signing the token for {cluster}: {err}"))?;
    let (instructions, _) =
        sign(signable, &params).map_err(|err| format!("signing the token for {cluster}: {err}"))?.into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(&url)
        .header(CLUSTER_HEADER, cluster)
        .body(())
        .map_err(|err| format!("signing the token for {cluster}: {err}"))?;
    instructions.apply_to_request_http1x(&mut request);
    let presigned = request.uri().to_string();
    Ok(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The presigned URL a token holds, and its query parameters.
    fn decoded(token: &str) -> (String, BTreeMap<String, String>) {
        let encoded = token.strip_prefix(TOKEN_PREFIX).expect("the token's prefix");
        let url =
            String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).expect("base64url"))
                .expect("a URL");
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let params = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace("%2F", "/").replace("%3B", ";")))
            .collect();
        (url, params)
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_token_is_a_presigned_get_caller_identity_naming_the_cluster_in_its_signed_headers() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        // 2026-12-06T00:00:00Z
        let made = token(&credentials, "eu-west-1", "staging-data", at(1_796_515_200)).expect("a token");
        let (url, params) = decoded(&made);
        assert!(url.starts_with("https://sts.eu-west-1.amazonaws.com/?"), "{url}");
        assert_eq!(params["Action"], "GetCallerIdentity");
        assert_eq!(params["Version"], "2011-06-15");
        assert_eq!(params["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(params["X-Amz-Credential"], "AKIDEXAMPLE/20261206/eu-west-1/sts/aws4_request");
        assert_eq!(params["X-Amz-Date"], "20261206T000000Z");
        assert_eq!(params["X-Amz-Expires"], "60");
        assert_eq!(params["X-Amz-SignedHeaders"], "host;x-k8s-aws-id");
        assert!(
            params["X-Amz-Signature"].len() == 64 && params["X-Amz-Signature"].chars().all(|c| c.is_ascii_hexdigit())
        );
        assert!(!made.contains('='), "base64url without padding: {made}");
        assert!(!params.contains_key("X-Amz-Security-Token"));

        // Another cluster, or another moment, is another signature; a session's token is carried.
        let other = decoded(&token(&credentials, "eu-west-1", "qa", at(1_796_515_200)).expect("a token")).1;
        assert_ne!(other["X-Amz-Signature"], params["X-Amz-Signature"]);
        let later = decoded(&token(&credentials, "eu-west-1", "staging-data", at(1_796_515_260)).expect("a token")).1;
        assert_ne!(later["X-Amz-Signature"], params["X-Amz-Signature"]);
        let session = Credentials::new("ASIAEXAMPLE", "secret", Some("the-session".into()), None, "test");
        let with_session =
            decoded(&token(&session, "eu-west-1", "staging-data", at(1_796_515_200)).expect("a token")).1;
        assert_eq!(with_session["X-Amz-Security-Token"], "the-session");
    }
}
