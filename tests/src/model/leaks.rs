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
//! that runs the check makes them. Tests running in parallel each have a check of their own,
//! up to [`CHECKS`] at once.
//!
//! What the work prints while the test harness captures its output grows the harness's
//! buffer, which outlives the check: a check's work prints nothing (the model prints only
//! the problem it returns).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::panic::AssertUnwindSafe;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::alloc::System;
use std::panic::{catch_unwind, resume_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError};

use alloc::format;
use alloc::string::String;

/// The system allocator, recording what a thread allocates while it runs [`leak_checked`].
#[derive(Debug)]
pub struct LeakCheck;

/// How many checks can run at once (test threads).
pub const CHECKS: usize = 64;

/// One check's counts.
#[derive(Clone, Copy)]
struct Counts {
    /// Which check holds them (a new number at each claim, 0 when none does): frees of what an
    /// earlier check leaked do not count against a later one.
    generation: usize,
    /// Allocations the check made, freed or not.
    made: usize,
    /// Allocations the check made that are still live.
    live: usize,
    /// Frees (or reallocations) of the check's allocations that named another size than the
    /// allocation's.
    wrong_size: usize,
    /// Allocations the table had no room to record.
    unrecorded: usize,
}

const FREE: Counts = Counts {
    generation: 0,
    made: 0,
    live: 0,
    wrong_size: 0,
    unrecorded: 0,
};

std::thread_local! {
    /// The mark this thread gives its allocations now ([`NONE`]: no check is under way).
    static MARK: Cell<usize> = const { Cell::new(NONE) };
}

/// The mark of an allocation no check made. Any other names the check that made it: its
/// generation times [`CHECKS`], plus its slot in `Recorded::checks`.
const NONE: usize = 0;

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
/// deletion by shifting back, so that a lookup stops at the first empty entry), and the
/// checks' counts. Each count changes, and a check starts and ends, under the lock, so that
/// a free racing the end of a check counts against that check or against none.
struct Recorded {
    entries: [Entry; TABLE],
    len: usize,
    checks: [Counts; CHECKS],
    generations: usize,
}

/// The table. Locked by a check's allocations, by frees while it holds anything
/// (`RECORDED`), and as a check starts and ends; never while allocating or freeing, so no
/// thread takes the lock twice.
static RECORDS: Mutex<Recorded> = Mutex::new(Recorded {
    entries: [EMPTY; TABLE],
    len: 0,
    checks: [FREE; CHECKS],
    generations: 0,
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
    /// The counts of the check that made an allocation marked `mark`, if that check is still
    /// under way.
    fn counts(&mut self, mark: usize) -> Option<&mut Counts> {
        let counts = &mut self.checks[mark % CHECKS];
        (mark != NONE && counts.generation == mark / CHECKS).then_some(counts)
    }

    /// Records an allocation of the check that marked it, if that check is under way.
    fn record(&mut self, entry: Entry) {
        if self.counts(entry.mark).is_none() {
            return;
        }
        let recorded = self.insert(entry);
        let counts = &mut self.checks[entry.mark % CHECKS];
        if recorded {
            counts.live += 1;
        } else {
            counts.unrecorded += 1;
        }
    }

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

    /// Forgets the allocation at `address`, freed (or moved) with `size` named, if a check
    /// made it; counts it against that check if it is still under way.
    fn forget(&mut self, address: usize, size: usize) -> Option<Entry> {
        let entry = self.remove(address)?;
        if let Some(counts) = self.counts(entry.mark) {
            counts.live -= 1;
            if entry.size != size {
                counts.wrong_size += 1;
            }
        }
        Some(entry)
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

/// This thread's mark, if it runs a check.
fn mark() -> Option<usize> {
    // `try_with`: a thread's last allocations come after its locals are gone.
    Some(MARK.try_with(Cell::get).unwrap_or(NONE)).filter(|&mark| mark != NONE)
}

/// Records an allocation of `size` bytes at `memory` if this thread runs a check.
fn allocated(memory: *mut u8, size: usize) -> *mut u8 {
    if let Some(mark) = mark().filter(|_| !memory.is_null()) {
        let mut records = records();
        if let Some(counts) = records.counts(mark) {
            counts.made += 1;
        }
        records.record(Entry {
            address: memory as usize,
            mark,
            size,
        });
    }
    memory
}

/// Forgets the allocation at `memory`, freed (or moved) with `size` named, if a check made it.
fn freed(memory: *mut u8, size: usize) -> Option<Entry> {
    if RECORDED.load(Relaxed) == 0 {
        return None;
    }
    records().forget(memory as usize, size)
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
        if let Some(entry) = entry {
            // Recorded again if its check is still under way (a failed move leaves the
            // allocation where it was, with its size).
            records().record(match moved.is_null() {
                true => entry,
                false => Entry {
                    address: moved as usize,
                    size: new_size,
                    ..entry
                },
            });
        }
        moved
    }
}

/// Runs `work` on this thread, and says whether everything it allocated on this thread is
/// freed by its end (on any thread), each allocation with the size it was allocated with.
/// Returns what `work` returned, and that verdict: what `work` returns is still live as the
/// check ends, so a caller reads it first (an error message it allocated is a leak to the
/// verdict, and the message is the news). A panic of `work` goes on, once the check is over.
///
/// # Errors
/// The verdict is what was left (how many allocations, still live), or freed with another
/// size; or that [`LeakCheck`] is not the global allocator (nothing was counted).
///
/// # Panics
/// If more than [`CHECKS`] checks are under way at once.
pub fn leak_checked<R>(work: impl FnOnce() -> R) -> (R, Result<(), String>) {
    let mark = {
        let mut records = records();
        records.generations = records.generations % (usize::MAX / CHECKS - 1) + 1;
        let generation = records.generations;
        let slot = (0..CHECKS)
            .find(|&slot| records.checks[slot].generation == 0)
            .expect("more leak checks at once than there are counts for");
        records.checks[slot] = Counts { generation, ..FREE };
        generation * CHECKS + slot
    };
    let before = MARK.with(|current| current.replace(mark));
    let outcome = catch_unwind(AssertUnwindSafe(work));
    MARK.with(|current| current.set(before));
    let counts = {
        let mut records = records();
        let counts = records.checks[mark % CHECKS];
        // Frees of what this check leaked count against no one from here on.
        records.checks[mark % CHECKS] = FREE;
        if counts.live != 0 {
            records.forget_leaks_of(mark);
        }
        counts
    };
    let result = outcome.unwrap_or_else(|payload| resume_unwind(payload));
    let Counts {
        made,
        live,
        wrong_size,
        unrecorded,
        ..
    } = counts;
    let verdict = if made == 0 {
        Err("the leak check counted no allocation: `LeakCheck` is not the global allocator".into())
    } else if unrecorded != 0 {
        Err(format!(
            "{unrecorded} of the {made} allocations made found no room in the leak check's table"
        ))
    } else if live != 0 {
        Err(format!(
            "{live} of the {made} allocations made are still live: a leak"
        ))
    } else if wrong_size != 0 {
        Err(format!(
            "allocations freed with another size than they were made with: {wrong_size}"
        ))
    } else {
        Ok(())
    };
    (result, verdict)
}

/// [`leak_checked`] of work that says what went wrong, if anything: its problem first (a
/// message it allocated is still live as the check ends), else the leak check's verdict.
///
/// # Errors
/// The work's problem, or the leak check's.
pub fn leak_checked_result<T>(work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let (result, verdict) = leak_checked(work);
    let value = result?;
    verdict.map(|()| value)
}
