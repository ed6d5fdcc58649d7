//! Posting to a Slack incoming webhook, with retries. The URL is a secret: it is never
//! logged, and errors are stripped of it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::SecretUrl;
use crate::error::CostReportError;

/// Attempts per message, the first included.
const MAX_ATTEMPTS: u32 = 4;
/// Waits between attempts after a 5xx or a network error: 1 s, 2 s, 4 s.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest `Retry-After` honoured; a longer one is a failure (the next run reports again).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct SlackWebhook {
    client: reqwest::Client,
    url: SecretUrl,
}

impl SlackWebhook {
    pub fn new(url: SecretUrl) -> Self {
        // No redirects: the URL was checked to be Slack's; an answer must not send the
        // report somewhere else.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { client, url }
    }

    /// Posts `payload`. A 429 waits for `Retry-After`; a 5xx or network error backs off;
    /// any other answer but 200 fails at once with what Slack said.
    pub async fn post(&self, payload: &Value, deadline: Instant) -> Result<(), CostReportError> {
        let body = payload.to_string();
        let mut backoff = FIRST_BACKOFF;
        let mut last_problem = String::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let response = self
                .client
                .post(self.url.expose())
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            let wait = match response {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map_or(backoff, Duration::from_secs);
                    last_problem =
                        format!("Slack answered 429 Too Many Requests (Retry-After {}s)", retry_after.as_secs());
                    if retry_after > MAX_RETRY_AFTER {
                        return Err(CostReportError::Slack { message: last_problem, transient: true });
                    }
                    retry_after
                }
                Ok(response) if response.status().is_server_error() => {
                    last_problem = format!("Slack answered {}", response.status());
                    backoff
                }
                Ok(response) => {
                    let status = response.status();
                    let said = response.text().await.unwrap_or_default();
                    let said: String = said.chars().take(200).collect();
                    return Err(CostReportError::Slack {
                        message: format!(
                            "Slack answered {status}: {said:?}; check that the webhook URL (SLACK_WEBHOOK_URL, or the secret SLACK_WEBHOOK_SECRET_ARN names) is a current incoming-webhook URL"
                        ),
                        transient: false,
                    });
                }
                Err(err) => {
                    last_problem = format!("posting to Slack failed: {}", err.without_url());
                    backoff
                }
            };
            if attempt == MAX_ATTEMPTS || Instant::now() + wait > deadline {
                break;
            }
            tokio::time::sleep(wait).await;
            backoff *= 2;
        }
        // Only throttling, 5xx and network errors are retried here: all transient.
        Err(CostReportError::Slack { message: format!("{last_problem}; gave up after retrying"), transient: true })
    }
}
