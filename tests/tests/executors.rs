//! The no_std crate's DAGs on several executors: the same results everywhere.

use dagfut_tests::{local_fan_in, seed_graph};

#[test]
fn the_seed_graph_on_futures_executor() {
    let (dag, fast_a, end) = seed_graph();
    let out = futures_executor::block_on(dag.run(&0));
    assert_eq!((out[fast_a], out[end]), (1, 4));
}

#[test]
fn the_seed_graph_on_smol() {
    let (dag, fast_a, end) = seed_graph();
    let out = smol::block_on(dag.run(&10));
    assert_eq!((out[fast_a], out[end]), (11, 34));
}

#[test]
fn the_seed_graph_on_a_thread_pool_from_another_thread() {
    let (dag, _, end) = seed_graph();
    let dag = std::sync::Arc::new(dag);
    let pool = futures_executor::ThreadPool::new().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    let shared = dag.clone();
    pool.spawn_ok(async move {
        let out = shared.run(&1).await;
        sender.send(out[end]).unwrap();
    });
    assert_eq!(receiver.recv().unwrap(), 7);
}

#[test]
fn a_local_fan_in_on_a_local_executor() {
    let (dag, sum) = local_fan_in(1000);
    let mut pool = futures_executor::LocalPool::new();
    let out = pool.run_until(dag.run(&1));
    assert_eq!(out[sum], 2000);
}
