//! `examples/profile.rs`'s pend-once runs under a task waker that costs what an executor's
//! costs at the least (a counting `Arc`, as the `pend_arc` benchmark groups), instead of the
//! no-op one, for the same instruction counts:
//!
//! ```text
//! cargo build --release -p dagfut-benches --example profile_arc
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/profile_arc chain 1000 pend_arc 0
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/profile_arc chain 1000 pend_arc 200
//! ```
//!
//! Arguments as `profile`'s, with the one workload `pend_arc`.

use std::future::Future;

use dagfut_benches::contenders::{
    DagfutShape, Plan, chain_await_loop, seed_dag_macro, seed_nested_join,
};
use dagfut_benches::node::{CountingWaker, PEND, drive_with};
use dagfut_benches::{Shape, WAKE_SEED, XorShift};

#[macro_use]
#[path = "common/profile.rs"]
mod common;

/// Runs `run` once outside the counted runs, then `runs` times, checking each output, each
/// run polled under one counting `Arc` task waker, which must have been woken.
fn repeat<F: Future<Output = u64>>(runs: usize, expected: u64, mut run: impl FnMut() -> F) {
    let (waker, counter) = CountingWaker::new_waker();
    let mut random = XorShift::new(WAKE_SEED);
    assert_eq!(
        drive_with(run(), &mut random, &waker),
        expected,
        "a wrong output"
    );
    for _ in 0..runs {
        assert_eq!(
            drive_with(run(), &mut random, &waker),
            expected,
            "a wrong output"
        );
    }
    assert!(counter.wakes() > 0, "the task's waker was never woken");
}

fn main() {
    let common::Args {
        shape,
        workload,
        runs,
        contender,
    } = common::args("pend_arc");
    assert_eq!(
        workload, "pend_arc",
        "profile_arc runs the workload pend_arc only"
    );
    profile!(repeat, PEND, &shape, contender.as_str(), runs);
    println!("{contender}: {} nodes, {runs} runs", shape.len());
}
