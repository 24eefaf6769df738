//! The atomics the scheduler uses, in one place, so that the loom models
//! (`RUSTFLAGS="--cfg dagfut_loom"`) check the waker block against every interleaving.
//!
//! `portable-atomic` is the standard library's atomics on every target that has
//! compare-and-swap, and a critical-section implementation on those that do not (thumbv6m).

/// A 64-bit counter for DAG ids: a `static`, so never a loom type.
pub(crate) use portable_atomic::AtomicU64 as IdCounter;

#[cfg(not(dagfut_loom))]
pub(crate) use portable_atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering, fence};

#[cfg(dagfut_loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering, fence};

/// The slot of the run's parent waker: registered by each poll, taken by the first wake.
#[derive(Default)]
pub(crate) struct ParentWaker {
    #[cfg(not(dagfut_loom))]
    inner: futures_util::task::AtomicWaker,
    #[cfg(dagfut_loom)]
    inner: loom::future::AtomicWaker,
}

impl ParentWaker {
    pub(crate) fn register(&self, waker: &core::task::Waker) {
        #[cfg(not(dagfut_loom))]
        self.inner.register(waker);
        #[cfg(dagfut_loom)]
        self.inner.register_by_ref(waker);
    }

    pub(crate) fn wake(&self) {
        self.inner.wake();
    }

    pub(crate) fn take(&self) -> Option<core::task::Waker> {
        #[cfg(not(dagfut_loom))]
        return self.inner.take();
        #[cfg(dagfut_loom)]
        return self.inner.take_waker();
    }
}
