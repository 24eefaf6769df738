//! The memory a DAG keeps between its runs, so that a run allocates nothing after the first.
//!
//! A run needs two blocks: the run block (the arena of node futures and outputs, a state per
//! task and the ready queue's buffer, laid out once when the DAG is built) and the waker block.
//! When a run is done with one, it leaves it here (one of each at most); the next run of the
//! same DAG takes it instead of allocating. Runs that
//! overlap (concurrent runs of one `Dag`) find it held and allocate their own. A waker
//! block comes back only if no waker of it is still alive (see `WakeQueue`'s drop).
//!
//! Each place holds a raw pointer to an allocation whose layout the DAG fixes (the run block's
//! layout, the waker block's), null (empty),
//! or the held mark (the address of a `static`, never an allocation's): a run holds the place. Taking swaps in the mark and
//! gives the taker a [`Ticket`] unless the mark was there already; only a ticket's holder puts
//! a block back (or empties the place), with a plain store, so a run costs one atomic
//! read-modify-write per place. An allocation is owned by exactly one of the cache or a run;
//! runs that overlap (concurrent runs of one `Dag`) find the mark, allocate, and free theirs
//! at the end. `Acquire`/`Release` hand over the memory's contents with the pointer. A run
//! that is leaked (`mem::forget`) leaves its places marked: later runs allocate, as if they
//! overlapped it.

use alloc::alloc::dealloc;
use core::alloc::Layout;
use core::ptr::{self, NonNull};

use portable_atomic::{AtomicPtr, Ordering};

/// One place of the cache: an allocation, null, or the held mark.
pub(crate) struct Place<T>(AtomicPtr<T>);

/// The right to put a block back in a [`Place`] (or to empty it): one per take that found no
/// other run holding it. Used once: `leave` and `give_up` consume it.
#[must_use]
#[derive(Debug)]
pub(crate) struct Ticket(bool);

impl Ticket {
    /// No right to the place (a run that allocated because another held it, or none cached).
    pub(crate) const NONE: Ticket = Ticket(false);

    /// Whether this is the right to a place (to carry it where a `Ticket` cannot go: a waker
    /// block's header, see [`carried`](Self::carried)).
    pub(crate) fn held(&self) -> bool {
        self.0
    }

    /// The ticket that [`held`](Self::held) said a block's maker had, taken back where it was
    /// carried (once: the block's header is read by the run that made it, at its end).
    pub(crate) fn carried(held: bool) -> Ticket {
        Ticket(held)
    }
}

impl<T> Place<T> {
    const fn empty() -> Self {
        Place(AtomicPtr::new(ptr::null_mut()))
    }

    /// The mark of a place that a run holds: the address of a `static`, which no allocation
    /// has; only ever compared, never read through.
    fn held_mark() -> *mut T {
        static HELD: u8 = 0;
        ptr::from_ref(&HELD).cast_mut().cast()
    }

    /// The allocation left here, if any (the caller owns it now), and the ticket to put one
    /// back, unless another run holds the place.
    pub(crate) fn take(&self) -> (Option<NonNull<T>>, Ticket) {
        let old = self.0.swap(Self::held_mark(), Ordering::Acquire);
        if old == Self::held_mark() {
            (None, Ticket::NONE)
        } else {
            (NonNull::new(old), Ticket(true))
        }
    }

    /// Leaves `memory` here with `ticket`, or gives it back without one.
    pub(crate) fn leave(&self, ticket: Ticket, memory: NonNull<T>) -> Result<(), NonNull<T>> {
        if ticket.0 {
            // No one else writes the place while we hold it.
            self.0.store(memory.as_ptr(), Ordering::Release);
            Ok(())
        } else {
            Err(memory)
        }
    }

    /// Empties the place with `ticket` (its holder keeps no block for the next run).
    pub(crate) fn give_up(&self, ticket: Ticket) {
        if ticket.0 {
            self.0.store(ptr::null_mut(), Ordering::Release);
        }
    }

    /// What is left here, for the cache's drop (which has `&mut`: no run holds the place).
    fn held(&mut self) -> Option<NonNull<T>> {
        let memory = *self.0.get_mut();
        if memory == Self::held_mark() {
            return None;
        }
        NonNull::new(memory)
    }
}

/// What a DAG keeps for its next run.
pub(crate) struct RunCache {
    /// The run block (laid out as `block_layout`: the arena, the states, the ready queue's
    /// buffer; nothing is kept for a zero-sized one).
    pub(crate) block: Place<u8>,
    block_layout: Layout,
    /// A waker block with no waker alive, for `tasks` tasks.
    pub(crate) wakes: Place<u8>,
    tasks: usize,
}

impl RunCache {
    /// An empty cache for runs of `tasks` tasks whose run block is laid out as `block`.
    pub(crate) const fn new(block: Layout, tasks: usize) -> Self {
        RunCache {
            block: Place::empty(),
            block_layout: block,
            wakes: Place::empty(),
            tasks,
        }
    }
}

impl Drop for RunCache {
    fn drop(&mut self) {
        if let Some(block) = self.block.held() {
            // SAFETY: a run block left by a run: allocated with `block_layout`, holding no
            // value (`Slots` drops every value before leaving it), owned here.
            unsafe { dealloc(block.as_ptr(), self.block_layout) };
        }
        if let Some(block) = self.wakes.held() {
            // SAFETY: a waker block of `tasks` slots, its header initialised, left by a run
            // with no waker alive: owned here, reachable by no one else, not used again.
            unsafe { crate::waker::free_block(block, self.tasks) };
        }
    }
}
