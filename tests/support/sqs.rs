//! Just enough of SQS (its JSON protocol, over HTTP) for the soak to play Lambda's SQS
//! poller and S3's notifications against the emulator's real queues, visibility timeouts
//! and redrive to a dead-letter queue.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Queue {
    http: reqwest::Client,
    endpoint: String,
    pub url: String,
    pub arn: String,
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u32,
}

/// One SQS call. A 5xx is tried again (up to 5 times), as Lambda's poller does: the
/// emulator's threaded SQS answers 500 now and then under concurrent receives.
async fn call(http: &reqwest::Client, endpoint: &str, action: &str, input: Value) -> Result<Value> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let response = http
            .post(endpoint)
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(serde_json::to_vec(&input)?)
            .send()
            .await
            .with_context(|| format!("SQS {action}"))?;
        let status = response.status();
        let body = response.bytes().await?;
        if status.is_server_error() && attempt < 5 {
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            continue;
        }
        if !status.is_success() {
            bail!("SQS {action} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        return if body.is_empty() { Ok(Value::Null) } else { Ok(serde_json::from_slice(&body)?) };
    }
}

impl Queue {
    /// A queue whose messages go to `dead_letter` after `max_receive_count` receives.
    pub async fn create(endpoint: &str, name: &str, dead_letter: Option<(&Queue, u32)>) -> Result<Self> {
        Self::create_with(reqwest::Client::new(), endpoint, name, dead_letter).await
    }

    /// A queue in the emulator's account `account_id` (not its default one), for a topic there to deliver to.
    pub async fn create_in_account(endpoint: &str, name: &str, account_id: &str) -> Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-moto-account-id", account_id.parse()?);
        let http = reqwest::Client::builder().default_headers(headers).build()?;
        Self::create_with(http, endpoint, name, None).await
    }

    async fn create_with(
        http: reqwest::Client,
        endpoint: &str,
        name: &str,
        dead_letter: Option<(&Queue, u32)>,
    ) -> Result<Self> {
        let mut attributes = json!({});
        if let Some((dlq, max_receive_count)) = dead_letter {
            attributes["RedrivePolicy"] =
                json!({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": max_receive_count}).to_string().into();
        }
        let created =
            call(&http, endpoint, "CreateQueue", json!({"QueueName": name, "Attributes": attributes})).await?;
        let url = created["QueueUrl"].as_str().context("a QueueUrl")?.to_owned();
        let attributes =
            call(&http, endpoint, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}))
                .await?;
        let arn = attributes["Attributes"]["QueueArn"].as_str().context("a QueueArn")?.to_owned();
        Ok(Self { http, endpoint: endpoint.to_owned(), url, arn })
    }

    pub async fn send(&self, body: &str) -> Result<()> {
        call(&self.http, &self.endpoint, "SendMessage", json!({"QueueUrl": self.url, "MessageBody": body})).await?;
        Ok(())
    }

    /// Up to `max` messages, hidden from other receivers for `visibility`.
    pub async fn receive(&self, max: u32, visibility: Duration, wait_seconds: u32) -> Result<Vec<Received>> {
        let answer = call(
            &self.http,
            &self.endpoint,
            "ReceiveMessage",
            json!({
                "QueueUrl": self.url, "MaxNumberOfMessages": max, "WaitTimeSeconds": wait_seconds,
                "VisibilityTimeout": visibility.as_secs(), "MessageSystemAttributeNames": ["All"], "AttributeNames": ["All"]
            }),
        )
        .await?;
        let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
        Ok(messages
            .iter()
            .map(|m| Received {
                id: m["MessageId"].as_str().unwrap_or_default().to_owned(),
                receipt_handle: m["ReceiptHandle"].as_str().unwrap_or_default().to_owned(),
                body: m["Body"].as_str().unwrap_or_default().to_owned(),
                receive_count: m["Attributes"]["ApproximateReceiveCount"]
                    .as_str()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    /// Deletes the messages; a receipt handle gone stale (the message became visible again
    /// and was received anew) leaves it to be delivered again, as on AWS, and is counted.
    pub async fn delete(&self, messages: &[&Received]) -> Result<usize> {
        let mut stale = 0;
        for chunk in messages.chunks(10) {
            let entries: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(n, m)| json!({"Id": n.to_string(), "ReceiptHandle": m.receipt_handle}))
                .collect();
            let answer = call(
                &self.http,
                &self.endpoint,
                "DeleteMessageBatch",
                json!({"QueueUrl": self.url, "Entries": entries}),
            )
            .await?;
            for failed in answer["Failed"].as_array().into_iter().flatten() {
                if failed["Code"] != "ReceiptHandleIsInvalid" {
                    bail!("SQS DeleteMessageBatch failed for some: {}", answer["Failed"]);
                }
                stale += 1;
            }
        }
        Ok(stale)
    }

    /// Messages waiting plus messages received and not yet deleted.
    pub async fn outstanding(&self) -> Result<u64> {
        let answer = call(
            &self.http,
            &self.endpoint,
            "GetQueueAttributes",
            json!({"QueueUrl": self.url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
        )
        .await?;
        let count = |name: &str| answer["Attributes"][name].as_str().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        Ok(count("ApproximateNumberOfMessages") + count("ApproximateNumberOfMessagesNotVisible"))
    }
}

/// A received message as Lambda's SQS event source mapping puts it in an event.
pub fn lambda_record(message: &Received, queue_arn: &str) -> Value {
    json!({
        "messageId": message.id, "receiptHandle": message.receipt_handle, "body": message.body,
        "attributes": {"ApproximateReceiveCount": message.receive_count.to_string()},
        "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1"
    })
}

/// An SQS batch as Lambda's event source mapping delivers it: one message per upload,
/// each body an S3 notification (key URL-encoded, the object's real ETag).
pub fn sqs_batch(bucket: &str, uploads: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = uploads
        .iter()
        .enumerate()
        .map(|(n, (key, etag))| {
            let encoded = crate::s3_event_key(key);
            let body = json!({"Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventTime": "2026-11-22T09:15:02.123Z", "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                       "object": {"key": encoded, "eTag": etag, "sequencer": format!("0055AED6DCD9028{n:03X}")}}
            }]});
            json!({
                "messageId": format!("message-{n}"), "receiptHandle": format!("handle-{n}"),
                "body": body.to_string(), "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {}, "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:uploads", "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}
