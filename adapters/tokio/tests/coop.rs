//! Runs that respect tokio's cooperative budget.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use dagfut::DagBuilder;

/// A future that is never ready and counts its polls.
struct Pending(usize);

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
    assert!((1..1000).contains(&polls), "{polls} polls");
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
