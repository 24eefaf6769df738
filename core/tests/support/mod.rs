//! Test support: a virtual clock and its executor, manual triggers, and drop counters.
#![allow(dead_code, unreachable_pub, missing_docs)] // each test file uses a part of it

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_test::task::new_count_waker;

/// A clock the test controls, in milliseconds. Time moves only when every task is waiting
/// on it: [`block_on`] then jumps to the next deadline.
#[derive(Clone, Default)]
pub struct Clock(Arc<Mutex<ClockState>>);

#[derive(Default)]
struct ClockState {
    now: u64,
    next_id: u64,
    /// (deadline, registration order, waker)
    timers: BinaryHeap<Reverse<(u64, u64, WakerEntry)>>,
}

struct WakerEntry(Waker);
impl PartialEq for WakerEntry {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for WakerEntry {}
impl PartialOrd for WakerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for WakerEntry {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Clock {
    pub fn now(&self) -> u64 {
        self.0.lock().unwrap().now
    }

    /// A future ready `ms` milliseconds from now.
    pub fn sleep(&self, ms: u64) -> Sleep {
        Sleep {
            clock: self.clone(),
            deadline: self.now() + ms,
        }
    }

    /// Jumps to the earliest deadline and wakes every timer due then, in the order they were
    /// registered. Returns false when no timer is pending.
    fn advance(&self) -> bool {
        let mut state = self.0.lock().unwrap();
        let Some(Reverse((deadline, _, _))) = state.timers.peek() else {
            return false;
        };
        state.now = state.now.max(*deadline);
        let now = state.now;
        let mut due = Vec::new();
        while let Some(Reverse((deadline, _, _))) = state.timers.peek() {
            if *deadline > now {
                break;
            }
            let Reverse((_, _, WakerEntry(waker))) = state.timers.pop().unwrap();
            due.push(waker);
        }
        drop(state);
        due.into_iter().for_each(Waker::wake);
        true
    }
}

pub struct Sleep {
    clock: Clock,
    deadline: u64,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.clock.0.lock().unwrap();
        if state.now >= self.deadline {
            return Poll::Ready(());
        }
        let id = state.next_id;
        state.next_id += 1;
        state
            .timers
            .push(Reverse((self.deadline, id, WakerEntry(cx.waker().clone()))));
        Poll::Pending
    }
}

/// Runs `future` to completion on the virtual clock: polls it while it is woken, and when it
/// waits with nothing woken, moves the clock to the next timer.
///
/// # Panics
/// If the future waits with no timer pending and nothing woken (a lost wake-up).
pub fn block_on<F: Future>(clock: &Clock, future: F) -> F::Output {
    let (waker, wakes) = new_count_waker();
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut seen = wakes.get();
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        if wakes.get() != seen {
            seen = wakes.get();
            continue;
        }
        assert!(
            clock.advance(),
            "the future is pending, nothing woke it and no timer is left: a lost wake-up"
        );
        seen = wakes.get();
    }
}

/// A log of (virtual time, event) lines.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<(u64, String)>>>);

impl Log {
    pub fn push(&self, at: u64, line: impl Into<String>) {
        self.0.lock().unwrap().push((at, line.into()));
    }

    pub fn lines(&self) -> Vec<(u64, String)> {
        self.0.lock().unwrap().clone()
    }
}

/// What the seed's node functions need: a clock to sleep on and a log to write to.
#[derive(Clone, Default)]
pub struct Env {
    pub clock: Clock,
    pub log: Log,
}

/// A future's gate opened by the test: counts how often the waiting futures are polled.
#[derive(Clone, Default)]
pub struct Trigger(Arc<TriggerState>);

#[derive(Default)]
pub struct TriggerState {
    open: Mutex<bool>,
    wakers: Mutex<Vec<Waker>>,
    polls: AtomicUsize,
}

impl Trigger {
    /// Waits until the trigger is fired. Each poll is counted.
    pub fn wait(&self) -> Wait<'_> {
        Wait(self)
    }

    /// Opens the gate and wakes every waiting future (from any thread).
    pub fn fire(&self) {
        *self.0.open.lock().unwrap() = true;
        self.wake();
    }

    /// Wakes the waiting futures without opening the gate (a spurious wake).
    pub fn wake(&self) {
        let wakers = std::mem::take(&mut *self.0.wakers.lock().unwrap());
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Wakes the stored wakers by reference, keeping them (a source that wakes repeatedly).
    pub fn wake_by_ref(&self) {
        self.0
            .wakers
            .lock()
            .unwrap()
            .iter()
            .for_each(Waker::wake_by_ref);
    }

    /// How many times futures waiting on this trigger were polled.
    pub fn polls(&self) -> usize {
        self.0.polls.load(Ordering::SeqCst)
    }

    /// How many wakers are stored.
    pub fn waiting(&self) -> usize {
        self.0.wakers.lock().unwrap().len()
    }

    /// A clone of the first stored waker, if any (to keep past the wake).
    pub fn first_waker(&self) -> Option<Waker> {
        self.0.wakers.lock().unwrap().first().cloned()
    }
}

pub struct Wait<'t>(&'t Trigger);

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let state = &(self.0).0;
        state.polls.fetch_add(1, Ordering::SeqCst);
        if *state.open.lock().unwrap() {
            return Poll::Ready(());
        }
        state.wakers.lock().unwrap().push(cx.waker().clone());
        Poll::Pending
    }
}

/// Counts drops of the values it hands out.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    pub fn token(&self) -> Token {
        Token(self.0.clone())
    }

    pub fn dropped(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Adds one to its counter when dropped.
pub struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A value whose `Drop` panics; its token is counted dropped all the same (a field is dropped
/// as the panic unwinds).
pub struct PanicsOnDrop(pub Token);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a drop that panics");
    }
}

/// A future that wakes itself and returns `Pending` once, then is ready.
#[derive(Default)]
pub struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Polls futures by hand with one counting waker, as an executor would.
pub struct Poller {
    waker: Waker,
    wakes: futures_test::task::AwokenCount,
}

impl Poller {
    pub fn new() -> Self {
        let (waker, wakes) = new_count_waker();
        Poller { waker, wakes }
    }

    pub fn poll<F: Future + Unpin>(&self, future: &mut F) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(&self.waker))
    }

    /// How many times the waker has been woken so far.
    pub fn wakes(&self) -> usize {
        self.wakes.get()
    }
}

/// A size scaled down under Miri, which is slow.
pub const fn scaled(full: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { full }
}

/// A flag and the waker of the node waiting for it: what [`wait_for`] waits on.
pub type Gate = Arc<Mutex<(bool, Option<Waker>)>>;

/// Opens `gate` and wakes (by value) the node parked there.
pub fn open(gate: &Gate) {
    let waker = {
        let mut gate = gate.lock().unwrap();
        gate.0 = true;
        gate.1.take().expect("the node parked")
    };
    waker.wake();
}

/// A DAG of one [`wait_for`] node per gate, each waiting for its own.
pub fn gated_dag(gates: &[Gate]) -> dagfut::Dag<()> {
    let b = dagfut::DagBuilder::<()>::new();
    for gate in gates {
        b.add_node(wait_for, b.add_constant(gate.clone()));
    }
    b.build()
}

/// A node that waits for `gate`'s flag, parking its waker there.
pub async fn wait_for(gate: &Gate) -> u32 {
    std::future::poll_fn(|cx| {
        let mut gate = gate.lock().unwrap();
        if gate.0 {
            return Poll::Ready(1);
        }
        gate.1 = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

/// A panic's message (its `&str` or `String` payload), or the empty string.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
