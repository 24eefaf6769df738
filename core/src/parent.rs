//! The slot of a run's parent waker (the waker of the task that polls the run), shared by the
//! runtime runs' waker block and a `dag!`'s `static` wakers. Its atomics are loom's under the
//! loom models (`RUSTFLAGS="--cfg dagfut_loom"`), which check it with the blocks it serves.

#[cfg(dagfut_loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(dagfut_loom))]
use portable_atomic::{AtomicUsize, Ordering};

/// `ParentWaker::state`: which cell holds the current waker, the one wakes wake (set: cell 1).
const CURRENT: usize = 1;
/// `ParentWaker::state`, shifted by the cell's index: cell 0 or 1 is held, by a wake waking
/// its waker or by the run's side writing it.
const HELD: usize = 2;
/// `ParentWaker::state`: a wake came while the current cell was held; whoever lets go of a
/// cell next and reads this wakes the current waker (again).
const NOTIFY: usize = 8;
/// `ParentWaker::state`, shifted by the cell's index: the run ended while a wake held that
/// cell; the wake moves the cell's waker out as it lets go (and drops it), so that the slot
/// keeps no task alive.
const TAKE: usize = 16;
/// `ParentWaker::state`: a wake of the task's waker panicked, so the wake it was for is owed.
/// The wake stacks in front of the slot let only the first node wake since the run's last
/// drain through (`owed` lets the next one through too), and the next wake that holds a cell
/// clears it as it wakes: without it, a run whose task waker panicked once would sleep for
/// good, every later node wake finding the stack not empty. (A node wake by value that hands
/// its reference to the run with its push reads this before the push, not after: it may not
/// touch the block after it. So a panic between its read and its push is left to the next node
/// wake, as one after a wake's read after its push always was.)
const OWED: usize = 64;
/// `ParentWaker::state`: the run's side ended the hand-overs ([`ParentWaker::end_handing`]):
/// a wake that lets go of a cell from now on keeps its reference.
const ENDED: usize = 128;
/// `ParentWaker::state`, from this bit up: how many wakes handed their reference to the run as
/// they let go of a cell ([`ParentWaker::wake_handing`]) and the run has not taken over yet.
const HANDED_SHIFT: u32 = 8;
/// One hand-over in the count of `ParentWaker::state`.
const HANDED_ONE: usize = 1 << HANDED_SHIFT;

/// The `HELD` bit of cell `cell`.
#[inline(always)]
const fn held(cell: usize) -> usize {
    HELD << cell
}

/// The `TAKE` bit of cell `cell`.
#[inline(always)]
const fn take_bit(cell: usize) -> usize {
    TAKE << cell
}

/// The current cell of `state`.
#[inline(always)]
const fn current(state: usize) -> usize {
    state & CURRENT
}

/// The wakers a [`ParentWaker::take`] took out, one per cell, for the caller to drop.
pub(crate) type Taken = [Option<core::task::Waker>; 2];

/// The slot of the run's parent waker: registered by the run's polls, woken by the node
/// wakers (on any thread). A wake wakes the waker where it is, by reference, holding its
/// cell: no clone and no drop of it per wake (an executor's waker is an `Arc` whose clone
/// and drop are atomic operations too). A poll whose task's waker is the current one
/// (`will_wake`) registers it with no atomic read-modify-write and no clone: a wake costs two
/// of them, a steady registration none.
///
/// Protocol. The slot has two cells and a state word: which cell is current, which cells are
/// held, and the requests below. A wake holds the current cell (chosen and held in one
/// read-modify-write) while it wakes its waker by reference, or, if the other cell is held
/// too, only while it clones the waker, whose clone it wakes after letting go: at most one
/// cell is ever held across a waker's wake. One that finds the current cell held sets
/// `NOTIFY` and returns, and whoever lets go of a cell next and reads the request wakes the
/// current waker (again: a holder's own wake may have come before the requester's push on the
/// wake stack). The run's side (`register`, `take`: one call at a time, the caller's contract)
/// writes a cell only while holding it, and reads the current one without holding it when no
/// `TAKE` of it is pending. A new waker goes into the cell that is not current, which then
/// becomes current, or, if a wake holds that one, into the current cell in place; so a wake
/// that holds a cell for as long as its waker's wake lasts (an executor that polls the task
/// inside that wake, registering a new waker each time, and waking other nodes in there)
/// never keeps the run from registering. Only when another thread holds the second cell at
/// that moment, for a clone, is the new waker woken instead, as an `AtomicWaker` does: the run
/// is polled again and registers then. A `take` that finds a wake
/// holding a cell sets that cell's `TAKE` and returns: the wake moves the waker out before it
/// lets go. Nobody ever waits for anybody.
///
/// A wake that held a cell as the other became current has woken the old waker: its push on
/// the wake stack came before it held the cell, so before the registration (which reads the
/// cell held, with `Acquire`, from the wake's `Release`), and the run's drain after the
/// registration sees it.
///
/// Hand-overs (the runtime's waker block only). A wake by value that would give up its
/// waker's reference after its wake counts it in the state word instead, with the
/// read-modify-write that lets go of its cell ([`wake_handing`](Self::wake_handing)), when it
/// takes the common path and the run's side has not ended the hand-overs
/// ([`end_handing`](Self::end_handing): a wake that holds a cell then fails its letting go,
/// and keeps its reference). The run's side reads the count and takes it over.
pub(crate) struct ParentWaker {
    state: AtomicUsize,
    cells: [WakerCell; 2],
}

impl Default for ParentWaker {
    fn default() -> Self {
        ParentWaker {
            state: AtomicUsize::new(0),
            cells: [WakerCell::new(), WakerCell::new()],
        }
    }
}

// SAFETY: the only non-atomic fields, the waker cells, are written only by a side holding the
// cell (the run's side, or a wake answering its `TAKE`), read by wakes only while holding the
// cell, and read by the run's side without holding it only when it is current and no `TAKE`
// of it is pending (so nobody writes it: a wake writes a cell only to answer a `TAKE`, and
// the run's side is one call at a time, their contract); `Waker` is `Send + Sync`. So
// `&ParentWaker` shared between threads races on nothing.
unsafe impl Sync for ParentWaker {}

impl core::fmt::Debug for ParentWaker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParentWaker").finish_non_exhaustive()
    }
}

/// Lets go of a cell if a waker's clone or wake panics, keeping the requests made meanwhile
/// for the next side that lets go of a cell (the normal paths let go with a read-modify-write
/// that answers them; a wake's fast path is taken only when none is pending, so a request left
/// here sends the next wake through the general path, which answers it), and marks the wake
/// `OWED`.
struct Unlock<'a>(&'a AtomicUsize, usize);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        let cell = self.1;
        // One read-modify-write: a side that holds the cell next sees the debt.
        let _ = self
            .0
            .fetch_update(Ordering::Release, Ordering::Relaxed, |state| {
                Some((state & !held(cell)) | OWED)
            });
    }
}

/// Marks the wake `OWED` if the wake of a clone of the task's waker panics (a cell is no longer
/// held then).
struct Owe<'a>(&'a AtomicUsize);

impl Drop for Owe<'_> {
    fn drop(&mut self) {
        self.0.fetch_or(OWED, Ordering::Release);
    }
}

impl ParentWaker {
    /// An empty slot, for a `static` (a `dag!`'s wakers).
    #[cfg(not(dagfut_loom))]
    pub(crate) const fn new() -> Self {
        ParentWaker {
            state: AtomicUsize::new(0),
            cells: [WakerCell::new(), WakerCell::new()],
        }
    }

    /// Makes `waker` the one to wake.
    ///
    /// # Safety
    /// The caller is the run's side: no other call of `register` or `take` on this slot runs
    /// at the same time (one poll of one run at a time; a `dag!` run holds its claim).
    #[inline]
    pub(crate) unsafe fn register(&self, waker: &core::task::Waker) {
        let state = self.state.load(Ordering::Acquire);
        let cell = current(state);
        // No `TAKE` pending (`Acquire`: a wake that answered one wrote the cell before), so no
        // wake writes the current cell now.
        let mut empty = false;
        if state & (take_bit(0) | take_bit(1)) == 0 {
            // SAFETY: no wake writes the cell (above) and the run's side is here, the caller
            // guarantees, so nothing writes it during this read.
            let same = unsafe {
                self.cells[cell].read(|stored| {
                    empty = stored.is_none();
                    stored.is_some_and(|s| s.will_wake(waker))
                })
            };
            if same {
                return;
            }
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.store_new(waker, empty) };
    }

    /// `register`'s work when `waker` is not the current one (`empty`: there is none, as at
    /// a run's first registration). Out of line: a run's polls mostly bring the same waker.
    ///
    /// # Safety
    /// As [`register`](Self::register).
    #[inline(never)]
    unsafe fn store_new(&self, waker: &core::task::Waker, empty: bool) {
        // Hold the current cell if it is empty (a wake finds nothing to wake there: no wake is
        // left waking an old waker), else the cell that is not current, or else the current
        // one.
        let mut state = self.state.load(Ordering::Relaxed);
        let cell = loop {
            let other = current(state) ^ 1;
            let cell = if empty && state & held(other ^ 1) == 0 {
                other ^ 1
            } else if state & held(other) == 0 {
                other
            } else if state & held(other ^ 1) == 0 {
                other ^ 1
            } else {
                // A wake holds each cell: this poll's waker is woken instead (the run is
                // polled again, and registers then), as an `AtomicWaker` does.
                waker.wake_by_ref();
                // Under the loom models, let the waking threads go on (real ones do anyway).
                #[cfg(dagfut_loom)]
                loom::thread::yield_now();
                return;
            };
            match self.state.compare_exchange_weak(
                state,
                state | held(cell),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break cell,
                Err(now) => state = now,
            }
        };
        // Written in place: the other cell is empty, or held by a wake (and stays as it is).
        let in_place = cell == current(state);
        let unlock = Unlock(&self.state, cell);
        let new = waker.clone();
        // SAFETY: the cell is held by us: no wake reads or writes it (a wake holds the cell it
        // reads, and writes only a cell it holds), and the run's side is here alone (the
        // caller's contract).
        let old = unsafe { self.cells[cell].replace(Some(new)) };
        core::mem::forget(unlock);
        // Let go, making the cell current, with a read-modify-write that reads the requests
        // made meanwhile: a wake that found the cell held (when it was current already) is
        // answered by waking the new waker. A stale `TAKE` of it (left by a wake whose waker
        // panicked) is answered by the replacement. (No `TAKE` is set meanwhile: only `take`
        // sets one, on this side, and it is not running.)
        let mut state = self.state.load(Ordering::Relaxed);
        let after = loop {
            let next = (state & !(held(cell) | take_bit(cell) | NOTIFY | CURRENT)) | cell;
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break next,
                Err(now) => state = now,
            }
        };
        if state & NOTIFY != 0 {
            waker.wake_by_ref();
        }
        // The other cell's waker, no longer current, is let go unless a wake is waking it right
        // now (it then stays until the cell is written again, or taken).
        let stale = if in_place {
            None
        } else {
            // SAFETY: the caller's contract, passed on.
            unsafe { self.clear(cell ^ 1, after) }
        };
        drop(old);
        drop(stale);
    }

    /// Takes out the waker of `cell`, which is not current, if no wake holds it. `state` is
    /// the state the run's side wrote as it made the other cell current (a guess: the word
    /// is read again if it changed since).
    ///
    /// # Safety
    /// As [`register`](Self::register).
    unsafe fn clear(&self, cell: usize, mut state: usize) -> Option<core::task::Waker> {
        // An empty cell (the first registration's case) needs nothing: it is read without
        // holding it, as the current one is, when no `TAKE` of it is pending (wakes only read
        // it, and the run's side is here alone).
        // SAFETY: as just said.
        if state & take_bit(cell) == 0 && unsafe { self.cells[cell].read(|w| w.is_none()) } {
            return None;
        }
        loop {
            if state & held(cell) != 0 {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state | held(cell),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        // SAFETY: the cell is held by us: no wake reads or writes it (wakes hold only the
        // current cell, which this one is not), and the run's side is here alone.
        let stale = unsafe { self.cells[cell].replace(None) };
        // A stale `TAKE` of it is answered by this take. (No `NOTIFY` is set for this cell: a
        // wake asks only when the current cell is held.)
        self.state
            .fetch_and(!(held(cell) | take_bit(cell)), Ordering::Release);
        stale
    }

    /// Whether a wake of the task's waker panicked since a wake last held a cell: the caller
    /// (a wake stack's push that was not the first since the run's last drain) wakes the slot
    /// all the same.
    #[inline(always)]
    pub(crate) fn owed(&self) -> bool {
        self.state.load(Ordering::Relaxed) & OWED != 0
    }

    /// Marks a wake owed, as a panic in the task waker's wake does (unit tests of the slot's
    /// users).
    #[cfg(test)]
    pub(crate) fn owe(&self) {
        self.state.fetch_or(OWED, Ordering::Relaxed);
    }

    /// Wakes the current waker, if any, by reference; never waits.
    ///
    /// A panic in the waker's `wake_by_ref` (or `clone`) goes on to this wake's caller, and
    /// the wake is owed (`OWED`): the next node wake, first since the run's last drain or not,
    /// wakes the task. A request the panic left pending is answered by the next wake too, at
    /// the cost of one extra wake. After a `take`, such a panic leaves the ended run's waker in
    /// the cell until the cell is written again or the block is freed.
    ///
    /// Out of line: a node's wake reaches it only when the wake stack was empty, and inlined
    /// it makes every node wake save more registers.
    #[inline(never)]
    pub(crate) fn wake(&self) {
        self.wake_with(false);
    }

    /// [`wake`](Self::wake) for a caller that owns a reference to what holds the slot (the
    /// runtime's waker block) and would give it up right after: in the common case (alone
    /// with the slot, no request pending, the hand-overs not ended) the letting go of the cell
    /// counts it in the state instead, for the run to take over, and this returns `true`. The
    /// caller then gives up nothing and must not touch the slot (nor what holds it) again:
    /// the run may free it at any moment from then on. Returns `false` otherwise, the
    /// reference still the caller's.
    #[cfg(feature = "alloc")] // only the runtime's waker block counts references
    #[inline(never)]
    pub(crate) fn wake_handing(&self) -> bool {
        self.wake_with(true)
    }

    /// `wake`, handing the caller's reference over with the letting go if `hand` (see
    /// [`wake_handing`](Self::wake_handing)).
    #[inline(always)]
    fn wake_with(&self, hand: bool) -> bool {
        // The common case, alone with the slot (no cell held, no request pending): hold the
        // current cell, wake, let go of it with the state as it was, which fails if a request
        // came meanwhile. Anything else takes the general path: a request already in the
        // state would be put back by that letting go, not answered.
        let state = self.state.load(Ordering::Relaxed);
        let cell = current(state);
        if state & (held(0) | held(1) | NOTIFY | OWED | take_bit(cell)) == 0
            // `Release`: the push on the wake stack before this is seen by a registration
            // that reads the cell held (see the type's protocol).
            && self
                .state
                .compare_exchange(state, state | held(cell), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            // SAFETY: the cell is held by us (just above).
            unsafe { self.wake_held(cell) };
            // Handed over with the letting go, unless the run ended the hand-overs before the
            // cell was held (one that ends them while it is held makes the exchange fail).
            let hand = hand && state & ENDED == 0;
            let after = if hand { state + HANDED_ONE } else { state };
            if self
                .state
                .compare_exchange(
                    state | held(cell),
                    after,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_err()
            {
                // A request came meanwhile: answered, and a `NOTIFY` by waking again. The
                // reference stays the caller's.
                if let Some(now) = self.let_go(cell, state | held(cell)) {
                    self.wake_contended(now);
                }
                return false;
            }
            // Handed over: nothing of the slot is touched from here on.
            return hand;
        }
        self.wake_contended(self.state.load(Ordering::Relaxed));
        false
    }

    /// How many references wakes handed to the run as they let go of a cell
    /// ([`wake_handing`](Self::wake_handing)), not taken over yet. `Acquire`: every access
    /// made by the wakes counted in the value read happens before the caller's next ones.
    #[cfg(feature = "alloc")]
    #[inline(always)]
    pub(crate) fn handed(&self) -> usize {
        self.state.load(Ordering::Acquire) >> HANDED_SHIFT
    }

    /// Takes over `count` of the references counted by [`handed`](Self::handed) (the run's
    /// side, which owns them from now on), so that the count stays far from its limit in a
    /// long run (it takes `usize::BITS - 8` bits).
    #[cfg(feature = "alloc")]
    pub(crate) fn take_handed(&self, count: usize) {
        self.state
            .fetch_sub(count << HANDED_SHIFT, Ordering::Acquire);
    }

    /// Ends the hand-overs: a wake that lets go of a cell from now on keeps its reference.
    /// Returns the count of those handed over until now ([`handed`](Self::handed)). The run's
    /// side, once, as the run ends with wakers alive.
    #[cfg(feature = "alloc")]
    pub(crate) fn end_handing(&self) -> usize {
        self.state.fetch_or(ENDED, Ordering::Acquire) >> HANDED_SHIFT
    }

    /// Wakes the waker of `cell`, by reference.
    ///
    /// # Safety
    /// The caller holds `cell`.
    #[inline(always)]
    unsafe fn wake_held(&self, cell: usize) {
        let unlock = Unlock(&self.state, cell);
        // SAFETY: the cell is held by the caller: nobody writes it meanwhile (the waker's own
        // code, run here, cannot either: a registration it makes writes the other cell, or
        // wakes its waker instead).
        unsafe {
            self.cells[cell].read(|stored| stored.map(core::task::Waker::wake_by_ref));
        }
        core::mem::forget(unlock);
    }

    /// `wake` when the current cell is held, or the state changes under it.
    #[cold]
    #[inline(never)]
    fn wake_contended(&self, mut state: usize) {
        loop {
            let cell = current(state);
            if state & held(cell) != 0 {
                // Held: whoever lets go of a cell next wakes after this request (see the
                // type's protocol). A read-modify-write, so that this wake's push on the wake
                // stack happens before that wake.
                let before = self.state.fetch_or(NOTIFY, Ordering::AcqRel);
                if before & held(current(before)) != 0 {
                    return;
                }
                // Let go in between: hold it ourselves (the request just made only costs an
                // extra wake).
                state = before | NOTIFY;
                continue;
            }
            // `Release`: as in `wake`. A wake owed is this one's to make (cleared as the cell is
            // held: if this one's wake panics too, it is owed again).
            let holding = (state | held(cell)) & !OWED;
            if let Err(now) = self.state.compare_exchange_weak(
                state,
                holding,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                state = now;
                continue;
            }
            let again = if state & held(cell ^ 1) == 0 {
                // SAFETY: the cell is held by us (just above).
                unsafe { self.wake_held(cell) };
                self.let_go(cell, holding)
            } else {
                // The other cell is held too, perhaps by a wake further up this thread's stack,
                // inside its waker's wake (an executor that polls inline as it wakes): holding
                // this one across the waker's code as well could leave a registration made
                // inside it no cell to write. So the waker is cloned, the cell let go, and the
                // clone woken: at most one cell is held across a waker's wake.
                let unlock = Unlock(&self.state, cell);
                // SAFETY: the cell is held by us (just above): nobody writes it meanwhile.
                let clone = unsafe { self.cells[cell].read(|stored| stored.cloned()) };
                core::mem::forget(unlock);
                let again = self.let_go(cell, holding);
                if let Some(clone) = clone {
                    let owe = Owe(&self.state);
                    clone.wake();
                    core::mem::forget(owe);
                }
                again
            };
            match again {
                Some(now) => state = now,
                None => return,
            }
        }
    }

    /// Lets go of `cell`, held by a wake that woke its waker, answering the requests made
    /// meanwhile: a `TAKE` of the cell by moving its waker out first, a `NOTIFY` by waking
    /// the current waker again (the caller does so if this returns the state to go on from:
    /// a wake came while a cell was held, perhaps after ours reached the task, its push on the
    /// wake stack after the run's last drain, so the run must be woken to drain it). `state`
    /// is the caller's guess of the state.
    #[cold]
    #[inline(never)]
    fn let_go(&self, cell: usize, mut state: usize) -> Option<usize> {
        let mut taken = None;
        loop {
            if state & take_bit(cell) != 0 && taken.is_none() {
                // SAFETY: the cell is still held by us, and the run's side, which asked, is
                // done with it.
                taken = unsafe { self.cells[cell].replace(None) };
            }
            // `Acquire` on failure too: a `TAKE` read there is answered by a write of the
            // cell, which must come after the run's side's last read of it.
            match self.state.compare_exchange_weak(
                state,
                state & !(held(cell) | take_bit(cell) | NOTIFY),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        drop(taken);
        if state & NOTIFY == 0 {
            return None;
        }
        Some(state & !(held(cell) | take_bit(cell) | NOTIFY))
    }

    /// Takes the wakers out; a cell that a wake holds right now it asks to (that wake then
    /// drops the waker as it lets go), and returns `None` for it. Never waits.
    ///
    /// # Safety
    /// As [`register`](Self::register).
    pub(crate) unsafe fn take(&self) -> Taken {
        let mut taken = [None, None];
        for (cell, out) in taken.iter_mut().enumerate() {
            let mut state = self.state.load(Ordering::Relaxed);
            loop {
                if state & held(cell) != 0 {
                    match self.state.compare_exchange_weak(
                        state,
                        state | take_bit(cell),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(now) => state = now,
                    }
                    continue;
                }
                match self.state.compare_exchange_weak(
                    state,
                    state | held(cell),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the cell is held by us: no wake reads or writes it, and the
                        // run's side is here alone (the caller's contract).
                        *out = unsafe { self.cells[cell].replace(None) };
                        // A request made meanwhile is moot: the run is over.
                        self.state
                            .fetch_and(!(held(cell) | take_bit(cell) | NOTIFY), Ordering::Release);
                        break;
                    }
                    Err(now) => state = now,
                }
            }
        }
        taken
    }

    /// Takes the wakers out when no wake can reach the slot any more: the block that holds it
    /// has no waker left but the run's own handle. No atomic read-modify-write. What is there
    /// is taken: the wakers, or, after a [`take`](Self::take) that a wake was to answer, what
    /// that wake left if its waker's wake panicked.
    ///
    /// # Safety
    /// The caller is the run's side, and no wake of this slot runs now or later: every one
    /// that ran happens before this call (the caller acquired the release of the last other
    /// reference to what holds the slot, and none can be made again).
    #[cfg(feature = "alloc")] // only the runtime's waker block has a last reference to count
    pub(crate) unsafe fn take_alone(&self) -> Taken {
        // Every holder let go: a wake that panicked lets go in `Unlock`, and may leave a
        // `NOTIFY` or an unanswered `TAKE` behind, which is harmless: the slot is never woken
        // again, and a block kept for the next run has its header written anew.
        debug_assert_eq!(
            self.state.load(Ordering::Relaxed) & (held(0) | held(1)),
            0,
            "no wake holds the slot"
        );
        // SAFETY: nothing else reads or writes the cells, now or later (the caller's
        // contract), and every access before happens before this one.
        unsafe { [self.cells[0].replace(None), self.cells[1].replace(None)] }
    }
}

/// A cell of the parent's waker (a loom cell under the loom models, whose checker then sees
/// every access).
struct WakerCell(
    #[cfg(not(dagfut_loom))] core::cell::UnsafeCell<Option<core::task::Waker>>,
    #[cfg(dagfut_loom)] loom::cell::UnsafeCell<Option<core::task::Waker>>,
);

impl WakerCell {
    #[cfg(not(dagfut_loom))]
    const fn new() -> Self {
        WakerCell(core::cell::UnsafeCell::new(None))
    }

    #[cfg(dagfut_loom)]
    fn new() -> Self {
        WakerCell(loom::cell::UnsafeCell::new(None))
    }

    /// Reads the waker.
    ///
    /// # Safety
    /// No write of the cell happens meanwhile: the caller holds the cell, or is the run's side
    /// reading the current cell with no `TAKE` of it pending (only a wake answering one
    /// writes a cell from elsewhere).
    unsafe fn read<R>(&self, f: impl FnOnce(Option<&core::task::Waker>) -> R) -> R {
        #[cfg(not(dagfut_loom))]
        // SAFETY: as the caller guarantees.
        return f(unsafe { (*self.0.get()).as_ref() });
        #[cfg(dagfut_loom)]
        // SAFETY: as the caller guarantees.
        return self.0.with(|cell| f(unsafe { (*cell).as_ref() }));
    }

    /// Replaces the waker.
    ///
    /// # Safety
    /// The caller holds the cell, and the run's side does not read it meanwhile: it is the
    /// caller, or a `TAKE` of the cell it set is pending (it reads the current cell without
    /// holding it only when none is).
    unsafe fn replace(&self, waker: Option<core::task::Waker>) -> Option<core::task::Waker> {
        #[cfg(not(dagfut_loom))]
        // SAFETY: as the caller guarantees.
        return core::mem::replace(unsafe { &mut *self.0.get() }, waker);
        #[cfg(dagfut_loom)]
        // SAFETY: as the caller guarantees.
        return self
            .0
            .with_mut(|cell| core::mem::replace(unsafe { &mut *cell }, waker));
    }
}

#[cfg(all(test, not(dagfut_loom)))]
mod tests {
    use core::task::{RawWaker, RawWakerVTable, Waker};

    use super::{ParentWaker, Taken};
    use portable_atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

    /// What a test's waker counts, and what its wake does besides.
    #[derive(Default)]
    struct Counts {
        clones: AtomicUsize,
        wakes: AtomicUsize,
        drops: AtomicUsize,
        /// The next wake panics.
        panic_on_wake: AtomicBool,
        /// The clone that would make `clones` this number panics instead (0: none).
        panic_on_clone: AtomicUsize,
        /// After `inline`'s registrations, the next wake wakes that slot too, from inside (an
        /// executor that polls inline, and a node woken in that poll).
        nested: AtomicBool,
        /// A slot whose run registers the wakers of `inline` from inside this waker's wake, as
        /// an executor that polls its task as it is woken, with a new waker each poll.
        inline: AtomicPtr<(ParentWaker, [Counts; 2])>,
    }

    impl Counts {
        fn get(&self) -> (usize, usize, usize) {
            let load = |count: &AtomicUsize| count.load(Ordering::Relaxed);
            (load(&self.clones), load(&self.wakes), load(&self.drops))
        }
    }

    /// One vtable, a `static`, so that `will_wake` finds two wakers of one `Counts` equal.
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);

    unsafe fn clone(counts: *const ()) -> RawWaker {
        // SAFETY: the data of a waker made by `waker`, whose `Counts` outlives it.
        let this = unsafe { &*counts.cast::<Counts>() };
        let clones = this.clones.fetch_add(1, Ordering::Relaxed) + 1;
        assert_ne!(
            clones,
            this.panic_on_clone.load(Ordering::Relaxed),
            "a clone that panics"
        );
        RawWaker::new(counts, &VTABLE)
    }

    unsafe fn wake(counts: *const ()) {
        // SAFETY: as in `clone`.
        let this = unsafe { &*counts.cast::<Counts>() };
        assert!(
            !this.panic_on_wake.swap(false, Ordering::Relaxed),
            "a wake that panics"
        );
        this.wakes.fetch_add(1, Ordering::Relaxed);
        let inline = this.inline.swap(core::ptr::null_mut(), Ordering::Relaxed);
        if !inline.is_null() {
            // SAFETY: the test that set it keeps the slot and the counts until its end.
            let (slot, fresh) = unsafe { &*inline };
            for counts in fresh {
                register(slot, &waker(counts));
            }
            if this.nested.swap(false, Ordering::Relaxed) {
                slot.wake();
            }
        }
    }

    unsafe fn drop(counts: *const ()) {
        // SAFETY: as in `clone`.
        unsafe { &*counts.cast::<Counts>() }
            .drops
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A waker counting into `counts`, which must outlive it and its clones.
    fn waker(counts: &Counts) -> Waker {
        let data = core::ptr::from_ref(counts).cast::<()>();
        // SAFETY: the functions above uphold the contract for a `Counts` that outlives every
        // waker made from it (each test keeps it until its end).
        unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
    }

    fn register(slot: &ParentWaker, waker: &Waker) {
        // SAFETY: a test's one thread is the slot's only run side.
        unsafe { slot.register(waker) }
    }

    fn take(slot: &ParentWaker) -> Taken {
        // SAFETY: as in `register`.
        unsafe { slot.take() }
    }

    #[test]
    fn a_steady_registration_clones_nothing_and_a_wake_clones_nothing() {
        let counts = Counts::default();
        let slot = ParentWaker::default();
        let task = waker(&counts);
        register(&slot, &task);
        assert_eq!(
            counts.get(),
            (1, 0, 0),
            "the first registration keeps a clone"
        );
        register(&slot, &task);
        assert_eq!(counts.get(), (1, 0, 0), "the same waker again: no clone");
        slot.wake();
        slot.wake();
        // Each wake wakes the waker in place, by reference.
        assert_eq!(counts.get(), (1, 2, 0));
        register(&slot, &task);
        assert_eq!(counts.get().0, 1, "still registered after the wakes");
        let taken = take(&slot);
        assert_eq!(taken.iter().flatten().count(), 1, "one waker to take");
        core::mem::drop(taken);
        assert_eq!(counts.get(), (1, 2, 1));
        slot.wake();
        assert_eq!(counts.get().1, 2, "nothing to wake once taken");
    }

    #[test]
    fn a_new_waker_replaces_the_old_one() {
        let (old_counts, new_counts) = (Counts::default(), Counts::default());
        let slot = ParentWaker::default();
        register(&slot, &waker(&old_counts));
        register(&slot, &waker(&new_counts));
        assert_eq!(old_counts.get(), (1, 0, 2), "the old clone dropped");
        slot.wake();
        assert_eq!(old_counts.get().1, 0);
        assert_eq!(new_counts.get().1, 1);
        core::mem::drop(take(&slot));
        assert_eq!(new_counts.get(), (1, 1, 2));
    }

    #[test]
    fn a_wake_whose_wake_panics_leaves_the_slot_usable() {
        let counts = Counts::default();
        let slot = ParentWaker::default();
        let task = waker(&counts);
        register(&slot, &task);
        assert!(!slot.owed());
        counts.panic_on_wake.store(true, Ordering::Relaxed);
        let wake = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| slot.wake()));
        assert!(
            wake.is_err(),
            "the wake's panic goes on to the wake's caller"
        );
        assert!(slot.owed(), "the lost wake is owed");
        // The cell was let go: the next wake wakes (paying the debt), the next registration
        // finds the waker there, and the waker is still there to take.
        slot.wake();
        assert_eq!(counts.get().1, 1);
        assert!(!slot.owed(), "made by the next wake");
        register(&slot, &task);
        assert_eq!(counts.get().0, 1, "no new clone");
        assert_eq!(take(&slot).iter().flatten().count(), 1);
    }

    /// Registers `first`'s waker in `inline`'s slot, and makes its wake register the wakers of
    /// `inline`'s two `Counts` in that slot from inside (an executor that polls inline, with a
    /// new waker each poll). Returns the slot.
    fn polled_inline<'a>(
        first: &Counts,
        inline: &'a (ParentWaker, [Counts; 2]),
    ) -> &'a ParentWaker {
        register(&inline.0, &waker(first));
        first
            .inline
            .store(core::ptr::from_ref(inline).cast_mut(), Ordering::Relaxed);
        &inline.0
    }

    #[test]
    fn a_wake_whose_clone_panics_with_the_other_cell_held_lets_go_and_owes() {
        // A wake holds the first waker's cell, inside which the run registers two new wakers
        // (the last lands in the other cell, now current) and a node is woken: that wake finds
        // the other cell held, so it clones the current waker to wake it after letting go,
        // and that clone panics. Both cells must be let go, and the wake owed.
        let first = Counts::default();
        let inline = (
            ParentWaker::default(),
            [Counts::default(), Counts::default()],
        );
        let slot = polled_inline(&first, &inline);
        let [_, third] = &inline.1;
        // Its first clone is the registration's; the second, the nested wake's, panics.
        third.panic_on_clone.store(2, Ordering::Relaxed);
        first.nested.store(true, Ordering::Relaxed);
        let wake = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| slot.wake()));
        assert!(wake.is_err(), "the clone's panic goes on to the caller");
        let state = slot.state.load(Ordering::Relaxed);
        assert_eq!(
            state & (super::held(0) | super::held(1)),
            0,
            "a cell left held (state {state:#b})"
        );
        assert!(slot.owed(), "the nested wake was lost: owed");
        slot.wake();
        assert_eq!(third.get().1, 1, "the current waker woken, the debt paid");
        assert!(!slot.owed());
        core::mem::drop(take(slot));
    }

    #[test]
    fn a_run_registers_while_a_wake_holds_the_slot() {
        // The task's waker polls the run inside its wake, twice, each time with a new waker:
        // neither may be woken for it (an executor that polls inline would poll again, for
        // ever), and the last one must be the one woken next.
        let first = Counts::default();
        let inline = (
            ParentWaker::default(),
            [Counts::default(), Counts::default()],
        );
        let slot = polled_inline(&first, &inline);
        slot.wake();
        let [second, third] = &inline.1;
        assert_eq!(first.get().1, 1, "the wake woke the waker it found");
        assert_eq!(second.get().1, 0, "not woken for its registration");
        assert_eq!(third.get().1, 0, "not woken for its registration");
        // The second went into the cell that was not current; the third, with the first's cell
        // held, into the second's, in place.
        assert_eq!(second.get(), (1, 0, 2), "replaced in place, and dropped");
        slot.wake();
        assert_eq!(third.get().1, 1, "the last registered is the one woken");
        assert_eq!(first.get().1, 1);
        // The first stayed in its cell (held while the third came) until taken.
        assert_eq!(
            first.get().2,
            1,
            "only the registration's own waker dropped"
        );
        let taken = take(slot);
        assert_eq!(taken.iter().flatten().count(), 2, "the first and the third");
        core::mem::drop(taken);
        assert_eq!(first.get().2, 2);
        assert_eq!(third.get(), (1, 1, 2));
    }
}

/// loom models of the slot alone: wakes on several threads against registrations (steady, or
/// a new waker per poll), a nested wake inside a task waker's wake, the run's end, and a
/// `dag!` claim handed over while a wake of the previous run holds a cell. (A wake's fast path
/// that let go with a request already pending lost a wake in
/// `every_wake_is_covered_with_a_steady_waker`.)
///
/// ```text
/// RUSTFLAGS="--cfg dagfut_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 cargo test -p dagfut --release --lib parent::loom_models
/// ```
#[cfg(all(test, dagfut_loom))]
// Test code on `std`: its `Arc`, `Mutex` and `Wake` are the plain ones next to loom's.
#[allow(clippy::std_instead_of_alloc, clippy::std_instead_of_core)]
mod loom_models {
    use super::{NOTIFY, ParentWaker, held};
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::thread;
    use std::sync::{Arc, Mutex};
    use std::task::{Wake, Waker};
    use std::vec::Vec;

    /// Registers `waker` as the run's side.
    fn register(slot: &ParentWaker, waker: &Waker) {
        // SAFETY: each model has one run side, the thread that calls this.
        unsafe { slot.register(waker) }
    }

    /// Takes the wakers out as the run's side.
    fn take(slot: &ParentWaker) -> super::Taken {
        // SAFETY: as in `register`.
        unsafe { slot.take() }
    }

    /// What the model shares: the slot, which wake calls started, which of them a wake of the
    /// task's waker saw (a wake of the task whose start comes after the call's start covers
    /// the call: the run's poll after that wake would drain the call's push).
    struct Shared {
        slot: ParentWaker,
        started: [AtomicBool; 4],
        covered: [AtomicBool; 4],
        /// The thread whose first wake of the task makes one more wake call (call 3) from
        /// inside it, as a node's wake during an inline poll does (the executor polls the run
        /// inside the task waker's wake, with a waker `will_wake`-equal to the registered one,
        /// so the registration is the steady one).
        nest_on: Mutex<Option<thread::ThreadId>>,
        nested: AtomicBool,
    }

    /// The task's waker: one `Arc` for every clone (`will_wake`-equal clones).
    struct TaskWaker(Arc<Shared>);

    impl Wake for TaskWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            let shared = &self.0;
            for (started, covered) in shared.started.iter().zip(&shared.covered) {
                if started.load(Ordering::Acquire) {
                    covered.store(true, Ordering::Relaxed);
                }
            }
            let here = Some(thread::current().id());
            if *shared.nest_on.lock().unwrap() == here
                && !shared.nested.swap(true, Ordering::Relaxed)
            {
                call(shared, 3);
            }
        }
    }

    fn call(shared: &Shared, which: usize) {
        shared.started[which].store(true, Ordering::Release);
        shared.slot.wake();
    }

    /// Three wakes on three threads with a steady registration; the third's wake of the task
    /// is an inline poll during which one more wake comes. Every wake call must be followed by
    /// a wake of the task that sees it.
    #[test]
    fn every_wake_is_covered_with_a_steady_waker() {
        bound(2).check(|| {
            let shared = Arc::new(Shared {
                slot: ParentWaker::default(),
                started: Default::default(),
                covered: Default::default(),
                nest_on: Mutex::new(None),
                nested: AtomicBool::new(false),
            });
            let waker = Waker::from(Arc::new(TaskWaker(shared.clone())));
            // SAFETY: this thread is the slot's only run side.
            unsafe { shared.slot.register(&waker) };
            let threads: Vec<_> = (0..3)
                .map(|which| {
                    let shared = shared.clone();
                    thread::spawn(move || {
                        if which == 2 {
                            *shared.nest_on.lock().unwrap() = Some(thread::current().id());
                        }
                        call(&shared, which);
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            let state = shared.slot.state.load(Ordering::Relaxed);
            let uncovered: Vec<usize> = (0..4)
                .filter(|&i| {
                    shared.started[i].load(Ordering::Relaxed)
                        && !shared.covered[i].load(Ordering::Relaxed)
                })
                .collect();
            // SAFETY: as above; every wake is done.
            drop(unsafe { shared.slot.take() });
            assert!(
                uncovered.is_empty(),
                "wake calls {uncovered:?} were never followed by a wake of the task that saw \
                 them (state {state:#b})"
            );
            assert!(
                state & NOTIFY == 0 || state & (held(0) | held(1)) != 0,
                "a NOTIFY left set with no cell held (state {state:#b})"
            );
        });
    }

    /// A task whose every waker clone has state of its own (as `tests/loom.rs`'s `Task`): a
    /// use of a clone after its drop, or racing it, fails the model; a clone never dropped is
    /// a leak loom reports (its `Track`).
    #[derive(Default)]
    struct PerClone {
        alive: std::sync::atomic::AtomicUsize,
        clones: Mutex<Vec<Arc<CloneState>>>,
        /// Which of the wake calls (`started`) a wake of any clone saw.
        started: [AtomicBool; 3],
        covered: [AtomicBool; 3],
    }

    struct CloneState {
        owned: loom::cell::UnsafeCell<Option<(Arc<PerClone>, loom::alloc::Track<()>)>>,
    }

    // SAFETY: accessed only through loom's `with`/`with_mut`, which check the accesses.
    unsafe impl Sync for CloneState {}
    // SAFETY: as above.
    unsafe impl Send for CloneState {}

    static PER_CLONE: std::task::RawWakerVTable =
        std::task::RawWakerVTable::new(pc_clone, pc_wake, pc_wake_by_ref, pc_drop);

    fn new_clone(task: &Arc<PerClone>) -> std::task::RawWaker {
        let state = Arc::new(CloneState {
            owned: loom::cell::UnsafeCell::new(Some((task.clone(), loom::alloc::Track::new(())))),
        });
        let data = Arc::as_ptr(&state).cast::<()>();
        task.clones.lock().unwrap().push(state);
        task.alive.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::task::RawWaker::new(data, &PER_CLONE)
    }

    fn per_clone_waker(task: &Arc<PerClone>) -> Waker {
        // SAFETY: `new_clone`'s waker keeps the contract (its state outlives it: the task
        // keeps every clone's state, and the model keeps the task to its end).
        unsafe { Waker::from_raw(new_clone(task)) }
    }

    unsafe fn task_of(data: *const (), what: &str) -> Arc<PerClone> {
        // SAFETY: the task keeps every clone's state.
        let state = unsafe { &*data.cast::<CloneState>() };
        state.owned.with(|owned| {
            // SAFETY: loom checks the access.
            let owned = unsafe { &*owned };
            owned
                .as_ref()
                .unwrap_or_else(|| panic!("a task's waker {what} after its drop"))
                .0
                .clone()
        })
    }

    unsafe fn pc_clone(data: *const ()) -> std::task::RawWaker {
        // SAFETY: a waker of this vtable.
        new_clone(&unsafe { task_of(data, "cloned") })
    }

    unsafe fn pc_wake(data: *const ()) {
        // SAFETY: a waker of this vtable, woken by value: by reference, then dropped.
        unsafe {
            pc_wake_by_ref(data);
            pc_drop(data);
        }
    }

    unsafe fn pc_wake_by_ref(data: *const ()) {
        // SAFETY: a waker of this vtable.
        let task = unsafe { task_of(data, "woken") };
        for (started, covered) in task.started.iter().zip(&task.covered) {
            if started.load(Ordering::Acquire) {
                covered.store(true, Ordering::Relaxed);
            }
        }
    }

    unsafe fn pc_drop(data: *const ()) {
        // SAFETY: a waker of this vtable.
        let state = unsafe { &*data.cast::<CloneState>() };
        // SAFETY: loom checks the access.
        let owned = state.owned.with_mut(|owned| unsafe { (*owned).take() });
        let (task, track) = owned.expect("a task's waker dropped twice");
        task.alive.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        drop(track);
        drop(task);
    }

    /// A model with `LOOM_MAX_PREEMPTIONS`, or `default` preemptions if it is not set.
    fn bound(default: usize) -> loom::model::Builder {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = model.preemption_bound.or(Some(default));
        model
    }

    /// Two wakes on two threads while the run's side registers a new waker per poll (each
    /// poll then "drains": reads which wake calls started). Every wake call is seen by a wake
    /// of a clone or by a drain after a registration; no clone is used after its drop; none
    /// is left once the run ends.
    #[test]
    fn new_wakers_per_poll_racing_wakes() {
        bound(2).check(|| {
            let task = Arc::new(PerClone::default());
            let slot = Arc::new(ParentWaker::default());
            register(&slot, &per_clone_waker(&task));
            let threads = spawn_wakes(&task, &slot);
            for _ in 0..2 {
                register(&slot, &per_clone_waker(&task));
                drain(&task);
            }
            // The run waits: every wake call must have been seen, or wake the task.
            for thread in threads {
                thread.join().unwrap();
            }
            let state = slot.state.load(Ordering::Relaxed);
            for which in 0..2 {
                assert!(
                    task.covered[which].load(Ordering::Relaxed),
                    "wake call {which} lost (state {state:#b})"
                );
            }
            drop(take(&slot));
            assert_eq!(task.alive.load(std::sync::atomic::Ordering::SeqCst), 0);
        });
    }

    /// As above, but the run ends (`take`) while the wakes may hold a cell: nothing is used
    /// after its drop, and once the wakes are done no waker of the task is left in the slot.
    #[test]
    fn new_wakers_per_poll_racing_wakes_and_the_end() {
        bound(2).check(|| {
            let task = Arc::new(PerClone::default());
            let slot = Arc::new(ParentWaker::default());
            register(&slot, &per_clone_waker(&task));
            let threads = spawn_wakes(&task, &slot);
            register(&slot, &per_clone_waker(&task));
            drop(take(&slot));
            for thread in threads {
                thread.join().unwrap();
            }
            let state = slot.state.load(Ordering::Relaxed);
            assert_eq!(
                task.alive.load(std::sync::atomic::Ordering::SeqCst),
                0,
                "a waker left in the slot after the run ended and its wakes were done \
                 (state {state:#b})"
            );
        });
    }

    fn spawn_wakes(task: &Arc<PerClone>, slot: &Arc<ParentWaker>) -> Vec<thread::JoinHandle<()>> {
        (0..2)
            .map(|which| {
                let (task, slot) = (task.clone(), slot.clone());
                thread::spawn(move || {
                    task.started[which].store(true, Ordering::Release);
                    slot.wake();
                })
            })
            .collect()
    }

    fn drain(task: &PerClone) {
        for (started, covered) in task.started.iter().zip(&task.covered) {
            if started.load(Ordering::Acquire) {
                covered.store(true, Ordering::Relaxed);
            }
        }
    }

    /// `dag!`'s hand-over: run 1 registers, its node is woken on another thread, run 1 ends
    /// (`take`), run 2 (another task) registers, is woken on a third thread, registers a new
    /// waker and drains, and waits. Run 2's wake is seen; once all is done and run 2 ended,
    /// nothing of either task is left in the slot, and nothing was used after its drop.
    #[test]
    fn a_claim_handed_over_while_a_wake_of_the_previous_run_holds_a_cell() {
        bound(2).check(|| {
            let first = Arc::new(PerClone::default());
            let second = Arc::new(PerClone::default());
            let slot = Arc::new(ParentWaker::default());
            register(&slot, &per_clone_waker(&first));
            let old = {
                let slot = slot.clone();
                thread::spawn(move || slot.wake())
            };
            drop(take(&slot));
            // Run 2, on this thread (the claim's hand-over is a happens-before edge).
            register(&slot, &per_clone_waker(&second));
            let new = {
                let (slot, second) = (slot.clone(), second.clone());
                thread::spawn(move || {
                    second.started[0].store(true, Ordering::Release);
                    slot.wake();
                })
            };
            register(&slot, &per_clone_waker(&second));
            drain(&second);
            new.join().unwrap();
            old.join().unwrap();
            let state = slot.state.load(Ordering::Relaxed);
            assert!(
                second.covered[0].load(Ordering::Relaxed),
                "run 2's wake lost (state {state:#b})"
            );
            assert_eq!(
                first.alive.load(std::sync::atomic::Ordering::SeqCst),
                0,
                "run 1's waker left in the slot while run 2 runs (state {state:#b})"
            );
            drop(take(&slot));
            assert_eq!(second.alive.load(std::sync::atomic::Ordering::SeqCst), 0);
        });
    }
}
