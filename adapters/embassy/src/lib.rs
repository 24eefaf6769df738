//! [dagfut] on [embassy](https://embassy.dev): the timer of node policies and per-node
//! timeouts with embassy-time's timer, and a clock for run traces. `no_std`, no allocation of
//! its own.
//!
//! A dagfut run is one future, so it runs inside one embassy task as it is: no spawning, no
//! task pool to size, the whole DAG's concurrency within the task's single future. This crate
//! adds:
//!
//! - [`EmbassyTimer`]: embassy-time's timer as a [`dagfut::Timer`], for node policies declared
//!   with the graph (`b.named("sense").timeout(..).retry(..).or_node(..)`): timeouts per
//!   attempt, retries with a backoff, fallbacks, on the board's clock;
//! - [`timeout`]: a node's future with a deadline from `embassy_time`, failing with a
//!   [`Timeout`] that names the node: the same deadline by hand, inside the node's body;
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
//! at once (every node awaiting a timer counts, and a node with a policy also its
//! [`EmbassyTimer`] deadline or backoff). A time driver of one's own can hold an
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
//! `lm3s6965evb`) and prints its values and time over semihosting, then a sensor read that
//! times out under an [`EmbassyTimer`] policy and falls back to the last good value.
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

use embassy_time::{Duration, Instant, Timer};

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
/// The declarative alternative is a node policy: give the builder an [`EmbassyTimer`]
/// (`with_timer(EmbassyTimer)`) and declare the deadline with the graph,
/// `b.named("sense").timeout(after).add_try_node(sense, inputs)`. The node's function then has
/// no timer code, the deadline combines with retries and a fallback, and a node that overruns
/// fails with [`DagError::TimedOut`](dagfut::DagError::TimedOut) instead of a [`Timeout`] in
/// the DAG's error type.
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

/// embassy-time's timer as a [`dagfut::Timer`], for node policies: give it to the builder
/// (`with_timer(EmbassyTimer)`), then the timeouts and retry backoffs of
/// [`Guarded`](dagfut::Guarded) nodes sleep with an [`embassy_time::Timer`] on the board's
/// clock.
///
/// A [`core::time::Duration`] becomes a whole number of the board's ticks, rounded up (a sleep
/// never ends early, as with [`Timer::after`]), and the wake-up time saturates at
/// [`Instant::MAX`], as [`timeout`]'s deadline does: a sleep too long for the clock
/// (`Duration::MAX`) never ends, where `Timer::after` would panic. A sleep is `Send`.
///
/// As every `embassy_time::Timer` awaited in a node, it needs a generic timer queue (see the
/// crate docs).
///
/// # Examples
///
/// A sensor that does not answer within 20 ms: the reading falls back to the last good value
/// (here a constant node), and the dependent runs with it. On the host, with embassy's `std`
/// executor and time driver; on a board, the same code runs in an `#[embassy_executor::task]`.
///
/// ```
/// use core::time::Duration;
/// use dagfut::LocalDagBuilder;
/// use dagfut_embassy::EmbassyTimer;
///
/// async fn read_sensor(_: &()) -> Result<u32, &'static str> {
///     embassy_time::Timer::after_secs(3600).await; // never answers in time
///     Ok(25)
/// }
///
/// async fn last_value(_: &()) -> u32 {
///     21
/// }
///
/// async fn report(celsius: &u32) -> u32 {
///     *celsius
/// }
///
/// #[embassy_executor::task]
/// async fn main_task() {
///     let b = LocalDagBuilder::<()>::new()
///         .with_error::<&'static str>()
///         .with_timer(EmbassyTimer);
///     let last = b.named("last_value").add_node(last_value, b.param());
///     let reading = b
///         .named("sensor")
///         .timeout(Duration::from_millis(20))
///         .or_node(last)
///         .add_try_node(read_sensor, b.param());
///     let reported = b.named("report").add_node(report, reading);
///     let dag = b.build();
///
///     let settled = dag.run_settled(&()).await;
///     assert_eq!(settled.outputs[reported], 21);
///     assert!(settled.errors[0].is_timeout());
///     assert_eq!(settled.errors[0].name(), Some("sensor"));
///     DONE.store(true, core::sync::atomic::Ordering::SeqCst);
/// }
///
/// static DONE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
///
/// let executor = Box::leak(Box::new(embassy_executor::Executor::new()));
/// executor.run_until(
///     |spawner| spawner.spawn(main_task().unwrap()),
///     || DONE.load(core::sync::atomic::Ordering::SeqCst),
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EmbassyTimer;

impl dagfut::Timer for EmbassyTimer {
    type Sleep = Timer;

    fn sleep(&self, duration: core::time::Duration) -> Timer {
        Timer::at(Instant::now().saturating_add(ticks(duration)))
    }
}

/// `duration` in the board's ticks, rounded up; [`Duration::MAX`] if it does not fit.
fn ticks(duration: core::time::Duration) -> Duration {
    // In nanoseconds while they fit (584 years), else in microseconds rounded up.
    let nanos = u64::try_from(duration.as_nanos())
        .ok()
        .and_then(Duration::try_from_nanos);
    nanos
        .or_else(|| {
            let micros = duration.as_micros() + u128::from(duration.subsec_nanos() % 1_000 != 0);
            u64::try_from(micros)
                .ok()
                .and_then(Duration::try_from_micros)
        })
        .unwrap_or(Duration::MAX)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_become_ticks_rounded_up_or_saturate() {
        let ms = core::time::Duration::from_millis;
        assert_eq!(ticks(ms(50)), Duration::from_millis(50));
        assert_eq!(ticks(core::time::Duration::ZERO), Duration::from_ticks(0));
        // Never shorter than asked: a nanosecond is a whole tick.
        assert!(ticks(core::time::Duration::from_nanos(1)) >= Duration::from_ticks(1));
        let past_nanos = core::time::Duration::from_secs(u64::MAX / 1_000_000_000 + 1);
        assert!(ticks(past_nanos) >= Duration::from_secs(u64::MAX / 1_000_000_000));
        assert_eq!(ticks(core::time::Duration::MAX), Duration::MAX);
    }
}
