//! The thumbnailer end to end against the emulator: each sample event, with real image
//! files uploaded first, thumbnails read back from S3 and checked.

use std::io::Cursor;

use anyhow::{Context as _, Result};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use thumbnailer::handler::Response;
use thumbnailer::{Config, Deps, ThumbnailerError, handle};

use crate::support::{TestAccount, event};

/// A photo-like image: gradients, so the encoders have real work.
fn photo(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, ((x + y) % 256) as u8])
    });
    let image = match format {
        ImageFormat::Png => DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
            let [r, g, b] = image.get_pixel(x, y).0;
            Rgba([r, g, b, if x < 10 { 0 } else { 255 }])
        })),
        _ => DynamicImage::ImageRgb8(image),
    };
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).expect("encodes");
    bytes.into_inner()
}

struct Setup {
    deps: Deps,
    bucket: String,
}

async fn setup(extra: &[(&str, &str)]) -> Result<Setup> {
    let account = TestAccount::new().await;
    let bucket = account.bucket("photo-uploads");
    let deps = Deps::new(Config::from_env(&shared::config::Env::from_pairs(extra.iter().copied()))?, &account.aws);
    deps.s3.create_bucket().bucket(&bucket).send().await?;
    Ok(Setup { deps, bucket })
}

impl Setup {
    async fn upload(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.deps.s3.put_object().bucket(&self.bucket).key(key).body(bytes.into()).send().await?;
        Ok(())
    }

    /// The sample event, pointed at this test's bucket.
    fn event(&self, name: &str) -> Value {
        let text = event(name).to_string().replace("photo-uploads", &self.bucket);
        serde_json::from_str(&text).expect("still JSON")
    }

    async fn run(&self, payload: Value) -> Result<Response, ThumbnailerError> {
        handle(&self.deps, LambdaEvent::new(payload, Context::default())).await
    }

    async fn keys(&self) -> Result<Vec<String>> {
        let listed = self.deps.s3.list_objects_v2().bucket(&self.bucket).send().await?;
        let mut keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key()).map(str::to_owned).collect();
        keys.sort();
        Ok(keys)
    }

    /// The object's bytes, and its headers and metadata.
    async fn read(&self, key: &str) -> Result<(Vec<u8>, aws_sdk_s3::operation::head_object::HeadObjectOutput)> {
        let object = self.deps.s3.get_object().bucket(&self.bucket).key(key).send().await?;
        let head = self.deps.s3.head_object().bucket(&self.bucket).key(key).send().await?;
        Ok((object.body.collect().await?.into_bytes().to_vec(), head))
    }
}

#[tokio::test]
async fn a_direct_s3_event_writes_a_checked_thumbnail_and_a_rerun_is_identical() -> Result<()> {
    let setup = setup(&[]).await?;
    setup.upload("uploads/beach.jpg", photo(1200, 800, ImageFormat::Jpeg)).await?;

    let response = setup.run(setup.event("s3-put.json")).await?;

    assert_eq!(response.results[0].outcome, "written", "{:?}", response.results);
    let key = "thumbnails/uploads/beach-256x256.jpg";
    assert_eq!(response.results[0].keys, [key]);
    let (bytes, object) = setup.read(key).await?;
    let thumbnail = image::load_from_memory(&bytes)?;
    assert_eq!((thumbnail.width(), thumbnail.height()), (256, 171));
    assert_eq!(object.content_type(), Some("image/jpeg"));
    assert_eq!(object.cache_control(), Some("public, max-age=31536000, immutable"));
    let metadata = object.metadata().context("metadata")?;
    assert_eq!(metadata.get("source-key").map(String::as_str), Some("uploads/beach.jpg"));
    assert_eq!(metadata.get("thumbnailer-output").map(String::as_str), Some("true"));
    assert!(metadata.get("source-etag").is_some_and(|e| e.len() == 32), "{metadata:?}");

    let again = setup.run(setup.event("s3-put.json")).await?;
    assert_eq!(again.results[0].outcome, "written");
    assert_eq!(setup.read(key).await?.0, bytes, "the same source gives the same bytes");
    Ok(())
}

#[tokio::test]
async fn an_encoded_key_with_spaces_unicode_and_plus_works() -> Result<()> {
    let setup = setup(&[]).await?;
    setup.upload("uploads/summer 2026/café + friends.jpeg", photo(640, 480, ImageFormat::Jpeg)).await?;

    let response = setup.run(setup.event("s3-put-encoded-key.json")).await?;

    assert_eq!(response.results[0].keys, ["thumbnails/uploads/summer 2026/café + friends-256x256.jpg"]);
    let (_, object) = setup.read("thumbnails/uploads/summer 2026/café + friends-256x256.jpg").await?;
    let source = object.metadata().and_then(|m| m.get("source-key")).context("source-key")?;
    assert_eq!(source, "uploads/summer 2026/caf%C3%A9 + friends.jpeg", "metadata is ASCII");
    Ok(())
}

#[tokio::test]
async fn an_sqs_batch_acknowledges_bad_files_and_retries_only_what_can_succeed() -> Result<()> {
    let setup = setup(&[("THUMBNAIL_SIZES", "128x128,512x512")]).await?;
    setup.upload("uploads/mountain.png", photo(1000, 700, ImageFormat::Png)).await?;
    setup.upload("uploads/city at night.webp", photo(900, 900, ImageFormat::WebP)).await?;
    setup.upload("uploads/notes.jpg", b"shopping list: milk, eggs\n".to_vec()).await?;

    // The sample batch, plus a message for a deleted object and one for a missing bucket.
    let mut payload = setup.event("sqs-s3-batch.json");
    let records = payload["Records"].as_array_mut().context("records")?;
    let mut deleted = records[0].clone();
    deleted["messageId"] = "deleted-object".into();
    deleted["body"] =
        deleted["body"].as_str().context("body")?.replace("uploads/mountain.png", "uploads/gone.png").into();
    let mut missing_bucket = records[0].clone();
    missing_bucket["messageId"] = "missing-bucket".into();
    missing_bucket["body"] =
        missing_bucket["body"].as_str().context("body")?.replace(&setup.bucket, "no-such-bucket-here").into();
    records.push(deleted);
    records.push(missing_bucket);

    let response = setup.run(payload).await?;

    let failures: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failures, ["missing-bucket"], "{:#?}", response.results);
    let outcomes: Vec<(&str, &str)> = response.results.iter().map(|r| (r.key.as_str(), r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("uploads/mountain.png", "written"),
            ("uploads/city at night.webp", "written"),
            ("uploads/notes.jpg", "rejected"),
            ("uploads/gone.png", "skipped"),
            ("uploads/mountain.png", "retry"),
        ]
    );
    let keys = setup.keys().await?;
    for expected in [
        "thumbnails/uploads/mountain-128x128.jpg",
        "thumbnails/uploads/mountain-512x512.jpg",
        "thumbnails/uploads/city at night-128x128.jpg",
        "thumbnails/_failed/uploads/notes.jpg.json",
    ] {
        assert!(keys.contains(&expected.to_owned()), "{expected} in {keys:?}");
    }
    assert!(!keys.iter().any(|k| k.starts_with("thumbnails/uploads/notes")), "no thumbnail for a text file");
    let (record, _) = setup.read("thumbnails/_failed/uploads/notes.jpg.json").await?;
    let record: Value = serde_json::from_slice(&record)?;
    assert_eq!(record["source_key"], "uploads/notes.jpg");
    assert!(record["reason"].as_str().is_some_and(|r| r.starts_with("not an image")), "{record}");
    let (png, _) = setup.read("thumbnails/uploads/mountain-512x512.jpg").await?;
    let png = image::load_from_memory(&png)?.to_rgb8();
    assert_eq!((png.width(), png.height()), (512, 358));
    assert!(png.get_pixel(1, 100).0.iter().all(|c| *c > 240), "transparency flattened onto white");
    Ok(())
}

#[tokio::test]
async fn the_s3_test_event_is_acknowledged_and_the_functions_own_output_is_ignored() -> Result<()> {
    let setup = setup(&[]).await?;
    let response = setup.run(setup.event("sqs-s3-test-event.json")).await?;
    assert!(response.batch_item_failures.is_empty() && response.results.is_empty());

    setup.upload("uploads/beach.jpg", photo(800, 600, ImageFormat::Jpeg)).await?;
    setup.run(setup.event("s3-put.json")).await?;
    let before = setup.keys().await?;
    // S3 notifies about the thumbnail the function just wrote.
    let own =
        setup.event("s3-put.json").to_string().replace("uploads/beach.jpg", "thumbnails/uploads/beach-256x256.jpg");
    let response = setup.run(serde_json::from_str(&own)?).await?;
    assert_eq!(response.results[0].outcome, "skipped");
    assert_eq!(setup.keys().await?, before, "nothing new written");
    Ok(())
}

#[tokio::test]
async fn an_eventbridge_event_and_a_deletion_with_delete_with_source() -> Result<()> {
    let setup = setup(&[("DELETE_WITH_SOURCE", "true")]).await?;
    setup.upload("uploads/portrait.jpg", photo(600, 900, ImageFormat::Jpeg)).await?;
    let response = setup.run(setup.event("eventbridge-s3-object-created.json")).await?;
    assert_eq!(response.results[0].keys, ["thumbnails/uploads/portrait-256x256.jpg"]);
    let (bytes, _) = setup.read("thumbnails/uploads/portrait-256x256.jpg").await?;
    assert_eq!(image::load_from_memory(&bytes)?.height(), 256);

    setup.upload("uploads/beach.jpg", photo(800, 600, ImageFormat::Jpeg)).await?;
    setup.run(setup.event("s3-put.json")).await?;
    let response = setup.run(setup.event("s3-delete.json")).await?;
    assert_eq!(response.results[0].outcome, "deleted");
    assert!(!setup.keys().await?.contains(&"thumbnails/uploads/beach-256x256.jpg".to_owned()));
    Ok(())
}

#[tokio::test]
async fn a_direct_invocation_with_a_retryable_failure_fails_the_invocation() -> Result<()> {
    let setup = setup(&[]).await?;
    let payload = setup.event("s3-put.json").to_string().replace(&setup.bucket, "no-such-bucket-here");
    let err = setup.run(serde_json::from_str(&payload)?).await.expect_err("retry");
    assert!(err.to_string().contains("bucket no-such-bucket-here does not exist"), "{err}");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "Retryable");
    Ok(())
}
