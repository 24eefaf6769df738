//! The seed graph of async-dag's README on smol: `block_on`, and a spawned run.

use std::sync::Arc;
use std::time::Duration;

use dagfut::trace::Recorder;
use dagfut::{Dag, DagBuilder, Node};
use dagfut_smol::SmolClock;
use smol::Timer;

async fn inc(_name: &&'static str, delay: &Duration, n: &u32) -> u32 {
    Timer::after(*delay).await;
    n + 1
}

async fn add(_name: &&'static str, delay: &Duration, a: &u32, b: &u32) -> u32 {
    Timer::after(*delay).await;
    a + b
}

struct Seed {
    dag: Dag<u32>,
    fast_a: Node<u32>,
    end: Node<u32>,
}

/// The seed graph, its delays in multiples of `unit` (the README's: 100 ms).
fn seed(unit: Duration) -> Seed {
    let b = DagBuilder::<u32>::new();
    let (fast_a, _, end) = dagfut_tests::timed_seed_graph!(&b, unit, inc, add);
    Seed {
        dag: b.build(),
        fast_a,
        end,
    }
}

#[test]
fn seed_on_block_on() {
    let seed = seed(Duration::from_millis(5));
    let mut recorder = Recorder::new(&seed.dag, SmolClock::new());
    let out = smol::block_on(seed.dag.run(&0).with_observer(&mut recorder));
    assert_eq!((out[seed.fast_a], out[seed.end]), (1, 4));
    let trace = recorder.trace();
    // Every node ran once, each after its inputs (the recorder saw every start and end).
    assert!(
        trace
            .spans
            .iter()
            .all(|span| span.start <= span.end && span.end.is_some())
    );
    assert_eq!(smol::block_on(seed.dag.run(&10))[seed.end], 34);
}

#[test]
fn a_spawned_run_on_smols_global_executor() {
    let seed = Arc::new(seed(Duration::from_millis(1)));
    let tasks: Vec<_> = (0..4u32)
        .map(|param| {
            let seed = Arc::clone(&seed);
            // The task owns the DAG (an `Arc`) and the parameter; the run borrows both.
            smol::spawn(async move {
                let out = seed.dag.run(&param).await;
                (out[seed.fast_a], out[seed.end])
            })
        })
        .collect();
    for (param, task) in (0..4u32).zip(tasks) {
        assert_eq!(smol::block_on(task), (param + 1, 3 * param + 4));
    }
}

#[test]
fn a_leaked_dag_spawns_its_run_future_directly() {
    let seed = seed(Duration::from_millis(1));
    let dag: &'static Dag<u32> = Box::leak(Box::new(seed.dag));
    let out = smol::block_on(smol::spawn(dag.run(&0)));
    assert_eq!((out[seed.fast_a], out[seed.end]), (1, 4));
}
