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
/// before letting go.
const NOTIFY: usize = 2;

/// The slot of the run's parent waker: registered by the run's polls, woken by the node
/// wakers (on any thread). Unlike an `AtomicWaker`, a wake leaves the waker in place (it
/// wakes a clone), so a poll whose task's waker is the one already there (`will_wake`)
/// registers it with no atomic operation and no clone: a wake costs two atomic
/// read-modify-writes (and the waker's clone), a steady registration none.
///
/// Protocol: only the run's side writes the waker (`register`, `take`: one poll at a time,
/// never concurrently with each other), and only while holding `LOCKED`; a wake reads it only
/// while holding `LOCKED`, just long enough to clone it. The run's side may read it without
/// the lock (its own writes; wakes only read). A wake that finds the slot held sets
/// `NOTIFY`: a waking holder wakes its clone after letting go (so after the request), and a
/// registering one wakes the new waker.
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

// SAFETY: the only non-atomic field, the waker's cell, is written only by the run's side while
// it holds `LOCKED`, and read by wakes only while they hold it (the run's side reads it too,
// never while writing: it is one poll at a time); `Waker` is `Send + Sync`. So `&ParentWaker`
// shared between threads races on nothing.
unsafe impl Sync for ParentWaker {}

impl core::fmt::Debug for ParentWaker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParentWaker").finish_non_exhaustive()
    }
}

/// Lets go of the slot if a waker's clone panics (the normal paths let go with a swap that
/// reads the requests made meanwhile).
struct Unlock<'a>(&'a AtomicUsize);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
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

    /// Makes `waker` the one to wake. Only the run's side calls it, one poll at a time.
    pub(crate) fn register(&self, waker: &core::task::Waker) {
        // SAFETY: this is the run's side, the only one that writes the cell: no write happens
        // meanwhile (wakes only read it).
        let same = unsafe {
            self.waker
                .read(|stored| stored.is_some_and(|s| s.will_wake(waker)))
        };
        if same {
            return;
        }
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
        // SAFETY: `LOCKED` is ours: no wake reads the cell, and the run's side is here.
        let old = unsafe { self.waker.replace(Some(new)) };
        core::mem::forget(unlock);
        // Wakes that came while the slot was held: the new waker may have missed them.
        if self.state.swap(0, Ordering::AcqRel) & NOTIFY != 0 {
            waker.wake_by_ref();
        }
        drop(old);
    }

    /// Wakes the registered waker, if any; never waits for the run's side.
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
        // SAFETY: `LOCKED` is ours: the run's side does not write the cell meanwhile.
        let waker = unsafe { self.waker.read(|stored| stored.cloned()) };
        core::mem::forget(unlock);
        // Let go with a read-modify-write: it reads every request made meanwhile, so each
        // requester's wake (its push on the wake stack) happens before the wake below.
        self.state.swap(0, Ordering::AcqRel);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Takes the registered waker out, unless a wake holds the slot right now (the waker
    /// then stays until the slot is taken again, or dropped). Only the run's side calls it.
    #[cfg(feature = "alloc")]
    pub(crate) fn take(&self) -> Option<core::task::Waker> {
        if self.state.fetch_or(LOCKED, Ordering::Acquire) & LOCKED != 0 {
            return None;
        }
        // SAFETY: `LOCKED` is ours: no wake reads the cell, and the run's side is here.
        let waker = unsafe { self.waker.replace(None) };
        self.state.swap(0, Ordering::AcqRel);
        waker
    }

    /// Takes the registered waker out, waiting for a wake that holds the slot to let go (it
    /// holds it only to clone the waker): for a slot that outlives the run (a `dag!`'s
    /// `static`), which must not keep the run's task alive. Only the run's side calls it.
    pub(crate) fn take_waiting(&self) -> Option<core::task::Waker> {
        while self.state.fetch_or(LOCKED, Ordering::Acquire) & LOCKED != 0 {
            #[cfg(dagfut_loom)]
            loom::thread::yield_now();
            #[cfg(not(dagfut_loom))]
            core::hint::spin_loop();
        }
        // SAFETY: `LOCKED` is ours: no wake reads the cell, and the run's side is here.
        let waker = unsafe { self.waker.replace(None) };
        self.state.swap(0, Ordering::AcqRel);
        waker
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
    /// No write of the cell happens meanwhile: the caller holds `LOCKED`, or is the run's side.
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
    /// The caller is the run's side and holds `LOCKED`: no other access happens meanwhile.
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
        unsafe { &*counts.cast::<Counts>() }
            .clones
            .fetch_add(1, Ordering::Relaxed);
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

    #[test]
    fn a_steady_registration_clones_nothing_and_a_wake_leaves_the_waker() {
        let counts = Counts::default();
        let slot = ParentWaker::default();
        let task = waker(&counts);
        slot.register(&task);
        assert_eq!(
            counts.get(),
            (1, 0, 0),
            "the first registration keeps a clone"
        );
        slot.register(&task);
        assert_eq!(counts.get(), (1, 0, 0), "the same waker again: no clone");
        slot.wake();
        slot.wake();
        // Each wake wakes a clone (dropped by its wake), and the slot keeps its own.
        assert_eq!(counts.get(), (3, 2, 0));
        slot.register(&task);
        assert_eq!(counts.get().0, 3, "still registered after the wakes");
        core::mem::drop(slot.take().expect("a registered waker"));
        assert_eq!(counts.get(), (3, 2, 1));
        slot.wake();
        assert_eq!(counts.get().1, 2, "nothing to wake once taken");
    }

    #[test]
    fn a_new_waker_replaces_the_old_one() {
        let (old_counts, new_counts) = (Counts::default(), Counts::default());
        let slot = ParentWaker::default();
        slot.register(&waker(&old_counts));
        slot.register(&waker(&new_counts));
        assert_eq!(old_counts.get(), (1, 0, 2), "the old clone dropped");
        slot.wake();
        assert_eq!(old_counts.get().1, 0);
        assert_eq!(new_counts.get().1, 1);
        core::mem::drop(slot.take_waiting());
    }
}
