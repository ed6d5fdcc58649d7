//! `make bench-photos-api`: what a gallery costs. One user with 50 photos the real thumbnailer
//! filed (two thumbnails each); `GET /photos?limit=50` answered by the packaged `photos-api`
//! binary under the local Lambda (256 MB, the template's): its cold start (the process, its
//! configuration and clients, the issuer's keys, the first answer) beside a warm answer, and the
//! AWS requests a page costs, counted by the emulator's request log of the handler run in process
//! (one Query, no Scan, no GetItem per photo; its 150 URLs are signed locally).
//!
//! Beside it, the page's 150 URLs signed by the SDK's presigner and by the function's own signer.
//!
//! The emulator answers in about a millisecond; AWS's DynamoDB Query takes a few. The CPU is this
//! machine's, not the sixth of a vCPU Lambda gives 256 MB: read the figures as relative.

#![allow(clippy::print_stdout)] // a command-line report

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::images::photo;
use support::lambda::{Limits, LocalLambda, packaged_binary};
use support::photos::{PhotoApp, s3_event};
use support::{Moto, TestAccount, bench_runs, median, spread};

const PHOTOS: usize = 50;
const PASSWORD: &str = "Bench-Password-1";
const WARM_REQUESTS: usize = 20;

fn gallery_request(token: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/photos", "rawQueryString": "limit=50",
        "headers": { "authorization": format!("Bearer {token}") }, "queryStringParameters": { "limit": "50" },
        "requestContext": { "http": { "method": "GET", "path": "/photos" }, "requestId": "bench" },
        "isBase64Encoded": false
    })
}

fn photos_in(answer: &Value) -> usize {
    let body: Value = answer["body"].as_str().and_then(|body| serde_json::from_str(body).ok()).unwrap_or_default();
    body["photos"].as_array().map_or(0, Vec::len)
}

#[tokio::main]
async fn main() -> Result<()> {
    let moto = Moto::shared();
    // The packaged binary acts in the emulator's default account (it sends no account header).
    let account = TestAccount::default_account(moto.url()).await;
    let app = PhotoApp::create(&account, moto.url(), account.unique_bucket("bench-gallery")).await?;
    let settings = app.api_settings();
    let PhotoApp { bucket, table, dynamodb, pool } = app;
    pool.add_user("alice", PASSWORD).await?;
    let alice = pool.sign_in(&pool.client_id, "alice", PASSWORD).await?;

    // 50 photos filed by the real thumbnailer, as uploads through the API would be.
    let mut thumbnailer_config = thumbnailer::Config::from_env(&shared::config::Env::from_pairs([
        ("PHOTOS_TABLE", table.as_str()),
        ("PHOTOS_OWNER_DEPTH", "2"),
        ("THUMBNAIL_SIZES", "256x256,1024x1024"),
    ]))?;
    thumbnailer_config.metrics = shared::metrics::MetricsConfig::silent("thumbnailer");
    let thumbnailer = thumbnailer::Deps::new(thumbnailer_config, &account.aws);
    let jpeg = photo(1280, 960, image::ImageFormat::Jpeg);
    for n in 0..PHOTOS {
        let key = format!("uploads/{}/01KBENCH{n:018}.jpg", alice.subject);
        let put = account.aws.s3().put_object().bucket(&bucket).key(&key).body(jpeg.clone().into()).send().await?;
        let etag = put.e_tag().context("an ETag")?.trim_matches('"').to_owned();
        let event = s3_event(&bucket, &key, "ObjectCreated:Post", Some(&etag), None);
        thumbnailer::handle(&thumbnailer, LambdaEvent::new(event, Context::default())).await?;
    }

    // The AWS requests one page costs, counted by the SDK's own counter.
    let aws = shared::aws::Aws::from_sdk_config(account.aws.sdk_config().clone());
    let config =
        photos_api::Config::from_env(&shared::config::Env::from_pairs(settings.iter().map(|(k, v)| (*k, v.as_str()))))?;
    let in_process = photos_api::Deps::new(config, &aws).await?;
    photos_api::handle(&in_process, LambdaEvent::new(gallery_request(&alice.access), Context::default()))
        .await
        .map_err(anyhow::Error::msg)?;
    let before = aws.api_calls().get();
    let answer = photos_api::handle(&in_process, LambdaEvent::new(gallery_request(&alice.access), Context::default()))
        .await
        .map_err(anyhow::Error::msg)?;
    let requests = aws.api_calls().get() - before;
    let shown = photos_in(&serde_json::to_value(&answer)?);
    anyhow::ensure!(shown == PHOTOS, "the page showed {shown} photos, not {PHOTOS}");

    // The packaged binary: a cold start, then warm answers, BENCH_RUNS times.
    let binary = packaged_binary("photos-api");
    anyhow::ensure!(binary.exists(), "{} is missing: make bench-photos-api builds it", binary.display());
    let mut env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([("AWS_ENDPOINT_URL", moto.url()), ("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")]);
    let lambda = LocalLambda::start(binary, Limits { memory_mb: 256, cpu_share: false }, &env).await;
    let request = gallery_request(&alice.access);
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..bench_runs() {
        lambda.kill();
        let started = Instant::now();
        let first = lambda.invoke(&request, Duration::from_secs(30)).await;
        cold.push(started.elapsed().as_secs_f64() * 1000.0);
        let answer = first.outcome.response(&lambda.log());
        anyhow::ensure!(photos_in(&answer) == PHOTOS, "the packaged function answered {answer}");
        for _ in 0..WARM_REQUESTS {
            let started = Instant::now();
            lambda.invoke(&request, Duration::from_secs(30)).await.outcome.response(&lambda.log());
            warm.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lambda.kill();

    // The page's 150 URLs signed by the SDK's presigner (what the SDK's examples use) and by the
    // function's own SigV4 signer, in this process.
    let keys: Vec<String> = (0..PHOTOS * 3).map(|n| format!("uploads/{}/01KBENCH{n:018}.jpg", alice.subject)).collect();
    let presigner = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(account.aws.sdk_config()).force_path_style(true).build(),
    );
    let (mut by_sdk, mut by_core) = (Vec::new(), Vec::new());
    let credentials = photos_api::aws::signing_credentials(account.aws.sdk_config()).await?;
    let endpoint = photos_api::core::post_policy::BucketEndpoint::of(Some(moto.url()), &bucket, "us-east-1");
    for _ in 0..bench_runs() {
        let started = Instant::now();
        for key in &keys {
            let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(900))?;
            presigner.get_object().bucket(&bucket).key(key).presigned(config).await?;
        }
        by_sdk.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let now = jiff::Timestamp::now();
        for key in &keys {
            std::hint::black_box(photos_api::core::post_policy::presign_get(
                &endpoint,
                key,
                "us-east-1",
                &credentials,
                now,
                900,
            ));
        }
        by_core.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    // The emulator's own share of an answer: the page's Query, asked directly.
    let mut queries = Vec::new();
    for _ in 0..bench_runs() * 5 {
        let started = Instant::now();
        dynamodb
            .query()
            .table_name(&table)
            .index_name("by-owner")
            .key_condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(
                ":owner",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("{bucket}/uploads/{}/", alice.subject)),
            )
            .scan_index_forward(false)
            .limit(50)
            .send()
            .await?;
        queries.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    let at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_secs());
    println!(
        "photos-api, GET /photos?limit=50 of {PHOTOS} photos (2 thumbnails each), {} round(s), at {at}",
        bench_runs()
    );
    println!("{:<52} {:>10} {:>8}", "", "median", "spread");
    println!("{:<52} {:>8.1} ms {:>8}", "cold start: process, init, keys, first answer", median(&cold), spread(&cold));
    println!("{:<52} {:>8.1} ms {:>8}", format!("warm answer ({WARM_REQUESTS} a round)"), median(&warm), spread(&warm));
    println!(
        "{:<52} {:>8.1} ms {:>8}",
        "of which the emulator's Query of 50 items, asked alone",
        median(&queries),
        spread(&queries)
    );
    println!(
        "{:<52} {:>8.2} ms {:>8}",
        "150 URLs signed by the SDK's presigner (debug build)",
        median(&by_sdk),
        spread(&by_sdk)
    );
    println!(
        "{:<52} {:>8.2} ms {:>8}",
        "150 URLs signed by photos-api's signer (debug build)",
        median(&by_core),
        spread(&by_core)
    );
    println!(
        "AWS requests for one page of {PHOTOS}: {requests} (one DynamoDB Query of the by-owner index; no Scan, no GetItem);"
    );
    println!("{} presigned URLs signed locally, no request; the issuer's keys fetched once per instance.", PHOTOS * 3);
    Ok(())
}
