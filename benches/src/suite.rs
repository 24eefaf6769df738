//! The contenders as criterion benchmarks, shared by the bench binaries.
//!
//! The bench binaries (`benches/scheduler.rs`, `benches/scaling.rs`) pick shapes and
//! contenders; this module runs them.

use std::hint::black_box;
use std::time::Duration;

use crate::contenders::{
    DagfutShape, FloorInputs, Plan, chain_await_loop, poll_each_once, seed_dag_macro,
    seed_nested_join,
};
use std::task::Waker;

use crate::node::{PEND, READY, drive_with};
use crate::peers::{AsyncDagShape, DagxShape};
use crate::{Shape, WAKE_SEED, XorShift};
use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput};

/// Short defaults, so a plain `cargo bench -p dagfut-benches` is already quick on a small
/// machine; command-line options override them.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

/// Everything that can run a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    /// A dagfut run.
    Dagfut,
    /// Nested `join!`s shaped by hand: the seed graph's floor (the seed graph only).
    NestedJoin,
    /// The seed graph as a `dagfut::dag!`, fixed at compile time (the seed graph only).
    DagMacro,
    /// A loop of `.await`s in one future: a chain's floor (chains only).
    AwaitLoop,
    /// One plain `join_all` per layer, of one `async fn` per node (no wrapping, no boxing).
    JoinAllPerLayer,
    /// A hand-scheduled `FuturesUnordered` with dependency counters.
    FuturesUnordered,
    /// futures-buffered's `join_all` over the same futures without edges.
    FlatJoin,
    /// One poll of each of N prebuilt boxed futures (ready workload only).
    PollLoopFloor,
    /// A tokio task per node on a current-thread runtime (ready workload only).
    JoinSetCurrentThread,
    /// A tokio task per node on a 2-worker runtime (ready workload only).
    JoinSetMultiThread,
    /// The `dagx` crate (ready workload only; tokio current-thread spawner).
    Dagx,
    /// The `async_dag` crate.
    AsyncDag,
}

impl Contender {
    /// The name in benchmark ids and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Contender::Dagfut => "dagfut",
            Contender::NestedJoin => "nested_join",
            Contender::DagMacro => "dag_macro",
            Contender::AwaitLoop => "await_loop",
            Contender::JoinAllPerLayer => "join_all_per_layer",
            Contender::FuturesUnordered => "futures_unordered",
            Contender::FlatJoin => "futures_buffered_flat",
            Contender::PollLoopFloor => "poll_loop_floor",
            Contender::JoinSetCurrentThread => "joinset_current_thread",
            Contender::JoinSetMultiThread => "joinset_multi_thread",
            Contender::Dagx => "dagx",
            Contender::AsyncDag => "async_dag",
        }
    }

    /// Every contender, in report order.
    pub const ALL: [Contender; 12] = [
        Contender::Dagfut,
        Contender::NestedJoin,
        Contender::DagMacro,
        Contender::AwaitLoop,
        Contender::JoinAllPerLayer,
        Contender::FuturesUnordered,
        Contender::FlatJoin,
        Contender::PollLoopFloor,
        Contender::JoinSetCurrentThread,
        Contender::JoinSetMultiThread,
        Contender::Dagx,
        Contender::AsyncDag,
    ];

    /// Whether this contender runs `shape` in mode `M`.
    pub fn runs<const M: u8>(self, shape: &Shape) -> bool {
        let ready_only = matches!(
            self,
            Contender::PollLoopFloor
                | Contender::JoinSetCurrentThread
                | Contender::JoinSetMultiThread
                | Contender::Dagx
        );
        match self {
            _ if ready_only && M & PEND != 0 => false,
            Contender::NestedJoin | Contender::DagMacro => shape.name == "seed",
            Contender::AwaitLoop => shape.name == "chain",
            Contender::Dagx => DagxShape::supports(shape),
            Contender::AsyncDag => AsyncDagShape::supports(shape),
            _ => true,
        }
    }
}

/// The tokio runtimes of the spawning contenders.
#[derive(Debug)]
pub struct Runtimes {
    current: tokio::runtime::Runtime,
    multi: tokio::runtime::Runtime,
}

impl Default for Runtimes {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtimes {
    /// A current-thread runtime and a 2-worker multi-thread runtime.
    pub fn new() -> Self {
        Runtimes {
            current: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            multi: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap(),
        }
    }
}

/// Large shapes: few samples of one iteration each, so slow contenders stay bounded.
pub fn is_large(shape: &Shape) -> bool {
    shape.len() >= 100_000
}

/// Benchmarks `contenders` (those that can) on `shape` in mode `M`, in the open `group`, under
/// the id `contender/parameter`. Checks each contender's result once first.
pub fn bench_contenders<const M: u8>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    shape: &Shape,
    parameter: Option<usize>,
    contenders: &[Contender],
    runtimes: &Runtimes,
) {
    bench_contenders_with::<M>(group, shape, parameter, contenders, runtimes, Waker::noop());
}

/// [`bench_contenders`] with `waker` as the task's waker of every contender that
/// [`drive_with`] polls (the spawning ones run on their runtimes, with their wakers).
pub fn bench_contenders_with<const M: u8>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    shape: &Shape,
    parameter: Option<usize>,
    contenders: &[Contender],
    runtimes: &Runtimes,
    waker: &Waker,
) {
    group.throughput(Throughput::Elements(shape.len() as u64));
    if is_large(shape) {
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
    }
    let expected = shape.expected_last(1);
    let mut random = XorShift::new(WAKE_SEED);
    let plan = Plan::new(shape);
    for &contender in contenders {
        if !contender.runs::<M>(shape) {
            continue;
        }
        let id = match parameter {
            Some(n) => format!("{}/{n}", contender.name()),
            None => contender.name().to_string(),
        };
        match contender {
            Contender::Dagfut => {
                let dag = DagfutShape::build::<M>(shape);
                assert_eq!(drive_with(dag.run(1), &mut random, waker), expected);
                group.bench_function(id, |b| {
                    b.iter(|| black_box(drive_with(dag.run(1), &mut random, waker)))
                });
            }
            Contender::NestedJoin => {
                assert_eq!(
                    drive_with(seed_nested_join::<M>(1), &mut random, waker),
                    expected
                );
                group.bench_function(id, |b| {
                    b.iter(|| black_box(drive_with(seed_nested_join::<M>(1), &mut random, waker)))
                });
            }
            Contender::DagMacro => {
                let dag = seed_dag_macro::<M>();
                assert_eq!(drive_with(dag.run(&1), &mut random, waker), (expected,));
                group.bench_function(id, |b| {
                    b.iter(|| black_box(drive_with(dag.run(&1), &mut random, waker)))
                });
            }
            Contender::AwaitLoop => {
                let length = shape.len();
                assert_eq!(
                    drive_with(chain_await_loop::<M>(length, 1), &mut random, waker),
                    expected
                );
                group.bench_function(id, |b| {
                    b.iter(|| {
                        black_box(drive_with(
                            chain_await_loop::<M>(length, 1),
                            &mut random,
                            waker,
                        ))
                    })
                });
            }
            Contender::JoinAllPerLayer => {
                assert_eq!(
                    drive_with(plan.join_all_per_layer::<M>(1), &mut random, waker),
                    expected
                );
                group.bench_function(id, |b| {
                    b.iter(|| {
                        black_box(drive_with(
                            plan.join_all_per_layer::<M>(1),
                            &mut random,
                            waker,
                        ))
                    })
                });
            }
            Contender::FuturesUnordered => {
                assert_eq!(
                    drive_with(plan.futures_unordered::<M>(1), &mut random, waker),
                    expected
                );
                group.bench_function(id, |b| {
                    b.iter(|| {
                        black_box(drive_with(
                            plan.futures_unordered::<M>(1),
                            &mut random,
                            waker,
                        ))
                    })
                });
            }
            Contender::FlatJoin => {
                group.bench_function(id, |b| {
                    b.iter(|| black_box(drive_with(plan.flat_join::<M>(1), &mut random, waker)))
                });
            }
            Contender::PollLoopFloor => {
                let inputs = FloorInputs::new(&plan, 1);
                group.bench_function(id, |b| {
                    b.iter_batched(
                        || plan.boxed_futures(&inputs),
                        |mut futures| {
                            black_box(poll_each_once(&mut futures));
                            futures // dropped outside the measurement
                        },
                        BatchSize::LargeInput,
                    )
                });
            }
            Contender::JoinSetCurrentThread | Contender::JoinSetMultiThread => {
                let runtime = if contender == Contender::JoinSetCurrentThread {
                    &runtimes.current
                } else {
                    &runtimes.multi
                };
                assert_eq!(runtime.block_on(plan.joinset::<READY>(1)), expected);
                group.bench_function(id, |b| {
                    b.iter(|| black_box(runtime.block_on(plan.joinset::<READY>(1))))
                });
            }
            Contender::Dagx => {
                let runtime = &runtimes.current;
                let check = DagxShape::build(shape, 1);
                assert_eq!(runtime.block_on(check.run()), expected);
                group.bench_function(id, |b| {
                    b.iter_batched(
                        || DagxShape::build(shape, 1),
                        |dag| black_box(runtime.block_on(dag.run())),
                        BatchSize::PerIteration,
                    )
                });
            }
            Contender::AsyncDag => {
                let check = AsyncDagShape::build::<M>(shape, 1);
                assert_eq!(drive_with(check.run(), &mut random, waker), expected);
                group.bench_function(id, |b| {
                    b.iter_batched(
                        || AsyncDagShape::build::<M>(shape, 1),
                        |graph| black_box(drive_with(graph.run(), &mut random, waker)),
                        BatchSize::PerIteration,
                    )
                });
            }
        }
    }
}
