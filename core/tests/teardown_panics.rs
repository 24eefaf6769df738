//! An outside audit's cases: panics out of drops while a run ends early (fail-fast, cancel),
//! and what is left of the run future afterwards.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use dagfut::DagBuilder;
use futures_executor::block_on;
use support::{DropCounter, PanicsOnDrop, Poller, Token, Trigger};

/// A running future that borrows its input, reads it in Drop, then panics (if asked to).
struct Holder<'a> {
    input: &'a Token,
    panic: bool,
    _held: Token,
    trigger: &'a Trigger,
}
impl Future for Holder<'_> {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut wait = self.trigger.wait();
        match Pin::new(&mut wait).poll(cx) {
            Poll::Ready(()) => Poll::Ready(1),
            Poll::Pending => Poll::Pending,
        }
    }
}
impl Drop for Holder<'_> {
    fn drop(&mut self) {
        // Uses its input: it must still be there (Miri checks the reference as it is passed).
        let _ = std::hint::black_box(self.input);
        if self.panic {
            panic!("future drop");
        }
    }
}

fn holder<'a>(
    input: &'a Token,
    t: &'a DropCounter,
    trigger: &'a Trigger,
    panic: &'a bool,
) -> Holder<'a> {
    Holder {
        input,
        panic: *panic,
        _held: t.token(),
        trigger,
    }
}

/// Two running futures borrowing an output, an output that panics in Drop or a future that
/// does (one of them: a second panic while unwinding aborts, as for `Vec`), and a node that
/// fails: fail-fast drops the run inside `poll`, which panics. The rest is dropped once.
fn fail_fast_whose_teardown_panics(bomb_output: bool) {
    let tokens = DropCounter::default();
    let trigger = Trigger::default();
    let b = DagBuilder::<()>::new().with_error::<String>();
    let t = b.add_constant(tokens.clone());
    let tr = b.add_constant(trigger.clone());
    let first_panics = b.add_constant(!bomb_output);
    let no = b.add_constant(false);
    let input = b.add_node(async |t: &DropCounter| t.token(), t);
    if bomb_output {
        b.add_node(async |t: &DropCounter| PanicsOnDrop(t.token()), t);
    } else {
        b.add_node(async |t: &DropCounter| t.token(), t);
    }
    b.add_node(holder, (input, t, tr, first_panics));
    b.add_node(holder, (input, t, tr, no));
    b.add_try_node(
        async |_: &Trigger| {
            support::YieldNow::default().await;
            support::YieldNow::default().await;
            Err::<u32, _>("stop".to_string())
        },
        tr,
    );
    let dag = b.build();
    let poller = Poller::new();
    let mut run = dag.try_run(&());
    let mut panicked = false;
    for _ in 0..10 {
        match catch_unwind(AssertUnwindSafe(|| poller.poll(&mut run))) {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(r)) => panic!("ended: {:?}", r.map(|_| ())),
            Err(_) => {
                panicked = true;
                break;
            }
        }
    }
    assert!(panicked, "the teardown's panic comes out of poll");
    // input token, the second output's token, two holders' tokens: all dropped once.
    assert_eq!(tokens.dropped(), 4);
    // Polling again panics (poisoned or done), dropping does nothing more.
    assert!(catch_unwind(AssertUnwindSafe(|| poller.poll(&mut run))).is_err());
    drop(run);
    assert_eq!(tokens.dropped(), 4);
    // The DAG runs again, to the same end.
    let r = catch_unwind(AssertUnwindSafe(|| block_on(dag.try_run(&())).map(|_| ())));
    assert!(r.is_err());
    assert_eq!(tokens.dropped(), 8);
}

#[test]
fn fail_fast_whose_teardown_panics_in_a_future_drop() {
    fail_fast_whose_teardown_panics(false);
}

#[test]
fn fail_fast_whose_teardown_panics_in_an_output_drop() {
    fail_fast_whose_teardown_panics(true);
}

/// Cancelling a run whose running future panics in Drop: the other future and every output
/// are dropped once, the run block goes back.
#[test]
fn cancel_whose_teardown_panics() {
    let tokens = DropCounter::default();
    let trigger = Trigger::default();
    let b = DagBuilder::<()>::new();
    let t = b.add_constant(tokens.clone());
    let tr = b.add_constant(trigger.clone());
    let yes = b.add_constant(true);
    let no = b.add_constant(false);
    let input = b.add_node(async |t: &DropCounter| t.token(), t);
    b.add_node(holder, (input, t, tr, yes));
    b.add_node(holder, (input, t, tr, no));
    let dag = b.build();
    for round in 1..=3 {
        let poller = Poller::new();
        let mut run = dag.run(&());
        assert!(poller.poll(&mut run).is_pending());
        assert!(catch_unwind(AssertUnwindSafe(|| drop(run))).is_err());
        assert_eq!(tokens.dropped(), 3 * round);
    }
}
