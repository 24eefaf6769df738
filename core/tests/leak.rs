//! Leaks, measured: an allocator that records what one thread allocates while it is asked to
//! (so tests running in parallel do not see each other's allocations) checks that every
//! block a run allocates is freed, even when the parent's waker panics while a node's waker is
//! woken by value.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::future::{Future, pending};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use dagfut::DagBuilder;

/// The system allocator, recording the allocations a thread makes while it tracks them.
struct Tracking;

/// How many live allocations one measurement can follow.
const TRACKED: usize = 1024;

thread_local! {
    /// Whether this thread records its allocations now.
    static ON: Cell<bool> = const { Cell::new(false) };
    /// How many allocations this thread made while recording.
    static MADE: Cell<usize> = const { Cell::new(0) };
    /// The addresses of the recorded allocations still live (0: a free entry).
    static LIVE: RefCell<[usize; TRACKED]> = const { RefCell::new([0; TRACKED]) };
}

fn record(memory: *mut u8) {
    // `try_with`: a thread's last allocations come after its locals are gone.
    if ON.try_with(Cell::get).unwrap_or(false) {
        let _ = MADE.try_with(|made| made.set(made.get() + 1));
        let _ = LIVE.try_with(|live| {
            let mut live = live.borrow_mut();
            let free = live.iter().position(|&entry| entry == 0);
            live[free.expect("too many live allocations to follow")] = memory as usize;
        });
    }
}

fn forget(memory: *mut u8) {
    let _ = LIVE.try_with(|live| {
        let mut live = live.borrow_mut();
        if let Some(entry) = live.iter_mut().find(|entry| **entry == memory as usize) {
            *entry = 0;
        }
    });
}

// SAFETY: every call goes to `System`, unchanged; the recording has no effect on memory.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let memory = unsafe { System.alloc(layout) };
        if !memory.is_null() {
            record(memory);
        }
        memory
    }

    unsafe fn dealloc(&self, memory: *mut u8, layout: Layout) {
        forget(memory);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(memory, layout) };
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Runs `work` and returns how many of the allocations it made are still live afterwards.
fn leaked_by(work: impl FnOnce()) -> usize {
    ON.with(|on| on.set(true));
    work();
    ON.with(|on| on.set(false));
    LIVE.with(|live| {
        let mut live = live.borrow_mut();
        let leaked = live.iter().filter(|&&entry| entry != 0).count();
        *live = [0; TRACKED];
        leaked
    })
}

/// Runs `work` and returns how many allocations it made (freed or not).
fn allocations_by(work: impl FnOnce()) -> usize {
    MADE.with(|made| made.set(0));
    leaked_by(work);
    MADE.with(Cell::get)
}

/// A parent waker that panics when woken.
struct PanicOnWake;

impl Wake for PanicOnWake {
    fn wake(self: Arc<Self>) {
        panic!("the executor's waker panicked");
    }
}

async fn park(stash: &Arc<Mutex<Option<Waker>>>) -> u32 {
    std::future::poll_fn(|cx| {
        *stash.lock().unwrap() = Some(cx.waker().clone());
        Poll::Ready(())
    })
    .await;
    pending().await
}

/// A run of one node that parks, polled once with `parent`: `then` gets the run and a clone
/// of the node's waker.
fn with_a_parked_run(parent: &Waker, then: impl FnOnce(dagfut::DagFuture<'_, ()>, Waker)) {
    let stash = Arc::new(Mutex::new(None));
    let b = DagBuilder::<()>::new();
    b.add_node(park, b.add_constant(stash.clone()));
    let dag = b.build();
    let mut run = dag.run(&());
    assert!(
        Pin::new(&mut run)
            .poll(&mut Context::from_waker(parent))
            .is_pending()
    );
    let node_waker = stash.lock().unwrap().take().unwrap();
    then(run, node_waker);
}

#[test]
fn a_waker_woken_by_value_is_released_even_if_the_parent_waker_panics() {
    // Quiet panics: printing one (and its backtrace) allocates for good.
    std::panic::set_hook(Box::new(|_| {}));
    let leaked = leaked_by(|| {
        let parent = Waker::from(Arc::new(PanicOnWake));
        with_a_parked_run(&parent, |run, node_waker| {
            // The node's waker is consumed; waking the parent panics inside.
            assert!(catch_unwind(AssertUnwindSafe(|| node_waker.wake())).is_err());
            drop(run);
        });
    });
    assert_eq!(leaked, 0, "allocations left after the run and its wakers");
}

#[test]
fn a_run_and_its_outputs_free_everything() {
    async fn text(n: &u32) -> String {
        n.to_string()
    }
    // `block_on` keeps a waker per thread, made on first use.
    futures_executor::block_on(async {});
    let leaked = leaked_by(|| {
        let b = DagBuilder::<u32>::new();
        let t = b.add_node(text, b.param());
        let dag = b.build();
        let out = futures_executor::block_on(dag.run(&7));
        assert_eq!(out[t], "7");
    });
    assert_eq!(leaked, 0);
}

/// Waits (yielding) until `done`, for at most 10 s: a test that waits on another thread fails
/// instead of hanging if what it waits for never comes.
fn wait_until(done: impl Fn() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited 10 s for {what}"
        );
        std::thread::yield_now();
    }
}

/// Task wakers whose drop panics once armed; with a pause, whose wake waits until released
/// (a test acts meanwhile, while the wake holds the parent's slot) and then panics. Each test
/// keeps its own [`Behaviour`](panicking_drop::Behaviour) in a `static`, so that tests running
/// at once do not trip each other's wakers.
mod panicking_drop {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{RawWaker, RawWakerVTable, Waker};

    pub(super) struct Behaviour {
        /// The next drop of a waker of this behaviour panics.
        armed: AtomicBool,
        /// Wakes pause, then panic.
        pause: bool,
        /// A wake is paused.
        entered: AtomicBool,
        /// The paused wake may go on.
        released: AtomicBool,
    }

    impl Behaviour {
        /// Drops panic once armed; wakes pause and panic if `pause`.
        pub(super) const fn new(pause: bool) -> Self {
            Behaviour {
                armed: AtomicBool::new(false),
                pause,
                entered: AtomicBool::new(false),
                released: AtomicBool::new(false),
            }
        }

        pub(super) fn arm(&self) {
            self.armed.store(true, Ordering::SeqCst);
        }

        /// Waits until a wake is paused.
        pub(super) fn wait_for_wake(&self) {
            super::wait_until(|| self.entered.load(Ordering::SeqCst), "the task's wake");
        }

        /// Lets the paused wake go on (and panic).
        pub(super) fn release_wake(&self) {
            self.released.store(true, Ordering::SeqCst);
        }
    }

    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop_waker);

    fn behaviour(data: *const ()) -> &'static Behaviour {
        // SAFETY: every waker of this vtable points at a `static` `Behaviour` (`waker`).
        unsafe { &*data.cast::<Behaviour>() }
    }

    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }

    fn wake(data: *const ()) {
        let behaviour = behaviour(data);
        if behaviour.pause {
            behaviour.entered.store(true, Ordering::SeqCst);
            super::wait_until(
                || behaviour.released.load(Ordering::SeqCst),
                "the test to release the wake",
            );
            panic!("the executor's waker panicked in wake");
        }
    }

    fn drop_waker(data: *const ()) {
        if behaviour(data).armed.swap(false, Ordering::SeqCst) {
            panic!("the executor's waker panicked in drop");
        }
    }

    pub(super) fn waker(behaviour: &'static Behaviour) -> Waker {
        // SAFETY: the vtable's functions only read the `static` behaviour the data points at.
        unsafe { Waker::from_raw(clone(std::ptr::from_ref(behaviour).cast())) }
    }
}

#[test]
fn the_waker_block_is_freed_even_if_the_parent_wakers_drop_panics() {
    std::panic::set_hook(Box::new(|_| {}));
    let leaked = leaked_by(|| {
        static DROPS: panicking_drop::Behaviour = panicking_drop::Behaviour::new(false);
        let parent = panicking_drop::waker(&DROPS);
        with_a_parked_run(&parent, |run, node_waker| {
            drop(node_waker);
            // Dropping the run closes the waker block and drops its copy of the parent's
            // waker.
            DROPS.arm();
            assert!(catch_unwind(AssertUnwindSafe(|| drop(run))).is_err());
        });
    });
    assert_eq!(leaked, 0, "the waker block leaked");
}

/// A node's wake on another thread holds the parent's slot, inside the task's wake, as the run
/// ends: the run cannot take the task's waker, and the wake, which would, panics. The block's
/// last reference then drops that waker with the block's header, and its drop panics too: the
/// block is freed all the same.
#[test]
fn a_block_is_freed_when_the_task_waker_left_in_it_panics_in_its_drop() {
    static TASK: panicking_drop::Behaviour = panicking_drop::Behaviour::new(true);
    /// The node's waker the other thread wakes.
    static HANDED: Mutex<Option<Waker>> = Mutex::new(None);
    std::panic::set_hook(Box::new(|_| {}));
    // Spawned before the count starts: what a spawn allocates here is freed there.
    let waking = std::thread::spawn(|| {
        wait_until(|| HANDED.lock().unwrap().is_some(), "the node's waker");
        let waker = HANDED.lock().unwrap().take().unwrap();
        let woke = catch_unwind(AssertUnwindSafe(|| waker.wake_by_ref()));
        drop(waker);
        woke.is_err()
    });
    let leaked = leaked_by(|| {
        let parent = panicking_drop::waker(&TASK);
        with_a_parked_run(&parent, |run, node_waker| {
            *HANDED.lock().unwrap() = Some(node_waker.clone());
            // The wake holds the slot, in the task's wake.
            TASK.wait_for_wake();
            drop(run);
            TASK.release_wake();
            // The wake panics; its thread drops its clone (not the last one).
            wait_until(|| waking.is_finished(), "the wake's thread");
            TASK.arm();
            assert!(
                catch_unwind(AssertUnwindSafe(|| drop(node_waker))).is_err(),
                "the block's last reference dropped the task's waker left in it"
            );
        });
    });
    assert!(waking.join().unwrap(), "the task's wake panicked");
    assert_eq!(leaked, 0, "the waker block leaked");
}

/// Returns `Pending` once, waking itself by reference; keeps a clone of the waker in `KEPT`
/// if `keep` (else no clone is made).
async fn yield_once(keep: bool) {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        if keep {
            KEPT.with(|kept| kept.borrow_mut().push(cx.waker().clone()));
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Returns `Pending` once (waking itself by reference: no waker clone), then doubles.
async fn double(n: &u64) -> u64 {
    yield_once(false).await;
    n * 2
}

async fn sum(parts: &[&u64]) -> u64 {
    parts.iter().copied().sum()
}

#[test]
fn a_run_after_the_first_allocates_nothing() {
    let b = DagBuilder::<u64>::new();
    let parts: Vec<_> = (0..50).map(|_| b.add_node(double, b.param())).collect();
    let total = b.add_node(sum, parts);
    let dag = b.build();
    // The first run allocates its memory; it leaves it to the DAG for the next.
    assert_eq!(futures_executor::block_on(dag.run(&1))[total], 100);
    for param in 2..5 {
        let made = allocations_by(|| {
            let out = futures_executor::block_on(dag.run(&param));
            assert_eq!(out[total], 100 * param);
        });
        assert_eq!(made, 0, "run with {param}");
    }
    // A run dropped midway leaves its memory too.
    let mut run = dag.run(&9);
    assert!(
        Pin::new(&mut run)
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    drop(run);
    let made = allocations_by(|| assert_eq!(futures_executor::block_on(dag.run(&5))[total], 500));
    assert_eq!(made, 0);
}

/// A run makes its waker block only when a node first touches its waker: a first run whose
/// nodes are all ready allocates its run block alone; one with a node that wakes itself
/// allocates the waker block too.
#[test]
fn a_run_whose_nodes_never_touch_their_wakers_makes_no_waker_block() {
    async fn add_one(n: &u64) -> u64 {
        n + 1
    }
    let build = || {
        let b = DagBuilder::<u64>::new();
        let first = b.add_node(add_one, b.param());
        (0..8).fold(first, |input, _| b.add_node(add_one, input));
        b
    };
    // The executor's own thread-local waker, made once, outside the count.
    futures_executor::block_on(async {});
    let dag = build().build();
    let made = allocations_by(|| drop(futures_executor::block_on(dag.run(&1))));
    assert_eq!(made, 1, "the run block alone");
    let b = build();
    b.add_node(double, b.param());
    let dag = b.build();
    let made = allocations_by(|| drop(futures_executor::block_on(dag.run(&2))));
    assert_eq!(made, 2, "the run block and the waker block");
}

/// Returns `Pending` once, waking itself; for an odd `n` it also keeps the waker in `KEPT`.
async fn keeps_its_waker_if_odd(n: &u64) -> u64 {
    yield_once(n % 2 == 1).await;
    n + 1
}

thread_local! {
    static KEPT: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Two runs at once of a DAG that keeps the memory of one run: the second finds the memory
/// the first holds marked held, allocates its own and frees it at its end (nothing leaks); the
/// first leaves its memory, which the run after both takes, allocating nothing. (With more
/// places, `kept_runs_*` below.)
#[test]
fn overlapping_runs_allocate_their_own_and_the_cache_comes_back() {
    let b = DagBuilder::<u64>::new();
    let parts: Vec<_> = (0..8).map(|_| b.add_node(double, b.param())).collect();
    let total = b.add_node(sum, parts);
    let dag = b.build().with_kept_runs(1);
    assert_eq!(futures_executor::block_on(dag.run(&1))[total], 16);
    // Every allocation made while both runs live is freed by the end (the second run's own
    // memory included: had it been left in the cache too, the first run's would replace it).
    let leaked = leaked_by(|| {
        let mut first = dag.run(&2);
        assert!(
            Pin::new(&mut first)
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
        let before = MADE.with(Cell::get);
        assert_eq!(futures_executor::block_on(dag.run(&3))[total], 48);
        assert!(
            MADE.with(Cell::get) > before,
            "the overlapping run allocated its own memory"
        );
        assert_eq!(futures_executor::block_on(first)[total], 32);
    });
    assert_eq!(leaked, 0);
    let made = allocations_by(|| assert_eq!(futures_executor::block_on(dag.run(&4))[total], 64));
    assert_eq!(made, 0, "the first run's memory came back to the cache");
}

/// Two runs of one DAG that keeps the memory of one run, in every order of their first polls
/// and ends, each ending by running to completion or by a drop mid-run: whichever run holds
/// each of the cache's places puts its block back, the other frees its own, so nothing leaks
/// and the next run allocates nothing.
#[test]
fn overlapping_runs_in_any_order_leave_the_cache_whole() {
    /// What happens next: a run's first poll, or its end (completion or a drop mid-run).
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Poll(usize),
        End(usize),
    }
    let orders = [
        [Step::Poll(0), Step::Poll(1), Step::End(0), Step::End(1)],
        [Step::Poll(0), Step::Poll(1), Step::End(1), Step::End(0)],
        [Step::Poll(0), Step::End(0), Step::Poll(1), Step::End(1)],
        [Step::Poll(1), Step::Poll(0), Step::End(0), Step::End(1)],
        [Step::Poll(1), Step::Poll(0), Step::End(1), Step::End(0)],
        [Step::Poll(1), Step::End(1), Step::Poll(0), Step::End(0)],
    ];
    let (dag, total) = four_parts(1);
    // The cache filled by a first run: memory it keeps is not a leak of the runs below.
    assert_eq!(futures_executor::block_on(dag.run(&0))[total], 0);
    for order in orders {
        for completes in [[false, false], [false, true], [true, false], [true, true]] {
            let case = format!("{order:?}, completing {completes:?}");
            let leaked = leaked_by(|| {
                let mut runs = [Some(dag.run(&1)), Some(dag.run(&2))];
                for step in order {
                    match step {
                        Step::Poll(i) => {
                            let run = runs[i].as_mut().unwrap();
                            let polled =
                                Pin::new(run).poll(&mut Context::from_waker(Waker::noop()));
                            assert!(polled.is_pending(), "{case}");
                        }
                        Step::End(i) => {
                            let run = runs[i].take().unwrap();
                            if completes[i] {
                                let param = i as u64 + 1;
                                assert_eq!(futures_executor::block_on(run)[total], 8 * param);
                            } else {
                                drop(run);
                            }
                        }
                    }
                }
            });
            assert_eq!(leaked, 0, "{case}");
            let made =
                allocations_by(|| assert_eq!(futures_executor::block_on(dag.run(&3))[total], 24));
            assert_eq!(made, 0, "{case}");
        }
    }
}

/// A run whose node's waker outlives it cannot leave its waker block: it empties the block's
/// place instead, so the next run allocates a block (only that) and leaves it, and the run
/// after allocates nothing. (A place left marked held would make every later run allocate,
/// once every place is: with one place, at once.)
#[test]
fn a_waker_block_kept_alive_is_replaced_once() {
    for places in [1, 8] {
        let b = DagBuilder::<u64>::new();
        let node = b.add_node(keeps_its_waker_if_odd, b.param());
        let dag = b.build().with_kept_runs(places);
        KEPT.with(|kept| kept.borrow_mut().reserve(1));
        let run = |param: u64| futures_executor::block_on(dag.run(&param))[node];
        assert_eq!(run(2), 3);
        assert_eq!(allocations_by(|| assert_eq!(run(4), 5)), 0);
        // This run's waker block lives on in `KEPT`: the run cannot leave it.
        assert_eq!(allocations_by(|| assert_eq!(run(5), 6)), 0);
        KEPT.with(|kept| assert_eq!(kept.borrow().len(), 1));
        let made = allocations_by(|| assert_eq!(run(6), 7));
        assert_eq!(made, 1, "a new waker block, nothing else ({places} places)");
        let made = allocations_by(|| assert_eq!(run(8), 9));
        assert_eq!(
            made, 0,
            "the new block was left for this run ({places} places)"
        );
        KEPT.with(|kept| kept.borrow_mut().clear());
    }
}

/// A run whose task's waker panics as the run drops it still puts its memory back: the runs
/// after it allocate nothing. (The waker was dropped before the ticket was used, once: the
/// place stayed marked held and every later run allocated a waker block.)
#[test]
fn a_panicking_parent_waker_drop_does_not_cost_the_cache() {
    std::panic::set_hook(Box::new(|_| {}));
    let b = DagBuilder::<u64>::new();
    let node = b.add_node(double, b.param());
    let dag = b.build();
    assert_eq!(futures_executor::block_on(dag.run(&1))[node], 2);
    static DROPS: panicking_drop::Behaviour = panicking_drop::Behaviour::new(false);
    let parent = panicking_drop::waker(&DROPS);
    let mut run = dag.run(&3);
    assert!(
        Pin::new(&mut run)
            .poll(&mut Context::from_waker(&parent))
            .is_pending()
    );
    DROPS.arm();
    assert!(catch_unwind(AssertUnwindSafe(|| drop(run))).is_err());
    for n in 0..3 {
        let made = allocations_by(|| {
            assert_eq!(futures_executor::block_on(dag.run(&n))[node], 2 * n);
        });
        assert_eq!(made, 0, "run {n} after the panicking drop");
    }
}

/// A run whose task's waker panics as the completing run lets go of it (the run closes its
/// waker block as it completes, in place): that poll panics, a poll after it panics clearly,
/// dropping the run drops its output once, and its memory goes back to the DAG or is freed.
/// Three ways: the block the run's alone (then the next runs allocate nothing), a node's waker
/// kept alive past the run (the block outlives it), and a run overlapping another (the DAG
/// keeps one run's memory: the run's own memory, freed at its end). A part of the run dropped or closed twice frees a block twice.
#[test]
fn a_parent_waker_whose_drop_panics_as_the_run_completes_loses_nothing() {
    async fn boxed(n: &u64) -> Box<u64> {
        Box::new(double(n).await)
    }
    async fn boxed_keeping_its_waker(n: &u64) -> Box<u64> {
        yield_once(true).await;
        Box::new(n * 2)
    }
    std::panic::set_hook(Box::new(|_| {}));
    for (case, keep, overlap) in [
        ("alone", false, false),
        ("a node waker kept", true, false),
        ("overlapping another run", false, true),
    ] {
        let b = DagBuilder::<u64>::new();
        let node = if keep {
            b.add_node(boxed_keeping_its_waker, b.param())
        } else {
            b.add_node(boxed, b.param())
        };
        let dag = b.build().with_kept_runs(1);
        assert_eq!(*futures_executor::block_on(dag.run(&1))[node], 2);
        KEPT.with(|kept| kept.borrow_mut().clear());
        // A run polled once holds the memory the DAG keeps: the run below makes its own.
        let mut other = overlap.then(|| Box::pin(dag.run(&5)));
        if let Some(other) = other.as_mut() {
            let mut cx = Context::from_waker(Waker::noop());
            assert!(other.as_mut().poll(&mut cx).is_pending());
        }
        static DROPS: panicking_drop::Behaviour = panicking_drop::Behaviour::new(false);
        let parent = panicking_drop::waker(&DROPS);
        let leaked = leaked_by(|| {
            let mut run = dag.run(&3);
            let mut cx = Context::from_waker(&parent);
            // The node yields once: the run registers the task's waker.
            assert!(Pin::new(&mut run).poll(&mut cx).is_pending());
            DROPS.arm();
            let completing = catch_unwind(AssertUnwindSafe(|| Pin::new(&mut run).poll(&mut cx)));
            assert!(
                completing.is_err(),
                "{case}: the task waker's drop did not panic"
            );
            let again = catch_unwind(AssertUnwindSafe(|| Pin::new(&mut run).poll(&mut cx)));
            let message = again.expect_err("a poll after the panic went on");
            let message = message.downcast_ref::<&str>().copied().unwrap_or_default();
            assert!(
                message.contains("earlier poll of it panicked"),
                "{case}: {message}"
            );
            drop(run);
            KEPT.with(|kept| kept.borrow_mut().clear());
        });
        assert_eq!(leaked, 0, "{case}: the output or the run's memory leaked");
        if let Some(other) = other {
            assert_eq!(*futures_executor::block_on(other)[node], 10);
        }
        if keep {
            continue;
        }
        for n in 0..3 {
            let made = allocations_by(|| {
                let outputs = futures_executor::block_on(dag.run(&n));
                assert_eq!(*outputs[node], 2 * n);
                drop(outputs);
            });
            assert_eq!(made, 1, "{case}, run {n}: more than its output's box");
        }
    }
}

/// A run leaked with `mem::forget` keeps the memory it took (the one place of a DAG that keeps
/// one run's): the runs after it work, each with memory of its own that it frees (as runs
/// overlapping a live one do), and leak nothing.
/// (Not under Miri: the leaked run is a leak on purpose, which Miri reports.)
#[test]
#[cfg_attr(miri, ignore)]
fn runs_after_a_leaked_run_work_on_memory_of_their_own() {
    let b = DagBuilder::<u64>::new();
    let node = b.add_node(double, b.param());
    let dag = b.build().with_kept_runs(1);
    assert_eq!(futures_executor::block_on(dag.run(&1))[node], 2);
    let mut run = Box::pin(dag.run(&3));
    assert!(
        run.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    std::mem::forget(run);
    let leaked = leaked_by(|| {
        for n in 0..3 {
            assert_eq!(futures_executor::block_on(dag.run(&n))[node], 2 * n);
        }
    });
    assert_eq!(leaked, 0);
}

/// `runs` runs of `dag` at once, as a service runs one DAG for several requests: each is
/// polled once (its nodes yield, so each holds a run block and a waker block), then each runs
/// to its end in turn, the last started first. Returns `total`'s outputs, in start order.
fn overlapping(dag: &dagfut::Dag<u64>, total: dagfut::Node<u64>, runs: u64) -> Vec<u64> {
    let params: Vec<u64> = (0..runs).collect();
    let mut started: Vec<_> = params.iter().map(|param| dag.run(param)).collect();
    for run in &mut started {
        let polled = Pin::new(run).poll(&mut Context::from_waker(Waker::noop()));
        assert!(polled.is_pending(), "a run ended at its first poll");
    }
    let mut totals: Vec<_> = started
        .into_iter()
        .rev()
        .map(|run| futures_executor::block_on(run)[total])
        .collect();
    totals.reverse();
    totals
}

/// A DAG of four yielding nodes and their sum, keeping the memory of `kept` runs at once.
fn four_parts(kept: usize) -> (dagfut::Dag<u64>, dagfut::Node<u64>) {
    let b = DagBuilder::<u64>::new();
    let parts: Vec<_> = (0..4).map(|_| b.add_node(double, b.param())).collect();
    let total = b.add_node(sum, parts);
    (b.build().with_kept_runs(kept), total)
}

/// As many runs at once as the DAG keeps memory for: once that many have overlapped, each
/// later overlap of as many runs allocates nothing, and nothing leaks.
#[test]
fn kept_runs_overlapping_allocate_nothing_once_warm() {
    for kept in [1, 2, 3, 8] {
        let (dag, total) = four_parts(kept);
        assert_eq!(dag.kept_runs(), kept);
        let expected: Vec<u64> = (0..kept as u64).map(|n| 8 * n).collect();
        // The first overlap allocates each run's memory and leaves it in the DAG.
        assert_eq!(overlapping(&dag, total, kept as u64), expected);
        for round in 0..3 {
            let made = allocations_by(|| {
                assert_eq!(overlapping(&dag, total, kept as u64), expected);
            });
            // The vectors of `overlapping` itself: its parameters and its runs, and the totals.
            assert_eq!(made, 3, "kept {kept}, round {round}: a run allocated");
        }
        // Sequential runs take the first place's memory.
        let made =
            allocations_by(|| assert_eq!(futures_executor::block_on(dag.run(&3))[total], 24));
        assert_eq!(made, 0, "kept {kept}: a run after the overlaps allocated");
    }
}

/// More runs at once than the DAG keeps memory for: the runs beyond allocate their own memory
/// and free it at their end (nothing leaks), and the kept places stay whole for the next
/// overlap, which allocates nothing.
#[test]
fn runs_beyond_the_kept_ones_allocate_and_free_their_own() {
    let (dag, total) = four_parts(2);
    assert_eq!(overlapping(&dag, total, 2), [0, 8]);
    let leaked = leaked_by(|| assert_eq!(overlapping(&dag, total, 5), [0, 8, 16, 24, 32]));
    assert_eq!(
        leaked, 0,
        "a run beyond the kept ones left its memory behind"
    );
    let made = allocations_by(|| assert_eq!(overlapping(&dag, total, 2), [0, 8]));
    assert_eq!(made, 3, "the two kept places lost their memory");
}

/// A DAG that keeps no run's memory: every run allocates its own and frees it at its end.
#[test]
fn a_dag_that_keeps_no_runs_memory_frees_it_after_each_run() {
    let (dag, total) = four_parts(0);
    assert_eq!(dag.kept_runs(), 0);
    // A first run outside the counts: the executor's thread-local state is made once.
    assert_eq!(futures_executor::block_on(dag.run(&1))[total], 8);
    for n in 0..3 {
        let run = || assert_eq!(futures_executor::block_on(dag.run(&n))[total], 8 * n);
        assert_eq!(
            allocations_by(run),
            2,
            "run {n}: not its run block and waker block"
        );
        assert_eq!(leaked_by(run), 0, "run {n}: the DAG kept memory");
    }
    assert_eq!(
        leaked_by(|| assert_eq!(overlapping(&dag, total, 3), [0, 8, 16])),
        0
    );
}

/// Memory kept before `with_kept_runs` is freed by it; the places it makes are empty.
#[test]
fn with_kept_runs_frees_the_memory_kept_before() {
    let (dag, total) = four_parts(2);
    // A first run outside the count: the executor's thread-local state is made once.
    assert_eq!(futures_executor::block_on(dag.run(&1))[total], 8);
    let leaked = leaked_by(|| {
        assert_eq!(overlapping(&dag, total, 2), [0, 8]);
        let dag = dag.with_kept_runs(3);
        assert_eq!(dag.kept_runs(), 3);
        assert_eq!(overlapping(&dag, total, 3), [0, 8, 16]);
        drop(dag);
    });
    assert_eq!(leaked, 0);
}

/// A leaked run keeps its place held: the runs after it use the other places, which still
/// allocate nothing once warm.
#[test]
#[cfg_attr(miri, ignore)] // the leaked run is a leak on purpose, which Miri reports
fn a_leaked_run_holds_one_place_and_the_others_still_serve() {
    let (dag, total) = four_parts(3);
    assert_eq!(overlapping(&dag, total, 3), [0, 8, 16]);
    let mut run = Box::pin(dag.run(&7));
    assert!(
        run.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    std::mem::forget(run);
    for round in 0..2 {
        let made = allocations_by(|| assert_eq!(overlapping(&dag, total, 2), [0, 8]));
        assert_eq!(
            made, 3,
            "round {round}: a run allocated beside the leaked one"
        );
    }
}

/// A `dag!` node that returns `Pending` once (its waker stored in `parked`), counting its
/// polls.
struct PendsOnce<'a> {
    polls: &'a std::sync::atomic::AtomicU32,
    parked: &'a RefCell<Vec<Waker>>,
}

impl Future for PendsOnce<'_> {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self
            .polls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            == 0
        {
            self.parked.borrow_mut().push(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(1)
    }
}

/// A run whose task's waker panics as the run lets go of the wakers still releases them: the
/// next run of the `dag!` owns them and polls only its woken nodes. (The release came after
/// the waker's drop, once: every later run of the site fell back to polling every node.)
#[test]
fn a_panicking_parent_waker_drop_releases_the_wakers() {
    std::panic::set_hook(Box::new(|_| {}));
    let polls = [const { std::sync::atomic::AtomicU32::new(0) }; 2];
    let parked = RefCell::new(Vec::new());
    let (polls, parked) = (&polls, &parked);
    let dag = dagfut::dag! {
        async |which: &usize| -> (a) {
            a(which) = PendsOnce { polls: &polls[*which], parked };
        }
    };
    static DROPS: panicking_drop::Behaviour = panicking_drop::Behaviour::new(false);
    let parent = panicking_drop::waker(&DROPS);
    let mut first = Box::pin(dag.run(&0));
    assert!(
        first
            .as_mut()
            .poll(&mut Context::from_waker(&parent))
            .is_pending()
    );
    DROPS.arm();
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(first)));
    assert!(dropped.is_err());
    let mut later = std::pin::pin!(dag.run(&1));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(later.as_mut().poll(&mut cx).is_pending());
    // Nothing woken: the node is not polled.
    assert!(later.as_mut().poll(&mut cx).is_pending());
    assert_eq!(polls[1].load(std::sync::atomic::Ordering::Relaxed), 1);
    parked.borrow_mut().pop().unwrap().wake();
    assert_eq!(later.as_mut().poll(&mut cx), Poll::Ready((1,)));
}
