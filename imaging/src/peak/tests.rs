//! The price against what the decode allocates: every corpus JPEG, at the boxes that send
//! it to each of the decoders and scales, through the whole pipeline.
//!
//! The count is of the Rust allocations this thread holds (a counting global allocator, in
//! this test binary only): every buffer of our own decoders, the resize, the encoders and
//! the hash. libjpeg's own buffers are C allocations it does not see, so for the files
//! libjpeg decodes this is a lower bound; for the ones `eighth_scale` decodes, it is all.
#![allow(unsafe_code)] // a global allocator is an unsafe trait; this one only counts

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crate::corpus::corpus_jpegs;
use crate::header::jpeg_scale_for;
use crate::jpeg::read_structure;
use crate::pipeline::takes_own_decoder;
use crate::{BoxSize, Limits, OutputFormat, make_thumbnails, memory_need};

/// The system's allocator, counting the bytes the calling thread holds and the most it has.
struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static MOST: Cell<isize> = const { Cell::new(0) };
}

fn count(change: isize) {
    // `try_with`: a thread being torn down still frees.
    let _ = HELD.try_with(|held| {
        held.set(held.get() + change);
        let _ = MOST.try_with(|most| most.set(most.get().max(held.get())));
    });
}

// SAFETY: every call is passed to `System` unchanged; the counting touches only
// thread-locals of `Cell`s, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let at = unsafe { System.alloc(layout) };
        if !at.is_null() {
            count(layout.size() as isize);
        }
        at
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let at = unsafe { System.alloc_zeroed(layout) };
        if !at.is_null() {
            count(layout.size() as isize);
        }
        at
    }

    unsafe fn dealloc(&self, at: *mut u8, layout: Layout) {
        unsafe { System.dealloc(at, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, at: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(at, layout, new_size) };
        if !moved.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The most this thread held above what it held when `work` started.
fn most_held_by(work: impl FnOnce()) -> usize {
    let before = HELD.with(Cell::get);
    MOST.with(|most| most.set(before));
    work();
    (MOST.with(Cell::get) - before).max(0) as usize
}

#[test]
fn no_thumbnail_holds_more_than_its_price() {
    const LIMITS: Limits = Limits { max_pixels: 100_000_000, max_alloc_bytes: 400 * 1024 * 1024 };
    let mut checked_own = 0;
    for path in corpus_jpegs() {
        let bytes = std::fs::read(&path).expect("corpus file");
        // 256 to 1900: from 1/8 to 8/8 on the corpus's photos.
        for side in [256, 512, 1024, 1900] {
            let sizes = [BoxSize { width: side, height: side }];
            let price = memory_need(&bytes, &sizes, LIMITS).expect("priced");
            let held = most_held_by(|| {
                make_thumbnails(&bytes, &sizes, OutputFormat::Jpeg { quality: 80 }, LIMITS).expect("thumbnails");
            });
            let structure = read_structure(&bytes).expect("structure");
            let scale = jpeg_scale_for(&structure, &sizes);
            let ours = takes_own_decoder(structure.progressive, scale)
                && crate::eighth_scale::decode(&bytes, &structure, scale as usize).is_ok();
            checked_own += usize::from(ours);
            assert!(
                held as u64 <= price,
                "{} for a {side} box ({}, {scale}/8): held {held} bytes, priced {price}",
                path.display(),
                if ours { "eighth_scale" } else { "libjpeg" }
            );
        }
    }
    assert!(checked_own > 0, "no corpus file took our decoder");
}
