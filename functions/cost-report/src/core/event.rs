//! The payload: optional, any JSON object (an EventBridge envelope too);
//! `{"date": "YYYY-MM-DD"}` reports that day instead of yesterday.

use jiff::civil::Date;
use serde_json::Value;

pub fn parse_event(payload: &Value) -> Result<Option<Date>, String> {
    let object = match payload {
        Value::Null => return Ok(None),
        Value::Object(object) => object,
        _ => return Err(r#"the payload must be a JSON object, e.g. {} or {"date": "2026-11-21"}"#.to_owned()),
    };
    let detail = object.get("detail").and_then(Value::as_object);
    match object.get("date").or_else(|| detail.and_then(|d| d.get("date"))) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            text.parse::<Date>().map(Some).map_err(|_| format!("date {text:?} is not a date YYYY-MM-DD"))
        }
        Some(other) => Err(format!("date is {other}: expected a date string YYYY-MM-DD")),
    }
}
