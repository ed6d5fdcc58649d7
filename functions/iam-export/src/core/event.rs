//! The invocation payload. Any JSON object is accepted, including an EventBridge
//! scheduled-event envelope; known fields (at the top level or inside `detail`)
//! override the configuration for this run.

use serde_json::Value;

use super::CoreError;
use super::identity_center::AssignmentReading;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    pub include_roles: bool,
    /// How Identity Center's assignments are read; `None`: whichever costs fewer requests.
    pub assignment_reading: Option<AssignmentReading>,
}

/// Known payload fields, with the form each takes.
const KNOWN_FIELDS: &[(&str, &str)] =
    &[("include_roles", "true or false"), ("identity_center_assignments", "\"by-account\" or \"by-principal\"")];

pub fn parse_event(payload: &Value, defaults: RunOptions) -> Result<RunOptions, CoreError> {
    let object = match payload {
        Value::Null => return Ok(defaults),
        Value::Object(object) => object,
        other => {
            return Err(CoreError::Event(format!(
                "the payload must be a JSON object (or empty), got {}; known fields: {}",
                kind_of(other),
                known_fields()
            )));
        }
    };
    let detail = object.get("detail").and_then(Value::as_object);
    let field = |name: &str| object.get(name).or_else(|| detail.and_then(|d| d.get(name)));

    let include_roles = match field("include_roles") {
        None | Some(Value::Null) => defaults.include_roles,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => {
            shared::config::parse_bool(text).ok_or_else(|| bad_field("include_roles", field("include_roles")))?
        }
        Some(_) => return Err(bad_field("include_roles", field("include_roles"))),
    };
    let assignment_reading = match field("identity_center_assignments") {
        None | Some(Value::Null) => defaults.assignment_reading,
        Some(Value::String(text)) => Some(
            AssignmentReading::parse(text)
                .ok_or_else(|| bad_field("identity_center_assignments", field("identity_center_assignments")))?,
        ),
        Some(_) => return Err(bad_field("identity_center_assignments", field("identity_center_assignments"))),
    };
    Ok(RunOptions { include_roles, assignment_reading })
}

fn bad_field(name: &str, value: Option<&Value>) -> CoreError {
    let expected = KNOWN_FIELDS.iter().find(|(known, _)| *known == name).map_or("?", |(_, form)| form);
    let shown = value.map_or_else(String::new, Value::to_string);
    CoreError::Event(format!("field {name} is {shown}: expected {expected}"))
}

fn known_fields() -> String {
    KNOWN_FIELDS.iter().map(|(name, form)| format!("{name} ({form})")).collect::<Vec<_>>().join(", ")
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
