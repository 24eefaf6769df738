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

#[test]
fn stateful_no_std_nodes_on_another_thread_and_a_local_executor() {
    let (dag, avg) = dagfut_tests::calibrated_average(4);
    let param = 10;
    // A `Sendable` run of stateful nodes, polled on another thread.
    let value = std::thread::scope(|scope| {
        let run = dag.run(&param);
        scope
            .spawn(move || futures_executor::block_on(run)[avg])
            .join()
            .unwrap()
    });
    // Offsets 0..4 on 10: (10 + 11 + 12 + 13) / 4.
    assert_eq!(value, ("avg", 11));

    let (dag, last, calls) = dagfut_tests::counted_chain(5);
    let executor = smol::LocalExecutor::new();
    assert_eq!(smol::block_on(executor.run(dag.run(&1)))[last], 6);
    assert_eq!(calls.get(), 5);
}
