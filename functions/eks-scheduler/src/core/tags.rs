//! The tags the scheduler reads and writes on clusters, and AWS's rules for them.
//!
//! The emulator accepts any tag; EKS does not. Every tag written is checked here first.

/// `eks-scheduler/saved/<nodegroup>` = `min/desired/max`: the size to restore.
pub const SAVED_TAG_PREFIX: &str = "eks-scheduler/saved/";
/// `eks-scheduler/start-size` = `min/desired/max`: the size for nodegroups with no saved size.
pub const START_SIZE_TAG: &str = "eks-scheduler/start-size";
/// `eks-scheduler/last-action` = `stop@2026-11-22T19:00:04Z`: what the scheduler last did, and when.
pub const LAST_ACTION_TAG: &str = "eks-scheduler/last-action";
/// EKS allows at most this many tags per resource.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;

const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

pub fn saved_tag_key(nodegroup: &str) -> String {
    format!("{SAVED_TAG_PREFIX}{nodegroup}")
}

/// Why EKS would refuse this tag, or `None` if it is valid: keys of 1 to 128 and values
/// of up to 256 characters from letters, digits, spaces and `_ . : / = + - @`, no `aws:` prefix.
pub fn tag_problem(key: &str, value: &str) -> Option<String> {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    let key_chars = key.chars().count();
    if key_chars == 0 || key_chars > MAX_KEY_CHARS {
        return Some(format!("tag key {key:?} must have 1 to {MAX_KEY_CHARS} characters"));
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Some(format!("tag {key}: value must have at most {MAX_VALUE_CHARS} characters"));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Some(format!("tag key {key:?}: the aws: prefix is reserved"));
    }
    if let Some(bad) = key.chars().find(|c| !allowed(*c)) {
        return Some(format!("tag key {key:?} has {bad:?}; allowed are letters, digits, spaces and _ . : / = + - @"));
    }
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Some(format!(
            "tag {key}: value {value:?} has {bad:?}; allowed are letters, digits, spaces and _ . : / = + - @"
        ));
    }
    None
}
