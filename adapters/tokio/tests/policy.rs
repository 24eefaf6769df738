//! The node-policy suite (`dagfut_tests::policy`) on tokio's timer, [`TokioTimer`], under
//! paused time: the clock is [`TokioClock`], so the timings are checked to the millisecond.

use dagfut_tests::policy;
use dagfut_tokio::{TokioClock, TokioTimer};

#[tokio::test(start_paused = true)]
async fn a_timeout_then_a_retry_finishes_at_timeout_plus_backoff_plus_work() {
    policy::timeout_then_retry(TokioTimer, TokioClock::new(), true).await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_optional_input_still_produces_the_page() {
    policy::optional_input_fails(TokioTimer, TokioClock::new(), true).await;
}

#[tokio::test(start_paused = true)]
async fn the_last_error_says_how_many_attempts_were_made() {
    policy::retries_run_out(TokioTimer, TokioClock::new(), true).await;
}

#[tokio::test(start_paused = true)]
async fn fallbacks_take_a_failed_nodes_place() {
    policy::fallbacks(TokioTimer, TokioClock::new(), true).await;
}

#[tokio::test(start_paused = true)]
async fn dropping_a_run_during_a_backoff_drops_everything_once() {
    policy::drop_during_backoff(TokioTimer, TokioClock::new(), true).await;
}

#[test]
fn run_refuses_a_dag_with_timeouts() {
    let message = policy::run_refuses_timeouts(TokioTimer);
    assert!(message.contains("try_run"), "{message}");
}

/// The whole suite in a task of a multi-thread runtime, on real time: `TokioTimer`'s sleeps
/// are `Send`, and a run with policies moves between worker threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_in_a_spawned_task_on_real_time() {
    tokio::spawn(policy::all(TokioTimer, TokioClock::new(), false))
        .await
        .unwrap();
}
