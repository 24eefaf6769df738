//! The memory a DAG keeps between its runs, so that a run allocates nothing after the first.
//!
//! A run needs two blocks: the run block (the arena of node futures and outputs, a state per
//! task and the ready queue's buffer, laid out once when the DAG is built) and the waker block.
//! When a run is done with one, it leaves it in a [`Pool`] of places (one pool for each kind of
//! block); the next run of the same DAG takes it instead of allocating. Runs that overlap
//! (concurrent runs of one `Dag`, as a service runs one DAG for each request it serves) each
//! hold a place of their own, so as many runs at once as a pool has places allocate nothing
//! once each place has a block; a run that finds every place held allocates its own and frees
//! it at its end. A waker block comes back only if no waker of it is still alive (see
//! `WakeQueue`'s drop).
//!
//! Each place holds a raw pointer to an allocation whose layout the DAG fixes (the run block's
//! layout, the waker block's), null (empty), or the held mark (the address of a `static`,
//! never an allocation's): a run holds the place. Taking swaps in the mark and gives the taker
//! a [`Ticket`] naming the place unless the mark was there already; only a ticket's holder
//! puts a block back (or empties the place), with a plain store, so a run that finds a place
//! free costs one atomic read-modify-write per pool. A place that a plain load finds held is
//! passed over without one. An allocation is owned by exactly one of the cache or a run.
//! `Acquire`/`Release` hand over the memory's contents with the pointer. A run that is leaked
//! (`mem::forget`) leaves its places marked: later runs use the other places, or allocate.

use alloc::alloc::dealloc;
use alloc::boxed::Box;
use core::alloc::Layout;
use core::ptr::{self, NonNull};

use crate::sync::{AtomicPtr, Ordering};

/// One place of the cache: an allocation, null, or the held mark.
pub(crate) struct Place<T>(AtomicPtr<T>);

/// How many runs at once a `Dag` keeps memory for, unless told otherwise
/// (`Dag::with_kept_runs`).
pub(crate) const DEFAULT_KEPT_RUNS: usize = 8;

/// The right to put a block back in one place of a [`Pool`] (or to empty it): one per take
/// that found a place no other run held. Used once: `leave` and `give_up` consume it. Holds
/// the place's index plus one, 0 for no place.
#[must_use]
#[derive(Debug)]
pub(crate) struct Ticket(u32);

impl Ticket {
    /// No right to a place (a run that allocated because every place was held).
    pub(crate) const NONE: Ticket = Ticket(0);

    /// The ticket as a number, to carry it where a `Ticket` cannot go: a waker block's header
    /// (see [`carried`](Self::carried)).
    pub(crate) fn carry(&self) -> u32 {
        self.0
    }

    /// The ticket that [`carry`](Self::carry) made a number of, taken back where it was
    /// carried (once: the block's header is read by the run that made it, at its end).
    pub(crate) fn carried(number: u32) -> Ticket {
        Ticket(number)
    }

    /// The index of its place, if it has one.
    fn place(&self) -> Option<usize> {
        (self.0 as usize).checked_sub(1)
    }
}

impl<T> Place<T> {
    fn empty() -> Self {
        Place(AtomicPtr::new(ptr::null_mut()))
    }

    /// The mark of a place that a run holds: the address of a `static`, which no allocation
    /// has; only ever compared, never read through.
    fn held_mark() -> *mut T {
        static HELD: u8 = 0;
        ptr::from_ref(&HELD).cast_mut().cast()
    }

    /// Puts `memory` (or null) in this place, which the caller's ticket holds.
    #[inline]
    fn put(&self, memory: *mut T) {
        // A plain store: no one else writes a place a run holds but a take that finds it held,
        // whose swap writes the mark that is already there. C11 orders that swap wholly
        // before or after this store (one modification order per atomic), so the next take
        // finds `memory`. Loom's modification order is partial: it lets another thread's swap
        // read the mark past this store, which C11 forbids. Under loom the store is a swap,
        // which loom keeps in order with the others.
        #[cfg(not(dagfut_loom))]
        self.0.store(memory, Ordering::Release);
        #[cfg(dagfut_loom)]
        self.0.swap(memory, Ordering::Release);
    }

    /// What is left here, for the cache's drop (which has `&mut`: no run holds the place).
    fn held(&mut self) -> Option<NonNull<T>> {
        // A plain read would do (`&mut`), but loom's atomics have none.
        let memory = self.0.load(Ordering::Relaxed);
        if memory == Self::held_mark() {
            return None;
        }
        NonNull::new(memory)
    }
}

/// The places where runs leave one kind of block for the runs after them: as many as the
/// runs that may overlap and still allocate nothing. The first is kept inline, so that a run
/// that finds it free (every run, when runs do not overlap) reads nothing else.
pub(crate) struct Pool<T> {
    /// Place 0 (held for good, the mark in it, in a pool of no places).
    first: Place<T>,
    /// Places 1 and on.
    rest: Box<[Place<T>]>,
}

impl<T> Pool<T> {
    /// A pool of `places` empty places.
    fn new(places: usize) -> Self {
        let first = match places {
            0 => Place(AtomicPtr::new(Place::held_mark())),
            _ => Place::empty(),
        };
        let rest = (1..places).map(|_| Place::empty()).collect();
        Pool { first, rest }
    }

    /// The place of index `index` (`Ticket::place`).
    fn place(&self, index: usize) -> &Place<T> {
        match index {
            0 => &self.first,
            _ => &self.rest[index - 1],
        }
    }

    /// The allocation left in the first place that no other run holds, if any (the caller
    /// owns it now), and the ticket to put one back there; no ticket if every place is held.
    #[inline]
    pub(crate) fn take(&self) -> (Option<NonNull<T>>, Ticket) {
        let mark = Place::held_mark();
        let old = self.first.0.swap(mark, Ordering::Acquire);
        if old != mark {
            return (NonNull::new(old), Ticket(1));
        }
        self.take_another()
    }

    /// [`take`](Self::take) past the first place, which another run holds. Out of line: only
    /// runs that overlap come here.
    #[inline(never)]
    fn take_another(&self) -> (Option<NonNull<T>>, Ticket) {
        let mark = Place::held_mark();
        // Ticket 1 is the first place's; there are at most `u32::MAX - 1` places
        // (`Dag::with_kept_runs`), so the numbers fit.
        let mut number = 1u32;
        for place in &self.rest {
            number += 1;
            // A place another run holds is passed over with a plain load. A place freed since
            // is seen at the next take; one taken since is found held by the swap.
            if place.0.load(Ordering::Relaxed) == mark {
                continue;
            }
            let old = place.0.swap(mark, Ordering::Acquire);
            if old != mark {
                return (NonNull::new(old), Ticket(number));
            }
        }
        (None, Ticket::NONE)
    }

    /// Leaves `memory` in the ticket's place, or gives it back if the ticket has none.
    pub(crate) fn leave(&self, ticket: Ticket, memory: NonNull<T>) -> Result<(), NonNull<T>> {
        match ticket.place() {
            Some(index) => {
                self.place(index).put(memory.as_ptr());
                Ok(())
            }
            None => Err(memory),
        }
    }

    /// Empties the ticket's place (its holder keeps no block for the next run).
    pub(crate) fn give_up(&self, ticket: Ticket) {
        if let Some(index) = ticket.place() {
            self.place(index).put(ptr::null_mut());
        }
    }

    /// Every allocation left in the pool, for the cache's drop.
    fn kept(&mut self) -> impl Iterator<Item = NonNull<T>> + '_ {
        core::iter::once(&mut self.first)
            .chain(self.rest.iter_mut())
            .filter_map(Place::held)
    }
}

/// What a DAG keeps for its next runs.
pub(crate) struct RunCache {
    /// Run blocks (laid out as `block_layout`: the arena, the states, the ready queue's
    /// buffer; nothing is kept for a zero-sized one).
    pub(crate) block: Pool<u8>,
    block_layout: Layout,
    /// Waker blocks with no waker alive, for `tasks` tasks.
    pub(crate) wakes: Pool<u8>,
    tasks: usize,
    /// How many places each pool has.
    runs: usize,
}

impl RunCache {
    /// An empty cache for `runs` runs at once of `tasks` tasks, whose run block is laid out
    /// as `block`.
    pub(crate) fn new(block: Layout, tasks: usize, runs: usize) -> Self {
        RunCache {
            block: Pool::new(runs),
            block_layout: block,
            wakes: Pool::new(runs),
            tasks,
            runs,
        }
    }

    /// Keeps the memory of `runs` runs at once from now on, for the same DAG: what it kept
    /// before is freed.
    pub(crate) fn keep_runs(&mut self, runs: usize) {
        *self = RunCache::new(self.block_layout, self.tasks, runs);
    }

    /// How many runs at once it keeps memory for.
    pub(crate) fn runs(&self) -> usize {
        self.runs
    }
}

impl Drop for RunCache {
    fn drop(&mut self) {
        for block in self.block.kept() {
            // SAFETY: a run block left by a run: allocated with `block_layout`, holding no
            // value (`Slots` drops every value before leaving it), owned here.
            unsafe { dealloc(block.as_ptr(), self.block_layout) };
        }
        for block in self.wakes.kept() {
            // SAFETY: a waker block of `tasks` slots, its header initialised, left by a run
            // with no waker alive: owned here, reachable by no one else, not used again.
            unsafe { crate::waker::free_block(block, self.tasks) };
        }
    }
}

/// The pool under loom (`RUSTFLAGS="--cfg dagfut_loom" cargo test -p dagfut --lib
/// cache::loom_models`): runs on three threads at once take, use and leave blocks of a pool of
/// two places, in every interleaving.
#[cfg(all(test, dagfut_loom))]
// Test code on `std`: its `Arc` and `Mutex` are the plain ones next to loom's.
#[allow(clippy::std_instead_of_alloc, clippy::std_instead_of_core)]
mod loom_models {
    use super::{Place, Pool};
    use core::ptr::NonNull;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use loom::thread;
    use std::sync::{Arc, Mutex};
    use std::vec::Vec;

    /// What the threads share: the pool, whose blocks are flags that say a run owns them;
    /// every block ever made (kept alive until the model ends); how many blocks made by a run
    /// went into the pool.
    struct Shared {
        pool: Pool<AtomicBool>,
        made: Mutex<Vec<Arc<AtomicBool>>>,
        left_new: AtomicUsize,
    }

    /// One run: takes a block (or makes one), owns it alone for a while, then leaves it in its
    /// place or lets it go.
    fn run(shared: &Shared) {
        let (kept, ticket) = shared.pool.take();
        let (block, new) = match kept {
            // SAFETY: a block of `made`, alive until the model ends.
            Some(block) => (unsafe { block.as_ref() }, false),
            None => {
                let block = Arc::new(AtomicBool::new(false));
                let pointer = Arc::as_ptr(&block);
                shared.made.lock().unwrap().push(block);
                // SAFETY: as above: `made` keeps it alive.
                (unsafe { &*pointer }, true)
            }
        };
        assert!(
            !block.swap(true, Ordering::Relaxed),
            "two runs hold one block at once"
        );
        block.store(false, Ordering::Relaxed);
        if shared.pool.leave(ticket, NonNull::from(block)).is_ok() && new {
            shared.left_new.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Three threads, two runs each, two places: no block is held by two runs at once, no
    /// place stays held, and every block a run made and left is in the pool at the end (none
    /// lost, none twice).
    #[test]
    fn runs_on_three_threads_share_a_pool_of_two_places() {
        loom::model(|| {
            let shared = Arc::new(Shared {
                pool: Pool::new(2),
                made: Mutex::new(Vec::new()),
                left_new: AtomicUsize::new(0),
            });
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let shared = shared.clone();
                    thread::spawn(move || {
                        run(&shared);
                        run(&shared);
                    })
                })
                .collect();
            run(&shared);
            for thread in threads {
                thread.join().unwrap();
            }
            let mut shared = Arc::into_inner(shared).expect("the threads are done");
            let mark = Place::<AtomicBool>::held_mark();
            let places: Vec<_> = core::iter::once(&mut shared.pool.first)
                .chain(shared.pool.rest.iter_mut())
                .map(|place| place.0.load(Ordering::Relaxed))
                .collect();
            assert!(places.iter().all(|&p| p != mark), "a place stayed held: {places:?}, mark {mark:?}");
            let kept: Vec<_> = places.iter().filter(|p| !p.is_null()).collect();
            assert_eq!(kept.len(), shared.left_new.load(Ordering::Relaxed));
            assert!(kept.len() < 2 || kept[0] != kept[1], "one block in two places");
        });
    }
}

