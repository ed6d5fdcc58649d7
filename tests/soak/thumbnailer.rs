//! The thumbnailer's soak: uploads, replacements and deletes of real photos and hostile
//! files, announced on an SQS queue as S3 announces them (at least once, some twice, some
//! late), consumed by the packaged binary through a loop that behaves like Lambda's SQS
//! poller, with every S3 call of the function going through the fault proxy.
//!
//! The expected outcome of each file comes from a fault-free run of the same binary over
//! the same files: its thumbnails' bytes, or its rejection. Then every key must end as
//! exactly one of: its live version's thumbnails, byte for byte; its live version's
//! failure record; or its last event in the dead-letter queue, with the reason the
//! function gave. No thumbnail may outlive its source.
//!
//! The photo catalogue is on, its DynamoDB and SNS calls faulted too: every key whose
//! last event was processed must end with the record of that event (its sequencer, and the
//! status its live state says), announced, and a message for it must have arrived on the
//! topic's subscribed queue.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use image::ImageFormat;
use serde_json::{Value, json};

use crate::{Rng, Row, plan};
use support::fault_proxy::FaultProxy;
use support::images::{flat_png_16_bit, gif_with_screen, jpeg_with_a_bad_component_id, photo};
use support::lambda::{Limits, LocalLambda, Outcome, packaged_binary};
use support::photos::{create_table, json_of};
use support::sqs::{Queue, Received, lambda_record};
use support::{TestAccount, s3_event_key};

/// The template's memory size; timeout and visibility timeout scaled down from its 60 s
/// and 660 s so that a redelivery costs seconds, not minutes.
const MEMORY_MB: u32 = 512;
const TIMEOUT: Duration = Duration::from_secs(10);
const VISIBILITY: Duration = Duration::from_secs(10);
/// The template's `maxReceiveCount`.
const MAX_RECEIVE_COUNT: u32 = 5;
/// Lambda functions polling at once (Lambda scales pollers with the queue).
const POLLERS: usize = 2;
const SIZE: &str = "256x256";

/// What the fault-free run made of a file.
#[derive(Debug, Clone)]
enum Expected {
    Thumbnail { extension: String, bytes: Vec<u8> },
    Rejected,
}

/// The files uploads are drawn from: photos of several formats and sizes, and the
/// hostile files a real deployment meets.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut truncated = photo(900, 600, ImageFormat::Jpeg);
    truncated.truncate(truncated.len() / 3);
    vec![
        ("jpg", photo(640, 480, ImageFormat::Jpeg)),
        ("jpg", photo(1200, 800, ImageFormat::Jpeg)),
        ("jpg", photo(480, 720, ImageFormat::Jpeg)),
        ("jpg", photo(2000, 1333, ImageFormat::Jpeg)),
        ("png", photo(300, 500, ImageFormat::Png)),
        ("png", photo(800, 800, ImageFormat::Png)),
        ("webp", photo(800, 600, ImageFormat::WebP)),
        ("gif", photo(320, 240, ImageFormat::Gif)),
        ("jpg", truncated),
        ("jpg", jpeg_with_a_bad_component_id()),
        ("png", flat_png_16_bit(10_000, 10_000)),
        ("gif", gif_with_screen(60_000, 60_000)),
        ("jpg", b"not an image at all, though its name says so".to_vec()),
        ("png", Vec::new()),
    ]
}

/// The thumbnailer's environment, with its AWS calls sent to `endpoint`, and the photo
/// catalogue (table, topic) when given.
fn environment<'a>(endpoint: &'a str, catalogue: Option<&'a Catalogue>) -> Vec<(&'a str, &'a str)> {
    let mut environment =
        vec![("AWS_ENDPOINT_URL", endpoint), ("THUMBNAIL_SIZES", SIZE), ("DELETE_WITH_SOURCE", "true")];
    if let Some(catalogue) = catalogue {
        environment
            .extend([("PHOTOS_TABLE", catalogue.table.as_str()), ("PHOTOS_TOPIC_ARN", catalogue.topic.as_str())]);
    }
    environment
}

async fn start_function(endpoint: &str, catalogue: Option<&Catalogue>) -> LocalLambda {
    let limits = Limits { memory_mb: MEMORY_MB, cpu_share: false };
    LocalLambda::start(packaged_binary("thumbnailer"), limits, &environment(endpoint, catalogue)).await
}

/// The photos table and topic, and the queue an application would read the topic from.
struct Catalogue {
    table: String,
    topic: String,
    messages: Queue,
    dynamodb: aws_sdk_dynamodb::Client,
}

impl Catalogue {
    async fn create(moto: &str, account: &TestAccount, name: &str) -> Result<Self> {
        let dynamodb = shared::aws_client!(aws_sdk_dynamodb, &account.aws);
        let table = format!("{name}-photos");
        create_table(&dynamodb, &table).await?;
        let sns = shared::aws_client!(aws_sdk_sns, &account.aws);
        let topic = sns.create_topic().name(format!("{name}-photos")).send().await?.topic_arn.context("a topic")?;
        let messages = Queue::create(moto, &format!("{name}-photo-messages"), None).await?;
        sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&messages.arn).send().await?;
        Ok(Self { table, topic, messages, dynamodb })
    }

    /// Every record, by key; and every hash band item (`band:<n>:<photo_id>`), by key.
    async fn records(&self) -> Result<(HashMap<String, Value>, HashMap<String, Vec<Value>>)> {
        let (mut records, mut bands) = (HashMap::new(), HashMap::<String, Vec<Value>>::new());
        let mut pages = self.dynamodb.scan().table_name(&self.table).into_paginator().send();
        while let Some(page) = pages.next().await {
            for item in page?.items() {
                let record: Value = item.iter().map(|(k, v)| (k.clone(), json_of(v))).collect();
                let key = record["key"].as_str().unwrap_or_default().to_owned();
                if record["photo_id"].as_str().is_some_and(|id| id.starts_with("band:")) {
                    bands.entry(key).or_default().push(record);
                } else {
                    records.insert(key, record);
                }
            }
        }
        Ok((records, bands))
    }

    /// Every announcement received: (key, sequencer, event) and how many times.
    async fn announcements(&self) -> Result<HashMap<(String, String, String), usize>> {
        let mut seen = HashMap::new();
        loop {
            let received = self.messages.receive(10, Duration::from_secs(60), 0).await?;
            if received.is_empty() {
                return Ok(seen);
            }
            self.messages.delete(&received.iter().collect::<Vec<_>>()).await?;
            for message in received {
                let envelope: Value = serde_json::from_str(&message.body)?;
                let body: Value = serde_json::from_str(envelope["Message"].as_str().unwrap_or("{}"))?;
                let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
                *seen.entry((text("key"), text("sequencer"), text("event"))).or_default() += 1;
            }
        }
    }
}

/// A soak sequencer as the record stores it (right-padded to 32 digits).
fn stored_sequencer(sequencer: u64) -> String {
    thumbnailer::core::Sequencer::parse(&format!("{sequencer:016X}")).map(|s| s.padded()).unwrap_or_default()
}

fn s3_event(bucket: &str, key: &str, created: Option<(&str, usize)>, sequencer: u64) -> String {
    let (name, object) = match created {
        Some((etag, size)) => (
            "ObjectCreated:Put",
            json!({"key": s3_event_key(key), "size": size, "eTag": etag, "sequencer": format!("{sequencer:016X}")}),
        ),
        None => ("ObjectRemoved:Delete", json!({"key": s3_event_key(key), "sequencer": format!("{sequencer:016X}")})),
    };
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-22T09:15:02.123Z", "eventName": name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")}, "object": object}
    }]})
    .to_string()
}

/// The fault-free run: every corpus file once, straight to the emulator.
async fn expectations(moto: &str, corpus: &[(&str, Vec<u8>)]) -> Result<Vec<Expected>> {
    let account = TestAccount::default_account(moto).await;
    let s3 = account.aws.s3();
    let bucket = account.unique_bucket("soak-reference");
    s3.create_bucket().bucket(&bucket).send().await?;
    let mut records = Vec::new();
    for (n, (extension, bytes)) in corpus.iter().enumerate() {
        let key = format!("reference/{n}.{extension}");
        let put = s3.put_object().bucket(&bucket).key(&key).body(bytes.clone().into()).send().await?;
        let etag = put.e_tag().unwrap_or_default().trim_matches('"').to_owned();
        let body = s3_event(&bucket, &key, Some((&etag, bytes.len())), n as u64 + 1);
        let message = Received { id: format!("reference-{n}"), receipt_handle: String::new(), body, receive_count: 1 };
        records.push(lambda_record(&message, "arn:aws:sqs:us-east-1:123456789012:reference"));
    }
    let function = start_function(moto, None).await;
    let mut expected = Vec::new();
    for (n, record) in records.into_iter().enumerate() {
        let invoked = function.invoke(&json!({"Records": [record]}), Duration::from_secs(60)).await;
        let response = invoked.outcome.response(&function.log());
        let result = &response["results"][0];
        expected.push(match result["outcome"].as_str() {
            Some("written") => {
                let thumbnail = result["keys"][0].as_str().context("a thumbnail key")?;
                let extension = thumbnail.rsplit('.').next().unwrap_or_default().to_owned();
                let got = s3.get_object().bucket(&bucket).key(thumbnail).send().await?;
                Expected::Thumbnail { extension, bytes: got.body.collect().await?.into_bytes().to_vec() }
            }
            Some("rejected") => Expected::Rejected,
            other => bail!("the fault-free run gave corpus file {n} the outcome {other:?}: {result}"),
        });
    }
    Ok(expected)
}

/// The live state of a key, as the producer left it.
#[derive(Debug, Clone)]
enum Live {
    Version { file: usize, etag: String },
    Deleted,
}

/// The producer: uploads, replacements and deletes, each announced once, some twice, some late.
async fn produce(
    s3: aws_sdk_s3::Client,
    bucket: String,
    queue: Queue,
    corpus: Arc<Vec<(&'static str, Vec<u8>)>>,
    operations: usize,
    mut rng: Rng,
) -> Result<(BTreeMap<String, Live>, BTreeMap<String, u64>, usize)> {
    let mut live: BTreeMap<String, Live> = BTreeMap::new();
    let mut last_sequencer: BTreeMap<String, u64> = BTreeMap::new();
    let mut late: Vec<String> = Vec::new();
    let mut messages = 0;
    for n in 0..operations {
        let sequencer = n as u64 + 1;
        let existing: Vec<String> = live.keys().cloned().collect();
        let roll = rng.below(100);
        let (key, event) = if roll < 8 && !existing.is_empty() {
            let key = existing[rng.below(existing.len() as u64) as usize].clone();
            s3.delete_object().bucket(&bucket).key(&key).send().await?;
            live.insert(key.clone(), Live::Deleted);
            (key.clone(), s3_event(&bucket, &key, None, sequencer))
        } else {
            let file = rng.below(corpus.len() as u64) as usize;
            let (extension, bytes) = &corpus[file];
            let key = if roll < 20 && !existing.is_empty() {
                existing[rng.below(existing.len() as u64) as usize].clone()
            } else {
                // Some names need S3's event encoding (a space, a plus, non-ASCII).
                let name = ["photo", "holiday photo", "a+b", "café"][rng.below(4) as usize];
                format!("uploads/user{}/{name} {n}.{extension}", rng.below(20))
            };
            let put = s3.put_object().bucket(&bucket).key(&key).body(bytes.clone().into()).send().await?;
            let etag = put.e_tag().unwrap_or_default().trim_matches('"').to_owned();
            live.insert(key.clone(), Live::Version { file, etag: etag.clone() });
            (key.clone(), s3_event(&bucket, &key, Some((&etag, bytes.len())), sequencer))
        };
        last_sequencer.insert(key, sequencer);
        // At least once, out of order: a tenth twice, a tenth held back a few operations.
        match rng.below(10) {
            0 => {
                queue.send(&event).await?;
                late.push(event);
                messages += 1;
            }
            1 => late.push(event),
            _ => {
                queue.send(&event).await?;
                messages += 1;
            }
        }
        if late.len() > 3 || n + 1 == operations {
            for event in late.drain(..) {
                queue.send(&event).await?;
                messages += 1;
            }
        }
    }
    Ok((live, last_sequencer, messages))
}

#[derive(Debug, Default)]
struct PollerStats {
    invocations: usize,
    redeliveries: usize,
    failed_invocations: usize,
    /// Messages whose invocation outlasted the visibility timeout: received again before
    /// their delete, and so delivered again.
    stale_deletes: usize,
    /// The last reason the function gave for retrying each message.
    retry_reasons: HashMap<String, String>,
}

/// Lambda's SQS poller: batches of up to 10, batch item failures left to reappear after
/// the visibility timeout, nothing deleted after an error, a timeout or a crash.
async fn poll(
    function: LocalLambda,
    queue: Queue,
    producing: Arc<Mutex<bool>>,
    stats: Arc<Mutex<PollerStats>>,
) -> Result<()> {
    loop {
        let messages = queue.receive(10, VISIBILITY, 1).await?;
        if messages.is_empty() {
            let done = !*producing.lock().expect("flag");
            if done && queue.outstanding().await? == 0 {
                return Ok(());
            }
            continue;
        }
        let records: Vec<Value> = messages.iter().map(|m| lambda_record(m, &queue.arn)).collect();
        let invoked = function.invoke(&json!({ "Records": records }), TIMEOUT).await;
        let done = {
            let mut stats = stats.lock().expect("stats");
            stats.invocations += 1;
            stats.redeliveries += messages.iter().filter(|m| m.receive_count > 1).count();
            let finished: Vec<&Received> = match &invoked.outcome {
                Outcome::Response(response) => {
                    let failed: Vec<&str> = response["batchItemFailures"]
                        .as_array()
                        .map(|f| f.iter().filter_map(|i| i["itemIdentifier"].as_str()).collect())
                        .unwrap_or_default();
                    for result in response["results"].as_array().into_iter().flatten() {
                        if result["outcome"] == "retry" {
                            let key = result["key"].as_str().unwrap_or_default();
                            for message in messages.iter().filter(|m| failed.contains(&m.id.as_str())) {
                                if message.body.contains(&s3_event_key(key)) {
                                    stats.retry_reasons.insert(message.id.clone(), result["detail"].to_string());
                                }
                            }
                        }
                    }
                    messages.iter().filter(|m| !failed.contains(&m.id.as_str())).collect()
                }
                other => {
                    stats.failed_invocations += 1;
                    for message in &messages {
                        stats.retry_reasons.insert(message.id.clone(), format!("the invocation ended {other:?}"));
                    }
                    Vec::new()
                }
            };
            finished
        };
        let stale = queue.delete(&done).await?;
        stats.lock().expect("stats").stale_deletes += stale;
    }
}

pub async fn soak(moto: &str, seed: u64, rate: f64, operations: usize) -> Result<Row> {
    let corpus = Arc::new(corpus());
    let expected = expectations(moto, &corpus).await?;

    let account = TestAccount::default_account(moto).await;
    let s3 = account.aws.s3();
    // Named from the seed alone (the soak has the emulator to itself): a replay sends the same requests.
    let bucket = format!("soak-{seed}");
    s3.create_bucket().bucket(&bucket).send().await?;
    let dlq = Queue::create(moto, &format!("{bucket}-dlq"), None).await?;
    let queue = Queue::create(moto, &bucket, Some((&dlq, MAX_RECEIVE_COUNT))).await?;
    let catalogue = Catalogue::create(moto, &account, &bucket).await?;
    // Writes fail more often: enough to fail some records past the SDK's retries.
    let hot = [("s3", "PutObject"), ("s3", "DeleteObject"), ("dynamodb", "PutItem"), ("sns", "Publish")];
    let proxy = FaultProxy::start(moto, plan(seed, rate, &hot)).await;

    let producing = Arc::new(Mutex::new(true));
    let stats = Arc::new(Mutex::new(PollerStats::default()));
    let mut pollers = Vec::new();
    for _ in 0..POLLERS {
        let function = start_function(&proxy.url, Some(&catalogue)).await;
        pollers.push(tokio::spawn(poll(function, queue.clone(), producing.clone(), stats.clone())));
    }
    let produced = produce(s3.clone(), bucket.clone(), queue.clone(), corpus.clone(), operations, Rng::new(seed)).await;
    *producing.lock().expect("flag") = false;
    for poller in pollers {
        poller.await??;
    }
    let (live, last_sequencer, messages) = produced?;

    // The dead-letter queue: which keys' events ended there, and why.
    let stats = Arc::try_unwrap(stats).map_err(|_| anyhow::anyhow!("pollers still running"))?.into_inner()?;
    let mut dead: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    loop {
        let messages = dlq.receive(10, Duration::from_secs(60), 0).await?;
        if messages.is_empty() {
            break;
        }
        for message in &messages {
            let event: Value = serde_json::from_str(&message.body)?;
            let object = &event["Records"][0]["s3"]["object"];
            let sequencer = u64::from_str_radix(object["sequencer"].as_str().unwrap_or("0"), 16)?;
            let reason = stats.retry_reasons.get(&message.id).cloned().unwrap_or_else(|| "(no reason recorded)".into());
            let key = object["key"].as_str().unwrap_or_default().to_owned();
            dead.entry(key).or_default().push((sequencer, reason));
        }
    }

    let mut violations = check(&s3, &bucket, &live, &last_sequencer, &dead, &expected).await?;
    let announcements = catalogue.announcements().await?;
    let (records, bands) = catalogue.records().await?;
    violations.extend(check_bands(&records, &bands, &last_sequencer, &dead));
    violations.extend(check_catalogue(&records, &announcements, &live, &last_sequencer, &dead, &expected));
    let dead_letters: usize = dead.values().map(Vec::len).sum();
    let mut notes = vec![format!(
        "{operations} operations, {messages} messages, {} keys; {} invocations failed whole; {} messages outlived their visibility timeout and came again",
        live.len(),
        stats.failed_invocations,
        stats.stale_deletes
    )];
    let repeated: usize = announcements.values().map(|n| n - 1).sum();
    notes.push(format!(
        "{} announcements, {repeated} of them a repeat (at least once: a publish whose answer was lost and was sent again, or whose marking failed and was retried)",
        announcements.values().sum::<usize>()
    ));
    if dead_letters > 0 {
        let reasons: Vec<String> = dead.values().flatten().map(|(_, r)| r.clone()).take(3).collect();
        notes.push(format!("{dead_letters} in the dead-letter queue, e.g. {}", reasons.join("; ")));
    }
    Ok(Row::new("thumbnailer", &[&proxy], stats.invocations, stats.redeliveries, violations, notes))
}

/// The invariants, from what is in the bucket at the end.
async fn check(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    live: &BTreeMap<String, Live>,
    last_sequencer: &BTreeMap<String, u64>,
    dead: &HashMap<String, Vec<(u64, String)>>,
    expected: &[Expected],
) -> Result<Vec<String>> {
    let mut objects: HashMap<String, ()> = HashMap::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        for object in page?.contents() {
            objects.insert(object.key().unwrap_or_default().to_owned(), ());
        }
    }
    let mut violations = Vec::new();
    for (key, state) in live {
        let last_is_dead = dead
            .get(&s3_event_key(key))
            .is_some_and(|events| events.iter().any(|(sequencer, _)| Some(sequencer) == last_sequencer.get(key)));
        if last_is_dead {
            continue; // its outcome is the dead-letter queue, with the reason recorded
        }
        let thumbnails: Vec<String> = ["jpg", "png", "webp"]
            .iter()
            .map(|ext| format!("thumbnails/{key}-{SIZE}.{ext}"))
            .filter(|k| objects.contains_key(k))
            .collect();
        let record_key = format!("thumbnails/_failed/{key}.json");
        let record = if objects.contains_key(&record_key) { Some(read(s3, bucket, &record_key).await?) } else { None };
        let record_etag = record
            .as_ref()
            .and_then(|r| serde_json::from_slice::<Value>(r).ok())
            .and_then(|r| r["source_etag"].as_str().map(str::to_owned));
        match state {
            Live::Deleted => {
                if !thumbnails.is_empty() {
                    violations.push(format!("{key}: deleted, yet its thumbnails remain: {thumbnails:?}"));
                }
            }
            Live::Version { file, etag } => match &expected[*file] {
                Expected::Thumbnail { extension, bytes } => {
                    let wanted = format!("thumbnails/{key}-{SIZE}.{extension}");
                    if !thumbnails.contains(&wanted) {
                        violations.push(format!("{key}: a photo, with no thumbnail (found {thumbnails:?})"));
                    } else if read(s3, bucket, &wanted).await? != *bytes {
                        violations.push(format!("{key}: its thumbnail differs from the fault-free run's"));
                    } else {
                        let head = s3.head_object().bucket(bucket).key(&wanted).send().await?;
                        let made_from = head.metadata().and_then(|m| m.get("source-etag")).cloned();
                        if made_from.as_deref() != Some(etag.as_str()) {
                            violations
                                .push(format!("{key}: its thumbnail was made from {made_from:?}, not the live {etag}"));
                        }
                    }
                    if record_etag.as_deref() == Some(etag.as_str()) {
                        violations.push(format!("{key}: thumbnails and a failure record for the same version"));
                    }
                }
                Expected::Rejected => {
                    if record_etag.as_deref() != Some(etag.as_str()) {
                        violations.push(format!("{key}: rejected in the fault-free run, no failure record for {etag} (found {record_etag:?})"));
                    }
                    if !thumbnails.is_empty() {
                        violations
                            .push(format!("{key}: its live version is rejected, yet thumbnails exist: {thumbnails:?}"));
                    }
                }
            },
        }
    }
    // No thumbnail of a key the producer never wrote.
    for thumbnail in objects.keys().filter(|k| k.starts_with("thumbnails/") && !k.starts_with("thumbnails/_failed/")) {
        let source = thumbnail.trim_start_matches("thumbnails/").rsplit_once('-').map_or("", |(s, _)| s);
        if !live.contains_key(source) {
            violations.push(format!("{thumbnail}: a thumbnail of nothing the soak uploaded"));
        }
    }
    Ok(violations)
}

/// The catalogue's invariants: every key whose last event was processed has that event's
/// record, with the status its live state says, announced, and its announcement arrived.
/// The near-duplicate index follows the records: a ready photo has its four hash bands,
/// with its own hash and sequencer; any other photo has none. A key whose last event went to
/// the dead-letter queue is unfinished by definition (a redrive finishes it), as in
/// `check_catalogue`.
fn check_bands(
    records: &HashMap<String, Value>,
    bands: &HashMap<String, Vec<Value>>,
    last_sequencer: &BTreeMap<String, u64>,
    dead: &HashMap<String, Vec<(u64, String)>>,
) -> Vec<String> {
    let mut violations = Vec::new();
    for (key, record) in records {
        let dead_lettered = last_sequencer.get(key).is_some_and(|last| {
            dead.get(&s3_event_key(key)).is_some_and(|events| events.iter().any(|(sequencer, _)| sequencer == last))
        });
        if dead_lettered {
            continue;
        }
        let filed = bands.get(key).map_or(&[][..], Vec::as_slice);
        if record["status"] == "ready" {
            let matching = filed
                .iter()
                .filter(|band| band["phash"] == record["phash"] && band["sequencer"] == record["sequencer"])
                .count();
            if matching != 4 || filed.len() != 4 {
                violations.push(format!(
                    "{key}: ready, with {} hash band items of which {matching} carry its hash and sequencer",
                    filed.len()
                ));
            }
        } else if !filed.is_empty() {
            violations.push(format!("{key}: {} with {} hash band items left", record["status"], filed.len()));
        }
    }
    violations
}

fn check_catalogue(
    records: &HashMap<String, Value>,
    announcements: &HashMap<(String, String, String), usize>,
    live: &BTreeMap<String, Live>,
    last_sequencer: &BTreeMap<String, u64>,
    dead: &HashMap<String, Vec<(u64, String)>>,
    expected: &[Expected],
) -> Vec<String> {
    let mut violations = Vec::new();
    for (key, state) in live {
        let Some(last) = last_sequencer.get(key) else { continue };
        if dead.get(&s3_event_key(key)).is_some_and(|events| events.iter().any(|(sequencer, _)| sequencer == last)) {
            continue;
        }
        let Some(record) = records.get(key) else {
            violations.push(format!("{key}: no photo record"));
            continue;
        };
        let (wanted_status, wanted_etag) = match state {
            Live::Deleted => ("deleted", None),
            Live::Version { file, etag } => match &expected[*file] {
                Expected::Thumbnail { .. } => ("ready", Some(etag.as_str())),
                Expected::Rejected => ("rejected", Some(etag.as_str())),
            },
        };
        let sequencer = stored_sequencer(*last);
        let got = (record["status"].as_str(), record["sequencer"].as_str(), record["etag"].as_str());
        if got != (Some(wanted_status), Some(sequencer.as_str()), wanted_etag) {
            violations.push(format!(
                "{key}: its record is {got:?}, its last event says ({wanted_status}, {sequencer}, {wanted_etag:?})"
            ));
        }
        if record["announced"] != true {
            violations.push(format!("{key}: its record was never announced"));
        }
        let event = format!("photo.{wanted_status}");
        if !announcements.contains_key(&(key.clone(), sequencer.clone(), event.clone())) {
            violations.push(format!("{key}: no {event} message for its last event ({sequencer})"));
        }
    }
    violations
}

async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>> {
    let got = s3.get_object().bucket(bucket).key(key).send().await?;
    Ok(got.body.collect().await?.into_bytes().to_vec())
}
