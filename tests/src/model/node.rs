//! The nodes' side of the model: the control block they share with the driver, their
//! futures (with the guard that reads their inputs when dropped) and their outputs.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::std;
use super::{ABSENT, AttemptEnd, DropPanic, Spec, fallback_value, mix};

/// How a node's last attempt ended, as the node saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// It returned `Ready(Ok)` (and its future's drop did not panic).
    Ok,
    /// It returned `Ready(Err)`.
    Err,
    /// It returned `Ready(Err)`, and the node has a fallback value, which takes its place.
    FellBack,
    /// It panicked, in its poll or in its future's drop right after `Ready`, with this message.
    Panicked(String),
}

impl Outcome {
    /// Whether the node has a value: its own, or its fallback.
    pub(super) fn has_value(&self) -> bool {
        matches!(self, Outcome::Ok | Outcome::FellBack)
    }
}

/// What happened to one node in the current run.
#[derive(Clone, Debug, Default)]
pub(super) struct Trace {
    /// The poll of the run in which the node (its first attempt) started.
    pub(super) started: Option<u32>,
    /// How many attempts started (calls of the node function).
    pub(super) attempts: u32,
    /// The input values its first attempt received (`None`: an optional input that is).
    pub(super) seen: Option<Vec<Option<u64>>>,
    /// The poll in which an attempt that is not its last failed, until the next one starts.
    pub(super) between: Option<u32>,
    /// How many nodes' failures were final (`Control::failures`) when `between` was set.
    pub(super) failures_before: usize,
    /// The poll of the run in which its last attempt finished, and how.
    pub(super) finished: Option<(u32, Outcome)>,
    /// The driver woke its current park: its next poll resumes.
    pub(super) resumed: bool,
    /// A clone of the waker of its latest poll.
    pub(super) waker: Option<Waker>,
    /// How many of its attempts' futures were dropped.
    pub(super) future_drops: u32,
    pub(super) outputs_made: u32,
    pub(super) output_drops: u32,
}

/// Where a node's panic was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Site {
    /// In its poll.
    Poll,
    /// In its future's drop, right after it returned `Ready`.
    DropAfterReady,
    /// In its future's drop, after its poll panicked.
    DropAfterPanic,
    /// In its future's drop, while it was still running (cancelled).
    DropCancelled,
    /// In its output's drop.
    DropOutput,
}

/// A panic a node raised on purpose.
#[derive(Clone, Debug)]
pub(super) struct Raised {
    pub(super) site: Site,
    pub(super) message: String,
}

impl Raised {
    /// Whether the panic must come out of the run's poll in which it was raised. With
    /// `catch_panics`, a panic in a poll or in the drop right after `Ready` fails the node
    /// instead, and one in the drop of a future whose poll panicked is lost with it; the drops
    /// of a fail-fast (cancelled futures, outputs) are not the nodes' own code.
    pub(super) fn escapes_poll(&self, catch_panics: bool) -> bool {
        !catch_panics || matches!(self.site, Site::DropCancelled | Site::DropOutput)
    }
}

/// What the nodes share with the driver.
pub(super) struct Control {
    pub(super) spec: Spec,
    /// The number of the run's poll under way (from 1; 0 before the first).
    pub(super) round: Cell<u32>,
    pub(super) nodes: RefCell<Vec<Trace>>,
    /// Parked nodes and the wakers they parked with, for the driver to pick from.
    pub(super) parked: RefCell<Vec<(usize, Waker)>>,
    /// The nodes whose failure was final (`Err`, a fallback, a panic), in the order they
    /// failed.
    pub(super) failures: RefCell<Vec<usize>>,
    /// The panics the nodes raised since the driver last looked.
    pub(super) raised: RefCell<Vec<Raised>>,
    /// Everything the nodes saw that must not happen.
    pub(super) violations: RefCell<Vec<String>>,
    pub(super) futures_alive: Cell<i64>,
    pub(super) outputs_alive: Cell<i64>,
    /// Whether each node future lets go of the wakers kept for its node as it is dropped
    /// (completed, failed or cancelled; and the driver of its own before it drops the run),
    /// so that no waker of the run's block is alive when the run ends: the block then goes
    /// back to the DAG's pool for a later run.
    pub(super) drops_wakers: Cell<bool>,
    /// How many times the run polled a node future, every attempt's: each poll of a task
    /// that the poll budget counts polls its node's future once or more.
    pub(super) node_polls: Cell<usize>,
}

impl Control {
    pub(super) fn new(spec: &Spec) -> Rc<Self> {
        Rc::new(Control {
            spec: spec.clone(),
            round: Cell::new(0),
            nodes: RefCell::new(vec![Trace::default(); spec.nodes.len()]),
            parked: RefCell::new(Vec::new()),
            failures: RefCell::new(Vec::new()),
            raised: RefCell::new(Vec::new()),
            violations: RefCell::new(Vec::new()),
            futures_alive: Cell::new(0),
            outputs_alive: Cell::new(0),
            drops_wakers: Cell::new(false),
            node_polls: Cell::new(0),
        })
    }

    /// Lets go of the nodes' wakers this keeps (for the driver's wakes and stale wakes).
    pub(super) fn let_go_of_wakers(&self) {
        self.parked.borrow_mut().clear();
        for trace in self.nodes.borrow_mut().iter_mut() {
            trace.waker = None;
        }
    }

    fn violation(&self, problem: String) {
        self.violations.borrow_mut().push(problem);
    }

    /// Records that the last attempt of `index` finished in the current poll.
    fn finish(&self, index: usize, outcome: Outcome) {
        if outcome != Outcome::Ok {
            self.failures.borrow_mut().push(index);
        }
        if let Outcome::Panicked(message) = &outcome {
            self.raise(Site::Poll, message.clone());
        }
        self.nodes.borrow_mut()[index].finished = Some((self.round.get(), outcome));
    }

    fn raise(&self, site: Site, message: String) {
        self.raised.borrow_mut().push(Raised { site, message });
    }

    /// Node `index`, whose attempt failed in the current poll (it is between two attempts),
    /// panicked with `message` right after, in the core's code in its poll (a policy's
    /// yield, which wakes the node's waker, and so the task's): with `catch_panics`, its last
    /// attempt is then that one, and its failure that panic.
    pub(super) fn panicked_between_attempts(
        &self,
        index: usize,
        message: String,
    ) -> Result<(), String> {
        let mut nodes = self.nodes.borrow_mut();
        let round = self.round.get();
        let Some(trace) = nodes.get_mut(index) else {
            return Err(format!(
                "the task waker's panic {message:?} was caught in a node's poll, but no node's \
                poll was under way"
            ));
        };
        if trace.between != Some(round) {
            return Err(format!(
                "the task waker's panic {message:?} was caught in node {index}'s poll, which \
                neither raised it nor is between two attempts ({:?})",
                trace.between
            ));
        }
        trace.between = None;
        trace.finished = Some((round, Outcome::Panicked(message)));
        self.failures
            .borrow_mut()
            .insert(trace.failures_before, index);
        Ok(())
    }

    /// Wakes the stored waker of the `pick % count`-th of the `count` nodes that finished,
    /// other than `me`: by reference if `pick` is even, by value otherwise.
    fn wake_finished(&self, pick: u8, me: usize) {
        let waker = {
            let nodes = self.nodes.borrow();
            let finished: Vec<&Waker> = nodes
                .iter()
                .enumerate()
                .filter(|&(index, trace)| index != me && trace.finished.is_some())
                .filter_map(|(_, trace)| trace.waker.as_ref())
                .collect();
            if finished.is_empty() {
                return;
            }
            finished[usize::from(pick) % finished.len()].clone()
        };
        if pick % 2 == 0 {
            waker.wake_by_ref();
        } else {
            waker.wake();
        }
    }
}

/// The values flowing through the DAG: the control block and each node's index are
/// constants in every node's input list, before its real inputs.
pub(super) enum Val {
    Control(Rc<Control>),
    Index(usize),
    Num(Output),
}

/// A clone of a number is a new output of the same node: the core clones a fallback value,
/// which the DAG keeps, into the slot of the node that fell back, in the run being polled
/// ([`set_running`]), whose output the clone is.
impl Clone for Val {
    fn clone(&self) -> Self {
        match self {
            Val::Control(control) => Val::Control(control.clone()),
            Val::Index(index) => Val::Index(*index),
            Val::Num(output) => {
                let control = output.control.clone().unwrap_or_else(|| {
                    RUNNING
                        .with_borrow(Clone::clone)
                        .expect("a fallback value is cloned in a run's poll")
                });
                Val::Num(Output::new(&control, output.index, *output.value))
            }
        }
    }
}

/// A node's output. Its value is boxed, so that reading a dropped one is a use after free
/// that Miri reports.
pub(super) struct Output {
    pub(super) value: Box<u64>,
    index: usize,
    /// The run whose output it is, which counts it (and it panics when dropped if the spec
    /// says so); `None` for a fallback value the DAG keeps, shared by every run, of which each
    /// run clones its own.
    control: Option<Rc<Control>>,
}

impl Output {
    /// Whether it is an output of the run whose control block is `control` (a fallback
    /// value the DAG keeps is no run's).
    pub(super) fn is_of(&self, control: &Rc<Control>) -> bool {
        self.control
            .as_ref()
            .is_some_and(|own| Rc::ptr_eq(own, control))
    }

    fn new(control: &Rc<Control>, index: usize, value: u64) -> Self {
        control.outputs_alive.set(control.outputs_alive.get() + 1);
        control.nodes.borrow_mut()[index].outputs_made += 1;
        Output {
            value: Box::new(value),
            index,
            control: Some(control.clone()),
        }
    }
}

/// The fallback value of node `index`, which the DAG keeps (`or_value`): not counted, as its
/// clones are.
pub(super) fn fallback(index: usize) -> Val {
    Val::Num(Output {
        value: Box::new(fallback_value(index)),
        index,
        control: None,
    })
}

impl Drop for Output {
    fn drop(&mut self) {
        let Some(control) = &self.control else {
            return;
        };
        control.outputs_alive.set(control.outputs_alive.get() - 1);
        control.nodes.borrow_mut()[self.index].output_drops += 1;
        if control.spec.drop_panic == Some(DropPanic::Output(self.index)) {
            let message = format!("model: node {}'s output panicked in drop", self.index);
            control.raise(Site::DropOutput, message.clone());
            panic!("{message}");
        }
    }
}

/// The node error of the model's DAGs: the index of the node that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failed(pub usize);

/// Borrows a node's inputs for as long as its future lives, and reads them when the future
/// is dropped: each input's output must still be there.
struct InputGuard<'a> {
    control: Rc<Control>,
    index: usize,
    /// In the order of the spec's inputs; `None`: an optional input that is.
    inputs: Vec<Option<&'a Val>>,
}

impl Drop for InputGuard<'_> {
    fn drop(&mut self) {
        let control = &self.control;
        let spec = &control.spec.nodes[self.index];
        for (value, &input) in self.inputs.iter().zip(&spec.inputs) {
            let Some(value) = value else { continue };
            // The read itself: a use after free under Miri if the output was dropped.
            let Val::Num(output) = value else {
                control.violation(format!(
                    "node {}: input {input} is not a number",
                    self.index
                ));
                continue;
            };
            core::hint::black_box(*output.value);
            if control.nodes.borrow()[input].output_drops > 0 {
                control.violation(format!(
                    "node {}'s future was dropped after its input {input}'s output",
                    self.index
                ));
            }
        }
        let mut nodes = control.nodes.borrow_mut();
        nodes[self.index].future_drops += 1;
        if control.drops_wakers.get() {
            // Whether it completed, failed or is cancelled (a `try_run` failing fast).
            nodes[self.index].waker = None;
            control
                .parked
                .borrow_mut()
                .retain(|(parked, _)| *parked != self.index);
        }
        control.futures_alive.set(control.futures_alive.get() - 1);
    }
}

/// How an attempt's future ended, for its [`DropBomb`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// It returned `Ready` (`Ok` or `Err`).
    Ready,
    /// Its poll panicked.
    Panicked,
}

/// Panics when dropped: the future of the first attempt of the node [`DropPanic::Future`]
/// names (nothing is retried after it).
struct DropBomb {
    control: Rc<Control>,
    index: usize,
    ended: Option<Ended>,
}

impl Drop for DropBomb {
    fn drop(&mut self) {
        let control = &self.control;
        let index = self.index;
        let message = format!("model: node {index}'s future panicked in drop");
        let site = match self.ended {
            None => Site::DropCancelled,
            Some(Ended::Panicked) => Site::DropAfterPanic,
            Some(Ended::Ready) => {
                // The node panics after all: with `catch_panics` this is its failure (it may
                // have been an attempt that was to be retried, or the last, `Ok` or `Err`).
                let mut nodes = control.nodes.borrow_mut();
                let trace = &mut nodes[index];
                let recorded =
                    matches!(trace.finished, Some((_, Outcome::Err | Outcome::FellBack)));
                if !recorded {
                    control.failures.borrow_mut().push(index);
                }
                trace.between = None;
                trace.finished = Some((control.round.get(), Outcome::Panicked(message.clone())));
                Site::DropAfterReady
            }
        };
        control.raise(site, message.clone());
        panic!("{message}");
    }
}

/// One attempt's future: parks `parks` times, then ends as its
/// [`NodeSpec`](super::NodeSpec) says for this attempt.
pub(super) struct NodeFuture<'a> {
    /// Dropped first: reads the inputs, counts the drop.
    guard: InputGuard<'a>,
    /// Which attempt of the node this is, from 1.
    attempt: u32,
    /// The input values, as the node computes with them.
    values: Vec<u64>,
    parks_done: u8,
    parked: bool,
    /// It returned `Ready` or panicked: it must never be polled again.
    finished: bool,
    /// Dropped last, so that everything else is counted before it panics.
    bomb: Option<DropBomb>,
}

/// The number an input holds, an output of the same run.
fn number(control: &Rc<Control>, index: usize, value: &Val) -> u64 {
    match value {
        Val::Num(output) => {
            if !output.is_of(control) {
                control.violation(format!(
                    "node {index}: an input is an output of another run"
                ));
            }
            *output.value
        }
        _ => {
            control.violation(format!("node {index}: an input is not a number"));
            0
        }
    }
}

/// Starts an attempt of a node: `list` starts with the control block and the node's index,
/// then its plain inputs; `optional` are its optional inputs, in order.
fn start<'a>(list: &'a [&'a Val], optional: &[Option<&'a Val>]) -> NodeFuture<'a> {
    let (Val::Control(control), Val::Index(index)) = (list[0], list[1]) else {
        unreachable!("every node's list starts with the control block and its index");
    };
    let index = *index;
    let spec = &control.spec.nodes[index];
    // The inputs in the spec's order, from the plain list and the optional ones.
    let optional_count = (0..spec.inputs.len())
        .filter(|&position| spec.is_optional(position))
        .count();
    if list.len() - 2 + optional.len() != spec.inputs.len() || optional.len() != optional_count {
        control.violation(format!(
            "node {index} received {} plain and {} optional inputs, for {} inputs of which \
             {optional_count} are optional",
            list.len() - 2,
            optional.len(),
            spec.inputs.len()
        ));
    }
    let mut plain_inputs = list[2..].iter().copied();
    let mut optional_inputs = optional.iter().copied();
    let inputs: Vec<Option<&Val>> = (0..spec.inputs.len())
        .map(|position| {
            if spec.is_optional(position) {
                optional_inputs.next().flatten()
            } else {
                plain_inputs.next()
            }
        })
        .collect();
    let seen: Vec<Option<u64>> = inputs
        .iter()
        .map(|value| value.map(|value| number(control, index, value)))
        .collect();
    let round = control.round.get();
    let attempt = {
        let mut nodes = control.nodes.borrow_mut();
        let trace = &mut nodes[index];
        if trace.finished.is_some() {
            control.violation(format!(
                "node {index} started attempt {} in poll {round}, after it finished",
                trace.attempts + 1
            ));
        }
        if trace.future_drops != trace.attempts {
            control.violation(format!(
                "node {index} started attempt {} in poll {round} while an earlier one's \
                 future was alive",
                trace.attempts + 1
            ));
        }
        trace.attempts += 1;
        if trace.attempts == 1 {
            trace.started = Some(round);
            trace.seen = Some(seen.clone());
        } else {
            if trace.between.take().is_none() {
                control.violation(format!(
                    "node {index} started attempt {} in poll {round}, but the one before it \
                     did not fail",
                    trace.attempts
                ));
            }
            if trace.seen.as_ref() != Some(&seen) {
                control.violation(format!(
                    "node {index}'s attempt {} received {seen:?}, the first {:?}",
                    trace.attempts, trace.seen
                ));
            }
        }
        if trace.attempts > spec.max_attempts() {
            control.violation(format!(
                "node {index} started attempt {} of at most {}",
                trace.attempts,
                spec.max_attempts()
            ));
        }
        trace.attempts
    };
    control.futures_alive.set(control.futures_alive.get() + 1);
    let bomb = attempt == 1 && control.spec.drop_panic == Some(DropPanic::Future(index));
    NodeFuture {
        guard: InputGuard {
            control: control.clone(),
            index,
            inputs,
        },
        attempt,
        values: seen.iter().map(|value| value.unwrap_or(ABSENT)).collect(),
        parks_done: 0,
        parked: false,
        finished: false,
        bomb: bomb.then(|| DropBomb {
            control: control.clone(),
            index,
            ended: None,
        }),
    }
}

/// The functions of the nodes, by how many optional inputs they take (`node0` to `node4`),
/// and the same for the nodes of a DAG that cannot fail (`run0` to `run4`, see [`Sure`]).
macro_rules! node_fns {
    ($($node:ident $run:ident ($($optional:ident),*);)*) => {$(
        pub(super) fn $node<'a>(
            list: &'a [&'a Val],
            $($optional: Option<&'a Val>,)*
        ) -> NodeFuture<'a> {
            start(list, &[$($optional),*])
        }

        pub(super) fn $run<'a>(
            list: &'a [&'a Val],
            $($optional: Option<&'a Val>,)*
        ) -> Sure<'a> {
            Sure(start(list, &[$($optional),*]))
        }
    )*};
}

node_fns! {
    node0 run0 ();
    node1 run1 (a);
    node2 run2 (a, b);
    node3 run3 (a, b, c);
    node4 run4 (a, b, c, d);
}

impl Future for NodeFuture<'_> {
    type Output = Result<Val, Failed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (control, index) = (this.guard.control.clone(), this.guard.index);
        set_polling_node(Some(index));
        control.node_polls.set(control.node_polls.get() + 1);
        if this.finished {
            control.violation(format!(
                "node {index} (attempt {}) was polled after it finished",
                this.attempt
            ));
            return Poll::Pending;
        }
        let spec = &control.spec.nodes[index];
        if !spec.leaves_waker {
            control.nodes.borrow_mut()[index].waker = Some(cx.waker().clone());
        }
        if this.parked {
            if !core::mem::take(&mut control.nodes.borrow_mut()[index].resumed) {
                control.violation(format!("node {index} was polled while parked, unwoken"));
                return Poll::Pending;
            }
            this.parked = false;
            this.parks_done += 1;
        }
        if this.parks_done < spec.parks {
            this.parked = true;
            let waker = cx.waker().clone();
            control.nodes.borrow_mut()[index].waker = Some(waker.clone());
            control.parked.borrow_mut().push((index, waker));
            return Poll::Pending;
        }
        // The last poll: wake-then-Ready (or wake-then-panic).
        this.finished = true;
        let end = spec.attempt_end(this.attempt);
        let last = spec.is_last_attempt(this.attempt, end);
        // A wake may reach the task's waker, which may panic (see `WakerPanic`): this poll
        // then panics with it.
        let woke = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            if spec.wakes_itself && last {
                cx.waker().wake_by_ref();
            }
            if let Some(pick) = spec.wakes_finished {
                control.wake_finished(pick, index);
            }
        }));
        let ended = match (end, &woke) {
            (AttemptEnd::Panics, _) | (_, Err(_)) => Ended::Panicked,
            (AttemptEnd::Ok | AttemptEnd::Err, Ok(())) => Ended::Ready,
        };
        if let Some(bomb) = &mut this.bomb {
            bomb.ended = Some(ended);
        }
        if let Err(payload) = woke {
            control.finish(index, Outcome::Panicked(panic_message(&*payload)));
            std::panic::resume_unwind(payload);
        }
        match end {
            AttemptEnd::Panics => {
                let message = format!("model: node {index} panicked in poll");
                control.finish(index, Outcome::Panicked(message.clone()));
                panic!("{message}");
            }
            AttemptEnd::Err => {
                if !last {
                    let failures_before = control.failures.borrow().len();
                    let mut nodes = control.nodes.borrow_mut();
                    nodes[index].between = Some(control.round.get());
                    nodes[index].failures_before = failures_before;
                } else if spec.guard.is_some_and(|guard| guard.fallback) {
                    control.finish(index, Outcome::FellBack);
                } else {
                    control.finish(index, Outcome::Err);
                }
                Poll::Ready(Err(Failed(index)))
            }
            AttemptEnd::Ok => {
                control.finish(index, Outcome::Ok);
                Poll::Ready(Ok(Val::Num(Output::new(
                    &control,
                    index,
                    mix(index, &this.values),
                ))))
            }
        }
    }
}

/// The future of a node of a DAG that cannot fail (`run`): its attempt's, whose `Ok` it
/// unwraps (a spec run with `run` has no failing node).
pub(super) struct Sure<'a>(NodeFuture<'a>);

impl Future for Sure<'_> {
    type Output = Val;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Val> {
        match Pin::new(&mut self.get_mut().0).poll(cx) {
            Poll::Ready(Ok(value)) => Poll::Ready(value),
            Poll::Ready(Err(Failed(index))) => {
                unreachable!("model: node {index} failed in a DAG that cannot fail")
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

std::thread_local! {
    /// Set while the driver polls a run it expects to panic for being poisoned.
    static EXPECTING_CORE_PANIC: Cell<bool> = const { Cell::new(false) };
    /// The node whose future this thread polled last (in the run's current poll).
    static POLLING: Cell<Option<usize>> = const { Cell::new(None) };
    /// The run this thread polls (see [`set_running`]).
    static RUNNING: RefCell<Option<Rc<Control>>> = const { RefCell::new(None) };
}

/// Sets (or clears) the run this thread polls: a fallback value cloned now is its output.
pub(super) fn set_running(control: Option<Rc<Control>>) {
    RUNNING.with_borrow_mut(|running| *running = control);
}

/// The node whose future this thread polled last, since [`set_polling_node`] cleared it.
pub(super) fn polling_node() -> Option<usize> {
    POLLING.with(Cell::get)
}

/// Sets (or clears) the node whose future this thread polls.
pub(super) fn set_polling_node(node: Option<usize>) {
    POLLING.with(|polling| polling.set(node));
}

/// Runs `f` with the core's panics (`dagfut: …`) counted as intended on this thread.
pub(super) fn expecting_core_panic<R>(f: impl FnOnce() -> R) -> R {
    EXPECTING_CORE_PANIC.with(|flag| flag.set(true));
    let result = f();
    EXPECTING_CORE_PANIC.with(|flag| flag.set(false));
    result
}

/// The message of a panic's payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    match payload.downcast_ref::<String>() {
        Some(message) => message.clone(),
        None => payload.downcast_ref::<&str>().map_or_else(
            || "a non-string panic payload".to_string(),
            |s| s.to_string(),
        ),
    }
}

/// Installs (once per process) a panic hook that keeps quiet about the panics the model
/// raises on purpose (`model: …`) and about a poisoned run's panic when the driver expects
/// it, and hands every other panic to the hook that was there before (the default one, or
/// libFuzzer's, which aborts).
pub fn quiet_intended_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = panic_message(info.payload());
            let intended = message.starts_with("model: ")
                || (message.starts_with("dagfut: ") && EXPECTING_CORE_PANIC.with(Cell::get));
            if !intended {
                previous(info);
            }
        }));
    });
}
