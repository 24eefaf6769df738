//! A reference model and a scripted executor that checks dagfut against it.
//!
//! A [`Spec`] describes a DAG and how its nodes behave; [`check`] builds that DAG, runs it
//! with one policy (`run_settled` or `try_run`, with or without `catch_panics`, or `run`)
//! while a [`Schedule`] drives it, and compares what happened with [`evaluate`], a plain
//! sequential evaluation in topological order. [`check_overlapping`] runs the DAG several
//! times, up to [`LANES`] runs at once, and checks each run so (each has a control block of
//! its own: the run's parameter).
//!
//! The nodes do what real users' futures legally do, and what once broke the core:
//!
//! - each parks a number of times (returns `Pending` until the driver wakes it), then returns
//!   `Ready(Ok)`, `Ready(Err)`, or panics in that last poll;
//! - each stores a clone of its waker at every poll, so the driver can wake it after it
//!   finished (a *stale wake*, as `select!` does to a branch it then drops);
//! - in its last poll a node may wake its own waker and/or the stored waker of a node that
//!   already finished, just before it returns (*wake-then-Ready*);
//! - each future holds a guard that borrows its inputs and reads them when it is dropped (a
//!   `MutexGuard` or an entered span on an input does this): a future dropped after one of
//!   its inputs' outputs is reported (and is a use after free under Miri: values are boxed);
//! - at most one node per spec has a panicking `Drop`, in its future or in its output (two
//!   would abort the process when one drop unwinds into the other);
//! - some inputs are optional (`node.optional()`): the function receives `Option<&_>`, and
//!   records whether each was `Some` (and its value) or `None`;
//! - some nodes have a policy (`b.retry(n, ..)`, maybe `.or_value(..)`): their first attempts
//!   may fail by script, each attempt is a new future from a new call of the function, and a
//!   node whose last attempt fails may fall back to a value.
//!
//! Between two polls of the run, the driver wakes one parked node (sometimes twice, by value
//! or by reference, from this thread or another one), wakes some finished nodes (stale wakes),
//! and may drop the run before it ends. In a quarter of the random schedules the run has a
//! poll budget (`with_poll_budget`, 1 to 8 node polls, or 32; else none): it then yields,
//! waking its task, whenever one poll has made that many. Each poll gets a fresh `Waker`, of
//! the same task as the poll before or (one poll in four) of the other of two tasks. The tasks' wakers may panic
//! ([`WakerPanic`], in an eighth of the random runs, none whose spec has a value whose `Drop`
//! panics): at the `n`th clone, wake (by value or by reference) or drop that the run makes on
//! them, whatever makes it (a registration, the slot's wake after a node's wake in a node's
//! poll, in a policy's yield, between polls or on another thread, the run's own wake, the drop
//! of the wakers it took as it ended); a waker whose wake or drop panics gives up its
//! reference as it unwinds. In such a run the driver lets go of the nodes' wakers it keeps
//! before it drops the run (the run is then alone with its waker block). Every poll, wake and
//! drop the driver makes is wrapped in `catch_unwind`. It checks:
//!
//! - outputs: every value (a fallback's too) equals the reference's; failed, panicked and
//!   skipped nodes have none; `run_settled` reports every failure, in the order they
//!   happened, with the right kind (`Failed`, `Exhausted` with its attempt count, or
//!   `Panicked` and its message), and `Outputs::failed` lists the same nodes; `try_run` fails
//!   with the first failure that is not tolerated (a node only optional inputs depend on),
//!   having dropped every running future at once, and goes on after the tolerated ones and
//!   the fallbacks, which `Outputs::failed` lists in the order they happened; `run` lists
//!   none;
//! - inputs: a node receives `Some` of the reference's value for each optional input that
//!   has one, `None` for each that failed or was skipped, and every attempt the same;
//! - attempts: a node makes the reference's number of attempts, one at a time (an attempt
//!   starts only once the one before it failed and was dropped), and the next attempt starts
//!   in the poll in which the one before failed, or the next poll if the node yielded (with
//!   a poll budget: in some later poll);
//! - timing: every node starts in the very poll in which its last input completed (the first
//!   poll for roots) or, for an optional input, failed or was skipped, unless that poll ended
//!   the run early; skipped nodes never start (with a poll budget: in that poll or a later
//!   one, if the run goes on);
//! - polls: an attempt is polled only when it starts or was woken while parked (polls = 1 +
//!   wakes), never after it finished, and a woken node is polled in the next poll (with a
//!   poll budget, a poll that woke its task may leave it to a later one); a run gives up
//!   after 100,000 polls (a livelock fails the check instead of hanging it); stale wakes
//!   change nothing (no poll, no error, no early end);
//! - wakes: after a parked node is woken, the task waker of the last poll has been woken at
//!   least once since that poll started (wakes pushed during that poll may have woken it
//!   already), unless the task waker's panic lost a wake since then and no node's wake
//!   returned normally after it (the lost wake is owed: any later node wake makes it, so the
//!   slot is never wedged); a wake after the run is over wakes no task; once the run is
//!   dropped it holds no task waker it was polled with;
//! - panics: a poll panics exactly when a node's panic must escape (all of them without
//!   `catch_panics`; with it, only the drop of a cancelled future or of an output inside the
//!   poll, when `try_run` fails fast), with that panic's message; a run whose poll panicked
//!   panics when polled again (`dagfut: …panicked…`); a drop panics exactly when it drops the
//!   one value whose `Drop` panics;
//! - task waker panics: the armed panic comes out of the call that made it, with its message:
//!   out of the run's poll if the run made it (its registration, its own wake, its end: the run
//!   is then poisoned), out of a node's poll if a wake there made it (the node panicked in that
//!   attempt, and the reference is evaluated so: with `catch_panics` it is that node's
//!   `Panicked` failure, in the poll's order of failures, even out of the core's code in its
//!   poll, a policy's yield; without, the run's poll panics with it), out of the driver's wake
//!   between polls (on another thread, out of its join), or out of the run's drop; nowhere
//!   else, and never swallowed;
//! - drops: in the end every node future (every attempt's) and every output has been dropped
//!   exactly once, and no future after an output it borrows.
//!
//! A test binary that installs [`LeakCheck`] as its global allocator and runs a check under
//! [`leak_checked`] (or [`leak_checked_result`]) also finds what the run leaves allocated
//! once everything is dropped (a block the DAG's pool lost), or frees with another size than
//! it was made with.

// Threads, `catch_unwind` and the runs' `catch_panics` need `std`: the model is for hosted
// targets (the crate's `no_std` proof is built for `target_os = "none"` ones).
#![cfg(not(target_os = "none"))]

extern crate std;

mod decode;
mod drive;
mod leaks;
mod node;
mod verify;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

pub use decode::{decode, overlapping, padded};
pub use drive::{Delivery, Schedule, Seeded, Tasks, WakerOp, WakerPanic};
pub use leaks::{CHECKS, LeakCheck, leak_checked, leak_checked_result};
pub use node::{panic_message, quiet_intended_panics};
pub use verify::{LANES, check, check_drop_counts, check_overlapping, check_run};

/// One node of a [`Spec`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSpec {
    /// Indexes of earlier nodes (repeats allowed).
    pub inputs: Vec<usize>,
    /// Which of `inputs` are optional (`node.optional()`: the function receives an
    /// `Option<&_>`, `None` if that input failed or was skipped), by position; positions past
    /// its end are plain inputs. At most [`MAX_OPTIONAL`] of them.
    pub optional: Vec<bool>,
    /// How many times each attempt parks before its last poll.
    pub parks: u8,
    /// Whether it fails (`Err`) instead of producing a value (every attempt does).
    pub fails: bool,
    /// Whether its last poll panics instead of returning (the first attempt that does not
    /// fail by script, see [`Guard::failing_attempts`]).
    pub panics: bool,
    /// Whether its last poll wakes its own waker before returning (or panicking); only the
    /// last attempt of a node with a [`Guard`] does (a wake of an earlier one would poll the
    /// next attempt, legally, without a wake the model counts).
    pub wakes_itself: bool,
    /// Whether its last poll (of every attempt) wakes the stored waker of a node that already
    /// finished: `k` picks the `k % count`-th of them (none if none finished); by reference if
    /// `k` is even, by value otherwise.
    pub wakes_finished: Option<u8>,
    /// A policy (`b.retry(..)`, maybe `.or_value(..)`): the node runs as an `Attempts`.
    pub guard: Option<Guard>,
    /// Whether it touches its waker only to park or to wake itself: it keeps no clone of the
    /// waker of its other polls (for the driver's stale wakes). The run lends such a node its
    /// proto waker until some node clones or wakes one, so many nodes of a batch go through
    /// it, not only the first one polled.
    pub leaves_waker: bool,
}

/// The policy of a node: retries, attempts that fail by script, a fallback value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Guard {
    /// `retry(retries, ..)`: up to this many more attempts after one that returned `Err`.
    pub retries: u8,
    /// How many of its first attempts return `Err` whatever the node's other fields say;
    /// later attempts do as they say.
    pub failing_attempts: u8,
    /// `or_value(..)`: when its last attempt returns `Err`, its value is
    /// [`fallback_value`] (the failure is still recorded).
    pub fallback: bool,
    /// Whether each retry waits on the model's timer (a backoff of 1 ns, on a timer whose
    /// sleeps are ready at once), or retries at once (`Backoff::none()`).
    pub pause: bool,
}

/// The most optional inputs a node may have (the model's node functions take a list of plain
/// inputs and up to this many `Option<&_>`).
pub const MAX_OPTIONAL: usize = 4;

/// What a node computes with for an optional input that is `None`.
pub const ABSENT: u64 = 0x0A85_E47D_EAD0_0000;

/// How one attempt of a node ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptEnd {
    /// It returns `Ok`.
    Ok,
    /// It returns `Err`.
    Err,
    /// Its last poll panics.
    Panics,
}

impl NodeSpec {
    /// Whether input `position` is optional.
    pub fn is_optional(&self, position: usize) -> bool {
        self.optional.get(position) == Some(&true)
    }

    /// How many attempts it may make: 1 without retries.
    pub fn max_attempts(&self) -> u32 {
        self.guard.map_or(1, |guard| u32::from(guard.retries) + 1)
    }

    /// How attempt `attempt` (from 1) ends.
    pub fn attempt_end(&self, attempt: u32) -> AttemptEnd {
        let scripted = self
            .guard
            .map_or(0, |guard| u32::from(guard.failing_attempts));
        if attempt <= scripted {
            AttemptEnd::Err
        } else if self.panics {
            AttemptEnd::Panics
        } else if self.fails {
            AttemptEnd::Err
        } else {
            AttemptEnd::Ok
        }
    }

    /// Whether attempt `attempt`, ending as `end`, is the node's last.
    pub fn is_last_attempt(&self, attempt: u32, end: AttemptEnd) -> bool {
        end != AttemptEnd::Err || attempt >= self.max_attempts()
    }

    fn falls_back(&self) -> bool {
        self.guard.is_some_and(|guard| guard.fallback)
    }
}

/// Which value panics when it is dropped (at most one per spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropPanic {
    /// The future of this node (its first attempt's): after it returned `Ready`, or when it
    /// is cancelled.
    Future(usize),
    /// The output of this node, wherever it is dropped.
    Output(usize),
}

/// How the DAG is run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// `run_settled`: a failure skips only the descendants that need it.
    #[default]
    Settled,
    /// `try_run`: the first failure ends the run, unless only optional inputs depend on the
    /// failed node (see [`tolerated`]).
    TryRun,
    /// `run`: the DAG's error type is `Infallible` (no node fails or has a guard, and the run
    /// does not catch panics).
    Run,
}

/// A DAG to check, and how it is run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// The nodes, in insertion order: node `i` may only take nodes `0..i`.
    pub nodes: Vec<NodeSpec>,
    /// The run's policy.
    pub policy: Policy,
    /// Whether the run catches the nodes' panics (`.catch_panics()`).
    pub catch_panics: bool,
    /// The one value whose `Drop` panics, if any.
    pub drop_panic: Option<DropPanic>,
}

impl Spec {
    /// Whether the spec is well formed: inputs are earlier nodes, no node has more than
    /// [`MAX_OPTIONAL`] optional inputs, the value that panics when dropped is a node's, and a
    /// spec run with `run` has no failing node, no guard and no `catch_panics`.
    pub fn validate(&self) -> Result<(), String> {
        for (index, node) in self.nodes.iter().enumerate() {
            if let Some(&input) = node.inputs.iter().find(|&&input| input >= index) {
                return Err(format!(
                    "node {index} takes node {input}, which is not earlier"
                ));
            }
            if node.optional.len() > node.inputs.len() {
                return Err(format!(
                    "node {index} has {} optional flags for {} inputs",
                    node.optional.len(),
                    node.inputs.len()
                ));
            }
            let optional = node.optional.iter().filter(|&&flag| flag).count();
            if optional > MAX_OPTIONAL {
                return Err(format!(
                    "node {index} has {optional} optional inputs, more than {MAX_OPTIONAL}"
                ));
            }
            if self.policy == Policy::Run && (node.fails || node.guard.is_some()) {
                return Err(format!(
                    "node {index} may fail, but the spec runs with `run`"
                ));
            }
        }
        if self.policy == Policy::Run && self.catch_panics {
            return Err("`run` does not catch panics".into());
        }
        match self.drop_panic {
            Some(DropPanic::Future(node) | DropPanic::Output(node)) if node >= self.nodes.len() => {
                Err(format!(
                    "drop_panic names node {node}, which does not exist"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// What the reference says of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// It completes with this value.
    Value(u64),
    /// Its last attempt fails (`Err`) and its fallback value takes its place: this value.
    /// The failure is recorded (`Settled::errors`, `Outputs::failed`).
    Recovered(u64),
    /// It fails (`Err` on its last attempt).
    Failed,
    /// It panics, in its last poll or in its future's drop right after it: with
    /// `catch_panics`, a failure ([`dagfut::DagError::Panicked`]); without, the run's poll
    /// panics.
    Panicked,
    /// A plain (not optional) input failed, panicked or was skipped: it never starts.
    Skipped,
}

impl Expected {
    /// Its value, if it has one (completed, or recovered).
    pub fn value(self) -> Option<u64> {
        match self {
            Expected::Value(value) | Expected::Recovered(value) => Some(value),
            Expected::Failed | Expected::Panicked | Expected::Skipped => None,
        }
    }

    /// Whether it fails with no value: its dependents that need it are skipped, and a
    /// `try_run` stops unless the failure is [`tolerated`].
    pub fn is_failure(self) -> bool {
        matches!(self, Expected::Failed | Expected::Panicked)
    }

    /// Whether its failure is recorded when the run goes on after it
    /// (`Settled::errors`, `Outputs::failed`).
    pub fn is_recorded(self) -> bool {
        matches!(
            self,
            Expected::Failed | Expected::Panicked | Expected::Recovered(_)
        )
    }
}

/// The value of node `index` from its inputs' values ([`ABSENT`] for an optional input that
/// is `None`).
pub fn mix(index: usize, inputs: &[u64]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    inputs
        .iter()
        .fold((index as u64 + 1).wrapping_mul(K), |acc, x| {
            acc.rotate_left(7) ^ x.wrapping_mul(K)
        })
}

/// The fallback value of node `index` (`or_value`).
pub fn fallback_value(index: usize) -> u64 {
    mix(index, &[ABSENT, ABSENT]) ^ 0xFA11_BAC4
}

/// The sequential reference, in full: per node, what it does, how many attempts it makes,
/// and what it receives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// What each node does.
    pub results: Vec<Expected>,
    /// How many attempts each node makes (0 if it never starts).
    pub attempts: Vec<u32>,
    /// The input values each node that starts receives, in order (`None`: an optional input
    /// that failed or was skipped); `None` for a node that never starts.
    pub inputs: Vec<Option<Vec<Option<u64>>>>,
    /// Whether a failure of each node leaves a `try_run` going ([`tolerated`]).
    pub tolerated: Vec<bool>,
}

impl Evaluation {
    /// Whether a `try_run` of the spec stops at a failure: some node fails whose failure is
    /// not tolerated.
    pub fn try_run_stops(&self) -> bool {
        self.results
            .iter()
            .zip(&self.tolerated)
            .any(|(result, &tolerated)| result.is_failure() && !tolerated)
    }
}

/// Whether a failure of each node leaves a `try_run` going: the node has at least one
/// dependent edge, and every one is an optional input.
pub fn tolerated(spec: &Spec) -> Vec<bool> {
    // (dependent edges, optional ones) per node.
    let mut edges = vec![(0usize, 0usize); spec.nodes.len()];
    for node in &spec.nodes {
        for (position, &input) in node.inputs.iter().enumerate() {
            edges[input].0 += 1;
            if node.is_optional(position) {
                edges[input].1 += 1;
            }
        }
    }
    edges
        .into_iter()
        .map(|(all, optional)| all > 0 && optional == all)
        .collect()
}

/// The sequential reference: each node in insertion order, from its inputs' results.
pub fn evaluate(spec: &Spec) -> Evaluation {
    evaluate_with(spec, None)
}

/// The sequential reference, where `forced` names a node and an attempt of it (from 1) that
/// panics whatever the spec says (the task waker's panic came out of that attempt's poll, see
/// [`WakerPanic`]).
pub fn evaluate_with(spec: &Spec, forced: Option<(usize, u32)>) -> Evaluation {
    let count = spec.nodes.len();
    let mut eval = Evaluation {
        results: Vec::with_capacity(count),
        attempts: Vec::with_capacity(count),
        inputs: Vec::with_capacity(count),
        tolerated: tolerated(spec),
    };
    for (index, node) in spec.nodes.iter().enumerate() {
        let values: Option<Vec<Option<u64>>> = node
            .inputs
            .iter()
            .enumerate()
            .map(|(position, &input)| match eval.results[input].value() {
                Some(value) => Some(Some(value)),
                None if node.is_optional(position) => Some(None),
                None => None,
            })
            .collect();
        let Some(values) = values else {
            eval.results.push(Expected::Skipped);
            eval.attempts.push(0);
            eval.inputs.push(None);
            continue;
        };
        let (result, attempts) = if spec.drop_panic == Some(DropPanic::Future(index)) {
            // A future that panics when dropped right after `Ready` panics whatever it
            // returned: the core (or the node's `Attempts`) drops it before it looks at its
            // output. Only a first attempt has one: nothing is retried after it.
            (Expected::Panicked, 1)
        } else {
            let mut attempt = 1;
            loop {
                if forced == Some((index, attempt)) {
                    break (Expected::Panicked, attempt);
                }
                match node.attempt_end(attempt) {
                    AttemptEnd::Ok => {
                        let values: Vec<u64> =
                            values.iter().map(|value| value.unwrap_or(ABSENT)).collect();
                        break (Expected::Value(mix(index, &values)), attempt);
                    }
                    AttemptEnd::Panics => break (Expected::Panicked, attempt),
                    AttemptEnd::Err if attempt < node.max_attempts() => attempt += 1,
                    AttemptEnd::Err if node.falls_back() => {
                        break (Expected::Recovered(fallback_value(index)), attempt);
                    }
                    AttemptEnd::Err => break (Expected::Failed, attempt),
                }
            }
        };
        eval.results.push(result);
        eval.attempts.push(attempts);
        eval.inputs.push(Some(values));
    }
    eval
}

/// What the reference says of each node ([`evaluate`]'s results).
pub fn reference(spec: &Spec) -> Vec<Expected> {
    evaluate(spec).results
}
