//! Every shape, both workloads, every contender: `cargo bench -p dagfut-benches --bench
//! scheduler`; `-- --test` runs each once (CI).
//!
//! Group ids are `{workload}-{shape}-{nodes}`, function ids the contenders' names: the report
//! (`benches/report.py`) reads them back from criterion's output.

// `criterion_group!` defines public functions without docs.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use dagfut_benches::node::{PEND, READY};
use dagfut_benches::suite::{Contender, Runtimes, bench_contenders, config};
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

criterion_group! {
    name = benches;
    config = config();
    targets = ready, pend_once
}
criterion_main!(benches);
