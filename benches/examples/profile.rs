//! Runs one shape with dagfut a given number of times, for a profiler that counts
//! instructions and simulated cache misses instead of timing (the machines here are shared
//! and noisy; these counts are exact and repeatable):
//!
//! ```text
//! cargo build --release -p dagfut-benches --example profile
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/profile layered 100000 ready 0
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/profile layered 100000 ready 5
//! ```
//!
//! The difference between the two counts, divided by the runs and the nodes, is the cost of a
//! run per node: building the DAG and the first run are the same in both.
//!
//! Arguments: shape (`seed`, `chain`, `wide`, `fan_out`, `layered`, `layered_local`), nodes,
//! workload (`ready` or `pend`), runs.

use dagfut_benches::contenders::DagfutShape;
use dagfut_benches::node::{PEND, READY, drive};
use dagfut_benches::{GRAPH_SEED, Shape, WAKE_SEED, XorShift};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [shape, nodes, workload, runs] = args.as_slice() else {
        eprintln!("usage: profile <shape> <nodes> <ready|pend> <runs>");
        std::process::exit(2);
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
    let dag = match workload.as_str() {
        "ready" => DagfutShape::build::<READY>(&shape),
        "pend" => DagfutShape::build::<PEND>(&shape),
        other => panic!("unknown workload {other:?}"),
    };
    let mut random = XorShift::new(WAKE_SEED);
    let expected = shape.expected_last(1);
    // One run outside the counted ones: the driver's buffers grow to size here.
    assert_eq!(drive(dag.run(1), &mut random), expected);
    for _ in 0..runs {
        assert_eq!(drive(dag.run(1), &mut random), expected);
    }
    println!("{} nodes, {runs} runs", shape.len());
}
