//! The behaviour suite on DAGs fixed at compile time (`dagfut::dag!`): the seed's timings on a
//! virtual clock, failures under both policies, cancellation, panics, stale wakes, concurrent
//! runs. Fit for Miri (no real time, no threads but one test's).

use std::cell::RefCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

use dagfut::{Clock, NodeEvent, Observer, Timer};
use dagfut_tests::policy::first_of;
use dagfut_tests::virtual_time::{VirtualTimer, block_on};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn inc_task(timer: &VirtualTimer, delay: Duration, n: &u32) -> u32 {
    timer.sleep(delay).await;
    n + 1
}

async fn add_task(timer: &VirtualTimer, delay: Duration, a: &u32, b: &u32) -> u32 {
    timer.sleep(delay).await;
    a + b
}

/// Each node's start and end on the virtual clock.
struct Times<'t> {
    clock: &'t VirtualTimer,
    starts: Vec<(usize, Duration)>,
    ends: Vec<(usize, Duration)>,
    events: Vec<(usize, NodeEvent)>,
}

impl<'t> Times<'t> {
    fn new(clock: &'t VirtualTimer) -> Self {
        Times {
            clock,
            starts: Vec::new(),
            ends: Vec::new(),
            events: Vec::new(),
        }
    }

    fn start_of(&self, task: usize) -> Duration {
        self.starts.iter().find(|(t, _)| *t == task).unwrap().1
    }

    fn end_of(&self, task: usize) -> Duration {
        self.ends.iter().find(|(t, _)| *t == task).unwrap().1
    }
}

impl Observer for Times<'_> {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        match event {
            NodeEvent::Started => self.starts.push((task, self.clock.now())),
            NodeEvent::Completed | NodeEvent::Failed => self.ends.push((task, self.clock.now())),
            _ => {}
        }
        self.events.push((task, event));
    }
}

#[test]
fn the_seed_runs_on_a_virtual_clock_with_the_seeds_timings() {
    let timer = VirtualTimer::new();
    let t = &timer;
    let seed = dagfut::dag! {
        async |p: &u32| -> (end, fast_a, slow_b) {
            fast_a(p) = inc_task(t, ms(100), p);
            slow_b(fast_a) = inc_task(t, ms(1000), fast_a);
            slow_a(p) = inc_task(t, ms(500), p);
            fast_b(p) = inc_task(t, ms(100), p);
            fast_c(slow_a, fast_b) = add_task(t, ms(100), slow_a, fast_b);
            end(fast_c, slow_b) = add_task(t, ms(100), fast_c, slow_b);
        }
    };
    let mut times = Times::new(&timer);
    let (end, fast_a, slow_b) = block_on(&timer, seed.run_with(&0, &mut times));
    assert_eq!((end, fast_a, slow_b), (4, 1, 2));
    // slow_b starts the moment fast_a is done, not when slow_a (its "layer") is.
    assert_eq!(times.start_of(1), ms(100));
    assert_eq!(times.start_of(4), ms(500)); // fast_c: after slow_a
    assert_eq!(times.start_of(5), ms(1100)); // end: after slow_b
    assert_eq!(times.end_of(5), ms(1200));
    assert_eq!(timer.now(), ms(1200));
    // Run again: the same DAG, another parameter, the same schedule.
    let (end, ..) = block_on(&timer, seed.run(&10));
    assert_eq!(end, 34);
    assert_eq!(timer.now(), ms(2400));
}

/// Counts the drops of the values it guards (a node future's state, an output).
#[derive(Clone, Default)]
struct Drops(Arc<AtomicU32>);

impl Drops {
    fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

struct Guard(Drops);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// An output that counts its drop.
struct Counted(u32, #[allow(dead_code)] Guard);

async fn guarded(timer: &VirtualTimer, drops: &Drops, delay: Duration, n: u32) -> Counted {
    let _alive = Guard(drops.clone());
    timer.sleep(delay).await;
    Counted(n, Guard(drops.clone()))
}

async fn fail_after(timer: &VirtualTimer, delay: Duration, why: &str) -> Result<u32, String> {
    timer.sleep(delay).await;
    Err(why.to_string())
}

/// Reads nothing: `first` depends on `broken` only to be skipped with it.
fn broken_never_read(_: &u32) -> &'static str {
    "unreachable"
}

async fn plus(timer: &VirtualTimer, delay: Duration, a: &Counted) -> Result<u32, String> {
    timer.sleep(delay).await;
    Ok(a.0 + 1)
}

#[test]
fn fail_fast_drops_every_running_future_and_output_once() {
    let timer = VirtualTimer::new();
    let (t, drops) = (&timer, Drops::default());
    let d = &drops;
    let dag = dagfut::dag! {
        async |_p: &()| -> (slow, after) or String {
            done(_p) = guarded(t, d, ms(10), 1);
            slow(_p) = guarded(t, d, ms(1000), 2);
            broken(_p) = try fail_after(t, ms(50), "no");
            after(done) = try plus(t, ms(500), done);
        }
    };
    let mut times = Times::new(&timer);
    let Err(error) = block_on(&timer, dag.try_run_with(&(), &mut times)) else {
        panic!("the run should fail");
    };
    assert_eq!((error.node, error.index), ("broken", 2));
    assert_eq!(error.to_string(), "node `broken` (#2) failed: no");
    assert_eq!(timer.now(), ms(50), "stopped at the failure");
    // done: its future's guard and its output's; slow: its future's. Each once.
    assert_eq!(drops.count(), 3);
    assert!(!times.events.contains(&(3, NodeEvent::Completed)));
}

#[test]
fn a_settled_run_skips_only_the_failed_nodes_descendants() {
    let timer = VirtualTimer::new();
    let (t, drops) = (&timer, Drops::default());
    let d = &drops;
    let dag = dagfut::dag! {
        async |_p: &()| -> (independent, skipped) or String {
            broken(_p) = try fail_after(t, ms(5), "down");
            first(broken) = try fail_after(t, ms(5), broken_never_read(broken));
            skipped(first) = try fail_after(t, ms(5), "never");
            independent(_p) = guarded(t, d, ms(20), 7);
        }
    };
    let report = block_on(&timer, dag.run_settled(&()));
    assert!(report.outputs.0.as_ref().is_some_and(|c| c.0 == 7));
    assert!(report.outputs.1.is_none());
    assert_eq!(report.errors[0].as_deref(), Some("down"));
    assert!(report.errors[1..3].iter().all(Option::is_none)); // skipped, not failed
    assert!(report.failed.is_none());
    drop(report);
    assert_eq!(drops.count(), 2); // independent's future guard and output
}

#[test]
fn dropping_a_run_drops_every_future_and_output_once() {
    let timer = VirtualTimer::new();
    let (t, drops) = (&timer, Drops::default());
    let d = &drops;
    let dag = dagfut::dag! {
        async |_p: &()| -> (b) {
            a(_p) = guarded(t, d, ms(10), 1);
            b(a) = guarded(t, d, ms(100), 2);
            c(_p) = guarded(t, d, ms(1000), 3);
        }
    };
    let ended = block_on(&timer, first_of(dag.run(&()), timer.sleep(ms(50))));
    assert!(ended.is_none());
    // a: future + output; b: future; c: future.
    assert_eq!(drops.count(), 4);
}

/// Whether `f` panicked (caught here; what it ran is dropped as the panic unwinds).
fn panics(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

async fn boom(_: &u32) -> u32 {
    panic!("boom")
}

#[test]
fn a_panicking_node_propagates_and_the_run_drops_everything_once() {
    let timer = VirtualTimer::new();
    let (t, drops) = (&timer, Drops::default());
    let d = &drops;
    let dag = dagfut::dag! {
        async |p: &u32| -> (b) {
            a(p) = guarded(t, d, ms(1), 1);
            slow(p) = guarded(t, d, ms(1000), 2);
            b(a, p) = boom(p);
        }
    };
    assert!(panics(|| {
        block_on(&timer, dag.run(&0));
    }));
    // a: future + output; slow: future.
    assert_eq!(drops.count(), 3);
    // The DAG runs again after a panic (its wakers were released).
    let fine = dagfut::dag! {
        async |p: &u32| -> (a) {
            a(p) = inc_task(t, ms(1), p);
        }
    };
    assert_eq!(block_on(&timer, fine.run(&1)), (2,));
}

/// A node whose call panics: it never makes a future.
fn panics_on_call(_: &Counted) -> std::future::Ready<u32> {
    panic!("the call panics")
}

/// Each state a node can be in when the run unwinds: done (future gone, output kept),
/// running (future), started with its call panicking (nothing), never started (its call).
/// Each is dropped once, and nothing that is not there (Miri checks the second).
#[test]
fn a_node_whose_call_panics_leaves_every_other_node_dropped_once() {
    let timer = VirtualTimer::new();
    let (t, drops) = (&timer, Drops::default());
    let d = &drops;
    let dag = dagfut::dag! {
        async |_p: &()| -> (after) {
            a(_p) = guarded(t, d, ms(1), 1);
            slow(_p) = guarded(t, d, ms(1000), 2);
            b(a) = panics_on_call(a);
            after(b) = guarded(t, d, ms(1), 3);
        }
    };
    assert!(panics(|| {
        block_on(&timer, dag.run(&()));
    }));
    // a: future + output; slow: future.
    assert_eq!(drops.count(), 3);
}

/// Panics as node `at` starts.
struct PanicsAtStart(usize);

impl Observer for PanicsAtStart {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        if task == self.0 && event == NodeEvent::Started {
            panic!("the observer panics");
        }
    }
}

#[test]
fn an_observer_that_panics_as_a_node_starts_leaves_every_node_dropped_once() {
    let timer = VirtualTimer::new();
    let (t, drops) = (&timer, Drops::default());
    let d = &drops;
    let dag = dagfut::dag! {
        async |_p: &()| -> (b) {
            a(_p) = guarded(t, d, ms(1), 1);
            slow(_p) = guarded(t, d, ms(1000), 2);
            b(a) = guarded(t, d, ms(1), 3);
        }
    };
    for at in 0..3 {
        let before = drops.count();
        let mut observer = PanicsAtStart(at);
        assert!(panics(|| {
            block_on(&timer, dag.run_with(&(), &mut observer));
        }));
        // Node 0 panics before anything started; node 1 after `a` started (its future);
        // node 2 after `a` completed (its future and output) with `slow` running.
        let expected = [0, 1, 3][at];
        assert_eq!(
            drops.count() - before,
            expected,
            "observer panicking at node {at}"
        );
    }
}

/// A node future that keeps its waker, wakes it before returning `Ready` (as `select!` does)
/// and once more, from the test, after it completed.
struct WakesLate {
    kept: Arc<std::sync::Mutex<Option<Waker>>>,
    polls: u32,
}

impl Future for WakesLate {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls += 1;
        *self.kept.lock().unwrap() = Some(cx.waker().clone());
        cx.waker().wake_by_ref();
        if self.polls < 3 {
            Poll::Pending
        } else {
            Poll::Ready(self.polls)
        }
    }
}

#[test]
fn stale_wakes_are_ignored() {
    let kept = Arc::new(std::sync::Mutex::new(None));
    let k = &kept;
    let timer = VirtualTimer::new();
    let t = &timer;
    let dag = dagfut::dag! {
        async |p: &u32| -> (late, after) {
            late(p) = WakesLate { kept: k.clone(), polls: 0 };
            after(late) = inc_task(t, ms(10), late);
        }
    };
    let stale = RefCell::new(Vec::new());
    let (late, after) = block_on(&timer, async {
        let out = dag.run(&0).await;
        stale
            .borrow_mut()
            .push(kept.lock().unwrap().take().unwrap());
        out
    });
    assert_eq!((late, after), (3, 4));
    // Woken after its run ended, by value and by reference, from another thread too.
    let waker = stale.borrow_mut().pop().unwrap();
    waker.wake_by_ref();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    // The next run starts clean.
    let (late, after) = block_on(&timer, dag.run(&0));
    assert_eq!((late, after), (3, 4));
}

#[test]
fn two_runs_of_one_dag_at_once_both_complete() {
    let timer = VirtualTimer::new();
    let t = &timer;
    let seed = dagfut::dag! {
        async |p: &u32| -> (end) {
            a(p) = inc_task(t, ms(100), p);
            b(a) = inc_task(t, ms(50), a);
            c(p) = inc_task(t, ms(120), p);
            end(b, c) = add_task(t, ms(10), b, c);
        }
    };
    let both = async {
        let (mut first, mut second) = (std::pin::pin!(seed.run(&0)), std::pin::pin!(seed.run(&10)));
        let (mut x, mut y) = (None, None);
        std::future::poll_fn(|cx| {
            if x.is_none() {
                if let Poll::Ready(out) = first.as_mut().poll(cx) {
                    x = Some(out);
                }
            }
            if y.is_none() {
                if let Poll::Ready(out) = second.as_mut().poll(cx) {
                    y = Some(out);
                }
            }
            if x.is_some() && y.is_some() {
                Poll::Ready((x.take().unwrap(), y.take().unwrap()))
            } else {
                Poll::Pending
            }
        })
        .await
    };
    let ((first,), (second,)) = block_on(&timer, both);
    assert_eq!((first, second), (3, 23));
    assert_eq!(timer.now(), ms(160));
}

#[test]
fn the_run_is_one_future_of_a_size_known_at_compile_time() {
    let timer = VirtualTimer::new();
    let t = &timer;
    let seed = dagfut::dag! {
        async |p: &u32| -> (end) {
            fast_a(p) = inc_task(t, ms(100), p);
            slow_b(fast_a) = inc_task(t, ms(1000), fast_a);
            slow_a(p) = inc_task(t, ms(500), p);
            fast_b(p) = inc_task(t, ms(100), p);
            fast_c(slow_a, fast_b) = add_task(t, ms(100), slow_a, fast_b);
            end(fast_c, slow_b) = add_task(t, ms(100), fast_c, slow_b);
        }
    };
    let run = seed.run(&0);
    let size = std::mem::size_of_val(&run);
    assert!(size > 0 && size < 4096, "{size} bytes");
    assert_eq!(block_on(&timer, run), (4,));
}

/// A node future that reads its input in its `Drop`, as a guard does.
struct ReadsInDrop<'a> {
    input: &'a u32,
    seen: &'a AtomicU32,
}

impl Future for ReadsInDrop<'_> {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Pending
    }
}

impl Drop for ReadsInDrop<'_> {
    fn drop(&mut self) {
        self.seen.store(*self.input, Ordering::SeqCst);
    }
}

#[test]
fn a_future_that_reads_its_input_in_drop_is_dropped_before_the_input() {
    let timer = VirtualTimer::new();
    let t = &timer;
    let seen = AtomicU32::new(0);
    let s = &seen;
    let dag = dagfut::dag! {
        async |p: &u32| -> (reader) {
            first(p) = inc_task(t, ms(1), p);
            reader(first) = ReadsInDrop { input: first, seen: s };
        }
    };
    let ended = block_on(&timer, first_of(dag.run(&41), timer.sleep(ms(10))));
    assert!(ended.is_none());
    // Miri checks the read is of a live value; natively, its value is the output's.
    assert_eq!(seen.load(Ordering::SeqCst), 42);
}

/// A node future whose `Drop` panics.
struct PanicsInDrop;

impl Future for PanicsInDrop {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Pending
    }
}

impl Drop for PanicsInDrop {
    fn drop(&mut self) {
        panic!("a drop that panics");
    }
}

#[test]
fn a_panicking_drop_still_lets_every_other_future_and_output_drop() {
    let timer = VirtualTimer::new();
    let (t, drops) = (&timer, Drops::default());
    let d = &drops;
    let dag = dagfut::dag! {
        async |_p: &()| -> (bad) {
            done(_p) = guarded(t, d, ms(1), 1);
            bad(_p) = PanicsInDrop;
            slow(_p) = guarded(t, d, ms(1000), 2);
        }
    };
    assert!(panics(|| {
        block_on(&timer, first_of(dag.run(&()), timer.sleep(ms(10))));
    }));
    // done: future + output; slow: future.
    assert_eq!(drops.count(), 3);
}

/// A node that waits until another thread opens its gate, then wakes the waker it last saw by
/// reference and by value.
struct Gate(Arc<std::sync::Mutex<(bool, Option<Waker>)>>);

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.lock().unwrap();
        if state.0 {
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

async fn opened_by_a_thread(n: &u32) -> u32 {
    let state = Arc::new(std::sync::Mutex::new((false, None::<Waker>)));
    let gate = Gate(state.clone());
    let opener = std::thread::spawn(move || {
        let waker = {
            let mut state = state.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake_by_ref();
            waker.wake();
        }
    });
    gate.await;
    opener.join().unwrap();
    n + 1
}

async fn add(a: &u32, b: &u32) -> u32 {
    a + b
}

/// A node that returns `Pending` once (its waker stored in `parked`), counting its polls.
struct PendsOnce<'a> {
    polls: &'a AtomicU32,
    parked: &'a RefCell<Vec<Waker>>,
}

impl Future for PendsOnce<'_> {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.polls.fetch_add(1, Ordering::Relaxed) == 0 {
            self.parked.borrow_mut().push(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(1)
    }
}

/// A run that waits for the first time claims the block's wakers; when no other run held
/// them since its nodes got them, every wake its nodes had is in the block, so it polls only
/// the woken ones: a node is polled once to park and once when woken, never in between.
#[test]
fn a_node_is_polled_again_only_when_woken() {
    let polls = [const { AtomicU32::new(0) }; 2];
    let parked = RefCell::new(Vec::new());
    let (polls, parked) = (&polls, &parked);
    let dag = dagfut::dag! {
        async |p: &u32| -> (a, b) {
            a(p) = PendsOnce { polls: &polls[0], parked };
            b(p) = PendsOnce { polls: &polls[1], parked };
        }
    };
    let mut run = std::pin::pin!(dag.run(&0));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(run.as_mut().poll(&mut cx).is_pending());
    assert_eq!(polls.each_ref().map(|p| p.load(Ordering::Relaxed)), [1, 1]);
    // Nothing woken: a poll polls no node.
    assert!(run.as_mut().poll(&mut cx).is_pending());
    assert_eq!(polls.each_ref().map(|p| p.load(Ordering::Relaxed)), [1, 1]);
    // One woken: only it is polled.
    let woken = parked.borrow_mut().remove(1);
    woken.wake();
    assert!(run.as_mut().poll(&mut cx).is_pending());
    assert_eq!(polls.each_ref().map(|p| p.load(Ordering::Relaxed)), [1, 2]);
    parked.borrow_mut().pop().unwrap().wake();
    assert_eq!(run.as_mut().poll(&mut cx), Poll::Ready((1, 1)));
    assert_eq!(polls.each_ref().map(|p| p.load(Ordering::Relaxed)), [2, 2]);
}

/// A task waker that counts its wakes.
struct CountingWaker(AtomicU32);

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A run polled by one task and then by another (it moved, or a combinator polls it with a
/// waker of its own): a node's wake wakes the task of the latest poll, and once the run is
/// over it keeps neither task's waker.
#[test]
fn a_wake_wakes_the_task_that_polled_the_run_last() {
    let polls = [const { AtomicU32::new(0) }; 2];
    let parked = RefCell::new(Vec::new());
    let (polls, parked) = (&polls, &parked);
    // Two parking roots and their sum, which starts in the poll after the second wake.
    let dag = dagfut::dag! {
        async |p: &u32| -> (sum) {
            a(p) = PendsOnce { polls: &polls[0], parked };
            b(p) = PendsOnce { polls: &polls[1], parked };
            sum(a, b) = add(a, b);
        }
    };
    let tasks = [0, 1].map(|_| Arc::new(CountingWaker(AtomicU32::new(0))));
    let wakes = |task: usize| tasks[task].0.load(Ordering::Relaxed);
    let mut run = Box::pin(dag.run(&0));
    let mut poll_as = |task: usize| {
        let waker = Waker::from(tasks[task].clone());
        run.as_mut().poll(&mut Context::from_waker(&waker))
    };
    assert!(poll_as(0).is_pending());
    assert!(poll_as(1).is_pending());
    parked.borrow_mut().remove(0).wake();
    assert_eq!(wakes(1), 1, "the wake went to the task of the latest poll");
    assert!(poll_as(1).is_pending());
    parked.borrow_mut().pop().unwrap().wake();
    assert_eq!(wakes(1), 2);
    assert_eq!(poll_as(0), Poll::Ready((2,)));
    drop(run);
    for task in &tasks {
        assert_eq!(Arc::strong_count(task), 1, "the run kept a task's waker");
    }
}

/// Many nodes woken at once from threads of their own while the run polls: only the first
/// wake since the run last looked wakes the run's task (the others find their bits already
/// set), so a wake that the run's own poll took must still lead to a poll that sees every
/// later bit. A lost wake hangs the run.
#[test]
fn wakes_from_many_threads_at_once_are_never_lost() {
    let rounds = if cfg!(miri) { 2 } else { 500 };
    let dag = dagfut::dag! {
        async |p: &u32| -> (all) {
            a(p) = opened_by_a_thread(p);
            b(p) = opened_by_a_thread(p);
            c(p) = opened_by_a_thread(p);
            d(p) = opened_by_a_thread(p);
            e(p) = opened_by_a_thread(p);
            f(p) = opened_by_a_thread(p);
            ab(a, b) = add(a, b);
            cd(c, d) = add(c, d);
            ef(e, f) = add(e, f);
            abcd(ab, cd) = add(ab, cd);
            all(abcd, ef) = add(abcd, ef);
        }
    };
    for round in 0..rounds {
        assert_eq!(
            futures_executor::block_on(dag.run(&round)),
            (6 * round + 6,)
        );
    }
}

/// Two runs of one `dag!` at once, on two threads with executors of their own, their nodes
/// woken from other threads: one run owns the static wakers, the other falls back to its own
/// task's waker; ownership passes from run to run. A wake that lands between a run's first
/// poll and its claim of the wakers must not be lost (it was, once: the run before consumed
/// it), or a run hangs.
#[test]
fn runs_on_two_threads_at_once_never_lose_a_wake() {
    let rounds = if cfg!(miri) { 2 } else { 1000 };
    let dag = dagfut::dag! {
        async |p: &u32| -> (d) {
            a(p) = opened_by_a_thread(p);
            b(a) = opened_by_a_thread(a);
            c(p) = opened_by_a_thread(p);
            d(b, c) = add(b, c);
        }
    };
    let dag = &dag;
    for _ in 0..rounds {
        std::thread::scope(|s| {
            let first = s.spawn(|| futures_executor::block_on(dag.run(&0)));
            let second = s.spawn(|| futures_executor::block_on(dag.run(&10)));
            assert_eq!(first.join().unwrap(), (3,));
            assert_eq!(second.join().unwrap(), (23,));
        });
    }
}

/// A node future that parks its waker where another node's drop finds it.
struct Parks<'a>(&'a RefCell<Option<Waker>>);

impl Future for Parks<'_> {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        *self.0.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A node future that wakes the parked waker in its drop, as a channel's sender does.
struct WakesInDrop<'a>(&'a RefCell<Option<Waker>>);

impl Future for WakesInDrop<'_> {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Pending
    }
}

impl Drop for WakesInDrop<'_> {
    fn drop(&mut self) {
        if let Some(waker) = self.0.borrow_mut().take() {
            waker.wake();
        }
    }
}

/// Dropping a run releases its wakers before it drops its nodes: a wake from a node's drop
/// does not wake the task that is dropping the run.
#[test]
fn a_wake_from_a_dropped_nodes_drop_does_not_wake_the_dropping_task() {
    let parked = RefCell::new(None);
    let parked = &parked;
    let dag = dagfut::dag! {
        async |_p: &()| -> (a) {
            a(_p) = WakesInDrop(parked);
            b(_p) = Parks(parked);
        }
    };
    let task = Arc::new(CountingWaker(AtomicU32::new(0)));
    let waker = Waker::from(task.clone());
    let mut run = Box::pin(dag.run(&()));
    assert!(
        run.as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    assert!(parked.borrow().is_some(), "b parked its waker");
    drop(run);
    assert!(parked.borrow().is_none(), "a's drop woke it");
    assert_eq!(
        task.0.load(Ordering::Relaxed),
        0,
        "the dropped run woke its task"
    );
}

/// A node future that keeps its waker and wakes itself, then fails on its second poll.
struct KeepsWakerThenFails<'a> {
    polls: &'a AtomicU32,
    kept: &'a std::sync::Mutex<Option<Waker>>,
}

impl Future for KeepsWakerThenFails<'_> {
    type Output = Result<u32, String>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls.fetch_add(1, Ordering::Relaxed) == 0 {
            *self.kept.lock().unwrap() = Some(cx.waker().clone());
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Err("no".to_string()))
    }
}

/// Wakes the kept waker after `delay`, by reference here and by value on another thread.
async fn wake_kept_later(
    timer: &VirtualTimer,
    delay: Duration,
    kept: &std::sync::Mutex<Option<Waker>>,
) -> u32 {
    timer.sleep(delay).await;
    let waker = kept
        .lock()
        .unwrap()
        .take()
        .expect("the failed node kept its waker");
    waker.wake_by_ref();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    7
}

/// A settling run goes on after a node failed; that node's waker, woken later (by reference,
/// and by value from another thread), must not get it polled again: it holds nothing then.
#[test]
fn a_wake_of_a_failed_node_in_a_settling_run_is_ignored() {
    let timer = VirtualTimer::new();
    let (polls, kept, drops) = (
        AtomicU32::new(0),
        std::sync::Mutex::new(None),
        Drops::default(),
    );
    let (t, polls, kept, d) = (&timer, &polls, &kept, &drops);
    // `slow` keeps the run going past the wake, so that a later poll drains it.
    let dag = dagfut::dag! {
        async |_p: &()| -> (failing, poker) or String {
            failing(_p) = try KeepsWakerThenFails { polls, kept };
            poker(_p) = wake_kept_later(t, ms(50), kept);
            slow(_p) = guarded(t, d, ms(100), 1);
        }
    };
    let report = block_on(&timer, dag.run_settled(&()));
    assert_eq!(report.errors[0].as_deref(), Some("no"));
    assert_eq!(report.outputs, (None, Some(7)));
    assert_eq!(
        polls.load(Ordering::Relaxed),
        2,
        "polled again after it failed"
    );
    assert_eq!(timer.now(), ms(100));
}

/// Counts the polls of the future it wraps.
struct CountPolls<'c, F>(&'c AtomicU32, F);

impl<F: Future + Unpin> Future for CountPolls<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.1).poll(cx)
    }
}

fn counted_sleep<'c>(
    timer: &VirtualTimer,
    delay: Duration,
    polls: &'c AtomicU32,
) -> CountPolls<'c, <VirtualTimer as Timer>::Sleep> {
    CountPolls(polls, timer.sleep(delay))
}

/// Whether the next drop of a [`PANICKY`] waker panics (once).
static DROP_PANICS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A task's waker that owns nothing and wakes nobody, whose drop panics when
/// [`DROP_PANICS`] says so.
static PANICKY: RawWakerVTable =
    RawWakerVTable::new(panicky_clone, panicky_wake, panicky_wake, panicky_drop);

unsafe fn panicky_clone(_: *const ()) -> RawWaker {
    RawWaker::new(std::ptr::null(), &PANICKY)
}

unsafe fn panicky_wake(_: *const ()) {}

unsafe fn panicky_drop(_: *const ()) {
    assert!(
        !DROP_PANICS.swap(false, Ordering::SeqCst),
        "the task waker's drop panics"
    );
}

/// A run whose task's waker panics when the run lets go of it (as it is dropped) still
/// releases the `dag!`'s waker block: the next run claims it, and polls each node only when
/// it is woken (a run that found the block claimed would poll every running node at each of
/// its polls).
#[test]
fn a_task_waker_whose_drop_panics_leaves_the_dags_wakers_free() {
    let timer = VirtualTimer::new();
    let t = &timer;
    let (quick_polls, late_polls) = (AtomicU32::new(0), AtomicU32::new(0));
    let (q, l) = (&quick_polls, &late_polls);
    let dag = dagfut::dag! {
        async |_p: &()| -> (quick, late) {
            quick(_p) = counted_sleep(t, ms(10), q);
            late(_p) = counted_sleep(t, ms(100), l);
        }
    };
    // SAFETY: the vtable's functions touch no data: any pointer does.
    let waker =
        ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &PANICKY)) });
    let mut cx = Context::from_waker(&waker);
    let mut run = Box::pin(dag.run(&()));
    // The first wait claims the block and registers a clone of the waker.
    assert!(run.as_mut().poll(&mut cx).is_pending());
    DROP_PANICS.store(true, Ordering::SeqCst);
    assert!(panics(move || drop(run)), "the clone's drop panics");
    assert!(!DROP_PANICS.load(Ordering::SeqCst));
    quick_polls.store(0, Ordering::SeqCst);
    late_polls.store(0, Ordering::SeqCst);
    block_on(&timer, dag.run(&()));
    // Each: its first poll, and the one after its sleep woke it.
    assert_eq!(
        (
            quick_polls.load(Ordering::SeqCst),
            late_polls.load(Ordering::SeqCst)
        ),
        (2, 2)
    );
}
