//! Every contender computes the same last output on every shape, in every workload.

use dagfut_benches::contenders::{
    DagfutShape, FloorInputs, Plan, chain_await_loop, poll_each_once, seed_nested_join,
};
use std::future::Future;
use std::sync::Arc;
use std::task::Waker;

use dagfut_benches::node::{
    COUNT, CountingWaker, PEND, READY, drive, drive_with, polls, reset_polls,
};
use dagfut_benches::peers::{AsyncDagShape, DagxShape};
use dagfut_benches::{Shape, XorShift};

fn shapes() -> Vec<Shape> {
    vec![
        Shape::seed(),
        Shape::chain(1),
        Shape::chain(100),
        Shape::wide(100),
        Shape::fan_out(100),
        Shape::layered(1_000, 3),
    ]
}

#[test]
fn contenders_agree() {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut random = XorShift::new(1);
    for shape in shapes() {
        let expected = shape.expected_last(1);
        let plan = Plan::new(&shape);
        let ready = DagfutShape::build::<READY>(&shape);
        let pend = DagfutShape::build::<PEND>(&shape);
        assert_eq!(drive(ready.run(1), &mut random), expected, "{}", shape.name);
        assert_eq!(drive(pend.run(1), &mut random), expected, "{}", shape.name);
        for layer in [
            drive(plan.join_all_per_layer::<READY>(1), &mut random),
            drive(plan.join_all_per_layer::<PEND>(1), &mut random),
        ] {
            assert_eq!(layer, expected, "{}", shape.name);
        }
        // The floors of the shapes they fit: a loop of `.await`s for a chain, the nested
        // `join!` for the seed graph.
        if shape.name == "chain" {
            let n = shape.len();
            assert_eq!(
                drive(chain_await_loop::<READY>(n, 1), &mut random),
                expected
            );
            assert_eq!(drive(chain_await_loop::<PEND>(n, 1), &mut random), expected);
        }
        if shape.name == "seed" {
            assert_eq!(drive(seed_nested_join::<READY>(1), &mut random), expected);
            assert_eq!(drive(seed_nested_join::<PEND>(1), &mut random), expected);
        }
        let unordered = drive(plan.futures_unordered::<PEND>(1), &mut random);
        assert_eq!(unordered, expected, "{}", shape.name);
        assert_eq!(tokio.block_on(plan.joinset::<READY>(1)), expected);
        // Without edges every input is the parameter 1: the last node outputs its input count
        // plus one (a root: 1 + 1).
        let arity = shape.inputs.last().map_or(0, Vec::len).max(1) as u64;
        let flat = drive(plan.flat_join::<PEND>(1), &mut random);
        assert_eq!(flat, arity + 1, "{}", shape.name);
        let floor = poll_each_once(&mut plan.boxed_futures(&FloorInputs::new(&plan, 1)));
        assert_eq!(floor, arity + 1, "{}", shape.name);
        if DagxShape::supports(&shape) {
            let dagx = DagxShape::build(&shape, 1);
            assert_eq!(tokio.block_on(dagx.run()), expected, "{}", shape.name);
        }
        if AsyncDagShape::supports(&shape) {
            let graph = AsyncDagShape::build::<PEND>(&shape, 1);
            assert_eq!(drive(graph.run(), &mut random), expected, "{}", shape.name);
        }
    }
}

#[test]
fn dagfut_polls_each_node_once_per_wake() {
    let shape = Shape::layered(1_000, 3);
    let mut random = XorShift::new(1);
    let ready = DagfutShape::build::<{ READY | COUNT }>(&shape);
    reset_polls();
    drive(ready.run(1), &mut random);
    assert_eq!(polls(), 1_000);
    let pend = DagfutShape::build::<{ PEND | COUNT }>(&shape);
    reset_polls();
    drive(pend.run(1), &mut random);
    assert_eq!(polls(), 2_000);
}

/// The floors and the per-layer join poll every node once per start or wake: none is skipped
/// (the await loop is not folded into one addition, see `node::Work`).
#[test]
fn floors_and_per_layer_join_poll_each_node_once_per_wake() {
    let mut random = XorShift::new(1);
    let plan = Plan::new(&Shape::chain(100));
    for pend in [false, true] {
        let polls_per_node = if pend { 2 } else { 1 };
        reset_polls();
        if pend {
            drive(chain_await_loop::<{ PEND | COUNT }>(100, 1), &mut random);
        } else {
            drive(chain_await_loop::<{ READY | COUNT }>(100, 1), &mut random);
        }
        assert_eq!(polls(), 100 * polls_per_node, "await loop, pend: {pend}");
        reset_polls();
        if pend {
            drive(plan.join_all_per_layer::<{ PEND | COUNT }>(1), &mut random);
        } else {
            drive(plan.join_all_per_layer::<{ READY | COUNT }>(1), &mut random);
        }
        assert_eq!(
            polls(),
            100 * polls_per_node,
            "per-layer join, pend: {pend}"
        );
    }
    reset_polls();
    drive(seed_nested_join::<{ PEND | COUNT }>(1), &mut random);
    assert_eq!(polls(), 12, "nested join!, pend");
}

/// Runs `future` under `waker` (a waker of `counter`): it must output `expected`, wake the
/// task through `waker` at least once, and keep no clone of it afterwards.
fn check_under<F: Future<Output = u64>>(
    name: &str,
    future: F,
    expected: u64,
    (waker, counter): (&Waker, &Arc<CountingWaker>),
    random: &mut XorShift,
) {
    let before = counter.wakes();
    assert_eq!(drive_with(future, random, waker), expected, "{name}");
    assert!(
        counter.wakes() > before,
        "{name} never woke the task's waker"
    );
    // `waker` and `counter` themselves.
    assert_eq!(
        Arc::strong_count(counter),
        2,
        "{name} kept a clone of the task's waker"
    );
}

/// The `pend_arc` benchmarks: under an `Arc` task waker instead of the no-op one, the
/// pend-once contenders compute the same outputs, and each one's wakes reach the task through
/// that waker (it is what they run under), keeping no clone of it after the run.
#[test]
fn contenders_agree_under_an_arc_task_waker() {
    let (waker, counter) = CountingWaker::new_waker();
    let under = (&waker, &counter);
    let mut random = XorShift::new(1);
    for shape in shapes() {
        let expected = shape.expected_last(1);
        let plan = Plan::new(&shape);
        let dag = DagfutShape::build::<PEND>(&shape);
        check_under("dagfut", dag.run(1), expected, under, &mut random);
        let layers = plan.join_all_per_layer::<PEND>(1);
        check_under("per-layer join", layers, expected, under, &mut random);
        let unordered = plan.futures_unordered::<PEND>(1);
        check_under("FuturesUnordered", unordered, expected, under, &mut random);
        let arity = shape.inputs.last().map_or(0, Vec::len).max(1) as u64;
        let flat = plan.flat_join::<PEND>(1);
        check_under("flat join", flat, arity + 1, under, &mut random);
        if shape.name == "chain" {
            let chain = chain_await_loop::<PEND>(shape.len(), 1);
            check_under("await loop", chain, expected, under, &mut random);
        }
        if shape.name == "seed" {
            let nested = seed_nested_join::<PEND>(1);
            check_under("nested join!", nested, expected, under, &mut random);
            let dag = dagfut_benches::contenders::seed_dag_macro::<PEND>();
            let run = async { dag.run(&1).await.0 };
            check_under("dag!", run, expected, under, &mut random);
        }
    }
}
