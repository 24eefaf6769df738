//! The atomics the scheduler uses, in one place, so that the loom models
//! (`RUSTFLAGS="--cfg dagfut_loom"`) check the waker block against every interleaving, and
//! the slot of the run's parent waker built on them (`ParentWaker`).
//!
//! `portable-atomic` is the standard library's atomics on every target that has
//! compare-and-swap, and a critical-section implementation on those that do not (thumbv6m).

/// A 64-bit counter for DAG ids: a `static`, so never a loom type.
pub(crate) use portable_atomic::AtomicU64 as IdCounter;

#[cfg(not(dagfut_loom))]
pub(crate) use portable_atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering, fence};

#[cfg(dagfut_loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering, fence};

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
            waker: WakerCell::new(None),
        }
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
    /// Makes `waker` the one to wake. Only the run's side calls it, one poll at a time.
    pub(crate) fn register(&self, waker: &core::task::Waker) {
        // SAFETY: this is the run's side, the only one that writes the cell: no write happens
        // meanwhile (wakes only read it).
        let same = unsafe { self.waker.read(|stored| stored.is_some_and(|s| s.will_wake(waker))) };
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
    pub(crate) fn take(&self) -> Option<core::task::Waker> {
        if self.state.fetch_or(LOCKED, Ordering::Acquire) & LOCKED != 0 {
            return None;
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
    fn new(waker: Option<core::task::Waker>) -> Self {
        #[cfg(not(dagfut_loom))]
        return WakerCell(core::cell::UnsafeCell::new(waker));
        #[cfg(dagfut_loom)]
        return WakerCell(loom::cell::UnsafeCell::new(waker));
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
        return self.0.with_mut(|cell| core::mem::replace(unsafe { &mut *cell }, waker));
    }
}

#[cfg(all(test, not(dagfut_loom)))]
mod tests {
    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::task::Waker;

    use super::ParentWaker;
    use portable_atomic::{AtomicUsize, Ordering};

    /// A waker that counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn a_steady_registration_keeps_the_waker_and_a_wake_leaves_it_in_place() {
        let slot = ParentWaker::default();
        let (count, waker) = counting();
        slot.register(&waker);
        // The slot holds one clone; registering the same waker again clones nothing.
        assert_eq!(Arc::strong_count(&count), 3);
        slot.register(&waker);
        assert_eq!(Arc::strong_count(&count), 3);
        slot.wake();
        slot.wake();
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
        // Still there after the wakes.
        assert_eq!(Arc::strong_count(&count), 3);
        let taken = slot.take().expect("a registered waker");
        assert!(taken.will_wake(&waker));
        drop(taken);
        assert_eq!(Arc::strong_count(&count), 2);
        slot.wake();
        assert_eq!(count.0.load(Ordering::Relaxed), 2, "nothing to wake once taken");
    }

    #[test]
    fn a_new_waker_replaces_the_old_one() {
        let slot = ParentWaker::default();
        let (old_count, old) = counting();
        let (new_count, new) = counting();
        slot.register(&old);
        slot.register(&new);
        assert_eq!(Arc::strong_count(&old_count), 2, "the old waker is dropped");
        slot.wake();
        assert_eq!(old_count.0.load(Ordering::Relaxed), 0);
        assert_eq!(new_count.0.load(Ordering::Relaxed), 1);
    }
}
