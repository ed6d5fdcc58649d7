//! The photo catalogue: thin async functions that file a photo's record in DynamoDB with a
//! conditional write (the ordering rule is `core::WriteRule`) and announce it on SNS.
//! Every failure here is retried for the record (a missing table, a denied call,
//! throttling): the conditional write makes the retry safe. The errors name the table or
//! topic, the step, the setting or permission to check, and whether the cause is transient.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;
use shared::error::{describe, is_transient};

use crate::core::duplicates::{BAND_INDEX, BandItem, Candidate, band_item_ids, band_items, band_keys, parse_phash};
use crate::core::{Announcement, PhotoRecord, PhotoStatus, StoredRecord, WriteRule};
use crate::error::{TableStep, ThumbnailerError};

/// What filing a record found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    /// Written: a change to announce.
    Fresh,
    /// This event's record is already there (a repeated or retried event): announce it
    /// only if that has not happened yet.
    AlreadyFiled { announced: bool },
    /// A newer event's record stands; this event changes nothing.
    Superseded,
}

/// Which stored record a write may go over, by the record's [`WriteRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    /// Filing: only an older record (or none).
    OlderRecord,
    /// Marking: only this record itself, not one a newer event wrote meanwhile.
    ThisRecord,
}

/// A DynamoDB condition with the names and values it uses.
#[derive(Debug)]
struct Condition {
    expression: &'static str,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Condition {
    fn of(record: &PhotoRecord, over: Over) -> Self {
        let (expression, name, value) = match (record.write_rule(), over) {
            (WriteRule::NewerThan(sequencer), Over::OlderRecord) => {
                ("attribute_not_exists(#sequencer) OR #sequencer < :value", "sequencer", sequencer)
            }
            (WriteRule::NewerThan(sequencer), Over::ThisRecord) => ("#sequencer = :value", "sequencer", sequencer),
            (WriteRule::Unsequenced { version }, Over::OlderRecord) => (
                "attribute_not_exists(#sequencer) AND (attribute_not_exists(#version) OR #version <> :value)",
                "version",
                version,
            ),
            (WriteRule::Unsequenced { version }, Over::ThisRecord) => {
                ("attribute_not_exists(#sequencer) AND #version = :value", "version", version)
            }
        };
        let mut names = HashMap::from([("#sequencer".to_owned(), "sequencer".to_owned())]);
        names.insert(format!("#{name}"), name.to_owned());
        Self { expression, names, values: HashMap::from([(":value".to_owned(), AttributeValue::S(value))]) }
    }
}

fn table_failed<E: ProvideErrorMetadata + std::error::Error + 'static>(
    table: &str,
    photo_id: &str,
    step: TableStep,
    err: &SdkError<E, HttpResponse>,
) -> ThumbnailerError {
    ThumbnailerError::Table {
        table: table.to_owned(),
        photo_id: photo_id.to_owned(),
        step,
        message: describe(err),
        transient: is_transient(err),
    }
}

/// A JSON value as DynamoDB stores it; `null` is left out (absent, not NULL).
fn attribute(value: &Value) -> Option<AttributeValue> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().filter_map(attribute).collect()),
        Value::Object(fields) => {
            AttributeValue::M(fields.iter().filter_map(|(k, v)| Some((k.clone(), attribute(v)?))).collect())
        }
    })
}

/// The record as an item.
pub fn item(record: &PhotoRecord) -> HashMap<String, AttributeValue> {
    match attribute(&serde_json::to_value(record).unwrap_or_default()) {
        Some(AttributeValue::M(fields)) => fields,
        _ => HashMap::new(),
    }
}

/// Writes the record if its rule allows; if not, reads what stands to tell a repeat of
/// this event from a newer one.
pub async fn file(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    record: &PhotoRecord,
) -> Result<Filed, ThumbnailerError> {
    let condition = Condition::of(record, Over::OlderRecord);
    let put = dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(item(record)))
        .condition_expression(condition.expression)
        .set_expression_attribute_names(Some(condition.names))
        .set_expression_attribute_values(Some(condition.values));
    match put.send().await {
        Ok(_) => Ok(Filed::Fresh),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
            let stored = stored(dynamodb, table, &record.photo_id).await?.unwrap_or_default();
            if record.is_same_write(stored.sequencer.as_deref(), stored.version.as_deref()) {
                Ok(Filed::AlreadyFiled { announced: stored.announced })
            } else {
                Ok(Filed::Superseded)
            }
        }
        Err(err) => Err(table_failed(table, &record.photo_id, TableStep::Writing, &err)),
    }
}

/// The stored record's deciding fields, read consistently (a write just refused must be seen).
pub async fn stored(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    photo_id: &str,
) -> Result<Option<StoredRecord>, ThumbnailerError> {
    let got = dynamodb
        .get_item()
        .table_name(table)
        .key("photo_id", AttributeValue::S(photo_id.to_owned()))
        .consistent_read(true)
        .projection_expression("#status, etag, #sequencer, #version, announced")
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#sequencer", "sequencer")
        .expression_attribute_names("#version", "version")
        .send()
        .await
        .map_err(|err| table_failed(table, photo_id, TableStep::Reading, &err))?;
    Ok(got.item().map(|item| {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        StoredRecord {
            status: text("status").as_deref().and_then(PhotoStatus::parse),
            etag: text("etag"),
            sequencer: text("sequencer"),
            version: text("version"),
            announced: item.get("announced").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        }
    }))
}

/// Notes that the record's announcement went out, unless a newer record replaced it
/// meanwhile (that one has its own announcement to make).
pub async fn mark_announced(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    record: &PhotoRecord,
) -> Result<(), ThumbnailerError> {
    let condition = Condition::of(record, Over::ThisRecord);
    let update = dynamodb
        .update_item()
        .table_name(table)
        .key("photo_id", AttributeValue::S(record.photo_id.clone()))
        .update_expression("SET announced = :yes")
        .condition_expression(condition.expression)
        .set_expression_attribute_names(Some(condition.names))
        .set_expression_attribute_values(Some(condition.values))
        .expression_attribute_values(":yes", AttributeValue::Bool(true));
    match update.send().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
        Err(err) => Err(table_failed(table, &record.photo_id, TableStep::MarkingAnnounced, &err)),
    }
}

/// Files a ready record's four hash bands, or removes a rejected or deleted photo's, each
/// under the record's own ordering rule: a band item a newer event wrote stays (its refusal
/// is no failure), so the bands always follow the newest record.
pub async fn index_bands(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    record: &PhotoRecord,
) -> Result<(), ThumbnailerError> {
    let items = band_items(record);
    let ids = band_item_ids(&record.photo_id);
    let writes = ids.iter().enumerate().map(|(band, id)| write_band(dynamodb, table, record, id, items.get(band)));
    futures_util::future::try_join_all(writes).await?;
    Ok(())
}

/// One band item written (`item`) or removed (`None`), if the record's rule allows.
async fn write_band(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    record: &PhotoRecord,
    id: &str,
    item: Option<&BandItem>,
) -> Result<(), ThumbnailerError> {
    let condition = Condition::of(record, Over::OlderRecord);
    let sent = match item {
        Some(item) => {
            let fields = match attribute(&serde_json::to_value(item).unwrap_or_default()) {
                Some(AttributeValue::M(fields)) => fields,
                _ => HashMap::new(),
            };
            let put = dynamodb.put_item().table_name(table).set_item(Some(fields));
            let put = put
                .condition_expression(condition.expression)
                .set_expression_attribute_names(Some(condition.names))
                .set_expression_attribute_values(Some(condition.values));
            unless_refused(put.send().await, PutItemError::is_conditional_check_failed_exception)
        }
        None => {
            let delete = dynamodb.delete_item().table_name(table).key("photo_id", AttributeValue::S(id.to_owned()));
            let delete = delete
                .condition_expression(condition.expression)
                .set_expression_attribute_names(Some(condition.names))
                .set_expression_attribute_values(Some(condition.values));
            unless_refused(delete.send().await, DeleteItemError::is_conditional_check_failed_exception)
        }
    };
    sent.map_err(|(message, transient)| ThumbnailerError::Table {
        table: table.to_owned(),
        photo_id: record.photo_id.clone(),
        step: TableStep::IndexingBands,
        message,
        transient,
    })
}

/// A conditional write's result, where a refusal by its condition is no failure: the error's
/// description and whether it is transient otherwise.
fn unless_refused<T, E: ProvideErrorMetadata + std::error::Error + 'static>(
    sent: Result<T, SdkError<E, HttpResponse>>,
    refused: fn(&E) -> bool,
) -> Result<(), (String, bool)> {
    match sent {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(refused) => Ok(()),
        Err(err) => Err((describe(&err), is_transient(&err))),
    }
}

/// The photos of `owner` that share a band with `hash`: one exact lookup per band in the
/// sparse index, at most 50 a band (a band shared by more is the same picture many times
/// over, and 50 of them find it).
pub async fn find_candidates(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    photo_id: &str,
    owner: &str,
    hash: u64,
) -> Result<Vec<Candidate>, ThumbnailerError> {
    let lookups = band_keys(owner, hash).into_iter().map(|band| {
        dynamodb
            .query()
            .table_name(table)
            .index_name(BAND_INDEX)
            .key_condition_expression("phash_band = :band")
            .expression_attribute_values(":band", AttributeValue::S(band))
            .limit(50)
            .send()
    });
    let pages = futures_util::future::join_all(lookups).await;
    let mut candidates: Vec<Candidate> = Vec::new();
    for page in pages {
        let page = page.map_err(|err| ThumbnailerError::DuplicateIndex {
            table: table.to_owned(),
            index: BAND_INDEX,
            photo_id: photo_id.to_owned(),
            message: describe(&err),
            transient: is_transient(&err),
        })?;
        for item in page.items() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            let (Some(photo), Some(key), Some(phash)) =
                (text("photo"), text("key"), text("phash").as_deref().and_then(parse_phash))
            else {
                continue;
            };
            if candidates.iter().all(|c| c.photo_id != photo) {
                candidates.push(Candidate { photo_id: photo, key, phash, duplicate_of: text("duplicate_of") });
            }
        }
    }
    Ok(candidates)
}

pub async fn announce(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    announcement: &Announcement,
) -> Result<(), ThumbnailerError> {
    use aws_sdk_sns::types::MessageAttributeValue;
    let failed = |message: String, transient: bool| ThumbnailerError::Topic {
        topic_arn: topic_arn.to_owned(),
        event: announcement.event.to_string(),
        message,
        transient,
    };
    let mut publish = sns.publish().topic_arn(topic_arn).message(&announcement.body);
    for (name, value) in &announcement.attributes {
        let value = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|err| failed(err.to_string(), false))?;
        publish = publish.message_attributes(*name, value);
    }
    publish.send().await.map_err(|err| failed(describe(&err), is_transient(&err)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_dynamodb_attributes_without_nulls() {
        let value =
            serde_json::json!({ "s": "x", "n": 1.5, "b": true, "none": null, "l": [1, null], "m": { "k": "v" } });
        let Some(AttributeValue::M(fields)) = attribute(&value) else { panic!("a map") };
        assert_eq!(fields.get("s"), Some(&AttributeValue::S("x".to_owned())));
        assert_eq!(fields.get("n"), Some(&AttributeValue::N("1.5".to_owned())));
        assert_eq!(fields.get("b"), Some(&AttributeValue::Bool(true)));
        assert!(!fields.contains_key("none"));
        assert_eq!(fields.get("l"), Some(&AttributeValue::L(vec![AttributeValue::N("1".to_owned())])));
        assert_eq!(
            fields.get("m"),
            Some(&AttributeValue::M([("k".to_owned(), AttributeValue::S("v".to_owned()))].into()))
        );
    }
}
