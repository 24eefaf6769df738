//! loom models of the waker block: every interleaving of wakes against the run's poll, the
//! completion of the woken node, the drop of the run, the last waker clone's drop, a wake
//! that finds the task being woken by another, and a wake whose clone of the task's waker
//! panics as the run ends.
//!
//! ```text
//! RUSTFLAGS="--cfg dagfut_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 cargo test -p dagfut --release --test loom
//! ```
//!
//! Each model also counts which of its interesting interleavings it reached, and asserts that
//! loom explored each of them at least once.
//!
//! The waker block is allocated with the global allocator, which loom's leak check does not
//! see: this binary's allocator ([`WatchFrees`]) tells a model whether the block was freed.

#![cfg(dagfut_loom)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Waker};

use dagfut::{Dag, DagBuilder, Node, NodeEvent, Observer};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// A gate a node waits on; `open` fires it from any thread. The state: open, the parked
/// node's waker, whether the node ever parked.
#[derive(Clone, Default)]
struct Gate(Arc<Mutex<(bool, Option<Waker>, bool)>>);

impl Gate {
    fn open(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A clone of the stored waker, if the node parked.
    fn waker(&self) -> Option<Waker> {
        self.0.lock().unwrap().1.clone()
    }
}

struct Wait<'g>(&'g Gate);

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = (self.0).0.lock().unwrap();
        if state.0 {
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        state.2 = true;
        Poll::Pending
    }
}

async fn wait(gate: &Gate) -> u32 {
    Wait(gate).await;
    1
}

/// Counts the interleavings a model reached (outside loom: it must not be a loom object).
struct Reached<const N: usize>([AtomicUsize; N]);

impl<const N: usize> Reached<N> {
    const fn new() -> Self {
        Reached([const { AtomicUsize::new(0) }; N])
    }
    fn hit(&self, which: usize) {
        self.0[which].fetch_add(1, SeqCst);
    }
    fn assert_all(&self, what: [&str; N]) {
        for (count, what) in self.0.iter().zip(what) {
            assert!(count.load(SeqCst) > 0, "loom never reached: {what}");
        }
    }
}

/// This binary's allocator: the system's, which also notes when the allocation holding a
/// watched address is freed ([`watch_block`]).
struct WatchFrees;

#[global_allocator]
static ALLOCATOR: WatchFrees = WatchFrees;

thread_local! {
    /// The watched address (0: none) and whether the allocation holding it was freed since.
    /// loom runs a model's threads as coroutines on the test's own thread, so every thread of
    /// a model sees the same pair, and other tests (on their own threads) never touch it.
    static WATCHED: Cell<(usize, bool)> = const { Cell::new((0, false)) };
}

// SAFETY: every call is forwarded to `System` unchanged; `dealloc` only reads and writes a
// thread-local `Cell` besides (no allocation, no destructor).
unsafe impl GlobalAlloc for WatchFrees {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let start = ptr.addr();
        WATCHED.with(|watched| {
            let (address, _) = watched.get();
            if address != 0 && (start..start + layout.size()).contains(&address) {
                watched.set((0, true));
            }
        });
        // SAFETY: as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    // A reallocation cannot free the watched allocation: while it lives no other allocation
    // holds its address, and the waker block is only ever freed with `dealloc`.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Watches the waker block that `waker` (a clone of a node's waker, so the block is live)
/// points into: [`block_freed`] says whether it was freed since.
fn watch_block(waker: &Waker) {
    WATCHED.with(|watched| watched.set((waker.data().addr(), false)));
}

/// Whether the block passed to [`watch_block`] was freed since.
fn block_freed() -> bool {
    WATCHED.with(|watched| watched.get().1)
}

#[test]
fn a_wake_racing_the_poll_that_drains_the_queue() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (gate, dag, node) = one_gate();
        let opener = open_later(&gate);
        let out = loom::future::block_on(dag.run(&()));
        assert_eq!(out[node], 1);
        opener.join().unwrap();
        // Whether the node had to park (the wake came through the queue) or not.
        REACHED.hit(usize::from(gate.0.lock().unwrap().2));
    });
    REACHED.assert_all([
        "the gate opened before the first poll",
        "a wake through the queue",
    ]);
}

/// The nodes in the order the run found their wakes, for the two-thread model.
#[derive(Default)]
struct WakeOrder(Vec<usize>);

impl Observer for WakeOrder {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        if event == NodeEvent::Woken {
            self.0.push(task);
        }
    }
}

#[test]
fn wakes_from_two_threads_at_once() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (first, second, dag, x, y) = two_gates();
        let mut woken = WakeOrder::default();
        let mut run = dag.run(&()).with_observer(&mut woken);
        // First poll by hand: both nodes park.
        let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let waker = counting_waker(&polls);
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut run).poll(&mut cx).is_pending());
        let threads =
            [first.clone(), second.clone()].map(|gate| thread::spawn(move || gate.open()));
        for thread in threads {
            thread.join().unwrap();
        }
        // Two wakes before the next poll: the parent is woken exactly once.
        assert_eq!(polls.load(SeqCst), 1);
        let Poll::Ready(out) = Pin::new(&mut run).poll(&mut cx) else {
            panic!("both nodes were woken: one poll completes the run");
        };
        assert_eq!(out[x] + out[y], 2);
        drop(run);
        // The run takes the wakes in the order they were pushed (and then polls the batch in
        // index order).
        assert_eq!(woken.0.len(), 2);
        REACHED.hit(woken.0[0]);
    });
    REACHED.assert_all(["the first thread's wake pushed first", "the second's first"]);
}

#[test]
fn a_wake_racing_the_completion_of_the_same_node() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (gate, dag, node) = one_gate();
        let mut run = dag.run(&());
        let (polls, waker) = first_poll(&mut run);
        let mut cx = Context::from_waker(&waker);
        let stale = gate.waker().expect("the node parked");
        gate.open();
        // A second, late wake of the same node from another thread, racing its completion.
        let late = thread::spawn(move || stale.wake());
        let Poll::Ready(out) = Pin::new(&mut run).poll(&mut cx) else {
            panic!("the node was woken");
        };
        assert_eq!(out[node], 1);
        late.join().unwrap();
        REACHED.hit(usize::from(polls.load(SeqCst) > 1));
    });
    REACHED.assert_all(["the late wake absorbed", "the late wake woke the parent"]);
}

#[test]
fn a_wake_racing_the_drop_of_the_run() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (gate, dag, _) = one_gate();
        let mut run = dag.run(&());
        let (polls, _waker) = first_poll(&mut run);
        let opener = open_later(&gate);
        drop(run);
        opener.join().unwrap();
        REACHED.hit(polls.load(SeqCst));
    });
    REACHED.assert_all([
        "the wake after the drop (ignored)",
        "the wake before the drop",
    ]);
}

/// A wake racing the end of the run, while a node's waker lives on: whichever of them holds
/// the parent's slot at that moment, once both are done the ended run's block keeps no clone
/// of its task's waker (a wake that held the slot as the run took the waker takes it out
/// itself, and the run never waits for it).
#[test]
fn a_wake_racing_the_end_of_the_run_leaves_no_task_waker_behind() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (gate, dag, _) = one_gate();
        let mut run = dag.run(&());
        let (polls, waker) = first_poll(&mut run);
        // Only the run's parent slot holds a clone of the task's waker from now on.
        drop(waker);
        let kept = gate.waker().expect("the node parked");
        let opener = open_later(&gate);
        drop(run);
        opener.join().unwrap();
        // `polls` is held by the test and by the task's waker, if any clone of it is left.
        assert_eq!(
            Arc::strong_count(&polls),
            1,
            "the ended run's block still holds its task's waker"
        );
        drop(kept);
        REACHED.hit(polls.load(SeqCst));
    });
    REACHED.assert_all([
        "the wake after the end of the run (ignored)",
        "the wake before the end of the run",
    ]);
}

#[test]
fn the_last_waker_clone_dropped_on_another_thread() {
    loom::model(|| {
        let (gate, dag, _) = one_gate();
        let mut run = dag.run(&());
        let (_polls, _waker) = first_poll(&mut run);
        let clone = gate.waker().expect("the node parked");
        let dropper = thread::spawn(move || drop(clone));
        drop(run);
        drop(dag);
        drop(gate); // the gate's own clone goes with the last handle
        dropper.join().unwrap();
    });
}

/// Two nodes woken from two threads while the run is polled on a third, whose task's waker
/// unparks it: a wake may find the parent's slot held by the other thread's wake of the task
/// (the run polled and drained in between), and leaves the waking to that holder, whose wake
/// must then come after this wake's push. A lost wake leaves the polling thread parked for
/// ever: a deadlock, which loom reports. (A wake that woke the task by reference while holding
/// the slot, without waking it again after such a request, deadlocks here.)
#[test]
fn a_wake_that_finds_the_task_being_woken_is_not_lost() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (first, second, dag, x, y) = two_gates();
        let mut run = dag.run(&());
        let task = std::sync::Arc::new(UnparkTask {
            thread: thread::current(),
            wakers: std::sync::Mutex::new(Vec::new()),
        });
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        // Both nodes park; the run registers the task's waker.
        assert!(Pin::new(&mut run).poll(&mut cx).is_pending());
        let openers = [first, second].map(|gate| thread::spawn(move || gate.open()));
        let out = loop {
            if let Poll::Ready(out) = Pin::new(&mut run).poll(&mut cx) {
                break out;
            }
            thread::park();
        };
        assert_eq!(out[x] + out[y], 2);
        let ids = openers.map(|opener| {
            let id = opener.thread().id();
            opener.join().unwrap();
            id
        });
        let wakers = task.wakers.lock().unwrap();
        let both = ids.iter().all(|id| wakers.contains(id));
        REACHED.hit(usize::from(both));
    });
    REACHED.assert_all([
        "one opener's wake of the task served both",
        "each opener woke the task",
    ]);
}

/// A task's waker that unparks its thread and records which threads woke it.
struct UnparkTask {
    thread: thread::Thread,
    wakers: std::sync::Mutex<Vec<thread::ThreadId>>,
}

impl std::task::Wake for UnparkTask {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakers.lock().unwrap().push(thread::current().id());
        self.thread.unpark();
    }
}

/// A wake whose clone of the task's waker panics, racing the end of the run: the wake may
/// hold the parent's slot as the run takes the waker (the run then asks it to take the waker
/// out, which its panic prevents), let go before, or come after the end. Whichever, once both
/// are done nothing holds the task's waker: the run took it, alone with the block or late, or
/// the block's last reference dropped it.
#[test]
fn a_wake_whose_task_waker_clone_panics_racing_the_end_of_the_run() {
    static REACHED: Reached<2> = Reached::new();
    // Three preemptions: the wake holds the slot, the run takes, the wake panics and lets go
    // before the run looks at the block's references again (its late take).
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (gate, dag, _) = one_gate();
        let mut run = dag.run(&());
        let task = std::sync::Arc::new(FragileTask::default());
        let waker = fragile_waker(&task);
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut run).poll(&mut cx).is_pending());
        drop(waker);
        // Registered (a clone in the parent's slot): from now on its clones panic.
        task.panic_clones.store(true, SeqCst);
        let gate_ = gate.clone();
        let opener = thread::spawn(move || {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gate_.open()));
        });
        drop(run);
        opener.join().unwrap();
        assert_eq!(
            std::sync::Arc::strong_count(&task),
            1,
            "a clone of the task's waker outlived the run and its wakes"
        );
        REACHED.hit(task.panicked.load(SeqCst).min(1));
    });
    REACHED.assert_all([
        "the wake after the end of the run (ignored)",
        "the wake's clone of the task's waker panicked",
    ]);
}

/// A task whose waker's clone panics once `panic_clones` is set.
#[derive(Default)]
struct FragileTask {
    panic_clones: std::sync::atomic::AtomicBool,
    /// How many clones panicked.
    panicked: AtomicUsize,
}

/// A waker of `task` (holding one reference of it) whose clone panics as `task` says, without
/// the panic hook (`resume_unwind`), so a model's many panics print nothing.
fn fragile_waker(task: &std::sync::Arc<FragileTask>) -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is a live `Arc<FragileTask>`'s, whose reference the waker holds.
        let task = unsafe { &*data.cast::<FragileTask>() };
        if task.panic_clones.load(SeqCst) {
            task.panicked.fetch_add(1, SeqCst);
            std::panic::resume_unwind(Box::new("the task's waker cannot be cloned"));
        }
        // SAFETY: as above; the clone owns the reference taken here.
        unsafe { std::sync::Arc::increment_strong_count(data.cast::<FragileTask>()) };
        RawWaker::new(data, &VTABLE)
    }
    unsafe fn wake(data: *const ()) {
        // SAFETY: the consumed waker's reference, given up here.
        unsafe { drop_waker(data) };
    }
    unsafe fn wake_by_ref(_: *const ()) {}
    unsafe fn drop_waker(data: *const ()) {
        // SAFETY: the waker's own reference, given up once.
        unsafe { std::sync::Arc::decrement_strong_count(data.cast::<FragileTask>()) };
    }
    let data = std::sync::Arc::into_raw(task.clone()).cast::<()>();
    // SAFETY: the vtable's functions keep the `RawWaker` contract for a pointer from
    // `Arc::into_raw` of a `FragileTask` (clone takes a reference or panics before taking
    // any, drop and wake give one up); a `FragileTask` is `Send + Sync`.
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

/// Where the run was when the other thread's stale wake landed ([`Stage::during`]).
const BEFORE_COMPLETION: usize = 0;
/// The woken node completed; the run goes on (its dependent pends once), so the next poll
/// drains the stale wake of a node that is done.
const AFTER_COMPLETION: usize = 1;
/// The last node completed: the run ends in this poll, without draining the wake.
const LAST_NODE_DONE: usize = 2;
/// The run's future returned its outputs; the block is closed.
const AFTER_THE_RUN: usize = 3;

/// The stage of the run, behind a lock that the waking thread holds across each wake, so a
/// wake lands in exactly one stage.
#[derive(Clone)]
struct Stage(Arc<Mutex<usize>>);

impl Stage {
    fn new() -> Self {
        Stage(Arc::new(Mutex::new(BEFORE_COMPLETION)))
    }

    fn set(&self, stage: usize) {
        *self.0.lock().unwrap() = stage;
    }

    /// Runs `wake`, and returns the stage it ran in with what it returned.
    fn during<R>(&self, wake: impl FnOnce() -> R) -> (usize, R) {
        let stage = self.0.lock().unwrap();
        let woken = wake();
        (*stage, woken)
    }
}

/// Moves the stage on as the run's nodes complete: task 0 to `AFTER_COMPLETION`, task 1 to
/// `LAST_NODE_DONE`.
struct Completions(Stage);

impl Observer for Completions {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        if event == NodeEvent::Completed {
            self.0.set([AFTER_COMPLETION, LAST_NODE_DONE][task]);
        }
    }
}

/// `n + 1`, after one `Pending` (it wakes itself first): the run is polled again after the
/// node's input completed.
async fn pend_once_then_inc(n: &u32) -> u32 {
    smol::future::yield_now().await;
    n + 1
}

#[test]
fn a_stale_wake_racing_the_completion_of_its_node_and_the_end_of_the_run() {
    static BY_REFERENCE: Reached<4> = Reached::new();
    static BY_VALUE: Reached<4> = Reached::new();
    static FREED_BY: Reached<2> = Reached::new();
    const STAGES: [&str; 4] = [
        "a stale wake before its node completed",
        "a stale wake after its node completed, while the run goes on",
        "a stale wake after the last node completed, as the run ends",
        "a stale wake after the run returned",
    ];
    loom::model(|| {
        let gate = Gate::default();
        let b = DagBuilder::<()>::new();
        let waited = b.add_node(wait, b.add_constant(gate.clone()));
        let next = b.add_node(pend_once_then_inc, waited);
        let dag = b.build();
        let stage = Stage::new();
        let mut run = dag.run(&()).with_observer(Completions(stage.clone()));
        let (_polls, _waker) = first_poll(&mut run);
        // The other thread holds a clone of the parked node's waker: it opens the gate (which
        // wakes the gate's own clone), then wakes its clone by reference and by value, the
        // last of which gives up its reference.
        let stale = gate.waker().expect("the node parked");
        watch_block(&stale);
        let waker_thread = {
            let (gate, stage) = (gate.clone(), stage.clone());
            thread::spawn(move || {
                gate.open();
                let (by_reference, ()) = stage.during(|| stale.wake_by_ref());
                // Read right after the wake (no loom operation in between): only this thread
                // can have freed the block, as it held a reference until then.
                let (by_value, freed) = stage.during(move || {
                    stale.wake();
                    block_freed()
                });
                (by_reference, by_value, freed)
            })
        };
        let out = loom::future::block_on(&mut run);
        stage.set(AFTER_THE_RUN);
        assert_eq!((out[waited], out[next]), (1, 2));
        drop(out);
        drop(run);
        let (by_reference, by_value, freed_by_the_wake) = waker_thread.join().unwrap();
        drop((dag, gate));
        // The run's end or the other thread's last clone freed the block, whichever came last.
        assert!(block_freed(), "the waker block was not freed");
        BY_REFERENCE.hit(by_reference);
        BY_VALUE.hit(by_value);
        FREED_BY.hit(usize::from(freed_by_the_wake));
    });
    BY_REFERENCE.assert_all(STAGES);
    BY_VALUE.assert_all(STAGES);
    FREED_BY.assert_all([
        "the block freed as the run ended",
        "the block freed by the last clone's wake",
    ]);
}

/// A DAG of one node that waits on the returned gate.
/// The run's task moves between polls (each poll brings a waker of its own) while its node is
/// woken from another thread: the wake reaches the waker of the latest poll, not only an
/// earlier one (the parent's slot keeps its waker across wakes and registers a new one only
/// when it changes, racing the wakes). A wake lost to an old waker leaves the loop below
/// waiting for ever, which loom reports.
#[test]
fn a_wake_racing_a_poll_that_brings_a_new_parent_waker() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (gate, dag, node) = one_gate();
        let mut run = dag.run(&());
        let (first, _first_waker) = first_poll(&mut run);
        let opener = open_later(&gate);
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let waker = counting_waker(&woken);
        let out = loop {
            let seen = woken.load(SeqCst);
            match Pin::new(&mut run).poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(out) => break out,
                Poll::Pending => {
                    while woken.load(SeqCst) == seen {
                        thread::yield_now();
                    }
                }
            }
        };
        assert_eq!(out[node], 1);
        opener.join().unwrap();
        // Whether the wake reached the first poll's waker (before the second poll registered
        // its own) or only the new one.
        REACHED.hit(usize::from(first.load(SeqCst) > 0));
    });
    REACHED.assert_all([
        "the wake reached only the new waker",
        "the wake reached the first poll's waker",
    ]);
}

/// Opens `gate` on a thread of its own.
fn open_later(gate: &Gate) -> thread::JoinHandle<()> {
    let gate = gate.clone();
    thread::spawn(move || gate.open())
}

/// Two nodes, each waiting on a gate of its own.
fn two_gates() -> (Gate, Gate, Dag<()>, Node<u32>, Node<u32>) {
    let (first, second) = (Gate::default(), Gate::default());
    let b = DagBuilder::<()>::new();
    let x = b.add_node(wait, b.add_constant(first.clone()));
    let y = b.add_node(wait, b.add_constant(second.clone()));
    (first, second, b.build(), x, y)
}

fn one_gate() -> (Gate, Dag<()>, Node<u32>) {
    let gate = Gate::default();
    let b = DagBuilder::<()>::new();
    let node = b.add_node(wait, b.add_constant(gate.clone()));
    (gate, b.build(), node)
}

/// Polls `run` once with a waker that counts its wakes (returned, with the waker): the node
/// parks.
fn first_poll<F: Future + Unpin>(run: &mut F) -> (Arc<std::sync::atomic::AtomicUsize>, Waker) {
    let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let waker = counting_waker(&polls);
    assert!(
        Pin::new(run)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    (polls, waker)
}

fn counting_waker(count: &Arc<std::sync::atomic::AtomicUsize>) -> Waker {
    struct Count(Arc<std::sync::atomic::AtomicUsize>);
    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    Waker::from(std::sync::Arc::new(Count(count.clone())))
}

async fn add(a: &u32, b: &u32) -> u32 {
    a + b
}

/// A `dag!` run (its wakers in the `dag!`'s static block) driven by `block_on` while two
/// threads open its roots' gates: the wakes land before the run first waits, between its
/// claim of the block and its registering, during its sweeps and after; only the first wake
/// since the run last looked wakes its task. A lost wake is a deadlock, which loom reports.
#[test]
fn dag_macro_wakes_from_two_threads_while_the_run_polls() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let gates = Arc::new((Gate::default(), Gate::default()));
        let dag = dagfut::dag! {
            async |g: &(Gate, Gate)| -> (c) {
                a(g) = wait(&g.0);
                b(g) = wait(&g.1);
                c(a, b) = add(a, b);
            }
        };
        let openers = [0, 1].map(|which| {
            let gates = gates.clone();
            thread::spawn(move || {
                if which == 0 {
                    gates.0.open()
                } else {
                    gates.1.open()
                }
            })
        });
        let mut polls = 0;
        let mut run = std::pin::pin!(dag.run(&*gates));
        let (c,) = loom::future::block_on(std::future::poll_fn(|cx| {
            polls += 1;
            run.as_mut().poll(cx)
        }));
        assert_eq!(c, 2);
        for opener in openers {
            opener.join().unwrap();
        }
        // Both gates open before the first poll ends, or not.
        REACHED.hit(usize::from(polls > 1));
    });
    REACHED.assert_all(["the run completes in its first poll", "the run waits"]);
}

/// Two runs of one `dag!` at once on two threads, each woken from a third: one owns the
/// static block, the other polls its running nodes with its own task's waker; the block
/// passes from run to run. Neither may hang.
#[test]
fn dag_macro_two_runs_at_once_share_the_block() {
    loom::model(|| {
        let dag = Arc::new(dagfut::dag! {
            async |g: &Gate| -> (a) {
                a(g) = wait(g);
            }
        });
        let runs = [0, 1].map(|_| {
            let dag = dag.clone();
            thread::spawn(move || {
                let gate = Gate::default();
                let opener = {
                    let gate = gate.clone();
                    thread::spawn(move || gate.open())
                };
                let (a,) = loom::future::block_on(dag.run(&gate));
                opener.join().unwrap();
                a
            })
        });
        for run in runs {
            assert_eq!(run.join().unwrap(), 1);
        }
    });
}
