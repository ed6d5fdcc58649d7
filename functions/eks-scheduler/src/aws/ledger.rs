//! The savings ledger in S3 (`REPORT_BUCKET`, under `REPORT_PREFIX`):
//! - `_state/stopped/<account>/<region>/<cluster>.json`: a stopped cluster's `StopRecord`;
//! - `ledger/<account>/<yyyy-mm>.csv`: the month's lines, one per action, appended by a
//!   read and a conditional write (`If-Match` on the ETag read, `If-None-Match` for a new
//!   month), read again and merged when another run wrote in between;
//! - `ledger/<account>/<yyyy-mm>-summary.csv`: the month's totals per cluster;
//! - `coverage/<yyyy-mm-dd>.csv`: a `report` run's coverage report, and `calendar.ics` the
//!   planned stops and starts it writes beside it.

use aws_sdk_s3::primitives::ByteStream;
use shared::error::{code, describe, is_transient};

use crate::core::{self, LedgerLine, StopRecord};
use crate::error::EksSchedulerError;

/// How often a month's file is read and written again when another run changed it meanwhile.
const APPEND_ATTEMPTS: usize = 5;

#[derive(Debug, Clone)]
pub struct Ledger {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// Ends with `/` unless empty.
    pub prefix: String,
}

impl Ledger {
    fn failed<E>(
        &self,
        operation: &str,
        key: &str,
        err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> EksSchedulerError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let fix = if code(err) == Some("NoSuchBucket") {
            "; REPORT_BUCKET names no bucket: create it, or set the template's ExistingReportBucket"
        } else {
            ""
        };
        EksSchedulerError::Ledger {
            operation: operation.to_owned(),
            location: format!("s3://{}/{key}", self.bucket),
            message: format!("{}{fix}", describe(err)),
            transient: is_transient(err),
        }
    }

    pub fn record_key(&self, account: &str, region: &str, cluster: &str) -> String {
        format!("{}_state/stopped/{account}/{region}/{cluster}.json", self.prefix)
    }

    pub fn month_key(&self, account: &str, month: &str) -> String {
        format!("{}ledger/{account}/{month}.csv", self.prefix)
    }

    pub fn summary_key(&self, account: &str, month: &str) -> String {
        format!("{}ledger/{account}/{month}-summary.csv", self.prefix)
    }

    pub fn coverage_key(&self, date: &str) -> String {
        format!("{}coverage/{date}.csv", self.prefix)
    }

    pub fn calendar_key(&self) -> String {
        format!("{}calendar.ics", self.prefix)
    }

    /// `s3://<bucket>/<key>`.
    pub fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// A month's ledger lines; none when the month has no file.
    pub async fn month(&self, account: &str, month: &str) -> Result<Vec<LedgerLine>, EksSchedulerError> {
        let key = self.month_key(account, month);
        let Some((text, _)) = self.read(&key).await? else { return Ok(Vec::new()) };
        core::parse_ledger(&text).map_err(|message| self.unreadable(&key, &message))
    }

    fn unreadable(&self, key: &str, message: &str) -> EksSchedulerError {
        EksSchedulerError::Ledger {
            operation: "read the ledger".to_owned(),
            location: self.location(key),
            message: format!("{message}; move the file aside, and the next run starts the month again"),
            transient: false,
        }
    }

    /// Writes a report file (the coverage CSV, the calendar).
    pub async fn put(&self, key: &str, content_type: &str, body: String) -> Result<(), EksSchedulerError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| self.failed("PutObject", key, &err))
    }

    /// The object's text and ETag, or `None` when there is none.
    async fn read(&self, key: &str) -> Result<Option<(String, Option<String>)>, EksSchedulerError> {
        match self.s3.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => {
                let etag = output.e_tag().map(str::to_owned);
                let bytes = output.body.collect().await.map_err(|err| EksSchedulerError::Ledger {
                    operation: "GetObject".to_owned(),
                    location: format!("s3://{}/{key}", self.bucket),
                    message: err.to_string(),
                    transient: true,
                })?;
                Ok(Some((String::from_utf8_lossy(&bytes.into_bytes()).into_owned(), etag)))
            }
            Err(err) if code(&err) == Some("NoSuchKey") => Ok(None),
            Err(err) => Err(self.failed("GetObject", key, &err)),
        }
    }

    pub async fn stop_record(
        &self,
        account: &str,
        region: &str,
        cluster: &str,
    ) -> Result<Option<StopRecord>, EksSchedulerError> {
        let key = self.record_key(account, region, cluster);
        let Some((text, _)) = self.read(&key).await? else { return Ok(None) };
        // A record that cannot be read is replaced by the next stop's rather than failing every run.
        Ok(serde_json::from_str(&text).ok())
    }

    pub async fn put_stop_record(&self, record: &StopRecord, cluster: &str) -> Result<(), EksSchedulerError> {
        let key = self.record_key(&record.account, &record.region, cluster);
        let body = serde_json::to_vec_pretty(record).unwrap_or_default();
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| self.failed("PutObject", &key, &err))
    }

    pub async fn delete_stop_record(&self, record: &StopRecord, cluster: &str) -> Result<(), EksSchedulerError> {
        let key = self.record_key(&record.account, &record.region, cluster);
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| self.failed("DeleteObject", &key, &err))
    }

    /// Adds `lines` (one account's, one month's) to the month's file and rewrites its summary.
    /// Returns the month file's key.
    pub async fn append(&self, account: &str, month: &str, lines: &[LedgerLine]) -> Result<String, EksSchedulerError> {
        let key = self.month_key(account, month);
        let invalid = |message: String| self.unreadable(&key, &message);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let stored = self.read(&key).await?;
            let existing = match &stored {
                Some((text, _)) => core::parse_ledger(text).map_err(invalid)?,
                None => Vec::new(),
            };
            let text = core::append_ledger(&existing, lines).map_err(invalid)?;
            let all = core::parse_ledger(&text).map_err(invalid)?;
            let request = self
                .s3
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type("text/csv")
                .body(ByteStream::from(text.into_bytes()));
            let request = match &stored {
                Some((_, Some(etag))) => request.if_match(etag),
                Some((_, None)) => request,
                None => request.if_none_match("*"),
            };
            match request.send().await {
                Ok(_) => {
                    let summary_key = self.summary_key(account, month);
                    self.s3
                        .put_object()
                        .bucket(&self.bucket)
                        .key(&summary_key)
                        .content_type("text/csv")
                        .body(ByteStream::from(core::monthly_summary(&all).into_bytes()))
                        .send()
                        .await
                        .map_err(|err| self.failed("PutObject", &summary_key, &err))?;
                    return Ok(key);
                }
                // Another run wrote the month meanwhile: read it again and merge.
                Err(err)
                    if attempt < APPEND_ATTEMPTS
                        && matches!(code(&err), Some("PreconditionFailed" | "ConditionalRequestConflict")) => {}
                Err(err) => return Err(self.failed("PutObject", &key, &err)),
            }
        }
    }
}
