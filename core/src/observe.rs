//! Watching a run: node events, a clock, progress.

use core::time::Duration;

/// What happened to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeEvent {
    /// Its inputs were all ready and its future was created and polled for the first time.
    Started,
    /// A poll returned `Pending`.
    Pending,
    /// Its waker was woken; it will be polled again.
    Woken,
    /// It produced its value.
    Completed,
    /// It failed (an `Err` or a caught panic); its descendants will not run.
    Failed,
}

/// Receives the events of a run's nodes, in the order they happen.
///
/// Attach one with `with_observer` on a run's future. The default observer, `()`, does
/// nothing, and a run without an observer compiles to the same code as before: every call is
/// an empty, inlined function on a zero-sized type.
///
/// # Examples
///
/// ```
/// use dagfut::{DagBuilder, NodeEvent, Observer};
///
/// #[derive(Default)]
/// struct Count(usize);
///
/// impl Observer for Count {
///     fn on_event(&mut self, _task: usize, event: NodeEvent) {
///         if event == NodeEvent::Completed {
///             self.0 += 1;
///         }
///     }
/// }
///
/// async fn one(_: &()) -> u32 {
///     1
/// }
///
/// let b = DagBuilder::<()>::new();
/// for _ in 0..3 {
///     b.add_node(one, b.param());
/// }
/// let dag = b.build();
/// let mut count = Count::default();
/// futures_executor::block_on(dag.run(&()).with_observer(&mut count));
/// assert_eq!(count.0, 3);
/// ```
pub trait Observer {
    /// `task` (the index of a node that runs a function, from 0 in insertion order) had
    /// `event`.
    fn on_event(&mut self, task: usize, event: NodeEvent);
}

/// No observer.
impl Observer for () {
    #[inline(always)]
    fn on_event(&mut self, _task: usize, _event: NodeEvent) {}
}

impl<O: Observer + ?Sized> Observer for &mut O {
    #[inline]
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        (**self).on_event(task, event);
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

/// An observer that calls `report(done, total)` each time a node completes or fails.
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
#[derive(Debug)]
pub struct Progress<F> {
    done: usize,
    total: usize,
    report: F,
}

impl<F: FnMut(usize, usize)> Progress<F> {
    /// Reports progress over `total` nodes (usually `dag.task_count()`).
    pub fn new(total: usize, report: F) -> Self {
        Progress {
            done: 0,
            total,
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
}
