use std::net::UdpSocket;
use std::time::Duration;

use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt as _;

use super::*;

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

/// A header's root, parent and sampling, or `None` when it names no trace.
type Parsed = Option<(&'static str, Option<&'static str>, bool)>;

#[test]
fn reads_trace_headers() {
    let cases: [(&str, Parsed); 8] = [
        (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            Some((ROOT, Some("53995c3f42cd8ad8"), true)),
        ),
        (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1",
            Some((ROOT, Some("53995c3f42cd8ad8"), false)),
        ),
        // Lambda's own header for an invocation nobody upstream decided on.
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?", Some((ROOT, None, false))),
        (" root=1-5759e988-bd862e3fe1be46a994272793 ; sampled=1", Some((ROOT, None, true))),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz;Sampled=1", Some((ROOT, None, true))),
        ("Root=1-00000000-000000000000000000000000", Some(("1-00000000-000000000000000000000000", None, false))),
        ("Root=2-5759e988-bd862e3fe1be46a994272793;Sampled=1", None),
        ("Parent=53995c3f42cd8ad8;Sampled=1", None),
    ];
    for (text, expected) in cases {
        let parsed = TraceHeader::parse(text);
        let expected = expected.map(|(root, parent, sampled)| TraceHeader {
            root: root.to_owned(),
            parent: parent.map(str::to_owned),
            sampled,
        });
        assert_eq!(parsed, expected, "{text}");
    }
    let header = TraceHeader { root: ROOT.to_owned(), parent: Some("53995c3f42cd8ad8".to_owned()), sampled: true };
    assert_eq!(TraceHeader::parse(&header.to_string()), Some(header));
}

#[test]
fn segment_ids_are_16_hex_digits_and_differ() {
    let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_segment_id()).collect();
    assert_eq!(ids.len(), 1000);
    assert!(ids.iter().all(|id| is_segment_id(id)));
}

#[test]
fn reads_the_daemon_address() {
    assert_eq!(daemon_address("169.254.79.129:2000"), Some("169.254.79.129:2000".parse().expect("address")));
    assert_eq!(
        daemon_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001"),
        Some("127.0.0.2:2001".parse().expect("address"))
    );
    assert_eq!(daemon_address("no port"), None);
}

#[test]
fn flags_each_attempt_as_x_ray_does() {
    let flags = |error, fault, throttle| AttemptFlags { error, fault, throttle };
    for (status, error, expected) in [
        (Some(200), None, flags(false, false, false)),
        (Some(404), Some("NoSuchKey"), flags(true, false, false)),
        (Some(429), Some("TooManyRequestsException"), flags(true, false, true)),
        (Some(400), Some("ThrottlingException: Rate exceeded"), flags(true, false, true)),
        (Some(503), Some("SlowDown"), flags(false, true, true)),
        (Some(500), Some("InternalError"), flags(false, true, false)),
        (None, Some("connection reset"), flags(false, true, false)),
    ] {
        assert_eq!(attempt_flags(status, error), expected, "{status:?} {error:?}");
    }
}

#[test]
fn an_aws_subsegment_names_the_service_operation_region_request_and_status() {
    let mut fields = serde_json::Map::new();
    for (name, value) in [
        ("aws.service", json!("S3")),
        ("aws.operation", json!("PutObject")),
        ("aws.region", json!("eu-west-1")),
        ("aws.request_id", json!("R1")),
        ("http.status", json!(503)),
        ("xray.fault", json!(true)),
        ("xray.error", json!(false)),
        ("xray.cause", json!("SlowDown")),
    ] {
        fields.insert(name.to_owned(), value);
    }
    let subsegment = Subsegment {
        name: "aws".to_owned(),
        id: "0000000000000001".to_owned(),
        trace_id: ROOT.to_owned(),
        parent_id: "53995c3f42cd8ad8".to_owned(),
        start_time: 10.0,
        fields,
    };
    let document = subsegment.document(10.25);
    assert_eq!(document["name"], "S3");
    assert_eq!(document["namespace"], "aws");
    assert_eq!(document["aws"], json!({"operation": "PutObject", "region": "eu-west-1", "request_id": "R1"}));
    assert_eq!(document["http"], json!({"response": {"status": 503}}));
    assert_eq!((document["fault"].clone(), document.get("error")), (json!(true), None));
    assert_eq!(document["cause"]["exceptions"][0]["message"], "SlowDown");
    assert_eq!((document["start_time"].clone(), document["end_time"].clone()), (json!(10.0), json!(10.25)));
    assert_eq!(document.get("annotations"), None, "no field of its own");
}

/// A daemon on a loopback port, and the documents it received.
fn listener() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a loopback port");
    socket.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let address = socket.local_addr().expect("bound");
    (socket, address)
}

fn received(socket: &UdpSocket) -> Vec<Value> {
    let mut documents = Vec::new();
    let mut buffer = vec![0; 70_000];
    while let Ok(length) = socket.recv(&mut buffer) {
        let text = std::str::from_utf8(&buffer[..length]).expect("UTF-8");
        let (header, document) = text.split_once('\n').expect("a header line");
        assert_eq!(serde_json::from_str::<Value>(header).expect("JSON"), json!({"format": "json", "version": 1}));
        documents.push(serde_json::from_str(document).expect("a JSON document"));
    }
    documents
}

#[test]
fn spans_become_subsegments_of_the_invocation_and_a_records_header_starts_its_own_work() {
    let (socket, address) = listener();
    let layer = XrayLayer::sending_to(Daemon::at(address).expect("a socket"));
    let subscriber =
        tracing_subscriber::registry().with(layer.with_filter(tracing_subscriber::filter::filter_fn(XrayLayer::wants)));
    let record_trace = "1-5759e988-000000000000000000000002";
    tracing::subscriber::with_default(subscriber, || {
        let invocation = tracing::info_span!(
            "Lambda runtime invoke",
            requestId = "r1",
            xrayTraceId = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        );
        let _invocation = invocation.enter();
        let handler = tracing::info_span!("handle", photos = 2);
        let _handler = handler.enter();
        tracing::debug_span!("not traced: below INFO").in_scope(|| {
            tracing::info_span!("resize", box_size = "256x256").in_scope(|| {});
        });
        let header = format!("Root={record_trace};Parent=00000000000000aa;Sampled=1");
        tracing::info_span!("record", "xray.trace_header" = header.as_str()).in_scope(|| {
            tracing::info_span!("decode").in_scope(|| {});
        });
        tracing::info_span!("record", "xray.trace_header" = "Root=1-5759e988-000000000000000000000003;Sampled=0")
            .in_scope(|| tracing::info_span!("decode").in_scope(|| {}));
    });
    let documents = received(&socket);
    let named = |name: &str| -> Vec<&Value> { documents.iter().filter(|d| d["name"] == name).collect() };
    assert_eq!(documents.len(), 4, "{documents:#?}");
    let handler = named("handle")[0];
    assert_eq!((handler["trace_id"].as_str(), handler["parent_id"].as_str()), (Some(ROOT), Some("53995c3f42cd8ad8")));
    assert_eq!(handler["annotations"], json!({"photos": 2}));
    assert_eq!(handler["type"], "subsegment");
    let resize = named("resize")[0];
    assert_eq!((resize["trace_id"].as_str(), &resize["parent_id"]), (Some(ROOT), &handler["id"]), "under the handler");
    let record = named("record")[0];
    assert_eq!(
        (record["trace_id"].as_str(), record["parent_id"].as_str()),
        (Some(record_trace), Some("00000000000000aa"))
    );
    let decode = named("decode");
    assert_eq!(decode.len(), 1, "the unsampled record's work is not sent");
    assert_eq!((decode[0]["trace_id"].as_str(), &decode[0]["parent_id"]), (Some(record_trace), &record["id"]));
    assert!(documents.iter().all(|d| d["end_time"].as_f64() >= d["start_time"].as_f64()));
}

#[test]
fn an_unsampled_invocation_sends_nothing_and_a_missing_daemon_changes_nothing() {
    let (socket, address) = listener();
    let subscriber = tracing_subscriber::registry().with(XrayLayer::sending_to(Daemon::at(address).expect("socket")));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!(
            "Lambda runtime invoke",
            xrayTraceId = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"
        )
        .in_scope(|| tracing::info_span!("handle").in_scope(|| {}));
        // No invocation span at all (a local run): nothing either.
        tracing::info_span!("handle").in_scope(|| {});
    });
    assert_eq!(received(&socket), Vec::<Value>::new());

    // Nobody listens: every send is counted dropped or sent, none fails the span.
    drop(socket);
    let dropped_before = dropped() + sent();
    let subscriber = tracing_subscriber::registry().with(XrayLayer::sending_to(Daemon::at(address).expect("socket")));
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..3 {
            tracing::info_span!(
                "Lambda runtime invoke",
                xrayTraceId = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            )
            .in_scope(|| tracing::info_span!("handle").in_scope(|| {}));
        }
    });
    assert!(dropped() + sent() >= dropped_before + 3);
}
