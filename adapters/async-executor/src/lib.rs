//! [dagfut] on [async-executor](async_executor): the timer of node policies, per-node
//! timeouts, offloading of CPU-heavy nodes to an [`Executor`]'s threads, and a clock for run
//! traces.
//!
//! A dagfut run is one future and runs on an [`Executor`] (a `Sendable` DAG, spawned from
//! any thread) or a [`LocalExecutor`](async_executor::LocalExecutor) (a `Local` DAG, whose
//! node futures need not be `Send`) as it is. This crate adds:
//!
//! - [`AsyncIoTimer`]: async-io's timer as a [`dagfut::Timer`] (async-executor has no timer of
//!   its own; async-io's runs beside any executor), for node policies declared with the graph
//!   (`b.named("recs").timeout(..).retry(..).or_value(..)`): timeouts per attempt, retries with
//!   a backoff, fallbacks;
//! - [`timeout`]: a node's future with a deadline from async-io's timer, failing with a
//!   [`Timeout`] that names the node: the same deadline by hand, inside the node's body;
//! - [`offload`]: run a CPU-heavy piece of a node as a task of an [`Executor`] that threads
//!   run, so two such nodes use two cores while the rest of the DAG stays in the one future;
//! - [`StdClock`]: the clock of async-io's timers, for run traces.
//!
//! # Examples
//!
//! The executor is an input of the node that offloads: a constant of the DAG.
//!
//! ```
//! use std::sync::Arc;
//! use async_executor::Executor;
//! use dagfut::DagBuilder;
//!
//! fn fib(n: u64) -> u64 {
//!     if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
//! }
//!
//! async fn heavy(executor: &Arc<Executor<'static>>, n: &u64) -> u64 {
//!     let n = *n;
//!     dagfut_async_executor::offload(executor, async move { fib(n) }).await
//! }
//!
//! async fn add(a: &u64, b: &u64) -> u64 {
//!     a + b
//! }
//!
//! let executor = Arc::new(Executor::new());
//! let b = DagBuilder::<u64>::new();
//! let on_pool = b.add_constant(Arc::clone(&executor));
//! let left = b.add_node(heavy, (on_pool, b.param()));
//! let right = b.add_node(heavy, (on_pool, b.param()));
//! let sum = b.add_node(add, (left, right));
//! let dag = b.build();
//!
//! // Two threads run the executor's tasks (both offloaded computations); this thread runs the
//! // DAG's one future.
//! let (stop, stopped) = async_channel::bounded::<()>(1);
//! std::thread::scope(|scope| {
//!     for _ in 0..2 {
//!         let (executor, stopped) = (Arc::clone(&executor), stopped.clone());
//!         scope.spawn(move || async_io::block_on(executor.run(stopped.recv())));
//!     }
//!     let out = async_io::block_on(dag.run(&20));
//!     assert_eq!(out[sum], 2 * 6765);
//!     drop(stop);
//! });
//! ```

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use async_executor::{Executor, Task};
use async_io::Timer;

/// The clock of async-io's timers: a [`dagfut::Clock`] reading `std::time::Instant` from the
/// moment it was made.
pub use dagfut::trace::StdClock;

pub use dagfut::Timeout;

/// Runs `work` with a deadline of `after` on async-io's timer: its output, or a [`Timeout`]
/// labelled `label` if the deadline passes first (and `work` is dropped). If both are ready
/// at once, `work` wins.
///
/// Call it inside a node's body, so the node stays an ordinary `async fn` of its inputs; a node
/// with an error type of its own converts with `From<Timeout>` and `timeout(..).await??`.
///
/// The declarative alternative is a node policy: give the builder an [`AsyncIoTimer`]
/// (`with_timer(AsyncIoTimer)`) and declare the deadline with the graph,
/// `b.named("wait").timeout(after).add_try_node(wait, inputs)`. The node's function then has no
/// timer code, the deadline combines with retries and a fallback, and a node that overruns
/// fails with [`DagError::TimedOut`](dagfut::DagError::TimedOut) instead of a [`Timeout`] in
/// the DAG's error type.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use async_executor::LocalExecutor;
/// use dagfut::LocalDagBuilder;
/// use dagfut_async_executor::Timeout;
///
/// async fn wait(ms: &u64) -> Result<u64, Timeout> {
///     let work = async {
///         async_io::Timer::after(Duration::from_millis(*ms)).await;
///         *ms
///     };
///     dagfut_async_executor::timeout("wait", Duration::from_millis(50), work).await
/// }
///
/// let b = LocalDagBuilder::<u64>::new().with_error::<Timeout>();
/// b.named("wait").add_try_node(wait, b.param());
/// let dag = b.build();
/// let executor = LocalExecutor::new();
/// let error = async_io::block_on(executor.run(dag.try_run(&60_000))).unwrap_err();
/// assert_eq!(error.to_string(), "node `wait` (task #0) failed: `wait` timed out after 50ms");
/// ```
///
/// # Cancel safety
///
/// Dropping the future drops `work`.
pub async fn timeout<F: Future>(
    label: &'static str,
    after: Duration,
    work: F,
) -> Result<F::Output, Timeout> {
    Timeout::race(label, after, work, Timer::after(after)).await
}

/// async-io's timer ([`async_io::Timer`]) as a [`dagfut::Timer`], for node policies: give it
/// to the builder (`with_timer(AsyncIoTimer)`), then the timeouts and retry backoffs of
/// [`Guarded`](dagfut::Guarded) nodes sleep on it, on any executor.
///
/// async-io's timers are driven by whichever thread waits in `async_io::block_on` (or by
/// async-io's own driver thread), so they work beside an [`Executor`] or a
/// [`LocalExecutor`](async_executor::LocalExecutor) alike. A sleep is `Send`, as a `Sendable`
/// DAG needs; a sleep too long for the clock (`Duration::MAX`) never ends.
///
/// # Examples
///
/// A flaky node retried with an exponential backoff: it fails twice, then answers.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use async_executor::LocalExecutor;
/// use dagfut::{Backoff, DagBuilder};
/// use dagfut_async_executor::AsyncIoTimer;
///
/// static CALLS: AtomicU32 = AtomicU32::new(0);
///
/// async fn flaky(n: &u32) -> Result<u32, String> {
///     match CALLS.fetch_add(1, Ordering::SeqCst) {
///         0 | 1 => Err("busy".to_string()),
///         _ => Ok(n * 2),
///     }
/// }
///
/// let ms = Duration::from_millis;
/// let b = DagBuilder::<u32>::new().with_error::<String>().with_timer(AsyncIoTimer);
/// let doubled = b
///     .named("flaky")
///     .timeout(ms(500))
///     .retry(3, Backoff::exponential(ms(1)).max(ms(10)))
///     .add_try_node(flaky, b.param());
/// let dag = b.build();
///
/// let executor = LocalExecutor::new();
/// let out = async_io::block_on(executor.run(dag.try_run(&21))).unwrap();
/// assert_eq!(out[doubled], 42);
/// assert_eq!(CALLS.load(Ordering::SeqCst), 3);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AsyncIoTimer;

impl dagfut::Timer for AsyncIoTimer {
    type Sleep = AsyncIoSleep;

    fn sleep(&self, duration: Duration) -> AsyncIoSleep {
        AsyncIoSleep(Timer::after(duration))
    }
}

/// One sleep of an [`AsyncIoTimer`]: an [`async_io::Timer`] that completes with `()` rather
/// than the instant it fired.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use dagfut::Timer;
/// use dagfut_async_executor::AsyncIoTimer;
///
/// let () = async_io::block_on(AsyncIoTimer.sleep(Duration::from_millis(1)));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct AsyncIoSleep(Timer);

impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

/// Runs `work` as a task of `executor` (`Executor::spawn`), on whichever thread running the
/// executor is free, and returns its [`Task`]: await it for the output.
///
/// A dagfut run polls its nodes inside one future, so a node that computes for long holds up
/// every other node of the run. Offloading moves that work to a task of its own. It must own
/// what it uses: clone the inputs it needs inside the node, then await the task. The node gets
/// the executor as an input (a constant `Arc<Executor<'static>>`, say).
///
/// # Threads
///
/// As many as run `executor` (`executor.run(..)`): this crate starts none, and the work makes
/// no progress until a thread runs the executor. Offloaded computations run in parallel up to
/// that count; for one per core, run it on `std::thread::available_parallelism()` threads
/// (the example of the crate runs two). With one thread, or only the thread that also runs the
/// DAG (a `LocalExecutor` or an `Executor` run by `block_on` around the run), offloading brings
/// no parallelism: the work runs when the run's future waits.
///
/// # Panics
///
/// A panic of `work` is resumed where the task is awaited, in the node.
///
/// # Cancel safety
///
/// Dropping the task cancels `work` (a run that fails fast drops it with the node).
pub fn offload<'ex, F>(executor: &Executor<'ex>, work: F) -> Task<F::Output>
where
    F: Future + Send + 'ex,
    F::Output: Send + 'ex,
{
    executor.spawn(work)
}
