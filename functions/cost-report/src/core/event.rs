//! The payload: optional, any JSON object (an EventBridge envelope too).
//! `{"date": "YYYY-MM-DD"}` reports that day instead of the last complete one;
//! `{"resend": true}` reads Cost Explorer again and sends every channel again, even those
//! already delivered for that day.

use jiff::civil::Date;
use serde_json::Value;

/// What one invocation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request {
    /// A backfill of this day; `None` is the last complete UTC day.
    pub date: Option<Date>,
    /// Ignore the day's stored figures and delivery records.
    pub resend: bool,
}

pub fn parse_event(payload: &Value) -> Result<Request, String> {
    let object = match payload {
        Value::Null => return Ok(Request::default()),
        Value::Object(object) => object,
        _ => {
            return Err(
                r#"the payload must be a JSON object, e.g. {}, {"date": "2026-11-21"} or {"resend": true}"#.to_owned()
            );
        }
    };
    let detail = object.get("detail").and_then(Value::as_object);
    let field = |name: &str| object.get(name).or_else(|| detail.and_then(|d| d.get(name)));
    let date = match field("date") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            Some(text.parse::<Date>().map_err(|_| format!("date {text:?} is not a date YYYY-MM-DD"))?)
        }
        Some(other) => return Err(format!("date is {other}: expected a date string YYYY-MM-DD")),
    };
    let resend = match field("resend") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(resend)) => *resend,
        Some(other) => return Err(format!("resend is {other}: expected true or false")),
    };
    Ok(Request { date, resend })
}
