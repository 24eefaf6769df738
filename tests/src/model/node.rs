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
use super::{DropPanic, Spec, mix};

/// How a node's last poll ended, as the node saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// It returned `Ready(Ok)` (and its future's drop did not panic).
    Ok,
    /// It returned `Ready(Err)`.
    Err,
    /// It panicked, in its poll or in its future's drop right after `Ready`, with this message.
    Panicked(String),
}

/// What happened to one node in the current run.
#[derive(Clone, Debug, Default)]
pub(super) struct Trace {
    /// The poll of the run in which the node started.
    pub(super) started: Option<u32>,
    /// The poll of the run in which it finished, and how.
    pub(super) finished: Option<(u32, Outcome)>,
    /// The driver woke its current park: its next poll resumes.
    pub(super) resumed: bool,
    /// A clone of the waker of its latest poll.
    pub(super) waker: Option<Waker>,
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
    /// The nodes that failed (`Err` or panic), in the order they did.
    pub(super) failures: RefCell<Vec<usize>>,
    /// The panics the nodes raised since the driver last looked.
    pub(super) raised: RefCell<Vec<Raised>>,
    /// Everything the nodes saw that must not happen.
    pub(super) violations: RefCell<Vec<String>>,
    pub(super) futures_alive: Cell<i64>,
    pub(super) outputs_alive: Cell<i64>,
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
        })
    }

    fn violation(&self, problem: String) {
        self.violations.borrow_mut().push(problem);
    }

    /// Records that `index` finished in the current poll.
    fn finish(&self, index: usize, outcome: Outcome) {
        if !matches!(outcome, Outcome::Ok) {
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

/// A node's output. Its value is boxed, so that reading a dropped one is a use after free
/// that Miri reports.
pub(super) struct Output {
    pub(super) value: Box<u64>,
    index: usize,
    control: Rc<Control>,
}

impl Output {
    fn new(control: &Rc<Control>, index: usize, value: u64) -> Self {
        control.outputs_alive.set(control.outputs_alive.get() + 1);
        control.nodes.borrow_mut()[index].outputs_made += 1;
        Output {
            value: Box::new(value),
            index,
            control: control.clone(),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        let control = &self.control;
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
    inputs: &'a [&'a Val],
}

impl Drop for InputGuard<'_> {
    fn drop(&mut self) {
        let control = &self.control;
        let spec = &control.spec.nodes[self.index];
        for (value, &input) in self.inputs.iter().zip(&spec.inputs) {
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
        control.nodes.borrow_mut()[self.index].future_drops += 1;
        control.futures_alive.set(control.futures_alive.get() - 1);
    }
}

/// Panics when dropped: the future of the node [`DropPanic::Future`] names.
struct DropBomb {
    control: Rc<Control>,
    index: usize,
}

impl Drop for DropBomb {
    fn drop(&mut self) {
        let control = &self.control;
        let message = format!("model: node {}'s future panicked in drop", self.index);
        let finished = control.nodes.borrow()[self.index].finished.clone();
        let site = match finished {
            None => Site::DropCancelled,
            Some((_, Outcome::Panicked(_))) => Site::DropAfterPanic,
            Some((round, outcome)) => {
                // The node panics after all: with `catch_panics` this is its failure.
                if outcome == Outcome::Ok {
                    control.failures.borrow_mut().push(self.index);
                }
                control.nodes.borrow_mut()[self.index].finished =
                    Some((round, Outcome::Panicked(message.clone())));
                Site::DropAfterReady
            }
        };
        control.raise(site, message.clone());
        panic!("{message}");
    }
}

/// A node's future: parks `parks` times, then finishes as its [`NodeSpec`](super::NodeSpec)
/// says.
pub(super) struct NodeFuture<'a> {
    /// Dropped first: reads the inputs, counts the drop.
    guard: InputGuard<'a>,
    parks_done: u8,
    parked: bool,
    /// It returned `Ready` or panicked: it must never be polled again.
    finished: bool,
    /// Dropped last, so that everything else is counted before it panics.
    _bomb: Option<DropBomb>,
}

/// The function of every node: its list starts with the control block and its index.
pub(super) fn node<'a>(list: &'a [&'a Val]) -> NodeFuture<'a> {
    let (Val::Control(control), Val::Index(index)) = (list[0], list[1]) else {
        unreachable!("every node's list starts with the control block and its index");
    };
    let index = *index;
    control.futures_alive.set(control.futures_alive.get() + 1);
    let round = control.round.get();
    if let Some(first) = control.nodes.borrow_mut()[index].started.replace(round) {
        control.violation(format!(
            "node {index} started twice, in polls {first} and {round}"
        ));
    }
    let bomb = control.spec.drop_panic == Some(DropPanic::Future(index));
    NodeFuture {
        guard: InputGuard {
            control: control.clone(),
            index,
            inputs: &list[2..],
        },
        parks_done: 0,
        parked: false,
        finished: false,
        _bomb: bomb.then(|| DropBomb {
            control: control.clone(),
            index,
        }),
    }
}

impl Future for NodeFuture<'_> {
    type Output = Result<Val, Failed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (control, index) = (this.guard.control.clone(), this.guard.index);
        if this.finished {
            control.violation(format!("node {index} was polled after it finished"));
            return Poll::Pending;
        }
        control.nodes.borrow_mut()[index].waker = Some(cx.waker().clone());
        if this.parked {
            if !core::mem::take(&mut control.nodes.borrow_mut()[index].resumed) {
                control.violation(format!("node {index} was polled while parked, unwoken"));
                return Poll::Pending;
            }
            this.parked = false;
            this.parks_done += 1;
        }
        let spec = &control.spec.nodes[index];
        if this.parks_done < spec.parks {
            this.parked = true;
            control
                .parked
                .borrow_mut()
                .push((index, cx.waker().clone()));
            return Poll::Pending;
        }
        // The last poll: wake-then-Ready (or wake-then-panic).
        this.finished = true;
        if spec.wakes_itself {
            cx.waker().wake_by_ref();
        }
        if let Some(pick) = spec.wakes_finished {
            control.wake_finished(pick, index);
        }
        if spec.panics {
            let message = format!("model: node {index} panicked in poll");
            control.finish(index, Outcome::Panicked(message.clone()));
            panic!("{message}");
        }
        if spec.fails {
            control.finish(index, Outcome::Err);
            return Poll::Ready(Err(Failed(index)));
        }
        let inputs: Vec<u64> = this
            .guard
            .inputs
            .iter()
            .map(|value| match value {
                Val::Num(output) => *output.value,
                _ => unreachable!("real inputs are numbers"),
            })
            .collect();
        control.finish(index, Outcome::Ok);
        Poll::Ready(Ok(Val::Num(Output::new(
            &control,
            index,
            mix(index, &inputs),
        ))))
    }
}

std::thread_local! {
    /// Set while the driver polls a run it expects to panic for being poisoned.
    static EXPECTING_CORE_PANIC: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the core's panics (`dagfut: …`) counted as intended on this thread.
pub(super) fn expecting_core_panic<R>(f: impl FnOnce() -> R) -> R {
    EXPECTING_CORE_PANIC.with(|flag| flag.set(true));
    let result = f();
    EXPECTING_CORE_PANIC.with(|flag| flag.set(false));
    result
}

/// The message of a panic's payload.
pub(super) fn panic_message(payload: &(dyn Any + Send)) -> String {
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
