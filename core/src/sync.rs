//! The atomics the scheduler uses, in one place.
//!
//! `portable-atomic` is the standard library's atomics on every target that has
//! compare-and-swap, and a critical-section implementation on those that do not (thumbv6m).

pub(crate) use portable_atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
