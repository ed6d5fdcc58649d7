//! The photo catalogue against the emulator: each photo's record in a real DynamoDB
//! table, its announcement on a real SNS topic read from a subscribed SQS queue, under
//! repeated, late and out-of-order S3 events.

use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use image::ImageFormat;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use thumbnailer::catalog::{self, Filed};
use thumbnailer::core::{ObjectResult, Outcome};
use thumbnailer::core::{RecordOf, Sequencer};
use thumbnailer::{Config, Deps, handle};

use support::images::{SKIN, off_centre_face_jpeg, photo};
use support::photos::{create_table, item, phone_photo, s3_event};
use support::sqs::Queue;
use support::{Moto, TestAccount};

const CREATED: &str = "ObjectCreated:Put";
const REMOVED: &str = "ObjectRemoved:Delete";

/// A bucket, a photos table, a topic with a queue subscribed, in the emulator's default
/// account (where the SQS helper's queues live), all named for this test alone.
struct Catalogue {
    account: TestAccount,
    bucket: String,
    table: String,
    topic: String,
    queue: Queue,
    dynamodb: aws_sdk_dynamodb::Client,
}

impl Catalogue {
    async fn new() -> Result<Self> {
        let moto = Moto::shared();
        let account = TestAccount::default_account(moto.url()).await;
        let bucket = account.unique_bucket("photos");
        let (table, topic_name) = (format!("{bucket}-table"), format!("{bucket}-topic"));
        let dynamodb = shared::aws_client!(aws_sdk_dynamodb, &account.aws);
        create_table(&dynamodb, &table).await?;
        let sns = shared::aws_client!(aws_sdk_sns, &account.aws);
        let topic = sns.create_topic().name(&topic_name).send().await?.topic_arn.context("topic arn")?;
        let queue = Queue::create(moto.url(), &format!("{bucket}-messages"), None).await?;
        sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&queue.arn).send().await?;
        account.aws.s3().create_bucket().bucket(&bucket).send().await?;
        Ok(Self { account, bucket, table, topic, queue, dynamodb })
    }

    /// The thumbnailer with this catalogue (`topic` replaces the real topic when given).
    fn deps(&self, extra: &[(&str, &str)], topic: Option<&str>) -> Result<Deps> {
        let mut settings = vec![
            ("PHOTOS_TABLE", self.table.as_str()),
            ("PHOTOS_TOPIC_ARN", topic.unwrap_or(&self.topic)),
            ("THUMBNAIL_SIZES", "64x64,256x256"),
            ("DELETE_WITH_SOURCE", "true"),
        ];
        settings.extend_from_slice(extra);
        Ok(Deps::new(Config::from_env(&shared::config::Env::from_pairs(settings))?, &self.account.aws))
    }

    async fn upload(&self, key: &str, bytes: Vec<u8>) -> Result<String> {
        let put = self.account.aws.s3().put_object().bucket(&self.bucket).key(key).body(bytes.into()).send().await?;
        Ok(put.e_tag().context("an ETag")?.trim_matches('"').to_owned())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.account.aws.s3().delete_object().bucket(&self.bucket).key(key).send().await?;
        Ok(())
    }

    fn created(&self, key: &str, etag: &str, sequencer: Option<&str>) -> Value {
        s3_event(&self.bucket, key, CREATED, Some(etag), sequencer)
    }

    fn removed(&self, key: &str, sequencer: Option<&str>) -> Value {
        s3_event(&self.bucket, key, REMOVED, None, sequencer)
    }

    async fn run(&self, deps: &Deps, payload: Value) -> Result<ObjectResult> {
        let response = handle(deps, LambdaEvent::new(payload, Context::default())).await?;
        response.results.into_iter().next().context("one result")
    }

    async fn record(&self, key: &str) -> Result<Value> {
        item(&self.dynamodb, &self.table, &format!("{}/{key}", self.bucket)).await?.context("the photo's record")
    }

    /// The messages the topic delivered since the last call: (attributes, body).
    async fn messages(&self) -> Result<Vec<(Value, Value)>> {
        let mut all = Vec::new();
        loop {
            let received = self.queue.receive(10, Duration::from_secs(60), 1).await?;
            if received.is_empty() {
                break;
            }
            self.queue.delete(&received.iter().collect::<Vec<_>>()).await?;
            for message in received {
                let envelope: Value = serde_json::from_str(&message.body)?;
                let attributes: Value = envelope["MessageAttributes"]
                    .as_object()
                    .context("message attributes")?
                    .iter()
                    .map(|(name, attribute)| (name.clone(), attribute["Value"].clone()))
                    .collect();
                let body = serde_json::from_str(envelope["Message"].as_str().context("a message")?)?;
                all.push((attributes, body));
            }
        }
        Ok(all)
    }

    /// Files a record straight into the table, as the handler does.
    async fn file(&self, record: &thumbnailer::core::PhotoRecord) -> Result<Filed> {
        catalog::file(&self.dynamodb, &self.table, record).await.map_err(anyhow::Error::msg)
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let listed = self.account.aws.s3().list_objects_v2().bucket(&self.bucket).prefix(prefix).send().await?;
        Ok(listed.contents().iter().filter_map(|o| o.key()).map(str::to_owned).collect())
    }

    async fn size_of(&self, key: &str) -> Result<u64> {
        let head = self.account.aws.s3().head_object().bucket(&self.bucket).key(key).send().await?;
        Ok(u64::try_from(head.content_length().context("a length")?)?)
    }
}

fn padded(sequencer: &str) -> String {
    Sequencer::parse(sequencer).expect("a sequencer").padded()
}

#[tokio::test]
async fn an_upload_is_recorded_with_its_facts_and_announced_once() -> Result<()> {
    // Given a phone's photo uploaded under a user's folder,
    let catalogue = Catalogue::new().await?;
    let deps = catalogue.deps(&[("PHOTOS_OWNER_DEPTH", "2")], None)?;
    let (key, bytes) = ("uploads/alice/IMG_0042.jpg", phone_photo(1200, 900));
    let size = bytes.len() as u64;
    let etag = catalogue.upload(key, bytes).await?;
    let event = catalogue.created(key, &etag, Some("0062A1B2C3D4E5F601"));

    // when its event is processed,
    let result = catalogue.run(&deps, event.clone()).await?;
    assert_eq!((result.outcome, result.detail.as_str()), (Outcome::Written, "recorded and announced"), "{result:?}");

    // then its record holds every fact, the thumbnails as written, and no position,
    let record = catalogue.record(key).await?;
    let bucket = catalogue.bucket.as_str();
    let thumbnails =
        ["thumbnails/uploads/alice/IMG_0042.jpg-64x64.jpg", "thumbnails/uploads/alice/IMG_0042.jpg-256x256.jpg"];
    let expected_thumbnails: Vec<Value> = [(64, 64, 48), (256, 256, 192)]
        .iter()
        .zip(thumbnails)
        .map(|((side, w, h), key)| {
            serde_json::json!({
                "key": key, "box": format!("{side}x{side}"), "width": w, "height": h,
                "format": "jpeg", "content_type": "image/jpeg",
            })
        })
        .collect();
    for (thumbnail, expected) in record["thumbnails"].as_array().context("thumbnails")?.iter().zip(&expected_thumbnails)
    {
        let bytes = catalogue.size_of(thumbnail["key"].as_str().context("a key")?).await?;
        let mut expected = expected.clone();
        expected["bytes"] = bytes.into();
        assert_eq!(thumbnail, &expected);
    }
    assert_eq!(record["thumbnails"].as_array().map(Vec::len), Some(2));
    let placeholder =
        base64::engine::general_purpose::STANDARD.decode(record["placeholder"].as_str().context("placeholder")?)?;
    assert!(thumbhash::thumb_hash_to_average_rgba(&placeholder).is_ok() && placeholder.len() <= 40, "{placeholder:?}");
    let colour = record["dominant_colour"].as_str().context("a colour")?;
    assert!(colour.len() == 7 && colour.starts_with('#'), "{colour}");
    let processed_at = record["processed_at"].as_str().context("processed_at")?.to_owned();
    assert!(processed_at.parse::<jiff::Timestamp>().is_ok(), "{processed_at}");
    let phash = record["phash"].as_str().context("a perceptual hash")?;
    assert!(phash.len() == 16 && phash.chars().all(|c| c.is_ascii_hexdigit()), "{phash}");
    let mut rest = record.clone();
    for name in ["thumbnails", "placeholder", "dominant_colour", "processed_at", "phash"] {
        rest.as_object_mut().context("an item")?.remove(name);
    }
    assert_eq!(
        rest,
        serde_json::json!({
            "photo_id": format!("{bucket}/{key}"), "owner": format!("{bucket}/uploads/alice/"),
            "bucket": bucket, "key": key, "status": "ready", "version": format!("ready:{etag}"),
            "sequencer": padded("0062A1B2C3D4E5F601"), "etag": etag, "size": size,
            "format": "jpeg", "width": 1200, "height": 900, "orientation": 1,
            "captured_at": "2022-08-14T14:12:31+03:00", "camera_make": "HMD Global", "camera_model": "Nokia 8.3 5G",
            "announced": true,
        })
    );

    // one message announced it, with attributes to filter on and the record's main fields,
    let messages = catalogue.messages().await?;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let (attributes, body) = &messages[0];
    assert_eq!(
        attributes,
        &serde_json::json!({ "event": "photo.ready", "bucket": bucket, "key_prefix": "uploads/alice/", "format": "jpeg" })
    );
    assert_eq!(body["event"], "photo.ready");
    assert_eq!(body["key"], key);
    assert_eq!(body["etag"], etag.as_str());
    assert_eq!(body["sequencer"], padded("0062A1B2C3D4E5F601"));
    assert_eq!(body["captured_at"], "2022-08-14T14:12:31+03:00");
    assert_eq!((body["width"].as_u64(), body["height"].as_u64()), (Some(1200), Some(900)));
    assert_eq!(body["thumbnails"], serde_json::json!(thumbnails));
    assert_eq!(body["placeholder"], record["placeholder"]);
    assert!(body.get("location").is_none() && body.get("announced").is_none(), "{body}");

    // and the user's photos are listed through the owner index, without a scan.
    let listed = catalogue
        .dynamodb
        .query()
        .table_name(&catalogue.table)
        .index_name("by-owner")
        .key_condition_expression("#owner = :owner AND begins_with(#key, :prefix)")
        .expression_attribute_names("#owner", "owner")
        .expression_attribute_names("#key", "key")
        .expression_attribute_values(":owner", AttributeValue::S(format!("{bucket}/uploads/alice/")))
        .expression_attribute_values(":prefix", AttributeValue::S("uploads/alice/IMG_".to_owned()))
        .send()
        .await?;
    assert_eq!(listed.items().len(), 1);

    // The same event again changes nothing and announces nothing.
    let again = catalogue.run(&deps, event).await?;
    assert_eq!(again.outcome, Outcome::UpToDate, "{again:?}");
    assert!(catalogue.messages().await?.is_empty());
    assert_eq!(catalogue.record(key).await?["processed_at"], processed_at.as_str());

    // With STORE_LOCATION=true, and only then, the record keeps where the photo was taken.
    let with_location = catalogue.deps(&[("STORE_LOCATION", "true")], None)?;
    let key = "uploads/bob/IMG_0001.jpg";
    let etag = catalogue.upload(key, phone_photo(640, 480)).await?;
    catalogue.run(&with_location, catalogue.created(key, &etag, Some("0062A1B2C3D4E5F602"))).await?;
    assert_eq!(
        catalogue.record(key).await?["location"],
        serde_json::json!({ "latitude": 60.146706, "longitude": 24.906772 })
    );
    assert_eq!(catalogue.record(key).await?["owner"], format!("{bucket}/uploads/"), "PHOTOS_OWNER_DEPTH 1");
    Ok(())
}

#[tokio::test]
async fn a_rejected_upload_is_recorded_and_announced_with_its_reason() -> Result<()> {
    let catalogue = Catalogue::new().await?;
    let deps = catalogue.deps(&[], None)?;
    let key = "uploads/alice/notes.jpg";
    let etag = catalogue.upload(key, b"these are my notes, not a photo".to_vec()).await?;

    let result = catalogue.run(&deps, catalogue.created(key, &etag, Some("0062A1B2C3D4E5F610"))).await?;

    assert_eq!(result.outcome, Outcome::Rejected, "{result:?}");
    let record = catalogue.record(key).await?;
    assert_eq!(record["status"], "rejected");
    assert_eq!(record["etag"], etag.as_str());
    let reason = record["reason"].as_str().context("a reason")?;
    assert!(reason.starts_with("not an image"), "{reason}");
    let failure_record = record["failure_record"].as_str().context("the failure record's key")?;
    assert_eq!(catalogue.keys(failure_record).await?, [failure_record]);
    assert!(record.get("thumbnails").is_none() && record.get("format").is_none(), "{record}");
    let messages = catalogue.messages().await?;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let (attributes, body) = &messages[0];
    assert_eq!(
        attributes,
        &serde_json::json!({ "event": "photo.rejected", "bucket": catalogue.bucket, "key_prefix": "uploads/alice/" })
    );
    assert_eq!(body["reason"], reason);
    assert_eq!(body["status"], "rejected");
    Ok(())
}

#[tokio::test]
async fn an_older_event_never_replaces_a_newer_record() -> Result<()> {
    let catalogue = Catalogue::new().await?;
    let deps = catalogue.deps(&[], None)?;
    let key = "uploads/alice/beach.jpg";
    // Given two uploads of one key, whose events arrive newest first,
    let first = catalogue.upload(key, photo(400, 300, ImageFormat::Jpeg)).await?;
    let older = catalogue.created(key, &first, Some("0062A1B2C3D4E5F620"));
    let second = catalogue.upload(key, photo(300, 400, ImageFormat::Jpeg)).await?;
    let newer = catalogue.created(key, &second, Some("0062A1B2C3D4E5F621"));
    assert_eq!(catalogue.run(&deps, newer).await?.outcome, Outcome::Written);

    // the late older event changes nothing: the newer record stays, announced once.
    let late = catalogue.run(&deps, older).await?;
    assert_eq!(late.outcome, Outcome::Skipped, "{late:?}");
    let record = catalogue.record(key).await?;
    assert_eq!((record["etag"].as_str(), record["width"].as_u64()), (Some(second.as_str()), Some(300)));
    assert_eq!(catalogue.messages().await?.len(), 1);

    // The S3 check above sees that case; the conditional write is what holds when it cannot
    // (the older event's work finishing after the newer one's, say): filed directly, an
    // older record is refused, the same one again is recognised, a newer one wins.
    let stored = catalogue.record(key).await?;
    let at = |sequencer: &'static str| RecordOf {
        bucket: &catalogue.bucket,
        key,
        sequencer: Some(Box::leak(Box::new(Sequencer::parse(sequencer).expect("a sequencer")))),
        owner_depth: 1,
        processed_at: "2026-11-23T06:00:00Z",
    };
    let stale = at("0062A1B2C3D4E5F6").rejected(Some(&first), "stale", "x"); // shorter, so smaller once padded
    assert_eq!(catalogue.file(&stale).await?, Filed::Superseded);
    assert_eq!(catalogue.record(key).await?, stored);
    let unsequenced = RecordOf { sequencer: None, ..at("00") }.deleted();
    assert_eq!(
        catalogue.file(&unsequenced).await?,
        Filed::Superseded,
        "an event without a sequencer never replaces one with"
    );
    let same = at("0062A1B2C3D4E5F621").deleted();
    assert_eq!(catalogue.file(&same).await?, Filed::AlreadyFiled { announced: true });
    assert_eq!(catalogue.record(key).await?, stored);
    let newest = at("0062A1B2C3D4E5F62100").deleted(); // equal once padded: the same event
    assert_eq!(catalogue.file(&newest).await?, Filed::AlreadyFiled { announced: true });
    let newest = at("0062A1B2C3D4E5F622").deleted();
    assert_eq!(catalogue.file(&newest).await?, Filed::Fresh);
    assert_eq!(catalogue.record(key).await?["status"], "deleted");
    Ok(())
}

#[tokio::test]
async fn a_delete_then_a_late_create_leaves_the_photo_deleted_and_its_thumbnails_gone() -> Result<()> {
    let catalogue = Catalogue::new().await?;
    let deps = catalogue.deps(&[], None)?;
    let key = "uploads/alice/sunset.png";
    let etag = catalogue.upload(key, photo(500, 500, ImageFormat::Png)).await?;
    let create = catalogue.created(key, &etag, Some("0062A1B2C3D4E5F630"));
    assert_eq!(catalogue.run(&deps, create.clone()).await?.outcome, Outcome::Written);
    catalogue.messages().await?;

    // When the photo is deleted,
    catalogue.delete(key).await?;
    let delete = catalogue.removed(key, Some("0062A1B2C3D4E5F631"));
    let result = catalogue.run(&deps, delete.clone()).await?;

    // its thumbnails go, its record says so, and the deletion is announced with them;
    assert_eq!(result.outcome, Outcome::Deleted, "{result:?}");
    let thumbnails =
        ["thumbnails/uploads/alice/sunset.png-64x64.jpg", "thumbnails/uploads/alice/sunset.png-256x256.jpg"];
    assert_eq!(result.keys, thumbnails);
    assert!(catalogue.keys("thumbnails/uploads/alice/sunset").await?.is_empty());
    let record = catalogue.record(key).await?;
    assert_eq!(record["status"], "deleted");
    assert_eq!(record["sequencer"], padded("0062A1B2C3D4E5F631"));
    assert!(record.get("thumbnails").is_none() && record.get("etag").is_none(), "{record}");
    let messages = catalogue.messages().await?;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].0["event"], "photo.deleted");
    assert_eq!(messages[0].1["thumbnails_removed"], serde_json::json!(thumbnails));

    // and the create event delivered again late, or the delete again, change nothing.
    assert_eq!(catalogue.run(&deps, create).await?.outcome, Outcome::Skipped);
    let again = catalogue.run(&deps, delete).await?;
    assert_eq!(
        (again.outcome, again.detail.as_str()),
        (Outcome::Deleted, "already recorded and announced (a repeated event)")
    );
    assert_eq!(catalogue.record(key).await?, record);
    assert!(catalogue.keys("thumbnails/uploads/alice/sunset").await?.is_empty());
    assert!(catalogue.messages().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_announcement_that_failed_is_made_on_the_retry_and_only_once() -> Result<()> {
    // Events without a sequencer (hand-made, or an emulator's) are ordered by the record's
    // version instead.
    let catalogue = Catalogue::new().await?;
    let missing_topic = format!("arn:aws:sns:us-east-1:123456789012:{}-missing", catalogue.bucket);
    let broken = catalogue.deps(&[], Some(&missing_topic))?;
    let key = "uploads/carol/lake.jpg";
    let etag = catalogue.upload(key, photo(640, 480, ImageFormat::Jpeg)).await?;
    let event = catalogue.created(key, &etag, None);

    // When the topic cannot be published to, the record is filed but the invocation fails
    // (so that Lambda retries it), with a reason that names the topic and the setting;
    let failed = handle(&broken, LambdaEvent::new(event.clone(), Context::default())).await.expect_err("a retry");
    let reason = failed.to_string();
    assert!(reason.contains(&missing_topic) && reason.contains("PHOTOS_TOPIC_ARN"), "{reason}");
    let record = catalogue.record(key).await?;
    assert_eq!((record["status"].as_str(), record.get("announced")), (Some("ready"), None));

    // once it is fixed, the retry announces it, once, and a further repeat does nothing.
    let fixed = catalogue.deps(&[], None)?;
    let retried = catalogue.run(&fixed, event.clone()).await?;
    assert_eq!((retried.outcome, retried.detail.as_str()), (Outcome::Written, "recorded and announced"), "{retried:?}");
    assert_eq!(catalogue.messages().await?.len(), 1);
    assert_eq!(catalogue.record(key).await?["announced"], true);
    assert_eq!(catalogue.run(&fixed, event).await?.outcome, Outcome::UpToDate);
    assert!(catalogue.messages().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn the_same_photo_uploaded_again_is_filed_as_the_newer_upload() -> Result<()> {
    // Found by the soak: a new upload of the very same bytes (same ETag, a newer sequencer)
    // found its thumbnails written and the record ready, and left the record at the older
    // event, which an older event still in flight could then win.
    let catalogue = Catalogue::new().await?;
    let deps = catalogue.deps(&[], None)?;
    let key = "uploads/dave/pier.jpg";
    let bytes = photo(500, 400, ImageFormat::Jpeg);
    let etag = catalogue.upload(key, bytes.clone()).await?;
    let first = catalogue.created(key, &etag, Some("0062A1B2C3D4E5F640"));
    assert_eq!(catalogue.run(&deps, first.clone()).await?.outcome, Outcome::Written);
    assert_eq!(catalogue.messages().await?.len(), 1);

    assert_eq!(catalogue.upload(key, bytes).await?, etag, "the same bytes, the same ETag");
    let again = catalogue.run(&deps, catalogue.created(key, &etag, Some("0062A1B2C3D4E5F641"))).await?;

    assert_eq!((again.outcome, again.detail.as_str()), (Outcome::Written, "recorded and announced"), "{again:?}");
    assert_eq!(catalogue.record(key).await?["sequencer"], padded("0062A1B2C3D4E5F641"));
    let messages = catalogue.messages().await?;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].1["sequencer"], padded("0062A1B2C3D4E5F641"));
    // The first upload's event, delivered again now, changes nothing.
    assert_eq!(catalogue.run(&deps, first).await?.outcome, Outcome::UpToDate);
    assert_eq!(catalogue.record(key).await?["sequencer"], padded("0062A1B2C3D4E5F641"));
    assert!(catalogue.messages().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn cover_thumbnails_fill_their_boxes_around_the_subject_and_the_record_says_what_each_shows() -> Result<()> {
    // Given thumbnails that fill square boxes, cropped by attention,
    let catalogue = Catalogue::new().await?;
    let deps = catalogue.deps(&[("THUMBNAIL_FIT", "cover"), ("CROP", "attention")], None)?;
    // and a landscape photo whose subject is near its right edge,
    let key = "uploads/alice/portrait.jpg";
    let etag = catalogue.upload(key, off_centre_face_jpeg()).await?;

    // when it is processed,
    let result = catalogue.run(&deps, catalogue.created(key, &etag, Some("0062A1B2C3D4E5F601"))).await?;
    assert_eq!(result.outcome, Outcome::Written, "{result:?}");

    // then each thumbnail is exactly its box, the subject in it,
    let record = catalogue.record(key).await?;
    let thumbnails = record["thumbnails"].as_array().context("thumbnails")?;
    assert_eq!(thumbnails.len(), 2);
    for (thumbnail, side) in thumbnails.iter().zip([64u32, 256]) {
        let object_key = thumbnail["key"].as_str().context("a key")?;
        let object = catalogue.account.aws.s3().get_object().bucket(&catalogue.bucket).key(object_key).send().await?;
        let image = image::load_from_memory(&object.body.collect().await?.into_bytes())?.to_rgb8();
        assert_eq!(image.dimensions(), (side, side), "{object_key}");
        let skin = image.pixels().filter(|p| p.0.iter().zip(SKIN).all(|(a, b)| a.abs_diff(b) < 24)).count();
        // The disc is 1/6 of the crop's width across: about 8.7% of the thumbnail's pixels.
        let share = skin as f64 / f64::from(side * side);
        assert!(share > 0.06, "{object_key}: {share:.3} of the pixels are the subject's");
        // and the record says which part of the photo it shows, in the photo's pixels.
        assert_eq!(
            (thumbnail["width"].as_u64(), thumbnail["height"].as_u64(), &thumbnail["crop"]),
            (
                Some(u64::from(side)),
                Some(u64::from(side)),
                &serde_json::json!({"left": 600, "top": 0, "width": 600, "height": 600})
            ),
            "{thumbnail}"
        );
    }
    Ok(())
}

/// A photo of `hue` (a colour wheel turned by `hue`), `width` x `height`, as JPEG.
fn picture(width: u32, height: u32, turn: f64) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (f64::from(x) / f64::from(width), f64::from(y) / f64::from(height));
        let v = |phase: f64| (127.0 + 120.0 * ((fx * 5.0 + turn + phase).sin() * (fy * 3.0 - turn).cos())) as u8;
        image::Rgb([v(0.0), v(2.1), v(4.2)])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut bytes, ImageFormat::Jpeg).expect("encodes");
    bytes.into_inner()
}

#[tokio::test]
async fn a_resized_re_upload_is_filed_as_a_duplicate_of_the_owners_earlier_photo_only() -> Result<()> {
    // Given alice's photo, filed and announced,
    let catalogue = Catalogue::new().await?;
    let deps = catalogue.deps(&[("PHOTOS_OWNER_DEPTH", "2")], None)?;
    let original = "uploads/alice/beach.jpg";
    let etag = catalogue.upload(original, picture(1600, 1200, 0.0)).await?;
    catalogue.run(&deps, catalogue.created(original, &etag, Some("0062A1B2C3D4E5F601"))).await?;
    let first = catalogue.record(original).await?;
    assert!(first["phash"].as_str().is_some_and(|h| h.len() == 16), "{first}");
    assert_eq!(first.get("duplicate_of"), None);

    // when the same picture at half the size comes again under alice, a different picture
    // too, and the same picture under bob,
    let copy = "uploads/alice/beach-small.jpg";
    let etag = catalogue.upload(copy, picture(800, 600, 0.0)).await?;
    catalogue.run(&deps, catalogue.created(copy, &etag, Some("0062A1B2C3D4E5F602"))).await?;
    let other = "uploads/alice/mountain.jpg";
    let etag = catalogue.upload(other, picture(1600, 1200, 1.7)).await?;
    catalogue.run(&deps, catalogue.created(other, &etag, Some("0062A1B2C3D4E5F603"))).await?;
    let bobs = "uploads/bob/beach.jpg";
    let etag = catalogue.upload(bobs, picture(1600, 1200, 0.0)).await?;
    catalogue.run(&deps, catalogue.created(bobs, &etag, Some("0062A1B2C3D4E5F604"))).await?;

    // then only alice's copy names her original, with the distance between their hashes,
    let copied = catalogue.record(copy).await?;
    assert_eq!(copied["duplicate_of"], original, "{copied}");
    assert!(copied["duplicate_distance"].as_u64().is_some_and(|d| d <= 10), "{copied}");
    assert_eq!(catalogue.record(other).await?.get("duplicate_of"), None);
    assert_eq!(catalogue.record(bobs).await?.get("duplicate_of"), None);
    // and its announcement carries it as an attribute to filter on.
    let messages = catalogue.messages().await?;
    let marked: Vec<(&str, &Value)> = messages
        .iter()
        .map(|(attributes, body)| (body["key"].as_str().unwrap_or_default(), &attributes["duplicate_of"]))
        .collect();
    assert_eq!(
        marked,
        [(original, &Value::Null), (copy, &Value::from(original)), (other, &Value::Null), (bobs, &Value::Null)]
    );
    assert_eq!(messages[1].1["duplicate_of"], original);

    // When the original is deleted, its copy stays filed as it was, and a new copy finds
    // no deleted photo: the earlier copy, still there, is the one it repeats.
    catalogue.delete(original).await?;
    catalogue.run(&deps, catalogue.removed(original, Some("0062A1B2C3D4E5F605"))).await?;
    let again = "uploads/alice/beach-again.jpg";
    let etag = catalogue.upload(again, picture(1200, 900, 0.0)).await?;
    catalogue.run(&deps, catalogue.created(again, &etag, Some("0062A1B2C3D4E5F606"))).await?;
    assert_eq!(catalogue.record(again).await?["duplicate_of"], copy);
    // Once both are deleted too, nothing is left to repeat.
    for (key, sequencer) in [(copy, "0062A1B2C3D4E5F607"), (again, "0062A1B2C3D4E5F608")] {
        catalogue.delete(key).await?;
        catalogue.run(&deps, catalogue.removed(key, Some(sequencer))).await?;
    }
    let last = "uploads/alice/beach-last.jpg";
    let etag = catalogue.upload(last, picture(1200, 900, 0.0)).await?;
    catalogue.run(&deps, catalogue.created(last, &etag, Some("0062A1B2C3D4E5F609"))).await?;
    assert_eq!(catalogue.record(last).await?.get("duplicate_of"), None);
    Ok(())
}
