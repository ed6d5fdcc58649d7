//! The benchmark's corpus of real photos (`scripts/photos.py`, which `make test` runs first),
//! for the tests that must hold on real files: `JPEG_CORPUS`, or `.bench/corpus`; and the HEIC
//! fixtures made from it.

use std::path::{Path, PathBuf};

/// Every JPEG of the corpus, sorted; fails, naming the fix, when there is none.
pub(crate) fn corpus_jpegs() -> Vec<PathBuf> {
    let corpus = std::env::var_os("JPEG_CORPUS")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.bench/corpus"), PathBuf::from);
    let mut files = Vec::new();
    collect_jpegs(&corpus, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no JPEGs under {}: fetch the corpus with `python3 scripts/photos.py` (make test does), or set JPEG_CORPUS",
        corpus.display()
    );
    files
}

fn collect_jpegs(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            collect_jpegs(&path, files);
        } else if kind.is_file()
            && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
        {
            files.push(path);
        }
    }
}

/// The HEIC fixtures and their references (`scripts/heic_fixtures.py`, which `make test` runs
/// after the corpus): `HEIC_FIXTURES`, or `.bench/heic`; fails, naming the fix, when absent.
pub(crate) fn heic_fixtures() -> PathBuf {
    let dir = std::env::var_os("HEIC_FIXTURES")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.bench/heic"), PathBuf::from);
    assert!(
        dir.join("manifest.json").is_file(),
        "no HEIC fixtures in {}: make them with `.venv/bin/python scripts/heic_fixtures.py` (make test does), or set HEIC_FIXTURES",
        dir.display()
    );
    dir
}
