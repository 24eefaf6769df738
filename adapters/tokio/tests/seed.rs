//! The seed graph of async-dag's README on tokio: current-thread with paused time (exact
//! virtual timings), and multi-thread with the run spawned as a task.

use std::sync::Arc;
use std::time::Duration;

use dagfut::trace::Recorder;
use dagfut::{Dag, DagBuilder, Node};
use dagfut_tokio::TokioClock;
use tokio::time::Instant;

async fn inc(_name: &&'static str, delay: &Duration, n: &u32) -> u32 {
    tokio::time::sleep(*delay).await;
    n + 1
}

async fn add(_name: &&'static str, delay: &Duration, a: &u32, b: &u32) -> u32 {
    tokio::time::sleep(*delay).await;
    a + b
}

struct Seed {
    dag: Dag<u32>,
    fast_a: Node<u32>,
    slow_b: Node<u32>,
    end: Node<u32>,
}

/// The seed graph, its delays in multiples of `unit` (the README's: 100 ms).
fn seed(unit: Duration) -> Seed {
    let b = DagBuilder::<u32>::new();
    let (fast_a, slow_b, end) = dagfut_tests::timed_seed_graph!(&b, unit, inc, add);
    Seed {
        dag: b.build(),
        fast_a,
        slow_b,
        end,
    }
}

#[tokio::test(start_paused = true)]
async fn seed_on_current_thread_takes_the_critical_path_exactly() {
    let seed = seed(Duration::from_millis(100));
    let started = Instant::now();
    let mut recorder = Recorder::new(&seed.dag, TokioClock::new());
    let out = seed.dag.run(&0).with_observer(&mut recorder).await;
    assert_eq!((out[seed.fast_a], out[seed.end]), (1, 4));
    // fast_a (100 ms) → slow_b (1000 ms) → end (100 ms): one join per layer would take 1700.
    assert_eq!(started.elapsed(), Duration::from_millis(1200));

    let trace = recorder.trace();
    assert_eq!(trace.critical_path().names(), ["fast_a", "slow_b", "end"]);
    let slow_b = &trace.spans[1];
    assert_eq!(slow_b.name, "slow_b");
    // slow_b starts the moment fast_a is done, not when the slower slow_a is.
    assert_eq!(slow_b.start, Some(Duration::from_millis(100)));
    assert_eq!(slow_b.end, Some(Duration::from_millis(1100)));
}

#[tokio::test(start_paused = true)]
async fn the_same_dag_runs_again_and_concurrently() {
    let seed = seed(Duration::from_millis(100));
    let started = Instant::now();
    let (zero, ten) = tokio::join!(seed.dag.run(&0), seed.dag.run(&10));
    assert_eq!((zero[seed.end], ten[seed.end]), (4, 34));
    assert_eq!(started.elapsed(), Duration::from_millis(1200));
    assert_eq!(seed.dag.run(&1).await[seed.slow_b], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_run_on_the_multi_thread_runtime() {
    let seed = Arc::new(seed(Duration::from_millis(1)));
    let handles: Vec<_> = (0..4u32)
        .map(|param| {
            let seed = Arc::clone(&seed);
            // The task owns the DAG (an `Arc`) and the parameter; the run borrows both.
            tokio::spawn(async move {
                let out = seed.dag.run(&param).await;
                (out[seed.fast_a], out[seed.end])
            })
        })
        .collect();
    for (param, handle) in (0..4u32).zip(handles) {
        assert_eq!(handle.await.unwrap(), (param + 1, 3 * param + 4));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_dag_spawns_its_run_future_directly() {
    let seed = seed(Duration::from_millis(1));
    let dag: &'static Dag<u32> = Box::leak(Box::new(seed.dag));
    // `DagFuture` is `Send` for the `Sendable` flavour: it can be spawned as it is.
    let out = tokio::spawn(dag.run(&0)).await.unwrap();
    assert_eq!((out[seed.fast_a], out[seed.end]), (1, 4));
}

#[test]
fn a_cooperative_run_on_a_runtime_built_by_hand() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let seed = seed(Duration::from_millis(1));
    let out = runtime.block_on(dagfut_tokio::cooperative(seed.dag.run(&0)));
    assert_eq!((out[seed.fast_a], out[seed.end]), (1, 4));
}
