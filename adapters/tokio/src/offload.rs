//! Running a CPU-heavy part of a node on tokio's workers.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};

use tokio::task::JoinHandle;

/// Runs `work` as a tokio task, on whichever worker thread is free, and resolves to its
/// output: the way for a node to use another core.
///
/// A dagfut run polls its nodes inside one future, so a node that computes for long holds up
/// every other node of the run. Offloading moves that work to a task of its own. It must own
/// what it uses (`'static`): clone the inputs it needs inside the node, then await the result.
///
/// # Threads
///
/// The task runs on the runtime's worker threads. A multi-thread runtime has one per core by
/// default (`Builder::worker_threads`, `#[tokio::main(worker_threads = N)]` or the
/// `TOKIO_WORKER_THREADS` environment variable change it). A **current-thread runtime**
/// (`#[tokio::main(flavor = "current_thread")]`, and `#[tokio::test]` by default) has one
/// thread, the one that also runs the DAG: there `offload` gives no parallelism, the offloaded
/// task runs when the run's task yields. Use [`offload_blocking`] there: tokio's blocking pool
/// has threads of its own on either kind of runtime.
///
/// # Examples
///
/// ```
/// async fn checksum(data: &Vec<u8>) -> u64 {
///     let data = data.clone();
///     dagfut_tokio::offload(async move { data.iter().map(|&b| u64::from(b)).sum() }).await
/// }
/// # let sum = tokio::runtime::Runtime::new().unwrap().block_on(checksum(&vec![1, 2, 3]));
/// # assert_eq!(sum, 6);
/// ```
///
/// # Panics
///
/// When called outside a tokio runtime. A panic of `work` is resumed in the node that awaits
/// it (so `catch_panics` on a `try_run` reports it as the node's). Awaiting panics if the
/// runtime cancelled the task (it is shutting down).
///
/// # Cancel safety
///
/// Dropping the returned future aborts the task (at its next `.await`).
pub fn offload<F>(work: F) -> Offloaded<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Offloaded {
        handle: tokio::spawn(work),
    }
}

/// Runs the blocking function `work` on tokio's blocking thread pool
/// (`tokio::task::spawn_blocking`) and resolves to its result: for computations with no
/// `.await` in them.
///
/// # Threads
///
/// The blocking pool is the runtime's, on a current-thread runtime as on a multi-thread one:
/// it starts a thread whenever a call finds none idle, up to 512 by default
/// (`Builder::max_blocking_threads`), and lets idle ones exit after 10 s
/// (`Builder::thread_keep_alive`). Offloaded calls run in parallel, as many at once as there
/// are cores.
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
///     dagfut_tokio::offload_blocking(move || fib(n)).await
/// }
/// # let v = tokio::runtime::Runtime::new().unwrap().block_on(fib_node(&20));
/// # assert_eq!(v, 6765);
/// ```
///
/// # Panics
///
/// As [`offload`].
///
/// # Cancel safety
///
/// Dropping the returned future does not stop `work` once it started: a blocking function
/// cannot be interrupted. Its result is discarded.
pub fn offload_blocking<R, F>(work: F) -> Offloaded<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Offloaded {
        handle: tokio::task::spawn_blocking(work),
    }
}

/// Future for the [`offload`] and [`offload_blocking`] functions: the output of the work on
/// another thread. Dropping it aborts the task.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Offloaded<T> {
    handle: JoinHandle<T>,
}

impl<T> Future for Offloaded<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match ready!(Pin::new(&mut self.handle).poll(cx)) {
            Ok(output) => Poll::Ready(output),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("dagfut-tokio: the offloaded task did not finish: {error}"),
        }
    }
}

impl<T> Drop for Offloaded<T> {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl<T> fmt::Debug for Offloaded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Offloaded")
            .field("task", &self.handle.id())
            .field("finished", &self.handle.is_finished())
            .finish()
    }
}
