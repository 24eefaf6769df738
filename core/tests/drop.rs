//! Dropping a run, panicking nodes, and pinning: every future and output dropped exactly once,
//! node futures never moved.

mod support;

use dagfut::DagBuilder;
use futures_test::future::FutureTestExt;
use support::{DropCounter, Poller, Token, Trigger, YieldNow};

#[derive(Clone, Default)]
struct Counters {
    futures: DropCounter,
    outputs: DropCounter,
}

/// Holds a token in its future until the trigger fires, then returns another as its output.
async fn tracked(trigger: &Trigger, counters: &Counters) -> Token {
    let _in_future = counters.futures.token();
    trigger.wait().await;
    counters.outputs.token()
}

async fn after(_input: &Token, trigger: &Trigger, counters: &Counters) -> Token {
    let _in_future = counters.futures.token();
    trigger.wait().await;
    counters.outputs.token()
}

#[test]
fn dropping_a_run_midway_drops_each_future_and_output_exactly_once() {
    let counters = Counters::default();
    let (open, shut) = (Trigger::default(), Trigger::default());
    open.fire();
    let b = DagBuilder::<()>::new();
    let c = b.add_constant(counters.clone());
    let (o, s) = (b.add_constant(open.clone()), b.add_constant(shut.clone()));
    // Three nodes complete at once, two stay pending, one waits for a pending node (never
    // starts), one waits for a completed node and stays pending.
    let done: Vec<_> = (0..3).map(|_| b.add_node(tracked, (o, c))).collect();
    let pending = b.add_node(tracked, (s, c));
    b.add_node(tracked, (s, c));
    b.add_node(after, (pending, o, c));
    b.add_node(after, (done[0], s, c));
    let dag = b.build();

    let mut run = dag.run(&());
    assert!(Poller::new().poll(&mut run).is_pending());
    // Completed futures were dropped the moment they completed; outputs are still held.
    assert_eq!(
        (counters.futures.dropped(), counters.outputs.dropped()),
        (3, 0)
    );
    drop(run);
    // The three pending futures are dropped, and the three outputs; nothing twice.
    assert_eq!(
        (counters.futures.dropped(), counters.outputs.dropped()),
        (6, 3)
    );
}

#[test]
fn outputs_are_dropped_with_the_outputs_except_those_taken() {
    let counters = Counters::default();
    let open = Trigger::default();
    open.fire();
    let b = DagBuilder::<()>::new();
    let (o, c) = (b.add_constant(open), b.add_constant(counters.clone()));
    let first = b.add_node(tracked, (o, c));
    b.add_node(after, (first, o, c));
    let dag = b.build();
    let mut out = futures_executor::block_on(dag.run(&()));
    assert_eq!(
        (counters.futures.dropped(), counters.outputs.dropped()),
        (2, 0)
    );
    let taken = out.take(first).unwrap();
    drop(out);
    assert_eq!(counters.outputs.dropped(), 1);
    drop(taken);
    assert_eq!(counters.outputs.dropped(), 2);
}

#[test]
fn node_futures_are_never_moved_after_their_first_poll() {
    async fn pinned(n: &u32) -> u32 {
        YieldNow::default().assert_unmoved().await;
        YieldNow::default().assert_unmoved().await;
        *n
    }
    let b = DagBuilder::<u32>::new();
    let nodes: Vec<_> = (0..16).map(|_| b.add_node(pinned, b.param())).collect();
    let chained = b.add_node(pinned, nodes[3]);
    let dag = b.build();
    let out = futures_executor::block_on(dag.run(&5));
    assert_eq!(out[chained], 5);
}

#[cfg(panic = "unwind")]
mod panics {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    async fn boom(trigger: &Trigger, counters: &Counters) -> Token {
        let _in_future = counters.futures.token();
        trigger.wait().await;
        panic!("node exploded");
    }

    #[test]
    fn a_panicking_node_propagates_and_everything_else_is_dropped_once() {
        let counters = Counters::default();
        let (open, shut, fuse) = (Trigger::default(), Trigger::default(), Trigger::default());
        open.fire();
        let b = DagBuilder::<()>::new();
        let c = b.add_constant(counters.clone());
        let (o, s, f) = (
            b.add_constant(open),
            b.add_constant(shut),
            b.add_constant(fuse.clone()),
        );
        b.add_node(tracked, (o, c)); // completes: one output
        b.add_node(tracked, (s, c)); // stays pending
        b.add_node(boom, (f, c)); // panics when the fuse fires
        let dag = b.build();

        let mut run = dag.run(&());
        let poller = Poller::new();
        assert!(poller.poll(&mut run).is_pending());
        fuse.fire();
        let panic = catch_unwind(AssertUnwindSafe(|| poller.poll(&mut run))).unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"node exploded"));
        // The panicking future's locals were dropped by the unwinding inside it.
        assert_eq!(counters.futures.dropped(), 2);
        drop(run);
        assert_eq!(
            (counters.futures.dropped(), counters.outputs.dropped()),
            (3, 1)
        );
    }

    struct PanicOnDrop {
        _token: Token,
    }
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop exploded");
        }
    }

    async fn bad_output(counters: &Counters) -> PanicOnDrop {
        PanicOnDrop {
            _token: counters.outputs.token(),
        }
    }

    #[test]
    fn a_panicking_drop_still_drops_the_rest_once() {
        let counters = Counters::default();
        let open = Trigger::default();
        open.fire();
        let b = DagBuilder::<()>::new();
        let c = b.add_constant(counters.clone());
        let o = b.add_constant(open);
        b.add_node(tracked, (o, c));
        b.add_node(bad_output, c);
        b.add_node(tracked, (o, c));
        let dag = b.build();
        let out = futures_executor::block_on(dag.run(&()));
        let panic = catch_unwind(AssertUnwindSafe(|| drop(out))).unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"drop exploded"));
        assert_eq!(counters.outputs.dropped(), 3);
    }

    #[test]
    fn a_run_survives_a_poll_that_panicked_until_dropped() {
        let b = DagBuilder::<u32>::new();
        async fn maybe_panic(n: &u32) -> u32 {
            YieldNow::default().await;
            assert!(*n != 0, "zero is refused");
            *n
        }
        let x = b.add_node(maybe_panic, b.param());
        let dag = b.build();
        let mut run = dag.run(&0);
        let poller = Poller::new();
        assert!(poller.poll(&mut run).is_pending());
        assert!(catch_unwind(AssertUnwindSafe(|| poller.poll(&mut run))).is_err());
        drop(run);
        // The DAG is fine for the next run.
        let out = futures_executor::block_on(dag.run(&2));
        assert_eq!(out[x], 2);
    }
}
