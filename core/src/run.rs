//! The future of one run: the scheduler.

use alloc::collections::VecDeque;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::dag::DagCore;
use crate::flavor::{Flavor, Sendable};
use crate::outputs::Outputs;
use crate::slots::{DONE, RUNNING, Slots};
use crate::waker::WakeQueue;

/// How many node polls one poll of a [`DagFuture`] makes at most before it yields, unless
/// [`DagFuture::with_poll_budget`] says otherwise.
pub const DEFAULT_POLL_BUDGET: usize = 128;

/// Future for the [`Dag::run`](crate::Dag::run) method: one run of a DAG.
///
/// It polls every ready node inside its own `poll`, each with a waker of its own: a wake
/// re-polls only that node. It resolves to the [`Outputs`] of every node.
///
/// Nothing happens until it is first polled; the run's memory (one arena for every node's
/// future and output, a waker block, a ready queue and a state per node) is allocated then.
///
/// # Cancel safety
///
/// Dropping the future cancels the run: every node future still running is dropped, and every
/// output produced so far, each exactly once. No node keeps running.
///
/// # Panics
///
/// Polling it again after it completed panics. A node that panics makes `poll` panic; dropping
/// the future afterwards drops every other node future and output once.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct DagFuture<'a, P, K: Flavor = Sendable> {
    core: &'a DagCore,
    param: &'a P,
    budget: usize,
    phase: Phase<'a>,
    _flavor: PhantomData<K>,
}

enum Phase<'a> {
    NotStarted,
    Running(Run<'a>),
    Done,
}

/// A run in progress. Field order is drop order: node futures go before the waker block.
struct Run<'a> {
    slots: Slots<'a>,
    wakes: WakeQueue,
    /// Tasks to poll: just started, or woken. Each is here at most once (a woken task stays
    /// marked queued until it is polled), so it never grows past the task count.
    ready: VecDeque<u32>,
    /// Tasks not completed yet.
    remaining: usize,
}

impl<'a, P, K: Flavor> DagFuture<'a, P, K> {
    pub(crate) fn new(core: &'a DagCore, param: &'a P) -> Self {
        DagFuture {
            core,
            param,
            budget: DEFAULT_POLL_BUDGET,
            phase: Phase::NotStarted,
            _flavor: PhantomData,
        }
    }

    /// Sets how many node polls one `poll` of the run makes at most; past it, the run wakes
    /// itself and returns `Pending`, so one run cannot starve the other tasks of its executor.
    ///
    /// # Panics
    /// If `budget` is 0.
    pub fn with_poll_budget(mut self, budget: usize) -> Self {
        assert!(budget > 0, "dagfut: the poll budget must be at least 1");
        self.budget = budget;
        self
    }
}

impl<'a, P, K: Flavor> Future for DagFuture<'a, P, K> {
    type Output = Outputs<'a, P, K>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Phase::NotStarted = this.phase {
            let count = this.core.tasks.len();
            let mut ready = VecDeque::with_capacity(count);
            ready.extend(this.core.roots.iter().copied());
            this.phase = Phase::Running(Run {
                slots: Slots::new(this.core, this.param),
                wakes: WakeQueue::new(count),
                ready,
                remaining: count,
            });
        }
        let Phase::Running(run) = &mut this.phase else {
            panic!("dagfut: `DagFuture` polled after completion");
        };
        run.wakes.register(cx.waker());
        run.wakes.drain_into(&mut run.ready);
        let mut budget = this.budget;
        while let Some(&task) = run.ready.front() {
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            run.ready.pop_front();
            run.wakes.mark_polled(task);
            let waker = run.wakes.waker(task);
            let mut node_cx = Context::from_waker(&waker);
            if run
                .slots
                .poll_task(task, &mut node_cx, &mut run.ready)
                .is_ready()
            {
                run.remaining -= 1;
            }
        }
        if run.remaining > 0 {
            return Poll::Pending;
        }
        let Phase::Running(run) = core::mem::replace(&mut this.phase, Phase::Done) else {
            unreachable!()
        };
        drop(run.wakes);
        Poll::Ready(Outputs::new(run.slots))
    }
}

impl<P, K: Flavor> fmt::Debug for DagFuture<'_, P, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("DagFuture");
        s.field("dag", &self.core.id)
            .field("tasks", &self.core.tasks.len());
        match &self.phase {
            Phase::NotStarted => s.field("phase", &"not started"),
            Phase::Running(run) => s
                .field("phase", &"running")
                .field("running", &run.slots.count(RUNNING))
                .field("completed", &run.slots.count(DONE))
                .field("ready", &run.ready.len()),
            Phase::Done => s.field("phase", &"done"),
        };
        s.finish()
    }
}
