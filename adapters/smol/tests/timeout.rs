//! Per-node timeouts on smol's timer. A node that overruns sleeps an hour against a deadline
//! of milliseconds, so no result depends on how fast the machine is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dagfut::{DagBuilder, DagError};
use dagfut_smol::Timeout;
use dagfut_tests::DropFlag;
use smol::Timer;

const DEADLINE: Duration = Duration::from_millis(20);
const HOUR: Duration = Duration::from_secs(3600);

async fn maybe_slow(delay: &Duration) -> Result<Duration, Timeout> {
    let work = async {
        Timer::after(*delay).await;
        *delay
    };
    dagfut_smol::timeout("maybe_slow", DEADLINE, work).await
}

async fn endless(dropped: &Arc<AtomicBool>) -> u32 {
    let _guard = DropFlag(Arc::clone(dropped));
    Timer::after(HOUR).await;
    0
}

#[test]
fn a_node_within_its_deadline_completes() {
    let b = DagBuilder::<Duration>::new().with_error::<Timeout>();
    let n = b.add_try_node(maybe_slow, b.param());
    let dag = b.build();
    let out = smol::block_on(dag.try_run(&Duration::ZERO)).unwrap();
    assert_eq!(out[n], Duration::ZERO);
}

#[test]
fn an_overrunning_node_fails_the_run_and_drops_the_others() {
    let b = DagBuilder::<Duration>::new().with_error::<Timeout>();
    let dropped = Arc::new(AtomicBool::new(false));
    b.named("slow").add_try_node(maybe_slow, b.param());
    b.add_node(endless, b.add_constant(Arc::clone(&dropped)));
    let dag = b.build();
    let error = smol::block_on(dag.try_run(&HOUR)).unwrap_err();
    assert_eq!(error.name(), Some("slow"));
    assert_eq!(
        error.to_string(),
        "node `slow` (task #0) failed: `maybe_slow` timed out after 20ms"
    );
    let DagError::Failed { error, .. } = error else {
        panic!("a timeout is an error, not a panic")
    };
    assert_eq!(error, Timeout::new("maybe_slow", DEADLINE));
    assert!(
        dropped.load(Ordering::SeqCst),
        "fail-fast drops the running nodes"
    );
}

/// Counts the node futures dropped.
struct CountDrop(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn hour_long(dropped: &Arc<std::sync::atomic::AtomicUsize>) -> u32 {
    let _guard = CountDrop(Arc::clone(dropped));
    Timer::after(HOUR).await;
    0
}

#[test]
fn a_run_dropped_midway_drops_every_node_future() {
    let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let b = DagBuilder::<()>::new();
    let counter = b.add_constant(Arc::clone(&dropped));
    for _ in 0..3 {
        b.add_node(hour_long, counter);
    }
    let dag = b.build();
    let run = async {
        dag.run(&()).await;
        false
    };
    let give_up = async {
        Timer::after(DEADLINE).await;
        true
    };
    assert!(smol::block_on(smol::future::or(run, give_up)));
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}
