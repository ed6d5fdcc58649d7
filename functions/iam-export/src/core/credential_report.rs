//! The IAM credential report: a CSV with one line per user plus `<root_account>`.
//! Columns are found by name, so AWS adding a column does not break the export.

use jiff::Timestamp;

use super::CoreError;

/// The user name the report gives the account's root user.
pub const ROOT_ACCOUNT_USER: &str = "<root_account>";

/// Values the report uses for "nothing here"; they become empty cells.
const SENTINELS: &[&str] = &["N/A", "no_information", "not_supported"];

/// One line of the credential report, sentinels already turned into `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CredentialRow {
    pub user: String,
    pub arn: String,
    pub user_creation_time: Option<Timestamp>,
    pub password_enabled: Option<bool>,
    pub password_last_used: Option<Timestamp>,
    pub password_last_changed: Option<Timestamp>,
    pub mfa_active: Option<bool>,
    pub access_keys: [AccessKeyUsage; 2],
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessKeyUsage {
    /// The key's id (never its secret): not in the report, read for the keys a finding names.
    pub id: Option<String>,
    pub active: bool,
    pub last_rotated: Option<Timestamp>,
    pub last_used: Option<Timestamp>,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
}

impl CredentialRow {
    pub fn is_root(&self) -> bool {
        self.user == ROOT_ACCOUNT_USER
    }
}

/// Parses the report's CSV text. A missing column or an unreadable value is an
/// error naming the line and column: a silently wrong audit file is worse than none.
pub fn parse_credential_report(text: &str) -> Result<Vec<CredentialRow>, CoreError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let headers =
        reader.headers().map_err(|err| CoreError::CredentialReport(format!("unreadable header line: {err}")))?.clone();
    let column = |name: &'static str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| CoreError::CredentialReport(format!("column {name} is missing from the header")))
    };
    let columns = Columns {
        user: column("user")?,
        arn: column("arn")?,
        user_creation_time: column("user_creation_time")?,
        password_enabled: column("password_enabled")?,
        password_last_used: column("password_last_used")?,
        password_last_changed: column("password_last_changed")?,
        mfa_active: column("mfa_active")?,
        keys: [key_columns(&column, 1)?, key_columns(&column, 2)?],
    };

    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|err| CoreError::CredentialReport(format!("line {line}: {err}")))?;
        // AWS quotes a user name with a comma (IAM names may hold `,`), so a line with
        // more or fewer fields than the header is damaged, not something to guess at.
        if record.len() != headers.len() {
            return Err(CoreError::CredentialReport(format!(
                "line {line}: has {} fields where the header has {}",
                record.len(),
                headers.len()
            )));
        }
        let cell = Cell { record: &record, headers: &headers, line };
        let key = |k: &KeyColumns| -> Result<AccessKeyUsage, CoreError> {
            Ok(AccessKeyUsage {
                id: None,
                active: cell.boolean(k.active)?.unwrap_or(false),
                last_rotated: cell.time(k.last_rotated)?,
                last_used: cell.time(k.last_used_date)?,
                last_used_service: cell.text(k.last_used_service),
                last_used_region: cell.text(k.last_used_region),
            })
        };
        rows.push(CredentialRow {
            user: record.get(columns.user).unwrap_or_default().to_owned(),
            arn: record.get(columns.arn).unwrap_or_default().to_owned(),
            user_creation_time: cell.time(columns.user_creation_time)?,
            password_enabled: cell.boolean(columns.password_enabled)?,
            password_last_used: cell.time(columns.password_last_used)?,
            password_last_changed: cell.time(columns.password_last_changed)?,
            mfa_active: cell.boolean(columns.mfa_active)?,
            access_keys: [key(&columns.keys[0])?, key(&columns.keys[1])?],
        });
    }
    Ok(rows)
}

/// The value of a report cell, or `None` for an empty cell or a sentinel.
pub(super) fn normalize_sentinel(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty() && !SENTINELS.contains(&value)).then_some(value)
}

struct Columns {
    user: usize,
    arn: usize,
    user_creation_time: usize,
    password_enabled: usize,
    password_last_used: usize,
    password_last_changed: usize,
    mfa_active: usize,
    keys: [KeyColumns; 2],
}

struct KeyColumns {
    active: usize,
    last_rotated: usize,
    last_used_date: usize,
    last_used_region: usize,
    last_used_service: usize,
}

fn key_columns(column: &impl Fn(&'static str) -> Result<usize, CoreError>, n: u8) -> Result<KeyColumns, CoreError> {
    // Column names are fixed strings in the report's documented format.
    let names: [&'static str; 5] = if n == 1 {
        [
            "access_key_1_active",
            "access_key_1_last_rotated",
            "access_key_1_last_used_date",
            "access_key_1_last_used_region",
            "access_key_1_last_used_service",
        ]
    } else {
        [
            "access_key_2_active",
            "access_key_2_last_rotated",
            "access_key_2_last_used_date",
            "access_key_2_last_used_region",
            "access_key_2_last_used_service",
        ]
    };
    Ok(KeyColumns {
        active: column(names[0])?,
        last_rotated: column(names[1])?,
        last_used_date: column(names[2])?,
        last_used_region: column(names[3])?,
        last_used_service: column(names[4])?,
    })
}

struct Cell<'a> {
    record: &'a csv::StringRecord,
    headers: &'a csv::StringRecord,
    line: usize,
}

impl Cell<'_> {
    fn text(&self, index: usize) -> Option<String> {
        self.record.get(index).and_then(normalize_sentinel).map(str::to_owned)
    }

    fn invalid(&self, index: usize, value: &str, expected: &str) -> CoreError {
        let name = self.headers.get(index).unwrap_or("?");
        CoreError::CredentialReport(format!("line {}, column {name}: {value:?} is not {expected}", self.line))
    }

    fn boolean(&self, index: usize) -> Result<Option<bool>, CoreError> {
        match self.text(index).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(self.invalid(index, other, "true or false")),
        }
    }

    fn time(&self, index: usize) -> Result<Option<Timestamp>, CoreError> {
        match self.text(index) {
            None => Ok(None),
            Some(value) => {
                value.parse::<Timestamp>().map(Some).map_err(|_| self.invalid(index, &value, "an ISO 8601 time"))
            }
        }
    }
}
