//! The seed graph and timeouts on embassy's own executor and timer, on the host (embassy's
//! `platform-std` executor and `std` time driver, with a generic timer queue).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dagfut::trace::Recorder;
use dagfut::{DagError, LocalDagBuilder};
use dagfut_embassy::{EmbassyClock, Timeout};
use dagfut_tests::DropFlag;
use embassy_executor::{Executor, SpawnError, SpawnToken};
use embassy_time::{Duration, Instant, Timer};

/// Runs the task of `token` on a fresh embassy executor until it sets `done`.
fn run_on_embassy<S>(token: Result<SpawnToken<S>, SpawnError>, done: &'static AtomicBool) {
    let executor = Box::leak(Box::new(Executor::new()));
    executor.run_until(
        |spawner| spawner.spawn(token.unwrap()),
        || done.load(Ordering::SeqCst),
    );
}

async fn inc(_name: &&'static str, delay: &Duration, n: &u32) -> u32 {
    Timer::after(*delay).await;
    n + 1
}

async fn add(_name: &&'static str, delay: &Duration, a: &u32, b: &u32) -> u32 {
    Timer::after(*delay).await;
    a + b
}

static SEED_DONE: AtomicBool = AtomicBool::new(false);

#[embassy_executor::task]
async fn seed_task() {
    let unit = Duration::from_millis(1);
    let b = LocalDagBuilder::<u32>::new();
    let (fast_a, _, end) = dagfut_tests::timed_seed_graph!(&b, unit, inc, add);
    let dag = b.build();

    let mut recorder = Recorder::new(&dag, EmbassyClock::new());
    let out = dag.run(&0).with_observer(&mut recorder).await;
    assert_eq!((out[fast_a], out[end]), (1, 4));
    let trace = recorder.trace();
    assert!(
        trace
            .spans
            .iter()
            .all(|span| span.end.is_some() && span.start <= span.end)
    );
    assert_eq!(dag.run(&10).await[end], 34);
    SEED_DONE.store(true, Ordering::SeqCst);
}

#[test]
fn seed_on_the_embassy_executor() {
    run_on_embassy(seed_task(), &SEED_DONE);
}

async fn sense(delay: &Duration) -> Result<u32, Timeout> {
    let work = async {
        Timer::after(*delay).await;
        7
    };
    dagfut_embassy::timeout("sense", Duration::from_millis(20), work).await
}

async fn sleeper(delay: &Duration, dropped: &Arc<AtomicBool>) -> u32 {
    let _guard = DropFlag(Arc::clone(dropped));
    Timer::after(*delay).await;
    0
}

static TIMEOUT_DONE: AtomicBool = AtomicBool::new(false);

#[embassy_executor::task]
async fn timeout_task() {
    let dropped = Arc::new(AtomicBool::new(false));
    let b = LocalDagBuilder::<Duration>::new().with_error::<Timeout>();
    let sensed = b.named("sense").add_try_node(sense, b.param());
    b.add_node(sleeper, (b.param(), b.add_constant(Arc::clone(&dropped))));
    let dag = b.build();

    assert_eq!(
        dag.try_run(&Duration::from_ticks(0)).await.unwrap()[sensed],
        7
    );

    let error = dag.try_run(&Duration::from_secs(3600)).await.unwrap_err();
    assert_eq!(error.name(), Some("sense"));
    assert_eq!(
        error.to_string(),
        "node `sense` (task #0) failed: `sense` timed out after 20ms"
    );
    let DagError::Failed { error, .. } = error else {
        panic!("a timeout is an error, not a panic")
    };
    assert_eq!(
        error,
        Timeout::new("sense", core::time::Duration::from_millis(20))
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "fail-fast drops the running nodes"
    );
    TIMEOUT_DONE.store(true, Ordering::SeqCst);
}

#[test]
fn timeouts_on_the_embassy_executor() {
    run_on_embassy(timeout_task(), &TIMEOUT_DONE);
}

async fn sense_without_deadline(delay: &Duration) -> Result<u32, Timeout> {
    let work = async {
        Timer::after(*delay).await;
        7
    };
    dagfut_embassy::timeout("sense", Duration::MAX, work).await
}

static NO_DEADLINE_DONE: AtomicBool = AtomicBool::new(false);

#[embassy_executor::task]
async fn no_deadline_task() {
    // At tick 0 (the std driver's clock starts at its first reading) `Duration::MAX` still
    // fits: let the clock move first.
    Timer::after(Duration::from_millis(2)).await;
    assert!(Instant::now() > Instant::MIN);
    let b = LocalDagBuilder::<Duration>::new().with_error::<Timeout>();
    let sensed = b
        .named("sense")
        .add_try_node(sense_without_deadline, b.param());
    let dag = b.build();
    // `Duration::MAX` from now is past the end of the clock: the deadline saturates, never
    // fires, and the node completes (tokio, smol and async-executor accept it too).
    let delay = Duration::from_millis(5);
    let out = dag.try_run(&delay).await.unwrap();
    assert_eq!(out[sensed], 7);
    NO_DEADLINE_DONE.store(true, Ordering::SeqCst);
}

#[test]
fn a_timeout_of_duration_max_never_fires() {
    run_on_embassy(no_deadline_task(), &NO_DEADLINE_DONE);
}
