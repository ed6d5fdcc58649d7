//! The invocation payload: `{"action": "stop" | "start" | "auto" | "report", "dry_run": false, "clusters": [...]}`.

use serde_json::Value;

use super::Action;

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedAction {
    Stop,
    Start,
    /// Each cluster's own schedule tag decides.
    Auto,
    /// Changes nothing: the coverage report and the calendar.
    Report,
}

impl RequestedAction {
    pub fn fixed(self) -> Option<Action> {
        match self {
            Self::Stop => Some(Action::Stop),
            Self::Start => Some(Action::Start),
            Self::Auto | Self::Report => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: RequestedAction,
    pub dry_run: bool,
    /// Named clusters: exactly those, whatever their opt-in tags. `None`: chosen by tags.
    pub clusters: Option<Vec<String>>,
}

const FIELDS: &str =
    r#"action ("stop", "start", "auto" or "report"), dry_run (true or false), clusters (a list of cluster names)"#;

pub fn parse_event(payload: &Value) -> Result<Request, String> {
    let Value::Object(object) = payload else {
        return Err(format!("the payload must be a JSON object with the fields {FIELDS}"));
    };
    if let Some(unknown) = object.keys().find(|k| !matches!(k.as_str(), "action" | "dry_run" | "clusters")) {
        return Err(format!("unknown field {unknown:?}; the fields are {FIELDS}"));
    }
    let action = match object.get("action") {
        Some(Value::String(action)) => match action.as_str() {
            "stop" => RequestedAction::Stop,
            "start" => RequestedAction::Start,
            "auto" => RequestedAction::Auto,
            "report" => RequestedAction::Report,
            other => {
                return Err(format!(
                    r#"unknown action {other:?}; the actions are "stop", "start", "auto" and "report""#
                ));
            }
        },
        None => return Err(r#"the field action is missing: give "stop", "start", "auto" or "report""#.to_owned()),
        Some(other) => return Err(format!(r#"action is {other}: expected "stop", "start", "auto" or "report""#)),
    };
    let dry_run = match object.get("dry_run") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => return Err(format!("dry_run is {other}: expected true or false")),
    };
    let clusters = match object.get("clusters") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let names: Option<Vec<String>> = items
                .iter()
                .map(|item| item.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
                .collect();
            let mut names = names.ok_or_else(|| {
                format!("clusters is {}: expected a list of cluster names", Value::Array(items.clone()))
            })?;
            if names.is_empty() {
                return Err(
                    "clusters is empty: name at least one cluster, or leave the field out to choose by tags".to_owned()
                );
            }
            names.sort();
            names.dedup();
            Some(names)
        }
        Some(other) => return Err(format!("clusters is {other}: expected a list of cluster names")),
    };
    Ok(Request { action, dry_run, clusters })
}
