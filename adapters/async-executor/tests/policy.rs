//! The node-policy suite (`dagfut_tests::policy`) on async-io's timer, [`AsyncIoTimer`], on
//! real time: each check runs as a task of an `Executor` that two threads run (the clock is
//! [`StdClock`], and the suite checks only that no timer fired early), and once more on a
//! `LocalExecutor`.

use std::future::Future;

use async_executor::{Executor, LocalExecutor};
use dagfut_async_executor::{AsyncIoTimer, StdClock};
use dagfut_tests::policy;

/// Runs `check` as a task of an `Executor` run by two threads, and stops them after.
fn on_two_threads(check: impl Future<Output = ()> + Send + 'static) {
    let executor = Executor::new();
    std::thread::scope(|scope| {
        // Made in the scope, so a failing check drops `stop` (stopping the threads) before the
        // scope waits for them.
        let (stop, stopped) = async_channel::bounded::<()>(1);
        for _ in 0..2 {
            let (executor, stopped) = (&executor, stopped.clone());
            scope.spawn(move || async_io::block_on(executor.run(stopped.recv())));
        }
        async_io::block_on(executor.spawn(check));
        drop(stop);
    });
}

#[test]
fn a_timeout_then_a_retry_finishes_at_timeout_plus_backoff_plus_work() {
    on_two_threads(policy::timeout_then_retry(
        AsyncIoTimer,
        StdClock::new(),
        false,
    ));
}

#[test]
fn a_failed_optional_input_still_produces_the_page() {
    on_two_threads(policy::optional_input_fails(
        AsyncIoTimer,
        StdClock::new(),
        false,
    ));
}

#[test]
fn the_last_error_says_how_many_attempts_were_made() {
    on_two_threads(policy::retries_run_out(
        AsyncIoTimer,
        StdClock::new(),
        false,
    ));
}

#[test]
fn fallbacks_take_a_failed_nodes_place() {
    on_two_threads(policy::fallbacks(AsyncIoTimer, StdClock::new(), false));
}

#[test]
fn dropping_a_run_during_a_backoff_drops_everything_once() {
    on_two_threads(policy::drop_during_backoff(
        AsyncIoTimer,
        StdClock::new(),
        false,
    ));
}

#[test]
fn run_refuses_a_dag_with_timeouts() {
    let message = policy::run_refuses_timeouts(AsyncIoTimer);
    assert!(message.contains("try_run"), "{message}");
}

/// The whole suite on a `LocalExecutor`, the run's future on the thread that blocks on it.
#[test]
fn the_suite_on_a_local_executor() {
    let executor = LocalExecutor::new();
    async_io::block_on(executor.run(policy::all(AsyncIoTimer, StdClock::new(), false)));
}
