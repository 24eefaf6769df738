//! Offloading CPU-heavy nodes to smol's threads: results, panics, cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dagfut::DagBuilder;
use dagfut_tests::DropFlag;
use smol::Timer;

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

async fn fib_blocking(n: &u64) -> u64 {
    let n = *n;
    dagfut_smol::offload_blocking(move || fib(n)).await
}

async fn fib_task(n: &u64) -> u64 {
    let n = *n;
    dagfut_smol::offload(async move { fib(n) }).await
}

async fn add(a: &u64, b: &u64) -> u64 {
    a + b
}

#[test]
fn offloaded_nodes_feed_their_dependents() {
    let b = DagBuilder::<u64>::new();
    let left = b.add_node(fib_blocking, b.param());
    let right = b.add_node(fib_task, b.param());
    let both = b.add_node(add, (left, right));
    let dag = b.build();
    assert_eq!(smol::block_on(dag.run(&20))[both], 2 * 6765);
}

async fn panics(_: &()) -> Result<u32, String> {
    dagfut_smol::offload_blocking(|| panic!("boom on a worker")).await
}

#[test]
fn a_panic_on_a_worker_is_the_nodes_panic() {
    let b = DagBuilder::<()>::new().with_error::<String>();
    b.named("panics").add_try_node(panics, b.param());
    let dag = b.build();
    let error = smol::block_on(dag.try_run(&()).catch_panics()).unwrap_err();
    assert_eq!(error.name(), Some("panics"));
    assert_eq!(
        error.to_string(),
        "node `panics` (task #0) panicked: boom on a worker"
    );
}

async fn offload_forever(dropped: &Arc<AtomicBool>) -> Result<u32, String> {
    let guard = DropFlag(Arc::clone(dropped));
    dagfut_smol::offload(async move {
        let _guard = guard;
        Timer::after(Duration::from_secs(3600)).await;
    })
    .await;
    Ok(1)
}

async fn fail(_: &()) -> Result<u32, String> {
    Timer::after(Duration::from_millis(5)).await;
    Err("failed".into())
}

#[test]
fn a_failed_run_cancels_its_offloaded_tasks() {
    let b = DagBuilder::<()>::new().with_error::<String>();
    let dropped = Arc::new(AtomicBool::new(false));
    b.add_try_node(offload_forever, b.add_constant(Arc::clone(&dropped)));
    b.named("fail").add_try_node(fail, b.param());
    let dag = b.build();
    let error = smol::block_on(dag.try_run(&())).unwrap_err();
    assert_eq!(error.name(), Some("fail"));
    // The executor drops a cancelled task's future on one of its threads: wait for it, for a
    // minute at most (an hour-long sleep would otherwise hold it).
    let waited = Instant::now();
    while !dropped.load(Ordering::SeqCst) {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "never cancelled"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A barrier for `parties` threads that gives up after `patience`: `meet` says whether every
/// party arrived in time. Offloaded work that runs one piece at a time never gets there (the
/// first waits alone, and the second starts only when the first gave up).
struct Rendezvous {
    arrived: std::sync::Mutex<usize>,
    all_here: std::sync::Condvar,
    parties: usize,
}

impl Rendezvous {
    fn new(parties: usize) -> Self {
        Rendezvous {
            arrived: std::sync::Mutex::new(0),
            all_here: std::sync::Condvar::new(),
            parties,
        }
    }

    fn meet(&self, patience: Duration) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, _) = self
            .all_here
            .wait_timeout_while(arrived, patience, |arrived| *arrived < self.parties)
            .unwrap();
        *arrived >= self.parties
    }
}

/// Long enough for a loaded machine to schedule two threads; a serial offload waits it out.
const PATIENCE: Duration = Duration::from_secs(20);

async fn meet_offloaded(rendezvous: &Arc<Rendezvous>) -> bool {
    let rendezvous = Arc::clone(rendezvous);
    dagfut_smol::offload(async move { rendezvous.meet(PATIENCE) }).await
}

async fn meet_unblocked(rendezvous: &Arc<Rendezvous>) -> bool {
    let rendezvous = Arc::clone(rendezvous);
    dagfut_smol::offload_blocking(move || rendezvous.meet(PATIENCE)).await
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[test]
fn two_offloaded_nodes_run_at_the_same_time() {
    if cores() < 2 {
        eprintln!("one core: `offload` runs one thread here, nothing to show");
        return;
    }
    let b = DagBuilder::<()>::new();
    let rendezvous = b.add_constant(Arc::new(Rendezvous::new(2)));
    let first = b.add_node(meet_offloaded, rendezvous);
    let second = b.add_node(meet_offloaded, rendezvous);
    let dag = b.build();
    let out = smol::block_on(dag.run(&()));
    assert!(
        out[first] && out[second],
        "the two offloaded computations never ran at once"
    );
}

#[test]
fn two_nodes_offloaded_to_the_blocking_pool_run_at_the_same_time() {
    let b = DagBuilder::<()>::new();
    let rendezvous = b.add_constant(Arc::new(Rendezvous::new(2)));
    let first = b.add_node(meet_unblocked, rendezvous);
    let second = b.add_node(meet_unblocked, rendezvous);
    let dag = b.build();
    let out = smol::block_on(dag.run(&()));
    assert!(out[first] && out[second]);
}
