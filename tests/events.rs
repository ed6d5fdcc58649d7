//! Every sample event under `events/` is JSON, and each function accepts its own.

use support::{event, workspace_root};

fn event_files() -> Vec<String> {
    let dir = workspace_root().join("events");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_event_file_is_a_json_object() {
    let names = event_files();
    assert!(!names.is_empty(), "events/ has sample events");
    for name in names {
        assert!(name.ends_with(".json"), "{name}: events/ holds only .json files");
        assert!(event(&name).is_object(), "{name}: an event is a JSON object");
    }
}

#[test]
fn iam_export_accepts_its_events() {
    let defaults = iam_export::core::RunOptions { include_roles: false, assignment_reading: None };
    let names: Vec<String> = event_files().into_iter().filter(|n| n.starts_with("iam-export-")).collect();
    assert_eq!(names, ["iam-export-manual.json", "iam-export-scheduled.json"]);
    for name in names {
        iam_export::core::parse_event(&event(&name), defaults).unwrap_or_else(|err| panic!("{name}: {err}"));
    }
}
