//! The error of a node that ran out of time.

use core::fmt;
use core::future::Future;
use core::pin::pin;
use core::task::Poll;
use core::time::Duration;

/// A node's work did not finish in time: the error of the adapters' `timeout` helpers
/// (`dagfut_tokio::timeout`, `dagfut_smol::timeout`, ...), which use their runtime's timer.
///
/// Use it as the DAG's error type (`DagBuilder::with_error::<Timeout>()`), or convert it into
/// yours with `From`. A fallible node that fails stops a `try_run` at once (every other running
/// node future is dropped) and the [`DagError`](crate::DagError) names the node.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use dagfut::Timeout;
///
/// let error = Timeout::new("fetch", Duration::from_millis(100));
/// assert_eq!(error.to_string(), "`fetch` timed out after 100ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout {
    label: &'static str,
    after: Duration,
}

impl Timeout {
    /// The error of the work labelled `label`, stopped after `after`.
    pub fn new(label: &'static str, after: Duration) -> Self {
        Timeout { label, after }
    }

    /// The label given to the `timeout` helper: usually the node's name.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The deadline that passed.
    pub fn after(&self) -> Duration {
        self.after
    }

    /// Runs `work` against `deadline`, a runtime's timer future that fires after `after`: the
    /// work's output, or a `Timeout` labelled `label` if the deadline fires first (`work` is
    /// dropped then). If both are ready at once, `work` wins. The adapters' `timeout` helpers
    /// are this with their runtime's timer.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use dagfut::Timeout;
    /// use futures_util::future::pending;
    ///
    /// let after = Duration::from_millis(100);
    /// let done = Timeout::race("fetch", after, async { 7 }, pending::<()>());
    /// assert_eq!(futures_executor::block_on(done), Ok(7));
    /// let late = Timeout::race("fetch", after, pending::<u32>(), async {});
    /// let late = futures_executor::block_on(late);
    /// assert_eq!(late.unwrap_err().to_string(), "`fetch` timed out after 100ms");
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops `work` and `deadline`.
    pub async fn race<F: Future, D: Future>(
        label: &'static str,
        after: Duration,
        work: F,
        deadline: D,
    ) -> Result<F::Output, Timeout> {
        let (mut work, mut deadline) = (pin!(work), pin!(deadline));
        core::future::poll_fn(|cx| {
            if let Poll::Ready(output) = work.as_mut().poll(cx) {
                return Poll::Ready(Ok(output));
            }
            match deadline.as_mut().poll(cx) {
                Poll::Ready(_) => Poll::Ready(Err(Timeout::new(label, after))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` timed out after {:?}", self.label, self.after)
    }
}

impl core::error::Error for Timeout {}
