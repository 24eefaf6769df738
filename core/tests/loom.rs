//! loom models of the waker block: every interleaving of wakes against the run's poll, the
//! completion of the woken node, the drop of the run, and the last waker clone's drop.
//!
//! ```text
//! RUSTFLAGS="--cfg dagfut_loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p dagfut --release --test loom
//! ```
//!
//! Each model also counts which of its interesting interleavings it reached, and asserts that
//! loom explored each of them at least once.

#![cfg(dagfut_loom)]

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
struct Reached([AtomicUsize; 2]);

impl Reached {
    const fn new() -> Self {
        Reached([AtomicUsize::new(0), AtomicUsize::new(0)])
    }
    fn hit(&self, which: usize) {
        self.0[which].fetch_add(1, SeqCst);
    }
    fn assert_both(&self, what: [&str; 2]) {
        for (count, what) in self.0.iter().zip(what) {
            assert!(count.load(SeqCst) > 0, "loom never reached: {what}");
        }
    }
}

#[test]
fn a_wake_racing_the_poll_that_drains_the_queue() {
    static REACHED: Reached = Reached::new();
    loom::model(|| {
        let (gate, dag, node) = one_gate();
        let opener = {
            let gate = gate.clone();
            thread::spawn(move || gate.open())
        };
        let out = loom::future::block_on(dag.run(&()));
        assert_eq!(out[node], 1);
        opener.join().unwrap();
        // Whether the node had to park (the wake came through the queue) or not.
        REACHED.hit(usize::from(gate.0.lock().unwrap().2));
    });
    REACHED.assert_both([
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
    static REACHED: Reached = Reached::new();
    loom::model(|| {
        let (first, second) = (Gate::default(), Gate::default());
        let b = DagBuilder::<()>::new();
        let x = b.add_node(wait, b.add_constant(first.clone()));
        let y = b.add_node(wait, b.add_constant(second.clone()));
        let dag = b.build();
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
    REACHED.assert_both(["the first thread's wake pushed first", "the second's first"]);
}

#[test]
fn a_wake_racing_the_completion_of_the_same_node() {
    static REACHED: Reached = Reached::new();
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
    REACHED.assert_both(["the late wake absorbed", "the late wake woke the parent"]);
}

#[test]
fn a_wake_racing_the_drop_of_the_run() {
    static REACHED: Reached = Reached::new();
    loom::model(|| {
        let (gate, dag, _) = one_gate();
        let mut run = dag.run(&());
        let (polls, _waker) = first_poll(&mut run);
        let opener = {
            let gate = gate.clone();
            thread::spawn(move || gate.open())
        };
        drop(run);
        opener.join().unwrap();
        REACHED.hit(polls.load(SeqCst));
    });
    REACHED.assert_both([
        "the wake after the drop (ignored)",
        "the wake before the drop",
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

/// A DAG of one node that waits on the returned gate.
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
