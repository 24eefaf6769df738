//! Runs that respect tokio's cooperative budget.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use dagfut::DagBuilder;

/// A future that is never ready and counts its polls.
struct Pending(usize);

impl dagfut_tokio::PollBudget for Pending {
    fn cap_poll_budget(self, _budget: usize) -> (Self, usize) {
        (self, 1)
    }
}

impl Future for Pending {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.0 += 1;
        Poll::Pending
    }
}

#[tokio::test]
async fn the_wrapper_stops_polling_when_the_tasks_budget_is_spent() {
    let mut wrapped = Box::pin(dagfut_tokio::cooperative(Pending(0)));
    std::future::poll_fn(|cx| {
        // Polled over and over inside one poll of the task, as a busy `select!` loop would.
        for _ in 0..1000 {
            assert!(wrapped.as_mut().poll(cx).is_pending());
        }
        Poll::Ready(())
    })
    .await;
    // Tokio's budget (128 units a task poll today): each poll of the run charged one, and once
    // it was spent the wrapper yielded without polling the inner future.
    let polls = wrapped.as_ref().get_ref().get_ref().0;
    assert!((1..=TOKIO_BUDGET).contains(&polls), "{polls} polls");
    assert!(!tokio::task::coop::has_budget_remaining());
}

async fn inc(n: &u32) -> u32 {
    n + 1
}

#[tokio::test]
async fn a_cooperative_run_completes_and_then_yields_its_budget() {
    let b = DagBuilder::<u32>::new();
    let mut last = b.param();
    for _ in 0..1000 {
        last = b.add_node(inc, last);
    }
    let dag = b.build();
    // 1000 nodes at 128 node polls per run poll: 8 polls, each charged to the task's budget.
    let out = dagfut_tokio::cooperative(dag.run(&0)).await;
    assert_eq!(out[last], 1000);
}

#[test]
fn outside_a_runtime_the_budget_is_unlimited() {
    let b = DagBuilder::<u32>::new();
    let x = b.add_node(inc, b.param());
    let dag = b.build();
    let out = spin_on(dagfut_tokio::cooperative(dag.run(&1)));
    assert_eq!(out[x], 2);
}

/// A minimal `block_on` without tokio, so no runtime context exists.
fn spin_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Counts the node polls of a run: every node bumps it once.
async fn bump(polls: &Arc<AtomicUsize>) {
    polls.fetch_add(1, Ordering::Relaxed);
}

/// How the ticker task beside the run gives way.
#[derive(Clone, Copy, Debug)]
enum Ticker {
    /// `tokio::task::yield_now`: woken after the tasks in the run queue.
    YieldsNow,
    /// Wakes itself and returns `Pending`: back of the run queue.
    WakesItself,
}

/// How the run beside the ticker is made.
#[derive(Clone, Copy, Debug)]
enum Run {
    /// `dag.run(&())` with this poll budget.
    Plain(usize),
    /// `cooperative(dag.run(&()).with_poll_budget(..))` with this poll budget.
    Cooperative(usize),
    /// `cooperative(dag.run_owned(()))`.
    CooperativeOwned,
}

/// The most node polls between two wake-ups of a ticker task that gives way in a loop beside
/// a run of `nodes` ready nodes, on a current-thread runtime. Counted in node polls, not
/// milliseconds, so a busy machine changes nothing.
fn worst_gap(nodes: usize, run: Run, ticker: Ticker) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let polls = Arc::new(AtomicUsize::new(0));
        let b = DagBuilder::<()>::new();
        let counter = b.add_constant(Arc::clone(&polls));
        for _ in 0..nodes {
            b.add_node(bump, counter);
        }
        let dag = Arc::new(b.build());

        let seen = Arc::clone(&polls);
        let ticker = tokio::spawn(async move {
            let (mut last, mut worst) = (0, 0);
            loop {
                let now = seen.load(Ordering::Relaxed);
                worst = worst.max(now - last);
                last = now;
                if now == nodes {
                    return worst;
                }
                match ticker {
                    Ticker::YieldsNow => tokio::task::yield_now().await,
                    Ticker::WakesItself => wake_myself().await,
                }
            }
        });
        let run = tokio::spawn(async move {
            match run {
                Run::Plain(budget) => drop(dag.run(&()).with_poll_budget(budget).await),
                Run::Cooperative(budget) => {
                    let run = dag.run(&()).with_poll_budget(budget);
                    drop(dagfut_tokio::cooperative(run).await);
                }
                Run::CooperativeOwned => drop(dagfut_tokio::cooperative(dag.run_owned(())).await),
            }
        });
        run.await.unwrap();
        ticker.await.unwrap()
    })
}

/// Returns `Pending` once, having woken its task: a plain reschedule, not `yield_now`'s.
async fn wake_myself() {
    let mut woke = false;
    std::future::poll_fn(|cx| {
        if woke {
            return Poll::Ready(());
        }
        woke = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// tokio's budget: 128 units a task poll (tokio 1.x).
const TOKIO_BUDGET: usize = 128;

const NODES: usize = 10_000;

#[test]
fn a_cooperative_run_polls_at_most_128_nodes_per_poll_of_its_task() {
    for budget in [1, 16, 128, 10_000, usize::MAX] {
        let worst = worst_gap(NODES, Run::Cooperative(budget), Ticker::WakesItself);
        assert!(
            (1..=TOKIO_BUDGET).contains(&worst),
            "poll budget {budget}: {worst} node polls between two ticks"
        );
    }
    let worst = worst_gap(NODES, Run::CooperativeOwned, Ticker::WakesItself);
    assert!((1..=TOKIO_BUDGET).contains(&worst), "owned: {worst}");
}

#[test]
fn a_cooperative_run_lets_a_task_that_yields_run_every_two_of_its_polls() {
    // tokio wakes the tasks that yielded (the ticker, and the run once its budget is spent)
    // last first: their order flips each round, and the ticker sees 0 or 2 x 128 node polls.
    for budget in [1, 128, 10_000, usize::MAX] {
        let worst = worst_gap(NODES, Run::Cooperative(budget), Ticker::YieldsNow);
        assert!(
            (1..=2 * TOKIO_BUDGET).contains(&worst),
            "poll budget {budget}: {worst} node polls between two ticks"
        );
    }
}

#[test]
fn without_cooperative_a_run_holds_up_the_tasks_that_yield() {
    // A run that spent its poll budget wakes itself, ahead of the tasks that yielded: they
    // wait for the scheduler's maintenance, every 61 task polls (61 x 128 = 7,808).
    let worst = worst_gap(NODES, Run::Plain(128), Ticker::YieldsNow);
    assert!(worst > 2 * TOKIO_BUDGET, "{worst}");
    // And one poll of a run with a large budget polls the whole graph.
    assert_eq!(
        worst_gap(NODES, Run::Plain(NODES), Ticker::WakesItself),
        NODES
    );
}

async fn offloaded_inc(n: &u32) -> u32 {
    let n = *n;
    dagfut_tokio::offload_blocking(move || {
        std::thread::sleep(std::time::Duration::from_millis(1));
        n + 1
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooperative_run_is_woken_by_nodes_woken_on_other_threads() {
    let b = DagBuilder::<u32>::new();
    let mut last = b.param();
    for _ in 0..20 {
        last = b.add_node(offloaded_inc, last);
    }
    let dag = Arc::new(b.build());
    // Spawned: the wrapper is `Send`. Each node waits on the blocking pool, whose thread wakes
    // the run while it is not being polled: the wake goes through the wrapper to the task.
    let out = tokio::spawn(async move { dagfut_tokio::cooperative(dag.run(&0)).await[last] });
    assert_eq!(out.await.unwrap(), 20);
}
