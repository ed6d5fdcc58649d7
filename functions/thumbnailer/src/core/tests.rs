use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use imaging::test_support::jpeg_with_segment;
use imaging::{BoxSize, ImageKind, Limits, OutputFormat, make_thumbnails};
use serde_json::Value;

use super::*;

const LIMITS: Limits = Limits { max_pixels: 100_000_000, max_alloc_bytes: 400 * 1024 * 1024 };
const BOX: BoxSize = BoxSize { width: 256, height: 256 };

fn event_file(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("event file")).expect("JSON")
}

#[test]
fn keys_are_decoded_as_s3_encodes_them() {
    for (raw, expected) in [
        ("uploads/beach.jpg", "uploads/beach.jpg"),
        ("uploads/a+b.jpeg", "uploads/a b.jpeg"),
        ("uploads/summer+2026/caf%C3%A9+%2B+friends.jpeg", "uploads/summer 2026/café + friends.jpeg"),
        ("%E6%97%A5%E6%9C%AC.png", "日本.png"),
    ] {
        assert_eq!(decode_s3_key(raw).as_deref(), Ok(expected), "{raw}");
    }
    assert!(decode_s3_key("bad%FF").is_err());
}

#[test]
fn output_keys_follow_the_naming_rule() {
    let size = BoxSize { width: 256, height: 256 };
    for (source, ext, expected, legacy) in [
        ("uploads/a b.jpeg", "jpg", "thumbnails/uploads/a b.jpeg-256x256.jpg", "thumbnails/uploads/a b-256x256.jpg"),
        ("photo.PNG", "png", "thumbnails/photo.PNG-256x256.png", "thumbnails/photo-256x256.png"),
        ("no-extension", "webp", "thumbnails/no-extension-256x256.webp", "thumbnails/no-extension-256x256.webp"),
        ("dir.v2/file", "jpg", "thumbnails/dir.v2/file-256x256.jpg", "thumbnails/dir.v2/file-256x256.jpg"),
        (".hidden", "jpg", "thumbnails/.hidden-256x256.jpg", "thumbnails/.hidden-256x256.jpg"),
        ("a/b/c.tar.gz", "jpg", "thumbnails/a/b/c.tar.gz-256x256.jpg", "thumbnails/a/b/c.tar-256x256.jpg"),
    ] {
        assert_eq!(output_key("thumbnails/", source, size, ext), expected, "{source}");
        assert_eq!(legacy_output_key("thumbnails/", source, size, ext), legacy, "{source}");
    }
    // Two uploads that differ only by extension never share a thumbnail.
    assert_ne!(output_key("t/", "a.jpg", size, "jpg"), output_key("t/", "a.png", size, "jpg"));
    assert!(is_own_output("thumbnails/uploads/a-256x256.jpg", "thumbnails/", "thumbnails/_failed/"));
    assert!(is_own_output("failed/uploads/a.json", "thumbnails/", "failed/"));
    assert!(!is_own_output("uploads/thumbnails/a.jpg", "thumbnails/", "thumbnails/_failed/"));
}

#[test]
fn the_three_triggers_and_the_test_event() {
    let (trigger, items) = parse_payload(&event_file("s3-put-encoded-key.json")).expect("S3");
    assert_eq!(trigger, Trigger::S3);
    let event = &items[0].events.as_ref().expect("readable")[0];
    assert_eq!(
        (event.bucket.as_str(), event.key.as_str()),
        ("photo-uploads", "uploads/summer 2026/café + friends.jpeg")
    );
    assert!(matches!(event.action, ObjectAction::Created { size: Some(2_457_600), .. }));

    let (trigger, items) = parse_payload(&event_file("sqs-s3-batch.json")).expect("SQS");
    assert_eq!(trigger, Trigger::Sqs);
    assert_eq!(items.len(), 3);
    assert_eq!(items[1].id.as_deref(), Some("2e1424d4-f796-459a-8184-9c92662be6da"));
    assert_eq!(items[1].events.as_ref().expect("readable")[0].key, "uploads/city at night.webp");
    // A traced upload's message names its trace (S3 passes the uploader's on to SQS).
    assert_eq!(
        items[1].trace_header.as_deref(),
        Some("Root=1-6a2f3b16-5759e988bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1")
    );
    assert_eq!(items[0].trace_header, None);

    let (_, items) = parse_payload(&event_file("sqs-s3-test-event.json")).expect("test event");
    assert_eq!(items[0].events, Ok(Vec::new()), "s3:TestEvent is acknowledged with no work");

    let (trigger, items) = parse_payload(&event_file("eventbridge-s3-object-created.json")).expect("EventBridge");
    assert_eq!(trigger, Trigger::EventBridge);
    assert_eq!(items[0].events.as_ref().expect("readable")[0].key, "uploads/portrait.jpg");

    let (_, items) = parse_payload(&event_file("s3-delete.json")).expect("delete");
    assert_eq!(items[0].events.as_ref().expect("readable")[0].action, ObjectAction::Removed);

    assert!(parse_payload(&serde_json::json!({"hello": "world"})).is_err());
    let broken = serde_json::json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m1", "body": "{not json"}]});
    let (_, items) = parse_payload(&broken).expect("parsed");
    assert!(items[0].events.as_ref().is_err_and(|e| e.starts_with("the SQS message body is not JSON")));
}

#[test]
fn names_s3_cannot_take_are_permanent_rejections() {
    let size = BoxSize { width: 256, height: 256 };
    let longest = "k".repeat(1024 - "t/".len() - "-256x256.jpg".len());
    assert_eq!(checked_output_key("t/", &longest, size, "jpg").map(|k| k.len()), Ok(1024));
    let err = checked_output_key("t/", &format!("{longest}x"), size, "jpg").expect_err("1,025 bytes");
    assert!(err.to_string().starts_with("its thumbnail's key would be 1025 bytes, over S3's limit of 1024"), "{err}");
    // Metadata holds the key percent-encoded: 600 two-byte characters become 3,600 bytes.
    assert!(thumbnail_metadata(&"é".repeat(300), "etag").is_ok());
    let err = thumbnail_metadata(&"é".repeat(600), "etag").expect_err("too long");
    assert!(err.to_string().contains("too long to record in its thumbnails' metadata"), "{err}");
    // The rejection record of such a key still has a name S3 takes.
    assert_eq!(rejection_record_key("t/_failed/", "uploads/a.jpg"), "t/_failed/uploads/a.jpg.json");
    let long = rejection_record_key("t/_failed/", &"k".repeat(1020));
    assert!(long.starts_with("t/_failed/_long-keys/") && long.len() < 64, "{long}");
    assert_ne!(long, rejection_record_key("t/_failed/", &"j".repeat(1020)));
}

#[test]
fn sequencers_order_events_as_s3_says_right_padded_then_compared() {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let check = |a: &str, b: &str, expected| {
        let (a, b) = (Sequencer::parse(a).expect("valid"), Sequencer::parse(b).expect("valid"));
        assert_eq!(a.cmp(&b), expected, "{a} vs {b}");
        assert_eq!(a.padded().cmp(&b.padded()), expected, "stored forms: {a} vs {b}");
    };
    check("0055AED6DCD90281E5", "0055AED6DCD90281E6", Less);
    check("0055AED6DCD90281E6", "0055AED6DCD90281E5", Greater);
    // Lengths differ: padded on the right, not on the left (as numbers they would order the other way).
    check("0055AED6DCD90281E5", "0055AED6DCD90281E500", Equal);
    check("0055AED6DCD90281F", "0055AED6DCD90281E5", Greater);
    check("00617f08299329d189", "00617F08299329D189", Equal);
    for bad in ["", "not-hex", "0055AED6DCD90281E5 ", &"A".repeat(SEQUENCER_WIDTH + 1)] {
        assert!(Sequencer::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn events_carry_their_sequencer_and_a_malformed_one_is_named() {
    let (_, items) = parse_payload(&event_file("s3-put.json")).expect("an S3 event");
    let event = &items[0].events.as_ref().expect("readable")[0];
    assert_eq!(event.sequencer.as_ref().map(Sequencer::as_str), Some("0055AED6DCD90281E5"));
    let (_, items) = parse_payload(&event_file("eventbridge-s3-object-created.json")).expect("an EventBridge event");
    let event = &items[0].events.as_ref().expect("readable")[0];
    assert_eq!(event.sequencer.as_ref().map(Sequencer::as_str), Some("00617F08299329D189"));

    let mut broken = event_file("s3-put.json");
    broken["Records"][0]["s3"]["object"]["sequencer"] = Value::from("zz");
    let (_, items) = parse_payload(&broken).expect("still an S3 event");
    let err = items[0].events.as_ref().expect_err("a malformed sequencer");
    assert!(err.contains("sequencer \"zz\""), "{err}");
}

#[test]
fn a_photos_owner_is_its_bucket_and_first_folders() {
    for (key, depth, owner) in [
        ("uploads/alice/2026/beach.jpg", 1, "b/uploads/"),
        ("uploads/alice/2026/beach.jpg", 2, "b/uploads/alice/"),
        ("uploads/alice/2026/beach.jpg", 9, "b/uploads/alice/2026/"),
        ("uploads/alice/2026/beach.jpg", 0, "b/"),
        ("beach.jpg", 1, "b/"),
        ("a//b.jpg", 2, "b/a//"),
    ] {
        assert_eq!(owner_of("b", key, depth), owner, "{key} at {depth}");
    }
    assert_eq!(key_prefix("uploads/alice/beach.jpg"), "uploads/alice/");
    assert_eq!(key_prefix("beach.jpg"), "");
}

#[test]
fn records_and_announcements_say_what_happened_and_order_by_sequencer() {
    let sequencer = Sequencer::parse("0055AED6DCD90281E5").expect("a sequencer");
    let of = RecordOf {
        bucket: "photos",
        key: "uploads/alice/beach.jpg",
        sequencer: Some(&sequencer),
        owner_depth: 2,
        processed_at: "2026-11-23T06:00:00Z",
    };
    let bytes = jpeg_with_exif(&RgbImage::from_pixel(64, 48, Rgb([200, 20, 20])), &testdata("exif/nokia-8.3-5g.tiff"));
    let photo = make_thumbnails(&bytes, &[BOX], OutputFormat::Jpeg { quality: 80 }, LIMITS).expect("a photo");
    let entries =
        vec![ThumbnailEntry::new("thumbnails/uploads/alice/beach.jpg-256x256.jpg".to_owned(), &photo.thumbnails[0])];
    let ready = of.ready("abc", 1234, &photo, entries.clone(), false);
    assert_eq!(
        (ready.photo_id.as_str(), ready.owner.as_str()),
        ("photos/uploads/alice/beach.jpg", "photos/uploads/alice/")
    );
    assert_eq!(ready.version, "ready:abc");
    assert_eq!(ready.sequencer.as_deref(), Some(sequencer.padded().as_str()));
    assert_eq!(ready.write_rule(), WriteRule::NewerThan(sequencer.padded()));
    assert_eq!((ready.location, entries[0].format, entries[0].fitted_box.as_str()), (None, "jpeg", "256x256"));
    assert!(of.ready("abc", 1234, &photo, entries, true).location.is_some(), "kept when asked");
    assert!(ready.is_same_write(Some(&sequencer.padded()), None));
    assert!(!ready.is_same_write(None, Some("ready:abc")), "a sequenced record is never an unsequenced one's write");

    let message = announcement(&ready, &[]);
    assert_eq!(message.event, "photo.ready");
    assert_eq!(
        message.attributes,
        [
            ("event", "photo.ready".to_owned()),
            ("bucket", "photos".to_owned()),
            ("key_prefix", "uploads/alice/".to_owned()),
            ("format", "jpeg".to_owned())
        ]
    );
    let body: Value = serde_json::from_str(&message.body).expect("JSON");
    assert_eq!(body["thumbnails"], serde_json::json!(["thumbnails/uploads/alice/beach.jpg-256x256.jpg"]));
    assert_eq!(body["captured_at"], "2022-08-14T14:12:31+03:00");
    assert!(body.get("location").is_none() && body.get("photo_id").is_none(), "{body}");

    let unsequenced = RecordOf { sequencer: None, key: "beach.jpg", ..of };
    let deleted = unsequenced.deleted();
    assert_eq!(deleted.write_rule(), WriteRule::Unsequenced { version: "deleted:".to_owned() });
    assert!(deleted.is_same_write(None, Some("deleted:")));
    assert!(!deleted.is_same_write(Some("00"), Some("deleted:")));
    let message = announcement(&deleted, &["thumbnails/beach.jpg-256x256.jpg".to_owned()]);
    assert_eq!(message.attributes, [("event", "photo.deleted".to_owned()), ("bucket", "photos".to_owned())]);
    let body: Value = serde_json::from_str(&message.body).expect("JSON");
    assert_eq!(body["thumbnails_removed"], serde_json::json!(["thumbnails/beach.jpg-256x256.jpg"]));
    let rejected = of.rejected(Some(""), "not an image", "thumbnails/_failed/x.json");
    assert_eq!((rejected.etag.as_deref(), rejected.version.as_str()), (None, "rejected:"));

    // A near-duplicate: the record names its original, the announcement too, as an attribute.
    let hash = ready.phash.clone().expect("a ready record has a hash");
    let copy =
        ready.clone().duplicating(Some(duplicates::Duplicate { key: "uploads/alice/a.jpg".to_owned(), distance: 3 }));
    assert_eq!((copy.duplicate_of.as_deref(), copy.duplicate_distance), (Some("uploads/alice/a.jpg"), Some(3)));
    let message = announcement(&copy, &[]);
    assert_eq!(message.attributes.last(), Some(&("duplicate_of", "uploads/alice/a.jpg".to_owned())));
    let body: Value = serde_json::from_str(&message.body).expect("JSON");
    assert_eq!(
        (body["duplicate_of"].as_str(), body["duplicate_distance"].as_u64()),
        (Some("uploads/alice/a.jpg"), Some(3))
    );
    // and its four band items carry what a lookup needs, under the record's ordering;
    // a rejected or deleted photo files none.
    let bands = duplicates::band_items(&copy);
    assert_eq!(bands.len(), 4);
    assert!(bands.iter().enumerate().all(|(n, band)| band.photo_id
        == format!("band:{n}:photos/uploads/alice/beach.jpg")
        && band.phash_band.starts_with(&format!("photos/uploads/alice/|{n}|"))
        && band.phash == hash
        && band.duplicate_of.as_deref() == Some("uploads/alice/a.jpg")
        && band.sequencer == copy.sequencer));
    assert!(duplicates::band_items(&deleted).is_empty() && duplicates::band_items(&rejected).is_empty());
}

#[test]
fn a_stored_record_completes_an_upload_only_when_ready_announced_and_filed_by_it_or_newer() {
    let sequencer = |text: &str| Sequencer::parse(text).expect("test sequencer");
    let ready = |etag: &str, sequencer: Option<&str>, announced: bool| StoredRecord {
        status: Some(PhotoStatus::Ready),
        etag: Some(etag.to_owned()),
        sequencer: sequencer.map(|s| Sequencer::parse(s).expect("test sequencer").padded()),
        version: Some(PhotoStatus::Ready.version(Some(etag))),
        announced,
    };
    // (case, stored, event's etag, event's sequencer, a topic to announce on, complete)
    type Case<'a> = (&'a str, StoredRecord, &'a str, Option<Sequencer>, bool, bool);
    let cases: Vec<Case<'_>> = vec![
        ("this event's own record", ready("e1", Some("0A"), true), "e1", Some(sequencer("0A")), true, true),
        (
            "a newer event's record of the same bytes",
            ready("e1", Some("0B"), true),
            "e1",
            Some(sequencer("0A")),
            true,
            true,
        ),
        (
            "an older event's record of the same bytes",
            ready("e1", Some("0A"), true),
            "e1",
            Some(sequencer("0B")),
            true,
            false,
        ),
        ("not announced yet", ready("e1", Some("0A"), false), "e1", Some(sequencer("0A")), true, false),
        ("not announced, and no topic", ready("e1", Some("0A"), false), "e1", Some(sequencer("0A")), false, true),
        ("other bytes", ready("e0", Some("0A"), true), "e1", Some(sequencer("0A")), true, false),
        (
            "rejected, not ready",
            StoredRecord { status: Some(PhotoStatus::Rejected), ..ready("e1", Some("0A"), true) },
            "e1",
            Some(sequencer("0A")),
            true,
            false,
        ),
        ("nothing stored", StoredRecord::default(), "e1", Some(sequencer("0A")), true, false),
        ("no sequencer: this version's record", ready("e1", None, true), "e1", None, true, true),
        ("no sequencer: a sequenced record stands", ready("e1", Some("0A"), true), "e1", None, true, true),
        (
            "no sequencer: another version",
            StoredRecord { version: Some("ready:e0".to_owned()), ..ready("e1", None, true) },
            "e1",
            None,
            true,
            false,
        ),
    ];
    for (name, stored, etag, sequencer, announcing, expected) in cases {
        assert_eq!(stored.completes(etag, sequencer.as_ref(), announcing), expected, "{name}");
    }
}

#[test]
fn a_status_reads_back_as_written() {
    for status in [PhotoStatus::Ready, PhotoStatus::Rejected, PhotoStatus::Deleted] {
        assert_eq!(PhotoStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(PhotoStatus::parse("READY"), None);
    assert_eq!(PhotoStatus::Ready.version(Some("abc")), "ready:abc");
    assert_eq!(PhotoStatus::Deleted.version(None), "deleted:");
}

#[test]
fn an_sqs_message_is_a_batch_item_failure_when_any_of_its_objects_must_be_retried() {
    let object = |key: &str, outcome: Outcome| ObjectResult {
        bucket: "b".to_owned(),
        key: key.to_owned(),
        outcome,
        detail: format!("{outcome:?}"),
        keys: Vec::new(),
    };
    let response = Response::of_items([
        (Some("m1".to_owned()), vec![object("a", Outcome::Written), object("b", Outcome::Retry)]),
        (Some("m2".to_owned()), vec![object("c", Outcome::Rejected), object("d", Outcome::UpToDate)]),
        (Some("m3".to_owned()), vec![object("e", Outcome::Retry)]),
        // S3 and EventBridge items have no message id: their retries fail the invocation.
        (None, vec![object("f", Outcome::Retry)]),
    ]);
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["m1", "m3"]);
    assert_eq!(response.results.len(), 6, "every object's result, in order");
    assert_eq!(response.retries(), ["b/b: Retry", "b/e: Retry", "b/f: Retry"]);
}

#[test]
fn outdated_thumbnails_are_looked_for_under_every_name_they_may_have() {
    let sizes = [BoxSize { width: 256, height: 256 }, BoxSize { width: 1024, height: 1024 }];
    let jpeg = OutputFormat::Jpeg { quality: 80 }.possible_kinds();
    assert_eq!(
        thumbnail_key_candidates("thumbnails/", "uploads/a.png", &sizes, jpeg),
        [
            "thumbnails/uploads/a.png-256x256.jpg",
            "thumbnails/uploads/a-256x256.jpg",
            "thumbnails/uploads/a.png-1024x1024.jpg",
            "thumbnails/uploads/a-1024x1024.jpg",
        ]
    );
    // A key without an extension has one name: listed once.
    let same = OutputFormat::Same { quality: 80 }.possible_kinds();
    assert_eq!(same, [ImageKind::Jpeg, ImageKind::Png, ImageKind::Webp]);
    let keys = thumbnail_key_candidates("t/", "raw", &sizes[..1], same);
    assert_eq!(keys, ["t/raw-256x256.jpg", "t/raw-256x256.png", "t/raw-256x256.webp"]);
}

/// A JPEG of `image` with `tiff` (EXIF's TIFF structure) in an APP1 segment, as cameras write it.
fn jpeg_with_exif(image: &RgbImage, tiff: &[u8]) -> Vec<u8> {
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 98).encode_image(image).expect("jpeg");
    jpeg_with_segment(&jpeg, 0xE1, &[b"Exif\0\0".as_slice(), tiff].concat()).expect("a short EXIF block")
}

/// A camera's EXIF block, from the image library's test data.
fn testdata(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../imaging/testdata").join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}
