//! Offloading CPU-heavy nodes to tokio's workers: results, panics, cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dagfut::DagBuilder;

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

async fn fib_blocking(n: &u64) -> u64 {
    let n = *n;
    dagfut_tokio::offload_blocking(move || fib(n)).await
}

async fn fib_task(n: &u64) -> u64 {
    let n = *n;
    dagfut_tokio::offload(async move { fib(n) }).await
}

async fn add(a: &u64, b: &u64) -> u64 {
    a + b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offloaded_nodes_feed_their_dependents() {
    let b = DagBuilder::<u64>::new();
    let left = b.add_node(fib_blocking, b.param());
    let right = b.add_node(fib_task, b.param());
    let both = b.add_node(add, (left, right));
    let dag = Arc::new(b.build());
    let shared = Arc::clone(&dag);
    let out = tokio::spawn(async move { shared.run(&20).await[both] });
    assert_eq!(out.await.unwrap(), 2 * 6765);
}

async fn panics(_: &()) -> Result<u32, String> {
    dagfut_tokio::offload(async { panic!("boom on a worker") }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_on_a_worker_is_the_nodes_panic() {
    let b = DagBuilder::<()>::new().with_error::<String>();
    b.named("panics").add_try_node(panics, b.param());
    let dag = b.build();
    let error = dag.try_run(&()).catch_panics().await.unwrap_err();
    assert_eq!(error.name(), Some("panics"));
    assert_eq!(
        error.to_string(),
        "node `panics` (task #0) panicked: boom on a worker"
    );
}

async fn offload_forever(finished: &Arc<AtomicBool>) -> Result<u32, String> {
    let finished = Arc::clone(finished);
    dagfut_tokio::offload(async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        finished.store(true, Ordering::SeqCst);
        1
    })
    .await;
    Ok(1)
}

async fn fail(_: &()) -> Result<u32, String> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    Err("failed".into())
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_aborts_its_offloaded_tasks() {
    let b = DagBuilder::<()>::new().with_error::<String>();
    let finished = Arc::new(AtomicBool::new(false));
    b.add_try_node(offload_forever, b.add_constant(Arc::clone(&finished)));
    b.named("fail").add_try_node(fail, b.param());
    let dag = b.build();
    let error = dag.try_run(&()).await.unwrap_err();
    assert_eq!(error.name(), Some("fail"));
    tokio::time::sleep(Duration::from_secs(7200)).await;
    assert!(!finished.load(Ordering::SeqCst));
}
