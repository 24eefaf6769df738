//! The node-policy suite (`dagfut_tests::policy`) on embassy-time's timer, [`EmbassyTimer`], on
//! the host: each check runs in a task of embassy's `platform-std` executor, with the `std`
//! time driver and a generic timer queue (as `host.rs`). The clock is [`EmbassyClock`], on real
//! time: the suite checks only that no timer fired early.

use std::sync::atomic::{AtomicBool, Ordering};

use dagfut_embassy::{EmbassyClock, EmbassyTimer};
use dagfut_tests::policy;
use embassy_executor::{Executor, SpawnError, SpawnToken};

/// Runs the task of `token` on a fresh embassy executor until it sets `done`.
fn run_on_embassy<S>(token: Result<SpawnToken<S>, SpawnError>, done: &'static AtomicBool) {
    let executor = Box::leak(Box::new(Executor::new()));
    executor.run_until(
        |spawner| spawner.spawn(token.unwrap()),
        || done.load(Ordering::SeqCst),
    );
}

/// A test that runs one check of the suite in an embassy task (a task cannot be generic: one
/// per check, each with its flag).
macro_rules! on_embassy {
    ($test:ident, $task:ident, $check:ident) => {
        #[test]
        fn $test() {
            static DONE: AtomicBool = AtomicBool::new(false);
            #[embassy_executor::task]
            async fn $task() {
                policy::$check(EmbassyTimer, EmbassyClock::new(), false).await;
                DONE.store(true, Ordering::SeqCst);
            }
            run_on_embassy($task(), &DONE);
        }
    };
}

on_embassy!(
    a_timeout_then_a_retry_finishes_at_timeout_plus_backoff_plus_work,
    timeout_then_retry_task,
    timeout_then_retry
);
on_embassy!(
    a_failed_optional_input_still_produces_the_page,
    optional_input_fails_task,
    optional_input_fails
);
on_embassy!(
    the_last_error_says_how_many_attempts_were_made,
    retries_run_out_task,
    retries_run_out
);
on_embassy!(
    fallbacks_take_a_failed_nodes_place,
    fallbacks_task,
    fallbacks
);
on_embassy!(
    dropping_a_run_during_a_backoff_drops_everything_once,
    drop_during_backoff_task,
    drop_during_backoff
);

#[test]
fn run_refuses_a_dag_with_timeouts() {
    let message = policy::run_refuses_timeouts(EmbassyTimer);
    assert!(message.contains("try_run"), "{message}");
}
