use super::*;

fn candidate(key: &str, hash: u64, duplicate_of: Option<&str>) -> Candidate {
    Candidate {
        photo_id: format!("photos/{key}"),
        key: key.to_owned(),
        phash: hash,
        duplicate_of: duplicate_of.map(str::to_owned),
    }
}

const HASH: u64 = 0xd1c4_9a3e_5b70_2f86;

/// A case: its name, what the index returned, the distance allowed, the duplicate expected.
type Case = (&'static str, Vec<Candidate>, u32, Option<(&'static str, u32)>);

#[test]
fn the_nearest_earlier_photo_within_the_distance_is_the_duplicate() {
    let this = ("photos/u/alice/new.jpg", "u/alice/new.jpg");
    let cases: Vec<Case> = vec![
        ("none indexed", vec![], 10, None),
        ("the same picture", vec![candidate("u/alice/a.jpg", HASH, None)], 10, Some(("u/alice/a.jpg", 0))),
        ("3 bits off", vec![candidate("u/alice/a.jpg", HASH ^ 0b111, None)], 10, Some(("u/alice/a.jpg", 3))),
        ("too far", vec![candidate("u/alice/a.jpg", HASH ^ 0x7ff, None)], 10, None),
        ("at the limit", vec![candidate("u/alice/a.jpg", HASH ^ 0x3ff, None)], 10, Some(("u/alice/a.jpg", 10))),
        (
            "the nearest of two",
            vec![candidate("u/alice/a.jpg", HASH ^ 0xff, None), candidate("u/alice/b.jpg", HASH ^ 0b1, None)],
            10,
            Some(("u/alice/b.jpg", 1)),
        ),
        (
            "a tie: the first key",
            vec![candidate("u/alice/b.jpg", HASH ^ 0b10, None), candidate("u/alice/a.jpg", HASH ^ 0b1, None)],
            10,
            Some(("u/alice/a.jpg", 1)),
        ),
        (
            "a tie: the original before its copy",
            vec![candidate("u/alice/a copy.jpg", HASH, Some("u/alice/b.jpg")), candidate("u/alice/b.jpg", HASH, None)],
            10,
            Some(("u/alice/b.jpg", 0)),
        ),
        ("its own earlier version", vec![candidate("u/alice/new.jpg", HASH, None)], 10, None),
        (
            "a copy already filed as this photo's duplicate",
            vec![candidate("u/alice/copy.jpg", HASH, Some("u/alice/new.jpg"))],
            10,
            None,
        ),
        (
            "a copy of another photo",
            vec![candidate("u/alice/copy.jpg", HASH, Some("u/alice/first.jpg"))],
            10,
            Some(("u/alice/copy.jpg", 0)),
        ),
        ("distance 0: the same hash only", vec![candidate("u/alice/a.jpg", HASH ^ 1, None)], 0, None),
    ];
    for (name, candidates, max_distance, expected) in cases {
        let chosen = choose_duplicate(this.0, this.1, HASH, &candidates, max_distance);
        assert_eq!(
            chosen.map(|d| (d.key, d.distance)),
            expected.map(|(key, distance)| (key.to_owned(), distance)),
            "{name}"
        );
    }
}

#[test]
fn hashes_and_band_keys_as_stored() {
    assert_eq!(phash_text(HASH), "d1c49a3e5b702f86");
    assert_eq!(parse_phash("d1c49a3e5b702f86"), Some(HASH));
    assert_eq!(parse_phash("d1c49a3e5b702f8"), None);
    assert_eq!(parse_phash("d1c49a3e5b702f8g"), None);
    assert_eq!(
        band_keys("photos/u/alice/", HASH),
        ["photos/u/alice/|0|d1c4", "photos/u/alice/|1|9a3e", "photos/u/alice/|2|5b70", "photos/u/alice/|3|2f86"]
    );
    assert_eq!(band_item_ids("photos/a.jpg")[3], "band:3:photos/a.jpg");
}
