//! Criterion benchmarks. `cargo bench -p dagfut-benches` measures;
//! `cargo bench -p dagfut-benches -- --test` runs each once (CI).

// `criterion_group!` defines a public function without docs.
#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dagfut_benches::{CountEvents, Driver, PendOnce, chain, drive, layered, wide, wide_pending};
use futures_executor::block_on;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

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

/// Spawning a task per node (tokio `JoinSet`), the other way people run many futures, on the
/// same ready work as `wide_ready`.
fn spawn_per_node(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_per_node");
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for width in [1_000usize, 10_000] {
        group.throughput(Throughput::Elements(width as u64 + 1));
        let (dag, total) = wide(width);
        group.bench_with_input(BenchmarkId::new("dagfut", width), &width, |b, _| {
            b.iter(|| black_box(block_on(dag.run(&1))[total]))
        });
        for (name, runtime) in [
            ("joinset_current_thread", &current),
            ("joinset_multi_thread", &multi),
        ] {
            group.bench_with_input(BenchmarkId::new(name, width), &width, |b, &width| {
                b.iter(|| {
                    runtime.block_on(async {
                        let mut set = tokio::task::JoinSet::new();
                        for _ in 0..width {
                            set.spawn(leaf(1));
                        }
                        let mut total = 0u64;
                        while let Some(value) = set.join_next().await {
                            total += value.unwrap();
                        }
                        black_box(total)
                    })
                })
            });
        }
    }
    group.finish();
}

/// Nodes that return `Pending` once and are woken by a driver in a shuffled order (no timer
/// cost): dagfut against the same futures in a `FuturesUnordered` (a flat join, no edges).
fn pend_once(c: &mut Criterion) {
    let mut group = c.benchmark_group("pend_once");
    for width in [1_000usize, 10_000] {
        group.throughput(Throughput::Elements(width as u64 + 1));
        let driver = Driver::default();
        let (dag, total) = wide_pending(width, &driver);
        group.bench_with_input(BenchmarkId::new("dagfut", width), &width, |b, _| {
            let mut seed = 0x9E37_79B9_7F4A_7C15;
            b.iter(|| black_box(drive(dag.run(&1), &driver, &mut seed)[total]))
        });
        group.bench_with_input(
            BenchmarkId::new("futures_unordered", width),
            &width,
            |b, &width| {
                let mut seed = 0x9E37_79B9_7F4A_7C15;
                b.iter(|| {
                    let driver = &driver;
                    let set: FuturesUnordered<_> = (0..width)
                        .map(|_| async move {
                            PendOnce::new(driver).await;
                            1u64
                        })
                        .collect();
                    let sum = set.fold(0u64, |acc, v| async move { acc + v });
                    black_box(drive(Box::pin(sum), driver, &mut seed))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(
    benches,
    wide_ready,
    chain_ready,
    observer,
    spawn_per_node,
    pend_once
);
criterion_main!(benches);
