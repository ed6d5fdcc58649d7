//! S3's `sequencer`: the order of the events for one object key. S3 delivers events at
//! least once and out of order; of two events for the same key, the one with the greater
//! sequencer happened later. Sequencers can differ in length: S3's rule is to right-pad the
//! shorter with zeros, then compare as strings (hexadecimal digits).
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>

use std::cmp::Ordering;
use std::fmt;

/// The widest sequencer accepted. S3's are 16 to 18 digits today; stored right-padded to
/// this width, any two compare as S3 says with a plain string comparison, which is what a
/// conditional write (a DynamoDB condition, say) can do.
pub const SEQUENCER_WIDTH: usize = 32;

/// A sequencer, its digits upper-cased.
#[derive(Debug, Clone, Eq)]
pub struct Sequencer(String);

impl Sequencer {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.len() > SEQUENCER_WIDTH || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "the event's sequencer {text:?} is not 1 to {SEQUENCER_WIDTH} hexadecimal digits, as S3 writes them"
            ));
        }
        Ok(Self(text.to_ascii_uppercase()))
    }

    /// Right-padded with zeros to [`SEQUENCER_WIDTH`]: stored so, sequencers compare as strings.
    pub fn padded(&self) -> String {
        format!("{:0<width$}", self.0, width = SEQUENCER_WIDTH)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Ord for Sequencer {
    fn cmp(&self, other: &Self) -> Ordering {
        self.padded().cmp(&other.padded())
    }
}

impl PartialOrd for Sequencer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equal when S3's rule says neither came first (`0A` and `0A00`).
impl PartialEq for Sequencer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl fmt::Display for Sequencer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
