//! Fallible nodes: fail-fast, settling, caller cancellation, panics, reuse after failure.

mod support;

use std::fmt;

use dagfut::{DagBuilder, DagError, OutputError};
use futures_util::future::{Either, select};
use support::{Clock, DropCounter, Token, block_on};

#[derive(Debug, Clone, PartialEq)]
struct Refused(&'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused: {}", self.0)
    }
}

impl std::error::Error for Refused {}

#[derive(Clone, Default)]
struct World {
    clock: Clock,
    dropped: DropCounter,
}

/// Sleeps `delay` ms (holding a token while it runs), then succeeds with `n + 1`.
async fn slow_ok(delay: &u64, n: &u32, world: &World) -> Result<u32, Refused> {
    let _running = world.dropped.token();
    world.clock.sleep(*delay).await;
    Ok(n + 1)
}

/// Sleeps `delay` ms, then fails.
async fn slow_err(delay: &u64, world: &World) -> Result<u32, Refused> {
    let _running = world.dropped.token();
    world.clock.sleep(*delay).await;
    Err(Refused("bad input"))
}

async fn plain_inc(n: &u32) -> u32 {
    n + 1
}

#[test]
fn fail_fast_returns_at_the_first_error_and_drops_every_running_future() {
    let world = World::default();
    let b = DagBuilder::<u32>::new().with_error::<Refused>();
    let w = b.add_constant(world.clone());
    let slow = b.add_try_node(slow_ok, (b.add_constant(1000), b.param(), w));
    let bad = b
        .named("bad")
        .add_try_node(slow_err, (b.add_constant(100), w));
    b.add_node(plain_inc, bad); // never starts
    b.add_node(plain_inc, slow); // never starts
    let dag = b.build();

    let error = block_on(&world.clock, dag.try_run(&0)).unwrap_err();
    // The run ends at 100 ms, when `bad` fails, not at 1000 ms.
    assert_eq!(world.clock.now(), 100);
    assert_eq!(error.node(), bad.id());
    assert_eq!(error.name(), Some("bad"));
    assert_eq!(
        error.to_string(),
        "node `bad` (task #1) failed: refused: bad input"
    );
    let source = std::error::Error::source(&error).unwrap();
    assert_eq!(source.to_string(), "refused: bad input");
    // Both futures are gone: the failed one finished, the sleeping one was dropped.
    assert_eq!(world.dropped.dropped(), 2);
    assert_eq!(error.into_error(), Some(Refused("bad input")));
}

#[test]
fn settling_lets_independent_branches_finish_and_reports_every_error_in_order() {
    let world = World::default();
    let b = DagBuilder::<u32>::new().with_error::<Refused>();
    let w = b.add_constant(world.clone());
    let ok_branch = b.add_try_node(slow_ok, (b.add_constant(500), b.param(), w));
    let after_ok = b.add_node(plain_inc, ok_branch);
    let late_bad = b.add_try_node(slow_err, (b.add_constant(300), w));
    let early_bad = b.add_try_node(slow_err, (b.add_constant(100), w));
    let skipped = b.add_node(plain_inc, early_bad);
    let skipped_too = b.add_try_node(slow_ok, (b.add_constant(1), skipped, w));
    let dag = b.build();

    let settled = block_on(&world.clock, dag.run_settled(&10));
    assert!(!settled.is_ok());
    assert_eq!(
        world.clock.now(),
        500,
        "the independent branch ran to the end"
    );
    let failed: Vec<_> = settled.errors.iter().map(DagError::node).collect();
    assert_eq!(
        failed,
        [early_bad.id(), late_bad.id()],
        "in completion order"
    );
    assert_eq!(settled.outputs[ok_branch], 11);
    assert_eq!(settled.outputs[after_ok], 12);
    for node in [skipped, skipped_too] {
        assert_eq!(
            settled.outputs.get(node),
            Err(OutputError::NotCompleted { node: node.id() })
        );
    }
    assert_eq!(settled.outputs.len(), 2);
    // Every future that started was dropped once: ok_branch, late_bad, early_bad.
    assert_eq!(world.dropped.dropped(), 3);
}

#[test]
fn a_dag_runs_normally_after_a_failure() {
    async fn check(n: &i32) -> Result<i32, String> {
        if *n < 0 {
            Err(format!("{n} is negative"))
        } else {
            Ok(n * 10)
        }
    }
    let b = DagBuilder::<i32>::new().with_error::<String>();
    let checked = b.add_try_node(check, b.param());
    let dag = b.build();
    let run = |n: i32| futures_executor::block_on(dag.try_run(&n)).map(|out| out[checked]);
    assert_eq!(run(1), Ok(10));
    assert_eq!(run(-1).unwrap_err().into_error().unwrap(), "-1 is negative");
    assert_eq!(run(3), Ok(30));
}

#[test]
fn unnamed_nodes_are_called_by_their_index() {
    async fn fail(_: &()) -> Result<(), &'static str> {
        Err("no")
    }
    let b = DagBuilder::<()>::new().with_error::<&'static str>();
    b.add_node(async |_: &()| 1u8, b.param());
    let failing = b.add_try_node(fail, b.param());
    let dag = b.build();
    let error = futures_executor::block_on(dag.try_run(&())).unwrap_err();
    assert_eq!(error.to_string(), "task #1 failed: no");
    assert_eq!(error.name(), None);
    assert_eq!(dag.node_name(failing.id()), None);
}

#[test]
fn a_caller_timeout_drops_every_future_and_output_once() {
    let world = World::default();
    let outputs = DropCounter::default();
    async fn make(delay: &u64, world: &World, outputs: &DropCounter) -> Token {
        let _running = world.dropped.token();
        world.clock.sleep(*delay).await;
        outputs.token()
    }
    let b = DagBuilder::<()>::new();
    let (w, o) = (
        b.add_constant(world.clone()),
        b.add_constant(outputs.clone()),
    );
    for delay in [100, 200, 5000, 9000] {
        b.add_node(make, (b.add_constant(delay), w, o));
    }
    let dag = b.build();
    // The caller gives the run 250 ms, as `tokio::time::timeout` would.
    let clock = world.clock.clone();
    let outcome = block_on(&clock, async {
        match select(dag.run(&()), clock.sleep(250)).await {
            Either::Left(_) => "completed",
            Either::Right((_, run)) => {
                drop(run);
                "timed out"
            }
        }
    });
    assert_eq!(outcome, "timed out");
    assert_eq!(clock.now(), 250);
    assert_eq!(world.dropped.dropped(), 4, "every started future, once");
    assert_eq!(
        outputs.dropped(),
        2,
        "the two outputs made before the timeout, once"
    );
}

#[cfg(panic = "unwind")]
mod panics {
    use super::*;

    async fn explode(_: &()) -> Result<u32, Refused> {
        panic!("node exploded")
    }

    #[test]
    fn caught_panics_become_errors_naming_the_node() {
        let world = World::default();
        let b = DagBuilder::<()>::new().with_error::<Refused>();
        let w = b.add_constant(world.clone());
        b.add_try_node(slow_ok, (b.add_constant(1000), b.add_constant(1), w));
        let boom = b.named("boom").add_try_node(explode, b.param());
        let dag = b.build();

        let error = block_on(&world.clock, dag.try_run(&()).catch_panics()).unwrap_err();
        assert!(
            matches!(&error, DagError::Panicked { node, message, .. }
                if *node == boom.id() && message == "node exploded"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "node `boom` (task #1) panicked: node exploded"
        );
        assert_eq!(world.dropped.dropped(), 1, "the sleeping node was dropped");
        assert_eq!(world.clock.now(), 0);

        // Settling: the panic skips only the node's descendants.
        let settled = block_on(&world.clock, dag.run_settled(&()).catch_panics());
        assert_eq!(settled.errors.len(), 1);
        assert_eq!(settled.outputs.len(), 1);
    }

    #[test]
    fn uncaught_panics_propagate_out_of_try_run() {
        let b = DagBuilder::<()>::new().with_error::<Refused>();
        b.add_try_node(explode, b.param());
        let dag = b.build();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures_executor::block_on(dag.try_run(&()))
        }));
        assert!(result.is_err());
    }
}
