//! The node-policy suite on a virtual clock: exact timings, no waiting (and fit for Miri).

use dagfut_tests::model::{LeakCheck, leak_checked_result};
use dagfut_tests::policy;
use dagfut_tests::virtual_time::{VirtualTimer, block_on};

/// Every check below runs under `leak_checked_result`: the attempts, timers and fallbacks a
/// policy makes must all be freed once the run and its outputs are gone.
#[global_allocator]
static ALLOCATOR: LeakCheck = LeakCheck;

fn on_virtual_time<F: Future<Output = ()>>(check: impl FnOnce(VirtualTimer) -> F) {
    let checked = leak_checked_result(|| {
        let timer = VirtualTimer::new();
        block_on(&timer, check(timer.clone()));
        Ok(())
    });
    if let Err(problem) = checked {
        panic!("{problem}");
    }
}

#[test]
fn a_timeout_then_a_retry_finishes_at_timeout_plus_backoff_plus_work() {
    on_virtual_time(|t| policy::timeout_then_retry(t.clone(), t, true));
}

#[test]
fn a_failed_optional_input_still_produces_the_page() {
    on_virtual_time(|t| policy::optional_input_fails(t.clone(), t, true));
}

#[test]
fn the_last_error_says_how_many_attempts_were_made() {
    on_virtual_time(|t| policy::retries_run_out(t.clone(), t, true));
}

#[test]
fn fallbacks_take_a_failed_nodes_place() {
    on_virtual_time(|t| policy::fallbacks(t.clone(), t, true));
}

#[test]
fn dropping_a_run_during_a_backoff_drops_everything_once() {
    on_virtual_time(|t| policy::drop_during_backoff(t.clone(), t, true));
}

#[test]
fn run_refuses_a_dag_with_timeouts() {
    let message = policy::run_refuses_timeouts(VirtualTimer::new());
    assert!(message.contains("try_run"), "{message}");
}
