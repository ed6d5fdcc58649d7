//! The one place a panic is caught. Decoders and header parsers have bugs that some file
//! reaches; such a panic becomes a value where it happens, because the same bytes would
//! panic again on every retry, and one file must not take the other work down with it.
//! (The packaged function is built with `panic = "unwind"` for this: see Cargo.toml.)

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `work`; a panic in it is returned as its message. Whatever `work` touched is
/// dropped with it, never looked at again, so unwind safety does not matter here.
pub(crate) fn caught<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic")
            .to_owned()
    })
}

/// Builds with the `test-support` feature (never the packaged function) panic on this
/// input, standing in for a decoder bug that no known file reaches.
pub const PANIC_INPUT: &[u8] = b"THUMBNAILER-TEST-HOOK: panic in the image worker";

pub(crate) fn panic_on_test_input(bytes: &[u8]) {
    if cfg!(any(test, feature = "test-support")) && bytes.starts_with(PANIC_INPUT) {
        panic!("test hook: the image worker panicked");
    }
}
