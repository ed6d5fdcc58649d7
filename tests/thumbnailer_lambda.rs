//! The thumbnailer as it is deployed: the packaged binary (`cargo lambda build
//! --release`, the build `make package` ships, or the artifact `THUMBNAILER_BOOTSTRAP`
//! names) run by the local Lambda under the function's memory size, against the
//! emulator. These tests assert what the function did in S3 and what it answered, and
//! the process's peak memory.

use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use image::ImageFormat;
use serde_json::{Value, json};

use support::images::{
    animated_webp_canvas, flat_jpeg, flat_png_16_bit, gif_with_screen, heic_fixture, jpeg_with_a_bad_component_id,
    photo,
};
use support::lambda::{Confinement, Limits, LocalLambda, Outcome, packaged_binary};
use support::slow_proxy::SlowProxy;
use support::sqs::sqs_batch;
use support::{Moto, TestAccount, emitted, log_with_metrics};

/// The template's memory size for the thumbnailer.
const MEMORY_MB: u32 = 512;

struct Bucket {
    account: TestAccount,
    name: String,
}

impl Bucket {
    async fn new(endpoint: &str, versioned: bool) -> Result<Self> {
        let account = TestAccount::default_account(endpoint).await;
        let name = account.unique_bucket("thumbnailer-lambda");
        let s3 = account.aws.s3();
        s3.create_bucket().bucket(&name).send().await?;
        if versioned {
            let enabled = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
            s3.put_bucket_versioning().bucket(&name).versioning_configuration(enabled).send().await?;
        }
        Ok(Self { account, name })
    }

    /// Uploads the object and returns its ETag, as S3's event will carry it.
    async fn upload(&self, key: &str, bytes: Vec<u8>) -> Result<String> {
        let put = self.account.aws.s3().put_object().bucket(&self.name).key(key).body(bytes.into()).send().await?;
        Ok(put.e_tag().context("an ETag")?.trim_matches('"').to_owned())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>> {
        let object = self.account.aws.s3().get_object().bucket(&self.name).key(key).send().await?;
        Ok(object.body.collect().await?.into_bytes().to_vec())
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let listed = self.account.aws.s3().list_objects_v2().bucket(&self.name).prefix(prefix).send().await?;
        Ok(listed.contents().iter().filter_map(|o| o.key()).map(str::to_owned).collect())
    }

    /// How many versions each key under `prefix` has (one per write, on a versioned bucket).
    async fn versions(&self, prefix: &str) -> Result<Vec<(String, usize)>> {
        let listed = self.account.aws.s3().list_object_versions().bucket(&self.name).prefix(prefix).send().await?;
        let mut counts: Vec<(String, usize)> = Vec::new();
        for version in listed.versions() {
            let key = version.key().unwrap_or_default().to_owned();
            match counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => counts.push((key, 1)),
            }
        }
        counts.sort();
        Ok(counts)
    }
}

async fn thumbnailer(endpoint: &str, cpu_share: bool, env: &[(&str, &str)]) -> LocalLambda {
    let mut full_env = vec![("AWS_ENDPOINT_URL", endpoint), ("THUMBNAIL_SIZES", "256x256")];
    full_env.extend_from_slice(env);
    LocalLambda::start(packaged_binary("thumbnailer"), Limits { memory_mb: MEMORY_MB, cpu_share }, &full_env).await
}

fn outcomes(response: &Value) -> Vec<(String, String)> {
    response["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|r| {
                    (
                        r["key"].as_str().unwrap_or_default().to_owned(),
                        r["outcome"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_packaged_binary_records_fatal_libjpeg_errors_and_every_bomb_within_its_memory_size() -> Result<()> {
    // (And decodes an iPhone's HEIC, turned upright by its container: the HEVC decoder is
    // really in the artifact, within the same memory size.)
    let moto = Moto::shared();
    let bucket = Bucket::new(moto.url(), false).await?;
    // Given a batch of good photos next to hostile files, each small on disk.
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("uploads/good.jpg", photo(3000, 2000, ImageFormat::Jpeg)),
        // 12 megapixels in 48 tiles of HEVC, stored 4032 x 3024 and turned by `irot`.
        ("uploads/iphone.heic", heic_fixture("iphone-8-plus-turned.heic")),
        ("uploads/bad-component-1.jpg", jpeg_with_a_bad_component_id()),
        ("uploads/bad-component-2.jpg", jpeg_with_a_bad_component_id()),
        // 100 megapixels in one interleaved scan: libjpeg needs a few rows, not the image.
        ("uploads/100-megapixels.jpg", flat_jpeg(10_000, 10_000, &[&[1, 2, 3]])),
        // The same pixels with a scan per component: 600 MB of coefficients.
        ("uploads/scan-per-component.jpg", flat_jpeg(10_000, 10_000, &[&[1], &[2], &[3]])),
        ("uploads/many-scans.jpg", flat_jpeg(64, 64, &[&[1u8][..], &[2], &[3]].repeat(34))),
        // 800 MB decoded whole; averaged row by row instead.
        ("uploads/flat-16-bit.png", flat_png_16_bit(10_000, 10_000)),
        ("uploads/screen.gif", gif_with_screen(10_000, 10_000)),
        ("uploads/canvas.webp", animated_webp_canvas(10_000, 10_000)),
    ];
    let mut uploads = Vec::new();
    for (key, bytes) in &files {
        assert!(bytes.len() < 4_000_000, "{key} is {} bytes", bytes.len());
        uploads.push((*key, bucket.upload(key, bytes.clone()).await?));
    }
    let uploads: Vec<(&str, &str)> = uploads.iter().map(|(k, e)| (*k, e.as_str())).collect();
    let lambda = thumbnailer(moto.url(), false, &[]).await;

    // When the packaged binary gets them in one SQS batch, in a 512 MB function.
    let invoked = lambda.invoke(&sqs_batch(&bucket.name, &uploads), Duration::from_secs(120)).await;

    // Then it answers, every file has its outcome, nothing goes back to the queue.
    let response = invoked.outcome.clone().response(&lambda.log());
    assert_eq!(response["batchItemFailures"], json!([]), "{response:#}");
    let expected = [
        ("uploads/good.jpg", "written"),
        ("uploads/iphone.heic", "written"),
        ("uploads/bad-component-1.jpg", "rejected"),
        ("uploads/bad-component-2.jpg", "rejected"),
        ("uploads/100-megapixels.jpg", "written"),
        ("uploads/scan-per-component.jpg", "rejected"),
        ("uploads/many-scans.jpg", "rejected"),
        ("uploads/flat-16-bit.png", "written"),
        ("uploads/screen.gif", "rejected"),
        ("uploads/canvas.webp", "rejected"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(k, o)| ((*k).to_owned(), (*o).to_owned())).collect();
    assert_eq!(outcomes(&response), expected, "{response:#}");
    let thumbnails = bucket.keys("thumbnails/uploads/").await?;
    for written in ["good.jpg", "iphone.heic", "100-megapixels.jpg", "flat-16-bit.png"] {
        assert!(thumbnails.contains(&format!("thumbnails/uploads/{written}-256x256.jpg")), "{written}: {thumbnails:?}");
    }
    // The iPhone's photo upright: portrait, as its container says, not as its tiles are stored.
    let iphone = image::load_from_memory(&bucket.get("thumbnails/uploads/iphone.heic-256x256.jpg").await?)?;
    assert_eq!((iphone.width(), iphone.height()), (192, 256));
    let records = bucket.keys("thumbnails/_failed/").await?;
    assert_eq!(records.len(), 6, "a record per rejected file: {records:?}");
    let reasons: Vec<&str> =
        response["results"].as_array().context("results")?.iter().filter_map(|r| r["detail"].as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("Invalid component ID 9")), "{reasons:?}");
    assert!(reasons.iter().filter(|r| r.contains("this function's memory size allows")).count() == 3, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("102 scans, over the limit of 100")), "{reasons:?}");
    // Its metrics, in its log, say what it did: as many thumbnails as S3 holds, a
    // rejection per record, by class.
    let log = log_with_metrics(&lambda, 1).await;
    assert_eq!(emitted(&log, "ThumbnailsWritten"), [thumbnails.len() as f64], "{thumbnails:?}");
    assert_eq!(emitted(&log, "ImagesProcessed"), [4.0]);
    assert_eq!(emitted(&log, "Rejected"), [records.len() as f64]);
    assert_eq!(emitted(&log, "RejectedTooLarge"), [4.0], "three over memory, one with too many scans");
    assert_eq!(emitted(&log, "RejectedCorrupt"), [2.0], "libjpeg's fatal errors");
    assert_eq!(emitted(&log, "BatchSize"), [files.len() as f64]);
    assert_eq!(emitted(&log, "TransientFailures"), [0.0]);
    assert_eq!(emitted(&log, "Succeeded"), [1.0]);
    let input_mb = files.iter().map(|(_, bytes)| bytes.len()).sum::<usize>() as f64 / (1024.0 * 1024.0);
    let reported_mb = emitted(&log, "InputMegabytes")[0];
    assert!(reported_mb > 0.0 && reported_mb <= input_mb, "{reported_mb} of {input_mb} MB");
    // And it never held more than the memory size it was told it has.
    assert!(
        invoked.peak_rss_kib < u64::from(MEMORY_MB) * 1024,
        "peak RSS {} MiB over {MEMORY_MB} MB",
        invoked.peak_rss_kib / 1024
    );
    Ok(())
}

#[tokio::test]
async fn a_batch_that_cannot_finish_in_time_returns_the_rest_and_a_redelivery_does_not_redo_the_finished() -> Result<()>
{
    // S3 answering in 400 ms makes each record take over a second and a half (HEAD,
    // GET, HEAD of the thumbnail, PUT), one record at a time: 12 records cannot finish in 7 s.
    let moto = Moto::shared();
    let proxy = SlowProxy::start(moto.url(), Duration::from_millis(400), 100_000_000).await;
    let bucket = Bucket::new(moto.url(), true).await?;
    let mut uploads = Vec::new();
    for n in 0..12 {
        let key = format!("uploads/photo {n}.jpg");
        let etag = bucket.upload(&key, photo(1600, 1200, ImageFormat::Jpeg)).await?;
        uploads.push((key, etag));
    }
    let uploads: Vec<(&str, &str)> = uploads.iter().map(|(k, e)| (k.as_str(), e.as_str())).collect();
    let batch = sqs_batch(&bucket.name, &uploads);
    let lambda = thumbnailer(&proxy.url, false, &[("MAX_CONCURRENT_RECORDS", "1")]).await;

    // When Lambda gives the batch 7 seconds.
    let timeout = Duration::from_secs(7);
    let invoked = lambda.invoke(&batch, timeout).await;

    // Then it answers before its deadline, with the records it did not start as failures.
    let response = invoked.outcome.clone().response(&lambda.log());
    assert!(proxy.requests() >= 4, "S3 was reached through the slow proxy");
    assert!(invoked.elapsed < timeout, "answered after {:?}", invoked.elapsed);
    let first = outcomes(&response);
    let written: Vec<&str> = first.iter().filter(|(_, o)| o == "written").map(|(k, _)| k.as_str()).collect();
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .context("failures")?
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    assert!(!written.is_empty() && !failed.is_empty(), "{response:#}");
    assert_eq!(written.len() + failed.len(), 12, "{response:#}");
    assert!(
        response["results"]
            .as_array()
            .context("results")?
            .iter()
            .all(|r| r["outcome"] == "written" || r["detail"].as_str().is_some_and(|d| d.starts_with("not started"))),
        "{response:#}"
    );

    // When SQS redelivers the whole batch (as after a crash), with time enough.
    let again = lambda.invoke(&batch, Duration::from_secs(120)).await.outcome.response(&lambda.log());

    // Then the finished records are not redone, the rest are written, each thumbnail once.
    assert_eq!(again["batchItemFailures"], json!([]), "{again:#}");
    for (key, outcome) in outcomes(&again) {
        let expected = if written.contains(&key.as_str()) { "up_to_date" } else { "written" };
        assert_eq!(outcome, expected, "{key}");
    }
    let versions = bucket.versions("thumbnails/").await?;
    assert_eq!(versions.len(), 12, "{versions:?}");
    assert!(versions.iter().all(|(_, n)| *n == 1), "each thumbnail written once: {versions:?}");
    Ok(())
}

#[tokio::test]
async fn a_deadline_too_short_for_any_record_returns_them_all_at_once() -> Result<()> {
    let moto = Moto::shared();
    let bucket = Bucket::new(moto.url(), false).await?;
    let etag = bucket.upload("uploads/late.jpg", photo(800, 600, ImageFormat::Jpeg)).await?;
    let lambda = thumbnailer(moto.url(), false, &[]).await;
    let batch = sqs_batch(&bucket.name, &[("uploads/late.jpg", etag.as_str())]);

    let invoked = lambda.invoke(&batch, Duration::from_millis(2500)).await;

    let response = invoked.outcome.response(&lambda.log());
    assert_eq!(response["batchItemFailures"], json!([{"itemIdentifier": "message-0"}]), "{response:#}");
    assert!(bucket.keys("thumbnails/").await?.is_empty());
    Ok(())
}

/// The runner itself, on stand-in binaries: a process that never answers is killed at
/// its deadline, one that exits answers nothing; either way the next invocation starts anew.
#[tokio::test]
async fn the_local_lambda_kills_at_the_deadline_and_reports_a_crash() -> Result<()> {
    let folder = std::env::temp_dir().join(format!("local-lambda-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let script = |name: &str, body: &str| -> Result<std::path::PathBuf> {
        let path = folder.join(name).join("bootstrap");
        std::fs::create_dir_all(path.parent().context("folder")?)?;
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n"))?;
        std::process::Command::new("chmod").arg("+x").arg(&path).status()?;
        Ok(path)
    };
    let limits = Limits { memory_mb: 128, cpu_share: false };
    let hangs = LocalLambda::start(script("hangs", "sleep 30")?, limits, &[]).await;
    let invoked = hangs.invoke(&json!({}), Duration::from_millis(500)).await;
    assert_eq!(invoked.outcome, Outcome::TimedOut);
    assert!(invoked.elapsed < Duration::from_secs(5), "{:?}", invoked.elapsed);

    let exits = LocalLambda::start(script("exits", "exit 3")?, limits, &[]).await;
    let invoked = exits.invoke(&json!({}), Duration::from_secs(10)).await;
    assert!(
        matches!(&invoked.outcome, Outcome::Crashed(reason) if reason.contains("exit status: 3")),
        "{:?}",
        invoked.outcome
    );

    // Past its memory size a process is killed and answers nothing, whether a cgroup holds
    // it (root, or a delegated cgroup) or the runner only measures (an ordinary user).
    let grows = script("grows", "exec python3 -c \"import time; b = b'x' * (400 << 20); time.sleep(30)\"")?;
    let confinements = [Confinement::for_limits(limits), Confinement::Measured];
    for confinement in confinements {
        let lambda = LocalLambda::start_confined(grows.clone(), limits, &[], confinement.clone()).await;
        let invoked = lambda.invoke(&json!({}), Duration::from_secs(20)).await;
        assert!(matches!(&invoked.outcome, Outcome::Crashed(_)), "{confinement:?}: {:?}", invoked.outcome);
        assert!(invoked.elapsed < Duration::from_secs(15), "{confinement:?}: not killed until {:?}", invoked.elapsed);
    }
    std::fs::remove_dir_all(&folder)?;
    Ok(())
}
