//! Poll and wake accounting: exact counts, coalescing, self-wakes, the budget, wakes from
//! other threads and wakes after the run, and the order woken nodes are polled in.

mod support;

use std::future::{Future, poll_fn};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Poll, Waker};
use std::thread;

use dagfut::{Dag, DagBuilder, Node, NodeEvent, Observer};
use support::{Poller, Trigger, YieldNow, open, wait_for};

async fn wait(trigger: &Trigger) -> u32 {
    trigger.wait().await;
    1
}

/// A DAG of one node that waits on the returned trigger.
fn one_waiting_node() -> (Trigger, Dag<()>, Node<u32>) {
    let trigger = Trigger::default();
    let b = DagBuilder::<()>::new();
    let node = b.add_node(wait, b.add_constant(trigger.clone()));
    (trigger, b.build(), node)
}

#[test]
fn a_node_pending_once_is_polled_exactly_twice_and_wakes_the_parent_once() {
    let (trigger, dag, node) = one_waiting_node();
    let mut run = dag.run(&());
    let poller = Poller::new();

    assert!(poller.poll(&mut run).is_pending());
    assert_eq!((trigger.polls(), poller.wakes()), (1, 0));
    trigger.fire();
    assert_eq!(
        poller.wakes(),
        1,
        "one wake of the node wakes the parent once"
    );
    let Poll::Ready(out) = poller.poll(&mut run) else {
        panic!("the node was woken and is ready");
    };
    assert_eq!(out[node], 1);
    assert_eq!(trigger.polls(), 2);
}

#[test]
fn polls_per_node_are_one_plus_wakes_and_duplicate_wakes_are_free() {
    let (trigger, dag, _) = one_waiting_node();
    let mut run = dag.run(&());
    let poller = Poller::new();
    assert!(poller.poll(&mut run).is_pending());

    // Three wakes of the node's waker before the next poll: the parent is woken once and
    // the node polled once more.
    for _ in 0..3 {
        trigger.wake_by_ref();
    }
    assert_eq!(poller.wakes(), 1);
    assert!(poller.poll(&mut run).is_pending());
    assert_eq!(trigger.polls(), 2);

    // A spurious wake (the gate still shut): one more poll, Pending again.
    trigger.wake();
    assert_eq!(poller.wakes(), 2);
    assert!(poller.poll(&mut run).is_pending());
    assert_eq!(trigger.polls(), 3);

    trigger.fire();
    assert!(poller.poll(&mut run).is_ready());
    assert_eq!(
        trigger.polls(),
        4,
        "polls = 1 + 3 wakes (the three first ones coalesced)"
    );
}

#[test]
fn a_wake_polls_only_the_woken_node() {
    let (a, b_trigger, c) = (Trigger::default(), Trigger::default(), Trigger::default());
    let b = DagBuilder::<()>::new();
    for t in [&a, &b_trigger, &c] {
        b.add_node(wait, b.add_constant(t.clone()));
    }
    let dag = b.build();
    let mut run = dag.run(&());
    let poller = Poller::new();
    assert!(poller.poll(&mut run).is_pending());
    b_trigger.fire();
    assert!(poller.poll(&mut run).is_pending());
    assert_eq!((a.polls(), b_trigger.polls(), c.polls()), (1, 2, 1));
    // A poll with nothing woken polls no node at all.
    assert!(poller.poll(&mut run).is_pending());
    assert_eq!((a.polls(), b_trigger.polls(), c.polls()), (1, 2, 1));
    a.fire();
    c.fire();
    assert!(poller.poll(&mut run).is_ready());
    assert_eq!((a.polls(), b_trigger.polls(), c.polls()), (2, 2, 2));
}

#[test]
fn a_node_that_wakes_itself_is_polled_again_on_the_next_poll_without_livelock() {
    async fn yields(times: &u32) -> u32 {
        for _ in 0..*times {
            YieldNow::default().await;
        }
        *times
    }
    let b = DagBuilder::<u32>::new();
    let node = b.add_node(yields, b.param());
    let dag = b.build();
    let mut run = dag.run(&3);
    let poller = Poller::new();
    // Each poll of the run polls the node once, then yields to the executor (which it woke).
    for round in 1..=3 {
        assert!(poller.poll(&mut run).is_pending());
        assert_eq!(poller.wakes(), round);
    }
    let Poll::Ready(out) = poller.poll(&mut run) else {
        panic!("done after 3 yields");
    };
    assert_eq!(out[node], 3);
}

#[test]
fn one_poll_polls_at_most_the_budget_then_yields() {
    async fn ready(n: &u32) -> u32 {
        *n
    }
    let b = DagBuilder::<u32>::new();
    for _ in 0..10 {
        b.add_node(ready, b.param());
    }
    let dag = b.build();
    let mut run = dag.run(&0).with_poll_budget(4);
    let poller = Poller::new();
    assert!(poller.poll(&mut run).is_pending());
    assert_eq!(
        poller.wakes(),
        1,
        "the run wakes itself when it stops at the budget"
    );
    assert!(format!("{run:?}").contains("completed: 4"));
    assert!(poller.poll(&mut run).is_pending());
    assert_eq!(poller.wakes(), 2);
    assert!(poller.poll(&mut run).is_ready());
}

/// Where nodes leave their wakers, to be woken after they finished (stale wakes).
type LeftWakers = Arc<Mutex<Vec<Waker>>>;

/// A node that leaves a clone of its waker in `kept` and is ready at once.
async fn keeps_its_waker(kept: &LeftWakers) -> u32 {
    poll_fn(|cx| {
        kept.lock().unwrap().push(cx.waker().clone());
        Poll::Ready(0)
    })
    .await
}

/// A DAG of `keepers` roots that leave their wakers in the returned list, then a root that
/// waits on the returned trigger (the returned node).
fn keepers_then_a_waiting_node(keepers: usize) -> (LeftWakers, Trigger, Dag<()>, Node<u32>) {
    let kept = LeftWakers::default();
    let trigger = Trigger::default();
    let b = DagBuilder::<()>::new();
    let keeper = b.add_constant(kept.clone());
    for _ in 0..keepers {
        b.add_node(keeps_its_waker, keeper);
    }
    let waiting = b.add_node(wait, b.add_constant(trigger.clone()));
    (kept, trigger, b.build(), waiting)
}

/// Polls `run` until it is ready, at most `limit` times, waking every waker left in `kept`
/// again after each poll that leaves it pending; `after` sees the number of each poll (from 1)
/// before those wakes. Returns the output and the number of polls.
fn poll_waking_the_kept<F: Future + Unpin>(
    run: &mut F,
    kept: &LeftWakers,
    limit: usize,
    mut after: impl FnMut(usize),
) -> (F::Output, usize) {
    let poller = Poller::new();
    for poll in 1..=limit {
        let result = poller.poll(run);
        after(poll);
        if let Poll::Ready(out) = result {
            return (out, poll);
        }
        for waker in kept.lock().unwrap().iter() {
            waker.wake_by_ref();
        }
    }
    panic!("no end in {limit} polls");
}

/// A run whose nodes all settled ends, even if it is out of budget and stale wakes (of its
/// finished nodes, whose wakers are kept elsewhere and woken again between polls) are queued
/// between every two polls. It used to yield for them for as long as they came, when each
/// stale wake cost a unit of the budget. Now a stale wake costs none, and a run out of budget
/// whose nodes all settled ends at once (the next test pins that poll).
#[test]
fn stale_wakes_faster_than_the_budget_do_not_keep_a_settled_run_going() {
    let (kept, trigger, dag, waiting) = keepers_then_a_waiting_node(3);
    let mut run = dag.run(&()).with_poll_budget(1);
    // Three stale wakes per poll, of a run that polls one node per poll.
    let (out, polls) = poll_waking_the_kept(&mut run, &kept, 40, |poll| {
        if poll == 6 {
            trigger.fire();
        }
    });
    assert_eq!(out[waiting], 1);
    assert!(polls <= 12, "ended only in poll {polls}");
}

/// As above on a run of more than 64 tasks (whose ready queue is a list in the run's memory):
/// a run that ends with stale wakes still queued leaves that memory, and its waker block, to
/// the next run of its DAG, which runs the same way.
#[test]
fn a_run_that_ends_with_stale_wakes_queued_leaves_its_memory_fit_for_the_next() {
    let (kept, trigger, dag, waiting) = keepers_then_a_waiting_node(70);
    trigger.fire();
    for round in 0..2 {
        let mut run = dag.run(&()).with_poll_budget(1);
        // Every finished node woken again after each poll: far more wakes than the one node
        // a poll polls.
        let (out, polls) = poll_waking_the_kept(&mut run, &kept, 200, |_| {});
        assert_eq!(out[waiting], 1, "round {round}");
        // The 71 roots, one a poll, in order; the stale wakes queued behind them from poll 2 on
        // (of every node finished) were still queued when the last root completed, and the
        // run ended then.
        assert_eq!(polls, 71, "round {round}");
        drop(run);
        // The wakers let go of, so that the waker block goes back to the DAG too.
        kept.lock().unwrap().clear();
    }
}

/// The budget counts node polls: a stale wake popped from the ready queue polls no node and
/// costs none of it. Three finished nodes, queued ahead of a node that pends ten times, are
/// woken again between every two polls of a run with a budget of one; the pending node is
/// still polled in every poll of the run from its first on. It used to wait behind the stale
/// wakes queued ahead of it, one poll of the run each.
#[test]
fn stale_wakes_use_none_of_the_budget() {
    /// Pending `pends` times, waking itself each time, then ready; counts its polls.
    async fn pends(times: &(usize, Arc<AtomicUsize>)) -> u32 {
        let (pends, polls) = times;
        poll_fn(|cx| {
            if polls.fetch_add(1, Ordering::Relaxed) < *pends {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(1)
            }
        })
        .await
    }
    let kept = LeftWakers::default();
    let polls = Arc::new(AtomicUsize::new(0));
    let b = DagBuilder::<()>::new();
    let keeper = b.add_constant(kept.clone());
    for _ in 0..3 {
        b.add_node(keeps_its_waker, keeper);
    }
    let pending = b.add_node(pends, b.add_constant((10, polls.clone())));
    let dag = b.build();
    let mut run = dag.run(&()).with_poll_budget(1);
    let mut seen = 0;
    let (out, run_polls) = poll_waking_the_kept(&mut run, &kept, 100, |poll| {
        // The three finished nodes first, one a poll (roots, in order), then the pending
        // node in every poll.
        let now = polls.load(Ordering::Relaxed);
        assert_eq!(now - seen, usize::from(poll > 3), "poll {poll}");
        seen = now;
    });
    assert_eq!(out[pending], 1);
    // 3 polls for the finished nodes, 11 for the pending one (10 `Pending`, then `Ready`).
    assert_eq!((run_polls, polls.load(Ordering::Relaxed)), (14, 11));
}

/// A run's waker block is made the first time a node touches its waker, which may be in a
/// later poll than the first, after the run already returned `Pending` (here: stopped at the
/// budget). The parent's waker must be registered then, or the node's wake is lost.
#[test]
fn a_waker_first_touched_in_a_later_poll_still_wakes_the_parent() {
    async fn ready(_: &Trigger) -> u32 {
        0
    }
    let trigger = Trigger::default();
    let b = DagBuilder::<()>::new();
    let input = b.add_constant(trigger.clone());
    b.add_node(ready, input);
    let waiting = b.add_node(wait, input);
    let dag = b.build();
    let mut run = dag.run(&()).with_poll_budget(1);
    let poller = Poller::new();
    // The first poll polls the ready node only (its waker untouched), then yields.
    assert!(poller.poll(&mut run).is_pending());
    assert_eq!((trigger.polls(), poller.wakes()), (0, 1));
    // The second polls the waiting node, which keeps its waker: the block is made now.
    assert!(poller.poll(&mut run).is_pending());
    assert_eq!((trigger.polls(), poller.wakes()), (1, 1));
    thread::scope(|scope| {
        scope.spawn(|| trigger.fire());
    });
    assert_eq!(poller.wakes(), 2, "the node's wake reached the parent");
    let Poll::Ready(out) = poller.poll(&mut run) else {
        panic!("the woken node is ready");
    };
    assert_eq!(out[waiting], 1);
}

#[test]
fn wakes_from_other_threads_complete_the_run() {
    let count = support::scaled(64, 4);
    let triggers: Vec<Trigger> = (0..count).map(|_| Trigger::default()).collect();
    let b = DagBuilder::<()>::new();
    let nodes: Vec<_> = triggers
        .iter()
        .map(|t| b.add_node(wait, b.add_constant(t.clone())))
        .collect();
    async fn total(xs: &[&u32]) -> u32 {
        xs.iter().copied().sum()
    }
    let sum = b.add_node(total, nodes);
    let dag = b.build();

    let firing = triggers.clone();
    let handle = thread::spawn(move || {
        for t in firing.iter().rev() {
            // Wait until the node has stored its waker, then fire from this thread.
            while t.waiting() == 0 {
                thread::yield_now();
            }
            t.fire();
        }
    });
    let out = futures_executor::block_on(dag.run(&()));
    handle.join().unwrap();
    assert_eq!(out[sum], count as u32);
}

#[test]
fn a_wake_after_the_run_was_dropped_does_nothing() {
    let (trigger, dag, _) = one_waiting_node();
    let mut run = dag.run(&());
    let poller = Poller::new();
    assert!(poller.poll(&mut run).is_pending());
    drop(run);
    // The trigger still holds the node's waker: waking it (and dropping it) is harmless, and
    // the parent is not woken.
    trigger.fire();
    assert_eq!(poller.wakes(), 0);
}

#[test]
fn a_waker_kept_after_completion_is_harmless() {
    use std::sync::Mutex;
    static KEPT: Mutex<Option<std::task::Waker>> = Mutex::new(None);
    struct Keep;
    impl std::future::Future for Keep {
        type Output = ();
        fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
            *KEPT.lock().unwrap() = Some(cx.waker().clone());
            Poll::Ready(())
        }
    }
    async fn keep() {
        Keep.await
    }
    let b = DagBuilder::<()>::new();
    b.add_node(keep, ());
    let dag = b.build();
    let out = futures_executor::block_on(dag.run(&()));
    drop(out);
    drop(dag);
    let waker = KEPT.lock().unwrap().take().unwrap();
    waker.wake_by_ref();
    let clone = waker.clone();
    drop(waker);
    clone.wake();
}

/// A task that counts nothing: its `Arc`'s strong count tells who holds its waker.
struct Counted;

impl std::task::Wake for Counted {
    fn wake(self: Arc<Self>) {}
}

/// Runs one node that waits on a trigger, polled by a waker of `task`; the trigger fires by
/// value, and `keep` keeps a clone of the node's waker past the run's end. Returns the
/// task's references once the run completed (the test's and the poller's: 2 if the run's
/// ended block holds none).
fn task_references_after_the_run(keep: bool) -> usize {
    let (trigger, dag, node) = one_waiting_node();
    let task = Arc::new(Counted);
    let waker = Waker::from(task.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let mut run = dag.run(&());
    assert!(std::pin::Pin::new(&mut run).poll(&mut cx).is_pending());
    let kept = keep.then(|| trigger.first_waker().expect("the node waits"));
    trigger.fire();
    let Poll::Ready(out) = std::pin::Pin::new(&mut run).poll(&mut cx) else {
        panic!("the node was woken and is ready");
    };
    assert_eq!(out[node], 1);
    let references = Arc::strong_count(&task);
    drop(kept);
    references
}

#[test]
fn a_completed_run_keeps_no_reference_to_its_task() {
    // Every node waker consumed by its wake: the run is the block's only holder at its end.
    assert_eq!(task_references_after_the_run(false), 2);
    // A node waker outlives the run, keeping the block: the run's task is let go all the same.
    assert_eq!(task_references_after_the_run(true), 2);
}

/// The run's events, in order.
#[derive(Default)]
struct Events(Vec<(usize, NodeEvent)>);

impl Observer for Events {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        self.0.push((task, event));
    }
}

impl Events {
    fn of(&self, kind: NodeEvent) -> Vec<usize> {
        let tasks = self.0.iter().filter(|(_, event)| *event == kind);
        tasks.map(|(task, _)| *task).collect()
    }
}

async fn ready(_: &()) -> u32 {
    1
}

/// Builds `count` nodes, those for which `waits` holds waiting on a trigger of their own;
/// polls once, fires the triggers in reverse order, polls again; returns the waiting nodes
/// and the order their wakes were taken and the order they completed in.
fn wake_in_reverse(count: usize, waits: impl Fn(usize) -> bool) -> [Vec<usize>; 3] {
    let b = DagBuilder::<()>::new();
    let mut triggers = Vec::new();
    for task in 0..count {
        if waits(task) {
            let trigger = Trigger::default();
            b.add_node(wait, b.add_constant(trigger.clone()));
            triggers.push((task, trigger));
        } else {
            b.add_node(ready, b.param());
        }
    }
    let dag = b.build();
    let mut events = Events::default();
    let poller = Poller::new();
    let mut run = dag
        .run(&())
        .with_observer(&mut events)
        .with_poll_budget(usize::MAX);
    assert!(poller.poll(&mut run).is_pending());
    for (_, trigger) in triggers.iter().rev() {
        trigger.fire();
    }
    assert!(poller.poll(&mut run).is_ready());
    drop(run);
    // Only what happened on the second poll.
    let first_poll = events.0.iter().position(|(_, e)| *e == NodeEvent::Woken);
    events
        .0
        .drain(..first_poll.expect("the second poll took wakes"));
    let waiting = triggers.iter().map(|(task, _)| *task).collect();
    [
        waiting,
        events.of(NodeEvent::Woken),
        events.of(NodeEvent::Completed),
    ]
}

#[test]
fn woken_nodes_are_polled_in_index_order_whatever_order_they_were_woken_in() {
    // A short batch (sorted), a long dense one (through the bitmap), a long sparse one
    // (sorted): every path of the ready queue.
    for (count, stride) in [(5, 1), (40, 1), (2_000, 100)] {
        let [waiting, woken, completed] = wake_in_reverse(count, |task| task % stride == 0);
        let reversed: Vec<usize> = waiting.iter().rev().copied().collect();
        assert_eq!(woken, reversed, "wakes are taken in the order they came");
        assert_eq!(completed, waiting, "the batch is polled in index order");
    }
}

// The waker block is made when a node first clones or wakes its waker, from whichever thread
// does it during the node's poll (the node may lend its `&Waker` to scoped threads). Under Miri
// (`.ci/run`) these also check for data races and leaks on each path of that first touch.

#[derive(Default)]
struct Kept {
    wakers: Mutex<Vec<Waker>>,
}

/// First poll: lends its `&Waker` to scoped threads that clone it and wake it, by value and by
/// reference, while the node wakes it too, then returns `Pending`; second poll: `Ready`.
async fn lend_to_threads(kept: &Arc<Kept>) -> u32 {
    let mut first = true;
    poll_fn(|cx| {
        if !first {
            return Poll::Ready(7);
        }
        first = false;
        let waker: &Waker = cx.waker();
        thread::scope(|scope| {
            // A clone woken by value (its own reference given up as it wakes).
            #[allow(clippy::waker_clone_wake)]
            scope.spawn(|| waker.clone().wake());
            scope.spawn(|| waker.wake_by_ref());
            scope.spawn(|| {
                let clone = waker.clone();
                assert!(clone.will_wake(&clone.clone()));
                kept.wakers.lock().unwrap().push(clone);
            });
            waker.wake_by_ref();
        });
        Poll::Pending
    })
    .await
}

#[test]
fn threads_cloning_and_waking_a_lent_waker_at_once_lose_no_wake() {
    let kept = Arc::new(Kept::default());
    let b = DagBuilder::<()>::new();
    let input = b.add_constant(kept.clone());
    let nodes: Vec<_> = (0..3).map(|_| b.add_node(lend_to_threads, input)).collect();
    let dag = b.build();
    // Later runs take the block the first left in the cache.
    for _ in 0..support::scaled(20, 3) {
        let poller = Poller::new();
        let mut run = dag.run(&());
        let mut polls = 0;
        let out = loop {
            polls += 1;
            match poller.poll(&mut run) {
                Poll::Ready(out) => break out,
                Poll::Pending => assert!(poller.wakes() >= polls, "a wake was lost"),
            }
        };
        assert!(nodes.iter().all(|&node| out[node] == 7));
        drop(out);
        // Wakers that outlive the run, woken from another thread: nothing happens.
        for waker in kept.wakers.lock().unwrap().drain(..) {
            thread::spawn(move || waker.wake()).join().unwrap();
        }
    }
}

/// A node that keeps its waker and compares it with `will_wake` clones it once: the waker it
/// is lent after the block exists is the block's, equal to its clone.
#[test]
fn a_kept_waker_is_cloned_once_across_polls() {
    #[derive(Default)]
    struct Stored {
        waker: Mutex<Option<Waker>>,
        clones: AtomicUsize,
    }
    async fn keep(stored: &Arc<Stored>) -> u32 {
        let mut polls = 0;
        poll_fn(|cx| {
            polls += 1;
            let mut waker = stored.waker.lock().unwrap();
            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                stored.clones.fetch_add(1, Ordering::SeqCst);
                *waker = Some(cx.waker().clone());
            }
            if polls == 4 {
                return Poll::Ready(1);
            }
            waker.as_ref().unwrap().wake_by_ref();
            Poll::Pending
        })
        .await
    }
    let stored = Arc::new(Stored::default());
    let b = DagBuilder::<()>::new();
    b.add_node(keep, b.add_constant(stored.clone()));
    let dag = b.build();
    let poller = Poller::new();
    let mut run = dag.run(&());
    while poller.poll(&mut run).is_pending() {}
    assert_eq!(stored.clones.load(Ordering::SeqCst), 1);
}

/// A clone made by a scoped thread goes to a thread that keeps waking it; the run is dropped
/// right after its block was made that way.
#[test]
fn a_run_dropped_right_after_a_thread_made_its_block_is_unharmed_by_late_wakes() {
    async fn send(to: &Mutex<mpsc::Sender<Waker>>) -> u32 {
        poll_fn(|cx| {
            let waker = cx.waker();
            let to = to.lock().unwrap().clone();
            thread::scope(|scope| {
                scope.spawn(move || to.send(waker.clone()).unwrap());
            });
            Poll::<u32>::Pending
        })
        .await
    }
    let (to, from) = mpsc::channel::<Waker>();
    let waking = thread::spawn(move || {
        let mut count = 0;
        while let Ok(waker) = from.recv() {
            for _ in 0..5 {
                waker.wake_by_ref();
                thread::yield_now();
            }
            count += 1;
            waker.wake();
        }
        count
    });
    let b = DagBuilder::<()>::new();
    b.add_node(send, b.add_constant(Mutex::new(to)));
    let dag = b.build();
    let runs = support::scaled(10, 3);
    for _ in 0..runs {
        let poller = Poller::new();
        let mut run = dag.run(&());
        assert!(poller.poll(&mut run).is_pending());
        drop(run);
    }
    drop(dag);
    assert_eq!(waking.join().unwrap(), runs);
}

/// A task's waker whose wake blocks, once armed, until the test lets it go: a node's wake on
/// another thread then holds the parent's slot (it wakes the parent's waker under the slot's
/// lock) for as long as the test wants.
struct SlowWake {
    wakes: AtomicUsize,
    /// Armed: the next wake says so on the first channel and waits on the second.
    armed: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>,
}

static SLOW_WAKE: std::task::RawWakerVTable =
    std::task::RawWakerVTable::new(slow_clone, slow_wake, slow_wake_by_ref, slow_drop);

unsafe fn slow_clone(data: *const ()) -> std::task::RawWaker {
    // SAFETY: `data` is an `Arc<SlowWake>` of `slow_wake_waker`; a clone owns a count.
    unsafe { Arc::increment_strong_count(data.cast::<SlowWake>()) };
    std::task::RawWaker::new(data, &SLOW_WAKE)
}

unsafe fn slow_wake(data: *const ()) {
    // SAFETY: as in `slow_clone`; a wake by value gives its count up.
    unsafe {
        slow_wake_by_ref(data);
        slow_drop(data);
    }
}

unsafe fn slow_wake_by_ref(data: *const ()) {
    // SAFETY: as in `slow_clone`.
    let task = unsafe { &*data.cast::<SlowWake>() };
    let armed = task.armed.lock().unwrap().take();
    if let Some((waking, go)) = armed {
        waking.send(()).unwrap();
        go.recv().unwrap();
    }
    task.wakes.fetch_add(1, Ordering::SeqCst);
}

unsafe fn slow_drop(data: *const ()) {
    // SAFETY: as in `slow_clone`.
    unsafe { Arc::decrement_strong_count(data.cast::<SlowWake>()) };
}

impl SlowWake {
    /// Arms the next wake: returns the channel that hears it start and the one that lets it
    /// finish.
    fn arm(&self) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (cloning_tx, cloning) = mpsc::channel();
        let (go, go_rx) = mpsc::channel();
        *self.armed.lock().unwrap() = Some((cloning_tx, go_rx));
        (cloning, go)
    }
}

/// A task that counts its wakes, not armed yet, and its waker.
fn slow_wake_waker() -> (Arc<SlowWake>, Waker) {
    let task = Arc::new(SlowWake {
        wakes: AtomicUsize::new(0),
        armed: Mutex::new(None),
    });
    let data = Arc::into_raw(task.clone()).cast::<()>();
    // SAFETY: the functions above uphold the contract for an `Arc<SlowWake>` pointer, whose
    // count this waker owns.
    let waker = unsafe { Waker::from_raw(std::task::RawWaker::new(data, &SLOW_WAKE)) };
    (task, waker)
}

/// Runs `test` on a thread of its own and fails if it does not finish: a hang detector, not
/// a measure of time.
fn finishes(test: impl FnOnce() + Send + 'static) {
    let (done_tx, done) = mpsc::channel();
    let worker = thread::spawn(move || {
        test();
        done_tx.send(()).unwrap();
    });
    assert!(
        done.recv_timeout(std::time::Duration::from_secs(20))
            .is_ok(),
        "the run's end waited for a node's wake that held the parent's slot"
    );
    worker.join().unwrap();
}

/// A node that parks its waker in `slot` and never completes.
async fn park_in(slot: &Mutex<Option<Waker>>) -> u32 {
    poll_fn(|cx| {
        *slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::<u32>::Pending
    })
    .await
}

async fn park_in_shared(slot: &Arc<Mutex<Option<Waker>>>) -> u32 {
    park_in(slot).await
}

/// Polls `run` once (its node parks its waker in `parked`), then drops it while the node's
/// wake, on another thread, holds the parent's slot waking the task's waker; `kept` keeps a
/// clone of the node's waker alive to the end. Returns the task's remaining references
/// (the test's and its waker's: 2 if the ended run holds none).
fn drop_while_a_wake_holds_the_slot<F: std::future::Future>(
    run: F,
    parked: &Mutex<Option<Waker>>,
    keep: bool,
) -> usize {
    let (task, waker) = slow_wake_waker();
    let mut run = Box::pin(run);
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(run.as_mut().poll(&mut cx).is_pending());
    let (waking_task, go) = task.arm();
    let node = parked.lock().unwrap().take().expect("the node parked");
    let kept = keep.then(|| node.clone());
    // The node's wake holds the parent's slot while it wakes the task's waker.
    let waking = thread::spawn(move || node.wake());
    waking_task.recv().unwrap();
    // The run ends meanwhile: it must not wait for that wake.
    drop(run);
    go.send(()).unwrap();
    waking.join().unwrap();
    let references = Arc::strong_count(&task);
    drop(kept);
    references
}

#[test]
fn a_run_dropped_while_a_wake_wakes_its_task_neither_waits_nor_keeps_the_waker() {
    finishes(|| {
        let parked = Arc::new(Mutex::new(None));
        let b = DagBuilder::<()>::new();
        b.add_node(park_in_shared, b.add_constant(parked.clone()));
        let dag = b.build();
        // The wake took the waker out as it let go: the ended run's block, which the kept
        // node waker keeps alive, holds no reference of the task.
        assert_eq!(
            drop_while_a_wake_holds_the_slot(dag.run(&()), &parked, true),
            2
        );
    });
}

#[test]
fn a_dag_macro_run_dropped_while_a_wake_wakes_its_task_does_not_wait() {
    finishes(|| {
        static PARKED: Mutex<Option<Waker>> = Mutex::new(None);
        let dag = dagfut::dag! {
            async |p: &()| -> (a) {
                a(p) = park_in(&PARKED);
            }
        };
        // The `static` wakers keep no reference of the ended run's task.
        assert_eq!(
            drop_while_a_wake_holds_the_slot(dag.run(&()), &PARKED, false),
            2
        );
    });
}

/// An executor of one task that polls it inline, inside the wake of its waker (unless a poll
/// is under way: then it polls once more after it), with a fresh waker for every poll. Legal,
/// if unusual: nothing in `Waker`'s contract forbids it.
struct InlineTask {
    future: Mutex<Option<std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>>>>,
    polling: std::sync::atomic::AtomicBool,
    again: std::sync::atomic::AtomicBool,
    polls: AtomicUsize,
}

impl InlineTask {
    fn poll_inline(self: &Arc<Self>) {
        if self.polling.swap(true, Ordering::SeqCst) {
            self.again.store(true, Ordering::SeqCst);
            return;
        }
        loop {
            self.again.store(false, Ordering::SeqCst);
            let polls = self.polls.fetch_add(1, Ordering::SeqCst);
            assert!(polls < 100, "the run was polled 100 times for one wake");
            let waker = Waker::from(Arc::new(WakeInline(self.clone())));
            let mut future = self.future.lock().unwrap();
            if let Some(run) = future.as_mut() {
                let mut cx = std::task::Context::from_waker(&waker);
                if run.as_mut().poll(&mut cx).is_ready() {
                    *future = None;
                }
            }
            drop(future);
            if !self.again.load(Ordering::SeqCst) {
                break;
            }
        }
        self.polling.store(false, Ordering::SeqCst);
    }
}

struct WakeInline(Arc<InlineTask>);

impl std::task::Wake for WakeInline {
    fn wake(self: Arc<Self>) {
        self.0.poll_inline();
    }
}

/// `wait_for(gate)`, once `input` is there.
async fn then_wait_for(input: &u32, gate: &Arc<Mutex<(bool, Option<Waker>)>>) -> u32 {
    input + wait_for(gate).await
}

/// Under an executor that polls inline as its waker is woken, with a new waker each poll, a
/// node's wake polls the run once or twice, and the run waits again for its next node: the
/// wake must not hold the parent's slot while it wakes the task (the run's poll inside that
/// wake could not register its new waker, and would wake it to be polled again, for ever).
#[test]
fn an_executor_that_polls_inline_as_it_is_woken_is_not_woken_for_ever() {
    let (first, second) = (
        Arc::new(Mutex::new((false, None))),
        Arc::new(Mutex::new((false, None))),
    );
    let b = DagBuilder::<()>::new();
    let a = b.add_node(wait_for, b.add_constant(first.clone()));
    let node = b.add_node(then_wait_for, (a, b.add_constant(second.clone())));
    let dag = Arc::new(b.build());
    let task = Arc::new(InlineTask {
        future: Mutex::new(Some(Box::pin(async move { dag.run_owned(()).await[node] }))),
        polling: std::sync::atomic::AtomicBool::new(false),
        again: std::sync::atomic::AtomicBool::new(false),
        polls: AtomicUsize::new(0),
    });
    task.poll_inline();
    assert!(
        task.future.lock().unwrap().is_some(),
        "the first node waits"
    );
    // `a` completes, then `node` starts and waits.
    open(&first);
    assert!(
        task.future.lock().unwrap().is_some(),
        "the second node waits"
    );
    assert!(task.polls.load(Ordering::SeqCst) <= 3);
    open(&second);
    assert!(task.future.lock().unwrap().is_none(), "the run completed");
    assert!(task.polls.load(Ordering::SeqCst) <= 5);
}
