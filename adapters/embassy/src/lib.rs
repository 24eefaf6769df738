//! [dagfut] on [embassy](https://embassy.dev): per-node timeouts with embassy-time's timer,
//! and a clock for run traces. `no_std`, no allocation of its own.
//!
//! A dagfut run is one future, so it runs inside one embassy task as it is: no spawning, no
//! task pool to size, the whole DAG's concurrency within the task's single future. This crate
//! adds:
//!
//! - [`timeout`]: a node's future with a deadline from `embassy_time`, failing with a
//!   [`Timeout`] that names the node;
//! - [`EmbassyClock`]: a [`dagfut::Clock`] reading `embassy_time::Instant`, so an observer can
//!   stamp node events with the board's time.
//!
//! # The timer queue: enable `embassy-time/generic-queue-N`
//!
//! dagfut polls each node with a waker of its own, not the embassy task's. embassy-time's
//! default timer queue is integrated with the executor and only takes the executor's own
//! wakers: an `embassy_time::Timer` awaited inside a node panics with "Found waker not created
//! by the Embassy executor". The firmware (or the time driver) must use a **generic** timer
//! queue, which stores any waker: enable one feature `generic-queue-8` … `generic-queue-128` of
//! `embassy-time` in the firmware's `Cargo.toml`, with N at least the number of timers pending
//! at once (every node awaiting a timer counts). A time driver of one's own can hold an
//! `embassy_time_queue_utils::queue_generic::ConstGenericQueue<N>` instead, as the QEMU
//! firmware does. This crate does not choose N for you: the feature belongs to the firmware.
//!
//! # Offloading
//!
//! Offloading a CPU-heavy node to another executor is left out on purpose: embassy tasks are
//! static (`#[embassy_executor::task]`, sized at compile time) and most targets have one core;
//! a node that must not hold up the others can await work done by a task of a higher-priority
//! `InterruptExecutor`, through an `embassy_sync` channel the firmware sets up.
//!
//! The firmware in `firmware/` runs the seed graph on an emulated Cortex-M3 (QEMU's
//! `lm3s6965evb`) and prints its values and time over semihosting.
//!
//! # Examples
//!
//! On the host, with embassy's `std` executor and time driver; on a board, the same code runs in
//! an `#[embassy_executor::task]`.
//!
//! ```
//! use dagfut::LocalDagBuilder;
//! use dagfut_embassy::Timeout;
//! use embassy_time::{Duration, Instant, Timer};
//!
//! async fn sense(delay_ms: &u64) -> Result<u64, Timeout> {
//!     let work = async {
//!         Timer::after_millis(*delay_ms).await;
//!         *delay_ms
//!     };
//!     dagfut_embassy::timeout("sense", Duration::from_millis(20), work).await
//! }
//!
//! async fn scale(reading: &u64) -> u64 {
//!     reading * 10
//! }
//!
//! #[embassy_executor::task]
//! async fn main_task() {
//!     let b = LocalDagBuilder::<u64>::new().with_error::<Timeout>();
//!     let reading = b.named("sense").add_try_node(sense, b.param());
//!     let scaled = b.add_node(scale, reading);
//!     let dag = b.build();
//!
//!     let started = Instant::now();
//!     assert_eq!(dag.try_run(&1).await.unwrap()[scaled], 10);
//!     let error = dag.try_run(&60_000).await.unwrap_err(); // a minute against 20 ms
//!     assert_eq!(error.to_string(), "node `sense` (task #0) failed: `sense` timed out after 20ms");
//!     assert!(started.elapsed() < Duration::from_secs(60));
//!     DONE.store(true, core::sync::atomic::Ordering::SeqCst);
//! }
//!
//! static DONE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
//!
//! let executor = Box::leak(Box::new(embassy_executor::Executor::new()));
//! executor.run_until(
//!     |spawner| spawner.spawn(main_task().unwrap()),
//!     || DONE.load(core::sync::atomic::Ordering::SeqCst),
//! );
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

use core::future::Future;

use embassy_time::{Duration, Instant};

pub use dagfut::Timeout;

/// Runs `work` with a deadline of `after` on embassy-time's timer
/// ([`embassy_time::with_deadline`]): its output, or a [`Timeout`] labelled `label` if the
/// deadline passes first (and `work` is dropped).
///
/// The deadline saturates at [`Instant::MAX`], the end of the board's clock: a duration too long
/// to add to now (`Duration::MAX`, as "no deadline") never fires, where `with_timeout` panics
/// with "overflow when adding duration to instant".
///
/// Call it inside a node's body, so the node stays an ordinary `async fn` of its inputs; a node
/// with an error type of its own converts with `From<Timeout>` and `timeout(..).await??`.
///
/// # Cancel safety
///
/// Dropping the future drops `work`.
pub async fn timeout<F: Future>(
    label: &'static str,
    after: Duration,
    work: F,
) -> Result<F::Output, Timeout> {
    let deadline = Instant::now().saturating_add(after);
    embassy_time::with_deadline(deadline, work)
        .await
        .map_err(|_elapsed| {
            Timeout::new(label, core::time::Duration::from_micros(after.as_micros()))
        })
}

/// A [`dagfut::Clock`] reading `embassy_time::Instant` from the moment it was made: the
/// board's time driver, at its tick rate.
///
/// # Examples
///
/// ```
/// use dagfut::Clock;
/// use dagfut_embassy::EmbassyClock;
///
/// let clock = EmbassyClock::new();
/// let first = clock.now();
/// assert!(clock.now() >= first);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EmbassyClock {
    origin: Instant,
}

impl EmbassyClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        EmbassyClock {
            origin: Instant::now(),
        }
    }

    /// A clock whose origin is `origin` (for instance the board's boot, `Instant::MIN`).
    pub fn since(origin: Instant) -> Self {
        EmbassyClock { origin }
    }
}

impl Default for EmbassyClock {
    fn default() -> Self {
        Self::new()
    }
}

impl dagfut::Clock for EmbassyClock {
    fn now(&self) -> core::time::Duration {
        self.origin.elapsed().into()
    }
}
