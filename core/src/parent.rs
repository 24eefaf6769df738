//! The slot of a run's parent waker (the waker of the task that polls the run), shared by the
//! runtime runs' waker block and a `dag!`'s `static` wakers. Its atomics are loom's under the
//! loom models (`RUSTFLAGS="--cfg dagfut_loom"`), which check it with the blocks it serves.

#[cfg(dagfut_loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(dagfut_loom))]
use portable_atomic::{AtomicUsize, Ordering};

/// `ParentWaker::state`: a side (a wake, or the run registering or taking) holds the slot.
const LOCKED: usize = 1;
/// `ParentWaker::state`: a wake came while the slot was held; whoever holds it wakes (again)
/// after it lets go.
const NOTIFY: usize = 2;
/// `ParentWaker::state`: the run ended while a wake held the slot; that wake takes the waker
/// out as it lets go (and drops it), so that the slot keeps no task alive.
const TAKE: usize = 4;

/// The slot of the run's parent waker: registered by the run's polls, woken by the node
/// wakers (on any thread). Unlike an `AtomicWaker`, a wake leaves the waker in place (it
/// wakes a clone), so a poll whose task's waker is the one already there (`will_wake`)
/// registers it with no atomic read-modify-write and no clone: a wake costs two of them (and
/// the waker's clone), a steady registration none.
///
/// Protocol. The run's side (`register`, `take`: one call at a time, the caller's contract)
/// writes the waker only while holding `LOCKED`, and may read it without the lock when no
/// `TAKE` is pending. A wake holds `LOCKED` only to clone the waker; one that finds the slot
/// held sets `NOTIFY` and returns: a waking holder's own wake comes after its request (it lets
/// go with a read-modify-write that reads the request, then wakes), and a registering holder
/// wakes the new waker. A `take` that finds a wake holding the slot sets `TAKE` and returns:
/// that wake moves the waker out before it lets go. Nobody ever waits for anybody.
pub(crate) struct ParentWaker {
    state: AtomicUsize,
    waker: WakerCell,
}

impl Default for ParentWaker {
    fn default() -> Self {
        ParentWaker {
            state: AtomicUsize::new(0),
            waker: WakerCell::new(),
        }
    }
}

// SAFETY: the only non-atomic field, the waker's cell, is written only while holding `LOCKED`
// (by the run's side, or by a wake answering `TAKE`), read by wakes only while holding it, and
// read by the run's side without it only when no `TAKE` is pending (so no wake writes it) and
// never while the run's side writes (`register` and `take` are one call at a time, their
// contract); `Waker` is `Send + Sync`. So `&ParentWaker` shared between threads races on
// nothing.
unsafe impl Sync for ParentWaker {}

impl core::fmt::Debug for ParentWaker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParentWaker").finish_non_exhaustive()
    }
}

/// Lets go of the slot if a waker's clone panics, keeping the requests made meanwhile for
/// the next holder (the normal paths let go with a read-modify-write that answers them).
struct Unlock<'a>(&'a AtomicUsize);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.fetch_and(!LOCKED, Ordering::Release);
    }
}

impl ParentWaker {
    /// An empty slot, for a `static` (a `dag!`'s wakers).
    #[cfg(not(dagfut_loom))]
    pub(crate) const fn new() -> Self {
        ParentWaker {
            state: AtomicUsize::new(0),
            waker: WakerCell::new(),
        }
    }

    /// Makes `waker` the one to wake.
    ///
    /// # Safety
    /// The caller is the run's side: no other call of `register` or `take` on this slot runs
    /// at the same time (one poll of one run at a time; a `dag!` run holds its claim).
    #[inline]
    pub(crate) unsafe fn register(&self, waker: &core::task::Waker) {
        // No `TAKE` pending (`Acquire`: a wake that answered one wrote the cell before), so
        // no wake writes the cell now.
        if self.state.load(Ordering::Acquire) & TAKE == 0 {
            // SAFETY: no wake writes the cell (above) and the run's side is here, the caller
            // guarantees, so nothing writes it during this read.
            let same = unsafe {
                self.waker
                    .read(|stored| stored.is_some_and(|s| s.will_wake(waker)))
            };
            if same {
                return;
            }
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { self.store_new(waker) };
    }

    /// `register`'s work when `waker` is not the one there. Out of line: a run's polls
    /// mostly bring the same waker.
    ///
    /// # Safety
    /// As [`register`](Self::register).
    #[inline(never)]
    unsafe fn store_new(&self, waker: &core::task::Waker) {
        if self.state.fetch_or(LOCKED, Ordering::Acquire) & LOCKED != 0 {
            // A wake is cloning the waker there: this poll's waker is woken instead (the run
            // is polled again, and registers then), as an `AtomicWaker` does.
            waker.wake_by_ref();
            // Under the loom models, let the waking thread go on (a real one does anyway).
            #[cfg(dagfut_loom)]
            loom::thread::yield_now();
            return;
        }
        let unlock = Unlock(&self.state);
        let new = waker.clone();
        // SAFETY: `LOCKED` is ours: no wake reads or writes the cell, and the run's side is
        // here alone (the caller's contract).
        let old = unsafe { self.waker.replace(Some(new)) };
        core::mem::forget(unlock);
        // Wakes that came while the slot was held: the new waker may have missed them. (A
        // `TAKE` cannot be pending: only `take` sets it, on this side, and it is not running.)
        if self.state.swap(0, Ordering::AcqRel) & NOTIFY != 0 {
            waker.wake_by_ref();
        }
        drop(old);
    }

    /// Wakes the registered waker, if any; never waits.
    ///
    /// A panic in the waker's `clone` goes on to this wake's caller, and the run may then
    /// sleep until something else polls it (its wake is lost; the slot stays usable).
    pub(crate) fn wake(&self) {
        let mut state = self.state.fetch_or(LOCKED, Ordering::Acquire);
        while state & LOCKED != 0 {
            // Held: the holder wakes after this request (see the type's protocol).
            if self.state.fetch_or(NOTIFY, Ordering::AcqRel) & LOCKED != 0 {
                return;
            }
            // It let go in between: hold it ourselves.
            state = self.state.fetch_or(LOCKED, Ordering::Acquire);
        }
        let unlock = Unlock(&self.state);
        // SAFETY: `LOCKED` is ours: nobody writes the cell meanwhile.
        let waker = unsafe { self.waker.read(|stored| stored.cloned()) };
        core::mem::forget(unlock);
        // Let go with a read-modify-write that reads every request made meanwhile: each
        // requester's push on the wake stack happens before the wake below; a `TAKE` is
        // answered by moving the waker out first.
        let (mut expected, mut taken) = (LOCKED, None);
        while let Err(current) =
            self.state
                .compare_exchange(expected, 0, Ordering::AcqRel, Ordering::Acquire)
        {
            if current & TAKE != 0 && taken.is_none() {
                // SAFETY: `LOCKED` is still ours, and the run's side, which asked, is done.
                taken = unsafe { self.waker.replace(None) };
            }
            expected = current;
        }
        if let Some(waker) = waker {
            waker.wake();
        }
        drop(taken);
    }

    /// Takes the registered waker out; if a wake holds the slot right now, asks it to (it
    /// then drops the waker as it lets go), and returns `None`. Never waits.
    ///
    /// # Safety
    /// As [`register`](Self::register).
    pub(crate) unsafe fn take(&self) -> Option<core::task::Waker> {
        loop {
            if self.state.fetch_or(LOCKED, Ordering::Acquire) & LOCKED == 0 {
                // SAFETY: `LOCKED` is ours: no wake reads or writes the cell, and the run's
                // side is here alone (the caller's contract).
                let waker = unsafe { self.waker.replace(None) };
                self.state.swap(0, Ordering::AcqRel);
                return waker;
            }
            if self.state.fetch_or(TAKE, Ordering::AcqRel) & LOCKED != 0 {
                return None;
            }
            // The wake let go in between: take it ourselves (the `TAKE` just set is cleared
            // as we let go).
        }
    }

    /// Takes the registered waker out when no wake can reach the slot any more: the block
    /// that holds it has no waker left but the run's own handle. No atomic read-modify-write.
    /// What is there is taken: the waker, or, after a [`take`](Self::take) that a wake was to
    /// answer, what that wake left if its clone panicked.
    ///
    /// # Safety
    /// The caller is the run's side, and no wake of this slot runs now or later: every one
    /// that ran happens before this call (the caller acquired the release of the last other
    /// reference to what holds the slot, and none can be made again).
    pub(crate) unsafe fn take_alone(&self) -> Option<core::task::Waker> {
        // Every holder let go: a clone that panicked lets go in `Unlock`, and may leave a
        // `NOTIFY` or an unanswered `TAKE` behind, which is harmless: the slot is never woken
        // again, and a block kept for the next run has its header written anew.
        debug_assert_eq!(
            self.state.load(Ordering::Relaxed) & LOCKED,
            0,
            "no wake holds the slot"
        );
        // SAFETY: nothing else reads or writes the cell, now or later (the caller's contract),
        // and every access before happens before this one.
        unsafe { self.waker.replace(None) }
    }
}

/// The cell of the parent's waker (a loom cell under the loom models, whose checker then
/// sees every access).
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
    /// No write of the cell happens meanwhile: the caller holds `LOCKED`, or is the run's side
    /// with no `TAKE` pending (only a wake answering one writes the cell from elsewhere).
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
    /// The caller holds `LOCKED`, and the run's side does not read the cell meanwhile: it is
    /// the caller, or a `TAKE` it set is pending (it reads without the lock only when none is).
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

    use super::ParentWaker;
    use portable_atomic::{AtomicUsize, Ordering};

    /// What a test's waker counts.
    #[derive(Default)]
    struct Counts {
        clones: AtomicUsize,
        wakes: AtomicUsize,
        drops: AtomicUsize,
        /// The next clone panics.
        panic_on_clone: portable_atomic::AtomicBool,
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
        assert!(
            !this.panic_on_clone.swap(false, Ordering::Relaxed),
            "a clone that panics"
        );
        this.clones.fetch_add(1, Ordering::Relaxed);
        RawWaker::new(counts, &VTABLE)
    }

    unsafe fn wake(counts: *const ()) {
        // SAFETY: as in `clone`.
        unsafe { &*counts.cast::<Counts>() }
            .wakes
            .fetch_add(1, Ordering::Relaxed);
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

    fn take(slot: &ParentWaker) -> Option<Waker> {
        // SAFETY: as in `register`.
        unsafe { slot.take() }
    }

    #[test]
    fn a_steady_registration_clones_nothing_and_a_wake_leaves_the_waker() {
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
        // Each wake wakes a clone (dropped by its wake), and the slot keeps its own.
        assert_eq!(counts.get(), (3, 2, 0));
        register(&slot, &task);
        assert_eq!(counts.get().0, 3, "still registered after the wakes");
        core::mem::drop(take(&slot).expect("a registered waker"));
        assert_eq!(counts.get(), (3, 2, 1));
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
    }

    #[test]
    fn a_wake_whose_clone_panics_leaves_the_slot_usable() {
        let counts = Counts::default();
        let slot = ParentWaker::default();
        let task = waker(&counts);
        register(&slot, &task);
        counts.panic_on_clone.store(true, Ordering::Relaxed);
        let wake = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| slot.wake()));
        assert!(
            wake.is_err(),
            "the clone's panic goes on to the wake's caller"
        );
        // The slot was let go: the next wake wakes, and the waker is still there to take.
        slot.wake();
        assert_eq!(counts.get().1, 1);
        assert!(take(&slot).is_some());
    }
}
