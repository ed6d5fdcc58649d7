//! The photo catalogue's AWS side for tests and the soak: its table (as the template
//! creates it), items read back as JSON, S3 events with sequencers, and a photo with a
//! real camera's EXIF.

use anyhow::{Context as _, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use serde_json::{Value, json};

/// What the photos API runs against, in `account`: the uploads bucket `bucket`, the catalogue's
/// table beside it, and a user pool of the emulator's Cognito.
#[derive(Debug)]
pub struct PhotoApp {
    pub bucket: String,
    pub table: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub pool: super::cognito::UserPool,
}

impl PhotoApp {
    pub async fn create(account: &super::TestAccount, moto: &str, bucket: String) -> Result<Self> {
        let table = format!("{bucket}-photos");
        account.aws.s3().create_bucket().bucket(&bucket).send().await?;
        let dynamodb = shared::aws_client!(aws_sdk_dynamodb, &account.aws);
        create_table(&dynamodb, &table).await?;
        let pool = super::cognito::UserPool::create(moto, &bucket).await?;
        Ok(Self { bucket, table, dynamodb, pool })
    }

    /// The photos API's settings for this bucket and table, verifying the pool's tokens itself.
    pub fn api_settings(&self) -> Vec<(&'static str, String)> {
        self.pool.api_settings(&self.bucket, &self.table)
    }
}

/// The table the template creates: `photo_id` as the key, the `by-owner` index.
pub async fn create_table(dynamodb: &aws_sdk_dynamodb::Client, name: &str) -> Result<()> {
    let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let string =
        |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string("photo_id")?)
        .attribute_definitions(string("owner")?)
        .attribute_definitions(string("key")?)
        .attribute_definitions(string("phash_band")?)
        .key_schema(key("photo_id", KeyType::Hash)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-owner")
                .key_schema(key("owner", KeyType::Hash)?)
                .key_schema(key("key", KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()?,
        )
        // The near-duplicate lookup's, as the template makes it: sparse (only band items).
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-phash-band")
                .key_schema(key("phash_band", KeyType::Hash)?)
                .key_schema(key("photo_id", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .set_non_key_attributes(Some(
                            ["photo", "key", "phash", "duplicate_of"].map(str::to_owned).to_vec(),
                        ))
                        .build(),
                )
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("creating table {name}"))?;
    Ok(())
}

/// A stored attribute as JSON (numbers as JSON numbers): the photos API's own reading.
pub use photos_api::aws::json_of;

/// The photo's item as JSON, if there is one.
pub async fn item(dynamodb: &aws_sdk_dynamodb::Client, table: &str, photo_id: &str) -> Result<Option<Value>> {
    let got = dynamodb
        .get_item()
        .table_name(table)
        .key("photo_id", AttributeValue::S(photo_id.to_owned()))
        .consistent_read(true)
        .send()
        .await?;
    Ok(got.item().map(|item| item.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()))
}

/// An S3 notification for one object, as S3 sends it (`kind` like `ObjectCreated:Put`).
pub fn s3_event(bucket: &str, key: &str, kind: &str, etag: Option<&str>, sequencer: Option<&str>) -> Value {
    let mut object = json!({ "key": key });
    if let Some(etag) = etag {
        object["eTag"] = etag.into();
    }
    if let Some(sequencer) = sequencer {
        object["sequencer"] = sequencer.into();
    }
    json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T06:00:00.000Z", "eventName": kind,
        "s3": { "s3SchemaVersion": "1.0", "bucket": { "name": bucket, "arn": format!("arn:aws:s3:::{bucket}") }, "object": object }
    }]})
}

/// A JPEG with the EXIF block of a real phone's photo (capture time with its offset,
/// camera, GPS position): the thumbnailer's test data.
pub fn phone_photo(width: u32, height: u32) -> Vec<u8> {
    let tiff = std::fs::read(super::workspace_root().join("imaging/testdata/exif/nokia-8.3-5g.tiff"))
        .expect("the EXIF test data");
    let jpeg = super::images::photo(width, height, image::ImageFormat::Jpeg);
    imaging::test_support::jpeg_with_segment(&jpeg, 0xE1, &[b"Exif\0\0".as_slice(), &tiff].concat()).expect("a JPEG")
}

/// SQS batches of real photos for a benchmark: the JPEG paths on standard input, each put in a
/// new bucket under `uploads/`, `batches` batches of `size` records.
#[derive(Debug)]
pub struct BenchBatches {
    pub account: crate::TestAccount,
    pub bucket: String,
    pub batches: Vec<Value>,
    /// What the photos weigh, in MB.
    pub megabytes: f64,
}

impl BenchBatches {
    pub async fn from_stdin(bucket: &str, size: usize, batches: usize) -> Result<Self> {
        use std::io::BufRead as _;
        let jpegs: Vec<std::path::PathBuf> = std::io::stdin()
            .lock()
            .lines()
            .map_while(std::result::Result::ok)
            .filter(|line| line.trim().to_ascii_lowercase().ends_with(".jpg"))
            .take(size * batches)
            .map(|line| line.trim().into())
            .collect();
        anyhow::ensure!(
            jpegs.len() == size * batches,
            "need {} JPEG photos on standard input, got {}",
            size * batches,
            jpegs.len()
        );
        let account = crate::TestAccount::default_account(crate::Moto::shared().url()).await;
        let s3 = account.aws.s3();
        let bucket = account.unique_bucket(bucket);
        s3.create_bucket().bucket(&bucket).send().await?;
        let (mut made, mut megabytes) = (Vec::new(), 0.0);
        for (n, chunk) in jpegs.chunks(size).enumerate() {
            let mut records = Vec::new();
            for (i, path) in chunk.iter().enumerate() {
                let bytes = std::fs::read(path)?;
                megabytes += bytes.len() as f64 / 1e6;
                let key = format!("uploads/{n}-{i}.jpg");
                let put = s3.put_object().bucket(&bucket).key(&key).body(bytes.into()).send().await?;
                records.push((key, put.e_tag().context("an ETag")?.trim_matches('"').to_owned()));
            }
            let pairs: Vec<(&str, &str)> = records.iter().map(|(key, etag)| (key.as_str(), etag.as_str())).collect();
            made.push(crate::sqs::sqs_batch(&bucket, &pairs));
        }
        Ok(Self { account, bucket, batches: made, megabytes })
    }
}
