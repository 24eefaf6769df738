//! Leaks, found natively: [`LeakCheck`] is a global allocator that records every allocation
//! a thread makes while it runs [`leak_checked`], so that the check can say whether the work
//! left any of them live (a run block or a waker block the pool lost, an `Arc` of the DAG
//! never let go of) or freed one with another size than it was allocated with (a block freed
//! with a wrong layout). Miri and the fuzzer's leak sanitizer find the same, in far fewer
//! cases; this finds it in every case of the property tests, in a normal build.
//!
//! A test binary installs it with `#[global_allocator] static A: LeakCheck = LeakCheck;`.
//! The allocations a check makes are recorded in a table beside them, by address (the
//! memory itself is the system allocator's, untouched): frees from any thread count (a waker
//! dropped on another thread frees its block there); allocations count only when the thread
//! that runs the check makes them. Tests running in parallel each have a check of their own.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::panic::AssertUnwindSafe;
use core::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};
use std::alloc::System;
use std::panic::{catch_unwind, resume_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError};

use alloc::format;
use alloc::string::String;

/// The system allocator, recording what a thread allocates while it runs [`leak_checked`].
#[derive(Debug)]
pub struct LeakCheck;

/// How many checks can run at once (test threads).
const CHECKS: usize = 64;

/// One check's counts.
struct Counts {
    /// Claimed by a check under way.
    used: AtomicBool,
    /// Which check holds it (a new number at each claim, 0 when none does): frees of what an
    /// earlier check leaked do not count against a later one.
    generation: AtomicUsize,
    /// Allocations the check made, freed or not.
    made: AtomicUsize,
    /// Allocations the check made that are still live.
    live: AtomicIsize,
    /// Frees (or reallocations) of the check's allocations that named another size than the
    /// allocation's.
    wrong_size: AtomicUsize,
    /// Allocations the table had no room to record.
    unrecorded: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Counts = Counts {
    used: AtomicBool::new(false),
    generation: AtomicUsize::new(0),
    made: AtomicUsize::new(0),
    live: AtomicIsize::new(0),
    wrong_size: AtomicUsize::new(0),
    unrecorded: AtomicUsize::new(0),
};

static COUNTS: [Counts; CHECKS] = [FREE; CHECKS];
static GENERATIONS: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    /// The mark this thread gives its allocations now ([`NONE`]: no check is under way).
    static MARK: Cell<usize> = const { Cell::new(NONE) };
}

/// The mark of an allocation no check made. Any other names the check that made it: its
/// generation times [`CHECKS`], plus its slot in `COUNTS`.
const NONE: usize = 0;

/// The counts of the check that made an allocation marked `mark`, if that check is still
/// its slot's holder.
fn counts(mark: usize) -> Option<&'static Counts> {
    let counts = &COUNTS[mark % CHECKS];
    (mark != NONE && counts.generation.load(Relaxed) == mark / CHECKS).then_some(counts)
}

/// The table's size, in bits: room for more live allocations than the checks of all test
/// threads at once make.
const TABLE_BITS: u32 = 16;
const TABLE: usize = 1 << TABLE_BITS;

/// A recorded allocation (address 0: an empty entry).
#[derive(Clone, Copy)]
struct Entry {
    address: usize,
    mark: usize,
    size: usize,
}

const EMPTY: Entry = Entry {
    address: 0,
    mark: NONE,
    size: 0,
};

/// The live allocations the checks made, in open addressing by address (linear probing,
/// deletion by shifting back, so that a lookup stops at the first empty entry).
struct Recorded {
    entries: [Entry; TABLE],
    len: usize,
}

/// The table. Locked by a check's allocations, and by frees while it holds anything
/// (`RECORDED`); never while allocating or freeing, so no thread takes the lock twice.
static RECORDS: Mutex<Recorded> = Mutex::new(Recorded {
    entries: [EMPTY; TABLE],
    len: 0,
});
/// How many entries the table holds: frees skip the lock while it holds none.
static RECORDED: AtomicUsize = AtomicUsize::new(0);

fn records() -> MutexGuard<'static, Recorded> {
    // Nothing panics while the lock is held (the table's code does not).
    RECORDS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn home(address: usize) -> usize {
    (((address >> 4) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TABLE_BITS)) as usize
}

impl Recorded {
    fn insert(&mut self, entry: Entry) -> bool {
        if self.len + 1 >= TABLE {
            return false;
        }
        let mut at = home(entry.address);
        while self.entries[at].address != 0 {
            at = (at + 1) % TABLE;
        }
        self.entries[at] = entry;
        self.len += 1;
        RECORDED.store(self.len, Relaxed);
        true
    }

    fn remove(&mut self, address: usize) -> Option<Entry> {
        let mut at = home(address);
        while self.entries[at].address != address {
            if self.entries[at].address == 0 {
                return None;
            }
            at = (at + 1) % TABLE;
        }
        let removed = self.entries[at];
        // Shift back the entries after it that a lookup would no longer reach past the hole.
        let mut hole = at;
        let mut next = at;
        loop {
            next = (next + 1) % TABLE;
            let entry = self.entries[next];
            if entry.address == 0 {
                break;
            }
            // Whether `entry`'s home lies cyclically in (hole, next]: then it stays.
            let home = home(entry.address);
            let stays = if hole <= next {
                hole < home && home <= next
            } else {
                hole < home || home <= next
            };
            if !stays {
                self.entries[hole] = entry;
                hole = next;
            }
        }
        self.entries[hole] = EMPTY;
        self.len -= 1;
        RECORDED.store(self.len, Relaxed);
        Some(removed)
    }

    /// Forgets what the check marked `mark` leaked: nothing will free it, and its entries
    /// would only make every later free take the lock.
    fn forget_leaks_of(&mut self, mark: usize) {
        let mut at = 0;
        while at < TABLE {
            let entry = self.entries[at];
            if entry.address != 0 && entry.mark == mark {
                // The entry shifted into its place is looked at next.
                self.remove(entry.address);
            } else {
                at += 1;
            }
        }
    }
}

/// Records an allocation of `size` bytes at `memory` if this thread runs a check.
fn allocated(memory: *mut u8, size: usize) -> *mut u8 {
    // `try_with`: a thread's last allocations come after its locals are gone.
    let mark = MARK.try_with(Cell::get).unwrap_or(NONE);
    if let Some(counts) = counts(mark).filter(|_| !memory.is_null()) {
        counts.made.fetch_add(1, Relaxed);
        let entry = Entry {
            address: memory as usize,
            mark,
            size,
        };
        if records().insert(entry) {
            counts.live.fetch_add(1, Relaxed);
        } else {
            counts.unrecorded.fetch_add(1, Relaxed);
        }
    }
    memory
}

/// Forgets the allocation at `memory`, freed (or moved) with `size` named, if a check made it.
fn freed(memory: *mut u8, size: usize) -> Option<Entry> {
    if RECORDED.load(Relaxed) == 0 {
        return None;
    }
    let entry = records().remove(memory as usize)?;
    if let Some(counts) = counts(entry.mark) {
        counts.live.fetch_sub(1, Relaxed);
        if entry.size != size {
            counts.wrong_size.fetch_add(1, Relaxed);
        }
    }
    Some(entry)
}

// SAFETY: every call goes to `System` with the caller's arguments, unchanged (but the size of
// a recorded allocation freed with a wrong one, which is given its own); the records are kept
// apart from the memory, and never allocate.
unsafe impl GlobalAlloc for LeakCheck {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        allocated(unsafe { System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        allocated(unsafe { System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, memory: *mut u8, layout: Layout) {
        // A check's allocation freed with a wrong size is counted, and freed with its own.
        let size = freed(memory, layout.size()).map_or(layout.size(), |entry| entry.size);
        // SAFETY: the caller's contract, passed on, with the size the memory was allocated
        // with if it was recorded.
        unsafe {
            System.dealloc(
                memory,
                Layout::from_size_align_unchecked(size, layout.align()),
            )
        };
    }

    unsafe fn realloc(&self, memory: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The memory keeps the allocation's record (it is the same allocation, grown or
        // shrunk, whoever made it), at its new address: forgotten first, so that no other
        // thread's allocation at the old address meets its entry.
        let entry = freed(memory, layout.size());
        let size = entry.map_or(layout.size(), |entry| entry.size);
        // SAFETY: the caller's contract, passed on, with the size the memory was allocated
        // with if it was recorded.
        let moved = unsafe {
            let layout = Layout::from_size_align_unchecked(size, layout.align());
            System.realloc(memory, layout, new_size)
        };
        let Some(entry) = entry else {
            return moved;
        };
        let Some(counts) = counts(entry.mark) else {
            return moved;
        };
        if moved.is_null() {
            // The old allocation stays, and so does its record.
            if records().insert(entry) {
                counts.live.fetch_add(1, Relaxed);
            }
            return moved;
        }
        let entry = Entry {
            address: moved as usize,
            mark: entry.mark,
            size: new_size,
        };
        if records().insert(entry) {
            counts.live.fetch_add(1, Relaxed);
        } else {
            counts.unrecorded.fetch_add(1, Relaxed);
        }
        moved
    }
}

/// Runs `work` on this thread, and says whether everything it allocated on this thread is
/// freed by its end (on any thread), each allocation with the size it was allocated with.
/// A panic of `work` goes on, once the check is over.
///
/// # Errors
/// What was left (how many allocations, still live), or freed with another size; or that
/// [`LeakCheck`] is not the global allocator (nothing was counted: every check allocates).
pub fn leak_checked<R>(work: impl FnOnce() -> R) -> Result<R, String> {
    let generation = GENERATIONS.fetch_add(1, Relaxed) % (usize::MAX / CHECKS) + 1;
    let slot = (0..CHECKS)
        .find(|&slot| {
            COUNTS[slot]
                .used
                .compare_exchange(false, true, Relaxed, Relaxed)
                .is_ok()
        })
        .expect("more leak checks at once than there are counts for");
    let counts = &COUNTS[slot];
    counts.made.store(0, Relaxed);
    counts.live.store(0, Relaxed);
    counts.wrong_size.store(0, Relaxed);
    counts.unrecorded.store(0, Relaxed);
    counts.generation.store(generation, Relaxed);
    let before = MARK.with(|mark| mark.replace(generation * CHECKS + slot));
    let outcome = catch_unwind(AssertUnwindSafe(work));
    MARK.with(|mark| mark.set(before));
    let (made, live, wrong_size, unrecorded) = (
        counts.made.load(Relaxed),
        counts.live.load(Relaxed),
        counts.wrong_size.load(Relaxed),
        counts.unrecorded.load(Relaxed),
    );
    // Frees of what this check leaked count against no one from here on.
    counts.generation.store(0, Relaxed);
    if live != 0 {
        records().forget_leaks_of(generation * CHECKS + slot);
    }
    counts.used.store(false, Relaxed);
    let result = outcome.unwrap_or_else(|payload| resume_unwind(payload));
    if made == 0 {
        return Err(
            "the leak check counted no allocation: `LeakCheck` is not the global allocator".into(),
        );
    }
    if unrecorded != 0 {
        return Err(format!(
            "{unrecorded} of the {made} allocations made found no room in the leak check's table"
        ));
    }
    if live != 0 {
        return Err(format!(
            "{live} of the {made} allocations made are still live: a leak"
        ));
    }
    if wrong_size != 0 {
        return Err(format!(
            "{wrong_size} allocations were freed with another size than they were made with"
        ));
    }
    Ok(result)
}
