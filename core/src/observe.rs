//! Watching a run: node events, a clock, progress.

use core::time::Duration;

/// What happened to a node.
///
/// More events may come (a node skipped because an input failed, a running node dropped
/// because the run stopped): a `match` needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeEvent {
    /// Its inputs were all ready and its future was created and polled for the first time.
    Started,
    /// A poll returned `Pending`.
    Pending,
    /// Its waker was woken; it will be polled again.
    Woken,
    /// It produced its value.
    Completed,
    /// It failed (an `Err`, a timeout or a caught panic, after its last attempt if it had
    /// retries); its descendants will not run, but those that take it as an optional input.
    Failed,
    /// An attempt of a node with a policy returned `Err` (a retry or the node's failure
    /// follows). Attempts count from 1.
    AttemptFailed {
        /// The attempt.
        attempt: u32,
    },
    /// An attempt of a node with a timeout ran out of time, and was dropped.
    TimedOut {
        /// The attempt.
        attempt: u32,
    },
    /// A node with retries starts attempt `attempt` (2 or more), after its backoff.
    Retrying {
        /// The attempt.
        attempt: u32,
    },
    /// The node failed for good and its fallback value took its place: `Completed` follows,
    /// and the failure is recorded (`Settled::errors`, `Outputs::failed`).
    FellBack,
}

/// Receives the events of a run's nodes, in the order they happen, and the start and end of
/// each poll of the run.
///
/// Attach one with `with_observer` on a run's future. The default observer, `()`, does
/// nothing, and a run without an observer compiles to the same code as before: every call is
/// an empty, inlined function on a zero-sized type.
///
/// A task is known by its index; [`Dag::task_name`](crate::Dag::task_name) gives its name.
///
/// # Examples
///
/// ```
/// use dagfut::{DagBuilder, NodeEvent, Observer};
///
/// #[derive(Default)]
/// struct Log(Vec<String>);
///
/// impl Observer for Log {
///     fn on_event(&mut self, task: usize, event: NodeEvent) {
///         if event == NodeEvent::Completed {
///             self.0.push(format!("task #{task} completed"));
///         }
///     }
///
///     fn on_poll_end(&mut self, ready: bool) {
///         if ready {
///             self.0.push("the run ended".to_string());
///         }
///     }
/// }
///
/// async fn one(_: &()) -> u32 {
///     1
/// }
///
/// let b = DagBuilder::<()>::new();
/// b.named("first").add_node(one, b.param());
/// b.named("second").add_node(one, b.param());
/// let dag = b.build();
/// let mut log = Log::default();
/// futures_executor::block_on(dag.run(&()).with_observer(&mut log));
/// assert_eq!(log.0, ["task #0 completed", "task #1 completed", "the run ended"]);
/// assert_eq!(dag.task_name(1), Some("second"));
/// ```
pub trait Observer {
    /// `task` (the index of a node that runs a function, from 0 in insertion order) had
    /// `event`.
    fn on_event(&mut self, task: usize, event: NodeEvent);

    /// A poll of the run's future begins: node events follow, then
    /// [`on_poll_end`](Self::on_poll_end). Does nothing unless implemented.
    #[inline(always)]
    fn on_poll_start(&mut self) {}

    /// The poll that [`on_poll_start`](Self::on_poll_start) began ends; `ready` says whether
    /// the run ended with it: it completed, settled, or stopped at a failure (fail-fast).
    /// Does nothing unless implemented.
    ///
    /// When a run ends, every node has completed, failed, or never started (the descendants
    /// of a failed node; with fail-fast, every node not started yet), except those that a
    /// fail-fast stop dropped while they ran: they had `Started` and neither `Completed` nor
    /// `Failed`. A poll that panics (a node, or the observer) has no end.
    #[inline(always)]
    fn on_poll_end(&mut self, ready: bool) {
        let _ = ready;
    }
}

/// No observer.
impl Observer for () {
    #[inline(always)]
    fn on_event(&mut self, _task: usize, _event: NodeEvent) {}
    #[inline(always)]
    fn on_poll_start(&mut self) {}
    #[inline(always)]
    fn on_poll_end(&mut self, _ready: bool) {}
}

impl<O: Observer + ?Sized> Observer for &mut O {
    #[inline]
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        (**self).on_event(task, event);
    }
    #[inline]
    fn on_poll_start(&mut self) {
        (**self).on_poll_start();
    }
    #[inline]
    fn on_poll_end(&mut self, ready: bool) {
        (**self).on_poll_end(ready);
    }
}

/// A source of timestamps for traces: the time since some fixed origin.
///
/// The adapters provide clocks of their runtimes; with `std`, [`StdClock`](crate::trace::StdClock)
/// reads `std::time::Instant`.
pub trait Clock {
    /// The time elapsed since the clock's origin.
    fn now(&self) -> Duration;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Duration {
        (**self).now()
    }
}

/// An observer that calls `report(done, total)` each time a node completes or fails, and
/// once more with `(total, total)` if the run ends short of it.
///
/// `done` counts the nodes that are settled: completed, failed, and, once the run has ended,
/// those it did not finish (the descendants of a failed node; with fail-fast, every node that
/// had not finished when it stopped). So every run, failed or not, ends at `(total, total)`,
/// as a progress bar should.
///
/// One `Progress` may watch one run after another: the count starts again at the first poll
/// after a run ended. (A run's future dropped before its end leaves the count where it was.)
///
/// # Examples
///
/// ```
/// use dagfut::{DagBuilder, Progress};
///
/// async fn one(_: &()) -> u32 {
///     1
/// }
///
/// let b = DagBuilder::<()>::new();
/// for _ in 0..4 {
///     b.add_node(one, b.param());
/// }
/// let dag = b.build();
/// let mut seen = Vec::new();
/// let progress = Progress::new(dag.task_count(), |done, total| seen.push((done, total)));
/// futures_executor::block_on(dag.run(&()).with_observer(progress));
/// assert_eq!(seen, [(1, 4), (2, 4), (3, 4), (4, 4)]);
/// ```
///
/// A failure that skips the rest of the DAG ends the count at the total too:
///
/// ```
/// use dagfut::{DagBuilder, Progress};
///
/// async fn fail(_: &()) -> Result<u32, String> {
///     Err("no".to_string())
/// }
///
/// async fn inc(n: &u32) -> Result<u32, String> {
///     Ok(n + 1)
/// }
///
/// let b = DagBuilder::<()>::new().with_error::<String>();
/// let first = b.add_try_node(fail, b.param());
/// let second = b.add_try_node(inc, first);
/// b.add_try_node(inc, second);
/// let dag = b.build();
/// let mut seen = Vec::new();
/// let progress = Progress::new(dag.task_count(), |done, total| seen.push((done, total)));
/// let settled = futures_executor::block_on(dag.run_settled(&()).with_observer(progress));
/// assert_eq!(settled.errors.len(), 1);
/// assert_eq!(seen, [(1, 3), (3, 3)]); // the failure, then its two skipped descendants
/// ```
#[derive(Debug)]
pub struct Progress<F> {
    done: usize,
    total: usize,
    /// Whether the run watched last has ended: the next poll is another run's.
    ended: bool,
    report: F,
}

impl<F: FnMut(usize, usize)> Progress<F> {
    /// Reports progress over `total` nodes (usually `dag.task_count()`).
    pub fn new(total: usize, report: F) -> Self {
        Progress {
            done: 0,
            total,
            ended: false,
            report,
        }
    }
}

impl<F: FnMut(usize, usize)> Observer for Progress<F> {
    fn on_event(&mut self, _task: usize, event: NodeEvent) {
        if matches!(event, NodeEvent::Completed | NodeEvent::Failed) {
            self.done += 1;
            (self.report)(self.done, self.total);
        }
    }

    fn on_poll_start(&mut self) {
        if self.ended {
            self.ended = false;
            self.done = 0;
        }
    }

    fn on_poll_end(&mut self, ready: bool) {
        if ready {
            self.ended = true;
            if self.done < self.total {
                self.done = self.total;
                (self.report)(self.done, self.total);
            }
        }
    }
}
