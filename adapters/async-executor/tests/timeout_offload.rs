//! Per-node timeouts on async-io's timer and offloading to an `Executor`. A node that overruns
//! sleeps an hour against a deadline of milliseconds, so no result depends on the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_executor::{Executor, LocalExecutor};
use async_io::Timer;
use dagfut::{DagBuilder, DagError};
use dagfut_async_executor::Timeout;
use dagfut_tests::DropFlag;

const DEADLINE: Duration = Duration::from_millis(20);
const HOUR: Duration = Duration::from_secs(3600);

async fn maybe_slow(delay: &Duration) -> Result<Duration, Timeout> {
    let work = async {
        Timer::after(*delay).await;
        *delay
    };
    dagfut_async_executor::timeout("maybe_slow", DEADLINE, work).await
}

/// Sleeps `delay` (an hour, in the failing run) unless dropped.
async fn sleeper(delay: &Duration, dropped: &Arc<AtomicBool>) -> u32 {
    let _guard = DropFlag(Arc::clone(dropped));
    Timer::after(*delay).await;
    0
}

#[test]
fn a_timeout_fails_the_run_on_a_local_executor_and_drops_the_others() {
    let b = DagBuilder::<Duration>::new().with_error::<Timeout>();
    let dropped = Arc::new(AtomicBool::new(false));
    let quick = b.add_try_node(maybe_slow, b.add_constant(Duration::ZERO));
    b.named("slow").add_try_node(maybe_slow, b.param());
    b.add_node(sleeper, (b.param(), b.add_constant(Arc::clone(&dropped))));
    let dag = b.build();
    let executor = LocalExecutor::new();

    let out = async_io::block_on(executor.run(dag.try_run(&Duration::ZERO))).unwrap();
    assert_eq!(out[quick], Duration::ZERO);
    drop(out);

    dropped.store(false, Ordering::SeqCst);
    let error = async_io::block_on(executor.run(dag.try_run(&HOUR)));
    let error = error.unwrap_err();
    assert_eq!(error.name(), Some("slow"));
    let DagError::Failed { error, .. } = error else {
        panic!("a timeout is an error, not a panic")
    };
    assert_eq!(error, Timeout::new("maybe_slow", DEADLINE));
    assert!(
        dropped.load(Ordering::SeqCst),
        "fail-fast drops the running nodes"
    );
}

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

async fn heavy(executor: &Arc<Executor<'static>>, n: &u64) -> u64 {
    let n = *n;
    dagfut_async_executor::offload(executor, async move { fib(n) }).await
}

async fn offload_forever(
    executor: &Arc<Executor<'static>>,
    dropped: &Arc<AtomicBool>,
) -> Result<u64, String> {
    let guard = DropFlag(Arc::clone(dropped));
    dagfut_async_executor::offload(executor, async move {
        let _guard = guard;
        Timer::after(HOUR).await;
    })
    .await;
    Ok(0)
}

async fn fail(_: &()) -> Result<u64, String> {
    Timer::after(Duration::from_millis(5)).await;
    Err("failed".into())
}

async fn panics(executor: &Arc<Executor<'static>>) -> Result<u64, String> {
    dagfut_async_executor::offload(executor, async { panic!("boom on a worker") }).await
}

/// Runs `test` while two threads run `executor`, and stops them after.
fn with_two_threads<T>(executor: &Executor<'static>, test: impl FnOnce() -> T) -> T {
    std::thread::scope(|scope| {
        // Made in the scope, so a failing test drops `stop` (stopping the threads) before
        // the scope waits for them.
        let (stop, stopped) = async_channel::bounded::<()>(1);
        for _ in 0..2 {
            let stopped = stopped.clone();
            scope.spawn(move || async_io::block_on(executor.run(stopped.recv())));
        }
        let result = test();
        drop(stop);
        result
    })
}

#[test]
fn offloaded_nodes_run_on_the_executors_threads() {
    let executor = Arc::new(Executor::new());
    let b = DagBuilder::<u64>::new();
    let pool = b.add_constant(Arc::clone(&executor));
    let left = b.add_node(heavy, (pool, b.param()));
    let right = b.add_node(heavy, (pool, b.param()));
    let dag = b.build();
    with_two_threads(&executor, || {
        let out = async_io::block_on(dag.run(&20));
        assert_eq!((out[left], out[right]), (6765, 6765));
    });
}

#[test]
fn offloaded_panics_and_cancellation() {
    let executor = Arc::new(Executor::new());
    let dropped = Arc::new(AtomicBool::new(false));
    let b = DagBuilder::<()>::new().with_error::<String>();
    let pool = b.add_constant(Arc::clone(&executor));
    b.add_try_node(
        offload_forever,
        (pool, b.add_constant(Arc::clone(&dropped))),
    );
    b.named("fail").add_try_node(fail, b.param());
    let failing = b.build();

    let b = DagBuilder::<()>::new().with_error::<String>();
    b.named("panics")
        .add_try_node(panics, b.add_constant(Arc::clone(&executor)));
    let panicking = b.build();

    with_two_threads(&executor, || {
        let error = async_io::block_on(failing.try_run(&())).unwrap_err();
        assert_eq!(error.name(), Some("fail"));
        let waited = Instant::now();
        while !dropped.load(Ordering::SeqCst) {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "never cancelled"
            );
            std::thread::sleep(Duration::from_millis(1));
        }

        let error = async_io::block_on(panicking.try_run(&()).catch_panics()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "node `panics` (task #0) panicked: boom on a worker"
        );
    });
}

/// Two offloaded computations that wait for each other (for 20 s at most): they meet only if
/// they run at the same time, on two of the executor's threads.
async fn meet(executor: &Arc<Executor<'static>>, barrier: &Arc<Rendezvous>) -> bool {
    let barrier = Arc::clone(barrier);
    dagfut_async_executor::offload(executor, async move { barrier.meet() }).await
}

/// A barrier for two that gives up after 20 s: `meet` says whether both arrived in time.
struct Rendezvous {
    arrived: std::sync::Mutex<usize>,
    all_here: std::sync::Condvar,
}

impl Rendezvous {
    fn meet(&self) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, _) = self
            .all_here
            .wait_timeout_while(arrived, Duration::from_secs(20), |arrived| *arrived < 2)
            .unwrap();
        *arrived >= 2
    }
}

#[test]
fn two_threads_run_two_offloaded_nodes_at_the_same_time() {
    let executor = Arc::new(Executor::new());
    let b = DagBuilder::<()>::new();
    let pool = b.add_constant(Arc::clone(&executor));
    let barrier = b.add_constant(Arc::new(Rendezvous {
        arrived: std::sync::Mutex::new(0),
        all_here: std::sync::Condvar::new(),
    }));
    let first = b.add_node(meet, (pool, barrier));
    let second = b.add_node(meet, (pool, barrier));
    let dag = b.build();
    with_two_threads(&executor, || {
        let out = async_io::block_on(dag.run(&()));
        assert!(out[first] && out[second]);
    });
}
