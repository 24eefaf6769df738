//! Runs that take part in tokio's cooperative scheduling.

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker, ready};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Wake;

use dagfut::marker::Flavor;
use dagfut::{DEFAULT_POLL_BUDGET, DagFuture, OwnedRun, SettledDagFuture, TryDagFuture};
use pin_project_lite::pin_project;
use tokio::task::coop;

/// How many node polls one poll of the run makes under [`cooperative`], each slice charged to
/// tokio's budget as a whole: a divisor of tokio's 128, small enough to overshoot little, large
/// enough that the relay costs little (measured on 20,000 trivial nodes: 17 % over a plain run,
/// where a slice of 1 costs 150 %).
const SLICE: usize = 16;

/// Makes a run take part in tokio's cooperative scheduling: **each node poll spends one unit
/// of the task's budget**, as each operation on a tokio resource does, and once the budget is
/// spent the run yields the way tokio resources do.
///
/// Tokio gives a task a budget of 128 units each time it polls it (tokio 1.x). A run under
/// `cooperative` polls its ready nodes 16 at a time, asking tokio for a unit before each slice
/// ([`tokio::task::coop::poll_proceed`]) and spending one per node the slice polled (a slice
/// that ends because no node is ready is charged one). When the budget is spent, the run stops
/// polling nodes and returns `Pending`, and tokio wakes it after the other ready tasks had
/// their turn, as after [`tokio::task::yield_now`]. So a run polls at most 128 nodes each time
/// its task is polled (up to a slice more if the task spent part of its budget elsewhere
/// first), and nodes that await tokio resources charge them to the same budget. The run's own
/// poll budget (`with_poll_budget`) is replaced: tokio's is the bound.
///
/// It takes the runs of a DAG, whose node polls per poll it can bound ([`PollBudget`]); for
/// another future, see [`tokio::task::coop::cooperative`].
///
/// Tokio wakes the tasks that yielded last first, so a task that yields in a loop with
/// `yield_now` beside a cooperative run sees two polls of the run (256 node polls) between some
/// of its own polls, and none between others: the run gets half the turns.
///
/// Without `cooperative`, a run yields after `with_poll_budget` node polls (128 by default) by
/// waking itself, which puts its task back in the run queue *ahead* of the tasks that yielded
/// with `yield_now`: on a current-thread runtime those wait until the scheduler checks its
/// timers and I/O, every 61 task polls (`event_interval`): 61 x 128 = 7,808 node polls. And a
/// large budget lets a single poll of the run take the whole graph.
///
/// Outside a tokio runtime, or inside [`tokio::task::unconstrained`], the budget is unlimited
/// and the run yields after 128 node polls by waking itself, as it does on its own.
///
/// # Examples
///
/// ```
/// use dagfut::DagBuilder;
///
/// async fn inc(n: &u32) -> u32 {
///     n + 1
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let b = DagBuilder::<u32>::new();
/// let x = b.add_node(inc, b.param());
/// let dag = b.build();
/// let out = dagfut_tokio::cooperative(dag.run(&1)).await;
/// assert_eq!(out[x], 2);
/// # });
/// ```
///
/// # Cost
///
/// The run is polled with a waker of the wrapper's, which notes the wakes that come while the
/// run is polled and passes the others on (one allocation per call, a lock per wake); each
/// slice costs a few atomic operations.
pub fn cooperative<R: PollBudget>(run: R) -> Cooperative<R> {
    let (run, slice) = run.cap_poll_budget(SLICE);
    let relay = Arc::new(Relay::default());
    Cooperative {
        run,
        slice: slice.max(1),
        waker: Waker::from(Arc::clone(&relay)),
        relay,
    }
}

/// A future that can bound the work one poll of it does: what [`cooperative`] needs to charge
/// tokio's budget for that work.
///
/// The runs of a DAG ([`DagFuture`], [`TryDagFuture`], [`SettledDagFuture`]) bound their
/// node polls (`with_poll_budget`); an [`OwnedRun`] keeps the default bound,
/// [`DEFAULT_POLL_BUDGET`] (its slices are 128 node polls), and is charged that many units
/// each time it uses all of it.
pub trait PollBudget: Future + Sized {
    /// This future, set to do at most `budget` units of work in one poll, and the bound it
    /// keeps: `budget`, or its own if it cannot change it.
    fn cap_poll_budget(self, budget: usize) -> (Self, usize);
}

impl<'a, P, K: Flavor, O: dagfut::Observer> PollBudget for DagFuture<'a, P, K, O> {
    fn cap_poll_budget(self, budget: usize) -> (Self, usize) {
        (self.with_poll_budget(budget), budget)
    }
}

impl<'a, P, K: Flavor, E, O: dagfut::Observer> PollBudget for TryDagFuture<'a, P, K, E, O> {
    fn cap_poll_budget(self, budget: usize) -> (Self, usize) {
        (self.with_poll_budget(budget), budget)
    }
}

impl<'a, P, K: Flavor, E, O: dagfut::Observer> PollBudget for SettledDagFuture<'a, P, K, E, O> {
    fn cap_poll_budget(self, budget: usize) -> (Self, usize) {
        (self.with_poll_budget(budget), budget)
    }
}

impl<P: 'static, K: Flavor, E> PollBudget for OwnedRun<DagFuture<'static, P, K>, P, K, E> {
    fn cap_poll_budget(self, _budget: usize) -> (Self, usize) {
        (self, DEFAULT_POLL_BUDGET)
    }
}

impl<P: 'static, K: Flavor, E> PollBudget for OwnedRun<TryDagFuture<'static, P, K, E>, P, K, E> {
    fn cap_poll_budget(self, _budget: usize) -> (Self, usize) {
        (self, DEFAULT_POLL_BUDGET)
    }
}

pin_project! {
    /// Future for the [`cooperative`] function.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Cooperative<F> {
        #[pin]
        run: F,
        // The most units of work one poll of `run` does.
        slice: usize,
        // The waker `run` is polled with: it tells whether `run` woke itself while polled.
        waker: Waker,
        relay: Arc<Relay>,
    }
}

impl<F> Cooperative<F> {
    /// The wrapped run.
    pub fn get_ref(&self) -> &F {
        &self.run
    }

    /// The wrapped run, unwrapped.
    pub fn into_inner(self) -> F {
        self.run
    }
}

impl<F: Future> Future for Cooperative<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        this.relay.follow(cx.waker());
        let mut run_cx = Context::from_waker(this.waker);
        let mut spent = 0;
        loop {
            // Spent: `poll_proceed` defers the task's wake until the other tasks ran.
            let unit = ready!(coop::poll_proceed(cx));
            if spent >= DEFAULT_POLL_BUDGET {
                // tokio's budget is unlimited here: yield as the run would on its own.
                drop(unit);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let polled = this
                .relay
                .poll_quietly(|| this.run.as_mut().poll(&mut run_cx));
            unit.made_progress();
            let Poll::Pending = polled else {
                return polled;
            };
            if !this.relay.take_wake() {
                // Nothing to poll until a node is woken: its wake reaches `cx`'s waker.
                return Poll::Pending;
            }
            // The run woke itself: it has more ready nodes, and polled a whole slice.
            for _ in 1..*this.slice {
                ready!(coop::poll_proceed(cx)).made_progress();
            }
            spent += *this.slice;
        }
    }
}

/// The run's waker: it passes wakes on to the task's, except while the run is being polled,
/// when it only notes them (the wrapper polls the run again if the budget allows, or yields).
#[derive(Debug, Default)]
struct Relay {
    polling: AtomicBool,
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Relay {
    /// Passes the next wakes on to `waker`.
    fn follow(&self, waker: &Waker) {
        let mut task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if !task.as_ref().is_some_and(|task| task.will_wake(waker)) {
            *task = Some(waker.clone());
        }
    }

    /// Runs `poll` with wakes noted, not passed on.
    fn poll_quietly<T>(&self, poll: impl FnOnce() -> T) -> T {
        /// Passes wakes on again when the poll ends, if it unwinds too.
        struct Loud<'a>(&'a AtomicBool);
        impl Drop for Loud<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        self.woken.store(false, Ordering::SeqCst);
        self.polling.store(true, Ordering::SeqCst);
        let _loud = Loud(&self.polling);
        poll()
    }

    /// Whether a wake came during the last `poll_quietly` (or since).
    fn take_wake(&self) -> bool {
        self.woken.swap(false, Ordering::SeqCst)
    }
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Noted before `polling` is read: a wake that finds the run being polled is seen by
        // `take_wake` after the poll (both orders are sequentially consistent).
        self.woken.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            let task = self
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(task) = task {
                task.wake();
            }
        }
    }
}
