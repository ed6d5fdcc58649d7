//! How glibc's allocator treats the large buffers of an image: reused by the next image
//! rather than mapped afresh for each one, within a fixed bound.
//!
//! By default glibc maps every allocation of 128 KiB and more on its own and unmaps it when
//! freed, then raises that threshold (up to 32 MiB) each time it frees a larger mapping: so
//! what the process keeps depends on the images it has seen. Mapping every buffer afresh
//! costs a page fault for each 4 KiB of it, on every image: at a 1024 box 12% of a
//! thumbnail's time went to page faults and `munmap` (`perf`, the benchmark's 40 JPEGs), and
//! fixing the threshold at 128 KiB, as this did before, made that permanent. Fixed at 32 MiB
//! instead, the buffers under it come from the heap and the next image reuses their pages:
//! 13% more thumbnails a second at 1024, for 3 MiB more peak RSS over the benchmark's JPEGs
//! (58 to 61 MiB). A buffer of 32 MiB or more (libjpeg's coefficient buffer for a photo of
//! over 16 megapixels) is still mapped on its own and given back when freed, and the heap
//! gives back what is free at its top past 64 MiB, so a process that has seen one huge
//! image does not hold it: its peak is still what the memory pool priced.
#![allow(unsafe_code)]

/// Buffers under this come from the heap and are reused.
const MMAP_THRESHOLD: i32 = 32 * 1024 * 1024;
/// Free memory at the top of the heap past this goes back to the system.
const TRIM_THRESHOLD: i32 = 64 * 1024 * 1024;

/// Fixes glibc's mmap threshold at 32 MiB and its trim threshold at 64 MiB (rather than
/// letting them follow the images seen). Call once at start-up, before the first image.
pub fn reuse_buffers_across_images() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any
    // other thread allocates (at start-up), and an unknown parameter is ignored.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
