//! The node-policy suite (`dagfut_tests::policy`) on smol's timer, [`SmolTimer`], on real
//! time: the clock is [`SmolClock`], and the suite checks only that no timer fired early.

use dagfut_smol::{SmolClock, SmolTimer};
use dagfut_tests::policy;

#[test]
fn a_timeout_then_a_retry_finishes_at_timeout_plus_backoff_plus_work() {
    smol::block_on(policy::timeout_then_retry(
        SmolTimer,
        SmolClock::new(),
        false,
    ));
}

#[test]
fn a_failed_optional_input_still_produces_the_page() {
    smol::block_on(policy::optional_input_fails(
        SmolTimer,
        SmolClock::new(),
        false,
    ));
}

#[test]
fn the_last_error_says_how_many_attempts_were_made() {
    smol::block_on(policy::retries_run_out(SmolTimer, SmolClock::new(), false));
}

#[test]
fn fallbacks_take_a_failed_nodes_place() {
    smol::block_on(policy::fallbacks(SmolTimer, SmolClock::new(), false));
}

#[test]
fn dropping_a_run_during_a_backoff_drops_everything_once() {
    smol::block_on(policy::drop_during_backoff(
        SmolTimer,
        SmolClock::new(),
        false,
    ));
}

#[test]
fn run_refuses_a_dag_with_timeouts() {
    let message = policy::run_refuses_timeouts(SmolTimer);
    assert!(message.contains("try_run"), "{message}");
}

/// The whole suite as a task of smol's global executor: `SmolTimer`'s sleeps are `Send`.
#[test]
fn the_suite_in_a_spawned_task() {
    smol::block_on(smol::spawn(policy::all(SmolTimer, SmolClock::new(), false)));
}
