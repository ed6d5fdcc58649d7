//! Keeps the process's resident memory at what the current image holds.
//!
//! glibc serves an allocation from the heap once a freed one of its size has raised
//! its dynamic mmap threshold, and a heap fragmented by a 50 MB decode buffer is not
//! given back. Over a batch of large photos that added 14 MiB to the peak (the
//! benchmark's JPEG corpus: 103 MiB, 89 MiB with a fixed threshold). A fixed threshold
//! maps every buffer of 128 KiB and more on its own and unmaps it when freed.
#![allow(unsafe_code)]

/// Fixes glibc's mmap threshold at 128 KiB (its default, which it otherwise raises).
/// Call once at start-up, before the first image.
pub fn return_large_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any
    // other thread allocates (at start-up), and an unknown parameter is ignored.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
