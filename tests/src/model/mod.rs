//! A reference model and a scripted executor that checks dagfut against it.
//!
//! A [`Spec`] describes a DAG and how its nodes behave; [`check`] builds that DAG, runs it
//! with one policy (`run_settled` or `try_run`, with or without `catch_panics`) while a
//! [`Schedule`] drives it, and compares what happened with [`reference()`], a plain sequential
//! evaluation in topological order.
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
//!   would abort the process when one drop unwinds into the other).
//!
//! Between two polls of the run, the driver wakes one parked node (sometimes twice, by value
//! or by reference, from this thread or another one), wakes some finished nodes (stale wakes),
//! and may drop the run before it ends. Every poll and every drop it makes is wrapped in
//! `catch_unwind`. It checks:
//!
//! - outputs: every value equals the reference's; failed, panicked and skipped nodes have
//!   none; `run_settled` reports every failure, in the order they happened, with the right
//!   kind (`Failed` or `Panicked` and its message); `try_run` fails with the first one, having
//!   dropped every running future at once;
//! - timing: every node starts in the very poll in which its last input completed (the first
//!   poll for roots), unless that poll ended the run early; skipped nodes never start;
//! - polls: a node is polled only when it starts or was woken while parked (polls = 1 +
//!   wakes), never after it finished, and a woken node is polled in the next poll; stale wakes
//!   change nothing (no poll, no error, no early end);
//! - wakes: after a parked node is woken, the run's parent has been woken at least once since
//!   the start of the last poll (wakes pushed during that poll may have woken it already); a
//!   wake after the run is over does nothing;
//! - panics: a poll panics exactly when a node's panic must escape (all of them without
//!   `catch_panics`; with it, only the drop of a cancelled future or of an output inside the
//!   poll, when `try_run` fails fast), with that panic's message; a run whose poll panicked
//!   panics when polled again (`dagfut: …panicked…`); a drop panics exactly when it drops the
//!   one value whose `Drop` panics;
//! - drops: in the end every node future and every output has been dropped exactly once, and
//!   no future after an output it borrows.

// Threads, `catch_unwind` and the runs' `catch_panics` need `std`: the model is for hosted
// targets (the crate's `no_std` proof is built for `target_os = "none"` ones).
#![cfg(not(target_os = "none"))]

extern crate std;

mod decode;
mod drive;
mod node;
mod verify;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

pub use decode::decode;
pub use drive::{Delivery, Schedule, Seeded};
pub use node::quiet_intended_panics;
pub use verify::check;

/// One node of a [`Spec`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSpec {
    /// Indexes of earlier nodes (repeats allowed).
    pub inputs: Vec<usize>,
    /// How many times the node parks before its last poll.
    pub parks: u8,
    /// Whether it fails (`Err`) instead of producing a value.
    pub fails: bool,
    /// Whether its last poll panics instead of returning.
    pub panics: bool,
    /// Whether its last poll wakes its own waker before returning (or panicking).
    pub wakes_itself: bool,
    /// Whether its last poll wakes the stored waker of a node that already finished: `k`
    /// picks the `k % count`-th of them (none if none finished); by reference if `k` is even,
    /// by value otherwise.
    pub wakes_finished: Option<u8>,
}

/// Which value panics when it is dropped (at most one per spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropPanic {
    /// The future of this node: after it returned `Ready`, or when it is cancelled.
    Future(usize),
    /// The output of this node, wherever it is dropped.
    Output(usize),
}

/// How the DAG is run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// `run_settled`: a failure skips only its descendants.
    #[default]
    Settled,
    /// `try_run`: the first failure ends the run.
    TryRun,
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
    /// Whether the spec is well formed: inputs are earlier nodes, the value that panics when
    /// dropped is a node's.
    pub fn validate(&self) -> Result<(), String> {
        for (index, node) in self.nodes.iter().enumerate() {
            if let Some(&input) = node.inputs.iter().find(|&&input| input >= index) {
                return Err(format!(
                    "node {index} takes node {input}, which is not earlier"
                ));
            }
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
    /// It fails (`Err`).
    Failed,
    /// It panics, in its last poll or in its future's drop right after it: with
    /// `catch_panics`, a failure ([`dagfut::DagError::Panicked`]); without, the run's poll
    /// panics.
    Panicked,
    /// An input failed, panicked or was skipped: it never starts.
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
        let values: Option<Vec<u64>> = node
            .inputs
            .iter()
            .map(|&input| match results[input] {
                Expected::Value(value) => Some(value),
                Expected::Failed | Expected::Panicked | Expected::Skipped => None,
            })
            .collect();
        results.push(match values {
            None => Expected::Skipped,
            // A future that panics when dropped right after `Ready` panics whatever it
            // returned: the core drops it before it looks at its output.
            Some(_) if node.panics || spec.drop_panic == Some(DropPanic::Future(index)) => {
                Expected::Panicked
            }
            Some(_) if node.fails => Expected::Failed,
            Some(values) => Expected::Value(mix(index, &values)),
        });
    }
    results
}
