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
/// read-modify-write) while it wakes its waker by reference; one that finds it held sets
/// `NOTIFY` and returns, and whoever lets go of a cell next and reads the request wakes the
/// current waker (again: a holder's own wake may have come before the requester's push on the
/// wake stack). The run's side (`register`, `take`: one call at a time, the caller's contract)
/// writes a cell only while holding it, and reads the current one without holding it when no
/// `TAKE` of it is pending. A new waker goes into the cell that is not current, which then
/// becomes current, or, if a wake holds that one, into the current cell in place; so a wake
/// that holds a cell for as long as its waker's wake lasts (an executor that polls the task
/// inside that wake, registering a new waker each time) never keeps the run from registering.
/// Only when a wake holds each cell at that moment is the new waker woken instead, as an
/// `AtomicWaker` does: the run is polled again and registers then. A `take` that finds a wake
/// holding a cell sets that cell's `TAKE` and returns: the wake moves the waker out before it
/// lets go. Nobody ever waits for anybody.
///
/// A wake that held a cell as the other became current has woken the old waker: its push on
/// the wake stack came before it held the cell, so before the registration (which reads the
/// cell held, with `Acquire`, from the wake's `Release`), and the run's drain after the
/// registration sees it.
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
/// that answers them).
struct Unlock<'a>(&'a AtomicUsize, usize);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.fetch_and(!held(self.1), Ordering::Release);
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
        loop {
            let next = (state & !(held(cell) | take_bit(cell) | NOTIFY | CURRENT)) | cell;
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        if state & NOTIFY != 0 {
            waker.wake_by_ref();
        }
        // The other cell's waker, no longer current, is let go unless a wake is waking it right
        // now (it then stays until the cell is written again, or taken).
        let stale = if in_place {
            None
        } else {
            // SAFETY: the caller's contract, passed on.
            unsafe { self.clear(cell ^ 1, state) }
        };
        drop(old);
        drop(stale);
    }

    /// Takes out the waker of `cell`, which is not current, if no wake holds it. `state` is
    /// one read since the cell stopped being current.
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

    /// Wakes the current waker, if any, by reference; never waits.
    ///
    /// A panic in the waker's `wake_by_ref` goes on to this wake's caller, and the run may then
    /// sleep until something else polls it (its wake is lost; the slot stays usable).
    ///
    /// Out of line: a node's wake reaches it only when the wake stack was empty, and inlined
    /// it makes every node wake save more registers.
    #[inline(never)]
    pub(crate) fn wake(&self) {
        // The common case, alone with the slot: hold the current cell, wake, let go of it with
        // the state as it was. Anything else takes the general path.
        let state = self.state.load(Ordering::Relaxed);
        let cell = current(state);
        if state & held(cell) == 0
            // `Release`: the push on the wake stack before this is seen by a registration
            // that reads the cell held (see the type's protocol).
            && self
                .state
                .compare_exchange(state, state | held(cell), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            // SAFETY: the cell is held by us (just above).
            unsafe { self.wake_held(cell) };
            if self
                .state
                .compare_exchange(
                    state | held(cell),
                    state,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_err()
            {
                // A request came meanwhile: answered, and a `NOTIFY` by waking again.
                if let Some(now) = self.let_go(cell, state | held(cell)) {
                    self.wake_contended(now);
                }
            }
            return;
        }
        self.wake_contended(self.state.load(Ordering::Relaxed));
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
            // `Release`: as in `wake`.
            if let Err(now) = self.state.compare_exchange_weak(
                state,
                state | held(cell),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                state = now;
                continue;
            }
            // SAFETY: the cell is held by us (just above).
            unsafe { self.wake_held(cell) };
            match self.let_go(cell, state | held(cell)) {
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
        this.clones.fetch_add(1, Ordering::Relaxed);
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
        counts.panic_on_wake.store(true, Ordering::Relaxed);
        let wake = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| slot.wake()));
        assert!(
            wake.is_err(),
            "the wake's panic goes on to the wake's caller"
        );
        // The cell was let go: the next wake wakes, the next registration finds the waker
        // there, and the waker is still there to take.
        slot.wake();
        assert_eq!(counts.get().1, 1);
        register(&slot, &task);
        assert_eq!(counts.get().0, 1, "no new clone");
        assert_eq!(take(&slot).iter().flatten().count(), 1);
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
        let slot = &inline.0;
        register(slot, &waker(&first));
        first
            .inline
            .store(core::ptr::from_ref(&inline).cast_mut(), Ordering::Relaxed);
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
