//! A catalogue record as the caller sees it: the facts the thumbnailer filed, under an id
//! relative to the caller's folder, and the keys the handler signs URLs for.

use serde_json::{Map, Value};

/// The record's fields a caller sees, as they are filed.
const SHOWN: &[&str] = &[
    "status",
    "reason",
    "size",
    "format",
    "width",
    "height",
    "orientation",
    "captured_at",
    "camera_make",
    "camera_model",
    "location",
    "colour_profile",
    "placeholder",
    "dominant_colour",
    "processed_at",
];

/// A thumbnail's fields a caller sees.
const THUMBNAIL_SHOWN: &[&str] = &["box", "width", "height", "bytes", "format", "content_type", "crop"];

/// One photo of the caller's, before its URLs are signed.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoView {
    /// The key below the caller's folder: what `GET /photos/{id}` takes.
    pub id: String,
    pub key: String,
    pub fields: Map<String, Value>,
    /// Each thumbnail's key and fields, smallest first as filed.
    pub thumbnails: Vec<(String, Map<String, Value>)>,
}

impl PhotoView {
    /// The view of a record, if it is one of the caller's (under `folder`) that has not been
    /// deleted.
    pub fn of(record: &Value, folder: &str) -> Option<Self> {
        let key = record.get("key")?.as_str()?;
        let id = key.strip_prefix(folder)?;
        if id.is_empty() || record.get("status").and_then(Value::as_str) == Some("deleted") {
            return None;
        }
        let pick = |from: &Value, names: &[&str]| -> Map<String, Value> {
            names.iter().filter_map(|name| Some(((*name).to_owned(), from.get(*name)?.clone()))).collect()
        };
        let thumbnails = record
            .get("thumbnails")
            .and_then(Value::as_array)
            .map(|thumbnails| {
                thumbnails
                    .iter()
                    .filter_map(|thumbnail| {
                        Some((thumbnail.get("key")?.as_str()?.to_owned(), pick(thumbnail, THUMBNAIL_SHOWN)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self { id: id.to_owned(), key: key.to_owned(), fields: pick(record, SHOWN), thumbnails })
    }

    /// The answer's JSON, given each thumbnail's URL (in order) and the original's.
    pub fn into_json(self, thumbnail_urls: Vec<String>, original_url: String) -> Value {
        let mut fields = self.fields;
        fields.insert("id".to_owned(), Value::from(self.id));
        let thumbnails = self
            .thumbnails
            .into_iter()
            .zip(thumbnail_urls)
            .map(|((_, mut thumbnail), url)| {
                thumbnail.insert("url".to_owned(), Value::from(url));
                Value::Object(thumbnail)
            })
            .collect();
        fields.insert("thumbnails".to_owned(), Value::Array(thumbnails));
        fields.insert("original_url".to_owned(), Value::from(original_url));
        Value::Object(fields)
    }
}

/// The owner the catalogue files a caller's photos under: `<bucket>/<folder>`.
pub fn owner_of_folder(bucket: &str, folder: &str) -> String {
    format!("{bucket}/{folder}")
}

/// The catalogue's key of a photo: `<bucket>/<key>`.
pub fn photo_record_id(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}
