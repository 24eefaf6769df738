//! The error of a node that ran out of time.

use core::fmt;
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
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` timed out after {:?}", self.label, self.after)
    }
}

impl core::error::Error for Timeout {}
