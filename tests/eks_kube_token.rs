//! The EKS scheduler's bearer token for a cluster's Kubernetes API, checked as EKS checks it
//! by a SigV4 implementation that is not the SDK's signer (`support::kube_token`): accepted
//! for its cluster while fresh, refused for another cluster, once expired, under another
//! secret, or altered.

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use base64::Engine as _;
use eks_scheduler::aws::kube_token::token;
use support::kube_token::{Refused, verify};

const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2026-12-06T00:00:00Z.
const SIGNED_AT: i64 = 1_796_515_200;

fn secret_of(key: &str) -> Option<String> {
    matches!(key, "AKIDEXAMPLE" | "ASIAEXAMPLE").then(|| SECRET.to_owned())
}

fn signed(credentials: &Credentials, cluster: &str) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(SIGNED_AT.unsigned_abs());
    token(credentials, "eu-west-1", cluster, at).expect("a token")
}

#[test]
fn the_schedulers_token_is_accepted_for_its_cluster_only_and_only_while_fresh() {
    let credentials = Credentials::new(KEY, SECRET, None, None, "test");
    let made = signed(&credentials, "staging-data");

    assert_eq!(verify(&made, "staging-data", SIGNED_AT + 30, secret_of), Ok(KEY.to_owned()));
    assert_eq!(verify(&made, "staging-data", SIGNED_AT + 14 * 60, secret_of), Ok(KEY.to_owned()));
    let refusal = |result: Result<String, Refused>| result.expect_err("refused").0;
    assert!(refusal(verify(&made, "qa", SIGNED_AT + 30, secret_of)).contains("another cluster"));
    assert_eq!(refusal(verify(&made, "staging-data", SIGNED_AT + 16 * 60, secret_of)), "expired");
    let wrong_secret = |_: &str| Some("another secret".to_owned());
    assert!(refusal(verify(&made, "staging-data", SIGNED_AT + 30, wrong_secret)).contains("signature"));

    // An altered URL (the cluster's name can only change by re-signing) is refused.
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let url = String::from_utf8(engine.decode(&made["k8s-aws-v1.".len()..]).expect("base64url")).expect("a URL");
    let altered = format!("k8s-aws-v1.{}", engine.encode(url.replace("X-Amz-Expires=60", "X-Amz-Expires=900")));
    assert!(refusal(verify(&altered, "staging-data", SIGNED_AT + 30, secret_of)).contains("signature"));

    // A role session's token carries its session token, signed like the rest.
    let session = Credentials::new("ASIAEXAMPLE", SECRET, Some("FwoGZXIvYXdzE+/session=".to_owned()), None, "test");
    assert_eq!(
        verify(&signed(&session, "staging-data"), "staging-data", SIGNED_AT, secret_of),
        Ok("ASIAEXAMPLE".to_owned())
    );
}
