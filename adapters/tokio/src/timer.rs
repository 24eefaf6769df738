//! The timer of node policies on tokio.

use core::time::Duration;

/// tokio's timer as a [`dagfut::Timer`], for node policies: give it to the builder
/// (`with_timer(TokioTimer)`), then the timeouts and retry backoffs of
/// [`Guarded`](dagfut::Guarded) nodes sleep with [`tokio::time::sleep`].
///
/// Its sleeps follow tokio's paused time (`start_paused`, `tokio::time::advance`), so a test
/// sees a node's timeouts and backoffs at their exact virtual times, without waiting. A sleep
/// is `Send`, as a `Sendable` DAG needs.
///
/// # Examples
///
/// A recommendations node that hangs: each attempt times out after 50 ms, it retries once
/// after 10 ms, then falls back to no recommendations, and the page is still produced, 110 ms
/// after the start.
///
/// ```
/// use std::time::Duration;
/// use dagfut::{Backoff, DagBuilder};
/// use dagfut_tokio::TokioTimer;
///
/// async fn recommendations(_product: &u32) -> Result<Vec<String>, String> {
///     tokio::time::sleep(Duration::from_secs(3600)).await; // hangs
///     Ok(vec!["a lamp".to_string()])
/// }
///
/// async fn page(product: &u32, recs: &Vec<String>) -> String {
///     format!("product {product}, {} recommendations", recs.len())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// let ms = Duration::from_millis;
/// let b = DagBuilder::<u32>::new().with_error::<String>().with_timer(TokioTimer);
/// let recs = b
///     .named("recs")
///     .timeout(ms(50))
///     .retry(1, Backoff::fixed(ms(10)))
///     .or_value(Vec::new())
///     .add_try_node(recommendations, b.param());
/// let page = b.named("page").add_node(page, (b.param(), recs));
/// let dag = b.build();
///
/// let started = tokio::time::Instant::now();
/// let settled = dag.run_settled(&7).await;
/// assert_eq!(settled.outputs[page], "product 7, 0 recommendations");
/// assert_eq!(
///     settled.errors[0].to_string(),
///     "node `recs` (task #0) timed out after 50ms on attempt 2 of 2"
/// );
/// assert_eq!(started.elapsed(), ms(110)); // paused time: exact
/// # });
/// ```
///
/// # Panics
///
/// A node with a policy panics when its run is polled outside a tokio runtime with the time
/// driver enabled (as [`tokio::time::sleep`] does).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TokioTimer;

impl dagfut::Timer for TokioTimer {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, duration: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(duration)
    }
}
