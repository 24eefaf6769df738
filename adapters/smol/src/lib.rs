//! [dagfut] on [smol]: per-node timeouts on smol's timer, offloading of CPU-heavy nodes, and
//! a clock for run traces.
//!
//! A dagfut run is one future, and it runs on smol as it is: `smol::block_on(dag.run(&p))`,
//! or `smol::spawn` of a task that owns the DAG. This crate adds:
//!
//! - [`timeout`]: a node's future with a deadline from smol's timer ([`smol::Timer`]),
//!   failing with a [`Timeout`] that names the node;
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
