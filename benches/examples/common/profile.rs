//! What the `profile` and `profile_arc` examples share: their arguments, and the table of
//! contenders each runs through its own driver. (Two binaries: a second driver in one would
//! change how the compiler lays out the runs the first measures, and with them its counts.)

use dagfut_benches::{GRAPH_SEED, Shape};

/// The command line: shape, nodes (ignored for `seed`), workload, runs, and the contender
/// (`dagfut` unless named).
pub(crate) struct Args {
    pub(crate) shape: Shape,
    pub(crate) workload: String,
    pub(crate) runs: usize,
    pub(crate) contender: String,
}

/// Reads the command line; `workloads` are the ones this binary runs.
pub(crate) fn args(workloads: &str) -> Args {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (shape, nodes, workload, runs, contender) = match args.as_slice() {
        [s, n, w, r] => (s, n, w, r, "dagfut"),
        [s, n, w, r, c] => (s, n, w, r, c.as_str()),
        _ => {
            eprintln!("usage: profile <shape> <nodes> <{workloads}> <runs> [contender]");
            std::process::exit(2);
        }
    };
    let nodes: usize = nodes.parse().expect("nodes: a number");
    let shape = match shape.as_str() {
        "seed" => Shape::seed(),
        "chain" => Shape::chain(nodes),
        "wide" => Shape::wide(nodes),
        "fan_out" => Shape::fan_out(nodes),
        "layered" => Shape::layered(nodes, GRAPH_SEED),
        "layered_local" => Shape::layered_local(nodes, GRAPH_SEED),
        other => panic!("unknown shape {other:?}"),
    };
    Args {
        shape,
        workload: workload.clone(),
        runs: runs.parse().expect("runs: a number"),
        contender: contender.to_owned(),
    }
}

/// Runs `$contender` on `$shape` in mode `$mode`, each run through `$repeat`: one uncounted
/// run, then `$runs`.
macro_rules! profile {
    ($repeat:ident, $mode:expr, $shape:expr, $contender:expr, $runs:expr) => {{
        const M: u8 = $mode;
        let (shape, runs): (&Shape, usize) = ($shape, $runs);
        let expected = shape.expected_last(1);
        match $contender {
            "dagfut" => {
                let dag = DagfutShape::build::<M>(shape);
                $repeat(runs, expected, || dag.run(1));
            }
            "await_loop" => {
                assert_eq!(shape.name, "chain", "await_loop runs chains only");
                $repeat(runs, expected, || chain_await_loop::<M>(shape.len(), 1));
            }
            "nested_join" => {
                assert_eq!(shape.name, "seed", "nested_join runs the seed graph only");
                $repeat(runs, expected, || seed_nested_join::<M>(1));
            }
            "dag_macro" => {
                assert_eq!(shape.name, "seed", "dag_macro runs the seed graph only");
                let dag = seed_dag_macro::<M>();
                $repeat(runs, expected, || async { dag.run(&1).await.0 });
            }
            "join_all_per_layer" => {
                let plan = Plan::new(shape);
                $repeat(runs, expected, || plan.join_all_per_layer::<M>(1));
            }
            "futures_buffered_flat" => {
                let plan = Plan::new(shape);
                // Without edges every input is the parameter: the last node outputs its input
                // count plus one (a root: 1 + 1).
                let arity = shape.inputs.last().map_or(0, Vec::len).max(1) as u64;
                $repeat(runs, arity + 1, || plan.flat_join::<M>(1));
            }
            other => panic!("unknown contender {other:?}"),
        }
    }};
}
