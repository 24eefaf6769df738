//! Every shape, each workload, every contender: `cargo bench -p dagfut-benches --bench
//! scheduler`; `-- --test` runs each once (CI).
//!
//! Group ids are `{workload}-{shape}-{nodes}` (workloads `ready`, `pend`, and `pend_arc`: pend
//! under an `Arc` task waker), function ids the contenders' names: the report
//! (`benches/report.py`) reads them back from criterion's output.

// `criterion_group!` defines public functions without docs.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use dagfut_benches::node::{CountingWaker, PEND, READY};
use dagfut_benches::suite::{Contender, Runtimes, bench_contenders, bench_contenders_with, config};
use dagfut_benches::{Shape, issue_shapes};

fn group_name(workload: &str, shape: &Shape) -> String {
    format!("{workload}-{}-{}", shape.name, shape.len())
}

/// Nodes ready on their first poll: the shapes of issue 5, and a chain of one node first
/// (`ready-chain-1`: the fixed cost of a run, which the report subtracts to get the marginal
/// cost per node of the other shapes).
fn ready(c: &mut Criterion) {
    let runtimes = Runtimes::new();
    for shape in std::iter::once(Shape::chain(1)).chain(issue_shapes()) {
        let mut group = c.benchmark_group(group_name("ready", &shape));
        bench_contenders::<READY>(&mut group, &shape, None, &Contender::ALL, &runtimes);
        group.finish();
    }
}

/// Nodes that return `Pending` once, woken by the driver in a shuffled order.
fn pend_once(c: &mut Criterion) {
    let runtimes = Runtimes::new();
    for shape in issue_shapes() {
        let mut group = c.benchmark_group(group_name("pend", &shape));
        bench_contenders::<PEND>(&mut group, &shape, None, &Contender::ALL, &runtimes);
        group.finish();
    }
}

/// Pend-once again, under a task waker that costs what an executor's costs at the least (an
/// `Arc`, whose wake is an atomic increment) instead of the no-op one: code that hands the
/// task's waker to its children (a `join!`) pays for its clones and wakes there, as it does
/// under any executor.
fn pend_once_arc_waker(c: &mut Criterion) {
    let runtimes = Runtimes::new();
    let (waker, _) = CountingWaker::new_waker();
    // The ready-only contenders (the spawning ones among them) drop out by themselves
    // (`Contender::runs`); async_dag is left out for the time its build per run takes.
    let contenders: Vec<Contender> = Contender::ALL
        .into_iter()
        .filter(|&contender| contender != Contender::AsyncDag)
        .collect();
    for shape in issue_shapes() {
        let mut group = c.benchmark_group(group_name("pend_arc", &shape));
        bench_contenders_with::<PEND>(&mut group, &shape, None, &contenders, &runtimes, &waker);
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = ready, pend_once, pend_once_arc_waker
}
criterion_main!(benches);
