//! Runs that take part in tokio's cooperative scheduling.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::task::coop;

/// Makes a run (or any future) respect the cooperative budget of the tokio task it runs in.
///
/// Each poll first asks tokio for a unit of the task's budget
/// ([`tokio::task::coop::poll_proceed`]): when the budget is spent, the run yields to the
/// scheduler without polling any node, and tokio wakes it when the task runs again. Otherwise
/// the run polls its ready nodes and the unit is spent, whether the run completed or not: a
/// poll of a run is work (it polled the nodes that were woken). This differs from
/// [`tokio::task::coop::cooperative`], which gives the unit back unless the future completes,
/// and so never charges a long run for its polls.
///
/// Inside the run, nodes that await tokio resources (timers, channels, sockets) charge the
/// budget themselves as usual; one poll of a run also polls at most `with_poll_budget` nodes
/// (128 by default) before it yields.
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
/// Outside a tokio runtime the budget is unlimited and the wrapper polls the run directly.
pub fn cooperative<F: Future>(run: F) -> Cooperative<F> {
    Cooperative { run }
}

pin_project! {
    /// Future for the [`cooperative`] function.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Cooperative<F> {
        #[pin]
        run: F,
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
        let unit = ready!(coop::poll_proceed(cx));
        let polled = self.project().run.poll(cx);
        unit.made_progress();
        polled
    }
}
