//! Per-node timeouts on tokio's timer, under paused time: exact deadlines, fail-fast runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dagfut::{DagBuilder, DagError};
use dagfut_tokio::Timeout;
use tokio::time::Instant;

async fn sleepy(delay_ms: &u64) -> Result<u64, Timeout> {
    let work = async {
        tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
        *delay_ms
    };
    dagfut_tokio::timeout("sleepy", Duration::from_millis(100), work).await
}

/// Sleeps an hour, then records that it finished.
async fn endless(finished: &Arc<AtomicBool>) -> u64 {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    finished.store(true, Ordering::SeqCst);
    0
}

async fn sum(a: &u64, b: &u64) -> u64 {
    a + b
}

#[tokio::test(start_paused = true)]
async fn a_node_within_its_deadline_completes() {
    let b = DagBuilder::<u64>::new().with_error::<Timeout>();
    let n = b.named("sleepy").add_try_node(sleepy, b.param());
    let dag = b.build();
    let started = Instant::now();
    assert_eq!(dag.try_run(&99).await.unwrap()[n], 99);
    assert_eq!(started.elapsed(), Duration::from_millis(99));
}

#[tokio::test(start_paused = true)]
async fn an_overrunning_node_fails_the_run_at_its_deadline_and_drops_the_others() {
    let b = DagBuilder::<u64>::new().with_error::<Timeout>();
    let finished = Arc::new(AtomicBool::new(false));
    let slow = b.named("slow").add_try_node(sleepy, b.param());
    let other = b
        .named("endless")
        .add_node(endless, b.add_constant(Arc::clone(&finished)));
    b.add_node(sum, (slow, other));
    let dag = b.build();

    let started = Instant::now();
    let error = dag.try_run(&500).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    assert_eq!(error.name(), Some("slow"));
    assert_eq!(
        error.to_string(),
        "node `slow` (task #0) failed: `sleepy` timed out after 100ms"
    );
    let DagError::Failed { error, .. } = error else {
        panic!("a timeout is an error, not a panic")
    };
    assert_eq!(error, Timeout::new("sleepy", Duration::from_millis(100)));
    assert_eq!(error.label(), "sleepy");
    assert_eq!(error.after(), Duration::from_millis(100));

    // The endless node was dropped with the run: an hour later it has not finished.
    tokio::time::sleep(Duration::from_secs(7200)).await;
    assert!(!finished.load(Ordering::SeqCst));
    assert_eq!(Arc::strong_count(&finished), 2); // the test's and the DAG's constant
}

#[tokio::test(start_paused = true)]
async fn settled_runs_keep_independent_branches() {
    let b = DagBuilder::<u64>::new().with_error::<Timeout>();
    let slow = b.named("slow").add_try_node(sleepy, b.add_constant(500));
    let quick = b.named("quick").add_try_node(sleepy, b.add_constant(50));
    let dag = b.build();
    let settled = dag.run_settled(&0).await;
    assert!(!settled.is_ok());
    assert_eq!(settled.errors.len(), 1);
    assert_eq!(settled.errors[0].name(), Some("slow"));
    assert_eq!(settled.outputs.get(quick), Ok(&50));
    assert!(settled.outputs.get(slow).is_err());
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
    tokio::time::sleep(Duration::from_secs(3600)).await;
    0
}

#[tokio::test(start_paused = true)]
async fn a_run_dropped_by_a_tokio_timeout_drops_every_node_future() {
    let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let b = DagBuilder::<()>::new();
    let counter = b.add_constant(Arc::clone(&dropped));
    for _ in 0..3 {
        b.add_node(hour_long, counter);
    }
    let dag = b.build();
    let cancelled = tokio::time::timeout(Duration::from_millis(150), dag.run(&())).await;
    assert!(cancelled.is_err());
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}
