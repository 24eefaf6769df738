//! Regression tests of the soundness audit: each drives the scheduler into a case that users'
//! futures legally produce and that once gave undefined behaviour, a panic, a wrong result or
//! a leak. Every test here failed on the core before its fix (native or under Miri). The
//! variance findings are compile-time: `tests/compile.rs`. The leak of a waker woken by value
//! while the parent's waker panics is measured by a counting allocator: `tests/leak.rs`.

mod support;

use std::future::poll_fn;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use dagfut::{BuildError, DagBuilder, DagError, NodeEvent, Observer, OutputError};
use support::{DropCounter, Poller, Token, Trigger};

/// A place where a node leaves a clone of its waker, for the test to wake later.
#[derive(Clone, Default)]
struct Stash(Arc<Mutex<Option<Waker>>>);

impl Stash {
    fn take(&self) -> Waker {
        self.0
            .lock()
            .unwrap()
            .take()
            .expect("the node left its waker")
    }
}

/// Completes at once, after waking itself (as `tokio::select!` does when a branch that yields
/// loses to one that is ready): the wake reaches the run after the node is done.
async fn wake_then_ready(stash: &Stash, tokens: &DropCounter) -> Token {
    poll_fn(|cx| {
        *stash.0.lock().unwrap() = Some(cx.waker().clone());
        cx.waker().wake_by_ref();
        Poll::Ready(())
    })
    .await;
    tokens.token()
}

/// Holds a token (dropped with the future) until the trigger fires.
async fn wait_for(_input: &Token, trigger: &Trigger, futures: &DropCounter) -> u32 {
    let _alive = futures.token();
    trigger.wait().await;
    7
}

// --- Finding 3: futures are dropped before the outputs they borrow -------------------------

/// An upstream output that records its own drop.
struct Upstream {
    text: String,
    dropped: Arc<AtomicBool>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

/// Borrows an upstream output and reads it in `Drop` (a `MutexGuard`, a permit, an entered
/// span on an input all do this).
struct Guard<'a> {
    input: &'a Upstream,
    saw_dropped_input: Arc<AtomicBool>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // Under Miri, reading a dropped input is also reported as a use after free.
        assert_eq!(self.input.text, "upstream");
        if self.input.dropped.load(Ordering::SeqCst) {
            self.saw_dropped_input.store(true, Ordering::SeqCst);
        }
    }
}

async fn make(dropped: &Arc<AtomicBool>) -> Upstream {
    Upstream {
        text: "upstream".into(),
        dropped: dropped.clone(),
    }
}

async fn hold(input: &Upstream, trigger: &Trigger, saw: &Arc<AtomicBool>) -> Result<u32, String> {
    let _guard = Guard {
        input,
        saw_dropped_input: saw.clone(),
    };
    trigger.wait().await;
    Ok(0)
}

async fn fail_when(trigger: &Trigger) -> Result<u32, String> {
    trigger.wait().await;
    Err("failed".into())
}

async fn panic_when(trigger: &Trigger) -> Result<u32, String> {
    trigger.wait().await;
    panic!("node panicked")
}

#[derive(Clone, Copy, Debug)]
enum Ending {
    /// The run is dropped while `hold` runs.
    Cancelled,
    /// A later node fails: `try_run` drops the running futures.
    FailFast,
    /// A later node panics out of `poll`; the run is dropped afterwards.
    Panicked,
}

fn run_ending_early(ending: Ending) {
    let (dropped, saw) = (Arc::default(), Arc::new(AtomicBool::new(false)));
    let (never, fire) = (Trigger::default(), Trigger::default());
    let b = DagBuilder::<()>::new().with_error::<String>();
    let upstream = b.add_node(make, b.add_constant(Arc::clone(&dropped)));
    // Inputs always have lower indexes, so dropping in index order drops `upstream` first.
    b.add_try_node(
        hold,
        (upstream, b.add_constant(never), b.add_constant(saw.clone())),
    );
    match ending {
        Ending::Cancelled => {}
        Ending::FailFast => {
            b.add_try_node(fail_when, b.add_constant(fire.clone()));
        }
        Ending::Panicked => {
            b.add_try_node(panic_when, b.add_constant(fire.clone()));
        }
    }
    let dag = b.build();
    let poller = Poller::new();
    let mut run = dag.try_run(&());
    assert!(poller.poll(&mut run).is_pending());
    match ending {
        Ending::Cancelled => drop(run),
        Ending::FailFast => {
            fire.fire();
            let Poll::Ready(Err(error)) = poller.poll(&mut run) else {
                panic!("the run should have failed");
            };
            assert_eq!(error.node().task_index(), Some(2));
        }
        Ending::Panicked => {
            fire.fire();
            assert!(catch_unwind(AssertUnwindSafe(|| poller.poll(&mut run))).is_err());
            drop(run);
        }
    }
    assert!(
        dropped.load(Ordering::SeqCst),
        "{ending:?}: upstream dropped"
    );
    assert!(
        !saw.load(Ordering::SeqCst),
        "{ending:?}: a running future was dropped after the output it borrows"
    );
}

#[test]
fn cancelling_drops_running_futures_before_the_outputs_they_borrow() {
    run_ending_early(Ending::Cancelled);
}

#[test]
fn fail_fast_drops_running_futures_before_the_outputs_they_borrow() {
    run_ending_early(Ending::FailFast);
}

#[test]
fn a_panic_drops_running_futures_before_the_outputs_they_borrow() {
    run_ending_early(Ending::Panicked);
}

// --- Findings 4, 5 and 7: a wake of a node that already completed is ignored ---------------

/// Adds `quick` (wakes itself, then completes with a token of `outputs`) and `slow` (takes
/// `quick`, holds a token of `futures` until `trigger` fires).
fn quick_then_slow<E>(
    b: &DagBuilder<(), dagfut::Sendable, E>,
    stash: &Stash,
    trigger: &Trigger,
    outputs: &DropCounter,
    futures: &DropCounter,
) -> (dagfut::Node<Token>, dagfut::Node<u32>) {
    let quick = b.add_node(
        wake_then_ready,
        (
            b.add_constant(stash.clone()),
            b.add_constant(outputs.clone()),
        ),
    );
    let slow = b.add_node(
        wait_for,
        (
            quick,
            b.add_constant(trigger.clone()),
            b.add_constant(futures.clone()),
        ),
    );
    (quick, slow)
}

/// `quick` completes after waking itself; `slow`, its dependent, is still running when the
/// stale wake reaches the run. Returns the outcome's check of every value and drop.
fn stale_wake_of_a_completed_node(policy: &str) {
    let (stash, trigger) = (Stash::default(), Trigger::default());
    let (outputs, futures) = (DropCounter::default(), DropCounter::default());
    let b = DagBuilder::<()>::new().with_error::<String>();
    let (quick, slow) = quick_then_slow(&b, &stash, &trigger, &outputs, &futures);
    let dag = b.build();
    let poller = Poller::new();
    let check = |out: &dagfut::Outputs<'_, ()>| {
        assert!(out.get(quick).is_ok());
        assert_eq!(out[slow], 7);
    };
    match policy {
        "try_run" | "try_run+catch_panics" => {
            let mut run = dag.try_run(&());
            if policy.ends_with("catch_panics") {
                run = run.catch_panics();
            }
            assert!(poller.poll(&mut run).is_pending());
            // The stale wake is drained by this poll; the stashed clone is woken by value.
            assert!(poller.poll(&mut run).is_pending());
            stash.take().wake();
            assert!(poller.poll(&mut run).is_pending());
            trigger.fire();
            let Poll::Ready(Ok(out)) = poller.poll(&mut run) else {
                panic!("{policy}: the run should complete");
            };
            check(&out);
        }
        "run_settled" | "run_settled+catch_panics" => {
            let mut run = dag.run_settled(&());
            if policy.ends_with("catch_panics") {
                run = run.catch_panics();
            }
            assert!(poller.poll(&mut run).is_pending());
            assert!(poller.poll(&mut run).is_pending());
            stash.take().wake();
            assert!(poller.poll(&mut run).is_pending());
            trigger.fire();
            let Poll::Ready(settled) = poller.poll(&mut run) else {
                panic!("{policy}: the run should complete");
            };
            assert!(settled.is_ok(), "{policy}: {:?}", settled.errors);
            check(&settled.outputs);
        }
        _ => unreachable!(),
    }
    assert_eq!(futures.dropped(), 1, "{policy}: the dependent's future");
    assert_eq!(
        outputs.dropped(),
        1,
        "{policy}: the completed node's output"
    );
}

#[test]
fn a_stale_wake_under_try_run_is_ignored() {
    stale_wake_of_a_completed_node("try_run");
}

#[test]
fn a_stale_wake_under_try_run_catching_panics_leaks_nothing() {
    stale_wake_of_a_completed_node("try_run+catch_panics");
}

#[test]
fn a_stale_wake_under_run_settled_is_ignored() {
    stale_wake_of_a_completed_node("run_settled");
}

#[test]
fn a_stale_wake_under_run_settled_catching_panics_keeps_the_running_dependent() {
    stale_wake_of_a_completed_node("run_settled+catch_panics");
}

#[test]
fn a_node_that_wakes_itself_and_completes_next_to_a_pending_sibling() {
    async fn quick(_: &()) -> u32 {
        poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::Ready(1)
        })
        .await
    }
    async fn slow(trigger: &Trigger) -> u32 {
        trigger.wait().await;
        2
    }
    let trigger = Trigger::default();
    let b = DagBuilder::<()>::new();
    let q = b.add_node(quick, b.param());
    let s = b.add_node(slow, b.add_constant(trigger.clone()));
    let dag = b.build();
    let poller = Poller::new();
    let mut run = dag.run(&());
    assert!(poller.poll(&mut run).is_pending());
    assert_eq!(poller.wakes(), 1, "the self-wake reached the parent");
    assert!(poller.poll(&mut run).is_pending());
    trigger.fire();
    let Poll::Ready(out) = poller.poll(&mut run) else {
        panic!("the run should complete");
    };
    assert_eq!((out[q], out[s]), (1, 2));
}

#[test]
fn stale_wakes_from_another_thread_and_after_the_run_do_nothing() {
    let (stash, trigger) = (Stash::default(), Trigger::default());
    let (outputs, futures) = (DropCounter::default(), DropCounter::default());
    let b = DagBuilder::<()>::new();
    let (_quick, slow) = quick_then_slow(&b, &stash, &trigger, &outputs, &futures);
    let dag = b.build();
    let poller = Poller::new();
    let mut run = dag.run(&());
    assert!(poller.poll(&mut run).is_pending());
    let stale = stash.take();
    let by_value = stale.clone();
    std::thread::spawn(move || by_value.wake()).join().unwrap();
    assert!(poller.poll(&mut run).is_pending());
    trigger.fire();
    let Poll::Ready(out) = poller.poll(&mut run) else {
        panic!("the run should complete");
    };
    assert_eq!(out[slow], 7);
    drop(out);
    // The run is over: its wakers do nothing, from any thread.
    let by_ref = stale.clone();
    std::thread::spawn(move || by_ref.wake_by_ref())
        .join()
        .unwrap();
    stale.wake();
    assert_eq!((futures.dropped(), outputs.dropped()), (1, 1));
}

// --- Finding 6: a late wake of a node that panicked is ignored ------------------------------

#[test]
fn a_late_wake_of_a_panicked_node_gives_no_second_error() {
    async fn boom(stash: &Stash) -> Result<u32, String> {
        poll_fn(|cx| {
            *stash.0.lock().unwrap() = Some(cx.waker().clone());
            Poll::Ready(())
        })
        .await;
        panic!("boom")
    }
    async fn slow(trigger: &Trigger) -> Result<u32, String> {
        trigger.wait().await;
        Ok(2)
    }
    let (stash, trigger) = (Stash::default(), Trigger::default());
    let b = DagBuilder::<()>::new().with_error::<String>();
    let panicked = b.add_try_node(boom, b.add_constant(stash.clone()));
    let s = b.add_try_node(slow, b.add_constant(trigger.clone()));
    let dag = b.build();
    let poller = Poller::new();
    let mut run = dag.run_settled(&()).catch_panics();
    assert!(poller.poll(&mut run).is_pending());
    stash.take().wake();
    assert!(
        poller.poll(&mut run).is_pending(),
        "the other node still runs"
    );
    trigger.fire();
    let Poll::Ready(settled) = poller.poll(&mut run) else {
        panic!("the run should complete");
    };
    assert_eq!(settled.errors.len(), 1, "{:?}", settled.errors);
    assert!(matches!(&settled.errors[0], DagError::Panicked { message, .. } if message == "boom"));
    assert_eq!(settled.outputs[s], 2);
    assert!(matches!(
        settled.outputs.get(panicked),
        Err(OutputError::NotCompleted { .. })
    ));
}

// --- Finding 9: a run whose poll unwound is poisoned; an arena too large is a build error ----

/// Panics on the first `Started` event.
struct PanicOnStart;

impl Observer for PanicOnStart {
    fn on_event(&mut self, _task: usize, event: NodeEvent) {
        if event == NodeEvent::Started {
            panic!("observer panicked");
        }
    }
}

#[test]
fn polling_again_after_an_observer_panicked_panics_clearly() {
    async fn one(_: &()) -> u32 {
        1
    }
    let b = DagBuilder::<()>::new();
    b.add_node(one, b.param());
    let dag = b.build();
    let poller = Poller::new();
    let mut run = dag.run(&()).with_observer(PanicOnStart);
    assert!(catch_unwind(AssertUnwindSafe(|| poller.poll(&mut run))).is_err());
    assert_poisoned(&poller, &mut run);
}

/// Polling `run` again panics, saying why.
fn assert_poisoned<F: std::future::Future + Unpin>(poller: &Poller, run: &mut F) {
    let Err(again) = catch_unwind(AssertUnwindSafe(|| poller.poll(run))) else {
        panic!("a poisoned run was polled without a panic");
    };
    let message = again.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(
        message.contains("polled again after an earlier poll of it panicked"),
        "{message}"
    );
}

#[test]
fn polling_again_after_a_node_panicked_panics_clearly_and_drops_everything_once() {
    async fn boom(trigger: &Trigger, futures: &DropCounter) -> u32 {
        let _alive = futures.token();
        trigger.wait().await;
        panic!("boom")
    }
    async fn hold(trigger: &Trigger, futures: &DropCounter) -> u32 {
        let _alive = futures.token();
        trigger.wait().await;
        0
    }
    let (fire, never, futures) = (
        Trigger::default(),
        Trigger::default(),
        DropCounter::default(),
    );
    let b = DagBuilder::<()>::new();
    b.add_node(
        boom,
        (
            b.add_constant(fire.clone()),
            b.add_constant(futures.clone()),
        ),
    );
    b.add_node(
        hold,
        (b.add_constant(never), b.add_constant(futures.clone())),
    );
    let dag = b.build();
    let poller = Poller::new();
    let mut run = dag.run(&());
    assert!(poller.poll(&mut run).is_pending());
    fire.fire();
    assert!(catch_unwind(AssertUnwindSafe(|| poller.poll(&mut run))).is_err());
    assert_poisoned(&poller, &mut run);
    // The panic unwound through `boom`'s body, dropping its locals; its future stays in its
    // slot, finished, until the run is dropped.
    assert_eq!(futures.dropped(), 1);
    drop(run);
    assert_eq!(futures.dropped(), 2);
}

/// A future of 2^46 bytes (about the largest type x86-64 allows): 2^17 of them exceed
/// `isize::MAX` bytes.
#[cfg(target_pointer_width = "64")]
struct Huge(#[allow(dead_code)] [u8; 1 << 46]);

#[cfg(target_pointer_width = "64")]
impl std::future::Future for Huge {
    type Output = u8;
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<u8> {
        Poll::Ready(0)
    }
}

#[cfg(target_pointer_width = "64")]
fn huge(_: &()) -> Huge {
    unreachable!("never started: the DAG does not build")
}

#[test]
#[cfg(target_pointer_width = "64")]
// 2^17 nodes: too slow under Miri, and nothing unsafe runs (the build only adds layouts).
#[cfg_attr(miri, ignore)]
fn a_run_larger_than_isize_max_is_a_build_error() {
    let huge_nodes = |count: usize| {
        let b = DagBuilder::<()>::new();
        for _ in 0..count {
            b.add_node(huge, b.param());
        }
        b
    };
    assert_eq!(
        huge_nodes(1 << 17).try_build().unwrap_err(),
        BuildError::RunTooLarge {
            task: (1 << 17) - 1
        }
    );
    let b = huge_nodes(1 << 17);
    let panic = catch_unwind(AssertUnwindSafe(|| b.build())).unwrap_err();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.starts_with("dagfut: cannot build the DAG: a run would need more than"),
        "{message}"
    );
    // One fewer fits.
    assert!(huge_nodes((1 << 17) - 1).try_build().is_ok());
}

// --- The memory a run leaves for the next one -----------------------------------------------

#[test]
fn a_waker_kept_from_an_earlier_run_never_reaches_a_later_one() {
    async fn keep_waker(stash: &Stash, trigger: &Trigger) -> u32 {
        poll_fn(|cx| {
            *stash.0.lock().unwrap() = Some(cx.waker().clone());
            Poll::Ready(())
        })
        .await;
        trigger.wait().await;
        1
    }
    let stash = Stash::default();
    let b = DagBuilder::<Trigger>::new();
    b.add_node(keep_waker, (b.add_constant(stash.clone()), b.param()));
    let dag = b.build();
    let poller = Poller::new();
    let first_trigger = Trigger::default();
    let mut first = dag.run(&first_trigger);
    assert!(poller.poll(&mut first).is_pending());
    first_trigger.fire();
    assert!(poller.poll(&mut first).is_ready());
    drop(first);
    // A waker of the first run is still alive: its block must not serve the second run.
    let old = stash.take();
    let second_trigger = Trigger::default();
    let mut second = dag.run(&second_trigger);
    assert!(poller.poll(&mut second).is_pending());
    let (wakes, polls) = (poller.wakes(), second_trigger.polls());
    old.wake_by_ref();
    assert_eq!(poller.wakes(), wakes, "an old waker woke a later run");
    assert!(poller.poll(&mut second).is_pending());
    assert_eq!(
        second_trigger.polls(),
        polls,
        "an old waker polled a later run's node"
    );
    old.wake();
    second_trigger.fire();
    assert!(poller.poll(&mut second).is_ready());
}

/// Runs of one DAG on four threads at once, each thread running many in a row, with the DAG
/// keeping the memory of one run at once (most runs find its one place held, allocate their
/// own and free it) and of two and of eight (each thread may find a place of its own): every
/// output right, and (checked by Miri, and by the DAG's drop at the end) no block owned twice
/// or lost.
#[test]
fn runs_on_several_threads_share_the_dags_memory_safely() {
    async fn add(a: &u64, b: &u64) -> u64 {
        support::YieldNow::default().await;
        a + b
    }
    for kept in [1, 2, 8] {
        let b = DagBuilder::<u64>::new();
        let x = b.add_node(add, (b.param(), b.param()));
        let y = b.add_node(add, (x, b.param()));
        let dag = b.build().with_kept_runs(kept);
        let runs = if cfg!(miri) { 3 } else { 200 };
        std::thread::scope(|scope| {
            for thread in 0..4u64 {
                let dag = &dag;
                scope.spawn(move || {
                    for n in 0..runs {
                        let param = thread * 1000 + n;
                        let out = futures_executor::block_on(dag.run(&param));
                        assert_eq!(out[y], 3 * param, "kept {kept}");
                    }
                });
            }
        });
        // Overlapping runs on one thread: each takes a place, or allocates if none is left.
        let (a, b) =
            futures_executor::block_on(futures_util::future::join(dag.run(&1), dag.run(&2)));
        assert_eq!((a[y], b[y]), (3, 6));
    }
}
