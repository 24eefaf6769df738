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
