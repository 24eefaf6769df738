//! The `static` wakers of `dag!` runs (`core/src/fixed.rs`) under what safe code may do: an
//! `Edges` written by hand whose block changes, a task waker that panics once, wakers kept past
//! their run, a claimant leaked, a run nested in a node of the same `dag!`, a hand-built
//! schedule polled again after a poll of it panicked. The first two were bugs (a data race
//! under Miri, and lost wakes), and the last one lost wakes before such a schedule refused the
//! poll; the rest pin down documented behaviour.
//!
//! ```text
//! cargo test -p dagfut --test fixed_wakers
//! MIRIFLAGS="-Zmiri-strict-provenance" cargo +nightly miri test -p dagfut --test fixed_wakers
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use dagfut::fixed::{
    Block, Cons, Control, Edges, Graph, Mode, Nil, OutputCell, Schedule, Step, Sure, Wakers,
};

mod support;

/// A task waker that counts its wakes.
struct Counting(AtomicU32);

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn counting() -> (Arc<Counting>, Waker) {
    let task = Arc::new(Counting(AtomicU32::new(0)));
    let waker = Waker::from(task.clone());
    (task, waker)
}

/// Pending on its first poll (leaving its waker in `parked`), ready on the next.
struct ParksOnce<'a> {
    parked: &'a Mutex<Option<Waker>>,
    polled: bool,
}

impl Future for ParksOnce<'_> {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if std::mem::replace(&mut self.polled, true) {
            return Poll::Ready(1);
        }
        *self.parked.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn fail_fast() -> Control<'static> {
    Control {
        mode: Mode::FailFast,
        observer: None,
    }
}

/// A fail-fast schedule of one node, over `G`'s block: the future `make` returns, its output
/// in `cell`.
fn one_node<'c, G: Edges<1> + 'c, F: Future<Output = u32> + 'c>(
    cell: &'c OutputCell<u32>,
    make: impl FnOnce() -> F + 'c,
) -> impl Future + 'c {
    Schedule::<_, G, Infallible, 1>::new(
        Cons::new(Step::<_, _, _, Sure>::new(cell, make), Nil),
        fail_fast(),
    )
}

/// Polls `run` with `waker`: it must be pending.
fn pending<F: Future + ?Sized>(run: Pin<&mut F>, waker: &Waker) {
    assert!(run.poll(&mut Context::from_waker(waker)).is_pending());
}

// ---------------------------------------------------------------------------------------------
// `Edges` is a public, safe trait: a hand-written one whose `wakers` changes its answer must
// not make a run register in a block it did not claim (it did: `poll_run` read `G::wakers()`
// again on every poll).

static X: Block<1> = Block::new();
static Y: Block<1> = Block::new();
static FLIP: AtomicBool = AtomicBool::new(false);

/// Safe code: an `Edges` whose wakers are block X until `FLIP`, then block Y.
struct Flips;

impl Edges<1> for Flips {
    const GRAPH: &'static Graph<1> = &Graph::new(["a"], [&[]]);
    fn wakers() -> &'static Wakers<1> {
        if FLIP.load(Ordering::Relaxed) {
            Y.get()
        } else {
            X.get()
        }
    }
}

/// Block Y, always.
struct OnlyY;

impl Edges<1> for OnlyY {
    const GRAPH: &'static Graph<1> = &Graph::new(["a"], [&[]]);
    fn wakers() -> &'static Wakers<1> {
        Y.get()
    }
}

static Y2: Block<1> = Block::new();
static FLIP2: AtomicBool = AtomicBool::new(false);
static A_READ: AtomicBool = AtomicBool::new(false);
static B_REGISTERED: AtomicBool = AtomicBool::new(false);

struct Flips2;

impl Edges<1> for Flips2 {
    const GRAPH: &'static Graph<1> = &Graph::new(["a"], [&[]]);
    fn wakers() -> &'static Wakers<1> {
        static X2: Block<1> = Block::new();
        if FLIP2.load(Ordering::Relaxed) {
            Y2.get()
        } else {
            X2.get()
        }
    }
}

struct OnlyY2;

impl Edges<1> for OnlyY2 {
    const GRAPH: &'static Graph<1> = &Graph::new(["a"], [&[]]);
    fn wakers() -> &'static Wakers<1> {
        Y2.get()
    }
}

/// Run A claims block X on its first poll; its `Edges` then names block Y, which run B has
/// claimed. A's next poll must register in X, the block it claimed: registering in Y (as it
/// did) had B's node's wake wake A's task, never B's (a lost wake).
#[test]
fn a_user_edges_whose_wakers_change_steals_another_runs_wakes() {
    let (task_a, waker_a) = counting();
    let (task_b, waker_b) = counting();
    let parked_a = Mutex::new(None);
    let parked_b = Mutex::new(None);

    let (cell_a, cell_b) = (OutputCell::new(), OutputCell::new());
    let mut run_a = pin!(one_node::<Flips, _>(&cell_a, || ParksOnce {
        parked: &parked_a,
        polled: false,
    }));
    let mut run_b = pin!(one_node::<OnlyY, _>(&cell_b, || ParksOnce {
        parked: &parked_b,
        polled: false,
    }));

    // A claims X, B claims Y.
    pending(run_a.as_mut(), &waker_a);
    pending(run_b.as_mut(), &waker_b);
    FLIP.store(true, Ordering::Relaxed);
    // A polls again: it must register its waker in X, the block it claimed, not in Y.
    pending(run_a.as_mut(), &waker_a);
    // B's node is woken: its run's task must be.
    parked_b.lock().unwrap().take().unwrap().wake();
    assert_eq!(task_a.0.load(Ordering::Relaxed), 0, "A's task got B's wake");
    assert_eq!(task_b.0.load(Ordering::Relaxed), 1, "B's wake was lost");
}

/// The same misuse across two threads: an unclaimed `register` of A's on Y would read Y's
/// current cell without holding it (the protocol allows that only to the one run side), while
/// B, Y's real claimant, registers a new waker and clears the old cell on another thread. The
/// two threads are ordered only by relaxed flags, so Miri's race detector saw a read and a
/// write of the same `UnsafeCell<Option<Waker>>` with no happens-before: undefined behaviour
/// from safe code. Natively it passed either way; under Miri it is the check.
#[test]
fn unclaimed_register_races_the_claimant_under_miri() {
    std::thread::scope(|s| {
        s.spawn(|| {
            let cell = OutputCell::new();
            let mut run_b = pin!(one_node::<OnlyY2, _>(&cell, std::future::pending::<u32>));
            // Claims Y2 and registers the no-op waker in it.
            pending(run_b.as_mut(), Waker::noop());
            B_REGISTERED.store(true, Ordering::Relaxed);
            while !A_READ.load(Ordering::Relaxed) {
                std::thread::yield_now();
            }
            // A new waker: written into the other cell, then the old one cleared.
            let (_task, waker) = counting();
            pending(run_b.as_mut(), &waker);
        });
        let cell = OutputCell::new();
        let mut run_a = pin!(one_node::<Flips2, _>(&cell, std::future::pending::<u32>));
        // Claims X2.
        pending(run_a.as_mut(), Waker::noop());
        FLIP2.store(true, Ordering::Relaxed);
        while !B_REGISTERED.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
        // Must not register in Y2 without its claim (that read Y2's current cell).
        pending(run_a.as_mut(), Waker::noop());
        A_READ.store(true, Ordering::Relaxed);
    });
}

// ---------------------------------------------------------------------------------------------
// A task waker whose wake panics once left the node's bit in `woken`; every later node wake
// found `woken` non-zero and skipped the parent's wake, so the run was never woken again (not
// only the panicking wake was lost), though the waker works again. The wake is owed now.

/// A task waker whose first wake panics; it counts the wakes after that.
struct PanicsOnce {
    armed: AtomicBool,
    wakes: AtomicU32,
}

impl Wake for PanicsOnce {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.armed.swap(false, Ordering::Relaxed) {
            panic!("the task's waker panics once");
        }
        self.wakes.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn after_a_panicking_task_wake_a_later_node_wake_still_wakes_the_task() {
    let parked = [Mutex::new(None), Mutex::new(None)];
    let parked = &parked;
    let dag = dagfut::dag! {
        async |p: &u32| -> (a, b) {
            a(p) = ParksOnce { parked: &parked[0], polled: false };
            b(p) = ParksOnce { parked: &parked[1], polled: false };
        }
    };
    let task = Arc::new(PanicsOnce {
        armed: AtomicBool::new(true),
        wakes: AtomicU32::new(0),
    });
    let waker = Waker::from(task.clone());
    let mut run = Box::pin(dag.run(&0));
    pending(run.as_mut(), &waker);
    // Node a's wake (an I/O driver's thread, say) panics in the task's waker.
    let a = parked[0].lock().unwrap().take().unwrap();
    assert!(std::panic::catch_unwind(move || a.wake()).is_err());
    // Later node b is woken; the task's waker works now.
    parked[1].lock().unwrap().take().unwrap().wake();
    assert_eq!(
        task.wakes.load(Ordering::Relaxed),
        1,
        "b's wake did not reach the task: the run sleeps for good"
    );
}

// ---------------------------------------------------------------------------------------------
// Cases the rest of the suite does not drive.

/// Drives `run` by hand: polls it, then wakes the parked node wakers one at a time (oldest
/// first), requiring that each wake that leaves the run unfinished wakes its task (a lost wake
/// would otherwise hang a real executor), until it is ready.
fn drive<F: Future + ?Sized>(mut run: Pin<&mut F>, parked: &Mutex<Vec<Waker>>) -> F::Output {
    let (task, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    let mut woken = 0;
    loop {
        if let Poll::Ready(out) = run.as_mut().poll(&mut cx) {
            return out;
        }
        loop {
            let next = parked.lock().unwrap().drain(..1).next();
            let Some(node) = next else {
                panic!("the run is pending with no node parked: hung");
            };
            node.wake();
            let now = task.0.load(Ordering::Relaxed);
            if now > woken {
                woken = now;
                break;
            }
            assert!(
                !parked.lock().unwrap().is_empty(),
                "a node's wake did not wake the run's task, and nothing is left to wake"
            );
        }
    }
}

/// Pending on its first poll (its waker pushed on `parked`), ready with `n` on the next.
struct PushesOnce<'a> {
    parked: &'a Mutex<Vec<Waker>>,
    polls: &'a AtomicU32,
    n: u32,
}

impl Future for PushesOnce<'_> {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.polls.fetch_add(1, Ordering::Relaxed) == 0 {
            self.parked.lock().unwrap().push(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(self.n)
    }
}

/// A node's waker kept past its run (it is `static`) and woken while a later run of the site
/// owns the block: the later run's task is woken and its node of the same position is polled
/// once, unwoken by its own waker (the documented cost); no other node is polled.
#[test]
fn a_waker_kept_from_an_earlier_run_woken_during_a_later_one_costs_one_poll() {
    let polls = [const { AtomicU32::new(0) }; 4];
    let parked = Mutex::new(Vec::new());
    let (polls, parked) = (&polls, &parked);
    let dag = dagfut::dag! {
        async |p: &usize| -> (a, b) {
            a(p) = PushesOnce { parked, polls: &polls[2 * *p], n: 1 };
            b(p) = PushesOnce { parked, polls: &polls[2 * *p + 1], n: 2 };
        }
    };
    let count = |i: usize| polls[i].load(Ordering::Relaxed);
    // Run 0: both nodes park, are woken, complete; their wakers are kept.
    let mut first = pin!(dag.run(&0));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    let kept: Vec<Waker> = parked.lock().unwrap().drain(..).collect();
    kept.iter().for_each(Waker::wake_by_ref);
    assert_eq!(first.as_mut().poll(&mut cx), Poll::Ready((1, 2)));
    // Run 1 owns the block; both its nodes park.
    let mut second = pin!(dag.run(&1));
    let (task, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!((count(2), count(3)), (1, 1));
    // Run 0's node a's waker, woken now.
    kept[0].wake_by_ref();
    assert_eq!(
        task.0.load(Ordering::Relaxed),
        1,
        "the stale wake wakes the later run's task"
    );
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        (count(2), count(3)),
        (2, 1),
        "run 1's node a polled once, b not at all"
    );
    let own: Vec<Waker> = parked.lock().unwrap().drain(..).collect();
    own[1].wake_by_ref();
    assert_eq!(second.as_mut().poll(&mut cx), Poll::Ready((1, 2)));
}

/// The claimant leaked with `mem::forget` (boxed, so its memory stays): every later run of the
/// site polls with its task's waker, and completes, its wakes never lost.
#[test]
#[cfg_attr(miri, ignore)] // the leak is on purpose
fn runs_after_a_forgotten_claimant_complete() {
    let polls = [const { AtomicU32::new(0) }; 6];
    let parked = Mutex::new(Vec::new());
    let (polls, parked) = (&polls, &parked);
    let dag = dagfut::dag! {
        async |i: &usize| -> (c) {
            a(i) = PushesOnce { parked, polls: &polls[2 * *i], n: 1 };
            b(i) = PushesOnce { parked, polls: &polls[2 * *i + 1], n: 2 };
            c(a, b) = std::future::ready(a + b);
        }
    };
    let mut leaked = Box::pin(dag.run(&0));
    pending(leaked.as_mut(), Waker::noop());
    std::mem::forget(leaked);
    parked.lock().unwrap().clear();
    for i in 1..3 {
        assert_eq!(drive(pin!(dag.run(&i)), parked), (3,));
    }
}

/// A node of a `dag!` that runs the same `dag!` (recursion: one site, so one block). The inner
/// run may claim the block during the outer run's first poll and register the outer node's
/// block waker as its task's waker; wakes still reach the outermost task.
fn nested<'a>(
    depth: u32,
    parked: &'a Mutex<Vec<Waker>>,
    polls: &'a [AtomicU32],
) -> Pin<Box<dyn Future<Output = u32> + 'a>> {
    Box::pin(async move {
        if depth == 0 {
            return PushesOnce {
                parked,
                polls: &polls[0],
                n: 1,
            }
            .await;
        }
        let dag = dagfut::dag! {
            async |d: &u32| -> (sum) {
                inner(d) = nested(*d - 1, parked, polls);
                own(d) = PushesOnce { parked, polls: &polls[*d as usize], n: 1 };
                sum(inner, own) = std::future::ready(inner + own);
            }
        };
        dag.run(&depth).await.0
    })
}

#[test]
fn a_dag_run_nested_in_a_node_of_the_same_dag_completes() {
    for depth in 1..4 {
        let polls: Vec<AtomicU32> = (0..=depth).map(|_| AtomicU32::new(0)).collect();
        let parked = Mutex::new(Vec::new());
        let out = drive(nested(depth, &parked, &polls).as_mut(), &parked);
        assert_eq!(out, depth + 1);
    }
}

// ---------------------------------------------------------------------------------------------
// A hand-built `Schedule` whose poll unwound (a node, its drop or the observer panicked) may hold
// a node's state half-written: a node's due bit cleared before the observer heard of its wake,
// a failure not yet recorded. Polled again, such a schedule lost wakes (two bugs, the second
// found by `tests/tests/fixed_model.rs`). It now refuses to be polled again, as a runtime run
// does, and its drop still drops what each node holds.

static V: Block<1> = Block::new();

/// One node, its waker in block V.
struct OnV;

impl Edges<1> for OnV {
    const GRAPH: &'static Graph<1> = &Graph::new(["a"], [&[]]);
    fn wakers() -> &'static Wakers<1> {
        V.get()
    }
}

/// An observer that panics at the first `at` event.
struct PanicsAt {
    at: dagfut::NodeEvent,
    fired: bool,
}

impl dagfut::Observer for PanicsAt {
    fn on_event(&mut self, _task: usize, event: dagfut::NodeEvent) {
        if event == self.at && !std::mem::replace(&mut self.fired, true) {
            panic!("the observer panics once");
        }
    }
}

/// Polls `run`: it must panic.
fn unwinds<F: Future + ?Sized>(run: Pin<&mut F>, waker: &Waker) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = run.poll(&mut Context::from_waker(waker));
    }))
    .expect_err("the poll panics");
    support::panic_text(&*payload)
}

#[test]
fn a_schedule_polled_again_after_a_poll_that_panicked_refuses_clearly() {
    // The observer panics as the node starts (the first poll, before the run claims the
    // block), or as its wake is seen (a later poll).
    for at in [dagfut::NodeEvent::Started, dagfut::NodeEvent::Woken] {
        let parked = Mutex::new(None);
        let cell = OutputCell::new();
        let mut observer = PanicsAt { at, fired: false };
        let mut run = pin!(Schedule::<_, OnV, Infallible, 1>::new(
            Cons::new(
                Step::<_, _, _, Sure>::new(&cell, || ParksOnce {
                    parked: &parked,
                    polled: false,
                }),
                Nil,
            ),
            Control {
                mode: Mode::FailFast,
                observer: Some(&mut observer),
            },
        ));
        let (_task, waker) = counting();
        if at == dagfut::NodeEvent::Woken {
            pending(run.as_mut(), &waker);
            parked.lock().unwrap().take().unwrap().wake();
        }
        assert_eq!(unwinds(run.as_mut(), &waker), "the observer panics once");
        let again = unwinds(run.as_mut(), &waker);
        assert!(
            again.contains("polled again after an earlier poll of it panicked; drop it instead"),
            "{again}"
        );
    }
}
