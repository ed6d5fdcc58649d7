//! The photos API against the emulator, with real tokens from its Cognito: uploads through
//! the presigned POST a browser makes, the thumbnailer filing them, each user's gallery, and
//! everything a caller may try to reach another user's photos; and the page in headless Chromium.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use lambda_runtime::{Context, LambdaEvent};
use photos_api::{Clock, Deps};
use serde_json::{Value, json};
use shared::aws::Aws;
use support::cognito::{Tokens, UserPool, post_form};
use support::images::photo;
use support::local_api::LocalApi;
use support::photos::{PhotoApp, item, phone_photo, s3_event};
use support::pipeline::Pipeline;
use support::sign_in::HostedSignIn;
use support::{Moto, TestAccount, event};

const PASSWORD: &str = "Correct-Horse-9";

#[derive(Debug)]
struct FixedClock(SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// An uploads bucket, a catalogue, a user pool with two users, the thumbnailer as deployed
/// beside the API.
struct App {
    account: TestAccount,
    bucket: String,
    table: String,
    pool: UserPool,
    alice: Tokens,
    bob: Tokens,
    dynamodb: aws_sdk_dynamodb::Client,
    thumbnailer: thumbnailer::Deps,
}

impl App {
    async fn new() -> Result<Self> {
        let moto = Moto::shared();
        let account = TestAccount::default_account(moto.url()).await;
        let PhotoApp { bucket, table, dynamodb, pool } =
            PhotoApp::create(&account, moto.url(), account.unique_bucket("gallery")).await?;
        for user in ["alice", "bob"] {
            pool.add_user(user, PASSWORD).await?;
        }
        let alice = pool.sign_in(&pool.client_id, "alice", PASSWORD).await?;
        let bob = pool.sign_in(&pool.client_id, "bob", PASSWORD).await?;
        let thumbnailer = thumbnailer::Deps::new(
            thumbnailer::Config::from_env(&shared::config::Env::from_pairs([
                ("PHOTOS_TABLE", table.as_str()),
                ("PHOTOS_OWNER_DEPTH", "2"),
                ("THUMBNAIL_SIZES", "64x64,256x256"),
                ("DELETE_WITH_SOURCE", "true"),
            ]))?,
            &account.aws,
        );
        Ok(Self { account, bucket, table, pool, alice, bob, dynamodb, thumbnailer })
    }

    fn settings(&self) -> Vec<(&str, String)> {
        let mut settings = self.pool.api_settings(&self.bucket, &self.table);
        settings.extend([("MAX_INPUT_BYTES", "5000000".to_owned()), ("PAGE_SIZE", "2".to_owned())]);
        settings
    }

    /// The API, with its own request counter, telling time by `now`.
    async fn api_at(&self, settings: &[(&str, String)], now: SystemTime) -> Result<(Deps, Aws)> {
        let aws = Aws::from_sdk_config(self.account.aws.sdk_config().clone());
        let pairs = settings.iter().map(|(name, value)| (*name, value.as_str()));
        let config = photos_api::Config::from_env(&shared::config::Env::from_pairs(pairs))?;
        let deps = Deps::new(config, &aws).await?.with_clock(Arc::new(FixedClock(now)));
        Ok((deps, aws))
    }

    async fn api(&self) -> Result<Deps> {
        Ok(self.api_at(&self.settings(), SystemTime::now()).await?.0)
    }

    /// Runs the thumbnailer on the object's creation, as the uploads queue delivers it.
    async fn process(&self, key: &str) -> Result<()> {
        let head = self.account.aws.s3().head_object().bucket(&self.bucket).key(key).send().await?;
        let etag = head.e_tag().context("an ETag")?.trim_matches('"').to_owned();
        let event = s3_event(&self.bucket, key, "ObjectCreated:Post", Some(&etag), None);
        thumbnailer::handle(&self.thumbnailer, LambdaEvent::new(event, Context::default())).await?;
        Ok(())
    }

    async fn process_deletion(&self, key: &str) -> Result<()> {
        let event = s3_event(&self.bucket, key, "ObjectRemoved:Delete", None, None);
        thumbnailer::handle(&self.thumbnailer, LambdaEvent::new(event, Context::default())).await?;
        Ok(())
    }

    async fn object_exists(&self, key: &str) -> bool {
        self.account.aws.s3().head_object().bucket(&self.bucket).key(key).send().await.is_ok()
    }

    /// Asks for an upload, posts the file through the answer's form, and gives the answer.
    async fn upload(&self, deps: &Deps, token: &str, filename: &str, content_type: &str, file: &[u8]) -> Result<Value> {
        let body = json!({ "filename": filename, "content_type": content_type, "bytes": file.len() });
        let (status, answer) = call(deps, request("POST", "/uploads", Some(token), Some(body), &[])).await?;
        anyhow::ensure!(status == 201, "POST /uploads answered {status}: {answer}");
        let fields = answer["fields"].as_object().context("the form's fields")?;
        let posted = post_form(answer["url"].as_str().context("a URL")?, fields, file, content_type).await?;
        anyhow::ensure!(posted.is_success(), "the form post answered {posted}");
        Ok(answer)
    }
}

/// An HTTP API event (payload 2.0), without the authorizer's claims: the function verifies the token.
fn request(method: &str, path: &str, token: Option<&str>, body: Option<Value>, query: &[(&str, &str)]) -> Value {
    let mut headers = json!({ "content-type": "application/json" });
    if let Some(token) = token {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    let query: serde_json::Map<String, Value> = query.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path,
        "rawQueryString": "", "headers": headers, "queryStringParameters": query,
        "requestContext": { "http": { "method": method, "path": path }, "requestId": "test-request" },
        "body": body.map(|body| body.to_string()), "isBase64Encoded": false
    })
}

async fn call(deps: &Deps, event: Value) -> Result<(u16, Value)> {
    let response =
        photos_api::handle(deps, LambdaEvent::new(event, Context::default())).await.map_err(anyhow::Error::msg)?;
    let body = serde_json::from_str(&response.body).unwrap_or(Value::String(response.body.clone()));
    Ok((response.status_code, body))
}

fn policy_of(answer: &Value) -> Result<Value> {
    let encoded = answer["fields"]["policy"].as_str().context("a policy")?;
    Ok(serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(encoded)?)?)
}

fn condition(policy: &Value, name: &str) -> Option<Value> {
    policy["conditions"].as_array()?.iter().find_map(|condition| condition.get(name).cloned())
}

fn ids(gallery: &Value) -> Vec<String> {
    gallery["photos"].as_array().map_or_else(Vec::new, |photos| {
        photos.iter().filter_map(|photo| photo["id"].as_str().map(str::to_owned)).collect()
    })
}

#[tokio::test]
async fn an_upload_lands_in_the_callers_folder_becomes_a_record_and_only_its_owner_sees_it() -> Result<()> {
    let app = App::new().await?;
    let api = app.api().await?;
    let jpeg = photo(640, 480, image::ImageFormat::Jpeg);
    let asked_at = SystemTime::now();

    // Given alice's upload through the presigned POST.
    let answer = app.upload(&api, &app.alice.access, "beach.jpg", "image/jpeg", &jpeg).await?;

    // Then its policy pins exactly one key in her folder, the size range, the type, the encryption and a short expiry.
    let key = answer["key"].as_str().context("a key")?.to_owned();
    let folder = format!("uploads/{}/", app.alice.subject);
    let id = key.strip_prefix(&folder).with_context(|| format!("{key} is not in {folder}"))?.to_owned();
    assert!(id.len() == 30 && id.ends_with(".jpg"), "{id}");
    assert_eq!(answer["id"], id.as_str());
    let policy = policy_of(&answer)?;
    assert_eq!(condition(&policy, "key"), Some(json!(key)));
    assert_eq!(condition(&policy, "bucket"), Some(json!(app.bucket)));
    assert_eq!(condition(&policy, "Content-Type"), Some(json!("image/jpeg")));
    assert_eq!(condition(&policy, "x-amz-server-side-encryption"), Some(json!("AES256")));
    assert!(policy["conditions"].as_array().context("conditions")?.contains(&json!([
        "content-length-range",
        1,
        5_000_000
    ])));
    let expiration: jiff::Timestamp = policy["expiration"].as_str().context("an expiry")?.parse()?;
    let in_seconds = expiration.as_second() - jiff::Timestamp::try_from(asked_at)?.as_second();
    assert!((299..=301).contains(&in_seconds), "expires in {in_seconds} s");
    assert!(app.object_exists(&key).await, "the POST wrote {key}");

    // When the thumbnailer files it.
    app.process(&key).await?;

    // Then alice's gallery shows it ready, with a placeholder, a colour and thumbnails that download.
    let (status, gallery) = call(&api, request("GET", "/photos", Some(&app.alice.access), None, &[])).await?;
    assert_eq!(status, 200, "{gallery}");
    assert_eq!(ids(&gallery), std::slice::from_ref(&id));
    assert_eq!(gallery["next"], Value::Null, "one photo is one page");
    let shown = &gallery["photos"][0];
    assert_eq!(shown["status"], "ready", "{shown}");
    assert!(shown["placeholder"].is_string() && shown["dominant_colour"].is_string(), "{shown}");
    assert_eq!((shown["width"].as_u64(), shown["height"].as_u64()), (Some(640), Some(480)));
    let thumbnails = shown["thumbnails"].as_array().context("thumbnails")?;
    assert_eq!(thumbnails.len(), 2, "{shown}");
    for thumbnail in thumbnails {
        let url = thumbnail["url"].as_str().context("a URL")?;
        assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=900"), "{url}");
        let bytes = reqwest::get(url).await?.error_for_status()?.bytes().await?;
        let decoded = image::load_from_memory(&bytes)?;
        assert_eq!(u64::from(decoded.width()), thumbnail["width"].as_u64().context("a width")?);
    }
    assert!(shown.get("key").is_none() && shown.get("owner").is_none(), "{shown}");
    let (status, one) =
        call(&api, request("GET", &format!("/photos/{id}"), Some(&app.alice.access), None, &[])).await?;
    assert_eq!((status, &one["id"]), (200, &json!(id)));

    // And bob sees nothing of it: not in his gallery, not by id, and cannot delete it.
    let (status, his) = call(&api, request("GET", "/photos", Some(&app.bob.access), None, &[])).await?;
    assert_eq!((status, ids(&his)), (200, Vec::<String>::new()));
    for method in ["GET", "DELETE"] {
        let (status, answer) =
            call(&api, request(method, &format!("/photos/{id}"), Some(&app.bob.access), None, &[])).await?;
        assert_eq!(status, 404, "bob's {method}: {answer}");
        let other_folder = format!("/photos/..%2F{}%2F{id}", app.alice.subject);
        let (status, _) = call(&api, request(method, &other_folder, Some(&app.bob.access), None, &[])).await?;
        assert_eq!(status, 404, "bob's {method} through ..");
    }
    assert!(app.object_exists(&key).await, "bob's DELETE left alice's photo");

    // When alice deletes it, the source goes, and the thumbnailer's delete path files the record as deleted.
    let (status, _) =
        call(&api, request("DELETE", &format!("/photos/{id}"), Some(&app.alice.access), None, &[])).await?;
    assert_eq!(status, 202);
    assert!(!app.object_exists(&key).await);
    app.process_deletion(&key).await?;
    let record = item(&app.dynamodb, &app.table, &format!("{}/{key}", app.bucket)).await?.context("the record")?;
    assert_eq!(record["status"], "deleted");
    let (_, gallery) = call(&api, request("GET", "/photos", Some(&app.alice.access), None, &[])).await?;
    assert_eq!(ids(&gallery), Vec::<String>::new());
    let (status, _) = call(&api, request("GET", &format!("/photos/{id}"), Some(&app.alice.access), None, &[])).await?;
    assert_eq!(status, 404);
    Ok(())
}

/// Files a record for one of `subject`'s photos as the thumbnailer would.
async fn file_record(app: &App, subject: &str, id: &str) -> Result<()> {
    let key = format!("uploads/{subject}/{id}");
    let mut item = std::collections::HashMap::new();
    for (name, value) in [
        ("photo_id", format!("{}/{key}", app.bucket)),
        ("owner", format!("{}/uploads/{subject}/", app.bucket)),
        ("bucket", app.bucket.clone()),
        ("key", key),
        ("status", "ready".to_owned()),
    ] {
        item.insert(name.to_owned(), AttributeValue::S(value));
    }
    app.dynamodb.put_item().table_name(&app.table).set_item(Some(item)).send().await?;
    Ok(())
}

#[tokio::test]
async fn gallery_pages_cost_one_query_each_and_their_cursors_work_only_for_their_caller() -> Result<()> {
    let app = App::new().await?;
    let photo_ids: Vec<String> = (1..=5).map(|n| format!("01JZ000000000000000000000{n}.jpg")).collect();
    for id in &photo_ids {
        file_record(&app, &app.alice.subject, id).await?;
    }
    file_record(&app, &app.bob.subject, "01JZ0000000000000000000009.jpg").await?;
    // The cursor key from its secret, as deployed.
    let secrets = shared::aws_client!(aws_sdk_secretsmanager, &app.account.aws);
    let secret = secrets
        .create_secret()
        .name(format!("{}-cursor-key", app.bucket))
        .secret_string("a cursor key of more than thirty-two characters")
        .send()
        .await?;
    let mut settings = app.settings();
    settings.push(("CURSOR_KEY_SECRET_ARN", secret.arn().context("the secret's ARN")?.to_owned()));
    let now = SystemTime::now();
    let (api, aws) = app.api_at(&settings, now).await?;
    let page = |token: &str, cursor: Option<&str>| {
        let query: Vec<(&str, &str)> = cursor.map(|cursor| vec![("cursor", cursor)]).unwrap_or_default();
        request("GET", "/photos", Some(token), None, &query)
    };
    // The first request also fetches the issuer's keys: no AWS request.
    call(&api, page(&app.alice.access, None)).await?;

    // Newest first, two a page (PAGE_SIZE), each page one DynamoDB request and no other.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut cursors = Vec::new();
    for _ in 0..3 {
        let before = aws.api_calls().get();
        let (status, gallery) = call(&api, page(&app.alice.access, cursor.as_deref())).await?;
        assert_eq!(status, 200, "{gallery}");
        assert_eq!(aws.api_calls().get() - before, 1, "one Query per page");
        seen.extend(ids(&gallery));
        cursor = gallery["next"].as_str().map(str::to_owned);
        cursors.extend(cursor.clone());
        if cursor.is_none() {
            break;
        }
    }
    let newest_first: Vec<String> = photo_ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    assert_eq!(cursor, None);
    let alices = cursors.first().context("a cursor")?.clone();

    // Bob with alice's cursor, a changed cursor, an expired one: 400, never a photo.
    let (status, answer) = call(&api, page(&app.bob.access, Some(&alices))).await?;
    assert_eq!((status, ids(&answer)), (400, Vec::<String>::new()), "{answer}");
    let mut changed = alices.clone().into_bytes();
    changed[3] = if changed[3] == b'A' { b'B' } else { b'A' };
    let (status, _) = call(&api, page(&app.alice.access, Some(std::str::from_utf8(&changed)?))).await?;
    assert_eq!(status, 400);
    let (later, _) = app.api_at(&settings, now + Duration::from_secs(2 * 3600)).await?;
    // The token has expired by then too; the authorizer's claims stand for it (API Gateway checked it then).
    let mut expired = page(&app.alice.access, Some(&alices));
    expired["requestContext"]["authorizer"] = json!({ "jwt": { "claims": { "sub": app.alice.subject } } });
    let (status, answer) = call(&later, expired).await?;
    assert_eq!(status, 400, "an expired cursor: {answer}");
    // Another instance with the same secret opens it; one with a key of its own (no secret) does not.
    let (same_secret, _) = app.api_at(&settings, now).await?;
    let (status, _) = call(&same_secret, page(&app.alice.access, Some(&alices))).await?;
    assert_eq!(status, 200);
    let (other_deployment, _) = app.api_at(&app.settings(), now).await?;
    let (status, _) = call(&other_deployment, page(&app.alice.access, Some(&alices))).await?;
    assert_eq!(status, 400);
    Ok(())
}

#[tokio::test]
async fn missing_expired_wrongly_signed_and_other_audience_tokens_get_401() -> Result<()> {
    let app = App::new().await?;
    let api = app.api().await?;
    let other_client = app.pool.add_client("another-app").await?;
    let other_audience = app.pool.sign_in(&other_client, "alice", PASSWORD).await?;
    let mut forged = app.alice.access.clone();
    // The last character of the signature changed: still base64url, no longer the issuer's signature.
    let last = forged.pop().context("a token")?;
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (_, rest) = app.alice.access.split_once('.').context("a JWT")?;
    let unsigned_header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"dummy"}"#);
    let (claims, _) = rest.split_once('.').context("a JWT")?;
    let alg_none = format!("{unsigned_header}.{claims}.");

    for (what, token) in [
        ("no token", None),
        ("not a JWT", Some("not-a-token")),
        ("a changed signature", Some(forged.as_str())),
        ("alg none", Some(alg_none.as_str())),
        ("another app client's token", Some(other_audience.access.as_str())),
        ("an ID token where access tokens are taken", Some(app.alice.id.as_str())),
    ] {
        let (status, answer) = call(&api, request("GET", "/photos", token, None, &[])).await?;
        assert_eq!(status, 401, "{what}: {answer}");
        assert!(answer["error"].is_string(), "{what}: {answer}");
    }
    let (later, _) = app.api_at(&app.settings(), SystemTime::now() + Duration::from_secs(2 * 3600)).await?;
    let (status, answer) = call(&later, request("GET", "/photos", Some(&app.alice.access), None, &[])).await?;
    assert_eq!(status, 401, "an expired token: {answer}");
    assert!(answer["error"].as_str().is_some_and(|error| error.contains("expired")), "{answer}");

    // Without JWT_ISSUER the function trusts only API Gateway's authorizer: a bare request is refused.
    let settings: Vec<(&str, String)> =
        app.settings().into_iter().filter(|(name, _)| !name.starts_with("JWT") && !name.starts_with("JWKS")).collect();
    let (behind_gateway, _) = app.api_at(&settings, SystemTime::now()).await?;
    let (status, _) = call(&behind_gateway, request("GET", "/photos", Some(&app.alice.access), None, &[])).await?;
    assert_eq!(status, 401);
    let mut authorized = request("GET", "/photos", None, None, &[]);
    authorized["requestContext"]["authorizer"] = json!({ "jwt": { "claims": { "sub": app.alice.subject } } });
    let (status, answer) = call(&behind_gateway, authorized).await?;
    assert_eq!(status, 200, "{answer}");
    Ok(())
}

#[tokio::test]
async fn hostile_filenames_never_reach_a_key_and_bad_requests_name_the_field() -> Result<()> {
    let app = App::new().await?;
    let api = app.api().await?;
    let folder = format!("uploads/{}/", app.alice.subject);
    let png = photo(32, 32, image::ImageFormat::Png);
    let long = format!("{}.png", "a".repeat(2000));
    for (filename, shown) in [
        ("../../../bob/evil.png", "evil.png".to_owned()),
        (long.as_str(), "a".repeat(200)),
        ("tab\there\u{7}bell\r\n.png", "tabherebell.png".to_owned()),
        ("invoice\u{202E}gnp.exe", "invoicegnp.exe".to_owned()),
    ] {
        let answer = app.upload(&api, &app.alice.access, filename, "image/png", &png).await?;
        let key = answer["key"].as_str().context("a key")?;
        let id = key.strip_prefix(&folder).with_context(|| format!("{filename:?} made {key}"))?;
        assert!(id.len() == 30 && id.ends_with(".png") && !id.contains('/') && !id.contains('\\'), "{key}");
        assert_eq!(answer["filename"], shown.as_str(), "{filename:?}");
        let head = app.account.aws.s3().head_object().bucket(&app.bucket).key(key).send().await?;
        let stored = head.metadata().and_then(|metadata| metadata.get("filename")).context("the filename metadata")?;
        assert!(stored.is_ascii() && !stored.contains(['/', '\\', '\u{202E}']), "{stored}");
    }

    for (body, status, says) in [
        (
            json!({"filename": "scan.tiff", "content_type": "image/tiff", "bytes": 10}),
            400,
            "image/jpeg, image/png, image/webp, image/gif, image/heic, image/heif",
        ),
        (json!({"filename": "big.jpg", "content_type": "image/jpeg", "bytes": 5_000_001}), 413, "up to 5000000 bytes"),
        (json!({"content_type": "image/jpeg", "bytes": 10}), 400, "missing field filename"),
        (json!({"filename": "a.jpg", "content_type": "image/jpeg"}), 400, "missing field bytes"),
    ] {
        let (got, answer) =
            call(&api, request("POST", "/uploads", Some(&app.alice.access), Some(body.clone()), &[])).await?;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|error| error.contains(says)), "{body}: {answer}");
    }
    Ok(())
}

#[tokio::test]
async fn a_mislabelled_file_ends_as_a_rejected_record_shown_as_such() -> Result<()> {
    let app = App::new().await?;
    let api = app.api().await?;
    let text = b"these are my notes, not a photo at all".to_vec();
    let answer = app.upload(&api, &app.bob.access, "holiday.jpg", "image/jpeg", &text).await?;
    let key = answer["key"].as_str().context("a key")?.to_owned();
    let id = answer["id"].as_str().context("an id")?.to_owned();
    let (status, pending) =
        call(&api, request("GET", &format!("/photos/{id}"), Some(&app.bob.access), None, &[])).await?;
    assert_eq!((status, &pending["status"]), (200, &json!("processing")), "{pending}");

    app.process(&key).await?;

    let (status, gallery) = call(&api, request("GET", "/photos", Some(&app.bob.access), None, &[])).await?;
    assert_eq!(status, 200);
    let shown = &gallery["photos"][0];
    assert_eq!((shown["id"].as_str(), shown["status"].as_str()), (Some(id.as_str()), Some("rejected")), "{shown}");
    assert!(shown["reason"].as_str().is_some_and(|reason| reason.starts_with("not an image")), "{shown}");
    assert_eq!(shown["thumbnails"], json!([]));
    Ok(())
}

#[tokio::test]
async fn the_sample_event_is_answered_with_the_authorizers_callers_gallery() -> Result<()> {
    let app = App::new().await?;
    let sample = event("photos-api-list-photos.json");
    let subject = sample["requestContext"]["authorizer"]["jwt"]["claims"]["sub"].as_str().context("a sub")?.to_owned();
    file_record(&app, &subject, "01JZ0000000000000000000001.jpg").await?;
    // Behind API Gateway: no token check of the function's own, the authorizer's claims name the caller.
    let settings: Vec<(&str, String)> =
        app.settings().into_iter().filter(|(name, _)| !name.starts_with("JWT") && !name.starts_with("JWKS")).collect();
    let (api, _) = app.api_at(&settings, SystemTime::now()).await?;
    let (status, gallery) = call(&api, sample).await?;
    assert_eq!((status, ids(&gallery)), (200, vec!["01JZ0000000000000000000001.jpg".to_owned()]), "{gallery}");
    Ok(())
}

/// The app with the API, and a subscriber that sends this test's subsegments to a daemon.
struct TracedApp {
    app: App,
    api: Deps,
    daemon: support::xray_daemon::XrayDaemon,
    traced: support::xray_daemon::TestDispatch,
}

impl TracedApp {
    /// Safe beside the other tests: a subscriber-less thread reaches the callsites first, as
    /// the other tests of the process do, and that must not silence them here.
    async fn new() -> Result<Self> {
        use tracing_subscriber::layer::SubscriberExt as _;
        let app = App::new().await?;
        let api = app.api().await?;
        let daemon = support::xray_daemon::XrayDaemon::start();
        let layer = shared::xray::XrayLayer::sending_to(shared::xray::Daemon::at(daemon.address.parse()?)?);
        let traced = support::xray_daemon::TestDispatch::new(tracing_subscriber::registry().with(layer));
        let dynamodb = app.dynamodb.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(dynamodb.list_tables().send())?;
            anyhow::Ok(())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the other thread panicked"))??;
        Ok(Self { app, api, daemon, traced })
    }

    /// Runs `work` in an invocation of the sampled trace `root`, under Lambda's segment `parent`.
    async fn invoke<T>(&self, root: &str, parent: &str, work: impl std::future::Future<Output = T>) -> T {
        use tracing::Instrument as _;
        use tracing::instrument::WithSubscriber as _;
        let header = format!("Root={root};Parent={parent};Sampled=1");
        let invocation = tracing::dispatcher::with_default(&self.traced.dispatch, || {
            tracing::info_span!("Lambda runtime invoke", requestId = "r1", xrayTraceId = header.as_str())
        });
        work.instrument(invocation).with_subscriber(self.traced.dispatch.clone()).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_an_x_ray_subsegment_with_its_status_and_its_aws_calls_under_it() -> Result<()> {
    let traced = TracedApp::new().await?;
    let (app, daemon) = (&traced.app, &traced.daemon);
    let (root, parent) = ("1-6b146212-905fb9584127ef2a8505cabc", "53995c3f42cd8ad8");
    let (listed, refused) = traced
        .invoke(root, parent, async {
            let listed = call(&traced.api, request("GET", "/photos", Some(&app.alice.access), None, &[])).await;
            let refused = call(&traced.api, request("GET", "/photos", Some("not-a-token"), None, &[])).await;
            (listed, refused)
        })
        .await;
    assert_eq!((listed?.0, refused?.0), (200, 401));

    let documents = daemon.documents();
    let requests: Vec<&Value> = documents.iter().filter(|d| d["name"] == "request").collect();
    assert_eq!(requests.len(), 2, "{documents:#?}");
    assert!(requests.iter().all(|r| r["trace_id"] == root && r["parent_id"] == parent), "{requests:#?}");
    let (ok, denied) = (requests[0], requests[1]);
    assert_eq!((&ok["http"]["response"]["status"], ok.get("error")), (&json!(200), None));
    assert_eq!((&denied["http"]["response"]["status"], &denied["error"]), (&json!(401), &json!(true)));
    // The page of the gallery is one Query, under its request.
    let calls: Vec<&Value> = documents.iter().filter(|d| d["namespace"] == "aws").collect();
    assert!(calls.iter().any(|c| c["aws"]["operation"] == "Query" && c["parent_id"] == ok["id"]), "{documents:#?}");
    assert!(calls.iter().all(|c| c["parent_id"] != denied["id"]), "a refused caller cost no AWS call");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_and_its_thumbnails_are_one_trace_through_the_objects_metadata() -> Result<()> {
    let traced = TracedApp::new().await?;
    let (app, daemon) = (&traced.app, &traced.daemon);
    // The API's invocation, in the upload's trace.
    let (upload_root, api_segment) = ("1-6b146212-00000000000000000000a001", "00000000000000a1");
    let file = support::images::photo(320, 240, image::ImageFormat::Jpeg);
    let uploading = app.upload(&traced.api, &app.alice.access, "beach.jpg", "image/jpeg", &file);
    let answer = traced.invoke(upload_root, api_segment, uploading).await?;
    let signed = daemon.documents();
    let request = signed.iter().find(|d| d["name"] == "request").context("the upload's request subsegment")?;
    // The answer names the trace, and the form stores the header naming the upload's request.
    assert_eq!(answer["trace_id"], upload_root, "{answer}");
    let header = format!("Root={upload_root};Parent={};Sampled=1", request["id"].as_str().unwrap_or_default());
    assert_eq!(answer["fields"]["x-amz-meta-trace"], header.as_str(), "{answer}");
    let key = answer["key"].as_str().context("a key")?;
    let stored = app.account.aws.s3().head_object().bucket(&app.bucket).key(key).send().await?;
    assert_eq!(stored.metadata().and_then(|m| m.get("trace")), Some(&header), "S3 kept the trace with the photo");

    // The thumbnailer's invocation, in a trace of its own (S3 put none on the event).
    daemon.clear();
    let (batch_root, batch_segment) = ("1-6b146212-00000000000000000000b002", "00000000000000b2");
    traced.invoke(batch_root, batch_segment, app.process(key)).await?;
    let documents = daemon.documents();
    let photo = documents.iter().find(|d| d["name"] == "photo").context("the photo's subsegment")?;
    assert_eq!((&photo["trace_id"], &photo["parent_id"]), (&json!(upload_root), &request["id"]), "{documents:#?}");
    // Its work is under it, in the upload's trace: decoding, each size, the thumbnails' writes, the record.
    let in_upload: Vec<&Value> = documents.iter().filter(|d| d["trace_id"] == upload_root).collect();
    let names: Vec<&str> = in_upload.iter().filter_map(|d| d["name"].as_str()).collect();
    for step in ["decode", "resize", "encode", "file record"] {
        assert!(names.contains(&step), "no {step} in {names:?}");
    }
    let puts = in_upload.iter().filter(|d| d["aws"]["operation"] == "PutObject").count();
    assert_eq!(puts, 2, "one PutObject per thumbnail size in the upload's trace: {in_upload:#?}");
    let ids: std::collections::HashSet<&str> = in_upload.iter().filter_map(|d| d["id"].as_str()).collect();
    assert!(
        in_upload.iter().all(|d| d["id"] == photo["id"] || ids.contains(d["parent_id"].as_str().unwrap_or_default())),
        "one tree under the photo: {in_upload:#?}"
    );
    // What came before the object was read stays in the thumbnailer's own trace.
    assert!(
        documents.iter().any(|d| d["trace_id"] == batch_root && d["aws"]["operation"] == "HeadObject"),
        "{documents:#?}"
    );
    Ok(())
}

/// The thumbnailer as deployed beside the API, filing what lands in the app's bucket.
fn pipeline(app: &App) -> Result<Pipeline> {
    let thumbnailer = Arc::new(thumbnailer::Deps::new(
        thumbnailer::Config::from_env(&shared::config::Env::from_pairs([
            ("PHOTOS_TABLE", app.table.as_str()),
            ("PHOTOS_OWNER_DEPTH", "2"),
            ("THUMBNAIL_SIZES", "64x64,256x256"),
            ("DELETE_WITH_SOURCE", "true"),
        ]))?,
        &app.account.aws,
    ));
    Ok(Pipeline::start(app.account.aws.s3(), app.bucket.clone(), "uploads/".to_owned(), thumbnailer))
}

/// Runs tests/browser/photos_page.py on the page at `url` with these files (written to a
/// folder of their own) and `arguments`; its verdict, or what it saw when it failed.
async fn drive_the_page(app: &App, url: &str, files: &[(&str, Vec<u8>)], arguments: &[&str]) -> Result<Value> {
    let folder = std::env::temp_dir().join(format!("photos-page-{}", app.bucket));
    std::fs::create_dir_all(&folder)?;
    let mut all: Vec<std::ffi::OsString> = vec!["--url".into(), url.into()];
    all.extend(arguments.iter().map(Into::into));
    for (name, bytes) in files {
        std::fs::write(folder.join(name), bytes)?;
        all.extend(["--upload".into(), folder.join(name).into_os_string()]);
    }
    let verdict = support::browser_script("photos_page.py", all).await;
    let _ = std::fs::remove_dir_all(&folder);
    verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_signs_in_uploads_shows_placeholders_then_thumbnails_or_the_rejection_pages_and_deletes() -> Result<()>
{
    let app = App::new().await?;
    let mut settings = app.settings();
    settings.push(("PAGE_COGNITO_ENDPOINT", format!("{}/", Moto::shared().url())));
    let (api, _) = app.api_at(&settings, SystemTime::now()).await?;
    let server = LocalApi::start(Arc::new(api)).await?;
    let _pipeline = pipeline(&app)?;

    // Three files as a user has them: a phone's photo, a PNG, and a JPEG that is broken inside.
    let files = [
        ("beach.jpg", phone_photo(1200, 900)),
        ("flower.png", photo(400, 300, image::ImageFormat::Png)),
        ("broken.jpg", support::images::jpeg_with_a_bad_component_id()),
    ];
    let arguments = [
        "--username",
        "alice",
        "--password",
        PASSWORD,
        "--rejected",
        "broken.jpg",
        "--delete",
        "flower.png",
        "--page-size",
        "2",
    ];
    let seen = drive_the_page(&app, &format!("{}/", server.url), &files, &arguments).await?;

    // What the page showed is what S3 and the catalogue hold: two uploads left in alice's
    // folder, one photo ready, one rejected, and the deleted one's record filed as deleted.
    let id_of = |name: &str| seen["ids"][name].as_str().map(str::to_owned).context("an id");
    let key_of = |name: &str| -> Result<String> { Ok(format!("uploads/{}/{}", app.alice.subject, id_of(name)?)) };
    let listed = app
        .account
        .aws
        .s3()
        .list_objects_v2()
        .bucket(&app.bucket)
        .prefix(format!("uploads/{}/", app.alice.subject))
        .send()
        .await?;
    let mut keys: Vec<String> = listed.contents().iter().filter_map(|object| object.key().map(str::to_owned)).collect();
    keys.sort();
    let mut expected = vec![key_of("beach.jpg")?, key_of("broken.jpg")?];
    expected.sort();
    assert_eq!(keys, expected);
    let status_of = |record: Option<Value>| record.and_then(|record| record["status"].as_str().map(str::to_owned));
    let record = |name: &str| -> Result<String> { Ok(format!("{}/{}", app.bucket, key_of(name)?)) };
    assert_eq!(status_of(item(&app.dynamodb, &app.table, &record("beach.jpg")?).await?).as_deref(), Some("ready"));
    assert_eq!(status_of(item(&app.dynamodb, &app.table, &record("broken.jpg")?).await?).as_deref(), Some("rejected"));
    let deleted = record("flower.png")?;
    let mut status = None;
    for _ in 0..40 {
        status = status_of(item(&app.dynamodb, &app.table, &deleted).await?);
        if status.as_deref() == Some("deleted") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status.as_deref(), Some("deleted"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_signs_in_through_the_hosted_sign_in_with_pkce_and_that_token_opens_the_callers_own_gallery()
-> Result<()> {
    let app = App::new().await?;
    // The sign-in's callback is the page's address, and the API's settings name the sign-in.
    let port = LocalApi::reserve().await?;
    let page = format!("{}/", port.url);
    let sign_in = HostedSignIn::start("photos-page", &page).await?;
    let mut settings = vec![
        ("UPLOADS_BUCKET", app.bucket.clone()),
        ("PHOTOS_TABLE", app.table.clone()),
        ("MAX_INPUT_BYTES", "5000000".to_owned()),
        ("PAGE_COGNITO_ENDPOINT", format!("{}/", Moto::shared().url())),
    ];
    settings.extend(sign_in.api_settings());
    let (api, _) = app.api_at(&settings, SystemTime::now()).await?;
    let _server = LocalApi::serve(port, Arc::new(api));
    let _pipeline = pipeline(&app)?;

    let files = [("beach.jpg", phone_photo(1200, 900))];
    let arguments = ["--hosted", sign_in.issuer.as_str(), "--username", "carol", "--password", PASSWORD];
    let seen = drive_the_page(&app, &page, &files, &arguments)
        .await
        .with_context(|| format!("the hosted sign-in's log:\n{}", sign_in.log()))?;

    // The hosted sign-in's subject is the caller: the upload is in carol's folder and filed.
    let id = seen["ids"]["beach.jpg"].as_str().context("an id")?;
    let record = format!("{}/uploads/carol/{id}", app.bucket);
    let filed = item(&app.dynamodb, &app.table, &record).await?.context("beach.jpg's record")?;
    assert_eq!(filed["status"], "ready", "{filed}");
    Ok(())
}
