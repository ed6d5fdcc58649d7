//! The three triggers one binary accepts: an S3 notification (`Records[].s3`), an SQS
//! batch whose message bodies are S3 notifications, and an EventBridge "Object Created"
//! or "Object Deleted" event from S3. S3's `s3:TestEvent` (sent to a queue when
//! notifications are configured) is acknowledged with no work.

use serde_json::Value;

use super::keys::decode_s3_key;
use super::sequencer::Sequencer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    S3,
    Sqs,
    EventBridge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectAction {
    Created { size: Option<u64>, etag: Option<String> },
    Removed,
}

/// One object event, the key already decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub bucket: String,
    pub key: String,
    pub action: ObjectAction,
    /// S3's order of this key's events (absent from hand-made events).
    pub sequencer: Option<Sequencer>,
}

/// A unit of retry: an SQS message (with its id), or one S3 record or EventBridge event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The SQS message id, for `batchItemFailures`.
    pub id: Option<String>,
    /// The object events it carries (none for `s3:TestEvent`), or why it cannot be read.
    pub events: Result<Vec<ObjectEvent>, String>,
    /// The SQS message's `AWSTraceHeader` (the X-Ray trace of whoever sent it), if any.
    pub trace_header: Option<String>,
}

pub fn parse_payload(payload: &Value) -> Result<(Trigger, Vec<Item>), String> {
    if payload.get("source").and_then(Value::as_str) == Some("aws.s3") && payload.get("detail-type").is_some() {
        return Ok((
            Trigger::EventBridge,
            vec![Item { id: None, events: eventbridge_event(payload).map(|e| vec![e]), trace_header: None }],
        ));
    }
    let Some(records) = payload.get("Records").and_then(Value::as_array) else {
        return Err("not an S3, SQS or EventBridge event: expected Records[] or an aws.s3 EventBridge event".to_owned());
    };
    let first_source = records.first().and_then(|r| r.get("eventSource")).and_then(Value::as_str);
    match first_source {
        Some("aws:sqs") => {
            let items = records
                .iter()
                .map(|record| Item {
                    id: record.get("messageId").and_then(Value::as_str).map(str::to_owned),
                    events: sqs_body(record),
                    trace_header: record
                        .pointer("/attributes/AWSTraceHeader")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
                .collect();
            Ok((Trigger::Sqs, items))
        }
        Some("aws:s3") | None => {
            let items = records
                .iter()
                .map(|record| Item { id: None, events: s3_record(record).map(|e| vec![e]), trace_header: None })
                .collect();
            Ok((Trigger::S3, items))
        }
        Some(other) => Err(format!("records from {other:?} are not handled; expected aws:s3 or aws:sqs")),
    }
}

fn sqs_body(record: &Value) -> Result<Vec<ObjectEvent>, String> {
    let body = record.get("body").and_then(Value::as_str).ok_or("the SQS message has no body")?;
    let body: Value = serde_json::from_str(body).map_err(|err| format!("the SQS message body is not JSON: {err}"))?;
    if body.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    let records =
        body.get("Records").and_then(Value::as_array).ok_or("the SQS message body is not an S3 notification")?;
    records.iter().map(s3_record).collect()
}

fn s3_record(record: &Value) -> Result<ObjectEvent, String> {
    let name = record.get("eventName").and_then(Value::as_str).unwrap_or_default();
    let s3 = record.get("s3").ok_or("an S3 record without s3")?;
    let bucket = s3.pointer("/bucket/name").and_then(Value::as_str).ok_or("an S3 record without a bucket name")?;
    let object = s3.get("object").ok_or("an S3 record without an object")?;
    let raw_key = object.get("key").and_then(Value::as_str).ok_or("an S3 record without an object key")?;
    let key = decode_s3_key(raw_key)?;
    let action = if name.starts_with("ObjectRemoved") {
        ObjectAction::Removed
    } else if name.starts_with("ObjectCreated") {
        ObjectAction::Created {
            size: object.get("size").and_then(Value::as_u64),
            etag: object.get("eTag").and_then(Value::as_str).map(str::to_owned),
        }
    } else {
        return Err(format!("S3 event {name:?} is neither ObjectCreated nor ObjectRemoved"));
    };
    let sequencer = object.get("sequencer").and_then(Value::as_str).map(Sequencer::parse).transpose()?;
    Ok(ObjectEvent { bucket: bucket.to_owned(), key, action, sequencer })
}

/// EventBridge carries keys as they are, not URL-encoded.
fn eventbridge_event(event: &Value) -> Result<ObjectEvent, String> {
    let kind = event.get("detail-type").and_then(Value::as_str).unwrap_or_default();
    let detail = event.get("detail").ok_or("an EventBridge event without detail")?;
    let bucket =
        detail.pointer("/bucket/name").and_then(Value::as_str).ok_or("an EventBridge event without a bucket")?;
    let key =
        detail.pointer("/object/key").and_then(Value::as_str).ok_or("an EventBridge event without an object key")?;
    let action = match kind {
        "Object Created" => ObjectAction::Created {
            size: detail.pointer("/object/size").and_then(Value::as_u64),
            etag: detail.pointer("/object/etag").and_then(Value::as_str).map(str::to_owned),
        },
        "Object Deleted" => ObjectAction::Removed,
        other => return Err(format!("EventBridge event {other:?} is neither Object Created nor Object Deleted")),
    };
    let sequencer = detail.pointer("/object/sequencer").and_then(Value::as_str).map(Sequencer::parse).transpose()?;
    Ok(ObjectEvent { bucket: bucket.to_owned(), key: key.to_owned(), action, sequencer })
}
