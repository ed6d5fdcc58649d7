//! One request in, one answer out: the route, the caller, then the route's work. Every error
//! becomes an answer with its status; a failure of ours is logged with what to check.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tokio::sync::RwLock;
use tracing::Instrument as _;

use crate::aws::{self, Gallery};
use crate::config::Config;
use crate::core::page::{PageSettings, origin_of, page};
use crate::core::photo::{PhotoView, owner_of_folder, photo_record_id};
use crate::core::post_policy::{BucketEndpoint, bucket_url, presign_get};
use crate::core::upload::{caller_folder, key_of_id, photo_id, photo_key};
use crate::core::{
    ApiRequest, ApiResponse, Caller, CursorKey, Jwk, PostUpload, Route, SigningCredentials, UnverifiedToken,
    UploadRequest, presign_post, route,
};
use crate::error::PhotosApiError;

/// How often at most the issuer's keys are fetched again for a token naming an unknown key.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The time: the system's, or a test's.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> SystemTime;
}

#[derive(Debug)]
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

#[derive(Debug, Default)]
struct KeyCache {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
}

/// Everything a request needs, built once at cold start.
#[derive(Debug)]
pub struct Deps {
    pub config: Config,
    /// Names the bucket's owner in every request (`UPLOADS_BUCKET_OWNER`).
    s3: aws_sdk_s3::Client,
    /// Where the gallery's URLs point (signed here; a browser cannot send the owner header,
    /// so they carry none).
    uploads_endpoint: BucketEndpoint,
    thumbnails_endpoint: BucketEndpoint,
    dynamodb: aws_sdk_dynamodb::Client,
    sdk_config: aws_config::SdkConfig,
    http: reqwest::Client,
    keys: RwLock<KeyCache>,
    cursor_key: CursorKey,
    post_url: String,
    region: String,
    clock: Arc<dyn Clock>,
    /// `GET /`, assembled once.
    page: ApiResponse,
}

impl Deps {
    /// Clients, the cursor key (from its secret, or one of this instance's own).
    pub async fn new(config: Config, aws: &shared::aws::Aws) -> Result<Self, PhotosApiError> {
        let aws = aws.for_function("photos-api");
        let cursor_secret = match &config.cursor_key_secret {
            Some(arn) => aws::cursor_secret(&shared::aws_client!(aws_sdk_secretsmanager, &aws), arn).await?,
            None => {
                tracing::warn!(
                    "CURSOR_KEY_SECRET_ARN is not set: gallery cursors are signed with this instance's own key and are refused by any other"
                );
                let mut secret = vec![0u8; 32];
                aws_lc_rs::rand::fill(&mut secret).map_err(|_| PhotosApiError::Aws {
                    action: "making a cursor key".to_owned(),
                    message: "the system's random source failed".to_owned(),
                    fix: "run the function again",
                    transient: true,
                })?;
                secret
            }
        };
        let sdk_config = aws.sdk_config().clone();
        let region = sdk_config.region().map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
        let post_url = bucket_url(sdk_config.endpoint_url(), &config.uploads_bucket, &region);
        let thumbnails_url = bucket_url(sdk_config.endpoint_url(), &config.thumbnails_bucket, &region);
        let page = ApiResponse::page(&page(&PageSettings {
            cognito_endpoint: config
                .page_cognito_endpoint
                .clone()
                .unwrap_or_else(|| format!("https://cognito-idp.{region}.amazonaws.com/")),
            client_id: config.page_client_id.clone().unwrap_or_default(),
            sign_in_url: config.page_sign_in_url.clone(),
            page_size: config.page_size,
            bucket_origins: vec![origin_of(&post_url), origin_of(&thumbnails_url)],
        }));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|err| PhotosApiError::Keys { url: "(none yet)".to_owned(), message: err.to_string() })?;
        Ok(Self {
            s3: aws.s3_owned_by(config.uploads_bucket_owner.as_deref()),
            uploads_endpoint: BucketEndpoint::of(sdk_config.endpoint_url(), &config.uploads_bucket, &region),
            thumbnails_endpoint: BucketEndpoint::of(sdk_config.endpoint_url(), &config.thumbnails_bucket, &region),
            dynamodb: shared::aws_client!(aws_sdk_dynamodb, &aws),
            sdk_config,
            http,
            keys: RwLock::new(KeyCache::default()),
            cursor_key: CursorKey::new(&cursor_secret),
            post_url,
            region,
            clock: Arc::new(SystemClock),
            page,
            config,
        })
    }

    /// The same, telling time by `clock`.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    fn now_unix(&self) -> i64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
    }

    /// The issuer's key `kid`, fetching the key set at the first request and again (at most
    /// once a minute) when a token names a key not seen yet: the issuer rotated its keys.
    async fn key(&self, url: &str, kid: &str) -> Result<Jwk, PhotosApiError> {
        {
            let cache = self.keys.read().await;
            if let Some(key) = cache.keys.iter().find(|key| key.kid == kid) {
                return Ok(key.clone());
            }
            if cache.fetched.is_some_and(|at| at.elapsed() < KEY_REFRESH_INTERVAL) {
                return Err(PhotosApiError::Unauthenticated(
                    "the token is signed by a key the issuer does not list".to_owned(),
                ));
            }
        }
        let mut cache = self.keys.write().await;
        if cache.fetched.is_none_or(|at| at.elapsed() >= KEY_REFRESH_INTERVAL) {
            cache.keys = aws::key_set(&self.http, url).await?;
            cache.fetched = Some(Instant::now());
        }
        cache.keys.iter().find(|key| key.kid == kid).cloned().ok_or_else(|| {
            PhotosApiError::Unauthenticated("the token is signed by a key the issuer does not list".to_owned())
        })
    }

    /// The signed-in caller: API Gateway's verified claims, or the bearer token verified here.
    async fn caller(&self, request: &ApiRequest) -> Result<Caller, PhotosApiError> {
        if let Some(subject) = request.authorizer_subject() {
            return Caller::from_subject(subject);
        }
        let Some(check) = &self.config.token_check else {
            return Err(PhotosApiError::Unauthenticated(
                "no signed-in caller: the API answers only requests its JWT authorizer verified (or set JWT_ISSUER so the function verifies tokens itself)"
                    .to_owned(),
            ));
        };
        let token = request.bearer_token().ok_or_else(|| {
            PhotosApiError::Unauthenticated("missing token: send Authorization: Bearer <access token>".to_owned())
        })?;
        let token = UnverifiedToken::parse(token)?;
        let key = self.key(&check.jwks_url, &token.kid).await?;
        token.verify(&key, check, self.now_unix())
    }
}

/// Answers one HTTP API request (payload format 2.0).
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<ApiResponse, lambda_runtime::Error> {
    let started = Instant::now();
    let request_id = event.context.request_id.clone();
    let request = serde_json::from_value::<ApiRequest>(event.payload);
    let (method, path) = request
        .as_ref()
        .map(|request| (request.request_context.http.method.clone(), request.raw_path.clone()))
        .unwrap_or_default();
    // Each request is one X-Ray subsegment, with its route and its answer's status.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %path,
        "http.status" = tracing::field::Empty,
        "xray.error" = tracing::field::Empty,
        "xray.fault" = tracing::field::Empty,
    );
    let answer = match &request {
        Ok(request) => answer(deps, request).instrument(span.clone()).await,
        Err(err) => {
            Err(PhotosApiError::BadRequest(format!("not an API Gateway HTTP API event (payload format 2.0): {err}")))
        }
    };
    let response = answer.unwrap_or_else(|err| {
        if err.is_the_callers() {
            tracing::info!(%method, %path, status = err.status(), error = %err, "request refused");
        } else {
            tracing::error!(%method, %path, status = err.status(), error = %err, "request failed");
        }
        ApiResponse::error(&err, &request_id)
    });
    span.record("http.status", response.status_code);
    span.record("xray.error", (400..500).contains(&response.status_code));
    span.record("xray.fault", response.status_code >= 500);
    tracing::info!(%method, %path, status = response.status_code, millis = started.elapsed().as_millis() as u64, "answered");
    Ok(response)
}

async fn answer(deps: &Deps, request: &ApiRequest) -> Result<ApiResponse, PhotosApiError> {
    let route = route(&request.request_context.http.method, &request.raw_path)?;
    if route == Route::Page {
        return Ok(deps.page.clone());
    }
    let caller = deps.caller(request).await?;
    let folder = caller_folder(&deps.config.uploads_prefix, &caller.subject);
    match route {
        Route::Page => Ok(deps.page.clone()),
        Route::CreateUpload => create_upload(deps, request, &folder).await,
        Route::ListPhotos => list_photos(deps, request, &folder).await,
        Route::GetPhoto(id) => get_photo(deps, &folder, &id).await,
        Route::DeletePhoto(id) => delete_photo(deps, &folder, &id).await,
    }
}

async fn create_upload(deps: &Deps, request: &ApiRequest, folder: &str) -> Result<ApiResponse, PhotosApiError> {
    let config = &deps.config;
    let upload = UploadRequest::parse(&request.body_bytes()?, config.max_input_bytes)?;
    let now = deps.clock.now();
    let millis = now.duration_since(UNIX_EPOCH).map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
    let mut random = [0u8; 10];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| PhotosApiError::Aws {
        action: "making a photo id".to_owned(),
        message: "the system's random source failed".to_owned(),
        fix: "try again",
        transient: true,
    })?;
    let key = photo_key(folder, &photo_id(millis, random), upload.image_type);
    let now = jiff::Timestamp::try_from(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let expires_at = now + jiff::SignedDuration::try_from(config.upload_expiry).unwrap_or_default();
    let credentials = aws::signing_credentials(&deps.sdk_config).await?;
    let trace_header = shared::xray::current_header();
    let trace = trace_header.as_ref().map(ToString::to_string);
    let post = presign_post(
        &PostUpload {
            url: deps.post_url.clone(),
            bucket: &config.uploads_bucket,
            region: &deps.region,
            key: &key,
            content_type: upload.image_type.content_type(),
            max_bytes: config.max_input_bytes,
            encryption: &config.encryption,
            filename: &upload.filename,
            trace_header: trace.as_deref(),
            now,
            expires_at,
        },
        &credentials,
    );
    let id = key.strip_prefix(folder).unwrap_or(&key).to_owned();
    tracing::info!(%key, bytes = upload.bytes, content_type = upload.image_type.content_type(), "upload signed");
    Ok(ApiResponse::json(
        201,
        &json!({
            "id": id,
            "key": key,
            "filename": upload.filename,
            "url": post.url,
            "fields": post.fields,
            "expires_at": expires_at.to_string(),
            // The trace the upload and its thumbnails are recorded in (X-Ray's console finds it).
            "trace_id": trace_header.map(|header| header.root),
        }),
    ))
}

/// The view of a record with its URLs signed: here, with no request.
fn signed(deps: &Deps, view: PhotoView, credentials: &SigningCredentials) -> Value {
    let now = jiff::Timestamp::try_from(deps.clock.now()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let expiry = deps.config.download_expiry.as_secs();
    let url = |bucket: &BucketEndpoint, key: &str| presign_get(bucket, key, &deps.region, credentials, now, expiry);
    let thumbnail_urls = view.thumbnails.iter().map(|(key, _)| url(&deps.thumbnails_endpoint, key)).collect();
    let original = url(&deps.uploads_endpoint, &view.key);
    view.into_json(thumbnail_urls, original)
}

async fn list_photos(deps: &Deps, request: &ApiRequest, folder: &str) -> Result<ApiResponse, PhotosApiError> {
    let config = &deps.config;
    let limit = match request.query_string_parameters.get("limit") {
        None => config.page_size,
        Some(limit) => limit.parse::<u32>().ok().filter(|limit| (1..=100).contains(limit)).ok_or_else(|| {
            PhotosApiError::BadRequest(format!("limit {limit:?} is not a number of photos from 1 to 100"))
        })?,
    };
    let start_after = match request.query_string_parameters.get("cursor").filter(|cursor| !cursor.is_empty()) {
        Some(cursor) => Some(deps.cursor_key.open(folder, cursor, deps.now_unix())?),
        None => None,
    };
    let owner = owner_of_folder(&config.uploads_bucket, folder);
    let gallery = Gallery {
        table: &config.photos_table,
        index: &config.owner_index,
        bucket: &config.uploads_bucket,
        owner: &owner,
    };
    let (records, last_key) = aws::gallery_page(&deps.dynamodb, gallery, start_after.as_deref(), limit).await?;
    let credentials = aws::signing_credentials(&deps.sdk_config).await?;
    let photos: Vec<Value> = records
        .iter()
        .filter_map(|record| PhotoView::of(record, folder))
        .map(|view| signed(deps, view, &credentials))
        .collect();
    let ttl = i64::try_from(config.cursor_ttl.as_secs()).unwrap_or(i64::MAX);
    let next = last_key.map(|key| deps.cursor_key.seal(folder, &key, deps.now_unix().saturating_add(ttl)));
    Ok(ApiResponse::json(200, &json!({ "photos": photos, "next": next })))
}

async fn get_photo(deps: &Deps, folder: &str, id: &str) -> Result<ApiResponse, PhotosApiError> {
    let config = &deps.config;
    let key = key_of_id(folder, id)?;
    let record =
        aws::record(&deps.dynamodb, &config.photos_table, &photo_record_id(&config.uploads_bucket, &key)).await?;
    if let Some(view) = record.as_ref().and_then(|record| PhotoView::of(record, folder)) {
        let credentials = aws::signing_credentials(&deps.sdk_config).await?;
        return Ok(ApiResponse::json(200, &signed(deps, view, &credentials)));
    }
    // Uploaded, not filed yet: the page shows it as being processed until its record comes.
    if record.is_none() && aws::object_exists(&deps.s3, &config.uploads_bucket, &key).await? {
        return Ok(ApiResponse::json(200, &json!({ "id": id, "status": "processing", "thumbnails": [] })));
    }
    Err(PhotosApiError::NotFound)
}

async fn delete_photo(deps: &Deps, folder: &str, id: &str) -> Result<ApiResponse, PhotosApiError> {
    let config = &deps.config;
    let key = key_of_id(folder, id)?;
    let record =
        aws::record(&deps.dynamodb, &config.photos_table, &photo_record_id(&config.uploads_bucket, &key)).await?;
    let listed = record.as_ref().and_then(|record| PhotoView::of(record, folder)).is_some();
    if !listed && !aws::object_exists(&deps.s3, &config.uploads_bucket, &key).await? {
        return Err(PhotosApiError::NotFound);
    }
    aws::delete_object(&deps.s3, &config.uploads_bucket, &key).await?;
    tracing::info!(%key, "photo deleted");
    Ok(ApiResponse::json(202, &json!({ "id": id, "status": "deleting" })))
}
