//! Per-node deadlines on tokio's timer.

use core::future::Future;
use core::time::Duration;

pub use dagfut::Timeout;

/// Runs `work` with a deadline of `after` on tokio's timer: its output, or a [`Timeout`]
/// labelled `label` if the deadline passes first (and `work` is dropped).
///
/// Call it inside a node's body, so the node stays an ordinary `async fn` of its inputs:
///
/// ```
/// # use std::time::Duration;
/// # use dagfut_tokio::Timeout;
/// # async fn real_fetch(url: &str) -> String { url.to_uppercase() }
/// async fn fetch(url: &String) -> Result<String, Timeout> {
///     dagfut_tokio::timeout("fetch", Duration::from_millis(100), real_fetch(url)).await
/// }
/// # let fetched = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
/// #     .block_on(fetch(&"moon".to_string()));
/// # assert_eq!(fetched, Ok("MOON".to_string()));
/// ```
///
/// A node that has its own error type converts: with `impl From<Timeout> for MyError`,
/// `dagfut_tokio::timeout(..).await??` returns either error.
///
/// The declarative alternative is a node policy: give the builder a
/// [`TokioTimer`](crate::TokioTimer) (`with_timer(TokioTimer)`) and declare the deadline with
/// the graph, `b.named("fetch").timeout(after).add_try_node(fetch, inputs)`. The node's function
/// then has no timer code, the deadline combines with retries and a fallback, and a node that
/// overruns fails with [`DagError::TimedOut`](dagfut::DagError::TimedOut) instead of a
/// [`Timeout`] in the DAG's error type.
///
/// # Panics
///
/// When polled outside a tokio runtime with the time driver enabled.
///
/// # Cancel safety
///
/// Dropping the future drops `work`.
pub async fn timeout<F: Future>(
    label: &'static str,
    after: Duration,
    work: F,
) -> Result<F::Output, Timeout> {
    tokio::time::timeout(after, work)
        .await
        .map_err(|_elapsed| Timeout::new(label, after))
}
