//! A reference model and a scripted executor that checks dagfut against it.
//!
//! A [`Spec`] describes a DAG: for each node, its inputs (earlier nodes, repeats allowed), how
//! many times it parks (returns `Pending` until the driver wakes it) and whether it fails.
//! [`check`] builds that DAG, runs it while a [`Schedule`] picks which parked node to wake
//! next, and compares what happened with [`reference()`], a plain sequential evaluation in
//! topological order. It checks:
//!
//! - outputs: every value equals the reference's; failed and skipped nodes have none;
//! - timing: every node starts in the very poll in which its last input completed (the
//!   first poll for roots), and skipped nodes never start;
//! - polls: a node is polled only when it starts or was woken (polls = 1 + wakes);
//! - wakes: every wake of a parked node wakes the run's parent;
//! - drops: after the run, every node future and every output has been dropped exactly once;
//! - fail-fast: `try_run` fails with one of the failing nodes, or succeeds when none fails.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll, Waker};

use dagfut::{LocalDagBuilder, Node, OutputError};

/// One node of a [`Spec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// Indexes of earlier nodes (repeats allowed).
    pub inputs: Vec<usize>,
    /// How many times the node parks before it completes.
    pub parks: u8,
    /// Whether it fails (`Err`) instead of producing a value.
    pub fails: bool,
}

/// A DAG to check: node `i` may only take nodes `0..i`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// The nodes, in insertion order.
    pub nodes: Vec<NodeSpec>,
}

/// What the reference says of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// It completes with this value.
    Value(u64),
    /// It fails.
    Failed,
    /// An input failed or was skipped: it never starts.
    Skipped,
}

/// The value of node `index` from its inputs' values.
pub fn mix(index: usize, inputs: &[u64]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    inputs
        .iter()
        .fold((index as u64 + 1).wrapping_mul(K), |acc, x| {
            acc.rotate_left(7) ^ x.wrapping_mul(K)
        })
}

/// The sequential reference: each node in insertion order, from its inputs' results.
pub fn reference(spec: &Spec) -> Vec<Expected> {
    let mut results: Vec<Expected> = Vec::with_capacity(spec.nodes.len());
    for (index, node) in spec.nodes.iter().enumerate() {
        let mut values = Vec::with_capacity(node.inputs.len());
        let mut blocked = false;
        for &input in &node.inputs {
            match results[input] {
                Expected::Value(value) => values.push(value),
                Expected::Failed | Expected::Skipped => blocked = true,
            }
        }
        results.push(if blocked {
            Expected::Skipped
        } else if node.fails {
            Expected::Failed
        } else {
            Expected::Value(mix(index, &values))
        });
    }
    results
}

/// Chooses what the driver does between polls.
pub trait Schedule {
    /// Which of `parked` nodes (`0..parked`) to wake next.
    fn pick(&mut self, parked: usize) -> usize;
    /// Whether to wake it twice (the second wake must be absorbed).
    fn twice(&mut self) -> bool;
    /// Wakes `waker`, here or elsewhere (another thread); returns once it has been woken.
    fn wake(&mut self, waker: Waker) {
        waker.wake();
    }
}

/// A small deterministic schedule from a seed (xorshift).
#[derive(Debug, Clone)]
pub struct Seeded(pub u64);

impl Seeded {
    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0 | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

impl Schedule for Seeded {
    fn pick(&mut self, parked: usize) -> usize {
        (self.next_u64() % parked as u64) as usize
    }
    fn twice(&mut self) -> bool {
        self.next_u64() % 4 == 0
    }
}

/// The node that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed(pub usize);

/// What the nodes share with the driver.
struct Control {
    spec: Spec,
    /// The number of the run's poll under way (from 1).
    round: Cell<u32>,
    started: RefCell<Vec<Option<u32>>>,
    finished: RefCell<Vec<Option<u32>>>,
    parked: RefCell<Vec<(usize, Waker)>>,
    /// Per node: the driver woke its current park.
    resumed: RefCell<Vec<bool>>,
    /// Polls of a parked node that no wake asked for.
    spurious: Cell<u32>,
    futures_alive: Cell<i64>,
    outputs_alive: Cell<i64>,
}

/// The values flowing through the DAG: the control block and each node's index are
/// constants in every node's input list, before its real inputs.
enum Val {
    Control(Rc<Control>),
    Index(usize),
    Num { value: u64, _alive: Alive },
}

/// Counts itself in `outputs_alive` or `futures_alive` while it lives.
struct Alive(Rc<Control>, bool);

impl Alive {
    fn new(control: &Rc<Control>, output: bool) -> Self {
        let counter = if output {
            &control.outputs_alive
        } else {
            &control.futures_alive
        };
        counter.set(counter.get() + 1);
        Alive(control.clone(), output)
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        let counter = if self.1 {
            &self.0.outputs_alive
        } else {
            &self.0.futures_alive
        };
        counter.set(counter.get() - 1);
    }
}

struct Park<'c> {
    control: &'c Control,
    index: usize,
    parked: bool,
}

impl Future for Park<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let control = self.control;
        if !self.parked {
            self.parked = true;
            control
                .parked
                .borrow_mut()
                .push((self.index, cx.waker().clone()));
            return Poll::Pending;
        }
        if core::mem::take(&mut control.resumed.borrow_mut()[self.index]) {
            return Poll::Ready(());
        }
        control.spurious.set(control.spurious.get() + 1);
        Poll::Pending
    }
}

async fn node(list: &[&Val]) -> Result<Val, Failed> {
    let (Val::Control(control), Val::Index(index)) = (list[0], list[1]) else {
        unreachable!("every node's list starts with the control block and its index");
    };
    let (control, index) = (control.clone(), *index);
    let _alive = Alive::new(&control, false);
    control.started.borrow_mut()[index] = Some(control.round.get());
    let spec = &control.spec.nodes[index];
    for _ in 0..spec.parks {
        Park {
            control: &control,
            index,
            parked: false,
        }
        .await;
    }
    let inputs: Vec<u64> = list[2..]
        .iter()
        .map(|value| match value {
            Val::Num { value, .. } => *value,
            _ => unreachable!("real inputs are numbers"),
        })
        .collect();
    control.finished.borrow_mut()[index] = Some(control.round.get());
    if spec.fails {
        return Err(Failed(index));
    }
    Ok(Val::Num {
        value: mix(index, &inputs),
        _alive: Alive::new(&control, true),
    })
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn control(spec: &Spec) -> Rc<Control> {
    let n = spec.nodes.len();
    Rc::new(Control {
        spec: spec.clone(),
        round: Cell::new(0),
        started: RefCell::new(vec![None; n]),
        finished: RefCell::new(vec![None; n]),
        parked: RefCell::new(Vec::new()),
        resumed: RefCell::new(vec![false; n]),
        spurious: Cell::new(0),
        futures_alive: Cell::new(0),
        outputs_alive: Cell::new(0),
    })
}

type ModelDag = dagfut::LocalDag<(), Failed>;

fn build(spec: &Spec, control: &Rc<Control>) -> (ModelDag, Vec<Node<Val>>) {
    let b = LocalDagBuilder::<(), Failed>::new();
    let shared = b.add_constant(Val::Control(control.clone()));
    let mut nodes: Vec<Node<Val>> = Vec::with_capacity(spec.nodes.len());
    for (index, node_spec) in spec.nodes.iter().enumerate() {
        let mut list = vec![shared, b.add_constant(Val::Index(index))];
        list.extend(node_spec.inputs.iter().map(|&input| nodes[input]));
        nodes.push(b.add_try_node(node, list));
    }
    (b.build(), nodes)
}

/// Polls `future` to completion, waking one parked node between polls as `schedule` says.
fn drive<F: Future + Unpin>(
    control: &Control,
    mut future: F,
    schedule: &mut dyn Schedule,
) -> Result<F::Output, String> {
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        control.round.set(control.round.get() + 1);
        if let Poll::Ready(output) = Pin::new(&mut future).poll(&mut cx) {
            return Ok(output);
        }
        let mut parked = control.parked.borrow_mut();
        if parked.is_empty() {
            return Err(format!(
                "round {}: the run is pending but no node is parked",
                control.round.get()
            ));
        }
        let pick = schedule.pick(parked.len());
        let (index, node_waker) = parked.swap_remove(pick);
        drop(parked);
        control.resumed.borrow_mut()[index] = true;
        let before = counter.0.load(Ordering::SeqCst);
        if schedule.twice() {
            node_waker.wake_by_ref();
        }
        schedule.wake(node_waker);
        if counter.0.load(Ordering::SeqCst) == before {
            return Err(format!("waking node {index} did not wake the run"));
        }
    }
}

/// Runs `spec` with `run_settled` and `try_run` under `schedule` and checks everything the
/// module's documentation lists. Returns what went wrong, if anything.
pub fn check(spec: &Spec, schedule: &mut dyn Schedule) -> Result<(), String> {
    let expected = reference(spec);

    // Settled: every independent branch runs.
    let control = control(spec);
    let (dag, nodes) = build(spec, &control);
    let settled = drive(
        &control,
        dag.run_settled(&()).with_poll_budget(usize::MAX),
        schedule,
    )?;
    let started = control.started.borrow().clone();
    let finished = control.finished.borrow().clone();
    for (index, want) in expected.iter().enumerate() {
        let got = settled.outputs.get(nodes[index]);
        match (want, got) {
            (Expected::Value(want), Ok(Val::Num { value: got, .. })) if want == got => {}
            (Expected::Failed | Expected::Skipped, Err(OutputError::NotCompleted { .. })) => {}
            (want, got) => {
                let got = got.map(|v| match v {
                    Val::Num { value, .. } => *value,
                    _ => u64::MAX,
                });
                return Err(format!("node {index}: expected {want:?}, got {got:?}"));
            }
        }
        // The instant of start: the poll in which the last input finished (roots: the first).
        let ready_round = spec.nodes[index]
            .inputs
            .iter()
            .map(|&input| finished[input])
            .try_fold(1, |latest: u32, round| round.map(|r| latest.max(r)));
        let want_start = match want {
            Expected::Skipped => None,
            _ => ready_round,
        };
        if started[index] != want_start {
            return Err(format!(
                "node {index} started in poll {:?}, expected {want_start:?}",
                started[index]
            ));
        }
    }
    let mut failed: Vec<usize> = settled
        .errors
        .iter()
        .map(|error| error.node().task_index().unwrap_or(usize::MAX))
        .collect();
    failed.sort_unstable();
    let want_failed: Vec<usize> = (0..expected.len())
        .filter(|&i| expected[i] == Expected::Failed)
        .collect();
    if failed != want_failed {
        return Err(format!("failed nodes {failed:?}, expected {want_failed:?}"));
    }
    if control.spurious.get() != 0 {
        return Err(format!(
            "{} polls of parked nodes that nobody woke",
            control.spurious.get()
        ));
    }
    drop(settled);
    if (control.futures_alive.get(), control.outputs_alive.get()) != (0, 0) {
        return Err(format!(
            "after the settled run: {} futures and {} outputs not dropped (or dropped twice)",
            control.futures_alive.get(),
            control.outputs_alive.get()
        ));
    }

    // Fail-fast: the same DAG, the same kind of schedule.
    *control.started.borrow_mut() = vec![None; spec.nodes.len()];
    *control.finished.borrow_mut() = vec![None; spec.nodes.len()];
    control.parked.borrow_mut().clear();
    control.round.set(0);
    let outcome = drive(&control, dag.try_run(&()), schedule)?;
    match outcome {
        Ok(outputs) => {
            if !want_failed.is_empty() {
                return Err(format!("try_run succeeded but {want_failed:?} fail"));
            }
            for (index, want) in expected.iter().enumerate() {
                let (Expected::Value(want), Ok(Val::Num { value: got, .. })) =
                    (want, outputs.get(nodes[index]))
                else {
                    return Err(format!("try_run: node {index} has no value"));
                };
                if want != got {
                    return Err(format!("try_run: node {index}: {got} != {want}"));
                }
            }
        }
        Err(error) => {
            let node = error.node().task_index().unwrap_or(usize::MAX);
            if !want_failed.contains(&node) {
                return Err(format!(
                    "try_run failed at node {node}, which does not fail"
                ));
            }
        }
    }
    control.parked.borrow_mut().clear();
    if (control.futures_alive.get(), control.outputs_alive.get()) != (0, 0) {
        return Err(format!(
            "after try_run: {} futures and {} outputs not dropped (or dropped twice)",
            control.futures_alive.get(),
            control.outputs_alive.get()
        ));
    }
    Ok(())
}

/// Decodes bytes into a spec and a schedule seed (for the fuzzer): at most `max_nodes` nodes.
pub fn decode(bytes: &[u8], max_nodes: usize) -> (Spec, u64) {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for &b in bytes.iter().take(8) {
        seed = seed.rotate_left(8) ^ u64::from(b);
    }
    let mut spec = Spec::default();
    for chunk in bytes.get(8..).unwrap_or_default().chunks(3) {
        if spec.nodes.len() == max_nodes {
            break;
        }
        let index = spec.nodes.len();
        let [a, b, c] = [0, 1, 2].map(|i| chunk.get(i).copied().unwrap_or(0));
        let fan_in = if index == 0 { 0 } else { usize::from(a % 5) };
        let inputs = (0..fan_in)
            .map(|k| (usize::from(b) * 31 + usize::from(c) * 7 + k * 13) % index)
            .collect();
        spec.nodes.push(NodeSpec {
            inputs,
            parks: c % 4,
            fails: b % 11 == 0,
        });
    }
    (spec, seed)
}
