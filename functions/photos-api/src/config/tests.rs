use shared::config::parse_settings;

use super::*;

const BASE: [(&str, &str); 2] = [("UPLOADS_BUCKET", "photos"), ("PHOTOS_TABLE", "catalogue")];

fn parse(extra: &[(&str, &str)]) -> Result<Config, String> {
    parse_settings(Config::from_env, &[&BASE[..], extra].concat())
}

#[test]
fn the_uploads_bucket_and_table_are_enough() {
    let config = parse(&[]).expect("valid");
    assert_eq!(config.uploads_prefix, "uploads/");
    assert_eq!(config.owner_depth, 2);
    assert_eq!(config.thumbnails_bucket, "photos");
    assert_eq!(config.max_input_bytes, 50_000_000);
    assert_eq!(config.encryption, Encryption::S3Managed);
    assert_eq!(config.token_check, None);
    assert_eq!(config.upload_expiry, Duration::from_secs(300));
}

#[test]
fn settings() {
    let config = parse(&[
        ("UPLOADS_PREFIX", "incoming/photos"),
        ("PHOTOS_OWNER_DEPTH", "3"),
        ("DEST_BUCKET", "thumbs"),
        ("UPLOADS_KMS_KEY_ARN", "arn:aws:kms:us-east-1:111122223333:key/k"),
        ("JWT_ISSUER", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/"),
        ("JWT_AUDIENCE", "client-a, client-b"),
    ])
    .expect("valid");
    assert_eq!(config.uploads_prefix, "incoming/photos/");
    assert_eq!(config.thumbnails_bucket, "thumbs");
    let check = config.token_check.expect("a token check");
    assert_eq!(check.issuer, "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc");
    assert_eq!(check.jwks_url, "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/.well-known/jwks.json");
    assert_eq!(check.audiences, ["client-a", "client-b"]);
    assert_eq!(check.token_use, TokenUse::Access);
    let hosted = parse(&[("PAGE_SIGN_IN_URL", "https://photos.auth.eu-west-1.amazoncognito.com/")]).expect("valid");
    assert_eq!(hosted.page_sign_in_url.as_deref(), Some("https://photos.auth.eu-west-1.amazoncognito.com"));
    assert_eq!(parse(&[("UPLOADS_PREFIX", "/")]).expect("no prefix").owner_depth, 1);
}

#[test]
fn bad_settings_name_the_variable_and_the_fix() {
    for (settings, message) in [
        (
            &[("PHOTOS_OWNER_DEPTH", "1")][..],
            "invalid setting PHOTOS_OWNER_DEPTH=\"1\": expected 2: the folders of UPLOADS_PREFIX",
        ),
        (&[("UPLOADS_PREFIX", "/uploads")][..], "invalid setting UPLOADS_PREFIX"),
        (&[("MAX_INPUT_BYTES", "0")][..], "invalid setting MAX_INPUT_BYTES"),
        (&[("UPLOADS_KMS_KEY_ARN", "alias/photos")][..], "a KMS key ARN"),
        (&[("PAGE_SIZE", "500")][..], "from 1 to 100"),
        (&[("UPLOAD_URL_SECONDS", "86400")][..], "from 30 to 3600"),
        (&[("JWT_ISSUER", "https://issuer")][..], "missing setting JWT_AUDIENCE"),
        (&[("JWT_AUDIENCE", "client")][..], "JWT_ISSUER set too"),
        (&[("JWT_ISSUER", "issuer"), ("JWT_AUDIENCE", "c")][..], "the issuer's URL"),
        (&[("JWT_ISSUER", "https://i"), ("JWT_AUDIENCE", "c"), ("JWT_TOKEN_USE", "refresh")][..], "access or id"),
        (&[("CURSOR_KEY_SECRET_ARN", "my-secret")][..], "a Secrets Manager secret ARN"),
        (&[("PAGE_SIGN_IN_URL", "photos.auth.eu-west-1.amazoncognito.com")][..], "the hosted sign-in's base URL"),
        (&[("PAGE_SIGN_IN_URL", "https://d.example/oauth2/authorize")][..], "the hosted sign-in's base URL"),
    ] {
        let err = parse(settings).expect_err("invalid");
        assert!(err.contains(message), "{settings:?}: {err}");
    }
    assert!(
        parse_settings(Config::from_env, &[("PHOTOS_TABLE", "t")])
            .expect_err("no bucket")
            .contains("missing setting UPLOADS_BUCKET")
    );
    assert!(
        parse_settings(Config::from_env, &[("UPLOADS_BUCKET", "b")])
            .expect_err("no table")
            .contains("missing setting PHOTOS_TABLE")
    );
}
