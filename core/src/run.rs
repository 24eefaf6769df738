//! The futures of a run: the scheduler, and its three faces (`run`, `try_run`, `run_settled`).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::convert::Infallible;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll, Waker};

use crate::dag::DagCore;
use crate::error::DagError;
use crate::flavor::{Flavor, Sendable, TypeMarker, assert_send, assert_sync};
use crate::node::{NodeId, Slot};
use crate::observe::{NodeEvent, Observer};
use crate::outputs::Outputs;
use crate::policy::News;
use crate::ready::ReadyQueue;
use crate::slots::{DONE, Lent, Polling, RUNNING, Slots};
use crate::task::{Completion, Sink};
use crate::waker::WakeQueue;

/// How many node polls one poll of a run makes at most before it yields, unless
/// `with_poll_budget` says otherwise.
pub const DEFAULT_POLL_BUDGET: usize = 128;

/// What a run does when a node fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// Stop at the first failure: no node starts, every running future is dropped.
    FailFast,
    /// Skip only the failed nodes' descendants; everything else completes.
    Settle,
}

/// The scheduler, shared by the three run futures. `E` is the DAG's error type, `O` the
/// observer (`()`: none).
struct RunCore<'a, P, E, O> {
    core: Lent<'a, DagCore>,
    param: Lent<'a, P>,
    budget: usize,
    #[cfg(feature = "std")]
    catch_panics: bool,
    phase: Phase<'a, E>,
    observer: O,
    /// Set while a poll is under way: still set when the next poll begins only if the one
    /// before it unwound (see `poll_run`).
    poisoned: bool,
}

// `Running` is the run's state (and, with `tracing`, its spans): the future is moved rarely
// (it is polled in place), so boxing it would only add an allocation per run.
#[allow(clippy::large_enum_variant)]
enum Phase<'a, E> {
    NotStarted,
    Running(Run<'a, E>),
    Done,
}

/// A run in progress. Field order is drop order: node futures go before the waker block.
struct Run<'a, E> {
    slots: Slots<'a>,
    wakes: WakeQueue<'a>,
    tally: Tally<E>,
    #[cfg(feature = "tracing")]
    spans: crate::spans::RunSpans,
}

/// The parts of a run that ended which own something ([`Phase::end`]).
struct Ended<'a, E> {
    slots: Slots<'a>,
    error_sink: Sink<E>,
    errors: Vec<DagError<E>>,
    #[cfg(feature = "tracing")]
    spans: crate::spans::RunSpans,
}

impl<'a, E> Phase<'a, E> {
    /// Ends a running phase: `Done` takes its place, and the parts of the run that own
    /// something come out. Moving the whole `Run` out instead (`mem::replace`), and dropping
    /// its waker queue there, cost a 1-node run about 40 instructions more (617 against 578).
    #[inline]
    fn end(&mut self) -> Option<Ended<'a, E>> {
        // Every field named: a new one fails to compile here until it is read out or shown
        // to own nothing.
        let Phase::Running(Run {
            slots,
            wakes,
            tally:
                Tally {
                    ready: _,
                    remaining: _,
                    error_sink,
                    errors,
                },
            #[cfg(feature = "tracing")]
            spans,
        }) = self
        else {
            return None;
        };
        // Closed in place (a panic there leaves a run that drops whole, its queue empty).
        wakes.shut();
        // SAFETY: each part read here is read once and owned by `Ended` from then on: `self` is
        // overwritten with `Done` right after, without dropping what it held, and nothing in
        // between can panic. The parts not read own nothing: the waker queue is shut (its
        // drop would do nothing; it holds a borrowed `Copy` pointer besides), the ready queue
        // is plain data (its buffer is the run block's; checked below) and `remaining` a
        // number.
        unsafe {
            let ended = Ended {
                slots: ptr::read(slots),
                error_sink: ptr::read(error_sink),
                errors: ptr::read(errors),
                #[cfg(feature = "tracing")]
                spans: ptr::read(spans),
            };
            ptr::write(self, Phase::Done);
            Some(ended)
        }
    }
}

// `Phase::end` leaves the ready queue behind without dropping it. (Only a unit test's queue,
// with a buffer of its own, has a drop.)
#[cfg(not(test))]
const _: () = assert!(!core::mem::needs_drop::<ReadyQueue>());

/// What the run loop updates besides the slots and the wakes.
struct Tally<E> {
    /// Tasks to poll: just started, or woken, in batches polled in index order. Each is here
    /// at most once (a woken task stays marked queued until it is polled).
    ready: ReadyQueue,
    /// Tasks not completed, failed or skipped yet.
    remaining: usize,
    /// Where a failing node leaves its failure (see `Slots::poll_task`).
    error_sink: Sink<E>,
    /// The failures the run went on after, in completion order: every one when it settles;
    /// those a fallback replaced or only optional inputs depended on when it fails fast.
    errors: Vec<DagError<E>>,
}

/// How a run ended.
enum Ending<'a, E> {
    Completed(Slots<'a>, Vec<DagError<E>>),
    Failed(DagError<E>),
}

impl<'a, P, E> RunCore<'a, P, E, ()> {
    fn new(core: &'a DagCore, param: &'a P) -> Self {
        RunCore {
            core: Lent::new(core),
            param: Lent::new(param),
            budget: DEFAULT_POLL_BUDGET,
            #[cfg(feature = "std")]
            catch_panics: false,
            phase: Phase::NotStarted,
            observer: (),
            poisoned: false,
        }
    }
}

impl<'a, P, E, O: Observer> RunCore<'a, P, E, O> {
    fn with_observer<O2: Observer>(self, observer: O2) -> RunCore<'a, P, E, O2> {
        RunCore {
            core: self.core,
            param: self.param,
            budget: self.budget,
            #[cfg(feature = "std")]
            catch_panics: self.catch_panics,
            phase: self.phase,
            observer,
            poisoned: self.poisoned,
        }
    }

    fn set_budget(&mut self, budget: usize) {
        assert!(budget > 0, "dagfut: the poll budget must be at least 1");
        self.budget = budget;
    }

    fn poll_run(&mut self, cx: &mut Context<'_>, policy: Policy) -> Poll<Ending<'a, E>> {
        // A poll that unwound (a node, its drop or the observer panicked) may have left a task
        // popped but not polled: the run cannot go on, but dropping it is sound and drops
        // everything once.
        assert!(
            !self.poisoned,
            "dagfut: a run's future was polled again after an earlier poll of it panicked; \
             drop it instead"
        );
        self.poisoned = true;
        // The observer sees each poll begin and end (`ready`: the run ended with it).
        self.observer.on_poll_start();
        let poll = self.poll_ready_nodes(cx, policy);
        self.observer.on_poll_end(poll.is_ready());
        self.poisoned = false;
        poll
    }

    fn poll_ready_nodes(&mut self, cx: &mut Context<'_>, policy: Policy) -> Poll<Ending<'a, E>> {
        let catch_panics = self.catches_panics();
        if let Phase::NotStarted = self.phase {
            let core = self.core.get();
            let count = core.tasks.len();
            let slots = Slots::new(core, self.param.get());
            // SAFETY: the ready queue's buffer in the run block, which `slots` owns and which
            // nothing else uses. The run uses the queue only while `slots` is beside it in the
            // `Run` (a completed run keeps only the slots), and the queue's drop touches no
            // buffer it does not own (it is dropped after `slots`, whose block may be back in
            // the cache by then).
            let mut ready = unsafe { ReadyQueue::new(count, slots.ready_buffer()) };
            core.roots.iter().for_each(|&root| ready.push(root));
            // `NotStarted` holds nothing to drop: replaced without a call to its drop glue.
            let not_started = core::mem::replace(
                &mut self.phase,
                Phase::Running(Run {
                    slots,
                    wakes: WakeQueue::new(count, Some(&core.cache)),
                    tally: Tally {
                        ready,
                        remaining: count,
                        error_sink: None,
                        errors: Vec::new(),
                    },
                    #[cfg(feature = "tracing")]
                    spans: crate::spans::RunSpans::new(self.core.get()),
                }),
            );
            core::mem::forget(not_started);
        }
        let Phase::Running(run) = &mut self.phase else {
            panic!("dagfut: a run's future was polled after completion");
        };
        #[cfg(feature = "tracing")]
        let _run_span = run.spans.run().clone().entered();
        if run.wakes.is_registered() {
            run.wakes.register(cx.waker());
        }
        let (slots, observer) = (&run.slots, &mut self.observer);
        run.wakes.drain_into(&mut run.tally.ready, |woken| {
            // A stale wake (of a task that finished) is drained too, and then ignored.
            if slots.is_running(woken) {
                observer.on_event(woken as usize, NodeEvent::Woken);
            }
        });
        let mut budget = self.budget;
        // The proto waker of this poll, lent to each node polled before the waker block is
        // made (`WakeQueue::lend`).
        let proto = run.wakes.proto(0);
        let proto_waker = proto.lend();
        // Where starting nodes find their inputs, and the events of node policies, passed on
        // after each poll (none without policies).
        let mut polling = run.slots.polling();
        // The message of a node's panic that `catch_panics` caught.
        let mut panic = None;
        loop {
            if budget == 0 {
                // Out of budget: yield, unless nothing is queued, or every node settled (what
                // is left are stale wakes, for which a poll more would poll no node).
                if run.tally.ready.is_empty() || run.tally.remaining == 0 {
                    break;
                }
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let Some(task) = run.tally.ready.pop() else { break };
            budget -= 1;
            if run.slots.is_ready(task) {
                self.observer.on_event(task as usize, NodeEvent::Started);
            }
            // Marked not queued (a wake from now on queues it again), and its waker lent: the
            // block's, or, until a node touched its waker, the proto waker aimed at it.
            let block_waker;
            let waker: &Waker = match run.wakes.lend(task) {
                Some(waker) => {
                    block_waker = waker;
                    &block_waker
                }
                None => {
                    proto.aim(task);
                    &proto_waker
                }
            };
            let mut node_cx = Context::from_waker(waker);
            let sink = (&mut run.tally.error_sink as *mut Sink<E>).cast::<()>();
            let polled = {
                // The node's span, entered around its poll (not for a stale wake).
                #[cfg(feature = "tracing")]
                let _node_span = (run.slots.is_ready(task) || run.slots.is_running(task))
                    .then(|| run.spans.node(self.core.get(), task))
                    .flatten()
                    .map(tracing::Span::enter);
                // SAFETY: `sink` is a `Sink<E>` with `E` the error type of the
                // `Dag` that made this run (`Dag<P, K, E>` makes runs with its own `E`, both
                // invariant in `E`; its fallible nodes fail with an `E`, or with `Infallible`
                // if added before `with_error`, which never writes: see `Mode`).
                unsafe {
                    poll_node(
                        &mut run.slots,
                        task,
                        &mut node_cx,
                        sink,
                        &mut polling,
                        catch_panics,
                        &mut panic,
                    )
                }
            };
            #[cfg(feature = "tracing")]
            if matches!(polled, Some(Poll::Ready(_))) {
                run.spans.close(task);
            }
            // The retries and timeouts of a node with a policy, before how it ended.
            if !polling.news.is_empty() {
                pass_on_news(&mut polling.news, task, &mut self.observer);
            }
            let (error, panic) = match polled {
                // A stale wake: the task completed, failed or was skipped. No node was
                // polled, so the budget (of node polls) gets its unit back: a run whose
                // finished nodes are woken again still polls as many nodes per poll. A poll
                // pops each stale task at most once: wakes made during a poll are drained by
                // the next one.
                None => {
                    budget += 1;
                    continue;
                }
                Some(Poll::Pending) => {
                    self.observer.on_event(task as usize, NodeEvent::Pending);
                    continue;
                }
                Some(Poll::Ready(Completion::Done)) => {
                    run.slots.release_dependents(task, &mut run.tally.ready);
                    self.observer.on_event(task as usize, NodeEvent::Completed);
                    run.tally.remaining = settle_count(run.tally.remaining, 1);
                    continue;
                }
                Some(Poll::Ready(Completion::Recovered)) => {
                    let (slots, tally) = (&mut run.slots, &mut run.tally);
                    recovered(self.core.get(), slots, tally, task, &mut self.observer);
                    continue;
                }
                // A panic the run caught, or the node's failure.
                Some(Poll::Ready(Completion::Failed)) => match panic.take() {
                    Some(message) => (None, Some(message)),
                    None => (run.tally.error_sink.take(), None),
                },
            };
            let core = self.core.get();
            if let Some(error) = failed(
                core,
                &mut run.slots,
                &mut run.tally,
                task,
                error,
                panic,
                policy,
                &mut self.observer,
            ) {
                // Dropping the run drops every running future, then every output.
                self.phase = Phase::Done;
                return Poll::Ready(Ending::Failed(error));
            }
        }
        if run.tally.remaining > 0 {
            if !run.wakes.is_registered() {
                // The run waits, and no parent's waker is in the block yet: the first wait,
                // or the block was made during this poll (a node touched its waker for the
                // first time). From now on each poll registers the parent's waker as it
                // starts. A run that completes in its first poll never touches it, nor one
                // whose nodes never touch their wakers (there is no block to register in). A
                // wake during this poll found no waker to wake: look once more after
                // registering.
                run.wakes.register(cx.waker());
                if run.wakes.has_wakes() {
                    cx.waker().wake_by_ref();
                }
            }
            return Poll::Pending;
        }
        let Some(ended) = self.phase.end() else {
            unreachable!()
        };
        #[cfg(feature = "tracing")]
        drop(ended.spans);
        drop(ended.error_sink);
        let mut slots = ended.slots;
        slots.completed();
        Poll::Ready(Ending::Completed(slots, ended.errors))
    }

    /// Whether a node's panic becomes a [`DagError::Panicked`] (`catch_panics`).
    fn catches_panics(&self) -> bool {
        #[cfg(feature = "std")]
        return self.catch_panics;
        #[cfg(not(feature = "std"))]
        return false;
    }
}

/// Passes the events of `task`'s policy (its retries and timeouts) on to the observer. Out
/// of line: only nodes with a policy have any.
#[cold]
#[inline(never)]
fn pass_on_news<O: Observer>(news: &mut News, task: u32, observer: &mut O) {
    for event in news.drain() {
        observer.on_event(task as usize, event);
    }
}

/// `task` failed and its fallback value took its place: the failure is recorded, and the run
/// goes on as if it had completed. Out of line: the run loop is hot, this is not.
#[cold]
#[inline(never)]
fn recovered<E, O: Observer>(
    core: &DagCore,
    slots: &mut Slots<'_>,
    tally: &mut Tally<E>,
    task: u32,
    observer: &mut O,
) {
    let error = failure(core, task, tally.error_sink.take(), None);
    tally.errors.push(error);
    observer.on_event(task as usize, NodeEvent::FellBack);
    slots.release_dependents(task, &mut tally.ready);
    observer.on_event(task as usize, NodeEvent::Completed);
    tally.remaining = settle_count(tally.remaining, 1);
}

/// `task` failed (its failure, or the message of its panic): the error that stops the run if
/// it fails fast and something needs the node, or `None` once the failure is recorded and its
/// dependents settled (skipped, or counted down if they take it as an optional input). Out of
/// line, as `recovered`.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)] // the run's parts, borrowed apart
fn failed<E, O: Observer>(
    core: &DagCore,
    slots: &mut Slots<'_>,
    tally: &mut Tally<E>,
    task: u32,
    error: Sink<E>,
    panic: Option<alloc::string::String>,
    policy: Policy,
    observer: &mut O,
) -> Option<DagError<E>> {
    observer.on_event(task as usize, NodeEvent::Failed);
    let error = failure(core, task, error, panic);
    // Failing fast stops the run, unless only optional inputs depend on the node.
    if policy == Policy::FailFast && !core.tolerated[task as usize] {
        return Some(error);
    }
    let mut scratch = VecDeque::new();
    let skipped = slots.skip_dependents_of(task, &mut tally.ready, &mut scratch);
    tally.remaining = settle_count(tally.remaining, 1 + skipped);
    tally.errors.push(error);
    None
}

/// The nodes of `errors`, in order.
fn failed_nodes<E>(errors: &[DagError<E>]) -> Vec<NodeId> {
    errors.iter().map(DagError::node).collect()
}

/// `remaining` less `settled` tasks that completed, failed or were skipped.
///
/// # Panics
/// If more tasks settle than remained (each settles once: a scheduler bug, never a wrap).
#[inline]
fn settle_count(remaining: usize, settled: usize) -> usize {
    remaining
        .checked_sub(settled)
        .expect("dagfut: more tasks settled than the run has")
}

/// Polls `task` ([`Slots::poll_task`]). With `catch_panics`, a panic out of the node's code is
/// caught: what is left of the node is dropped ([`Slots::abandon`]; a panic in that drop is
/// lost too), the panic's message goes to `message`, and the task has failed
/// (`Completion::Failed`). Otherwise the panic goes on unwinding.
///
/// # Safety
/// As [`Slots::poll_task`].
#[inline]
unsafe fn poll_node<'a>(
    slots: &mut Slots<'a>,
    task: u32,
    cx: &mut Context<'_>,
    error_sink: *mut (),
    polling: &mut Polling<'a>,
    catch_panics: bool,
    message: &mut Option<alloc::string::String>,
) -> Option<Poll<Completion>> {
    // SAFETY: as the caller guarantees.
    let mut poll = |slots: &mut Slots<'a>| unsafe { slots.poll_task(task, cx, error_sink, polling) };
    if !catch_panics {
        return poll(slots);
    }
    #[cfg(feature = "std")]
    {
        use core::panic::AssertUnwindSafe;
        match std::panic::catch_unwind(AssertUnwindSafe(|| poll(slots))) {
            Ok(polled) => polled,
            Err(payload) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| slots.abandon(task)));
                *message = Some(panic_message(payload));
                Some(Poll::Ready(Completion::Failed))
            }
        }
    }
    #[cfg(not(feature = "std"))]
    {
        let _ = message;
        unreachable!("catch_panics needs the `std` feature")
    }
}

impl<P, E, O> RunCore<'_, P, E, O> {
    fn debug(&self, f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
        let mut s = f.debug_struct(name);
        s.field("dag", &self.core.get().id)
            .field("tasks", &self.core.get().tasks.len());
        match &self.phase {
            Phase::NotStarted => s.field("phase", &"not started"),
            Phase::Running(run) => s
                .field("phase", &"running")
                .field("running", &run.slots.count(RUNNING))
                .field("completed", &run.slots.count(DONE))
                .field("ready", &run.tally.ready.len()),
            Phase::Done => s.field("phase", &"done"),
        };
        s.finish()
    }
}

/// The error of `task`: its failure (its error, or its last attempt's timeout), or the
/// message of its panic.
fn failure<E>(
    core: &DagCore,
    task: u32,
    failure: Sink<E>,
    panic: Option<alloc::string::String>,
) -> DagError<E> {
    let node = NodeId {
        dag: core.id,
        slot: Slot::Task(task),
    };
    let name = core.names[task as usize].clone();
    let (attempts, timeout) = core.tasks[task as usize].policy();
    match failure {
        Some(Some(error)) if attempts == 1 => DagError::Failed { node, name, error },
        Some(Some(error)) => DagError::Exhausted {
            node,
            name,
            error,
            attempts,
        },
        Some(None) => DagError::TimedOut {
            node,
            name,
            after: timeout.unwrap_or_default(),
            attempts,
        },
        None => DagError::Panicked {
            node,
            name,
            message: panic.unwrap_or_default(),
        },
    }
}

#[cfg(feature = "std")]
fn panic_message(payload: alloc::boxed::Box<dyn core::any::Any + Send>) -> alloc::string::String {
    use alloc::string::ToString;
    match payload.downcast::<alloc::string::String>() {
        Ok(message) => *message,
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(
            || "a non-string panic payload".to_string(),
            ToString::to_string,
        ),
    }
}

/// Future for the [`Dag::run`](crate::Dag::run) method: one run of an infallible DAG.
///
/// It polls every ready node inside its own `poll`, each with a waker of its own: a wake
/// re-polls only that node. It resolves to the [`Outputs`] of every node.
///
/// Nothing happens until it is first polled; the run's memory (one arena for every node's
/// future and output, a state per node and the ready queue; the waker block once a node first
/// touches its waker) is allocated then, or taken from what the `Dag`'s last run left.
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
pub struct DagFuture<'a, P, K: Flavor = Sendable, O = ()> {
    run: RunCore<'a, P, Infallible, O>,
    _flavor: TypeMarker<P, K, ()>,
}

// SAFETY: a run of a `Sendable` DAG holds `&P` (sent across threads: `P: Sync`), a shared
// `DagCore` (`Sync`: see `Dag`'s impl), node futures that are `Send` and outputs that are
// `Send + Sync` (the `for<'a> NodeFn::Future: Send` and `Value<Sendable>` bounds of the
// `Sendable` `IntoTask` impls), its run block (owned: the ready queue's pointer into it goes
// with it) and its waker block, which is thread-safe (`WakeQueue`). The observer goes with the
// run, hence `O: Send`.
unsafe impl<P: Sync, O: Send> Send for DagFuture<'_, P, Sendable, O> {}
// SAFETY: `&DagFuture` gives access to nothing but counts for `Debug`.
unsafe impl<P: Sync, O: Sync> Sync for DagFuture<'_, P, Sendable, O> {}

impl<'a, P, K: Flavor> DagFuture<'a, P, K> {
    /// The run of `core` with `param`, for `Dag::run` and `Dag::run_owned`.
    ///
    /// # Panics
    /// If a node of `core` has a timeout: it may fail, which a `DagFuture` has no way to say.
    #[track_caller]
    pub(crate) fn new(core: &'a DagCore, param: &'a P) -> Self {
        assert!(
            !core.may_time_out,
            "dagfut: this DAG has nodes with timeouts, which may fail: run it with `try_run` \
             or `run_settled`"
        );
        DagFuture {
            run: RunCore::new(core, param),
            _flavor: PhantomData,
        }
    }
}

impl<'a, P, K: Flavor, O: Observer> DagFuture<'a, P, K, O> {
    /// Sends the run's node events to `observer` (see [`Observer`]).
    pub fn with_observer<O2: Observer>(self, observer: O2) -> DagFuture<'a, P, K, O2> {
        DagFuture {
            run: self.run.with_observer(observer),
            _flavor: PhantomData,
        }
    }

    /// Sets how many node polls one `poll` of the run makes at most; past it, the run wakes
    /// itself and returns `Pending`, so one run cannot starve the other tasks of its executor.
    ///
    /// # Panics
    /// If `budget` is 0.
    pub fn with_poll_budget(mut self, budget: usize) -> Self {
        self.run.set_budget(budget);
        self
    }
}

impl<'a, P, K: Flavor, O: Observer> Future for DagFuture<'a, P, K, O> {
    type Output = Outputs<'a, P, K>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut().run.poll_run(cx, Policy::FailFast) {
            Poll::Ready(Ending::Completed(slots, _)) => {
                Poll::Ready(Outputs::new(slots, Vec::new()))
            }
            Poll::Ready(Ending::Failed(never)) => match never {
                DagError::Failed { error, .. } | DagError::Exhausted { error, .. } => {
                    match error {}
                }
                DagError::Panicked { .. } => unreachable!("panics are only caught by try_run"),
                DagError::TimedOut { .. } => unreachable!("`Dag::run` refuses DAGs with timeouts"),
            },
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<P, K: Flavor, O> fmt::Debug for DagFuture<'_, P, K, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.run.debug(f, "DagFuture")
    }
}

/// The options of the fallible runs' futures.
macro_rules! run_options {
    ($future:ident) => {
        impl<'a, P, K: Flavor, E, O: Observer> $future<'a, P, K, E, O> {
            /// Sends the run's node events to `observer` (see [`Observer`]).
            pub fn with_observer<O2: Observer>(self, observer: O2) -> $future<'a, P, K, E, O2> {
                $future {
                    run: self.run.with_observer(observer),
                    _flavor: PhantomData,
                }
            }

            /// As [`DagFuture::with_poll_budget`].
            ///
            /// # Panics
            /// If `budget` is 0.
            pub fn with_poll_budget(mut self, budget: usize) -> Self {
                self.run.set_budget(budget);
                self
            }

            /// Turns a panicking node into [`DagError::Panicked`] instead of a panic out of
            /// `poll`: the node's future is dropped and it counts as a failed node.
            ///
            /// # Panics
            /// A panic whose payload panics again as it is dropped (once its message is read)
            /// still comes out of `poll`; the run is then poisoned, and dropping it drops
            /// everything once. (A panic of the dropped future's `Drop` is contained.)
            #[cfg(feature = "std")]
            pub fn catch_panics(mut self) -> Self {
                self.run.catch_panics = true;
                self
            }
        }
    };
}

/// Future for the [`Dag::try_run`](crate::Dag::try_run) method: one fail-fast run of a DAG
/// with fallible nodes.
///
/// At the first node that fails, no other node starts, every running node future is dropped
/// at once, and the run resolves to the [`DagError`] naming that node. Otherwise it resolves
/// to the [`Outputs`] of every node. Two failures do not stop it: a node that has dependents
/// and whose dependents all take it as an optional input
/// ([`Node::optional`](crate::Node::optional)), or one whose fallback takes its place
/// ([`Guarded::or_value`](crate::Guarded::or_value)); it is listed in [`Outputs::failed`]. A
/// failed node with no dependents stops the run like any other.
///
/// # Cancel safety
///
/// As [`DagFuture`]: dropping it drops every running future and every output once.
///
/// # Panics
///
/// As [`DagFuture`], unless [`catch_panics`](Self::catch_panics) turns panics into errors.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct TryDagFuture<'a, P, K: Flavor, E, O = ()> {
    run: RunCore<'a, P, E, O>,
    _flavor: TypeMarker<P, K, E>,
}

// SAFETY: as for `DagFuture`; the run also holds errors of type `E`, hence `E: Send`, which
// `&TryDagFuture` does not give access to.
unsafe impl<P: Sync, E: Send, O: Send> Send for TryDagFuture<'_, P, Sendable, E, O> {}
// SAFETY: `&TryDagFuture` gives access to nothing but counts for `Debug`.
unsafe impl<P: Sync, E, O: Sync> Sync for TryDagFuture<'_, P, Sendable, E, O> {}

impl<'a, P, K: Flavor, E> TryDagFuture<'a, P, K, E> {
    pub(crate) fn new(core: &'a DagCore, param: &'a P) -> Self {
        TryDagFuture {
            run: RunCore::new(core, param),
            _flavor: PhantomData,
        }
    }
}

run_options!(TryDagFuture);

impl<'a, P, K: Flavor, E, O: Observer> Future for TryDagFuture<'a, P, K, E, O> {
    type Output = Result<Outputs<'a, P, K>, DagError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.run
            .poll_run(cx, Policy::FailFast)
            .map(|ending| match ending {
                Ending::Completed(slots, errors) => Ok(Outputs::new(slots, failed_nodes(&errors))),
                Ending::Failed(error) => Err(error),
            })
    }
}

// Node futures live in the run's heap arena and errors are only moved, never pinned: the run
// futures can move freely whatever `E` is.
// The observer is never pinned either.
impl<P, K: Flavor, O> Unpin for DagFuture<'_, P, K, O> {}
impl<P, K: Flavor, E, O> Unpin for TryDagFuture<'_, P, K, E, O> {}
impl<P, K: Flavor, E, O> Unpin for SettledDagFuture<'_, P, K, E, O> {}

impl<P, K: Flavor, E, O> fmt::Debug for TryDagFuture<'_, P, K, E, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.run.debug(f, "TryDagFuture")
    }
}

/// What a settled run produced: the outputs of every node that completed, and the failures,
/// in the order they happened.
pub struct Settled<'a, P, K: Flavor, E> {
    /// The outputs of the nodes that completed; failed nodes and their descendants have
    /// none ([`OutputError::NotCompleted`](crate::OutputError::NotCompleted)).
    pub outputs: Outputs<'a, P, K>,
    /// Every failure, in completion order, those a fallback replaced included.
    pub errors: Vec<DagError<E>>,
}

// By hand: a derive would ask `P` and `K` for `Debug`, which the outputs do not need.
impl<P, K: Flavor, E: fmt::Debug> fmt::Debug for Settled<'_, P, K, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settled")
            .field("outputs", &self.outputs)
            .field("errors", &self.errors)
            .finish()
    }
}

impl<P, K: Flavor, E> Settled<'_, P, K, E> {
    /// Whether no node failed (a node whose fallback took its place did).
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Future for the [`Dag::run_settled`](crate::Dag::run_settled) method: a run where a failure
/// skips only the failed node's descendants, and every independent branch finishes.
///
/// # Cancel safety
///
/// As [`DagFuture`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct SettledDagFuture<'a, P, K: Flavor, E, O = ()> {
    run: RunCore<'a, P, E, O>,
    _flavor: TypeMarker<P, K, E>,
}

// SAFETY: as for `TryDagFuture`.
unsafe impl<P: Sync, E: Send, O: Send> Send for SettledDagFuture<'_, P, Sendable, E, O> {}
// SAFETY: as for `TryDagFuture`.
unsafe impl<P: Sync, E, O: Sync> Sync for SettledDagFuture<'_, P, Sendable, E, O> {}
const _: () = {
    assert_send::<DagFuture<'static, u8, Sendable>>();
    assert_sync::<DagFuture<'static, u8, Sendable>>();
    assert_send::<TryDagFuture<'static, u8, Sendable, u8>>();
    assert_sync::<TryDagFuture<'static, u8, Sendable, u8>>();
    assert_send::<SettledDagFuture<'static, u8, Sendable, u8>>();
    assert_sync::<SettledDagFuture<'static, u8, Sendable, u8>>();
};

impl<'a, P, K: Flavor, E> SettledDagFuture<'a, P, K, E> {
    pub(crate) fn new(core: &'a DagCore, param: &'a P) -> Self {
        SettledDagFuture {
            run: RunCore::new(core, param),
            _flavor: PhantomData,
        }
    }
}

run_options!(SettledDagFuture);

impl<'a, P, K: Flavor, E, O: Observer> Future for SettledDagFuture<'a, P, K, E, O> {
    type Output = Settled<'a, P, K, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.run
            .poll_run(cx, Policy::Settle)
            .map(|ending| match ending {
                Ending::Completed(slots, errors) => Settled {
                    outputs: Outputs::new(slots, failed_nodes(&errors)),
                    errors,
                },
                Ending::Failed(_) => unreachable!("a settling run does not stop at a failure"),
            })
    }
}

impl<P, K: Flavor, E, O> fmt::Debug for SettledDagFuture<'_, P, K, E, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.run.debug(f, "SettledDagFuture")
    }
}
