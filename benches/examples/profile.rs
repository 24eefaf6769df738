//! Runs one shape a given number of times with one contender (dagfut unless named), for a
//! profiler that counts instructions and simulated cache misses instead of timing (the
//! machines here are shared and noisy; these counts are exact and repeatable):
//!
//! ```text
//! cargo build --release -p dagfut-benches --example profile
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/profile layered 100000 ready 0
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/profile layered 100000 ready 5
//! ```
//!
//! The difference between the two counts, divided by the runs, is the cost of one run (and
//! divided by the nodes, per node): building the DAG and the first run are the same in both.
//! `benches/cachegrind.sh` does this for a few shapes and contenders, for the report.
//!
//! Arguments: shape (`seed`, `chain`, `wide`, `fan_out`, `layered`, `layered_local`), nodes
//! (ignored for `seed`), workload (`ready` or `pend`), runs, and optionally the contender:
//! `dagfut` (the default), `await_loop` (chains), `nested_join` and `dag_macro` (the seed graph),
//! `join_all_per_layer` or `futures_buffered_flat`. The runs are polled under the no-op task
//! waker; `examples/profile_arc.rs` polls them under a counting `Arc` one.

use std::future::Future;

use dagfut_benches::contenders::{
    DagfutShape, Plan, chain_await_loop, seed_dag_macro, seed_nested_join,
};
use dagfut_benches::node::{PEND, READY, drive};
use dagfut_benches::{Shape, WAKE_SEED, XorShift};

#[macro_use]
#[path = "common/profile.rs"]
mod common;

/// Runs `run` once outside the counted runs (the driver's buffers grow to size there, and a
/// scheduler that keeps its run state takes it), then `runs` times, checking each output.
fn repeat<F: Future<Output = u64>>(runs: usize, expected: u64, mut run: impl FnMut() -> F) {
    let mut random = XorShift::new(WAKE_SEED);
    assert_eq!(drive(run(), &mut random), expected, "a wrong output");
    for _ in 0..runs {
        assert_eq!(drive(run(), &mut random), expected, "a wrong output");
    }
}

fn main() {
    let common::Args {
        shape,
        workload,
        runs,
        contender,
    } = common::args("ready|pend");
    match workload.as_str() {
        "ready" => profile!(repeat, READY, &shape, contender.as_str(), runs),
        "pend" => profile!(repeat, PEND, &shape, contender.as_str(), runs),
        other => panic!("unknown workload {other:?} (pend_arc: examples/profile_arc.rs)"),
    }
    println!("{contender}: {} nodes, {runs} runs", shape.len());
}
