//! The run's waker block: one allocation holding a header and one small slot per task.
//!
//! A task's [`Waker`] points at its slot. Waking it marks the slot queued (a second wake
//! while it is queued does nothing), pushes the task's index on a lock-free stack in the
//! header, and wakes the run's parent waker if the stack was empty. The run drains the whole
//! stack at once. A wake is O(1), and never allocates memory but the first touch of a proto
//! waker (below), which makes the block. A wake by reference never frees memory; a wake by
//! value gives up its waker's reference, as a drop does, so the wake of the last waker of an
//! ended run frees the block. A wake by value that queues its task behind another wake (so it
//! has no parent to wake) hands its reference to the run instead, with the push (a mark in its
//! slot); the first wake on the stack hands it over as it lets go of the parent's slot (a count
//! in the slot's state word, [`ParentWaker::wake_handing`]). The run gives all such references
//! up at once when it closes the block (or, in a long run, each time the drains have taken over
//! 2^20 of them), which saves each wake its atomic decrement. A wake that hands its reference
//! over touches nothing after the operation that hands it.
//!
//! The block is reference counted: the run holds one reference (and those handed to it) and
//! every `Waker` clone one more, so a waker that outlives its run stays valid. When the run
//! ends with wakers of the block alive it *closes* the block's stack: later wakes do nothing,
//! and the last reference frees it. (With none alive, no wake can come.)
//!
//! The run makes its block only when a node first touches its waker. Until then each node is
//! polled with a *proto* waker that points at a [`Proto`] on the run's stack (the run's queue
//! and the task it is aimed at): the `Proto` lives for one poll of the run and is aimed at each
//! node in turn, each node is lent the proto waker for its own poll only, and its clone or
//! wake makes the block (published with one compare-and-swap, so threads that clone it at once
//! during the poll agree on one block) and then acts as the block's waker of that task. A
//! clone is always a block's waker, so nothing outlives the poll that points at the stack. A
//! run whose nodes are all ready on their first poll makes no block at all.
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
//! | refs, head, len,              | index: 0         | index: 1         |
//! | ticket (cache), handed,       |                  |                  |
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
use crate::parent::ParentWaker;
use crate::sync::{AtomicPtr, AtomicU32, AtomicUsize, Ordering, fence};

/// `Slot::next` of a task that is not queued.
const IDLE: u32 = u32::MAX;
/// Set in a queued slot's `next` (beside its link) by a wake by value that handed its waker's
/// reference to the run with its push. A link with it set is never `IDLE`.
const HANDED: u32 = 1 << 31;
/// The end of the stack (and `Header::head` of an empty stack).
const END: u32 = HANDED - 2;
/// `Header::head` once the run closed the block while wakers of it were alive: no wake pushes
/// any more (a wake by value gives up its own reference then), and what was on the stack is
/// the run's.
const CLOSED: u32 = HANDED - 3;
/// The task a queued slot's `next` links to, and whether its wake handed a reference over.
#[inline(always)]
fn split_link(next: u32) -> (u32, usize) {
    (next & !HANDED, (next / HANDED) as usize)
}

/// The number of tasks a block can hold: indexes stay below the sentinels and clear of
/// `HANDED`.
pub(crate) const MAX_TASKS: usize = CLOSED as usize;
/// How many handed references the run keeps before it gives them up at once, before the end
/// (so that a long run's count stays far from `acquire`'s limit, on 32-bit targets too). Small
/// in the unit tests, whose drains reach it.
const HANDED_LIMIT: usize = if cfg!(test) { 4 } else { 1 << 20 };

/// # Invariants
/// - `refs` counts the `WakeQueue`, every live `Waker` clone, and every reference a wake by
///   value handed to the run (on the stack with `HANDED`, drained and counted in `handed`, or
///   counted in `parent`'s state, [`ParentWaker::handed`]);
///   the block is freed when it drops to zero, with the layout given by `len`.
/// - Until `head` is `CLOSED`, a slot is on the stack (or owned by the run after a drain)
///   exactly while its `next` is not `IDLE`; only the thread that moved it away from `IDLE`
///   writes its `next` until the run drains it, and then only the run writes it until it
///   stores `IDLE` again.
/// - Once `head` is `CLOSED` no wake pushes (nor hands over a reference) any more: a slot
///   that a wake claimed and could not push then stays claimed, on no stack.
#[repr(C)]
struct Header {
    refs: AtomicUsize,
    /// Top of the stack of woken tasks, `END` when empty, `CLOSED` once the run closed it
    /// (wakes do nothing then).
    head: AtomicU32,
    len: u32,
    /// The ticket (`Ticket::carry`) with which the run that made the block may put it back in
    /// the cache: 0 for none (written before the block is published, never after).
    ticket: u32,
    /// How many references the run's drains took over from wakes by value (`HANDED`) and have
    /// not given up yet. Only the run reads and writes it (loads and stores, no
    /// read-modify-write): atomic only so that it may sit in the shared header.
    handed: AtomicUsize,
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
    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: a `Block` is only made for a live block (the caller holds a reference).
        unsafe { self.0.as_ref() }
    }

    #[inline]
    fn slot_ptr(self, index: u32) -> *const Slot {
        self.0
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(SLOTS_OFFSET + index as usize * size_of::<Slot>())
            .cast::<Slot>()
            .cast_const()
    }

    #[inline]
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

    /// Queues task `index` and wakes the parent if this wake is the one to. `by_value`: the
    /// caller gives up a waker's reference after the wake, which the wake may hand to the run
    /// instead (returns `true` then: the caller gives up nothing, and must not touch the block
    /// again, which the run may free at any moment from then on).
    fn wake(self, index: u32, by_value: bool) -> bool {
        let header = self.header();
        // Closed: nothing to queue. (Checked again at the push, which may race the close.)
        if header.head.load(Ordering::Relaxed) == CLOSED {
            return false;
        }
        let slot = self.slot(index);
        // Claim the slot: only one waker pushes it until the run takes it off again.
        if slot
            .next
            .compare_exchange(IDLE, END, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Queued already: the wake that queued it woke the parent, unless that wake's task
            // waker panicked (then this one makes the wake it owes).
            if header.parent.owed() {
                header.parent.wake();
            }
            return false;
        }
        let mut head = header.head.load(Ordering::Relaxed);
        loop {
            if head == CLOSED {
                // The run ended meanwhile: nothing to queue, the reference stays the caller's.
                return false;
            }
            // Behind another wake (which wakes the parent), and no wake owed: the reference
            // goes with the push. (`owed` is read before the push: a wake that hands its
            // reference over reads nothing after it. A wake owed by a panic that comes between
            // this read and the push is made by the next node wake, as one that comes after a
            // wake's read after its push is.)
            let hand = by_value && head != END && !header.parent.owed();
            slot.next.store(
                if hand { head | HANDED } else { head },
                Ordering::Relaxed,
            );
            match header.head.compare_exchange_weak(
                head,
                index,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) if hand => return true,
                Ok(_) => break,
                Err(current) => head = current,
            }
        }
        // Only the wake that found the stack empty wakes the parent: every later push is
        // drained by the poll that this wake causes. Unless that wake's task waker panicked:
        // then the wake is owed, and this one makes it.
        if head == END || header.parent.owed() {
            if by_value {
                // The reference may go with the parent slot's letting go (then nothing of the
                // block is touched after it).
                return header.parent.wake_handing();
            }
            header.parent.wake();
        }
        false
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
    // SAFETY: as the caller guarantees.
    unsafe { release_many(header, 1) };
}

/// Gives up `count` references at once, and frees the block when they were the last ones.
///
/// # Safety
/// `header` points to a live block and the caller gives up `count` (at least one) references
/// it owns.
unsafe fn release_many(header: NonNull<Header>, count: usize) {
    // SAFETY: the caller owns a reference, so the block is live.
    let len = unsafe { header.as_ref() }.len;
    // SAFETY: as above.
    if unsafe { header.as_ref() }
        .refs
        .fetch_sub(count, Ordering::Release)
        != count
    {
        return;
    }
    // Every other owner's last use happens before this point (the `Release` decrements,
    // made visible by this fence), so no one can touch the block any more.
    fence(Ordering::Acquire);
    // SAFETY: the count reached zero: this is the only reference, given up here.
    unsafe { free_block(header.cast(), len as usize) };
}

/// Drops a block's header (the parent's waker it may still hold: one a wake held as the run
/// ended, which that wake could not take out because the task's wake panicked), then frees its
/// memory, even if that waker's drop panics. Also frees a block a run left in the cache.
///
/// # Safety
/// `block` is a block of `len` slots, its header initialised, which no one else can reach and
/// which is not used again.
pub(crate) unsafe fn free_block(block: NonNull<u8>, len: usize) {
    /// Frees the memory as it drops: after the header's drop, or as its panic unwinds.
    struct Free(NonNull<u8>, usize);
    impl Drop for Free {
        fn drop(&mut self) {
            // SAFETY: the block was allocated with `block_layout(len)` (`free_block`'s
            // contract), and its header is dropped (or its drop unwound).
            unsafe { dealloc(self.0.as_ptr(), block_layout(self.1)) };
        }
    }
    let free = Free(block, len);
    // SAFETY: the header is initialised and no one else can reach it (the caller's contract).
    unsafe { core::ptr::drop_in_place(block.as_ptr().cast::<Header>()) };
    drop(free);
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
    // SAFETY: the waker being consumed holds a reference until `release` drops, or until the
    // wake hands it to the run.
    let (block, index) = unsafe { Block::from_waker_data(release.0) };
    if block.wake(index, true) {
        // Handed to the run with the push: nothing to give up, nothing more to touch.
        core::mem::forget(release);
    }
}

unsafe fn wake_by_ref_waker(data: *const ()) {
    // SAFETY: the waker holds a reference.
    let (block, index) = unsafe { Block::from_waker_data(data) };
    block.wake(index, false);
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker holds a reference, which it gives up here.
    let (block, _) = unsafe { Block::from_waker_data(data) };
    // SAFETY: as above.
    unsafe { release(block.0) };
}

/// The run's handle on its waker block, which it makes the first time a node's waker is
/// cloned or woken: a run whose nodes never touch their wakers (every node ready when it is
/// first polled) makes none. Until then a node is polled with a *proto* waker, which points at
/// a [`Proto`] on the run's stack (alive for the run's poll, aimed at the node; the `&Waker`
/// given to the node lives for the node's poll): cloning or waking it makes the block (once:
/// a compare-and-swap publishes it, so two threads cloning at once during the poll agree on
/// one) and goes on as the block's waker of that task. Once the block exists, nodes get its
/// wakers directly. The queue owns one reference of the block.
pub(crate) struct WakeQueue<'a> {
    /// The block, null until made (`block`).
    block: AtomicPtr<Header>,
    len: u32,
    /// Where the block comes from and goes back to when the run ends with no waker of it
    /// alive (none in unit tests, nor under loom, whose atomics live in one model execution).
    cache: Option<Lent<'a, RunCache>>,
    /// Whether a parent's waker is registered in the block (else there is none to take at the
    /// end, and the next poll that waits registers one).
    registered: bool,
}

// SAFETY: every field of the block that several threads touch is atomic (or the parent's
// slot, `ParentWaker`, whose wakers its cells' held bits guard); the non-atomic fields
// (`len`, `ticket`, slot indexes) are written before the block is published and never again.
// `registered` is written through `&mut` only.
unsafe impl Send for WakeQueue<'_> {}
// SAFETY: as above; through `&WakeQueue` (a proto waker's) only the block is made and read.
unsafe impl Sync for WakeQueue<'_> {}

/// What a proto waker points at: the run's queue (borrowed for `'q`: it does not move and
/// is not written through `&mut` meanwhile) and the task being polled. On the run's stack,
/// for one poll of the run: the run aims it at each node it polls with its proto waker.
pub(crate) struct Proto<'q> {
    queue: *const WakeQueue<'static>,
    /// Written by the run between node polls ([`aim`](Self::aim)), when no proto waker is
    /// lent; read by the proto waker's functions, on any thread, only while it is lent (so
    /// never at the same time as written: a thread that holds the lent `&Waker` is joined
    /// before the node's poll returns, its lifetime being that poll's).
    task: core::cell::Cell<u32>,
    _queue: core::marker::PhantomData<&'q ()>,
}

impl<'q> Proto<'q> {
    /// Points its proto waker at task `index`, about to be polled with it.
    #[inline(always)]
    pub(crate) fn aim(&self, index: u32) {
        self.task.set(index);
    }

    /// Its proto waker, lent for one poll (see [`WakeQueue::lend`]: the run lends this one
    /// only while the queue has no block).
    #[inline]
    pub(crate) fn lend(&'q self) -> NodeWaker<'q> {
        let raw = RawWaker::new(core::ptr::from_ref(self).cast::<()>(), &PROTO_VTABLE);
        // SAFETY: the vtable's functions uphold the `RawWaker` contract for a `Proto` whose
        // queue outlives the lent waker (`'q`): clone and wake go through the block they
        // make, and there is nothing to drop. A clone is a block's waker, owning its own
        // reference.
        NodeWaker::new(unsafe { Waker::from_raw(raw) })
    }
}

/// A node's waker for one poll, borrowed (for `'p`) from the queue: the block's waker of the
/// task (holding no reference of its own: the queue's keeps the block), or a proto waker
/// pointing at a [`Proto`] that outlives it.
pub(crate) struct NodeWaker<'p> {
    waker: ManuallyDrop<Waker>,
    _lent: core::marker::PhantomData<&'p ()>,
}

impl NodeWaker<'_> {
    /// `waker`, lent: never dropped, as it owns no reference.
    fn new(waker: Waker) -> Self {
        NodeWaker {
            waker: ManuallyDrop::new(waker),
            _lent: core::marker::PhantomData,
        }
    }
}

impl core::ops::Deref for NodeWaker<'_> {
    type Target = Waker;

    fn deref(&self) -> &Waker {
        &self.waker
    }
}

impl<'a> WakeQueue<'a> {
    /// A queue for `len` tasks, none queued, with no block yet: it will be the one a run
    /// before left in `cache` if there is one (and it goes back there), or a new one.
    #[inline]
    pub(crate) fn new(len: usize, cache: Option<&'a RunCache>) -> Self {
        assert!(
            len <= MAX_TASKS,
            "dagfut: a DAG holds at most {MAX_TASKS} tasks"
        );
        // Under loom a block holds the model's atomics: none may outlive its execution.
        #[cfg(dagfut_loom)]
        let cache = cache.and(None);
        WakeQueue {
            block: AtomicPtr::new(core::ptr::null_mut()),
            // At most `MAX_TASKS` (asserted above).
            len: len as u32,
            cache: cache.map(Lent::new),
            registered: false,
        }
    }

    /// The block, if made.
    #[inline]
    fn existing(&self) -> Option<Block> {
        // `Acquire` pairs with the publishing compare-and-swap of `block`: the header and
        // slots are written before.
        NonNull::new(self.block.load(Ordering::Acquire)).map(Block)
    }

    /// The block: made now if it is not yet (by the first clone or wake of a proto waker, on
    /// any thread that holds one during the node's poll, or by a test).
    fn block(&self) -> Block {
        if let Some(block) = self.existing() {
            return block;
        }
        let layout = block_layout(self.len as usize);
        let (kept, ticket) = match self.cache {
            Some(cache) => cache.get().wakes.take(),
            None => (None, Ticket::NONE),
        };
        let block = match kept {
            Some(block) => {
                // SAFETY: a block left by `close` with no waker alive, of this layout: its
                // header was written when it was made and is ours alone; dropped here, then
                // written anew below.
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
        let carried = ticket.carry();
        // SAFETY: `block` is a fresh or kept allocation of `block_layout(len)`, no one else's:
        // the header fits at its start, aligned, and `len` slots follow it at `SLOTS_OFFSET`.
        unsafe {
            header.as_ptr().write(Header {
                refs: AtomicUsize::new(1),
                head: AtomicU32::new(END),
                len: self.len,
                ticket: carried,
                handed: AtomicUsize::new(0),
                parent: ParentWaker::default(),
            });
            let slots = block.as_ptr().add(SLOTS_OFFSET).cast::<Slot>();
            for index in 0..self.len {
                slots.add(index as usize).write(Slot {
                    index,
                    next: AtomicU32::new(IDLE),
                });
            }
        }
        match self.block.compare_exchange(
            core::ptr::null_mut(),
            header.as_ptr(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Block(header),
            Err(other) => {
                // Another thread made one first (two clones of one proto waker at once): ours
                // goes back where it came from. No waker of it exists.
                // SAFETY: the block just made, reachable by no one else, with its one
                // reference.
                unsafe { self.give_back(Block(header), ticket, 1) };
                // SAFETY: non-null: the compare-and-swap failed on it.
                Block(unsafe { NonNull::new_unchecked(other) })
            }
        }
    }

    /// Puts `block` (no waker of it alive, its parent's waker taken) back in the cache with
    /// `ticket`, or frees it.
    ///
    /// # Safety
    /// The caller owns `block` and all its `refs` references, and gives them up.
    unsafe fn give_back(&self, block: Block, ticket: Ticket, refs: usize) {
        if let Some(cache) = self.cache {
            if cache.get().wakes.leave(ticket, block.0.cast()).is_ok() {
                return;
            }
        }
        // SAFETY: as the caller guarantees: the last references.
        unsafe { release_many(block.0, refs) };
    }

    /// Registers the waker of the task polling the run (nothing to do while there is no
    /// block: no node holds a waker).
    #[inline]
    pub(crate) fn register(&mut self, waker: &Waker) {
        if let Some(block) = self.existing() {
            self.registered = true;
            // SAFETY: `&mut self`: the run's one poll at a time is the slot's only run side
            // (`take` is called only by this queue's `close`, through `&mut self` too).
            unsafe { block.header().parent.register(waker) };
        }
    }

    /// Whether a parent's waker is registered.
    pub(crate) fn is_registered(&self) -> bool {
        self.registered
    }

    /// Whether a task was woken since the last drain. Called after `register`: a wake that
    /// pushed before the registration is seen here, one that pushes after it wakes the newly
    /// registered waker (`ParentWaker`'s contract).
    pub(crate) fn has_wakes(&self) -> bool {
        self.existing()
            .is_some_and(|block| block.header().head.load(Ordering::Acquire) != END)
    }

    /// Queues every woken task in `ready` for its next batch, oldest wake first, passing each
    /// to `woken` as it goes. Returns how many.
    #[inline]
    pub(crate) fn drain_into(&self, ready: &mut ReadyQueue, woken: impl FnMut(u32)) -> usize {
        let Some(block) = self.existing() else {
            return 0;
        };
        if block.header().head.load(Ordering::Relaxed) == END {
            return 0;
        }
        drain_woken(block, ready, woken)
    }

    /// Marks `index` not queued, just before it is polled: a wake from now on queues it again.
    /// (Without a block no task is queued by a wake.)
    #[cfg(test)]
    pub(crate) fn mark_polled(&self, index: u32) {
        if let Some(block) = self.existing() {
            mark_polled(block, index);
        }
    }

    /// What the proto waker of task `index` points at (see [`Proto::lend`]).
    #[inline]
    pub(crate) fn proto(&self, index: u32) -> Proto<'_> {
        Proto {
            queue: core::ptr::from_ref(self).cast::<WakeQueue<'static>>(),
            task: core::cell::Cell::new(index),
            _queue: core::marker::PhantomData,
        }
    }

    /// The waker of task `index` for one poll, borrowed from the run: the block's if it is
    /// made, else `proto`'s (made by [`proto`](Self::proto) for the same task). It holds no
    /// reference of its own; cloning it takes one.
    #[cfg(test)]
    pub(crate) fn waker<'p>(&'p self, index: u32, proto: &'p Proto<'p>) -> NodeWaker<'p> {
        match self.existing() {
            Some(block) => self.block_waker(block, index),
            None => proto.lend(),
        }
    }

    /// Marks task `index` not queued, as it is about to be polled (a wake from then on queues
    /// it again), and lends the block's waker of it for that poll; `None` if the block is not
    /// made yet: lend a proto waker then ([`Proto::lend`]).
    #[inline]
    pub(crate) fn lend(&self, index: u32) -> Option<NodeWaker<'_>> {
        let block = self.existing()?;
        mark_polled(block, index);
        Some(self.block_waker(block, index))
    }

    /// `block`'s (the queue's) waker of task `index`, lent for as long as the queue is
    /// borrowed.
    #[inline]
    fn block_waker(&self, block: Block, index: u32) -> NodeWaker<'_> {
        assert!(index < self.len, "dagfut: waker slot out of range");
        // Derived from the block pointer, not from a `&Slot`: the waker steps back to the
        // header from it (`Block::from_waker_data`).
        let raw = RawWaker::new(block.slot_ptr(index).cast::<()>(), &VTABLE);
        // SAFETY: the vtable's functions uphold the `RawWaker` contract for slot pointers of
        // a live block (the queue's reference keeps it while the waker is lent): clone takes
        // a reference, drop gives one up, wake is thread-safe. The lent waker is never
        // dropped, matching the reference it does not own.
        NodeWaker::new(unsafe { Waker::from_raw(raw) })
    }

    /// The block's reference count (for tests; the block is made if it is not yet).
    #[cfg(test)]
    pub(crate) fn ref_count(&self) -> usize {
        self.block().header().refs.load(Ordering::Relaxed)
    }
}

/// [`WakeQueue::drain_into`] once the stack of `block` holds a woken task.
#[inline(never)]
fn drain_woken(block: Block, ready: &mut ReadyQueue, mut woken: impl FnMut(u32)) -> usize {
    let header = block.header();
    let mut top = header.head.swap(END, Ordering::Acquire);
    // The taken list is ours now (its slots are not IDLE, so no waker writes them):
    // reverse it in place so the oldest wake is polled first, and take over the references
    // handed with the pushes.
    let mut reversed = END;
    let mut handed = 0;
    while top != END {
        let slot = block.slot(top);
        let (next, mark) = split_link(slot.next.load(Ordering::Relaxed));
        handed += mark;
        slot.next.store(reversed, Ordering::Relaxed);
        reversed = top;
        top = next;
    }
    // With those handed as wakes let go of the parent's slot, taken over only when they come
    // to the limit (about one per drain: only a wake that found the stack empty, or one that
    // makes a wake owed, hands its reference over there, so more than one between two drains
    // only if such wakes were held up between their push and their letting go).
    let parent = header.parent.handed();
    if parent >= HANDED_LIMIT {
        header.parent.take_handed(parent);
        handed += parent;
    }
    if handed != 0 {
        keep_handed(header, handed);
    }
    let mut count = 0;
    while reversed != END {
        ready.push(reversed);
        woken(reversed);
        count += 1;
        reversed = block.slot(reversed).next.load(Ordering::Relaxed);
    }
    count
}

/// Adds `handed` references (taken over by a drain) to those the run gives up when it closes
/// the block, or gives them all up now if they come to `HANDED_LIMIT`.
#[inline(always)]
fn keep_handed(header: &Header, handed: usize) {
    let kept = header.handed.load(Ordering::Relaxed) + handed;
    if kept < HANDED_LIMIT {
        header.handed.store(kept, Ordering::Relaxed);
    } else {
        header.handed.store(0, Ordering::Relaxed);
        // Never the last references: the queue's own stays. `Release`, as every other
        // decrement: the block's last owner frees it after this (with its `Acquire` fence).
        header.refs.fetch_sub(kept, Ordering::Release);
    }
}

/// Counts the references handed with the pushes of the stack from `top` (the run's, by a
/// swap of `head`) down.
fn handed_on_stack(block: Block, mut top: u32) -> usize {
    let mut handed = 0;
    while top != END {
        let (next, mark) = split_link(block.slot(top).next.load(Ordering::Relaxed));
        handed += mark;
        top = next;
    }
    handed
}

/// Marks task `index` of `block` not queued: a wake from now on queues it again.
#[inline]
fn mark_polled(block: Block, index: u32) {
    // Relaxed is enough: a wake that must see this store happens after the task's poll, which
    // comes after this store in program order.
    block.slot(index).next.store(IDLE, Ordering::Relaxed);
}

static PROTO_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_proto, wake_proto, wake_by_ref_proto, drop_proto);

/// The block's task behind a proto waker, the block made if it is not yet.
///
/// # Safety
/// `data` is the data pointer of a proto waker (`Proto::lend`) still borrowed.
unsafe fn proto_target(data: *const ()) -> (Block, u32) {
    // SAFETY: the `Proto` outlives the borrowed waker, and so does its queue, which is not
    // moved or written through `&mut` meanwhile (the `Proto` borrows it).
    let proto = unsafe { &*data.cast::<Proto<'_>>() };
    // SAFETY: as above.
    let queue = unsafe { &*proto.queue };
    (queue.block(), proto.task.get())
}

unsafe fn clone_proto(data: *const ()) -> RawWaker {
    // SAFETY: the proto waker being cloned is borrowed.
    let (block, index) = unsafe { proto_target(data) };
    acquire(block.header());
    RawWaker::new(block.slot_ptr(index).cast::<()>(), &VTABLE)
}

unsafe fn wake_proto(data: *const ()) {
    // A proto waker is only ever lent (`&Waker`): never consumed, so never woken by value;
    // were it, it would own nothing to give up.
    // SAFETY: as `wake_by_ref_proto`.
    unsafe { wake_by_ref_proto(data) };
}

unsafe fn wake_by_ref_proto(data: *const ()) {
    // SAFETY: the proto waker is borrowed.
    let (block, index) = unsafe { proto_target(data) };
    block.wake(index, false);
}

unsafe fn drop_proto(_: *const ()) {
    // A proto waker owns no reference.
}

impl Drop for WakeQueue<'_> {
    #[inline]
    fn drop(&mut self) {
        self.shut();
    }
}

impl WakeQueue<'_> {
    /// Closes the block (`close`) at the run's end, in its drop or before (`Phase::end`): the
    /// queue holds nothing afterwards, and its drop does nothing.
    #[inline]
    pub(crate) fn shut(&mut self) {
        // No node ever touched its waker: nothing was made (a ready run's common case).
        if let Some(block) = self.existing() {
            self.block.store(core::ptr::null_mut(), Ordering::Relaxed);
            self.close(block);
        }
    }

    /// Closes the block at the run's end: later wakes do nothing, the parent's waker is let
    /// go, and the block goes back to the cache if no waker of it is alive. Out of line: a
    /// run whose nodes were all ready made no block.
    #[inline(never)]
    fn close(&mut self, block: Block) {
        /// Gives up the queue's references even if dropping the parent's waker panics.
        struct Release(NonNull<Header>, usize);
        impl Drop for Release {
            fn drop(&mut self) {
                // SAFETY: the queue's own references, given up exactly once, here.
                unsafe { release_many(self.0, self.1) };
            }
        }
        let header = block.header();
        let ticket = Ticket::carried(header.ticket);
        // The queue's own reference, those its drains took over from wakes by value, and
        // those handed over as wakes let go of the parent's slot.
        let parent_handed = header.parent.handed();
        let mut release = Release(
            block.0,
            1 + header.handed.load(Ordering::Relaxed) + parent_handed,
        );
        // With no waker of the block alive, no one can reach it but us, and no one can make
        // one (no proto waker is lent outside a poll of the run): the next run may have it.
        // `Acquire` pairs with the `Release` of the last other reference's drop, so every
        // access of that waker happened before (and the drains' `Acquire` with the pushes of
        // the wakes that handed theirs over with them, and the `Acquire` read of the parent's
        // state, `handed` above or `end_handing` below, with the letting go of those that
        // handed theirs over there: a wake that did so after that read still has its
        // reference in `refs`). A run whose wakers were all woken by value or
        // dropped, and whose wakes were all drained (the common end), takes this path, with
        // no other atomic read-modify-write.
        let mut alone = header.refs.load(Ordering::Acquire) == release.1;
        if !alone {
            // Wakers alive, or references handed with pushes the run never drained: from now
            // on no wake pushes (a wake by value that tries gives up its own reference), and
            // the references on the stack are the queue's to give up.
            release.1 += handed_on_stack(block, header.head.swap(CLOSED, Ordering::Acquire));
            // Nor does a wake hand its reference over as it lets go of the parent's slot: one
            // that holds it now keeps its own. Those that did since the count read above are
            // the queue's too.
            release.1 += header.parent.end_handing() - parent_handed;
            alone = header.refs.load(Ordering::Acquire) == release.1;
        }
        let owned = release.1;
        // Let go of the parent's waker now: a late wake finds nothing to wake. (Never
        // registered: the slot is empty, as the block's header was written by this run.) It is
        // dropped last, so that a waker whose drop panics cannot strand the ticket.
        let parent = if self.registered && !alone {
            // SAFETY: `&mut self` (`close`, from `shut`): no `register` runs meanwhile.
            unsafe { header.parent.take() }
        } else {
            [None, None]
        };
        // The last other waker may have gone since: then the block is ours alone too.
        if alone || header.refs.load(Ordering::Acquire) == owned {
            // No wake can reach the parent's slot any more. What is left there is taken with
            // plain accesses: the waker, if the run is alone with the block; else what a wake
            // that held a cell as the run took the waker left behind, should its waker's wake
            // have panicked (one that let go normally moved the waker out as it let go). (Never
            // registered: nothing to take.)
            let late = if self.registered {
                // SAFETY: no wake can reach the slot any more, and every one before happens
                // before this (the `Acquire` loads of `refs` and reads of the parent's state
                // above); `&mut self` (`close`, from `shut`): no `register` runs.
                unsafe { header.parent.take_alone() }
            } else {
                [None, None]
            };
            core::mem::forget(release);
            // SAFETY: the queue's references, the last ones, given up here; the parent's waker
            // is taken.
            unsafe { self.give_back(block, ticket, owned) };
            drop(late);
        } else {
            if let Some(cache) = self.cache {
                cache.get().wakes.give_up(ticket);
            }
            drop(release);
        }
        drop(parent);
    }
}

impl core::fmt::Debug for WakeQueue<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WakeQueue")
            .field("tasks", &self.len)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_are_coalesced_and_drained_oldest_first() {
        let queue = WakeQueue::new(4, None);
        let (p2, p0) = (queue.proto(2), queue.proto(0));
        let w2 = queue.waker(2, &p2);
        let w0 = queue.waker(0, &p0);
        w2.wake_by_ref();
        w0.wake_by_ref();
        w2.wake_by_ref();
        let mut ready = ReadyQueue::owned(4);
        let mut order = alloc::vec::Vec::new();
        assert_eq!(queue.drain_into(&mut ready, |task| order.push(task)), 2);
        assert_eq!(order, [2, 0]);
        // The run polls them as one batch, in index order.
        assert_eq!((ready.pop(), ready.pop()), (Some(0), Some(2)));
        // Still queued (owned by the run) until polled: a wake now is absorbed.
        w2.wake_by_ref();
        assert_eq!(queue.drain_into(&mut ready, |_| {}), 0);
        queue.mark_polled(2);
        w2.wake_by_ref();
        assert_eq!(queue.drain_into(&mut ready, |_| {}), 1);
    }

    #[test]
    fn clones_keep_the_block_alive_after_the_run() {
        let queue = WakeQueue::new(2, None);
        let proto = queue.proto(1);
        let clone = (*queue.waker(1, &proto)).clone();
        assert_eq!(queue.ref_count(), 2);
        drop(queue);
        // The block is closed but still allocated: waking does nothing, dropping frees it.
        clone.wake_by_ref();
        clone.wake();
    }

    /// A clone of the waker of `task` (the block is made if it is not yet).
    fn clone_of(queue: &WakeQueue<'_>, task: u32) -> Waker {
        let proto = queue.proto(task);
        (*queue.waker(task, &proto)).clone()
    }

    /// The block's references the run took over from its drains so far, and those handed
    /// over as wakes let go of the parent's slot, not taken over yet.
    fn handed(queue: &WakeQueue<'_>) -> (usize, usize) {
        let block = queue.block();
        let header = block.header();
        (header.handed.load(Ordering::Relaxed), header.parent.handed())
    }

    #[test]
    fn a_wake_by_value_hands_its_reference_to_the_run() {
        let queue = WakeQueue::new(3, None);
        let [w0, w1, w2] = [0, 1, 2].map(|task| clone_of(&queue, task));
        assert_eq!(queue.ref_count(), 4);
        // First on the stack: it wakes the parent, and hands its reference over as it lets
        // go of the parent's slot.
        w0.wake();
        assert_eq!((handed(&queue), queue.ref_count()), ((0, 1), 4));
        // Behind it: the reference goes with the push. Both stay counted until the run ends.
        w1.wake();
        assert_eq!(queue.ref_count(), 4);
        let mut ready = ReadyQueue::owned(3);
        let mut order = alloc::vec::Vec::new();
        assert_eq!(queue.drain_into(&mut ready, |task| order.push(task)), 2);
        assert_eq!(order, [0, 1]);
        assert_eq!((handed(&queue), queue.ref_count()), ((1, 1), 4));
        // A wake by reference never hands anything over, first on the stack or not.
        assert_eq!((ready.pop(), ready.pop()), (Some(0), Some(1)));
        queue.mark_polled(0);
        queue.mark_polled(1);
        w2.wake_by_ref();
        let w1 = clone_of(&queue, 1);
        w1.wake_by_ref();
        assert_eq!(queue.drain_into(&mut ready, |_| {}), 2);
        assert_eq!((handed(&queue), queue.ref_count()), ((1, 1), 5));
        drop((w1, w2));
        // The run's end gives up its own reference and the two handed ones: the block is
        // freed (Miri reports a leak otherwise).
        assert_eq!(queue.ref_count(), 3);
    }

    #[test]
    fn a_wake_by_value_that_cannot_have_the_parent_slot_alone_keeps_its_reference() {
        let queue = WakeQueue::new(2, None);
        let [w0, w1] = [0, 1].map(|task| clone_of(&queue, task));
        let block = queue.block();
        let header = block.header();
        // A wake of the task's waker owed (as after a panic in it): the first wake by value
        // takes the general path, which makes that wake, and gives its reference up itself.
        header.parent.owe();
        w0.wake();
        assert_eq!((handed(&queue), queue.ref_count()), ((0, 0), 2));
        assert!(!header.parent.owed());
        // Hand-overs ended (as the run's end does with wakers alive): kept, given up.
        assert_eq!(header.parent.end_handing(), 0);
        let mut ready = ReadyQueue::owned(2);
        assert_eq!(queue.drain_into(&mut ready, |_| {}), 1);
        w1.wake();
        assert_eq!((handed(&queue), queue.ref_count()), ((0, 0), 1));
    }

    #[test]
    fn references_handed_as_wakes_let_go_of_the_parent_slot_are_taken_over_at_the_limit() {
        let queue = WakeQueue::new(5, None);
        let mut wakers = (0..5)
            .map(|task| clone_of(&queue, task))
            .collect::<alloc::vec::Vec<_>>();
        let mut ready = ReadyQueue::owned(5);
        // One wake at a time, each first on the stack, each drained: at most one hand-over to
        // the parent's slot per drain.
        for round in 0..HANDED_LIMIT {
            wakers.remove(0).wake();
            assert_eq!(queue.drain_into(&mut ready, |_| {}), 1);
            if round + 1 < HANDED_LIMIT {
                assert_eq!((handed(&queue), queue.ref_count()), ((0, round + 1), 6));
            }
        }
        // The drain that found the limit took them over, and gave them up at once.
        assert_eq!((handed(&queue), queue.ref_count()), ((0, 0), 2));
    }

    #[test]
    fn references_handed_with_pushes_never_drained_go_with_the_end_of_the_run() {
        let queue = WakeQueue::new(3, None);
        let [w0, w1, w2] = [0, 1, 2].map(|task| clone_of(&queue, task));
        w1.wake_by_ref();
        w2.wake();
        // Not drained: the run ends with wakers alive (`w0`, `w1`) and a handed reference on
        // the stack, which it gives up as it closes the block; `w0` gives up the last one.
        assert_eq!(queue.ref_count(), 4);
        drop(queue);
        w1.wake();
        w0.wake();
    }

    #[test]
    fn handed_references_are_given_up_at_the_limit() {
        assert_eq!(HANDED_LIMIT, 4, "the unit tests' limit");
        let queue = WakeQueue::new(6, None);
        let mut wakers = (0..6)
            .map(|task| clone_of(&queue, task))
            .collect::<alloc::vec::Vec<_>>();
        assert_eq!(queue.ref_count(), 7);
        let mut ready = ReadyQueue::owned(6);
        // Twice: one wake that finds the stack empty (it hands its reference over as it lets
        // go of the parent's slot) and two behind it (they hand theirs over with their
        // pushes), then a drain.
        for round in 0..2 {
            wakers.drain(..3).for_each(Waker::wake);
            assert_eq!(queue.drain_into(&mut ready, |_| {}), 3);
            if round == 0 {
                assert_eq!((handed(&queue), queue.ref_count()), ((2, 1), 7));
            }
        }
        // 2 + 2 taken over with the pushes: the limit, given up at once. The two handed as
        // the parent's slot was let go stay below theirs, until the run ends.
        assert_eq!((handed(&queue), queue.ref_count()), ((0, 2), 3));
    }

    #[test]
    fn no_block_is_made_until_a_waker_is_cloned_or_woken() {
        let mut queue = WakeQueue::new(3, None);
        // Without a block there is no parent's waker to register, nothing queued.
        queue.register(Waker::noop());
        assert!(!queue.is_registered());
        assert!(!queue.has_wakes());
        assert_eq!(queue.drain_into(&mut ReadyQueue::owned(3), |_| {}), 0);
        assert!(queue.lend(1).is_none());
        let proto = queue.proto(1);
        let waker = proto.lend();
        // Comparing a lent waker touches nothing.
        assert!(waker.will_wake(&waker));
        assert!(queue.existing().is_none());
        // The first clone makes it; from then on the run lends the block's wakers, equal to
        // the clones (so a future that keeps its waker does not clone it again).
        let clone = (*waker).clone();
        assert!(queue.existing().is_some());
        assert!(queue.lend(1).is_some_and(|lent| lent.will_wake(&clone)));
        assert!(queue.lend(2).is_some_and(|lent| !lent.will_wake(&clone)));
        clone.wake();
        assert_eq!(queue.drain_into(&mut ReadyQueue::owned(3), |_| {}), 1);
        queue.register(Waker::noop());
        assert!(queue.is_registered());
    }

    #[test]
    fn threads_cloning_one_proto_waker_at_once_share_one_block() {
        for _ in 0..50 {
            let queue = WakeQueue::new(2, None);
            let proto = queue.proto(0);
            let lent = queue.waker(0, &proto);
            // Lent to other threads as a node may, during its poll.
            let waker: &Waker = &lent;
            let clones: alloc::vec::Vec<Waker> = std::thread::scope(|scope| {
                let threads: alloc::vec::Vec<_> = (0..3)
                    .map(|_| scope.spawn(|| waker.clone()))
                    .collect();
                threads.into_iter().map(|t| t.join().unwrap()).collect()
            });
            // One block, the queue's reference and one per clone (a block made by a thread
            // that lost the race is freed: Miri reports it otherwise).
            assert_eq!(queue.ref_count(), 4);
            assert!(clones.iter().all(|clone| clone.will_wake(&clones[0])));
            clones[2].wake_by_ref();
            assert_eq!(queue.drain_into(&mut ReadyQueue::owned(2), |_| {}), 1);
        }
    }
}

/// The hand-over of a wake's reference under loom (`RUSTFLAGS="--cfg dagfut_loom" cargo test
/// -p dagfut --lib waker::loom_models`): a wake by value behind another wake, or the first on
/// the stack, on its own thread, racing the end of the run, in every interleaving.
#[cfg(all(test, dagfut_loom))]
// Test code on `std`: its atomics count what the model reached, next to loom's.
#[allow(clippy::std_instead_of_alloc, clippy::std_instead_of_core)]
mod loom_models {
    use super::*;
    use core::mem::ManuallyDrop;
    use loom::thread;
    use std::sync::atomic::{AtomicUsize as Count, Ordering::SeqCst};

    /// `Waker::wake` of `waker` on a thread of its own, which says whether the wake handed the
    /// waker's reference to the run.
    fn wake_on_a_thread(waker: Waker) -> thread::JoinHandle<bool> {
        thread::spawn(move || {
            let waker = ManuallyDrop::new(waker);
            // SAFETY: a waker of the block, whose reference `waker` holds.
            let (block, index) = unsafe { Block::from_waker_data(waker.data()) };
            let handed = block.wake(index, true);
            if !handed {
                // SAFETY: `waker`'s reference, which the wake kept: given up here.
                unsafe { release(block.0) };
            }
            handed
        })
    }

    /// Counts the outcome of one execution of a model: the wake handed its reference over, or
    /// kept it, with or without what the model `saw` besides.
    fn note(reached: &[Count; 3], handed: bool, saw: bool) {
        reached[match (handed, saw) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => 2,
        }]
        .fetch_add(1, SeqCst);
    }

    /// Asserts that loom reached each of the `outcomes` counted by [`note`].
    fn assert_reached(reached: &[Count; 3], outcomes: [&str; 3]) {
        for (count, outcome) in reached.iter().zip(outcomes) {
            assert!(count.load(SeqCst) > 0, "never reached: {outcome}");
        }
    }

    /// The block of `look` (a waker of it, holding a reference) and its task, once the run and
    /// the wake are done: asserts that `look`'s is the one reference left.
    fn only_reference(look: &Waker) -> (Block, u32) {
        // SAFETY: a waker of the block, whose reference `look` holds.
        let (block, index) = unsafe { Block::from_waker_data(look.data()) };
        assert_eq!(
            block.header().refs.load(Ordering::Relaxed),
            1,
            "the block's references, once the run and the wake are done"
        );
        (block, index)
    }

    /// Whichever way the wake went (its reference handed with its push; the block found closed
    /// as it pushed; found closed before its claim), the block keeps exactly one reference
    /// once both are done: the one a third waker kept apart to look at it.
    #[test]
    fn a_wake_by_value_behind_another_racing_the_end_of_the_run() {
        static REACHED: [Count; 3] = [const { Count::new(0) }; 3];
        loom::model(|| {
            let queue = WakeQueue::new(2, None);
            let proto = (queue.proto(0), queue.proto(1));
            let first = (*queue.waker(0, &proto.0)).clone();
            let late = (*queue.waker(1, &proto.1)).clone();
            let look = late.clone();
            // First on the stack: the one to wake the parent (no parent registered here; it
            // hands its reference over as it lets go of the empty slot).
            first.wake();
            let waker = wake_on_a_thread(late);
            drop(queue);
            let handed = waker.join().unwrap();
            let (block, index) = only_reference(&look);
            let claimed = block.slot(index).next.load(Ordering::Relaxed) != IDLE;
            note(&REACHED, handed, claimed);
            drop(look);
        });
        assert_reached(
            &REACHED,
            [
                "the reference handed with the push, before the end",
                "the block closed as the wake pushed",
                "the block closed before the wake's claim",
            ],
        );
    }

    /// The parent's waker of the model: counts its wakes (on `std` atomics, which loom does
    /// not see: the model's threads run one at a time).
    struct Parent(Count);

    impl std::task::Wake for Parent {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// The first wake by value on the stack wakes the parent and hands its reference over as
    /// it lets go of the parent's slot, unless the run ended the hand-overs first: racing the
    /// end of the run (which takes the parent's waker, perhaps from under the wake), the
    /// block keeps exactly one reference once both are done, the one a second waker kept
    /// apart to look at it.
    #[test]
    fn the_first_wake_by_value_racing_the_end_of_the_run() {
        static REACHED: [Count; 3] = [const { Count::new(0) }; 3];
        loom::model(|| {
            let mut queue = WakeQueue::new(1, None);
            let first = {
                let proto = queue.proto(0);
                (*queue.waker(0, &proto)).clone()
            };
            let look = first.clone();
            let parent = std::sync::Arc::new(Parent(Count::new(0)));
            queue.register(&Waker::from(parent.clone()));
            let waker = wake_on_a_thread(first);
            drop(queue);
            let handed = waker.join().unwrap();
            only_reference(&look);
            // The run took the parent's waker (or the wake took it out for the run): only
            // this model's handle is left.
            assert_eq!(std::sync::Arc::strong_count(&parent), 1);
            let woken = parent.0.load(SeqCst) > 0;
            note(&REACHED, handed, woken);
            drop(look);
        });
        assert_reached(
            &REACHED,
            [
                "the reference handed as the wake let go of the parent's slot, before the end",
                "the parent woken, the hand-overs ended or its waker taken meanwhile",
                "the block closed before the wake's push, or the parent's waker taken before",
            ],
        );
    }

    /// Two wakes by value, each on a thread of its own, racing each other and the end of the
    /// run: the one that finds the stack empty wakes the parent (handing its reference over
    /// as it lets go of the parent's slot), the other queues behind it (handing its reference
    /// over with its push), unless the run ended first. The run's end counts both kinds
    /// (when it is alone with the block, or after closing the stack and ending the
    /// hand-overs): once all are done the block keeps exactly one reference, the one a third
    /// waker kept apart to look at it.
    #[test]
    fn two_wakes_by_value_racing_each_other_and_the_end_of_the_run() {
        static REACHED: [Count; 3] = [const { Count::new(0) }; 3];
        loom::model(|| {
            let mut queue = WakeQueue::new(2, None);
            let [a, b] = [0, 1].map(|task| {
                let proto = queue.proto(task);
                (*queue.waker(task, &proto)).clone()
            });
            let look = a.clone();
            let parent = std::sync::Arc::new(Parent(Count::new(0)));
            queue.register(&Waker::from(parent.clone()));
            let (a, b) = (wake_on_a_thread(a), wake_on_a_thread(b));
            drop(queue);
            let handed = [a, b].map(|wake| usize::from(wake.join().unwrap()));
            only_reference(&look);
            assert_eq!(std::sync::Arc::strong_count(&parent), 1);
            REACHED[handed[0] + handed[1]].fetch_add(1, SeqCst);
            drop(look);
        });
        for (count, outcome) in REACHED.iter().zip([
            "neither reference handed over",
            "one handed over",
            "both handed over, one with its push, one as it let go of the parent's slot",
        ]) {
            assert!(count.load(SeqCst) > 0, "never reached: {outcome}");
        }
    }

    /// A wake by value that hands its reference over as it lets go of the parent's slot,
    /// bringing the count to the limit, racing the drain that takes the count over when it
    /// finds it there (`HANDED_LIMIT` is 4 in unit tests): taken over by that drain or by the
    /// run's end, the reference is given up once.
    #[test]
    fn a_hand_over_racing_the_drain_that_takes_the_count_over() {
        static REACHED: [Count; 2] = [const { Count::new(0) }; 2];
        loom::model(|| {
            let queue = WakeQueue::new(1, None);
            let waker = || {
                let proto = queue.proto(0);
                (*queue.waker(0, &proto)).clone()
            };
            let look = waker();
            let mut ready = ReadyQueue::owned(1);
            // One below the limit: each wake first on the stack, each drained and polled.
            for _ in 1..HANDED_LIMIT {
                waker().wake();
                assert_eq!(queue.drain_into(&mut ready, |_| {}), 1);
                assert_eq!(ready.pop(), Some(0));
                queue.mark_polled(0);
            }
            let late = wake_on_a_thread(waker());
            // Let the wake run first (loom alone explores only the drain before it here).
            thread::yield_now();
            queue.drain_into(&mut ready, |_| {});
            let handed = late.join().unwrap();
            assert!(handed, "alone with the parent's slot, the wake hands its reference over");
            let taken_by_the_drain = queue.block().header().parent.handed() == 0;
            drop(queue);
            only_reference(&look);
            REACHED[usize::from(taken_by_the_drain)].fetch_add(1, SeqCst);
            drop(look);
        });
        for (count, outcome) in REACHED.iter().zip([
            "the count at the limit after the drain, taken over by the run's end",
            "the count taken over by the drain",
        ]) {
            assert!(count.load(SeqCst) > 0, "never reached: {outcome}");
        }
    }
}
