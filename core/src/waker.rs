//! The run's waker block: one allocation holding a header and one small slot per task.
//!
//! A task's [`Waker`] points at its slot. Waking it marks the slot queued (a second wake
//! while it is queued does nothing), pushes the task's index on a lock-free stack in the
//! header, and wakes the run's parent waker if the stack was empty. The run drains the whole
//! stack at once. A wake is O(1), never allocates and never frees memory.
//!
//! The block is reference counted: the run holds one reference and every `Waker` clone one
//! more, so a waker that outlives its run stays valid. When the run ends it *closes* the block:
//! later wakes do nothing, and the last reference frees it.
//!
//! A wake carries no judgement of the task's state: a waker of a task that has completed,
//! failed or been skipped still queues its index (a *stale* wake), and the run ignores it when
//! it pops it (`Slots::poll_task`). So a wake is legal at any moment, from any thread, by
//! reference or by value, during the task's own poll or after it.
//!
//! # Layout of the block
//!
//! ```text
//! +-------------------------------+------------------+------------------+-----
//! | Header                        | Slot 0           | Slot 1           | ...  len slots
//! | refs, head, closed, len,      | index: 0         | index: 1         |
//! | parent (the run's waker)      | next: IDLE/…     | next: IDLE/…     |
//! +-------------------------------+------------------+------------------+-----
//! ^ Block (provenance of it all)  ^ SLOTS_OFFSET: a waker's data points at its slot
//! ```

use alloc::alloc::{alloc, dealloc, handle_alloc_error};
use core::alloc::Layout;
use core::mem::{ManuallyDrop, align_of, size_of};
use core::ptr::NonNull;
use core::task::{RawWaker, RawWakerVTable, Waker};

use crate::cache::{RunCache, Ticket};
use crate::ready::ReadyQueue;
use crate::slots::Lent;
use crate::sync::{AtomicU32, AtomicUsize, Ordering, ParentWaker, fence};

/// `Slot::next` of a task that is not queued.
const IDLE: u32 = u32::MAX;
/// The end of the stack (and `Header::head` of an empty stack).
const END: u32 = u32::MAX - 1;
/// The number of tasks a block can hold: indexes stay below both sentinels.
pub(crate) const MAX_TASKS: usize = (u32::MAX - 2) as usize;

/// # Invariants
/// - `refs` counts the `WakeQueue` and every live `Waker` clone; the block is freed when it
///   drops to zero, with the layout given by `len`.
/// - A slot is on the stack (or owned by the run after a drain) exactly while its `next` is
///   not `IDLE`; only the thread that moved it away from `IDLE` writes its `next` until the run
///   drains it, and then only the run writes it until it stores `IDLE` again.
#[repr(C)]
struct Header {
    refs: AtomicUsize,
    /// Top of the stack of woken tasks, `END` when empty.
    head: AtomicU32,
    /// 1 once the run has ended: wakes do nothing.
    closed: AtomicU32,
    len: u32,
    parent: ParentWaker,
}

#[repr(C)]
struct Slot {
    index: u32,
    next: AtomicU32,
}

/// Offset of the first slot from the start of the block.
const SLOTS_OFFSET: usize = size_of::<Header>().next_multiple_of(align_of::<Slot>());

fn block_layout(len: usize) -> Layout {
    let size = size_of::<Slot>()
        .checked_mul(len)
        .and_then(|slots| slots.checked_add(SLOTS_OFFSET))
        .expect("dagfut: waker block size overflows usize");
    Layout::from_size_align(size, align_of::<Header>()).expect("dagfut: waker block too large")
}

/// A pointer to a live block. All pointers into the block are derived from this one, which
/// carries the provenance of the whole allocation (a `&Header` covers only the header).
#[derive(Clone, Copy)]
struct Block(NonNull<Header>);

impl Block {
    fn header(&self) -> &Header {
        // SAFETY: a `Block` is only made for a live block (the caller holds a reference).
        unsafe { self.0.as_ref() }
    }

    fn slot_ptr(self, index: u32) -> *const Slot {
        self.0
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(SLOTS_OFFSET + index as usize * size_of::<Slot>())
            .cast::<Slot>()
            .cast_const()
    }

    fn slot(&self, index: u32) -> &Slot {
        // Every index the run passes is a task index, and a waker's is its own slot's: this
        // never fails, but an out-of-range index would read outside the block.
        assert!(index < self.header().len, "dagfut: waker slot out of range");
        // SAFETY: the block holds `len` initialised slots after the header (`WakeQueue::new`)
        // and `index` is below `len`.
        unsafe { &*self.slot_ptr(index) }
    }

    /// Finds the block and the index of the slot a waker points to.
    ///
    /// # Safety
    /// `data` is the data pointer of a waker made by [`WakeQueue::waker`] (or a clone of
    /// one) whose reference is still held.
    unsafe fn from_waker_data(data: *const ()) -> (Block, u32) {
        let slot = data.cast::<Slot>();
        // SAFETY: per the contract, `slot` points to a slot of a live block.
        let index = unsafe { (*slot).index };
        // SAFETY: slot `index` sits at `SLOTS_OFFSET + index * size_of::<Slot>()` from the
        // start of its block, and `data` carries the provenance of the whole block
        // (`Block::slot_ptr`), so stepping back stays inside the allocation.
        let header = unsafe {
            slot.cast::<u8>()
                .sub(SLOTS_OFFSET + index as usize * size_of::<Slot>())
                .cast::<Header>()
        };
        // SAFETY: derived from a non-null pointer into a live allocation.
        (
            Block(unsafe { NonNull::new_unchecked(header.cast_mut()) }),
            index,
        )
    }

    fn wake(self, index: u32) {
        let header = self.header();
        if header.closed.load(Ordering::Acquire) != 0 {
            return;
        }
        let slot = self.slot(index);
        // Claim the slot: only one waker pushes it until the run takes it off again.
        if slot
            .next
            .compare_exchange(IDLE, END, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let mut head = header.head.load(Ordering::Relaxed);
        loop {
            slot.next.store(head, Ordering::Relaxed);
            match header.head.compare_exchange_weak(
                head,
                index,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(current) => head = current,
            }
        }
        // Only the wake that found the stack empty wakes the parent: every later push is
        // drained by the poll that this wake causes.
        if head == END {
            header.parent.wake();
        }
    }
}

/// Increments the reference count of the block that `header` points to.
fn acquire(header: &Header) {
    let old = header.refs.fetch_add(1, Ordering::Relaxed);
    if old > isize::MAX as usize {
        // As `Arc` does: an overflowing count would free a live block, so stop the program.
        abort("dagfut: waker reference count overflow");
    }
}

/// Decrements the reference count and frees the block when it was the last one.
///
/// # Safety
/// `header` points to a live block and the caller gives up one reference it owns.
unsafe fn release(header: NonNull<Header>) {
    // SAFETY: the caller owns a reference, so the block is live.
    let len = unsafe { header.as_ref() }.len;
    // SAFETY: as above.
    if unsafe { header.as_ref() }
        .refs
        .fetch_sub(1, Ordering::Release)
        != 1
    {
        return;
    }
    // Every other owner's last use happens before this point (the `Release` decrements,
    // made visible by this fence), so no one can touch the block any more.
    fence(Ordering::Acquire);
    // SAFETY: the count reached zero: this is the only reference. The header (which holds the
    // parent waker) is dropped, then the memory freed with the layout it was allocated with.
    unsafe {
        core::ptr::drop_in_place(header.as_ptr());
        dealloc(header.as_ptr().cast(), block_layout(len as usize));
    }
}

/// Frees a block that a run left in the cache (no waker of it alive, its parent waker taken).
///
/// # Safety
/// `block` is such a block, of `len` slots, owned by the caller and not used again.
pub(crate) unsafe fn free_kept_block(block: NonNull<u8>, len: usize) {
    // SAFETY: as the caller guarantees: the header is initialised, no one else can reach it,
    // and the block was allocated with `block_layout(len)`.
    unsafe {
        core::ptr::drop_in_place(block.as_ptr().cast::<Header>());
        dealloc(block.as_ptr(), block_layout(len));
    }
}

fn abort(message: &str) -> ! {
    // A panic while panicking aborts the process, on `std` and `no_std` alike.
    struct PanicOnDrop<'m>(&'m str);
    impl Drop for PanicOnDrop<'_> {
        fn drop(&mut self) {
            panic!("{}", self.0);
        }
    }
    let _bomb = PanicOnDrop(message);
    panic!("{}", message);
}

static VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_waker, wake_by_ref_waker, drop_waker);

unsafe fn clone_waker(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds a reference.
    let (block, _) = unsafe { Block::from_waker_data(data) };
    acquire(block.header());
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake_waker(data: *const ()) {
    /// Gives up the consumed waker's reference even if waking the parent panics.
    struct Release(*const ());
    impl Drop for Release {
        fn drop(&mut self) {
            // SAFETY: the consumed waker's reference, given up exactly once, here.
            unsafe { drop_waker(self.0) };
        }
    }
    let release = Release(data);
    // SAFETY: the waker being consumed holds a reference until `release` drops.
    unsafe { wake_by_ref_waker(release.0) };
}

unsafe fn wake_by_ref_waker(data: *const ()) {
    // SAFETY: the waker holds a reference.
    let (block, index) = unsafe { Block::from_waker_data(data) };
    block.wake(index);
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker holds a reference, which it gives up here.
    let (block, _) = unsafe { Block::from_waker_data(data) };
    // SAFETY: as above.
    unsafe { release(block.0) };
}

/// The run's handle on its waker block (it owns one reference).
pub(crate) struct WakeQueue<'a> {
    block: Block,
    /// Where the block goes when the run ends with no waker of it alive (none in unit tests;
    /// never under loom, whose atomics live in one model execution).
    cache: Option<Lent<'a, RunCache>>,
    /// The right to leave the block there.
    ticket: Ticket,
    /// Whether a parent's waker was ever registered (else there is none to take at the end).
    registered: bool,
}

// SAFETY: every field of the block that several threads touch is atomic (or the parent's
// `AtomicWaker`); the non-atomic fields (`len`, slot indexes) are written before the block is
// shared and never again.
unsafe impl Send for WakeQueue<'_> {}
// SAFETY: as above.
unsafe impl Sync for WakeQueue<'_> {}

impl<'a> WakeQueue<'a> {
    /// A block for `len` tasks, none queued: the one a run before left in `cache` if there is
    /// one (and it goes back there), or a new one.
    pub(crate) fn new(len: usize, cache: Option<&'a RunCache>) -> Self {
        assert!(
            len <= MAX_TASKS,
            "dagfut: a DAG holds at most {MAX_TASKS} tasks"
        );
        let layout = block_layout(len);
        let (kept, ticket) = match cache {
            Some(cache) => cache.wakes.take(),
            None => (None, Ticket::NONE),
        };
        let block = match kept {
            Some(block) => {
                // SAFETY: a block left by `Drop` with no waker alive, of this layout: its
                // header was written by `new` and is ours alone; dropped here, then written
                // anew below.
                unsafe { core::ptr::drop_in_place(block.as_ptr().cast::<Header>()) };
                block
            }
            None => {
                // SAFETY: the layout has a non-zero size (the header is not zero-sized).
                let block = unsafe { alloc(layout) };
                NonNull::new(block).unwrap_or_else(|| handle_alloc_error(layout))
            }
        };
        let header = block.cast::<Header>();
        // SAFETY: `block` is a fresh or kept allocation of `block_layout(len)`, no one else's:
        // the header fits at its start, aligned, and `len` slots follow it at `SLOTS_OFFSET`.
        unsafe {
            header.as_ptr().write(Header {
                refs: AtomicUsize::new(1),
                head: AtomicU32::new(END),
                closed: AtomicU32::new(0),
                len: len as u32,
                parent: ParentWaker::default(),
            });
            let slots = block.as_ptr().add(SLOTS_OFFSET).cast::<Slot>();
            for index in 0..len {
                slots.add(index).write(Slot {
                    index: index as u32,
                    next: AtomicU32::new(IDLE),
                });
            }
        }
        WakeQueue {
            block: Block(header),
            cache: cache.map(Lent::new),
            ticket,
            registered: false,
        }
    }

    fn header(&self) -> &Header {
        self.block.header()
    }

    /// Registers the waker of the task polling the run.
    pub(crate) fn register(&mut self, waker: &Waker) {
        self.registered = true;
        self.header().parent.register(waker);
    }

    /// Whether a task was woken since the last drain. Called after `register`: a wake that
    /// pushed before the registration is seen here, one that pushes after it wakes the newly
    /// registered waker (`AtomicWaker`'s contract).
    pub(crate) fn has_wakes(&self) -> bool {
        self.header().head.load(Ordering::Acquire) != END
    }

    /// Moves every woken task to the back of `ready`, oldest wake first. Returns how many.
    pub(crate) fn drain_into(&self, ready: &mut ReadyQueue<'_>) -> usize {
        let header = self.header();
        if header.head.load(Ordering::Relaxed) == END {
            return 0;
        }
        let mut top = header.head.swap(END, Ordering::Acquire);
        // The taken list is ours now (its slots are not IDLE, so no waker writes them):
        // reverse it in place so the oldest wake is polled first.
        let mut reversed = END;
        while top != END {
            let slot = self.block.slot(top);
            let next = slot.next.load(Ordering::Relaxed);
            slot.next.store(reversed, Ordering::Relaxed);
            reversed = top;
            top = next;
        }
        let mut count = 0;
        while reversed != END {
            ready.push(reversed);
            count += 1;
            reversed = self.block.slot(reversed).next.load(Ordering::Relaxed);
        }
        count
    }

    /// Marks `index` not queued, just before it is polled: a wake from now on queues it again.
    pub(crate) fn mark_polled(&self, index: u32) {
        // Relaxed is enough: a wake that must see this store happens after the task's poll,
        // which comes after this store in program order.
        self.block.slot(index).next.store(IDLE, Ordering::Relaxed);
    }

    /// The waker of task `index`, borrowed from the run (it holds no reference of its own, so
    /// it must not be dropped as a `Waker`; cloning it takes a reference).
    pub(crate) fn waker(&self, index: u32) -> ManuallyDrop<Waker> {
        assert!(index < self.header().len, "dagfut: waker slot out of range");
        // Derived from the block pointer, not from a `&Slot`: the waker steps back to the
        // header from it (`Block::from_waker_data`).
        let data = self.block.slot_ptr(index).cast::<()>();
        // SAFETY: the vtable's functions uphold the `RawWaker` contract for slot pointers of a
        // live block: clone takes a reference, drop gives one up, wake is thread-safe. The
        // borrowed waker is never dropped (`ManuallyDrop`), matching the reference it does
        // not own, and it cannot outlive `self` in a way that matters: any clone owns its own
        // reference.
        ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) })
    }

    /// The block's reference count (for tests).
    #[cfg(test)]
    pub(crate) fn ref_count(&self) -> usize {
        self.header().refs.load(Ordering::Relaxed)
    }
}

impl Drop for WakeQueue<'_> {
    fn drop(&mut self) {
        /// Gives up the queue's reference even if dropping the parent's waker panics.
        struct Release(NonNull<Header>);
        impl Drop for Release {
            fn drop(&mut self) {
                // SAFETY: the queue's own reference, given up exactly once, here.
                unsafe { release(self.0) };
            }
        }
        let release = Release(self.block.0);
        let ticket = core::mem::replace(&mut self.ticket, Ticket::NONE);
        let header = self.header();
        header.closed.store(1, Ordering::Release);
        // Let go of the parent's waker now: a late wake finds nothing to wake. (Never
        // registered: the slot is empty, as the block's header was written by this run.) It is
        // dropped last, so that a waker whose drop panics cannot strand the ticket.
        let parent = if self.registered {
            header.parent.take()
        } else {
            None
        };
        // With no waker of the block alive, no one can reach it but us: the next run may
        // have it. `Acquire` pairs with the `Release` of the last other reference's drop, so
        // every access of that waker happened before. (Not under loom: its atomics live in one
        // model's execution only.)
        if let Some(cache) = self.cache {
            let place = &cache.get().wakes;
            #[cfg(not(dagfut_loom))]
            let unreachable = header.refs.load(Ordering::Acquire) == 1;
            #[cfg(dagfut_loom)]
            let unreachable = false;
            if !unreachable {
                place.give_up(ticket);
            } else if place.leave(ticket, self.block.0.cast()).is_ok() {
                // The cache owns the block and its one reference now.
                core::mem::forget(release);
                drop(parent);
                return;
            }
        }
        drop(release);
        drop(parent);
    }
}

impl core::fmt::Debug for WakeQueue<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WakeQueue")
            .field("tasks", &self.header().len)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_are_coalesced_and_drained_oldest_first() {
        let queue = WakeQueue::new(4, None);
        let w2 = queue.waker(2);
        let w0 = queue.waker(0);
        w2.wake_by_ref();
        w0.wake_by_ref();
        w2.wake_by_ref();
        let mut ready = ReadyQueue::new(4, None);
        assert_eq!(queue.drain_into(&mut ready), 2);
        assert_eq!(ready.queued_since(0), [2, 0]);
        // The run polls them as one batch, in index order.
        assert_eq!((ready.pop(), ready.pop()), (Some(0), Some(2)));
        // Still queued (owned by the run) until polled: a wake now is absorbed.
        w2.wake_by_ref();
        assert_eq!(queue.drain_into(&mut ready), 0);
        queue.mark_polled(2);
        w2.wake_by_ref();
        assert_eq!(queue.drain_into(&mut ready), 1);
    }

    #[test]
    fn clones_keep_the_block_alive_after_the_run() {
        let queue = WakeQueue::new(2, None);
        let clone = (*queue.waker(1)).clone();
        assert_eq!(queue.ref_count(), 2);
        drop(queue);
        // The block is closed but still allocated: waking does nothing, dropping frees it.
        clone.wake_by_ref();
        clone.wake();
    }
}
