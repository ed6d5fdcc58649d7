//! X-Ray traces from the packaged functions (the artifacts `make package` ships), run by the
//! local Lambda with a trace header per invocation and `AWS_XRAY_DAEMON_ADDRESS` pointing at a
//! UDP listener here, behind the fault proxy: the subsegments received must form one tree per
//! invocation under its trace and parent, with one `aws` subsegment per request the proxy saw,
//! the faulted one flagged; an unsampled invocation sends nothing; and a daemon that is not
//! there changes nothing in what the function does.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use serde_json::{Value, json};

use jiff::Timestamp;
use support::cost_seed::{ce_page, month_of_costs, queue_cost_results};
use support::eks_seed::seed;
use support::fault_proxy::{FaultKind, FaultPlan, FaultProxy};
use support::images::photo;
use support::lambda::{Limits, LocalLambda, Outcome, packaged_binary};
use support::photos::create_table;
use support::xray_daemon::{XrayDaemon, new_trace};
use support::{Moto, TestAccount, log_with_metrics};

const TIMEOUT: Duration = Duration::from_secs(120);
const PUT_OBJECT: Faulted<'static> = Faulted { service: "s3", request: "PutObject", operation: "PutObject" };

fn header(root: &str, parent: &str, sampled: bool) -> String {
    format!("Root={root};Parent={parent};Sampled={}", u8::from(sampled))
}

/// The documents are one tree under `parent` in `root`: each is a subsegment of the trace
/// whose parent is the invocation's segment or another of them.
fn check_one_tree(documents: &[Value], root: &str, parent: &str) -> Result<()> {
    let ids: HashSet<&str> = documents.iter().filter_map(|d| d["id"].as_str()).collect();
    ensure!(ids.len() == documents.len(), "every subsegment has its own id: {documents:#?}");
    for document in documents {
        ensure!(document["type"] == "subsegment" && document["trace_id"] == root, "not in the trace: {document}");
        let above = document["parent_id"].as_str().context("a parent")?;
        ensure!(above == parent || ids.contains(above), "a subsegment outside the tree: {document}");
        ensure!(document["end_time"].as_f64() >= document["start_time"].as_f64(), "{document}");
    }
    Ok(())
}

/// Every JSON log line and metrics document of the invocations names the trace of the
/// invocation it belongs to, `roots` in order: each metrics document one, and at least one
/// line of each invocation besides.
fn check_logs_name_the_trace(log: &str, roots: &[&str]) -> Result<()> {
    let documents = shared::metrics::documents_in(log);
    let named: Vec<&Value> = documents.iter().map(|d| &d[shared::logging::TRACE_FIELD]).collect();
    ensure!(
        named == roots.iter().map(|r| Value::from(*r)).collect::<Vec<_>>().iter().collect::<Vec<_>>(),
        "metrics documents name {named:?}, expected {roots:?}"
    );
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|l| l.get("_aws").is_none())
        .collect();
    for root in roots {
        ensure!(lines.iter().any(|l| l[shared::logging::TRACE_FIELD] == *root), "no log line names {root}:\n{log}");
    }
    for line in
        lines.iter().filter(|l| l.get("spans").is_some_and(|spans| spans.to_string().contains("Lambda runtime invoke")))
    {
        let named = line[shared::logging::TRACE_FIELD].as_str().unwrap_or_default();
        ensure!(roots.contains(&named), "a line of an invocation names no trace of it: {line}");
    }
    Ok(())
}

fn aws_calls(documents: &[Value]) -> Vec<&Value> {
    documents.iter().filter(|d| d["namespace"] == "aws").collect()
}

/// The request the proxy fails once with a 503 (the SDK retries it): its service's signing
/// name, the proxy's name for it (`PutObject /bucket/key`, `POST /clusters/...`) and the SDK's.
struct Faulted<'a> {
    service: &'a str,
    request: &'a str,
    operation: &'a str,
}

/// What a function does, traced: one sampled invocation behind a proxy that fails one
/// request, then checks on the tree and the calls.
async fn traced_run(
    function: &str,
    env: &[(&str, &str)],
    payload: &Value,
    faulted: Faulted<'_>,
) -> Result<(Value, Vec<Value>, FaultProxy)> {
    let Faulted { service, request, operation } = faulted;
    let proxy =
        FaultProxy::start(Moto::shared().url(), FaultPlan::first(service, request, FaultKind::Unavailable, Some(1)))
            .await;
    let daemon = XrayDaemon::start();
    let mut full_env = vec![("AWS_ENDPOINT_URL", proxy.url.as_str()), ("AWS_XRAY_DAEMON_ADDRESS", &daemon.address)];
    full_env.extend_from_slice(env);
    let lambda =
        LocalLambda::start(packaged_binary(function), Limits { memory_mb: 512, cpu_share: false }, &full_env).await;
    let (root, parent) = new_trace();
    let invoked = lambda.invoke_traced(payload, TIMEOUT, &header(&root, &parent, true)).await;
    let response = invoked.outcome.response(&lambda.log());
    let documents = daemon.documents();
    check_one_tree(&documents, &root, &parent)?;
    check_logs_name_the_trace(&log_with_metrics(&lambda, 1).await, &[&root])?;

    // One aws subsegment per request the proxy saw, and the one it failed flagged a fault.
    let calls = aws_calls(&documents);
    let requests = proxy.exchanges();
    ensure!(
        calls.len() == requests.len(),
        "{} aws subsegments for {} requests: {calls:#?}\n{requests:#?}",
        calls.len(),
        requests.len()
    );
    // The request the proxy failed is flagged a fault with its 503; any other fault is the
    // emulator's own 5xx (it answers some operations with an error page).
    let faulted_by_proxy = requests.iter().filter(|r| r.fault.is_some()).count();
    ensure!(faulted_by_proxy == 1, "the proxy failed {faulted_by_proxy} requests: {requests:#?}");
    let failed: Vec<&&Value> = calls
        .iter()
        .filter(|c| c["fault"] == true && c["aws"]["operation"] == operation && c["http"]["response"]["status"] == 503)
        .collect();
    ensure!(
        failed.len() == 1,
        "one faulted {operation}, not {failed:#?}, among {calls:#?}; the proxy saw {requests:#?}"
    );
    for call in calls.iter().filter(|c| c["fault"] == true) {
        ensure!(call["http"]["response"]["status"].as_u64().is_none_or(|status| status >= 500), "{call}");
    }
    let of_operation = calls.iter().filter(|c| c["aws"]["operation"] == operation).count();
    ensure!(of_operation == proxy.requests_for(request), "{of_operation} {operation} subsegments");
    // Each request named its own subsegment in X-Amzn-Trace-Id, for the service to go on from.
    let call_ids: HashSet<&str> = calls.iter().filter_map(|c| c["id"].as_str()).collect();
    let mut named = HashSet::new();
    for exchange in &requests {
        let header = exchange.trace_header.as_deref().and_then(shared::xray::TraceHeader::parse);
        let parent = header.as_ref().filter(|h| h.root == root && h.sampled).and_then(|h| h.parent.clone());
        ensure!(parent.as_deref().is_some_and(|p| call_ids.contains(p)), "{exchange:?} names no subsegment of it");
        named.insert(parent);
    }
    ensure!(named.len() == requests.len(), "two requests named one subsegment");
    for call in &calls {
        ensure!(call["aws"]["region"] == "us-east-1" && call["aws"]["operation"].is_string(), "{call}");
        ensure!(call["fault"] == true || call["http"]["response"]["status"].is_u64(), "a status: {call}");
    }

    // Not sampled: nothing at all.
    daemon.clear();
    let (unsampled, parent) = new_trace();
    let invoked = lambda.invoke_traced(payload, TIMEOUT, &header(&unsampled, &parent, false)).await;
    ensure!(matches!(invoked.outcome, Outcome::Response(_)), "{:?}", invoked.outcome);
    ensure!(daemon.documents().is_empty(), "an unsampled invocation sent {:#?}", daemon.documents());
    // Its requests tell the services it is not sampled, in its trace.
    let unsampled_requests = &proxy.exchanges()[requests.len()..];
    for exchange in unsampled_requests {
        let header = exchange.trace_header.as_deref().and_then(shared::xray::TraceHeader::parse);
        ensure!(header.is_some_and(|h| h.root == unsampled && !h.sampled), "{exchange:?}");
    }
    // Its log lines still name its trace: Lambda's own records of it do.
    check_logs_name_the_trace(&log_with_metrics(&lambda, 2).await, &[&root, &unsampled])?;
    Ok((response, documents, proxy))
}

/// A new bucket with a 320×240 JPEG at each key: the bucket's name and each key with its ETag.
async fn bucket_with_photos(
    account: &TestAccount,
    name: &str,
    keys: &[&str],
) -> Result<(String, Vec<(String, String)>)> {
    let bucket = account.unique_bucket(name);
    let s3 = account.aws.s3();
    s3.create_bucket().bucket(&bucket).send().await?;
    let mut uploads = Vec::new();
    for key in keys {
        let body = photo(320, 240, image::ImageFormat::Jpeg);
        let put = s3.put_object().bucket(&bucket).key(*key).body(body.into()).send().await?;
        uploads.push(((*key).to_owned(), put.e_tag().context("an ETag")?.trim_matches('"').to_owned()));
    }
    Ok((bucket, uploads))
}

/// The (key, ETag) pairs an SQS batch is made of.
fn pairs(uploads: &[(String, String)]) -> Vec<(&str, &str)> {
    uploads.iter().map(|(key, etag)| (key.as_str(), etag.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_iam_export_traces_its_run_and_each_aws_request() -> Result<()> {
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    // Whatever users the emulator's default account holds (tests/iam_export_lambda.rs seeds it).
    let bucket = account.unique_bucket("traced-iam");
    account.aws.s3().create_bucket().bucket(&bucket).send().await?;
    let (response, documents, _) =
        traced_run("iam-export", &[("REPORT_BUCKET", &bucket)], &json!({}), PUT_OBJECT).await?;
    ensure!(response["keys"].as_array().is_some_and(|keys| !keys.is_empty()), "{response}");
    // The handler's span (`export`) names the invocation's request.
    let handler = documents.iter().find(|d| d["name"] == "export").context("the handler's subsegment")?;
    ensure!(handler["annotations"]["request_id"].is_string(), "{handler}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_thumbnailer_traces_its_batch_and_each_aws_request() -> Result<()> {
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let (bucket, uploads) = bucket_with_photos(&account, "traced-thumbs", &["uploads/a.jpg"]).await?;
    let batch = support::sqs::sqs_batch(&bucket, &pairs(&uploads));
    let (response, _, _) = traced_run("thumbnailer", &[("THUMBNAIL_SIZES", "256x256")], &batch, PUT_OBJECT).await?;
    ensure!(response["batchItemFailures"] == json!([]), "{response}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sqs_record_is_worked_on_in_the_trace_its_message_carries() -> Result<()> {
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let keys = ["uploads/a.jpg", "uploads/b.jpg", "uploads/c.jpg"];
    let (bucket, mut uploads) = bucket_with_photos(&account, "traced-records", &keys).await?;
    // a.jpg and b.jpg were uploaded in traces of their own (S3 passes the uploader's trace to
    // the queue's message); c.jpg in one that is not sampled; d.jpg through the photos API,
    // which put its trace in the object's metadata (a browser's upload carries none to S3).
    let (a, b, c, d) = (new_trace(), new_trace(), new_trace(), new_trace());
    let put = account
        .aws
        .s3()
        .put_object()
        .bucket(&bucket)
        .key("uploads/d.jpg")
        .metadata("trace", header(&d.0, &d.1, true))
        .body(photo(320, 240, image::ImageFormat::Jpeg).into())
        .send()
        .await?;
    uploads.push(("uploads/d.jpg".to_owned(), put.e_tag().context("an ETag")?.trim_matches('"').to_owned()));
    let mut batch = support::sqs::sqs_batch(&bucket, &pairs(&uploads));
    for (record, (root, parent), sampled) in [(0, &a, true), (1, &b, true), (2, &c, false)] {
        batch["Records"][record]["attributes"]["AWSTraceHeader"] = json!(header(root, parent, sampled));
    }
    // The catalogue on: each photo filed and announced on a topic.
    let table = format!("{bucket}-table");
    create_table(&shared::aws_client!(aws_sdk_dynamodb, &account.aws), &table).await?;
    let sns = shared::aws_client!(aws_sdk_sns, &account.aws);
    let topic = sns.create_topic().name(format!("{bucket}-topic")).send().await?.topic_arn.context("a topic")?;
    let proxy = FaultProxy::start(moto.url(), FaultPlan::uniform(1, 0.0)).await;
    let daemon = XrayDaemon::start();
    let env = [
        ("AWS_ENDPOINT_URL", proxy.url.as_str()),
        ("AWS_XRAY_DAEMON_ADDRESS", &daemon.address),
        ("THUMBNAIL_SIZES", "64x64"),
        ("PHOTOS_TABLE", &table),
        ("PHOTOS_TOPIC_ARN", &topic),
    ];
    let lambda =
        LocalLambda::start(packaged_binary("thumbnailer"), Limits { memory_mb: 512, cpu_share: false }, &env).await;
    let (invocation, parent) = new_trace();
    let invoked = lambda.invoke_traced(&batch, TIMEOUT, &header(&invocation, &parent, true)).await;
    let response = invoked.outcome.response(&lambda.log());
    ensure!(response["batchItemFailures"] == json!([]), "{response}");
    let documents = daemon.documents();

    // Each sampled record's work is one tree in its own trace, under the sender's segment:
    // its record subsegment, and the S3 calls it made.
    for ((root, sender), key) in [(&a, "uploads/a.jpg"), (&b, "uploads/b.jpg")] {
        let own: Vec<Value> = documents.iter().filter(|d| d["trace_id"] == *root).cloned().collect();
        check_one_tree(&own, root, sender)?;
        let record = own.iter().find(|d| d["name"] == "record").context("the record's subsegment")?;
        ensure!(record["parent_id"] == *sender && record["annotations"]["key"] == key, "{record}");
        let operations: Vec<&Value> = aws_calls(&own).iter().map(|c| &c["aws"]["operation"]).collect();
        ensure!(
            operations.contains(&&json!("GetObject")) && operations.contains(&&json!("PutObject")),
            "{key}: {operations:?}"
        );
        // The steps of its work are its children, each AWS call under the step that made it.
        let step = |name: &str| own.iter().find(|d| d["name"] == name).with_context(|| format!("{key}: no {name}"));
        for name in ["decode", "resize", "encode", "file record", "announce"] {
            ensure!(step(name)?["parent_id"] == record["id"], "{key}: {name} is not under the record: {own:#?}");
        }
        let published = aws_calls(&own).into_iter().find(|c| c["aws"]["operation"] == "Publish").context("Publish")?;
        ensure!(published["parent_id"] == step("announce")?["id"], "{key}: {published}");
    }
    // d.jpg's work after its object was read is in the upload's trace, under the API's
    // request that signed it; the read itself in the batch's trace.
    let own: Vec<Value> = documents.iter().filter(|doc| doc["trace_id"] == d.0.as_str()).cloned().collect();
    check_one_tree(&own, &d.0, &d.1)?;
    let photo = own.iter().find(|doc| doc["name"] == "photo").context("d.jpg's photo subsegment")?;
    ensure!(photo["parent_id"] == d.1.as_str() && photo["annotations"]["key"] == "uploads/d.jpg", "{photo}");
    let names: Vec<&str> = own.iter().filter_map(|doc| doc["name"].as_str()).collect();
    for name in ["decode", "resize", "encode", "file record", "announce", "PutObject", "Publish"] {
        let named = |doc: &Value| doc["name"] == name || doc["aws"]["operation"] == name;
        ensure!(own.iter().any(named), "no {name} in d.jpg's trace: {names:?}");
    }
    // Every announcement told SNS its photo's trace, which the topic's active tracing passes
    // on to its subscribers (the emulator does not: it is checked at the request).
    let publishes: Vec<_> = proxy.exchanges().into_iter().filter(|e| e.operation == "Publish").collect();
    let mut announced: Vec<(String, bool)> = publishes
        .iter()
        .filter_map(|e| e.trace_header.as_deref().and_then(shared::xray::TraceHeader::parse))
        .map(|h| (h.root, h.sampled))
        .collect();
    announced.sort();
    let mut expected = vec![(a.0.clone(), true), (b.0.clone(), true), (c.0.clone(), false), (d.0.clone(), true)];
    expected.sort();
    ensure!(announced == expected, "announcements in {announced:?}, expected {expected:?}: {publishes:#?}");
    // The unsampled record sent nothing, and the invocation's own trace holds the batch.
    ensure!(documents.iter().all(|d| d["trace_id"] != c.0.as_str()), "the unsampled record was sent");
    ensure!(
        documents.iter().all(|d| d["annotations"]["key"] != "uploads/c.jpg"),
        "c.jpg's work was sent in another trace"
    );
    let own: Vec<Value> = documents.iter().filter(|d| d["trace_id"] == invocation.as_str()).cloned().collect();
    check_one_tree(&own, &invocation, &parent)?;
    ensure!(own.iter().any(|d| d["name"] == "process_batch"), "the batch's subsegment: {own:#?}");
    // And each record's requests told S3 its record's trace (sampled or not), not the batch's.
    for ((root, _), name, sampled) in [(&a, "a.jpg", true), (&b, "b.jpg", true), (&c, "c.jpg", false)] {
        let requests: Vec<_> = proxy.exchanges().into_iter().filter(|e| e.operation.contains(name)).collect();
        ensure!(!requests.is_empty(), "no request for {name}");
        for exchange in requests {
            let header = exchange.trace_header.as_deref().and_then(shared::xray::TraceHeader::parse);
            ensure!(header.is_some_and(|h| h.root == *root && h.sampled == sampled), "{name}: {exchange:?}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eks_scheduler_traces_its_run_and_each_aws_request() -> Result<()> {
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let eks = shared::aws_client!(aws_sdk_eks, &account.aws);
    let cluster = format!("traced-{}", std::process::id());
    let schedule = support::eks_seed::stopped_minutes_ago(10)?;
    seed(&eks, &[(&cluster, &[("eks-scheduler/schedule", &schedule)], &[("workers", "1/3/10")])]).await?;
    let request = format!("POST /clusters/{cluster}/node-groups/workers/update-config");
    let faulted = Faulted { service: "eks", request: &request, operation: "UpdateNodegroupConfig" };
    let event = json!({"action": "stop", "clusters": [cluster]});
    let (response, documents, _) = traced_run("eks-scheduler", &[], &event, faulted).await?;
    ensure!(response.to_string().contains(&cluster), "{response}");
    // The wave, the cluster in it, and the cluster's scaling calls under the cluster.
    let wave = documents.iter().find(|d| d["name"] == "wave").context("the wave's subsegment")?;
    let scaled = documents.iter().find(|d| d["name"] == "cluster").context("the cluster's subsegment")?;
    ensure!(scaled["annotations"]["cluster"] == cluster.as_str() && scaled["parent_id"] == wave["id"], "{scaled}");
    // The two seconds the run waits for its leases to settle are named, not a gap.
    let settle = documents.iter().find(|d| d["name"] == "lease settle").context("the lease's wait")?;
    let waited = settle["end_time"].as_f64().unwrap_or_default() - settle["start_time"].as_f64().unwrap_or_default();
    ensure!(waited >= 1.9, "{settle}");
    let updates: Vec<&Value> = documents.iter().filter(|d| d["aws"]["operation"] == "UpdateNodegroupConfig").collect();
    // under the cluster's managed nodegroups, the kind of capacity being scaled
    let managed = documents.iter().find(|d| d["name"] == "managed nodegroups").context("the nodegroups' subsegment")?;
    ensure!(managed["parent_id"] == scaled["id"], "{managed}");
    ensure!(!updates.is_empty() && updates.iter().all(|u| u["parent_id"] == managed["id"]), "{updates:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_report_traces_its_run_and_each_aws_request() -> Result<()> {
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let bucket = account.unique_bucket("traced-costs");
    account.aws.s3().create_bucket().bucket(&bucket).send().await?;
    let yesterday = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().yesterday()?;
    let first = yesterday.first_of_month().yesterday()?.first_of_month();
    queue_cost_results(&account, vec![ce_page(&month_of_costs(first, yesterday), None)]).await?;
    // Its first request, whatever Cost Explorer answers later (the tests share its queue).
    let first_read = Faulted { service: "s3", request: "GetObject", operation: "GetObject" };
    let (response, documents, _) =
        traced_run("cost-report", &[("REPORT_BUCKET", &bucket)], &json!({}), first_read).await?;
    ensure!(response.to_string().contains(&bucket), "{response}");
    // The CSV channel is a subsegment, its upload under it.
    let csv = documents.iter().find(|d| d["name"] == "channel" && d["annotations"]["channel"] == "csv");
    let csv = csv.context("the csv channel's subsegment")?;
    let uploads: Vec<&Value> =
        documents.iter().filter(|d| d["parent_id"] == csv["id"] && d["aws"]["operation"] == "PutObject").collect();
    ensure!(!uploads.is_empty(), "no upload under the csv channel: {documents:#?}");
    Ok(())
}

#[tokio::test]
async fn a_daemon_that_is_not_there_changes_nothing() -> Result<()> {
    let moto = Moto::shared();
    let account = TestAccount::default_account(moto.url()).await;
    let bucket = account.unique_bucket("untraced-iam");
    account.aws.s3().create_bucket().bucket(&bucket).send().await?;
    // A port nobody listens on, and an address that is no address.
    let nobody = std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.to_string();
    for address in [nobody.as_str(), "not an address"] {
        let env = [
            ("AWS_ENDPOINT_URL", moto.url()),
            ("REPORT_BUCKET", bucket.as_str()),
            ("AWS_XRAY_DAEMON_ADDRESS", address),
        ];
        let lambda =
            LocalLambda::start(packaged_binary("iam-export"), Limits { memory_mb: 256, cpu_share: false }, &env).await;
        let (root, parent) = new_trace();
        let invoked = lambda.invoke_traced(&json!({}), TIMEOUT, &header(&root, &parent, true)).await;
        let response = invoked.outcome.response(&lambda.log());
        ensure!(response["keys"].as_array().is_some_and(|keys| !keys.is_empty()), "{address}: {response}");
    }
    Ok(())
}
