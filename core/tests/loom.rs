//! loom models of the waker block: every interleaving of wakes against the run's poll, the
//! completion of the woken node, the drop of the run, the last waker clone's drop, a wake
//! that finds the task being woken by another, a wake that hands its waker's reference to the
//! run racing the run's drop, a wake whose task's waker panics as the run ends (and whose
//! drop panics too; for `dag!`, the waker it leaves goes with the site's next run), and node
//! wakes racing a wake of the task that panics (heap runs and `dag!`).
//!
//! ```text
//! RUSTFLAGS="--cfg dagfut_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 cargo test -p dagfut --release --test loom
//! ```
//!
//! Each model also counts which of its interesting interleavings it reached, and asserts that
//! loom explored each of them at least once.
//!
//! The wakers of the runs' tasks are [`Task`]'s, whose every clone has state of its own: a wake
//! of a task's waker after its drop (a copy of the parent's slot kept past the run's swap or
//! take of the waker), or racing it, fails the model, as does a waker never dropped.
//!
//! The waker block is allocated with the global allocator, which loom's leak check does not
//! see: this binary's allocator ([`WatchFrees`]) tells a model whether the block was freed.

#![cfg(dagfut_loom)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

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

    /// The stored waker, taken out, if the node parked and the gate is not open.
    fn take_waker(&self) -> Option<Waker> {
        self.0.lock().unwrap().1.take()
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
        let task = Task::new();
        let waker = task.waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut run).poll(&mut cx).is_pending());
        watch_block(&first.waker().expect("the node parked"));
        let threads =
            [first.clone(), second.clone()].map(|gate| thread::spawn(move || gate.open()));
        for thread in threads {
            thread.join().unwrap();
        }
        // Two wakes before the next poll: the parent is woken exactly once.
        assert_eq!(task.wakes(), 1);
        let Poll::Ready(out) = Pin::new(&mut run).poll(&mut cx) else {
            panic!("both nodes were woken: one poll completes the run");
        };
        assert_eq!(out[x] + out[y], 2);
        drop(run);
        // The second wake handed its reference to the run with its push: the run gave it up.
        assert!(
            block_freed(),
            "the waker block outlived every reference to it"
        );
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
        let (task, waker) = first_poll(&mut run);
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
        REACHED.hit(usize::from(task.wakes() > 1));
    });
    REACHED.assert_all(["the late wake absorbed", "the late wake woke the parent"]);
}

/// The wake is the first on the stack: it wakes the task, and hands its waker's reference to
/// the run as it lets go of the parent's slot, unless the run ended first (then it gives the
/// reference up itself). Either way the block is freed once both are done.
#[test]
fn a_wake_racing_the_drop_of_the_run() {
    static REACHED: Reached<2> = Reached::new();
    static FREED: Reached<2> = Reached::new();
    loom::model(|| {
        let (gate, dag, _) = one_gate();
        let mut run = dag.run(&());
        let (task, _waker) = first_poll(&mut run);
        watch_block(&gate.waker().expect("the node parked"));
        let opener = open_later(&gate);
        drop(run);
        let freed_as_the_run_ended = block_freed();
        opener.join().unwrap();
        assert!(
            block_freed(),
            "the waker block outlived every reference to it"
        );
        REACHED.hit(task.wakes());
        FREED.hit(usize::from(freed_as_the_run_ended));
    });
    REACHED.assert_all([
        "the wake after the drop (ignored)",
        "the wake before the drop",
    ]);
    FREED.assert_all([
        "the wake still held its reference as the run ended",
        "the block freed by the end of the run (the wake's reference handed over, or given up)",
    ]);
}

/// A wake by value that queues its node behind another node's wake hands its waker's
/// reference to the run with its push, and touches the block no more. Racing the drop of the
/// run: its push comes before the run closes the block (then the run gives that reference up
/// with its own), or the wake finds the block closed, before its push or as it pushes (then
/// it gives its reference up itself). Either way the block is freed exactly once, by
/// whichever gives up the last reference, and no later than when both are done.
#[test]
fn a_wake_that_hands_its_reference_over_racing_the_drop_of_the_run() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (first, second, dag, _, _) = two_gates();
        let mut run = dag.run(&());
        let (_task, _waker) = first_poll(&mut run);
        watch_block(&first.waker().expect("the node parked"));
        // The first wake on the stack: it wakes the task, and gives up its own reference.
        first.open();
        let opener = open_later(&second);
        drop(run);
        let freed_as_the_run_ended = block_freed();
        opener.join().unwrap();
        assert!(
            block_freed(),
            "the waker block outlived every reference to it"
        );
        REACHED.hit(usize::from(freed_as_the_run_ended));
    });
    REACHED.assert_all([
        "the late wake still held its reference as the run ended",
        "the block freed by the end of the run (the late wake's reference handed over, or given up)",
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
        let (task, waker) = first_poll(&mut run);
        // Only the run's parent slot holds a clone of the task's waker from now on.
        drop(waker);
        let kept = gate.waker().expect("the node parked");
        let opener = open_later(&gate);
        drop(run);
        opener.join().unwrap();
        assert_eq!(
            task.wakers_alive(),
            0,
            "the ended run's block still holds its task's waker"
        );
        drop(kept);
        REACHED.hit(task.wakes());
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
        let (_task, _waker) = first_poll(&mut run);
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
/// ever: a deadlock, which loom reports. (A wake that wakes the task by reference while holding
/// the slot, without waking it again after such a request, deadlocks here.) The task's waker
/// is one `Arc` for all its clones, so that each poll's registration is the steady one (a
/// [`Task`]'s would make every poll register anew, and answer the request itself).
#[test]
fn a_wake_that_finds_the_task_being_woken_is_not_lost() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (first, second, dag, x, y) = two_gates();
        let mut run = dag.run(&());
        let task = std::sync::Arc::new(UnparkTask {
            thread: thread::current(),
            woken_by: std::sync::Mutex::new(Vec::new()),
        });
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        // Both nodes park; the run registers the task's waker.
        assert!(Pin::new(&mut run).poll(&mut cx).is_pending());
        watch_block(&first.waker().expect("the node parked"));
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
        // A wake that handed its reference to the run, drained or not as the run ended: the
        // run gave it up.
        drop(run);
        assert!(
            block_freed(),
            "the waker block outlived every reference to it"
        );
        let woken_by = task.woken_by.lock().unwrap();
        let twice = ids
            .iter()
            .any(|id| woken_by.iter().filter(|&by| by == id).count() > 1);
        REACHED.hit(usize::from(twice));
    });
    REACHED.assert_all([
        "each opener woke the task at most once",
        "an opener woke the task again: a wake came while it held the slot",
    ]);
}

/// A task's waker that unparks its thread and records which threads woke it: one `Arc` for
/// all its clones.
struct UnparkTask {
    thread: thread::Thread,
    woken_by: std::sync::Mutex<Vec<thread::ThreadId>>,
}

impl std::task::Wake for UnparkTask {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken_by.lock().unwrap().push(thread::current().id());
        self.thread.unpark();
    }
}

/// A wake whose task's waker panics as it is woken, racing the end of the run: the wake may
/// hold the parent's slot as the run takes the waker (the run then asks it to take the waker
/// out, which its panic prevents), let go before, or come after the end. Whichever, once both
/// are done nothing holds the task's waker: the run took it, alone with the block or late, or
/// the block's last reference dropped it.
#[test]
fn a_wake_whose_task_waker_panics_racing_the_end_of_the_run() {
    static REACHED: Reached<2> = Reached::new();
    // Three preemptions: the wake holds the slot, the run takes, the wake panics and lets go
    // before the run looks at the block's references again (its late take).
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (gate, dag, _) = one_gate();
        let mut run = dag.run(&());
        let task = Task::new();
        let waker = task.waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut run).poll(&mut cx).is_pending());
        drop(waker);
        // Registered (a clone in the parent's slot): from now on its wakes panic.
        task.panic_wakes();
        let gate_ = gate.clone();
        let opener = thread::spawn(move || {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gate_.open()));
        });
        drop(run);
        opener.join().unwrap();
        assert_eq!(
            task.wakers_alive(),
            0,
            "a clone of the task's waker outlived the run and its wakes"
        );
        REACHED.hit(task.panicked().min(1));
    });
    REACHED.assert_all([
        "the wake after the end of the run (ignored)",
        "the wake of the task's waker panicked",
    ]);
}

/// As the model above, and the task's waker also panics when dropped. A wake that held the
/// parent's slot as the run ended and then panicked leaves the waker in the block: the block's
/// last reference drops it, and frees the block even though that drop panics (the run's drop
/// when it takes the waker late, else the node waker's last drop on the other thread). In
/// every interleaving the waker is dropped exactly once, its drop's panic comes out of exactly
/// one of the two drops, and the block is freed once the `Dag` (its cache) is gone. The node's
/// waker is woken by reference and dropped apart, so that no drop of the task's waker happens
/// while a wake's panic unwinds (that would abort the process, as any panic during unwinding).
#[test]
fn a_task_waker_whose_drop_panics_left_behind_by_a_panicking_wake_is_dropped_once() {
    static REACHED: Reached<3> = Reached::new();
    // As above: the wake holds the slot, the run takes, the wake panics and lets go.
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let (gate, dag, _) = one_gate();
        let mut run = dag.run(&());
        let (task, waker) = first_poll(&mut run);
        drop(waker);
        // The parent's slot holds the only clone of the task's waker from now on.
        task.panic_wakes();
        task.panic_drops();
        let node_waker = gate.take_waker().expect("the node parked");
        watch_block(&node_waker);
        let opener = thread::spawn(move || {
            let catch = |f: &mut dyn FnMut()| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
            };
            let woke = catch(&mut || node_waker.wake_by_ref());
            let mut node_waker = Some(node_waker);
            let dropped = catch(&mut || drop(node_waker.take()));
            (woke, dropped)
        });
        let run_dropped =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(run))).is_err();
        let (wake_panicked, last_dropped) = opener.join().unwrap();
        assert_eq!(task.wakers_alive(), 0, "the task's waker was never dropped");
        assert_eq!(
            task.drops_panicked(),
            1,
            "the task's waker was not dropped once"
        );
        assert!(
            run_dropped != last_dropped,
            "the drop's panic came out of both drops or of neither"
        );
        assert!(
            !last_dropped || wake_panicked,
            "the block kept the task's waker though no wake of it panicked"
        );
        drop(dag);
        assert!(block_freed(), "the block was not freed");
        REACHED.hit(if last_dropped {
            2
        } else {
            usize::from(wake_panicked)
        });
    });
    REACHED.assert_all([
        "the wake after the end of the run (ignored); the run dropped the waker",
        "the wake panicked before the end; the run dropped the waker",
        "the wake held the slot as the run ended and panicked; the block's last reference \
         dropped the waker",
    ]);
}

/// `dag!`: a wake that held the parent's slot as a run ended (its claim's release took the
/// waker), and whose wake of the task panicked, leaves the task's waker in the site's block,
/// which is never freed. The next run of the site that waits drops it: its registration answers
/// the take left pending. So a site keeps at most one such waker, and only until its next run
/// waits.
#[test]
fn dag_macro_a_task_waker_left_by_a_panicking_wake_goes_with_the_next_run() {
    static REACHED: Reached<2> = Reached::new();
    // As above: the wake holds the slot, the run takes, the wake panics and lets go.
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let dag = dagfut::dag! {
            async |g: &Gate| -> (a) {
                a(g) = wait(g);
            }
        };
        let gate = Gate::default();
        let mut run = Box::pin(dag.run(&gate));
        let (task, waker) = first_poll(&mut run);
        drop(waker);
        // The block holds the only clone of the task's waker from now on.
        task.panic_wakes();
        let node_waker = gate.take_waker().expect("the node parked");
        let opener = thread::spawn(move || {
            let woken = std::panic::AssertUnwindSafe(|| node_waker.wake_by_ref());
            let _ = std::panic::catch_unwind(woken);
        });
        drop(run);
        opener.join().unwrap();
        let left = task.wakers_alive();
        let gate = Gate::default();
        let mut next = Box::pin(dag.run(&gate));
        let (next_task, next_waker) = first_poll(&mut next);
        assert_eq!(
            task.wakers_alive(),
            0,
            "the site kept the ended run's task waker past the next run's wait"
        );
        gate.open();
        let polled = next.as_mut().poll(&mut Context::from_waker(&next_waker));
        assert!(matches!(polled, Poll::Ready((1,))));
        assert_eq!(next_task.wakes(), 1);
        drop(next);
        drop(next_waker);
        assert_eq!(
            next_task.wakers_alive(),
            0,
            "the next run kept its task's waker"
        );
        REACHED.hit(left);
    });
    REACHED.assert_all([
        "the ended run left no task waker behind",
        "a panicking wake left the task waker in the block",
    ]);
}

/// Two nodes woken from two threads, and the task's waker panics at its first wake: the node
/// wake that found the wake stack empty (the one that wakes the task) panics, and owes the
/// wake. A node wake that starts after that panic is over must make it; one that overlaps it
/// may leave the waking to the panicking wake (it pushed onto a stack that was not empty, or
/// found the slot held), and then the next node wake, whatever it is (here a second wake of a
/// node already queued), makes it. Else the run, both nodes ready, sleeps for good.
#[test]
fn a_node_wake_after_a_panicking_wake_of_the_task_makes_the_owed_wake() {
    static REACHED: Reached<3> = Reached::new();
    loom::model(|| {
        let (first, second, dag, x, y) = two_gates();
        let run = std::pin::pin!(async { (dag.run(&()).await, x, y) });
        let run = owed_wake(run, first, second, &REACHED);
        let (out, x, y) = run;
        assert_eq!(out[x] + out[y], 2);
    });
    REACHED.assert_all(OWED_WAKE_CASES);
}

/// The same with a `dag!` run: the wakes set bits of its static block's woken word, and only
/// the first since the run last looked wakes the task, unless the wake is owed.
#[test]
fn dag_macro_a_node_wake_after_a_panicking_wake_of_the_task_makes_the_owed_wake() {
    static REACHED: Reached<3> = Reached::new();
    loom::model(|| {
        let gates = (Gate::default(), Gate::default());
        let dag = dagfut::dag! {
            async |g: &(Gate, Gate)| -> (c) {
                a(g) = wait(&g.0);
                b(g) = wait(&g.1);
                c(a, b) = add(a, b);
            }
        };
        let run = std::pin::pin!(dag.run(&gates));
        let (c,) = owed_wake(run, gates.0.clone(), gates.1.clone(), &REACHED);
        assert_eq!(c, 2);
    });
    REACHED.assert_all(OWED_WAKE_CASES);
}

/// What [`owed_wake`] reaches.
const OWED_WAKE_CASES: [&str; 3] = [
    "the second wake came after the panic and made the owed wake",
    "the wakes overlapped, and the second one made it",
    "the wakes overlapped, and the next node wake made it",
];

/// Polls `run` (whose two nodes wait on `first` and `second`) once, arms its task's waker to
/// panic at its next wake, opens the gates on two threads, then wakes the first node once more
/// from this thread; checks that the owed wake was made when it must be, and returns the
/// run's output.
fn owed_wake<F: Future>(
    mut run: Pin<&mut F>,
    first: Gate,
    second: Gate,
    reached: &Reached<3>,
) -> F::Output {
    let task = Task::new();
    let waker = task.waker();
    let mut cx = Context::from_waker(&waker);
    assert!(run.as_mut().poll(&mut cx).is_pending());
    let spare = first.waker().expect("the node parked");
    task.panic_next_wake();
    // Whether each opener's wake is over (a loom atomic: a thread that sees the other's flag
    // set started after that wake, in happens-before order).
    let done = Arc::new([
        loom::sync::atomic::AtomicBool::new(false),
        loom::sync::atomic::AtomicBool::new(false),
    ]);
    let openers: Vec<_> = [first, second]
        .into_iter()
        .enumerate()
        .map(|(i, gate)| {
            let done = done.clone();
            thread::spawn(move || {
                let after_the_other = done[1 - i].load(SeqCst);
                let panicked =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gate.open())).is_err();
                done[i].store(true, SeqCst);
                (after_the_other, panicked)
            })
        })
        .collect();
    let openers: Vec<(bool, bool)> = openers
        .into_iter()
        .map(|opener| opener.join().unwrap())
        .collect();
    assert_eq!(task.panicked(), 1, "the first wake of the task panicked");
    let sequential = (0..2).any(|i| openers[i].0 && openers[1 - i].1);
    if sequential {
        assert_eq!(
            task.wakes(),
            1,
            "a node wake after the panicking one did not make the owed wake"
        );
    }
    let by_openers = task.wakes();
    spare.wake_by_ref();
    assert_eq!(
        task.wakes(),
        1,
        "the owed wake was made exactly once, at the latest by the next node wake"
    );
    let Poll::Ready(out) = run.as_mut().poll(&mut cx) else {
        panic!("both nodes were woken: one poll completes the run");
    };
    drop(spare);
    reached.hit(match (sequential, by_openers) {
        (true, _) => 0,
        (false, 1) => 1,
        _ => 2,
    });
    out
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
        let (_task, _waker) = first_poll(&mut run);
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

/// The run's task moves between polls (each poll brings a waker of its own) while its node is
/// woken from another thread: the wake reaches the waker of the latest poll, not only an
/// earlier one (the parent's slot keeps its waker across wakes and registers a new one only
/// when it changes, racing the wakes). A wake lost to an old waker leaves the loop below
/// waiting for ever, which loom reports. Every poll brings a waker new to the slot (a
/// [`Task`]'s clones are never `will_wake` of each other), so each one drops the slot's
/// waker before, maybe while the wake uses it: a wake through a waker after its drop fails
/// the model too.
#[test]
fn a_wake_racing_a_poll_that_brings_a_new_parent_waker() {
    static REACHED: Reached<2> = Reached::new();
    loom::model(|| {
        let (gate, dag, node) = one_gate();
        let mut run = dag.run(&());
        let (first, _first_waker) = first_poll(&mut run);
        let opener = open_later(&gate);
        let task = Task::new();
        let waker = task.waker();
        let out = loop {
            let seen = task.wakes();
            match Pin::new(&mut run).poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(out) => break out,
                Poll::Pending => {
                    while task.wakes() == seen {
                        thread::yield_now();
                    }
                }
            }
        };
        assert_eq!(out[node], 1);
        opener.join().unwrap();
        // Whether the wake reached the first poll's waker (before the second poll registered
        // its own) or only the new one.
        REACHED.hit(usize::from(first.wakes() > 0));
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

/// A DAG of one node that waits on the returned gate.
fn one_gate() -> (Gate, Dag<()>, Node<u32>) {
    let gate = Gate::default();
    let b = DagBuilder::<()>::new();
    let node = b.add_node(wait, b.add_constant(gate.clone()));
    (gate, b.build(), node)
}

/// Polls `run` once with a waker of a new task (returned, with the waker): the node parks.
fn first_poll<F: Future + Unpin>(run: &mut F) -> (Task, Waker) {
    let task = Task::new();
    let waker = task.waker();
    assert!(
        Pin::new(run)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    (task, waker)
}

/// A model's task: its wakers count and record their wakes, and every clone of one has state
/// of its own, so that a clone used after its drop, or at the same time as it without a
/// happens-before edge between the two, fails the model (loom reports the concurrent accesses
/// of the clone's cell, or the clone's check finds it dropped). A waker woken through a copy
/// of the parent's slot after the run's side replaced or took it is such a use: with one
/// shared allocation for every clone (an `Arc`'s), it would go unseen while any other clone
/// lives. A clone never dropped by the end of an execution is a leak, which loom reports.
///
/// Two clones of one waker are never `will_wake` of each other (each has a data pointer of
/// its own): every poll with such a waker registers it anew, the parent's slot's path that
/// swaps its waker and drops the old one, racing the wakes. (`loom::future::block_on`'s
/// waker, one pointer for all its clones, keeps the steady registration in the other models.)
///
/// A model keeps its `Task` until its threads are joined: the clones' states are freed with
/// the task, so that a stale clone still points to readable memory while the model runs.
struct Task(std::sync::Arc<TaskState>);

/// What the wakers of a [`Task`] share.
#[derive(Default)]
struct TaskState {
    /// The thread of each wake, in order.
    woken_by: std::sync::Mutex<Vec<thread::ThreadId>>,
    /// Wakes panic from now on (before waking), without the panic hook (`resume_unwind`), so
    /// a model's many panics print nothing.
    panic_wakes: std::sync::atomic::AtomicBool,
    /// The next wake panics (once), as `panic_wakes`.
    panic_next: std::sync::atomic::AtomicBool,
    /// Drops panic from now on (after the clone is dropped), as `panic_wakes`.
    panic_drops: std::sync::atomic::AtomicBool,
    /// How many drops panicked.
    drops_panicked: AtomicUsize,
    /// How many wakes panicked.
    panicked: AtomicUsize,
    /// How many clones are alive (made and not dropped).
    alive: AtomicUsize,
    /// Every clone's state, alive or dropped: a clone's data pointer points into one of them.
    clones: std::sync::Mutex<Vec<std::sync::Arc<CloneState>>>,
}

/// One clone's own state. Its cell holds what the clone owns while it is alive: a reference
/// of its task and a loom-tracked allocation (for the leak check). Its drop takes them out
/// (a write of the cell); its wakes and clones read the cell and fail if it is empty.
struct CloneState {
    owned: loom::cell::UnsafeCell<Option<(std::sync::Arc<TaskState>, loom::alloc::Track<()>)>>,
}

// SAFETY: the cell is accessed only through loom's `with` (`task_of`) and `with_mut`
// (`drop_task_waker`), whose closures make no loom operation: loom runs a model's threads one
// at a time and switches only at loom operations, so no two accesses overlap, and it fails
// the model at a write not ordered by happens-before with every other access of the cell (a
// data race). What the cell holds (an `Arc` of a `Send + Sync` state, a `Track<()>`) may be
// dropped on any thread.
unsafe impl Sync for CloneState {}

impl Task {
    fn new() -> Self {
        Task(std::sync::Arc::default())
    }

    /// A new waker of the task (a clone with state of its own).
    fn waker(&self) -> Waker {
        // SAFETY: a `RawWaker` of `TaskState::new_clone`, which keeps the contract.
        unsafe { Waker::from_raw(self.0.new_clone()) }
    }

    /// How many times the task was woken (by reference or by value).
    fn wakes(&self) -> usize {
        self.0.woken_by.lock().unwrap().len()
    }

    /// How many of the task's wakers are alive.
    fn wakers_alive(&self) -> usize {
        self.0.alive.load(SeqCst)
    }

    /// Makes every wake of the task's wakers panic from now on.
    fn panic_wakes(&self) {
        self.0.panic_wakes.store(true, SeqCst);
    }

    /// Makes the next wake of the task's wakers panic, and only that one.
    fn panic_next_wake(&self) {
        self.0.panic_next.store(true, SeqCst);
    }

    /// How many wakes panicked.
    fn panicked(&self) -> usize {
        self.0.panicked.load(SeqCst)
    }

    /// Makes every drop of the task's wakers panic from now on, once the clone is dropped.
    fn panic_drops(&self) {
        self.0.panic_drops.store(true, SeqCst);
    }

    /// How many drops panicked.
    fn drops_panicked(&self) -> usize {
        self.0.drops_panicked.load(SeqCst)
    }
}

/// The vtable of a [`Task`]'s wakers; a waker's data points to its [`CloneState`].
static TASK_VTABLE: RawWakerVTable = RawWakerVTable::new(
    clone_task_waker,
    wake_task,
    wake_task_by_ref,
    drop_task_waker,
);

impl TaskState {
    /// Makes a clone with state of its own, holding a reference of `self`. The vtable's
    /// functions keep the `RawWaker` contract for it: its data points to a `CloneState` that
    /// `self.clones` keeps until the task is dropped, which the clone's own reference (in its
    /// cell) prevents while the clone is alive; every part of the state is `Send + Sync`.
    fn new_clone(self: &std::sync::Arc<Self>) -> RawWaker {
        let state = std::sync::Arc::new(CloneState {
            owned: loom::cell::UnsafeCell::new(Some((self.clone(), loom::alloc::Track::new(())))),
        });
        let data = std::sync::Arc::as_ptr(&state).cast::<()>();
        self.clones.lock().unwrap().push(state);
        self.alive.fetch_add(1, SeqCst);
        RawWaker::new(data, &TASK_VTABLE)
    }
}

/// The task of the clone whose data is `data`, read from the clone's cell: fails the model if
/// the clone was dropped (`what`: what the clone is used for, for the message).
///
/// # Safety
/// `data` is the data of a waker made by [`TaskState::new_clone`] whose task is not dropped.
unsafe fn task_of(data: *const (), what: &str) -> std::sync::Arc<TaskState> {
    // SAFETY: the task keeps every clone's state (the caller's contract).
    let state = unsafe { &*data.cast::<CloneState>() };
    state.owned.with(|owned| {
        // SAFETY: no write of the cell overlaps this read (loom runs one thread at a time,
        // and this closure makes no loom operation), and loom checks that the last write
        // happens before it.
        let owned = unsafe { &*owned };
        let (task, _) = owned
            .as_ref()
            .unwrap_or_else(|| panic!("a task's waker {what} after its drop"));
        task.clone()
    })
}

unsafe fn clone_task_waker(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a waker's of this vtable, which only `new_clone` makes; its task is
    // kept by the waker's own reference while the waker is alive, and by the model's `Task`
    // until the model's threads are joined.
    let task = unsafe { task_of(data, "cloned") };
    task.new_clone()
}

unsafe fn wake_task(data: *const ()) {
    /// Drops the consumed waker even if its wake panics.
    struct DropAfter(*const ());
    impl Drop for DropAfter {
        fn drop(&mut self) {
            // SAFETY: the consumed waker, dropped once, here.
            unsafe { drop_task_waker(self.0) };
        }
    }
    let consumed = DropAfter(data);
    // SAFETY: a waker woken by value: woken by reference, then dropped (by `consumed`).
    unsafe { wake_task_by_ref(consumed.0) };
}

unsafe fn wake_task_by_ref(data: *const ()) {
    // SAFETY: as in `clone_task_waker`.
    let task = unsafe { task_of(data, "woken") };
    if task.panic_wakes.load(SeqCst) || task.panic_next.swap(false, SeqCst) {
        task.panicked.fetch_add(1, SeqCst);
        std::panic::resume_unwind(Box::new("the task's waker cannot be woken"));
    }
    task.woken_by.lock().unwrap().push(thread::current().id());
}

unsafe fn drop_task_waker(data: *const ()) {
    let owned = {
        // SAFETY: as in `clone_task_waker`.
        let state = unsafe { &*data.cast::<CloneState>() };
        // SAFETY: loom checks that this write is ordered after every other access of the
        // cell, and no access overlaps it (one thread at a time; no loom operation here).
        state.owned.with_mut(|owned| unsafe { (*owned).take() })
    };
    let (task, track) = owned.expect("a task's waker dropped twice");
    task.alive.fetch_sub(1, SeqCst);
    drop(track);
    let panics = task.panic_drops.load(SeqCst);
    if panics {
        task.drops_panicked.fetch_add(1, SeqCst);
    }
    // Last: this may be the task's last reference, which frees the clone's state.
    drop(task);
    if panics {
        std::panic::resume_unwind(Box::new("the task's waker cannot be dropped"));
    }
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
