//! The thumbnailer end to end against the emulator: each sample event, with real image
//! files uploaded first, thumbnails read back from S3 and checked.

use std::io::Cursor;

use anyhow::{Context as _, Result};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use support::Harness as _;
use thumbnailer::core::{Outcome, Response};
use thumbnailer::{Config, Deps, ThumbnailerError, handle};

use support::{TestAccount, event};

/// A photo-like image: gradients, so the encoders have real work (with a transparent
/// band on the left in PNG).
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
    deps.s3.harness().create_bucket().bucket(&bucket).send().await?;
    Ok(Setup { deps, bucket })
}

impl Setup {
    async fn upload(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.deps.s3.harness().put_object().bucket(&self.bucket).key(key).body(bytes.into()).send().await?;
        Ok(())
    }

    /// The sample event, pointed at this test's bucket, with the ETags of the objects as
    /// they are now (S3's events carry the ETag of the version they announce).
    async fn event(&self, name: &str) -> Value {
        let text = event(name).to_string().replace("photo-uploads", &self.bucket);
        self.with_real_etags(serde_json::from_str(&text).expect("still JSON")).await
    }

    async fn with_real_etags(&self, mut payload: Value) -> Value {
        if let Some(records) = payload["Records"].as_array_mut() {
            for record in records {
                if let Some(body) = record["body"].as_str() {
                    let body = Box::pin(self.with_real_etags(serde_json::from_str(body).expect("JSON body"))).await;
                    record["body"] = body.to_string().into();
                } else if let Some(key) = record.pointer("/s3/object/key").and_then(Value::as_str) {
                    let key = thumbnailer::core::decode_s3_key(key).expect("a key");
                    if let Some(etag) = self.etag(&key).await {
                        record["s3"]["object"]["eTag"] = etag.into();
                    }
                }
            }
        } else if let Some(key) = payload.pointer("/detail/object/key").and_then(Value::as_str).map(str::to_owned)
            && let Some(etag) = self.etag(&key).await
        {
            payload["detail"]["object"]["etag"] = etag.into();
        }
        payload
    }

    async fn etag(&self, key: &str) -> Option<String> {
        let head = self.deps.s3.harness().head_object().bucket(&self.bucket).key(key).send().await.ok()?;
        Some(head.e_tag()?.trim_matches('"').to_owned())
    }

    async fn run(&self, payload: Value) -> Result<Response, ThumbnailerError> {
        handle(&self.deps, LambdaEvent::new(payload, Context::default())).await
    }

    async fn keys(&self) -> Result<Vec<String>> {
        let listed = self.deps.s3.harness().list_objects_v2().bucket(&self.bucket).send().await?;
        let mut keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key()).map(str::to_owned).collect();
        keys.sort();
        Ok(keys)
    }

    /// The object's bytes, and its headers and metadata.
    async fn read(&self, key: &str) -> Result<(Vec<u8>, aws_sdk_s3::operation::head_object::HeadObjectOutput)> {
        let object = self.deps.s3.harness().get_object().bucket(&self.bucket).key(key).send().await?;
        let head = self.deps.s3.harness().head_object().bucket(&self.bucket).key(key).send().await?;
        Ok((object.body.collect().await?.into_bytes().to_vec(), head))
    }
}

#[tokio::test]
async fn a_direct_s3_event_writes_a_checked_thumbnail_and_a_rerun_is_identical() -> Result<()> {
    let setup = setup(&[]).await?;
    setup.upload("uploads/beach.jpg", photo(1200, 800, ImageFormat::Jpeg)).await?;

    let response = setup.run(setup.event("s3-put.json").await).await?;

    assert_eq!(response.results[0].outcome, Outcome::Written, "{:?}", response.results);
    let key = "thumbnails/uploads/beach.jpg-256x256.jpg";
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

    // A repeated event finds this version's thumbnail and writes nothing.
    let again = setup.run(setup.event("s3-put.json").await).await?;
    assert_eq!(again.results[0].outcome, Outcome::UpToDate);
    // A new upload of the same bytes (another version) is made again, byte for byte.
    setup.upload("uploads/beach.jpg", photo(1200, 800, ImageFormat::Jpeg)).await?;
    setup.deps.s3.harness().delete_object().bucket(&setup.bucket).key(key).send().await?;
    let redone = setup.run(setup.event("s3-put.json").await).await?;
    assert_eq!(redone.results[0].outcome, Outcome::Written);
    assert_eq!(setup.read(key).await?.0, bytes, "the same source gives the same bytes");
    Ok(())
}

#[tokio::test]
async fn an_encoded_key_with_spaces_unicode_and_plus_works() -> Result<()> {
    let setup = setup(&[]).await?;
    setup.upload("uploads/summer 2026/café + friends.jpeg", photo(640, 480, ImageFormat::Jpeg)).await?;

    let response = setup.run(setup.event("s3-put-encoded-key.json").await).await?;

    assert_eq!(response.results[0].keys, ["thumbnails/uploads/summer 2026/café + friends.jpeg-256x256.jpg"]);
    let (_, object) = setup.read("thumbnails/uploads/summer 2026/café + friends.jpeg-256x256.jpg").await?;
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
    let mut payload = setup.event("sqs-s3-batch.json").await;
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
    let outcomes: Vec<(&str, Outcome)> = response.results.iter().map(|r| (r.key.as_str(), r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("uploads/mountain.png", Outcome::Written),
            ("uploads/city at night.webp", Outcome::Written),
            ("uploads/notes.jpg", Outcome::Rejected),
            ("uploads/gone.png", Outcome::Skipped),
            ("uploads/mountain.png", Outcome::Retry),
        ]
    );
    let keys = setup.keys().await?;
    for expected in [
        "thumbnails/uploads/mountain.png-128x128.jpg",
        "thumbnails/uploads/mountain.png-512x512.jpg",
        "thumbnails/uploads/city at night.webp-128x128.jpg",
        "thumbnails/_failed/uploads/notes.jpg.json",
    ] {
        assert!(keys.contains(&expected.to_owned()), "{expected} in {keys:?}");
    }
    assert!(!keys.iter().any(|k| k.starts_with("thumbnails/uploads/notes")), "no thumbnail for a text file");
    let (record, _) = setup.read("thumbnails/_failed/uploads/notes.jpg.json").await?;
    let record: Value = serde_json::from_slice(&record)?;
    assert_eq!(record["source_key"], "uploads/notes.jpg");
    assert!(record["reason"].as_str().is_some_and(|r| r.starts_with("not an image")), "{record}");
    let (png, _) = setup.read("thumbnails/uploads/mountain.png-512x512.jpg").await?;
    let png = image::load_from_memory(&png)?.to_rgb8();
    assert_eq!((png.width(), png.height()), (512, 358));
    assert!(png.get_pixel(1, 100).0.iter().all(|c| *c > 240), "transparency flattened onto white");
    Ok(())
}

#[tokio::test]
async fn the_s3_test_event_is_acknowledged_and_the_functions_own_output_is_ignored() -> Result<()> {
    let setup = setup(&[]).await?;
    let response = setup.run(setup.event("sqs-s3-test-event.json").await).await?;
    assert!(response.batch_item_failures.is_empty() && response.results.is_empty());

    setup.upload("uploads/beach.jpg", photo(800, 600, ImageFormat::Jpeg)).await?;
    setup.run(setup.event("s3-put.json").await).await?;
    let before = setup.keys().await?;
    // S3 notifies about the thumbnail the function just wrote.
    let own = setup
        .event("s3-put.json")
        .await
        .to_string()
        .replace("uploads/beach.jpg", "thumbnails/uploads/beach.jpg-256x256.jpg");
    let response = setup.run(serde_json::from_str(&own)?).await?;
    assert_eq!(response.results[0].outcome, Outcome::Skipped);
    assert_eq!(setup.keys().await?, before, "nothing new written");
    Ok(())
}

#[tokio::test]
async fn an_eventbridge_event_and_a_deletion_with_delete_with_source() -> Result<()> {
    let setup = setup(&[("DELETE_WITH_SOURCE", "true")]).await?;
    setup.upload("uploads/portrait.jpg", photo(600, 900, ImageFormat::Jpeg)).await?;
    let response = setup.run(setup.event("eventbridge-s3-object-created.json").await).await?;
    assert_eq!(response.results[0].keys, ["thumbnails/uploads/portrait.jpg-256x256.jpg"]);
    let (bytes, _) = setup.read("thumbnails/uploads/portrait.jpg-256x256.jpg").await?;
    assert_eq!(image::load_from_memory(&bytes)?.height(), 256);

    setup.upload("uploads/beach.jpg", photo(800, 600, ImageFormat::Jpeg)).await?;
    setup.run(setup.event("s3-put.json").await).await?;
    // The delete event is processed once the object is really gone.
    setup.deps.s3.harness().delete_object().bucket(&setup.bucket).key("uploads/beach.jpg").send().await?;
    let response = setup.run(setup.event("s3-delete.json").await).await?;
    assert_eq!(response.results[0].outcome, Outcome::Deleted);
    assert!(!setup.keys().await?.contains(&"thumbnails/uploads/beach.jpg-256x256.jpg".to_owned()));
    Ok(())
}

#[tokio::test]
async fn a_direct_invocation_with_a_retryable_failure_fails_the_invocation() -> Result<()> {
    let setup = setup(&[]).await?;
    let payload = setup.event("s3-put.json").await.to_string().replace(&setup.bucket, "no-such-bucket-here");
    let err = setup.run(serde_json::from_str(&payload)?).await.expect_err("retry");
    assert!(err.to_string().contains("bucket no-such-bucket-here does not exist"), "{err}");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "Retryable");
    Ok(())
}

/// The event of `key` in this test's bucket (the sample S3 put event, re-pointed).
async fn put_event(setup: &Setup, key: &str) -> Result<Value> {
    let text =
        event("s3-put.json").to_string().replace("photo-uploads", &setup.bucket).replace("uploads/beach.jpg", key);
    Ok(setup.with_real_etags(serde_json::from_str(&text)?).await)
}

async fn delete_event(setup: &Setup, key: &str) -> Result<Value> {
    let text =
        event("s3-delete.json").to_string().replace("photo-uploads", &setup.bucket).replace("uploads/beach.jpg", key);
    Ok(serde_json::from_str(&text)?)
}

#[tokio::test]
async fn deletes_never_remove_a_live_images_thumbnails() -> Result<()> {
    let setup = setup(&[("DELETE_WITH_SOURCE", "true")]).await?;
    // Given beach.jpg and beach.png, each with its thumbnail, and a thumbnail an earlier
    // version wrote for beach.png under the old name that beach.jpg's would also have had.
    setup.upload("uploads/beach.jpg", photo(800, 600, ImageFormat::Jpeg)).await?;
    setup.upload("uploads/beach.png", photo(800, 600, ImageFormat::Png)).await?;
    for key in ["uploads/beach.jpg", "uploads/beach.png"] {
        assert_eq!(setup.run(put_event(&setup, key).await?).await?.results[0].outcome, Outcome::Written);
    }
    let legacy = "thumbnails/uploads/beach-256x256.jpg";
    setup
        .deps
        .s3
        .put_object()
        .bucket(&setup.bucket)
        .key(legacy)
        .metadata("source-key", "uploads/beach.png")
        .metadata("thumbnailer-output", "true")
        .body(photo(256, 192, ImageFormat::Jpeg).into())
        .send()
        .await?;
    let (jpg_thumbnail, png_thumbnail) =
        ("thumbnails/uploads/beach.jpg-256x256.jpg", "thumbnails/uploads/beach.png-256x256.jpg");

    // When beach.jpg's delete event arrives after beach.jpg was uploaded again (out of order),
    let response = setup.run(delete_event(&setup, "uploads/beach.jpg").await?).await?;
    // then the live image keeps its thumbnail.
    assert_eq!(response.results[0].outcome, Outcome::Skipped, "{:?}", response.results);
    assert!(setup.keys().await?.contains(&jpg_thumbnail.to_owned()));

    // When beach.jpg is really gone, only its own thumbnail goes: not beach.png's, not the
    // old-style name that beach.png's earlier thumbnail holds.
    setup.deps.s3.harness().delete_object().bucket(&setup.bucket).key("uploads/beach.jpg").send().await?;
    let response = setup.run(delete_event(&setup, "uploads/beach.jpg").await?).await?;
    assert_eq!(response.results[0].outcome, Outcome::Deleted);
    assert_eq!(response.results[0].keys, [jpg_thumbnail]);
    let keys = setup.keys().await?;
    assert!(!keys.contains(&jpg_thumbnail.to_owned()) && keys.contains(&png_thumbnail.to_owned()), "{keys:?}");
    assert!(keys.contains(&legacy.to_owned()), "{keys:?}");

    // When beach.png goes, its thumbnails under both names go with it.
    setup.deps.s3.harness().delete_object().bucket(&setup.bucket).key("uploads/beach.png").send().await?;
    let response = setup.run(delete_event(&setup, "uploads/beach.png").await?).await?;
    assert_eq!(response.results[0].keys, [png_thumbnail, legacy]);
    assert!(!setup.keys().await?.iter().any(|k| k.starts_with("thumbnails/uploads/beach")));
    Ok(())
}

#[tokio::test]
async fn an_object_replaced_after_its_event_is_left_to_the_new_versions_event() -> Result<()> {
    let setup = setup(&[]).await?;
    setup.upload("uploads/beach.jpg", photo(800, 600, ImageFormat::Jpeg)).await?;
    let first_event = put_event(&setup, "uploads/beach.jpg").await?;
    setup.upload("uploads/beach.jpg", photo(640, 480, ImageFormat::Jpeg)).await?;

    let response = setup.run(first_event).await?;

    assert_eq!(response.results[0].outcome, Outcome::Skipped);
    assert!(response.results[0].detail.contains("replaced after this event"), "{:?}", response.results);
    let response = setup.run(put_event(&setup, "uploads/beach.jpg").await?).await?;
    assert_eq!(response.results[0].outcome, Outcome::Written);
    let (bytes, _) = setup.read("thumbnails/uploads/beach.jpg-256x256.jpg").await?;
    assert_eq!(image::load_from_memory(&bytes)?.height(), 192, "made from the new version, 640 x 480");
    Ok(())
}

#[tokio::test]
async fn a_decoder_panic_is_recorded_as_the_files_fault_and_not_retried() -> Result<()> {
    let setup = setup(&[]).await?;
    setup.upload("uploads/panics.jpg", imaging::test_support::PANIC_INPUT.to_vec()).await?;
    setup.upload("uploads/beach.jpg", photo(800, 600, ImageFormat::Jpeg)).await?;
    let mut payload = setup.event("sqs-s3-batch.json").await;
    let records = payload["Records"].as_array_mut().context("records")?;
    records.truncate(1);
    let mut panics = records[0].clone();
    panics["messageId"] = "panics".into();
    panics["body"] =
        records[0]["body"].as_str().context("body")?.replace("uploads/mountain.png", "uploads/panics.jpg").into();
    let mut good = records[0].clone();
    good["messageId"] = "good".into();
    good["body"] =
        records[0]["body"].as_str().context("body")?.replace("uploads/mountain.png", "uploads/beach.jpg").into();
    *records = vec![panics, good];
    let payload = setup.with_real_etags(payload).await;

    let response = setup.run(payload).await?;

    assert!(response.batch_item_failures.is_empty(), "{:?}", response.results);
    let outcomes: Vec<Outcome> = response.results.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Rejected, Outcome::Written]);
    let (record, _) = setup.read("thumbnails/_failed/uploads/panics.jpg.json").await?;
    let record: Value = serde_json::from_slice(&record)?;
    assert_eq!(record["reason"], "the image decoder failed on this file (test hook: the image worker panicked)");
    Ok(())
}

#[tokio::test]
async fn a_photo_replaced_by_a_rejected_file_loses_its_earlier_thumbnails() -> Result<()> {
    let thumbnail = "thumbnails/uploads/beach.jpg-256x256.jpg";
    for delete_with_source in [true, false] {
        let setup = setup(&[("DELETE_WITH_SOURCE", if delete_with_source { "true" } else { "false" })]).await?;
        setup.upload("uploads/beach.jpg", photo(800, 600, ImageFormat::Jpeg)).await?;
        assert_eq!(
            setup.run(put_event(&setup, "uploads/beach.jpg").await?).await?.results[0].outcome,
            Outcome::Written
        );

        // Replaced by a file that is not an image: its event rejects it.
        setup.upload("uploads/beach.jpg", b"not a photo any more".to_vec()).await?;
        let response = setup.run(put_event(&setup, "uploads/beach.jpg").await?).await?;

        assert_eq!(response.results[0].outcome, Outcome::Rejected, "{:?}", response.results);
        let keys = setup.keys().await?;
        assert!(keys.contains(&"thumbnails/_failed/uploads/beach.jpg.json".to_owned()), "{keys:?}");
        // With deletes on, the earlier photo's thumbnail goes; without, nothing is deleted.
        assert_eq!(keys.contains(&thumbnail.to_owned()), !delete_with_source, "{keys:?}");
    }
    Ok(())
}

#[tokio::test]
async fn a_thumbnail_rewritten_since_it_was_read_is_not_deleted() -> Result<()> {
    let setup = setup(&[]).await?;
    let key = "thumbnails/uploads/raced.jpg-256x256.jpg";
    setup.upload(key, b"the version read".to_vec()).await?;
    let read = setup.etag(key).await.context("an ETag")?;
    setup.upload(key, b"a newer version's thumbnail".to_vec()).await?;

    let deleted = thumbnailer::aws::delete_if_unchanged(&setup.deps.s3, &setup.bucket, key, &read).await;

    assert_eq!(deleted, Ok(false));
    assert!(setup.keys().await?.contains(&key.to_owned()));
    let current = setup.etag(key).await.context("an ETag")?;
    assert_eq!(thumbnailer::aws::delete_if_unchanged(&setup.deps.s3, &setup.bucket, key, &current).await, Ok(true));
    assert_eq!(thumbnailer::aws::delete_if_unchanged(&setup.deps.s3, &setup.bucket, key, &current).await, Ok(false));
    Ok(())
}

/// Decodes an image with the Pillow of the repository's `.venv` (libavif and dav1d inside
/// its wheel): its size and the mean of each RGB channel.
fn decoded_by_pillow(bytes: &[u8]) -> Result<((u32, u32), [f64; 3])> {
    let path = std::env::temp_dir().join(format!("thumbnail-{}-{}.img", std::process::id(), bytes.len()));
    std::fs::write(&path, bytes)?;
    let script = "import sys, json; from PIL import Image, ImageStat\n\
                  im = Image.open(sys.argv[1]); im.load()\n\
                  print(json.dumps([im.format, im.size, ImageStat.Stat(im.convert('RGB')).mean]))";
    let output = std::process::Command::new(support::moto::python()).args(["-c", script]).arg(&path).output()?;
    std::fs::remove_file(&path).ok();
    anyhow::ensure!(output.status.success(), "Pillow: {}", String::from_utf8_lossy(&output.stderr));
    let (format, size, mean): (String, (u32, u32), [f64; 3]) = serde_json::from_slice(&output.stdout)?;
    anyhow::ensure!(format == "AVIF", "Pillow read it as {format}");
    Ok((size, mean))
}

#[tokio::test]
async fn avif_thumbnails_decode_to_the_photo_in_another_decoder() -> Result<()> {
    let setup = setup(&[("THUMBNAIL_FORMAT", "avif"), ("THUMBNAIL_SIZES", "256x256")]).await?;
    let source = photo(1200, 800, ImageFormat::Jpeg);
    setup.upload("uploads/beach.jpg", source.clone()).await?;

    let response = setup.run(setup.event("s3-put.json").await).await?;

    let key = "thumbnails/uploads/beach.jpg-256x256.avif";
    assert_eq!(response.results[0].keys, [key], "{:?}", response.results);
    let (bytes, object) = setup.read(key).await?;
    assert_eq!(object.content_type(), Some("image/avif"));
    let (size, mean) = decoded_by_pillow(&bytes)?;
    assert_eq!(size, (256, 171));
    // The same colours as the photo (a lossy encode of a resize: within a few levels).
    let original =
        image::load_from_memory(&source)?.resize_exact(256, 171, image::imageops::FilterType::Triangle).to_rgb8();
    let pixels = f64::from(original.width() * original.height());
    for (channel, decoded) in mean.iter().enumerate() {
        let expected = original.pixels().map(|p| f64::from(p[channel])).sum::<f64>() / pixels;
        assert!((decoded - expected).abs() < 4.0, "channel {channel}: {decoded} vs {expected}");
    }
    Ok(())
}
