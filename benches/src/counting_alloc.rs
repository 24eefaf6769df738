//! A counting global allocator, for the metrics example: allocations, bytes, live and peak
//! bytes. Register it with `#[global_allocator] static A: Counting = Counting;`.
//!
//! The only `unsafe` of the crate: forwarding `GlobalAlloc` to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Forwards to [`System`], counting.
#[derive(Debug)]
pub struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is forwarded to the system allocator with the caller's arguments
// unchanged; the bookkeeping is atomics only and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size(), Relaxed);
        grew(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, which is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size(), Relaxed);
        grew(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size, Relaxed);
        LIVE.fetch_sub(layout.size(), Relaxed);
        grew(new_size);
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Allocations (a `realloc` counts as one).
    pub allocations: usize,
    /// Bytes requested.
    pub bytes: usize,
    /// The peak of live bytes since [`reset_peak`].
    pub peak: usize,
    /// Live bytes now.
    pub live: usize,
}

/// The counters now.
pub fn counts() -> Counts {
    Counts {
        allocations: ALLOCATIONS.load(Relaxed),
        bytes: BYTES.load(Relaxed),
        peak: PEAK.load(Relaxed),
        live: LIVE.load(Relaxed),
    }
}

/// Starts a new peak measurement from the live bytes now.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
}

/// Runs `f`; returns its output and the allocations, bytes and peak live bytes above the
/// live bytes at the start (the counters are process-wide: run single-threaded).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Counts) {
    reset_peak();
    let before = counts();
    let output = f();
    let after = counts();
    let delta = Counts {
        allocations: after.allocations - before.allocations,
        bytes: after.bytes - before.bytes,
        peak: after.peak.saturating_sub(before.live),
        live: after.live.saturating_sub(before.live),
    };
    (output, delta)
}
