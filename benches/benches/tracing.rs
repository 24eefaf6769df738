//! What the `tracing` feature costs: a ready chain of 1,000 nodes and the seed graph, run by
//! dagfut built without the feature (`tracing-off`), and with it under a subscriber that enables
//! every span and records nothing (`tracing-on`: the instrumentation's own cost).
//!
//! ```text
//! cargo bench -p dagfut-benches --bench tracing                      # tracing-off
//! cargo bench -p dagfut-benches --bench tracing --features tracing   # tracing-on
//! ```

// `criterion_group!` defines public functions without docs.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dagfut::{Dag, DagBuilder, Node};

async fn inc(n: &u64) -> u64 {
    n + 1
}

async fn add(a: &u64, b: &u64) -> u64 {
    a + b
}

fn chain(len: usize) -> (Dag<u64>, Node<u64>) {
    let b = DagBuilder::<u64>::new();
    let mut last = b.add_node(inc, b.param());
    for _ in 1..len {
        last = b.add_node(inc, last);
    }
    (b.build(), last)
}

fn seed() -> (Dag<u64>, Node<u64>) {
    let b = DagBuilder::<u64>::new();
    let fast_a = b.add_node(inc, b.param());
    let slow_b = b.add_node(inc, fast_a);
    let slow_a = b.add_node(inc, b.param());
    let fast_b = b.add_node(inc, b.param());
    let fast_c = b.add_node(add, (slow_a, fast_b));
    let end = b.add_node(add, (fast_c, slow_b));
    (b.build(), end)
}

/// A subscriber that enables every span and event and keeps nothing.
#[cfg(feature = "tracing")]
struct EnabledNoop;

#[cfg(feature = "tracing")]
impl tracing::Subscriber for EnabledNoop {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn group() -> &'static str {
    if cfg!(feature = "tracing") {
        "tracing-on"
    } else {
        "tracing-off"
    }
}

fn spans(c: &mut Criterion) {
    #[cfg(feature = "tracing")]
    tracing::subscriber::set_global_default(EnabledNoop).expect("the only subscriber");
    let mut group = c.benchmark_group(group());
    for (name, (dag, last), nodes) in [("chain-1000", chain(1000), 1000), ("seed", seed(), 6)] {
        group.throughput(Throughput::Elements(nodes));
        group.bench_function(name, |bench| {
            bench.iter(|| futures_executor::block_on(dag.run(&1))[last]);
        });
    }
    group.finish();
}

criterion_group!(benches, spans);
criterion_main!(benches);
