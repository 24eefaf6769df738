//! Criterion benchmarks. `cargo bench -p dagfut-benches` measures;
//! `cargo bench -p dagfut-benches -- --test` runs each once (CI).

// `criterion_group!` defines a public function without docs.
#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dagfut_benches::{CountEvents, chain, layered, wide};
use futures_executor::block_on;

async fn leaf(n: u64) -> u64 {
    n
}

/// Nodes ready on their first poll, `width` of them and a sum: dagfut against the floor (one
/// poll of each of `width` prebuilt boxed futures) and `join_all` over the same work.
fn wide_ready(c: &mut Criterion) {
    let mut group = c.benchmark_group("wide_ready");
    for width in [1_000usize, 10_000] {
        group.throughput(Throughput::Elements(width as u64 + 1));
        let (dag, total) = wide(width);
        group.bench_with_input(BenchmarkId::new("dagfut", width), &width, |b, _| {
            b.iter(|| black_box(block_on(dag.run(&1))[total]))
        });
        group.bench_with_input(BenchmarkId::new("join_all", width), &width, |b, &width| {
            b.iter(|| {
                let values = block_on(futures_util::future::join_all((0..width).map(|_| leaf(1))));
                black_box(values.iter().sum::<u64>())
            })
        });
        group.bench_with_input(
            BenchmarkId::new("poll_loop_floor", width),
            &width,
            |b, &width| {
                b.iter_batched(
                    || {
                        (0..width)
                            .map(|_| Box::pin(leaf(1)) as Pin<Box<dyn Future<Output = u64>>>)
                            .collect::<Vec<_>>()
                    },
                    |mut futures| {
                        let mut cx = Context::from_waker(Waker::noop());
                        let mut total = 0u64;
                        for future in &mut futures {
                            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                                total += v;
                            }
                        }
                        black_box(total)
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }
    group.finish();
}

/// Depth: a chain of nodes, each taking the one before.
fn chain_ready(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain_ready");
    for length in [1_000usize, 100_000] {
        group.throughput(Throughput::Elements(length as u64));
        let (dag, last) = chain(length);
        group.bench_with_input(BenchmarkId::new("dagfut", length), &length, |b, _| {
            b.iter(|| black_box(block_on(dag.run(&0))[last]))
        });
    }
    group.finish();
}

/// The observer's cost: no observer, the `()` observer given explicitly (must be the same),
/// and an observer that counts every event.
fn observer(c: &mut Criterion) {
    let mut group = c.benchmark_group("observer");
    let (dag, last) = layered(20, 500);
    group.throughput(Throughput::Elements(dag.task_count() as u64));
    let probe = last[0];
    group.bench_function("none", |b| {
        b.iter(|| black_box(block_on(dag.run(&1))[probe]))
    });
    group.bench_function("unit", |b| {
        b.iter(|| black_box(block_on(dag.run(&1).with_observer(()))[probe]))
    });
    group.bench_function("counting", |b| {
        b.iter(|| {
            let mut events = CountEvents::default();
            let value = block_on(dag.run(&1).with_observer(&mut events))[probe];
            black_box((value, events.0))
        })
    });
    group.finish();
}

criterion_group!(benches, wide_ready, chain_ready, observer);
criterion_main!(benches);
