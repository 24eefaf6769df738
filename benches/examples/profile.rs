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
//! `join_all_per_layer` or `futures_buffered_flat`.

use std::future::Future;

use dagfut_benches::contenders::{
    DagfutShape, Plan, chain_await_loop, seed_dag_macro, seed_nested_join,
};
use dagfut_benches::node::{PEND, READY, drive};
use dagfut_benches::{GRAPH_SEED, Shape, WAKE_SEED, XorShift};

/// Runs `run` once outside the counted runs (the driver's buffers grow to size there, and a
/// scheduler that keeps its run state takes it), then `runs` times, checking each output.
fn repeat<F: Future<Output = u64>>(runs: usize, expected: u64, mut run: impl FnMut() -> F) {
    let mut random = XorShift::new(WAKE_SEED);
    assert_eq!(drive(run(), &mut random), expected, "a wrong output");
    for _ in 0..runs {
        assert_eq!(drive(run(), &mut random), expected, "a wrong output");
    }
}

/// Runs `contender` on `shape` in mode `M`: one uncounted run, then `runs`.
fn profile<const M: u8>(shape: &Shape, contender: &str, runs: usize) {
    let expected = shape.expected_last(1);
    match contender {
        "dagfut" => {
            let dag = DagfutShape::build::<M>(shape);
            repeat(runs, expected, || dag.run(1));
        }
        "await_loop" => {
            assert_eq!(shape.name, "chain", "await_loop runs chains only");
            repeat(runs, expected, || chain_await_loop::<M>(shape.len(), 1));
        }
        "nested_join" => {
            assert_eq!(shape.name, "seed", "nested_join runs the seed graph only");
            repeat(runs, expected, || seed_nested_join::<M>(1));
        }
        "dag_macro" => {
            assert_eq!(shape.name, "seed", "dag_macro runs the seed graph only");
            let dag = seed_dag_macro::<M>();
            repeat(runs, expected, || async { dag.run(&1).await.0 });
        }
        "join_all_per_layer" => {
            let plan = Plan::new(shape);
            repeat(runs, expected, || plan.join_all_per_layer::<M>(1));
        }
        "futures_buffered_flat" => {
            let plan = Plan::new(shape);
            // Without edges every input is the parameter: the last node outputs its input
            // count plus one (a root: 1 + 1).
            let arity = shape.inputs.last().map_or(0, Vec::len).max(1) as u64;
            repeat(runs, arity + 1, || plan.flat_join::<M>(1));
        }
        other => panic!("unknown contender {other:?}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (shape, nodes, workload, runs, contender) = match args.as_slice() {
        [s, n, w, r] => (s, n, w, r, "dagfut"),
        [s, n, w, r, c] => (s, n, w, r, c.as_str()),
        _ => {
            eprintln!("usage: profile <shape> <nodes> <ready|pend> <runs> [contender]");
            std::process::exit(2);
        }
    };
    let nodes: usize = nodes.parse().expect("nodes: a number");
    let runs: usize = runs.parse().expect("runs: a number");
    let shape = match shape.as_str() {
        "seed" => Shape::seed(),
        "chain" => Shape::chain(nodes),
        "wide" => Shape::wide(nodes),
        "fan_out" => Shape::fan_out(nodes),
        "layered" => Shape::layered(nodes, GRAPH_SEED),
        "layered_local" => Shape::layered_local(nodes, GRAPH_SEED),
        other => panic!("unknown shape {other:?}"),
    };
    match workload.as_str() {
        "ready" => profile::<READY>(&shape, contender, runs),
        "pend" => profile::<PEND>(&shape, contender, runs),
        other => panic!("unknown workload {other:?}"),
    }
    println!("{contender}: {} nodes, {runs} runs", shape.len());
}
