//! [dagfut] on [smol]: the timer of node policies and per-node timeouts on smol's timer,
//! offloading of CPU-heavy nodes, and a clock for run traces.
//!
//! A dagfut run is one future, and it runs on smol as it is: `smol::block_on(dag.run(&p))`,
//! or `smol::spawn` of a task that owns the DAG. This crate adds:
//!
//! - [`SmolTimer`]: smol's timer as a [`dagfut::Timer`], for node policies declared with the
//!   graph (`b.named("recs").timeout(..).retry(..).or_value(..)`): timeouts per attempt,
//!   retries with a backoff, fallbacks;
//! - [`timeout`]: a node's future with a deadline from smol's timer ([`smol::Timer`]),
//!   failing with a [`Timeout`] that names the node: the same deadline by hand, inside the
//!   node's body;
//! - [`offload`] and [`offload_blocking`]: run a CPU-heavy piece of a node on an executor run
//!   by one thread per core (this crate's; not smol's global one, a single thread by default)
//!   or on smol's blocking pool (`smol::unblock`), so two such nodes use two cores while the
//!   rest of the DAG stays in the one future;
//! - [`SmolClock`]: the clock of smol's timers (`std::time::Instant`), for run traces.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use dagfut::DagBuilder;
//! use dagfut_smol::Timeout;
//!
//! async fn fetch(delay_ms: &u64) -> Result<u64, Timeout> {
//!     let work = async {
//!         smol::Timer::after(Duration::from_millis(*delay_ms)).await;
//!         *delay_ms
//!     };
//!     dagfut_smol::timeout("fetch", Duration::from_millis(50), work).await
//! }
//!
//! let b = DagBuilder::<u64>::new().with_error::<Timeout>();
//! let fetched = b.named("fetch").add_try_node(fetch, b.param());
//! let dag = b.build();
//!
//! smol::block_on(async {
//!     assert_eq!(dag.try_run(&1).await.unwrap()[fetched], 1);
//!     let error = dag.try_run(&5_000).await.unwrap_err(); // fails after 50 ms, not 5 s
//!     assert_eq!(error.to_string(), "node `fetch` (task #0) failed: `fetch` timed out after 50ms");
//! });
//! ```

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use std::sync::Once;

use smol::{Executor, Task, Timer};

/// The clock of smol's timers: a [`dagfut::Clock`] reading `std::time::Instant` from the
/// moment it was made (async-io's timers measure that instant too).
///
/// # Examples
///
/// ```
/// use dagfut::trace::Recorder;
/// use dagfut::DagBuilder;
/// use dagfut_smol::SmolClock;
///
/// async fn nap(_: &()) {
///     smol::Timer::after(std::time::Duration::from_millis(5)).await;
/// }
///
/// let b = DagBuilder::<()>::new();
/// b.named("nap").add_node(nap, b.param());
/// let dag = b.build();
/// let mut recorder = Recorder::new(&dag, SmolClock::new());
/// smol::block_on(dag.run(&()).with_observer(&mut recorder));
/// let span = &recorder.trace().spans[0];
/// assert!(span.end.unwrap() - span.start.unwrap() >= std::time::Duration::from_millis(5));
/// ```
pub type SmolClock = dagfut::trace::StdClock;

pub use dagfut::Timeout;

/// Runs `work` with a deadline of `after` on smol's timer: its output, or a [`Timeout`]
/// labelled `label` if the deadline passes first (and `work` is dropped). If both are ready
/// at once, `work` wins.
///
/// Call it inside a node's body, so the node stays an ordinary `async fn` of its inputs; a node
/// with an error type of its own converts with `From<Timeout>` and `timeout(..).await??`.
///
/// The declarative alternative is a node policy: give the builder a [`SmolTimer`]
/// (`with_timer(SmolTimer)`) and declare the deadline with the graph,
/// `b.named("fetch").timeout(after).add_try_node(fetch, inputs)`. The node's function then has
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
    Timeout::race(label, after, work, Timer::after(after)).await
}

/// smol's timer ([`smol::Timer`], async-io's) as a [`dagfut::Timer`], for node policies: give
/// it to the builder (`with_timer(SmolTimer)`), then the timeouts and retry backoffs of
/// [`Guarded`](dagfut::Guarded) nodes sleep on it.
///
/// It needs no runtime: async-io's timers are driven by whichever thread waits in
/// `smol::block_on` (or by async-io's own driver thread). A sleep is `Send`, as a `Sendable`
/// DAG needs; a sleep too long for the clock (`Duration::MAX`) never ends.
///
/// # Examples
///
/// A recommendations node that hangs: each attempt times out after 20 ms, it retries once
/// after 10 ms, then falls back to no recommendations, and the page is still produced.
///
/// ```
/// use std::time::{Duration, Instant};
/// use dagfut::{Backoff, DagBuilder};
/// use dagfut_smol::SmolTimer;
///
/// async fn recommendations(_product: &u32) -> Result<Vec<String>, String> {
///     smol::Timer::after(Duration::from_secs(3600)).await; // hangs
///     Ok(vec!["a lamp".to_string()])
/// }
///
/// async fn page(product: &u32, recs: &Vec<String>) -> String {
///     format!("product {product}, {} recommendations", recs.len())
/// }
///
/// let ms = Duration::from_millis;
/// let b = DagBuilder::<u32>::new().with_error::<String>().with_timer(SmolTimer);
/// let recs = b
///     .named("recs")
///     .timeout(ms(20))
///     .retry(1, Backoff::fixed(ms(10)))
///     .or_value(Vec::new())
///     .add_try_node(recommendations, b.param());
/// let page = b.named("page").add_node(page, (b.param(), recs));
/// let dag = b.build();
///
/// let started = Instant::now();
/// let settled = smol::block_on(dag.run_settled(&7));
/// assert_eq!(settled.outputs[page], "product 7, 0 recommendations");
/// assert_eq!(
///     settled.errors[0].to_string(),
///     "node `recs` (task #0) timed out after 20ms on attempt 2 of 2"
/// );
/// assert!(started.elapsed() >= ms(50)); // two timeouts and a backoff; a timer never fires early
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SmolTimer;

impl dagfut::Timer for SmolTimer {
    type Sleep = SmolSleep;

    fn sleep(&self, duration: Duration) -> SmolSleep {
        SmolSleep(Timer::after(duration))
    }
}

/// One sleep of a [`SmolTimer`]: a [`smol::Timer`] that completes with `()` rather than the
/// instant it fired.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use dagfut::Timer;
/// use dagfut_smol::SmolTimer;
///
/// let () = smol::block_on(SmolTimer.sleep(Duration::from_millis(1)));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct SmolSleep(Timer);

impl Future for SmolSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

/// Runs `work` as a task of this crate's offload executor, on whichever of its threads is
/// free, and returns its [`Task`]: await it for the output.
///
/// A dagfut run polls its nodes inside one future, so a node that computes for long holds up
/// every other node of the run. Offloading moves that work to a task of its own. It must own
/// what it uses (`'static`): clone the inputs it needs inside the node, then await the task.
///
/// # Threads
///
/// The offload executor is a [`smol::Executor`] of this crate's, run by one thread per core
/// (`std::thread::available_parallelism()`, 1 if unknown), started at the first `offload` and
/// kept for the life of the process: two offloaded computations use two cores with no
/// configuration. The `DAGFUT_SMOL_THREADS` environment variable (a positive integer, read at
/// the first `offload`) sets another count. `offload` does not use smol's global executor
/// (`smol::spawn`): that one is run by a single thread unless `SMOL_THREADS` says otherwise, so
/// offloaded work on it would run one piece at a time. To choose the threads yourself, spawn
/// on an executor of your own, run by the threads you want (`executor.spawn(work)`), as
/// `dagfut-async-executor`'s `offload` does.
///
/// A task blocks the thread it runs on while it computes; for work that waits on blocking
/// calls (files, locks), use [`offload_blocking`], whose pool grows with the calls.
///
/// # Examples
///
/// ```
/// async fn checksum(data: &Vec<u8>) -> u64 {
///     let data = data.clone();
///     dagfut_smol::offload(async move { data.iter().map(|&b| u64::from(b)).sum() }).await
/// }
/// assert_eq!(smol::block_on(checksum(&vec![1, 2, 3])), 6);
/// ```
///
/// # Panics
///
/// A panic of `work` is resumed where the task is awaited, in the node. If a thread cannot be
/// started at the first `offload`, that call panics.
///
/// # Cancel safety
///
/// Dropping the task cancels `work` (a run that fails fast drops it with the node).
pub fn offload<F>(work: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    offload_executor().spawn(work)
}

/// The environment variable that sets how many threads run [`offload`]'s executor.
const THREADS_VAR: &str = "DAGFUT_SMOL_THREADS";

/// The executor of [`offload`], its threads started on first use.
fn offload_executor() -> &'static Executor<'static> {
    static EXECUTOR: Executor<'static> = Executor::new();
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        for n in 1..=offload_threads() {
            std::thread::Builder::new()
                .name(format!("dagfut-smol-{n}"))
                .spawn(|| {
                    loop {
                        // A task's panic goes to its awaiter; this only guards the thread.
                        let run = || smol::block_on(EXECUTOR.run(smol::future::pending::<()>()));
                        let _ = std::panic::catch_unwind(run);
                    }
                })
                .expect("dagfut-smol: cannot start an offload thread");
        }
    });
    &EXECUTOR
}

/// How many threads run [`offload`]'s executor: `DAGFUT_SMOL_THREADS`, or one per core.
fn offload_threads() -> usize {
    std::env::var(THREADS_VAR)
        .ok()
        .and_then(|threads| threads.trim().parse::<usize>().ok())
        .filter(|&threads| threads > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Runs the blocking function `work` on smol's blocking thread pool (`smol::unblock`) and
/// returns its [`Task`]: for computations with no `.await` in them.
///
/// The pool starts threads as calls queue up, up to 500 (the `BLOCKING_MAX_THREADS`
/// environment variable sets another limit), and lets idle ones exit: offloaded calls run in
/// parallel, whatever `SMOL_THREADS` says.
///
/// # Examples
///
/// ```
/// fn fib(n: u64) -> u64 {
///     if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
/// }
///
/// async fn fib_node(n: &u64) -> u64 {
///     let n = *n;
///     dagfut_smol::offload_blocking(move || fib(n)).await
/// }
/// assert_eq!(smol::block_on(fib_node(&20)), 6765);
/// ```
///
/// # Panics
///
/// As [`offload`].
///
/// # Cancel safety
///
/// Dropping the task does not stop `work` once it started: a blocking function cannot be
/// interrupted. Its result is discarded.
pub fn offload_blocking<R, F>(work: F) -> Task<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    smol::unblock(work)
}
