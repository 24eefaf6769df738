//! The seed graph of async-dag's README on async-executor: an `Executor` run by threads (the
//! run spawned as a task), and a `LocalExecutor` (a `Local` DAG with `!Send` inputs).

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use async_executor::{Executor, LocalExecutor};
use async_io::Timer;
use dagfut::DagBuilder;

async fn inc(_name: &&'static str, delay: &Duration, n: &u32) -> u32 {
    Timer::after(*delay).await;
    n + 1
}

async fn add(_name: &&'static str, delay: &Duration, a: &u32, b: &u32) -> u32 {
    Timer::after(*delay).await;
    a + b
}

/// The seed graph on the builder `$b`, its delays in multiples of `$unit` (the README's:
/// 100 ms); gives `fast_a` and `end`.
macro_rules! seed {
    ($b:expr, $unit:expr) => {{
        let (fast_a, _, end) = dagfut_tests::timed_seed_graph!($b, $unit, inc, add);
        (fast_a, end)
    }};
}

/// Runs `test` while `threads` threads run `executor`, and stops them after.
fn with_threads<T>(executor: &Executor<'static>, threads: usize, test: impl FnOnce() -> T) -> T {
    std::thread::scope(|scope| {
        // Made in the scope, so a failing test drops `stop` (stopping the threads) before
        // the scope waits for them.
        let (stop, stopped) = async_channel::bounded::<()>(1);
        for _ in 0..threads {
            let stopped = stopped.clone();
            scope.spawn(move || async_io::block_on(executor.run(stopped.recv())));
        }
        let result = test();
        drop(stop);
        result
    })
}

#[test]
fn seed_spawned_on_an_executor_run_by_two_threads() {
    let b = DagBuilder::<u32>::new();
    let (fast_a, end) = seed!(&b, Duration::from_millis(1));
    let dag = Arc::new(b.build());
    let executor = Executor::new();
    with_threads(&executor, 2, || {
        let tasks: Vec<_> = (0..4u32)
            .map(|param| {
                let dag = Arc::clone(&dag);
                // The task owns the DAG (an `Arc`) and the parameter; the run borrows both.
                executor.spawn(async move {
                    let out = dag.run(&param).await;
                    (out[fast_a], out[end])
                })
            })
            .collect();
        for (param, task) in (0..4u32).zip(tasks) {
            assert_eq!(async_io::block_on(task), (param + 1, 3 * param + 4));
        }
    });
}

#[test]
fn seed_on_a_scoped_executor_borrowing_the_dag() {
    let b = DagBuilder::<u32>::new();
    let (fast_a, end) = seed!(&b, Duration::from_millis(1));
    let dag = b.build();
    // An `Executor<'a>` runs futures that borrow for `'a`: the run future, directly.
    let executor = Executor::new();
    let out = async_io::block_on(executor.run(executor.spawn(dag.run(&0))));
    assert_eq!((out[fast_a], out[end]), (1, 4));
}

async fn shared_len(text: &Rc<str>, n: &u32) -> u32 {
    n + text.len() as u32
}

#[test]
fn seed_on_a_local_executor_with_rc_inputs() {
    let b = dagfut::LocalDagBuilder::<u32>::new();
    let (fast_a, end) = seed!(&b, Duration::from_millis(1));
    let plus = b.add_node(shared_len, (b.add_constant(Rc::<str>::from("four")), end));
    let dag = b.build();
    let executor = LocalExecutor::new();
    let out = async_io::block_on(executor.run(executor.spawn(dag.run(&0))));
    assert_eq!((out[fast_a], out[end], out[plus]), (1, 4, 8));
}
