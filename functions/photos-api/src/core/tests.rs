use base64::Engine as _;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::http::route;
use super::photo::PhotoView;
use super::post_policy::{bucket_url, filename_metadata, presign_post, sign};
use super::upload::{display_filename, key_of_id, photo_id};
use super::*;
use crate::config::{Encryption, TokenCheck};
use crate::error::PhotosApiError;

#[test]
fn signs_the_post_policy_of_s3s_documented_example() {
    // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html: its policy (with CRLF
    // line ends), credentials and date give this signature.
    let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
    assert_eq!(
        sign("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20151229", "us-east-1", policy),
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
    );
}

fn decoded_policy(fields: &std::collections::BTreeMap<String, String>) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD.decode(&fields["policy"]).expect("base64");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[test]
fn the_post_policy_pins_key_size_type_encryption_and_expiry_and_names_every_field() {
    let now: Timestamp = "2026-12-05T15:00:00Z".parse().expect("time");
    let traced = "Root=1-6b146212-905fb9584127ef2a8505cabc;Parent=53995c3f42cd8ad8;Sampled=1";
    for (encryption, session_token, trace_header) in [
        (Encryption::S3Managed, None, None),
        (
            Encryption::Kms("arn:aws:kms:eu-west-1:111122223333:key/k".to_owned()),
            Some("session".to_owned()),
            Some(traced),
        ),
    ] {
        let credentials = SigningCredentials {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: "secret".to_owned(),
            session_token: session_token.clone(),
        };
        let post = presign_post(
            &PostUpload {
                url: "https://photos.s3.eu-west-1.amazonaws.com".to_owned(),
                bucket: "photos",
                region: "eu-west-1",
                key: "uploads/sub-1/01ABC.jpg",
                content_type: "image/jpeg",
                max_bytes: 50_000_000,
                encryption: &encryption,
                filename: "été à la plage.jpg",
                trace_header,
                now,
                expires_at: now + jiff::SignedDuration::from_secs(300),
            },
            &credentials,
        );
        let policy = decoded_policy(&post.fields);
        assert_eq!(policy["expiration"], "2026-12-05T15:05:00.000Z");
        let conditions = policy["conditions"].as_array().expect("conditions");
        assert!(conditions.contains(&json!({"bucket": "photos"})));
        assert!(conditions.contains(&json!(["content-length-range", 1, 50_000_000])));
        // Every form field but the policy and signature is pinned to its exact value.
        for (name, value) in
            post.fields.iter().filter(|(name, _)| !["policy", "x-amz-signature"].contains(&name.as_str()))
        {
            assert!(conditions.contains(&json!({ name: value })), "{name} is not pinned");
        }
        assert_eq!(post.fields["key"], "uploads/sub-1/01ABC.jpg");
        assert_eq!(post.fields["Content-Type"], "image/jpeg");
        assert_eq!(post.fields["x-amz-credential"], "AKIDEXAMPLE/20261205/eu-west-1/s3/aws4_request");
        assert_eq!(post.fields["x-amz-date"], "20261205T150000Z");
        assert_eq!(post.fields["x-amz-meta-filename"], "%C3%A9t%C3%A9 %C3%A0 la plage.jpg");
        assert_eq!(post.fields.get("x-amz-security-token"), session_token.as_ref());
        // The trace goes with the object, pinned like every field (so the uploader cannot move it).
        assert_eq!(post.fields.get("x-amz-meta-trace").map(String::as_str), trace_header);
        match &encryption {
            Encryption::S3Managed => assert_eq!(post.fields["x-amz-server-side-encryption"], "AES256"),
            Encryption::Kms(key) => {
                assert_eq!(post.fields["x-amz-server-side-encryption"], "aws:kms");
                assert_eq!(&post.fields["x-amz-server-side-encryption-aws-kms-key-id"], key);
            }
        }
        assert_eq!(post.fields["x-amz-signature"], sign("secret", "20261205", "eu-west-1", &post.fields["policy"]));
    }
}

#[test]
fn bucket_urls() {
    for (endpoint, bucket, expected) in [
        (None, "photos", "https://photos.s3.eu-west-1.amazonaws.com"),
        (None, "photos.example.com", "https://s3.eu-west-1.amazonaws.com/photos.example.com"),
        (Some("http://127.0.0.1:5000/"), "photos", "http://127.0.0.1:5000/photos"),
    ] {
        assert_eq!(bucket_url(endpoint, bucket, "eu-west-1"), expected);
    }
}

fn check_upload(body: Value, expected: Result<(&str, ImageType, u64), (u16, &str)>) {
    let got = UploadRequest::parse(body.to_string().as_bytes(), 1000);
    match (got, expected) {
        (Ok(upload), Ok((filename, kind, bytes))) => {
            assert_eq!((upload.filename.as_str(), upload.image_type, upload.bytes), (filename, kind, bytes), "{body}");
        }
        (Err(err), Err((status, message))) => {
            assert_eq!(err.status(), status, "{body}: {err}");
            assert!(err.to_string().contains(message), "{body}: {err} should say {message:?}");
        }
        (got, expected) => panic!("{body}: got {got:?}, expected {expected:?}"),
    }
}

#[test]
fn upload_requests_are_checked_field_by_field() {
    let jpeg = ImageType::Jpeg;
    check_upload(json!({"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 10}), Ok(("a.jpg", jpeg, 10)));
    check_upload(
        json!({"filename": "a", "content_type": "IMAGE/PNG; x=1", "bytes": 1000}),
        Ok(("a", ImageType::Png, 1000)),
    );
    check_upload(json!({"content_type": "image/jpeg", "bytes": 10}), Err((400, "missing field filename")));
    check_upload(
        json!({"filename": "a.jpg", "bytes": 10}),
        Err((
            400,
            "missing field content_type: one of image/jpeg, image/png, image/webp, image/gif, image/heic, image/heif",
        )),
    );
    check_upload(json!({"filename": "a.jpg", "content_type": "image/jpeg"}), Err((400, "missing field bytes")));
    // An iPhone's photo, by either name of the format.
    check_upload(
        json!({"filename": "IMG_0001.HEIC", "content_type": "image/heic", "bytes": 10}),
        Ok(("IMG_0001.HEIC", ImageType::Heic, 10)),
    );
    check_upload(
        json!({"filename": "a.heif", "content_type": "image/heif", "bytes": 10}),
        Ok(("a.heif", ImageType::Heif, 10)),
    );
    check_upload(
        json!({"filename": "scan.tiff", "content_type": "image/tiff", "bytes": 10}),
        Err((
            400,
            "field content_type \"image/tiff\" is not an image type the thumbnailer decodes: use one of image/jpeg",
        )),
    );
    check_upload(
        json!({"filename": "a.svg", "content_type": "image/svg+xml", "bytes": 10}),
        Err((400, "is not an image type")),
    );
    check_upload(
        json!({"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 1001}),
        Err((413, "photos of up to 1000 bytes")),
    );
    check_upload(json!({"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 0}), Err((400, "from 1 to 1000")));
    check_upload(json!({"filename": "a.jpg", "content_type": "image/jpeg", "bytes": -5}), Err((400, "from 1 to 1000")));
    check_upload(
        json!({"filename": "a.jpg", "content_type": "image/jpeg", "bytes": 2.5}),
        Err((400, "from 1 to 1000")),
    );
    check_upload(
        json!({"filename": "a.jpg", "content_type": "image/jpeg", "bytes": "10"}),
        Err((400, "field bytes must be")),
    );
    check_upload(
        json!({"filename": 7, "content_type": "image/jpeg", "bytes": 10}),
        Err((400, "field filename must be a string")),
    );
    check_upload(json!(["a.jpg"]), Err((400, "a JSON object")));
    let got = UploadRequest::parse(b"{not json", 1000).expect_err("not JSON");
    assert_eq!(got.status(), 400);
}

#[test]
fn filenames_are_made_safe_to_show() {
    let long = "x".repeat(2000);
    for (name, expected) in [
        ("beach.jpg", "beach.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("a\u{0}b\nc\u{7f}.jpg", "abc.jpg"),
        // The right-to-left override that makes "gpj.exe" read as "exe.jpg".
        ("photo\u{202E}gpj.exe", "photogpj.exe"),
        ("\u{200B}\u{2066}x\u{2069}.png", "x.png"),
        ("..", "photo"),
        ("   ", "photo"),
        ("dir/", "photo"),
        ("été.jpg", "été.jpg"),
    ] {
        assert_eq!(display_filename(name), expected, "{name:?}");
    }
    assert_eq!(display_filename(&long).chars().count(), upload::FILENAME_CHARS);
    assert_eq!(filename_metadata("a/b?c%.jpg"), "a%2Fb%3Fc%25.jpg");
}

#[test]
fn photo_ids_sort_by_time_and_use_crockfords_alphabet() {
    let early = photo_id(1_764_950_400_000, [0xff; 10]);
    let late = photo_id(1_764_950_400_001, [0; 10]);
    assert_eq!(early.len(), 26);
    assert!(early < late, "{early} < {late}");
    assert_eq!(photo_id(0, [0; 10]), "0".repeat(26));
    assert_eq!(photo_id(0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 31]), format!("{}Z", "0".repeat(25)));
    assert!(late.bytes().all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b)));
}

#[test]
fn photo_ids_from_paths_stay_in_the_callers_folder() {
    for (id, expected) in [
        ("01ABC.jpg", Some("uploads/u1/01ABC.jpg")),
        ("2026/beach.jpg", Some("uploads/u1/2026/beach.jpg")),
        ("../u2/01ABC.jpg", None),
        ("a/../../u2/x.jpg", None),
        ("./x.jpg", None),
        ("a//b.jpg", None),
        ("", None),
        ("/x.jpg", None),
        ("x\n.jpg", None),
    ] {
        assert_eq!(key_of_id("uploads/u1/", id).ok().as_deref(), expected, "{id:?}");
    }
}

#[test]
fn routes() {
    for (method, path, expected) in [
        ("GET", "/", Ok(Route::Page)),
        ("POST", "/uploads", Ok(Route::CreateUpload)),
        ("GET", "/photos", Ok(Route::ListPhotos)),
        ("GET", "/photos/01ABC.jpg", Ok(Route::GetPhoto("01ABC.jpg".to_owned()))),
        ("DELETE", "/photos/2026%2Fbeach%20day.jpg", Ok(Route::DeletePhoto("2026/beach day.jpg".to_owned()))),
        ("GET", "/photos/2026/beach.jpg", Ok(Route::GetPhoto("2026/beach.jpg".to_owned()))),
        ("PUT", "/photos/x", Err(405)),
        ("GET", "/uploads", Err(405)),
        ("GET", "/admin", Err(404)),
        ("GET", "/photos/%FF", Err(400)),
    ] {
        assert_eq!(route(method, path).map_err(|err| err.status()), expected, "{method} {path}");
    }
}

#[test]
fn cursors_open_only_for_their_caller_unchanged_and_in_time() {
    let key = CursorKey::new(b"0123456789abcdef0123456789abcdef");
    let cursor = key.seal("uploads/alice/", "uploads/alice/01B.jpg", 2000);
    assert_eq!(key.open("uploads/alice/", &cursor, 1000).ok().as_deref(), Some("uploads/alice/01B.jpg"));
    let refused = |folder: &str, cursor: &str, now: i64| key.open(folder, cursor, now).map_err(|err| err.status());
    // Another caller's, an expired one, one signed with another key, a changed one, garbage.
    assert_eq!(refused("uploads/bob/", &cursor, 1000), Err(400));
    assert_eq!(refused("uploads/alice/", &cursor, 2000), Err(400));
    let other =
        CursorKey::new(b"another key, another deployment!").seal("uploads/alice/", "uploads/alice/01B.jpg", 2000);
    assert_eq!(refused("uploads/alice/", &other, 1000), Err(400));
    let (payload, tag) = cursor.split_once('.').expect("two parts");
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"k": "uploads/bob/01B.jpg", "e": 2000}).to_string());
    assert_eq!(refused("uploads/alice/", &format!("{forged_payload}.{tag}"), 1000), Err(400));
    assert_eq!(refused("uploads/alice/", &format!("{payload}x.{tag}"), 1000), Err(400));
    assert_eq!(refused("uploads/alice/", "garbage", 1000), Err(400));
    // Signed by this key for this caller, yet naming a key outside the folder: refused too.
    let outside = key.seal("uploads/alice/", "uploads/bob/01B.jpg", 2000);
    assert_eq!(refused("uploads/alice/", &outside, 1000), Err(400));
}

#[test]
fn records_as_their_owner_sees_them() {
    let record = json!({
        "photo_id": "b/uploads/u1/01A.jpg", "owner": "b/uploads/u1/", "key": "uploads/u1/01A.jpg", "bucket": "b",
        "status": "ready", "size": 10, "width": 4, "height": 3, "placeholder": "abc", "dominant_colour": "#102030",
        "sequencer": "0001", "version": "ready:e", "etag": "e", "announced": true,
        "thumbnails": [{"key": "thumbnails/uploads/u1/01A.jpg-64x64.jpg", "box": "64x64", "width": 64, "height": 48}]
    });
    let view = PhotoView::of(&record, "uploads/u1/").expect("the owner's");
    assert_eq!(view.id, "01A.jpg");
    assert_eq!(view.thumbnails[0].0, "thumbnails/uploads/u1/01A.jpg-64x64.jpg");
    let shown = view.into_json(vec!["https://t".to_owned()], "https://o".to_owned());
    assert_eq!(shown["thumbnails"], json!([{"box": "64x64", "width": 64, "height": 48, "url": "https://t"}]));
    assert_eq!(shown["original_url"], "https://o");
    // What only the pipeline needs stays out.
    for hidden in ["photo_id", "owner", "bucket", "key", "sequencer", "version", "etag", "announced"] {
        assert!(shown.get(hidden).is_none(), "{hidden} is shown");
    }
    assert!(PhotoView::of(&record, "uploads/u2/").is_none());
    let mut deleted = record.clone();
    deleted["status"] = json!("deleted");
    assert!(PhotoView::of(&deleted, "uploads/u1/").is_none());
}

#[test]
fn subjects_that_cannot_name_a_folder_are_refused() {
    for (subject, usable) in [
        ("9d6c8a6e-1f2b-4c3d-8e9f-0a1b2c3d4e5f", true),
        ("alice@example.com", true),
        ("", false),
        ("..", false),
        ("a/b", false),
        ("a b", false),
        (&"x".repeat(129), false),
    ] {
        assert_eq!(Caller::from_subject(subject).is_ok(), usable, "{subject:?}");
    }
}

/// A token with the given header and claims and a signature of junk: enough for every
/// check that comes before the signature's.
fn token(header: &Value, claims: &Value) -> String {
    let part = |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{}", part(header), part(claims), part(&json!("signature")))
}

#[test]
fn tokens_of_another_algorithm_or_shape_are_refused_before_any_key_is_looked_up() {
    let claims = json!({"sub": "u1"});
    for (candidate, reason) in [
        (token(&json!({"alg": "none", "kid": "k"}), &claims), "RS256"),
        (token(&json!({"alg": "HS256", "kid": "k"}), &claims), "RS256"),
        (token(&json!({"alg": "RS256"}), &claims), "names no key"),
        ("a.b".to_owned(), "not a JWT"),
        ("a.b.c.d".to_owned(), "not a JWT"),
        ("!!.??.**".to_owned(), "not a JWT"),
    ] {
        let err = UnverifiedToken::parse(&candidate).expect_err("refused");
        assert!(
            matches!(&err, PhotosApiError::Unauthenticated(message) if message.contains(reason)),
            "{candidate}: {err}"
        );
    }
    let parsed = UnverifiedToken::parse(&token(&json!({"alg": "RS256", "kid": "k1"}), &claims)).expect("parses");
    assert_eq!(parsed.kid, "k1");
    // Its signature is junk: no key verifies it, whatever the claims.
    let key = Jwk { kid: "k1".to_owned(), modulus: vec![0xc5; 256], exponent: vec![1, 0, 1] };
    let check = TokenCheck {
        issuer: "https://issuer".to_owned(),
        audiences: vec!["client".to_owned()],
        jwks_url: "https://issuer/.well-known/jwks.json".to_owned(),
        token_use: TokenUse::Access,
    };
    assert!(parsed.verify(&key, &check, 0).is_err());
}

#[test]
fn key_sets_keep_only_rs256_signing_keys() {
    let document = json!({"keys": [
        {"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB", "alg": "RS256", "use": "sig"},
        {"kty": "RSA", "kid": "b", "n": "AQAB", "e": "AQAB"},
        {"kty": "RSA", "kid": "enc", "n": "AQAB", "e": "AQAB", "use": "enc"},
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AQAB", "y": "AQAB"},
        {"kty": "RSA", "kid": "ps", "n": "AQAB", "e": "AQAB", "alg": "PS256"}
    ]});
    let keys = token::parse_key_set(document.to_string().as_bytes()).expect("keys");
    assert_eq!(keys.iter().map(|key| key.kid.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert!(token::parse_key_set(br#"{"keys": []}"#).is_err());
    assert!(token::parse_key_set(b"<html>").is_err());
}

#[test]
fn the_page_allows_exactly_its_own_script_and_style_and_its_settings_cannot_close_the_script() {
    use super::page::{PageSettings, origin_of, page};
    let settings = PageSettings {
        cognito_endpoint: "https://cognito-idp.eu-west-1.amazonaws.com/".to_owned(),
        client_id: "client</script><script>alert(1)</script>".to_owned(),
        sign_in_url: Some("https://photos.auth.eu-west-1.amazoncognito.com".to_owned()),
        page_size: 24,
        bucket_origins: vec!["https://photos.s3.eu-west-1.amazonaws.com".to_owned()],
    };
    let built = page(&settings);
    assert!(!built.html.contains("/*CONFIG*/") && !built.html.contains("/*SCRIPT*/"));
    assert_eq!(built.html.matches("</script>").count(), 2, "the settings closed no script element");
    let script =
        built.html.split("<script>").nth(1).and_then(|rest| rest.split("</script>").next()).expect("the script");
    assert!(script.contains("function thumbHashToDataURL") && !script.contains("export function"));
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, script.as_bytes());
    let source = format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(hash.as_ref()));
    let csp = &built.content_security_policy;
    assert!(csp.contains(&format!("script-src {source};")), "{csp}");
    assert!(csp.starts_with("default-src 'none';") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains(
            "connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com https://photos.auth.eu-west-1.amazoncognito.com https://photos.s3.eu-west-1.amazonaws.com"
        ),
        "{csp}"
    );
    assert_eq!(origin_of("http://127.0.0.1:5000/bucket/key?x=1"), "http://127.0.0.1:5000");
}

#[test]
fn presigns_the_get_of_s3s_documented_example() {
    // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
    let bucket = super::post_policy::BucketEndpoint::of(None, "examplebucket", "us-east-1");
    let bucket = super::post_policy::BucketEndpoint { host: "examplebucket.s3.amazonaws.com".to_owned(), ..bucket };
    let credentials = SigningCredentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
        session_token: None,
    };
    let now: Timestamp = "2013-05-24T00:00:00Z".parse().expect("time");
    assert_eq!(
        super::post_policy::presign_get(&bucket, "test.txt", "us-east-1", &credentials, now, 86400),
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
    // Path-style at an emulator, a key with spaces and unicode, a session token.
    let local = super::post_policy::BucketEndpoint::of(Some("http://127.0.0.1:5000"), "photos", "eu-west-1");
    let credentials = SigningCredentials { session_token: Some("tok/en+=".to_owned()), ..credentials };
    let url = super::post_policy::presign_get(&local, "uploads/u1/été 1.jpg", "eu-west-1", &credentials, now, 900);
    assert!(url.starts_with("http://127.0.0.1:5000/photos/uploads/u1/%C3%A9t%C3%A9%201.jpg?X-Amz-Algorithm="), "{url}");
    assert!(url.contains("&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host&X-Amz-Signature="), "{url}");
}
