//! The scaling series: random layered DAGs (fan-in 1–4, fixed seed) of 1,000 to 1,000,000
//! ready nodes, `cargo bench -p dagfut-benches --bench scaling`. Quick mode (`-- --test`)
//! stops at 100,000; `DAGFUT_BENCH_MAX_NODES` sets another limit.
//!
//! Group `scaling`, ids `{contender}/{nodes}`: the report plots ns per node against N. The
//! extra series `dagfut_local_edges` runs the same layers and fan-ins with local edges
//! ([`Shape::layered_local`]).

// `criterion_group!` defines public functions without docs.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dagfut_benches::contenders::DagfutShape;
use dagfut_benches::node::{READY, drive};
use dagfut_benches::suite::{Contender, Runtimes, bench_contenders, config};
use dagfut_benches::{GRAPH_SEED, Shape, WAKE_SEED, XorShift, scaling_sizes};

/// The contenders of the series and the largest size each runs (the slow ones stop early to
/// keep the run short on a 2-core machine).
const SERIES: [(Contender, usize); 8] = [
    (Contender::Dagfut, usize::MAX),
    (Contender::PollLoopFloor, usize::MAX),
    (Contender::FlatJoin, usize::MAX),
    (Contender::FuturesUnordered, usize::MAX),
    (Contender::JoinAllPerLayer, usize::MAX),
    (Contender::JoinSetCurrentThread, 100_000),
    (Contender::AsyncDag, 100_000),
    (Contender::Dagx, 10_000),
];

fn scaling(c: &mut Criterion) {
    let runtimes = Runtimes::new();
    let mut group = c.benchmark_group("scaling");
    for nodes in scaling_sizes() {
        let shape = Shape::layered(nodes, GRAPH_SEED);
        let contenders: Vec<Contender> = SERIES
            .iter()
            .filter(|(_, max)| nodes <= *max)
            .map(|(contender, _)| *contender)
            .collect();
        bench_contenders::<READY>(&mut group, &shape, Some(nodes), &contenders, &runtimes);

        // The same layers and fan-ins with local edges: how much of dagfut's cost per node at
        // large N is scattered memory access rather than work.
        let local = DagfutShape::build::<READY>(&Shape::layered_local(nodes, GRAPH_SEED));
        let mut random = XorShift::new(WAKE_SEED);
        group.bench_function(format!("dagfut_local_edges/{nodes}"), |b| {
            b.iter(|| black_box(drive(local.dag.run(&1), &mut random)[local.last]))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = scaling
}
criterion_main!(benches);
