//! Property tests of `dag!` runs (`core/src/fixed.rs`) and their `static` wakers, against a
//! sequential evaluation: the counterpart of `tests/tests/model.rs` for DAGs fixed at compile
//! time.
//!
//! Three shapes (the seed's six nodes with a diamond and a fan-in, a chain of four, five roots
//! into one sink), each declared once by [`shape!`] both as a `dagfut::dag!` and as a
//! hand-built `fixed::Schedule` over an `Edges` of its own (only a hand-built schedule can be
//! polled again after a poll that unwound, which it must refuse). A case runs one to three
//! runs of one shape's site (all `dag!` or all hand-built, so that they share one waker block),
//! up to two at once, each with `try_run` or `run_settled` (`Mode::FailFast` or
//! `Mode::Settle`), and generates:
//!
//! - each node's behaviour: pending 0 to 3 times, each time parking its waker for the driver
//!   or waking itself (by reference, or a clone by value) before `Pending`; waking a parked
//!   sibling's waker at each poll; then ready, failing, panicking in its last poll (after it
//!   parks its waker), or panicking in its future's `Drop`; every future reads its inputs in `Drop` (boxed values:
//!   a use after free under Miri);
//! - the driver's schedule (seeded): which run to poll (only a run whose task was woken, or a
//!   new one, or a hand-built one whose poll unwound), which parked waker to wake, by reference, by value or
//!   from another thread, sometimes twice; wakers kept after their node was polled again or
//!   its run ended, woken later (during later runs of the site: stale wakes); when the next
//!   run starts (interleaved with the one before, the second finds the block claimed and polls
//!   its nodes with its task's waker); runs dropped early; each poll a fresh task waker, of the
//!   run's task or (one in four) its other task; task wakers (`model::Tasks`) that panic at
//!   their nth clone, wake or drop; an observer that panics at its nth node event (hand-built
//!   runs only, which the driver then polls again, later, as it pleases; the same after a
//!   node's panic in its poll).
//!
//! It checks:
//!
//! - outputs: a run that completes gives the sequential evaluation's values (`try_run`: or
//!   the error of a node that fails while its inputs do not; `run_settled`: every such error,
//!   and values only for nodes none of whose ancestors failed);
//! - drops: every node future that started and every output is dropped exactly once, none
//!   after an output it reads;
//! - no lost wake: once a run's poll returned `Pending`, a normal wake of the waker a node
//!   parked wakes the run's latest task (unless that task's waker panicked since the poll and
//!   no wake of the run's returned normally since: the lost wake is owed to the next one); a
//!   poll that returns `Pending` with a node woken and not polled since has woken its task;
//!   the driver never finds every run pending with no task woken and no node parked ("the run
//!   is pending, nothing is left to wake: a lost wake");
//! - no spurious poll: a node is polled again only with its run's task waker (the run shares
//!   the block), or after a wake of a block waker of its position since the run's poll before
//!   (its own, or a stale one of another run of the site: the documented cost), or once, in
//!   the poll in which its run claims the block (until its first poll that returns);
//! - poisoning: a hand-built schedule polled again after a poll of it panicked refuses, with
//!   a panic that says so, before it touches anything; then it is dropped (and the drops are
//!   checked as above);
//! - panics: each panic the test arms (a node's, the observer's, a task waker's) comes out of
//!   the one driver call (poll, wake, drop) in which it was raised, with its message, and no
//!   call panics otherwise; once its runs are gone, nothing holds a task waker of theirs.
//!
//! The driver polls every run on one thread: the order in which a run's end releases the
//! block and takes its task's waker out matters only to another thread's poll, which the loom
//! models check (`core/tests/loom.rs`), not this test.
//!
//! ```text
//! cargo test -p dagfut-tests --test fixed_model
//! PROPTEST_CASES=5000 cargo test --release -p dagfut-tests --test fixed_model
//! MIRIFLAGS="-Zmiri-strict-provenance" cargo +nightly miri test -p dagfut-tests --test fixed_model
//! ```

mod common;

use std::cell::RefCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use common::config;
use dagfut::fixed::{
    Block, Cons, Control, Edges, Failed, Fallible, Graph, Mode, Nil, OutputCell, Schedule, Source,
    Step, Wakers,
};
use dagfut::{NodeEvent, Observer};
use dagfut_tests::model::{
    self, Delivery, Schedule as _, Seeded, Tasks, WakerOp, WakerPanic, panic_message,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// What a case is made of.

/// How a node ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Ok,
    /// Returns `Err`.
    Err,
    /// Its last poll parks its waker and panics (the run's poll unwinds).
    PanicPoll,
    /// Ready, but its future's `Drop` panics (wherever it is dropped).
    PanicDrop,
}

/// What a node does at each poll that returns `Pending`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Park {
    /// Leaves a clone of its waker for the driver.
    Driver,
    /// Wakes its waker by reference.
    SelfByRef,
    /// Wakes a clone of its waker by value.
    SelfByValue,
}

#[derive(Clone, Copy, Debug)]
struct Behaviour {
    /// How many polls return `Pending` before the last one.
    pends: u8,
    park: Park,
    /// Wakes a parked sibling's waker at each poll.
    sibling: bool,
    end: End,
}

#[derive(Clone, Debug)]
struct RunPlan {
    /// One per node of the shape (the first ones, for smaller shapes).
    nodes: Vec<Behaviour>,
    /// The observer panics at its nth node event (hand-built runs only).
    observer_panic: Option<u32>,
    /// The run's task wakers panic at this call.
    waker_panic: Option<WakerPanic>,
    /// The driver drops the run after this many polls, if it has not ended.
    drop_after: Option<u32>,
}

#[derive(Clone, Debug)]
struct Case {
    hand_built: bool,
    mode: Mode,
    runs: Vec<RunPlan>,
    seed: u64,
    threads: bool,
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    (0u8..=3, 0u8..8, prop::bool::weighted(0.2), 0u8..100).prop_map(
        |(pends, park, sibling, end)| Behaviour {
            pends,
            park: match park {
                0 => Park::SelfByRef,
                1 => Park::SelfByValue,
                _ => Park::Driver,
            },
            sibling,
            end: match end {
                0..=6 => End::Err,
                7..=10 => End::PanicPoll,
                11..=13 => End::PanicDrop,
                _ => End::Ok,
            },
        },
    )
}

fn run_plan() -> impl Strategy<Value = RunPlan> {
    (
        prop::collection::vec(behaviour(), 6),
        prop::option::weighted(0.35, 2u32..=10),
        prop::option::weighted(0.25, common::waker_panic()),
        prop::option::weighted(0.15, 0u32..6),
    )
        .prop_map(|(nodes, observer_panic, waker_panic, drop_after)| RunPlan {
            nodes,
            observer_panic,
            waker_panic,
            drop_after,
        })
}

/// A case: one to three runs (two or three in three cases of four), half of them hand-built.
/// Two panics at once abort, so a run has at most one future whose `Drop` panics, and a case
/// with one has no task waker that panics; one run of a case at most has a task waker that
/// panics.
fn case() -> impl Strategy<Value = Case> {
    let runs = prop_oneof![1 => prop::collection::vec(run_plan(), 1), 3 => prop::collection::vec(run_plan(), 2..=3)];
    (
        any::<bool>(),
        any::<bool>(),
        runs,
        any::<u64>(),
        prop::bool::weighted(0.25),
    )
        .prop_map(|(hand_built, settle, mut runs, seed, threads)| {
            let mut drop_panic = false;
            for run in &mut runs {
                let mut seen = false;
                for node in &mut run.nodes {
                    if node.end == End::PanicDrop && std::mem::replace(&mut seen, true) {
                        node.end = End::Ok;
                    }
                }
                drop_panic |= seen;
                if !hand_built {
                    run.observer_panic = None;
                }
            }
            let mut armed = drop_panic;
            for run in &mut runs {
                if armed {
                    run.waker_panic = None;
                }
                armed |= run.waker_panic.is_some();
                // A `dag!` run's poll that unwinds drops the run's nodes and its claim of the
                // block as it goes (an async block does): a second panic there would abort.
                let dropping = run.nodes.iter().any(|node| node.end == End::PanicDrop)
                    || run
                        .waker_panic
                        .is_some_and(|armed| armed.op == WakerOp::Drop);
                if !hand_built && dropping {
                    for node in &mut run.nodes {
                        if node.end == End::PanicPoll {
                            node.end = End::Ok;
                        }
                    }
                }
            }
            Case {
                hand_built,
                mode: if settle { Mode::Settle } else { Mode::FailFast },
                runs,
                seed,
                threads,
            }
        })
}

// ---------------------------------------------------------------------------------------------
// The state the nodes share with the driver.

/// The error of a failing node: its position.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fail(usize);

/// What happened to one node of a run.
#[derive(Debug, Default)]
struct NodeState {
    started: bool,
    polls: u32,
    future_drops: u32,
    outputs_made: u32,
    output_drops: u32,
    /// Its value, once it returned it.
    value: Option<u64>,
    /// A wake of a block waker of its position came before the run's current poll and after
    /// the one before (its poll may consume it).
    carry: bool,
    /// Such a wake came during or after the run's current poll.
    fresh: bool,
    /// Its one poll without a wake, in the poll in which the run claims the block, was used.
    grace_used: bool,
    /// The waker it parked in its latest poll was woken (or it woke itself), and it was not
    /// polled since.
    owed: bool,
}

#[derive(Debug, Default)]
struct RunState {
    nodes: Vec<NodeState>,
    alive: bool,
    /// The run's polls so far.
    round: u32,
    /// A poll of the run returned (did not unwind): the run claimed the block by then, or
    /// shares it.
    returned: bool,
}

/// Where a panic the test raised on purpose was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Site {
    NodePoll,
    NodeDrop,
    Observer,
    TaskWaker,
}

/// A waker a node left: of run `run`'s node `node`; `block`: one of the `static` block's (not
/// a task waker, which a run that shares the block gives its nodes).
struct Parked {
    run: usize,
    node: usize,
    waker: Waker,
    block: bool,
}

/// What the nodes of a case's runs share with the driver.
#[derive(Default)]
struct Shared {
    runs: RefCell<Vec<RunState>>,
    /// The wakers the nodes parked in their latest poll.
    parked: RefCell<Vec<Parked>>,
    /// Older ones, kept for stale wakes.
    kept: RefCell<Vec<Parked>>,
    /// The panics raised on purpose in the driver's current call.
    raised: RefCell<Vec<(Site, String)>>,
    violations: RefCell<Vec<String>>,
    /// The nodes' choices (which sibling, whether to keep an old waker).
    choices: RefCell<Option<Seeded>>,
}

impl Shared {
    fn violation(&self, problem: String) {
        self.violations.borrow_mut().push(problem);
    }

    fn raise(&self, site: Site, message: String) -> String {
        self.raised.borrow_mut().push((site, message.clone()));
        message
    }

    fn choose(&self, count: usize) -> usize {
        self.choices
            .borrow_mut()
            .as_mut()
            .map_or(0, |c| c.pick(count))
    }

    /// A wake of a waker of run `run`'s node `node` is coming: a block waker's sets the bit of
    /// its position, which any run of the site may consume (credited to each); `current`: the
    /// waker the node parked in its latest poll, which the run owes a poll.
    fn credit(&self, run: usize, node: usize, block: bool, current: bool) {
        let mut runs = self.runs.borrow_mut();
        if block {
            for state in runs.iter_mut().filter(|state| state.alive) {
                if let Some(node) = state.nodes.get_mut(node) {
                    node.fresh = true;
                }
            }
        }
        if current {
            runs[run].nodes[node].owed = true;
        }
    }

    /// Takes the waker run `run`'s node `node` parked (if it did): kept, or dropped.
    fn unpark(&self, run: usize, node: usize) {
        let mut parked = self.parked.borrow_mut();
        let Some(at) = parked.iter().position(|p| p.run == run && p.node == node) else {
            return;
        };
        let old = parked.swap_remove(at);
        drop(parked);
        self.keep_or_drop(old);
    }

    fn keep_or_drop(&self, old: Parked) {
        let mut kept = self.kept.borrow_mut();
        if self.choose(2) == 0 {
            if kept.len() >= 6 {
                let oldest = kept.remove(0);
                drop(kept);
                drop(oldest);
                kept = self.kept.borrow_mut();
            }
            kept.push(old);
        } else {
            drop(kept);
            drop(old);
        }
    }

    /// Node `node` of `run` is polled with `waker`: checks that the poll is due.
    fn polled(&self, run: &RunCtx, node: usize, waker: &Waker) {
        self.unpark(run.id, node);
        let shares = run.tasks.owns(waker);
        let mut runs = self.runs.borrow_mut();
        let state = &mut runs[run.id];
        let (round, returned) = (state.round, state.returned);
        let trace = &mut state.nodes[node];
        trace.owed = false;
        trace.polls += 1;
        if trace.polls == 1 || shares {
            return;
        }
        if std::mem::take(&mut trace.carry) {
            return;
        }
        if !returned && !std::mem::replace(&mut trace.grace_used, true) {
            return;
        }
        drop(runs);
        self.violation(format!(
            "run {}'s node {node} was polled again in the run's poll {round} with no wake of \
             a waker of its position since the poll before",
            run.id
        ));
    }

    /// A node of `run` wakes a parked sibling's waker.
    fn wake_sibling(&self, run: usize, me: usize) {
        let mut parked = self.parked.borrow_mut();
        let siblings: Vec<usize> = (0..parked.len())
            .filter(|&at| parked[at].run == run && parked[at].node != me)
            .collect();
        if siblings.is_empty() {
            return;
        }
        let pick = siblings[self.choose(siblings.len())];
        let sibling = parked.swap_remove(pick);
        drop(parked);
        self.credit(run, sibling.node, sibling.block, true);
        if self.choose(2) == 0 {
            sibling.waker.wake_by_ref();
        } else {
            sibling.waker.wake();
        }
    }
}

/// One run of a case: its plan, its task wakers, its output cells (hand-built runs).
struct RunCtx {
    id: usize,
    param: u64,
    plan: RunPlan,
    hand_built: bool,
    mode: Mode,
    inputs: &'static [&'static [u8]],
    shared: Rc<Shared>,
    tasks: Tasks,
    cells: [OutputCell<Out>; 6],
}

/// A node's output: boxed, so that reading a dropped one is a use after free under Miri.
struct Out {
    value: Box<u64>,
    run: usize,
    node: usize,
    shared: Rc<Shared>,
}

impl Drop for Out {
    fn drop(&mut self) {
        self.shared.runs.borrow_mut()[self.run].nodes[self.node].output_drops += 1;
    }
}

/// The value of node `index` of a run with parameter `param`, from its inputs' values.
fn mix(param: u64, index: usize, inputs: impl Iterator<Item = u64>) -> u64 {
    inputs.fold(param.wrapping_mul(31) ^ index as u64, |h, v| {
        h.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ v
    })
}

/// A node's future.
struct NodeFut<'a> {
    run: &'a RunCtx,
    index: usize,
    inputs: Vec<&'a Out>,
    value: u64,
    polls: u32,
    done: bool,
}

/// Starts node `index` of `run` with `inputs`.
fn node<'a>(run: &'a RunCtx, index: usize, inputs: Vec<&'a Out>) -> NodeFut<'a> {
    let shared = &run.shared;
    let wanted = run.inputs[index];
    if inputs.len() != wanted.len()
        || inputs
            .iter()
            .zip(wanted)
            .any(|(input, &w)| input.node != usize::from(w) || input.run != run.id)
    {
        shared.violation(format!(
            "run {}'s node {index} got the wrong inputs",
            run.id
        ));
    }
    let trace = &mut shared.runs.borrow_mut()[run.id].nodes[index];
    if std::mem::replace(&mut trace.started, true) {
        shared.violation(format!("run {}'s node {index} started twice", run.id));
    }
    NodeFut {
        run,
        index,
        value: mix(run.param, index, inputs.iter().map(|input| *input.value)),
        inputs,
        polls: 0,
        done: false,
    }
}

impl NodeFut<'_> {
    fn park(&self, waker: &Waker) {
        let block = !self.run.tasks.owns(waker);
        self.run.shared.parked.borrow_mut().push(Parked {
            run: self.run.id,
            node: self.index,
            waker: waker.clone(),
            block,
        });
    }
}

impl Future for NodeFut<'_> {
    type Output = Result<Out, Fail>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Out, Fail>> {
        let (run, index) = (self.run, self.index);
        let shared = &run.shared;
        let behaviour = run.plan.nodes[index];
        if self.done {
            shared.violation(format!("run {}'s node {index} polled after Ready", run.id));
        }
        shared.polled(run, index, cx.waker());
        if behaviour.sibling {
            shared.wake_sibling(run.id, index);
        }
        self.polls += 1;
        if self.polls <= u32::from(behaviour.pends) {
            let block = !run.tasks.owns(cx.waker());
            match behaviour.park {
                Park::Driver => self.park(cx.waker()),
                Park::SelfByRef => {
                    shared.credit(run.id, index, block, true);
                    cx.waker().wake_by_ref();
                }
                Park::SelfByValue => {
                    shared.credit(run.id, index, block, true);
                    // A clone woken by value: the waker's other path, on purpose.
                    #[allow(clippy::waker_clone_wake)]
                    cx.waker().clone().wake();
                }
            }
            return Poll::Pending;
        }
        if behaviour.end == End::PanicPoll {
            self.park(cx.waker());
            let message = format!("model: run {}'s node {index} panics in its poll", run.id);
            panic!("{}", shared.raise(Site::NodePoll, message));
        }
        self.done = true;
        if behaviour.end == End::Err {
            return Poll::Ready(Err(Fail(index)));
        }
        let mut runs = shared.runs.borrow_mut();
        let trace = &mut runs[run.id].nodes[index];
        trace.outputs_made += 1;
        trace.value = Some(self.value);
        drop(runs);
        Poll::Ready(Ok(Out {
            value: Box::new(self.value),
            run: run.id,
            node: index,
            shared: shared.clone(),
        }))
    }
}

impl Drop for NodeFut<'_> {
    fn drop(&mut self) {
        let (run, index) = (self.run, self.index);
        let shared = &run.shared;
        let mut runs = shared.runs.borrow_mut();
        for input in &self.inputs {
            // The read itself: a use after free under Miri if the output was dropped.
            std::hint::black_box(*input.value);
            if runs[run.id].nodes[input.node].output_drops > 0 {
                shared.violation(format!(
                    "run {}'s node {index}'s future was dropped after its input {}'s output",
                    run.id, input.node
                ));
            }
        }
        runs[run.id].nodes[index].future_drops += 1;
        drop(runs);
        if run.plan.nodes[index].end == End::PanicDrop {
            let message = format!(
                "model: run {}'s node {index}'s future panics in drop",
                run.id
            );
            panic!("{}", shared.raise(Site::NodeDrop, message));
        }
    }
}

/// An observer that panics at its nth node event (but a failure) of its run.
struct PanicObserver {
    run: usize,
    nth: Option<u32>,
    events: u32,
    shared: Rc<Shared>,
}

impl Observer for PanicObserver {
    fn on_event(&mut self, _task: usize, _event: NodeEvent) {
        self.events += 1;
        if self.nth == Some(self.events) {
            let message = format!("model: run {}'s observer panics", self.run);
            panic!("{}", self.shared.raise(Site::Observer, message));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The shapes, each a `dag!` and a hand-built schedule.

/// How a run ended: the failure that stopped it, each node's value (none if it failed fast),
/// each node's error.
#[derive(Debug, PartialEq, Eq)]
struct Ended {
    failed: Option<(usize, &'static str, Fail)>,
    values: Option<Vec<Option<u64>>>,
    errors: Vec<Option<Fail>>,
}

impl Ended {
    fn failed(failed: Option<Failed<Fail>>) -> Option<(usize, &'static str, Fail)> {
        failed.map(|f| (f.index, f.node, f.error))
    }

    /// A `try_run`'s result.
    fn tried(result: Result<Vec<Out>, Failed<Fail>>, count: usize) -> Self {
        match result {
            Ok(outs) => Ended {
                failed: None,
                values: Some(outs.iter().map(|out| Some(*out.value)).collect()),
                errors: (0..count).map(|_| None).collect(),
            },
            Err(failed) => Ended {
                failed: Ended::failed(Some(failed)),
                values: None,
                errors: (0..count).map(|_| None).collect(),
            },
        }
    }

    /// A `run_settled`'s report.
    fn settled(
        outs: Vec<Option<Out>>,
        failed: Option<Failed<Fail>>,
        errors: Vec<Option<Fail>>,
    ) -> Self {
        Ended {
            failed: Ended::failed(failed),
            values: Some(
                outs.iter()
                    .map(|out| out.as_ref().map(|out| *out.value))
                    .collect(),
            ),
            errors,
        }
    }

    /// A hand-built schedule's output; the values are in the run's cells.
    fn hand_built(run: &RunCtx, failed: Option<Failed<Fail>>, errors: Vec<Option<Fail>>) -> Self {
        let values = failed.is_none().then(|| {
            let runs = run.shared.runs.borrow();
            (0..errors.len())
                .map(|i| {
                    runs[run.id].nodes[i]
                        .value
                        .map(|_| *Source::value(&run.cells[i]).value)
                })
                .collect()
        });
        Ended {
            failed: Ended::failed(failed),
            values,
            errors,
        }
    }
}

type BoxRun<'a> = Pin<Box<dyn Future<Output = Ended> + 'a>>;

/// Node `index` of a hand-built run, reading `inputs` from the run's cells.
#[allow(clippy::type_complexity)]
fn step<'a>(
    run: &'a RunCtx,
    index: usize,
    inputs: &'static [u8],
) -> Step<'a, Out, impl FnOnce() -> NodeFut<'a> + 'a, NodeFut<'a>, Fallible> {
    Step::new(&run.cells[index], move || {
        let values = inputs
            .iter()
            .map(|&i| Source::value(&run.cells[usize::from(i)]))
            .collect();
        node(run, index, values)
    })
}

macro_rules! cons {
    () => { Nil };
    ($first:expr $(, $rest:expr)*) => { Cons::new($first, cons!($($rest),*)) };
}

/// A shape: `$edges` (its graph, names and block, for hand-built runs) and `$make`, which
/// makes a run of it: a `dag!` (one site) or a hand-built schedule, as the run says.
macro_rules! shape {
    ($make:ident, $edges:ident, $n:literal, $($name:ident = $idx:literal ($($input:ident),*)),+) => {
        struct $edges;

        impl $edges {
            const INPUTS: [&'static [u8]; $n] = {
                $(#[allow(non_upper_case_globals, dead_code)] const $name: u8 = $idx;)+
                [$(&[$($input),*]),+]
            };
            const NAMES: [&'static str; $n] = [$(stringify!($name)),+];
        }

        impl Edges<$n> for $edges {
            const GRAPH: &'static Graph<$n> = &Graph::new(Self::NAMES, Self::INPUTS);
            fn wakers() -> &'static Wakers<$n> {
                static BLOCK: Block<$n> = Block::new();
                BLOCK.get()
            }
        }

        fn $make<'a>(run: &'a RunCtx, observer: Option<&'a mut PanicObserver>) -> BoxRun<'a> {
            if run.hand_built {
                let steps = cons!($(step(run, $idx, $edges::INPUTS[$idx])),+);
                let control = Control {
                    mode: run.mode,
                    observer: observer.map(|o| o as &mut dyn Observer),
                };
                // Kept until the driver drops the run (a `map` would drop it inside the poll
                // that returns `Ready`, mixing its drop's panics into that poll's).
                let mut schedule = Box::pin(Schedule::<_, $edges, Fail, $n>::new(steps, control));
                return Box::pin(std::future::poll_fn(move |cx| {
                    schedule
                        .as_mut()
                        .poll(cx)
                        .map(|(failed, errors)| Ended::hand_built(run, failed, errors.into()))
                }));
            }
            Box::pin(async move {
                let dag = dagfut::dag! {
                    async |run: &RunCtx| -> ($($name),+) or Fail {
                        $($name(run $(, $input)*) = try node(run, $idx, vec![$($input),*]);)+
                    }
                };
                match run.mode {
                    Mode::FailFast => Ended::tried(
                        dag.try_run(run).await.map(|($($name,)+)| vec![$($name),+]),
                        $n,
                    ),
                    Mode::Settle => {
                        let report = dag.run_settled(run).await;
                        let ($($name,)+) = report.outputs;
                        Ended::settled(vec![$($name),+], report.failed, report.errors.into())
                    }
                }
            })
        }
    };
}

shape!(
    seed_run,
    SeedShape,
    6,
    fast_a = 0(),
    slow_b = 1(fast_a),
    slow_a = 2(),
    fast_b = 3(),
    fast_c = 4(slow_a, fast_b),
    end = 5(fast_c, slow_b)
);
shape!(
    chain_run,
    ChainShape,
    4,
    a = 0(),
    b = 1(a),
    c = 2(b),
    d = 3(c)
);
shape!(
    fan_run,
    FanShape,
    6,
    r0 = 0(),
    r1 = 1(),
    r2 = 2(),
    r3 = 3(),
    r4 = 4(),
    sink = 5(r0, r1, r2, r3, r4)
);

// ---------------------------------------------------------------------------------------------
// The reference.

/// What a run that completes must give.
fn expected(run: &RunCtx, names: &[&'static str]) -> Result<Ended, Vec<usize>> {
    let n = names.len();
    let mut values: Vec<Option<u64>> = Vec::with_capacity(n);
    let mut failing = Vec::new();
    let mut errors = Vec::with_capacity(n);
    for i in 0..n {
        let inputs: Option<Vec<u64>> = run.inputs[i]
            .iter()
            .map(|&input| values[usize::from(input)])
            .collect();
        let fails = inputs.is_some() && run.plan.nodes[i].end == End::Err;
        if fails {
            failing.push(i);
        }
        errors.push(fails.then_some(Fail(i)));
        values.push(
            inputs
                .filter(|_| !fails)
                .map(|inputs| mix(run.param, i, inputs.into_iter())),
        );
    }
    match run.mode {
        Mode::FailFast if !failing.is_empty() => Err(failing),
        Mode::FailFast => Ok(Ended {
            failed: None,
            values: Some(values),
            errors: (0..n).map(|_| None).collect(),
        }),
        Mode::Settle => Ok(Ended {
            failed: None,
            values: Some(values),
            errors,
        }),
    }
}

/// Checks a completed run's result against the reference.
fn check_result(run: &RunCtx, names: &[&'static str], ended: &Ended) -> Result<(), String> {
    match expected(run, names) {
        Ok(want) if *ended == want => Ok(()),
        Err(failing) => match &ended.failed {
            Some((index, name, Fail(error)))
                if failing.contains(index) && names[*index] == *name && error == index =>
            {
                Ok(())
            }
            _ => Err(format!(
                "run {} ended {ended:?}; one of the nodes {failing:?} had to fail it",
                run.id
            )),
        },
        Ok(want) => Err(format!(
            "run {} ended {ended:?}; the reference says {want:?}",
            run.id
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The driver.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Made, never polled.
    New,
    /// Its last poll returned `Pending`.
    Waiting,
    /// Its last poll unwound (a hand-built run): polled again, it must refuse with a clear
    /// panic; the driver then drops it.
    Poisoned,
    Done,
}

/// One run of a case, as the driver holds it.
struct Slot<'a> {
    future: Option<BoxRun<'a>>,
    status: Status,
    /// Which of its two tasks' wakers its latest poll was given.
    task: usize,
    /// That task's wakes when its latest poll started.
    wakes_at_poll: usize,
    polls: u32,
    /// Its task waker's armed panic came since its latest poll (a wake may be lost).
    lost: bool,
    /// A wake of one of its nodes returned normally since: the lost one was owed to it.
    woke_after_loss: bool,
}

/// What the driver may do next.
#[derive(Clone, Copy, Debug)]
enum Action {
    Start,
    Poll(usize),
    Wake,
    WakeKept,
}

/// The most steps a case may take: far more than any case needs.
const MAX_STEPS: usize = 2000;

struct Driver<'a> {
    ctxs: &'a [RunCtx],
    names: &'static [&'static str],
    shared: Rc<Shared>,
    make: fn(&'a RunCtx, Option<&'a mut PanicObserver>) -> BoxRun<'a>,
    observers: std::slice::IterMut<'a, PanicObserver>,
    slots: Vec<Slot<'a>>,
    choices: Seeded,
}

/// What a driver call caught: a panic raised on purpose, from where.
struct Caught(Site);

impl<'a> Driver<'a> {
    /// Runs `call` (a poll, a wake, a drop): it must panic exactly if a panic was raised on
    /// purpose in it, with that panic.
    fn call<R>(&self, what: &str, call: impl FnOnce() -> R) -> Result<Result<R, Caught>, String> {
        self.shared.raised.borrow_mut().clear();
        let fired: Vec<bool> = self.ctxs.iter().map(|ctx| ctx.tasks.fired()).collect();
        let result = catch_unwind(AssertUnwindSafe(call));
        let mut raised: Vec<(Site, String)> = self.shared.raised.borrow_mut().drain(..).collect();
        for (ctx, fired) in self.ctxs.iter().zip(fired) {
            if !fired && ctx.tasks.fired() {
                raised.push((Site::TaskWaker, ctx.tasks.armed_message().unwrap()));
            }
        }
        if let Some(first) = self.shared.violations.borrow().first() {
            return Err(format!("{what}: {first}"));
        }
        match (result, raised.as_slice()) {
            (Ok(result), []) => Ok(Ok(result)),
            (Err(payload), [(site, message)]) if panic_message(&*payload) == *message => {
                Ok(Err(Caught(*site)))
            }
            (Ok(_), raised) => Err(format!(
                "{what} returned, but {raised:?} had to come out of it"
            )),
            (Err(payload), raised) => Err(format!(
                "{what} panicked with {:?}; expected {raised:?}",
                panic_message(&*payload)
            )),
        }
    }

    /// Marks the runs whose task waker's armed panic came in the last call.
    fn note_losses(&mut self, before: &[bool]) {
        for (slot, (ctx, before)) in self.slots.iter_mut().zip(self.ctxs.iter().zip(before)) {
            if !before && ctx.tasks.fired() {
                slot.lost = true;
            }
        }
    }

    fn fired(&self) -> Vec<bool> {
        self.ctxs.iter().map(|ctx| ctx.tasks.fired()).collect()
    }

    fn woken(&self, r: usize) -> bool {
        let slot = &self.slots[r];
        self.ctxs[r].tasks.wakes(slot.task) > slot.wakes_at_poll
    }

    fn alive(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.slots.len()).filter(|&r| self.slots[r].status != Status::Done)
    }

    fn run(&mut self) -> Result<(), String> {
        for _ in 0..MAX_STEPS {
            let alive: Vec<usize> = self.alive().collect();
            let more = self.slots.len() < self.ctxs.len();
            if alive.is_empty() && !more {
                return Ok(());
            }
            let mut actions = Vec::new();
            if more && alive.len() < 2 {
                actions.push(Action::Start);
            }
            for &r in &alive {
                let slot = &self.slots[r];
                let due = match slot.status {
                    Status::New | Status::Poisoned => true,
                    // A run whose task waker's panic lost a wake that no wake made up for
                    // sleeps: whoever caught the panic polls it again.
                    Status::Waiting => self.woken(r) || (slot.lost && !slot.woke_after_loss),
                    Status::Done => false,
                };
                if due {
                    actions.extend([Action::Poll(r); 3]);
                }
            }
            let parked = self
                .shared
                .parked
                .borrow()
                .iter()
                .filter(|p| alive.contains(&p.run))
                .count();
            if actions.is_empty() && parked == 0 {
                return Err("the run is pending, nothing is left to wake: a lost wake".to_string());
            }
            if parked > 0 {
                actions.extend([Action::Wake; 2]);
            }
            if !self.shared.kept.borrow().is_empty() {
                actions.push(Action::WakeKept);
            }
            match actions[self.choices.pick(actions.len())] {
                Action::Start => self.start(),
                Action::Poll(r) => self.poll(r)?,
                Action::Wake => self.wake_parked()?,
                Action::WakeKept => self.wake_kept()?,
            }
        }
        Err(format!("the runs did not end in {MAX_STEPS} steps"))
    }

    /// Polls run `r`, whose last poll unwound: the poll must panic, saying why, and touch
    /// nothing (no node polled, no waker cloned or woken); then the run is dropped.
    fn poll_poisoned(&mut self, r: usize) -> Result<(), String> {
        let waker = self.ctxs[r].tasks.waker(self.slots[r].task);
        let mut future = self.slots[r]
            .future
            .take()
            .expect("a live run has its future");
        let what = format!("run {r}, polled again after a poll of it panicked");
        let refused = self.call(&what, || {
            catch_unwind(AssertUnwindSafe(|| {
                let _ = future.as_mut().poll(&mut Context::from_waker(&waker));
            }))
        })?;
        self.slots[r].future = Some(future);
        let refusal = match refused {
            Ok(Err(payload)) => panic_message(&*payload),
            Ok(Ok(())) => return Err(format!("{what}: the poll returned")),
            Err(Caught(site)) => return Err(format!("{what}: a panic came from {site:?}")),
        };
        if !refusal.contains("polled again after an earlier poll of it panicked") {
            return Err(format!("{what}: it panicked with {refusal:?}"));
        }
        self.end(r)
    }

    fn start(&mut self) {
        let r = self.slots.len();
        let ctx = &self.ctxs[r];
        self.shared.runs.borrow_mut()[r].alive = true;
        let observer = self.observers.next().filter(|_| ctx.hand_built);
        let future = (self.make)(ctx, observer);
        self.slots.push(Slot {
            future: Some(future),
            status: Status::New,
            task: 0,
            wakes_at_poll: 0,
            polls: 0,
            lost: false,
            woke_after_loss: false,
        });
    }

    fn poll(&mut self, r: usize) -> Result<(), String> {
        let ctx = &self.ctxs[r];
        if self.slots[r].status == Status::Poisoned {
            return self.poll_poisoned(r);
        }
        if ctx.plan.drop_after == Some(self.slots[r].polls) {
            return self.end(r);
        }
        let slot = &mut self.slots[r];
        if slot.polls > 0 && self.choices.switch_parent() {
            slot.task ^= 1;
        }
        slot.polls += 1;
        slot.wakes_at_poll = ctx.tasks.wakes(slot.task);
        slot.lost = false;
        slot.woke_after_loss = false;
        {
            let mut runs = self.shared.runs.borrow_mut();
            let state = &mut runs[r];
            state.round += 1;
            for node in &mut state.nodes {
                node.carry |= std::mem::take(&mut node.fresh);
            }
        }
        let waker = ctx.tasks.waker(slot.task);
        let mut future = slot.future.take().expect("a live run has its future");
        let what = format!("poll {} of run {r}", slot.polls);
        let before = self.fired();
        let polled = self.call(&what, || {
            future.as_mut().poll(&mut Context::from_waker(&waker))
        })?;
        self.note_losses(&before);
        self.slots[r].future = Some(future);
        match polled {
            Ok(Poll::Ready(ended)) => {
                self.shared.runs.borrow_mut()[r].returned = true;
                check_result(ctx, self.names, &ended)?;
                self.end(r)
            }
            Ok(Poll::Pending) => {
                self.shared.runs.borrow_mut()[r].returned = true;
                self.slots[r].status = Status::Waiting;
                let owed = self.shared.runs.borrow()[r]
                    .nodes
                    .iter()
                    .position(|node| node.owed);
                if let Some(node) = owed {
                    if !self.woken(r) {
                        return Err(format!(
                            "poll {} of run {r} returned Pending with its node {node} woken \
                             and not polled since, and did not wake its task: a lost wake",
                            self.slots[r].polls
                        ));
                    }
                }
                Ok(())
            }
            // Any panic of a hand-built run's poll comes out of the schedule's poll (which
            // keeps the schedule), and poisons it.
            Err(Caught(_)) if ctx.hand_built => {
                self.slots[r].status = Status::Poisoned;
                Ok(())
            }
            Err(Caught(_)) => self.end(r),
        }
    }

    /// Ends run `r`: drops its future (checked), lets go of its nodes' wakers (kept or
    /// dropped).
    fn end(&mut self, r: usize) -> Result<(), String> {
        let future = self.slots[r].future.take();
        self.slots[r].status = Status::Done;
        let before = self.fired();
        let _ = self.call(&format!("the drop of run {r}"), move || drop(future))?;
        self.note_losses(&before);
        self.shared.runs.borrow_mut()[r].alive = false;
        let own: Vec<Parked> = {
            let mut parked = self.shared.parked.borrow_mut();
            let (own, others) = std::mem::take(&mut *parked)
                .into_iter()
                .partition(|p| p.run == r);
            *parked = others;
            own
        };
        for old in own {
            let _ = self.call("letting go of a node's waker", || {
                self.shared.keep_or_drop(old)
            })?;
        }
        Ok(())
    }

    /// Wakes a parked node's waker (maybe twice), which must wake its run's task.
    fn wake_parked(&mut self) -> Result<(), String> {
        let alive: Vec<usize> = self.alive().collect();
        let record = {
            let mut parked = self.shared.parked.borrow_mut();
            let candidates: Vec<usize> = (0..parked.len())
                .filter(|&at| alive.contains(&parked[at].run))
                .collect();
            parked.swap_remove(candidates[self.choices.pick(candidates.len())])
        };
        let (r, node) = (record.run, record.node);
        self.shared.credit(r, node, record.block, true);
        let twice = self.choices.twice();
        let delivery = self.choices.delivery();
        let before = self.fired();
        let mut normal = true;
        if twice {
            let by_ref = self.call(&format!("a wake of run {r}'s node {node}"), || {
                record.waker.wake_by_ref()
            })?;
            normal &= by_ref.is_ok();
        }
        let woke = self.call(&format!("a wake of run {r}'s node {node}"), || {
            deliver(record.waker, delivery)
        })?;
        normal &= woke.is_ok();
        self.note_losses(&before);
        let woken = self.woken(r);
        let slot = &mut self.slots[r];
        if slot.status != Status::Waiting {
            return Ok(());
        }
        if normal {
            slot.woke_after_loss |= slot.lost;
        }
        if normal && (!slot.lost || slot.woke_after_loss) && !woken {
            return Err(format!(
                "waking run {r}'s node {node} after the run's poll {} left the run asleep: a \
                 lost wake",
                slot.polls
            ));
        }
        Ok(())
    }

    /// Wakes a kept waker (of a node polled since, or of an ended run): a stale wake. Half
    /// of them are kept for more (woken by reference).
    fn wake_kept(&mut self) -> Result<(), String> {
        let at = self.choices.pick(self.shared.kept.borrow().len());
        let keep = self.choices.pick(2) == 0;
        let delivery = self.choices.delivery();
        let (run, node, block) = {
            let kept = self.shared.kept.borrow();
            (kept[at].run, kept[at].node, kept[at].block)
        };
        self.shared.credit(run, node, block, false);
        let before = self.fired();
        let _ = if keep {
            self.call("a stale wake", || {
                let kept = self.shared.kept.borrow();
                kept[at].waker.wake_by_ref();
            })?
        } else {
            let record = self.shared.kept.borrow_mut().swap_remove(at);
            self.call("a stale wake", || deliver(record.waker, delivery))?
        };
        self.note_losses(&before);
        Ok(())
    }
}

/// Wakes `waker` as `delivery` says.
fn deliver(waker: Waker, delivery: Delivery) {
    match delivery {
        Delivery::ByRef => waker.wake_by_ref(),
        Delivery::ByValue => waker.wake(),
        Delivery::FromThread => std::thread::scope(|s| {
            if let Err(payload) = s.spawn(move || waker.wake()).join() {
                resume_unwind(payload);
            }
        }),
    }
}

/// Runs `case` on a shape: `make` makes its runs, `inputs` and `names` are its graph.
fn check_case(
    case: &Case,
    make: for<'a> fn(&'a RunCtx, Option<&'a mut PanicObserver>) -> BoxRun<'a>,
    inputs: &'static [&'static [u8]],
    names: &'static [&'static str],
) -> Result<(), String> {
    let shared = Rc::new(Shared::default());
    *shared.choices.borrow_mut() = Some(Seeded::new(case.seed ^ 0x5EED));
    let n = names.len();
    *shared.runs.borrow_mut() = (0..case.runs.len())
        .map(|_| RunState {
            nodes: (0..n).map(|_| NodeState::default()).collect(),
            ..RunState::default()
        })
        .collect();
    let ctxs: Vec<RunCtx> = case
        .runs
        .iter()
        .enumerate()
        .map(|(id, plan)| RunCtx {
            id,
            param: case.seed.rotate_left(id as u32 * 8) ^ id as u64,
            plan: plan.clone(),
            hand_built: case.hand_built,
            mode: case.mode,
            inputs,
            shared: shared.clone(),
            tasks: Tasks::new(plan.waker_panic),
            cells: Default::default(),
        })
        .collect();
    let mut observers: Vec<PanicObserver> = case
        .runs
        .iter()
        .enumerate()
        .map(|(run, plan)| PanicObserver {
            run,
            nth: plan.observer_panic,
            events: 0,
            shared: shared.clone(),
        })
        .collect();
    let outcome = {
        let mut driver = Driver {
            ctxs: &ctxs,
            names,
            shared: shared.clone(),
            make,
            observers: observers.iter_mut(),
            slots: Vec::new(),
            choices: Seeded::new(case.seed).with_threads(case.threads),
        };
        let outcome = driver.run();
        // Whatever happened, every run goes, then every waker the driver kept.
        for slot in &mut driver.slots {
            let future = slot.future.take();
            let _ = catch_unwind(AssertUnwindSafe(move || drop(future)));
        }
        outcome
    };
    let wakers: Vec<Parked> = shared.parked.borrow_mut().drain(..).collect();
    let kept: Vec<Parked> = shared.kept.borrow_mut().drain(..).collect();
    let dropped = catch_unwind(AssertUnwindSafe(move || drop((wakers, kept))));
    outcome?;
    let armed_drop = ctxs.iter().any(|ctx| {
        ctx.plan
            .waker_panic
            .is_some_and(|armed| armed.op == WakerOp::Drop)
    });
    if dropped.is_err() && !armed_drop {
        return Err("dropping the wakers the driver kept panicked".into());
    }
    if let Some(first) = shared.violations.borrow().first() {
        return Err(first.clone());
    }
    drop(observers);
    // The outputs in the hand-built runs' cells go with their runs.
    let mut ctxs = ctxs;
    let tasks: Vec<Tasks> = ctxs
        .iter_mut()
        .map(|ctx| std::mem::replace(&mut ctx.tasks, Tasks::new(None)))
        .collect();
    drop(ctxs);
    for (r, state) in shared.runs.borrow().iter().enumerate() {
        for (i, node) in state.nodes.iter().enumerate() {
            model::check_drop_counts(
                || format!("run {r}'s node {i}"),
                (u32::from(node.started), node.future_drops),
                (node.outputs_made, node.output_drops),
            )?;
        }
    }
    for (r, tasks) in tasks.iter().enumerate() {
        if !tasks.fired() {
            tasks.check_let_go(&format!("the site, after run {r}"))?;
        }
    }
    Ok(())
}

fn check(
    case: &Case,
    make: for<'a> fn(&'a RunCtx, Option<&'a mut PanicObserver>) -> BoxRun<'a>,
    inputs: &'static [&'static [u8]],
    names: &'static [&'static str],
) {
    model::quiet_intended_panics();
    if let Err(problem) = check_case(case, make, inputs, names) {
        panic!("{problem}\n{case:?}");
    }
}

// Each shape has its own test, so its sites (a `dag!`'s block, a hand-built one) serve one
// thread: the runs of one case are the only ones of the site at a time.
proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn seed_shaped_dag_runs_agree_with_the_reference(case in case()) {
        check(&case, seed_run, &SeedShape::INPUTS, &SeedShape::NAMES);
    }

    #[test]
    fn chain_dag_runs_agree_with_the_reference(case in case()) {
        check(&case, chain_run, &ChainShape::INPUTS, &ChainShape::NAMES);
    }

    #[test]
    fn fan_in_dag_runs_agree_with_the_reference(case in case()) {
        check(&case, fan_run, &FanShape::INPUTS, &FanShape::NAMES);
    }
}
