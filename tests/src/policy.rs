//! The node-policy suite: timeouts, retries, optional inputs and fallbacks, run on any
//! executor with that executor's [`Timer`] and a [`Clock`] of the same time.
//!
//! Each check is an async function; each adapter's tests (and this crate's, on a virtual
//! clock) call every one of them. With `exact`, the clock is virtual (tokio's paused time,
//! [`crate::virtual_time`]) and the timings are checked to the millisecond; on a real clock
//! only what cannot depend on the machine's load is checked (outcomes, attempts, events, and
//! that no timer fired early).

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::Poll;
use core::time::Duration;

use dagfut::trace::{AttemptOutcome, Outcome, Recorder};
use dagfut::{Backoff, Clock, DagBuilder, DagError, NodeEvent, Observer, Timer};

/// Work that outlasts any timeout of the suite, however loaded the machine: a timeout always
/// wins the race against it.
pub const NEVER: Duration = Duration::from_secs(3600);

/// A millisecond duration.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A timer whose sleeps are `Send`, as a `Sendable` DAG needs.
pub trait SendTimer: Timer<Sleep: Send> + Send + Sync {}
impl<Tm: Timer<Sleep: Send> + Send + Sync> SendTimer for Tm {}

/// What each call of a node does, in order: how long it works, then what it returns. Counts
/// the calls, the attempts alive at once, and the attempts dropped.
pub struct Plan<Tm> {
    timer: Tm,
    steps: Vec<(Duration, Result<u32, &'static str>)>,
    calls: AtomicU32,
    live: AtomicU32,
    max_live: AtomicU32,
    drops: AtomicU32,
}

impl<Tm: SendTimer> Plan<Tm> {
    /// A node that makes these calls (more calls repeat the last step).
    pub fn new(timer: &Tm, steps: &[(Duration, Result<u32, &'static str>)]) -> Arc<Self> {
        Arc::new(Plan {
            timer: timer.clone(),
            steps: steps.to_vec(),
            calls: AtomicU32::new(0),
            live: AtomicU32::new(0),
            max_live: AtomicU32::new(0),
            drops: AtomicU32::new(0),
        })
    }

    /// How many times the node's function was called.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// How many of its futures were dropped (each exactly once: `drops == calls` at the end).
    pub fn drops(&self) -> u32 {
        self.drops.load(Ordering::SeqCst)
    }

    /// The most attempts alive at once.
    pub fn max_live(&self) -> u32 {
        self.max_live.load(Ordering::SeqCst)
    }
}

impl<Tm> core::fmt::Debug for Plan<Tm> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plan")
            .field("calls", &self.calls)
            .field("drops", &self.drops)
            .field("max_live", &self.max_live)
            .finish_non_exhaustive()
    }
}

/// Counts an attempt alive while it exists, and its drop.
struct Alive<'p, Tm>(&'p Plan<Tm>);

impl<Tm> Drop for Alive<'_, Tm> {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        self.0.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// The node function of a [`Plan`]: its next step.
pub async fn step<Tm: SendTimer>(plan: &Arc<Plan<Tm>>, _input: &u32) -> Result<u32, String> {
    let call = plan.calls.fetch_add(1, Ordering::SeqCst) as usize;
    let live = plan.live.fetch_add(1, Ordering::SeqCst) + 1;
    plan.max_live.fetch_max(live, Ordering::SeqCst);
    let _alive = Alive(plan);
    let (work, result) = plan.steps[call.min(plan.steps.len() - 1)];
    plan.timer.sleep(work).await;
    result.map_err(ToOwned::to_owned)
}

/// Infallible work of `delay` that returns its input plus one.
pub async fn work<Tm: SendTimer>(timer: &Tm, delay: &Duration, input: &u32) -> u32 {
    timer.sleep(*delay).await;
    input + 1
}

/// The product page: the product, and the recommendations if there are some.
pub async fn page(product: &u32, recs: Option<&u32>) -> String {
    match recs {
        Some(recs) => alloc::format!("product {product} with {recs} recommendations"),
        None => alloc::format!("product {product}"),
    }
}

/// The sum of three inputs.
pub async fn sum3(a: &u32, b: &u32, c: &u32) -> u32 {
    a + b + c
}

/// A plan's next step, its error read as 0: an infallible node function.
pub async fn step_or_zero<Tm: SendTimer>(plan: &Arc<Plan<Tm>>, input: &u32) -> u32 {
    step(plan, input).await.unwrap_or(0)
}

/// The events of one task, in order.
#[derive(Debug, Default)]
pub struct Events {
    task: usize,
    /// What the task saw, without `Pending` and `Woken`.
    pub seen: Vec<NodeEvent>,
}

impl Events {
    /// Watches `task`.
    pub fn of(task: usize) -> Self {
        Events {
            task,
            seen: Vec::new(),
        }
    }
}

impl Observer for Events {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        if task == self.task && !matches!(event, NodeEvent::Pending | NodeEvent::Woken) {
            self.seen.push(event);
        }
    }
}

/// Both observers.
struct Both<'a, A, B>(&'a mut A, &'a mut B);

impl<A: Observer, B: Observer> Observer for Both<'_, A, B> {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        self.0.on_event(task, event);
        self.1.on_event(task, event);
    }
    fn on_poll_start(&mut self) {
        self.0.on_poll_start();
        self.1.on_poll_start();
    }
    fn on_poll_end(&mut self, ready: bool) {
        self.0.on_poll_end(ready);
        self.1.on_poll_end(ready);
    }
}

/// Checks a time: exactly `expected` on a virtual clock, at least `expected` on a real one (a
/// timer never fires early; how late it fires depends on the machine).
fn at(actual: Duration, expected: Duration, exact: bool, what: &str) {
    if exact {
        assert_eq!(actual, expected, "{what}");
    } else {
        assert!(actual >= expected, "{what}: {actual:?} < {expected:?}");
    }
}

/// A node that times out at 50 ms and succeeds on its second attempt finishes at
/// 50 ms + backoff (10 ms) + its own time (20 ms); its dependent starts then. The observer sees
/// the timeout and the retry; the trace draws both attempts.
pub async fn timeout_then_retry<Tm: SendTimer, C: Clock>(timer: Tm, clock: C, exact: bool) {
    let plan = Plan::new(&timer, &[(NEVER, Ok(1)), (ms(20), Ok(2))]);
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(timer.clone());
    let recs = b
        .named("recs")
        .timeout(ms(50))
        .retry(2, Backoff::fixed(ms(10)))
        .add_try_node_with(plan.clone(), step::<Tm>, b.param());
    let after =
        b.named("after")
            .add_node_with(timer.clone(), work::<Tm>, (b.add_constant(ms(0)), recs));
    let dag = b.build();
    let mut recorder = Recorder::new(&dag, clock);
    let mut events = Events::of(0);
    let out = dag
        .try_run(&0)
        .with_observer(Both(&mut recorder, &mut events))
        .await
        .unwrap();
    assert_eq!((out[recs], out[after]), (2, 3));
    assert!(out.failed().is_empty());
    assert_eq!(
        events.seen,
        [
            NodeEvent::Started,
            NodeEvent::TimedOut { attempt: 1 },
            NodeEvent::Retrying { attempt: 2 },
            NodeEvent::Completed,
        ]
    );
    let trace = recorder.trace();
    let origin = trace.started.unwrap();
    let span = &trace.spans[0];
    at(span.end.unwrap() - origin, ms(80), exact, "recs ends");
    at(
        trace.spans[1].start.unwrap() - origin,
        ms(80),
        exact,
        "its dependent starts",
    );
    let attempts: Vec<_> = span
        .attempts
        .iter()
        .map(|attempt| (attempt.number, attempt.outcome))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, AttemptOutcome::TimedOut),
            (2, AttemptOutcome::Completed)
        ]
    );
    at(
        span.attempts[0].end.unwrap() - origin,
        ms(50),
        exact,
        "attempt 1 times out",
    );
    at(
        span.attempts[1].start - origin,
        ms(60),
        exact,
        "attempt 2 starts after the backoff",
    );
    assert_eq!((plan.calls(), plan.drops(), plan.max_live()), (2, 2, 1));
}

/// A page whose optional input (the recommendations) times out is still produced, under
/// `try_run` and `run_settled`, and the failure is recorded.
pub async fn optional_input_fails<Tm: SendTimer, C: Clock>(timer: Tm, clock: C, exact: bool) {
    let plan = Plan::new(&timer, &[(NEVER, Ok(5))]);
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(timer.clone());
    let product = b.named("product").add_node_with(
        timer.clone(),
        work::<Tm>,
        (b.add_constant(ms(30)), b.param()),
    );
    let recs =
        b.named("recs")
            .timeout(ms(50))
            .add_try_node_with(plan.clone(), step::<Tm>, b.param());
    let page = b.named("page").add_node(page, (product, recs.optional()));
    let dag = b.build();

    let mut recorder = Recorder::new(&dag, clock);
    let out = dag.try_run(&7).with_observer(&mut recorder).await.unwrap();
    assert_eq!(out[page], "product 8");
    assert_eq!(out.failed(), [recs.id()]);
    assert!(out.get(recs).is_err());
    let trace = recorder.trace();
    let origin = trace.started.unwrap();
    assert_eq!(trace.spans[1].outcome, Outcome::Failed);
    assert_eq!(trace.spans[2].outcome, Outcome::Completed);
    at(
        trace.spans[2].start.unwrap() - origin,
        ms(50),
        exact,
        "the page starts when recs times out",
    );

    let settled = dag.run_settled(&7).await;
    assert_eq!(settled.outputs[page], "product 8");
    assert_eq!(settled.errors.len(), 1);
    let error = &settled.errors[0];
    assert!(error.is_timeout());
    assert_eq!(error.name(), Some("recs"));
    assert_eq!(
        error.to_string(),
        "node `recs` (task #1) timed out after 50ms"
    );
    assert_eq!((plan.calls(), plan.drops(), plan.max_live()), (2, 2, 1));
}

/// After the last retry the error says how many attempts were made, and the timings add up:
/// 5 ms of work, then 10, 20 ms of exponential backoff between the three attempts.
pub async fn retries_run_out<Tm: SendTimer, C: Clock>(timer: Tm, clock: C, exact: bool) {
    let plan = Plan::new(&timer, &[(ms(5), Err("down"))]);
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(timer.clone());
    b.named("recs")
        .retry(2, Backoff::exponential(ms(10)))
        .add_try_node_with(plan.clone(), step::<Tm>, b.param());
    let dag = b.build();
    let mut events = Events::of(0);
    let started = clock.now();
    let error = dag
        .try_run(&0)
        .with_observer(&mut events)
        .await
        .unwrap_err();
    at(clock.now() - started, ms(45), exact, "the run fails");
    assert_eq!(
        error.to_string(),
        "node `recs` (task #0) failed after 3 attempts: down"
    );
    assert_eq!(error.attempts(), 3);
    assert!(matches!(error, DagError::Exhausted { attempts: 3, .. }));
    assert_eq!(
        events.seen,
        [
            NodeEvent::Started,
            NodeEvent::AttemptFailed { attempt: 1 },
            NodeEvent::Retrying { attempt: 2 },
            NodeEvent::AttemptFailed { attempt: 2 },
            NodeEvent::Retrying { attempt: 3 },
            NodeEvent::AttemptFailed { attempt: 3 },
            NodeEvent::Failed,
        ]
    );
    assert_eq!((plan.calls(), plan.drops(), plan.max_live()), (3, 3, 1));

    // The last attempt timing out: the error says so, and on which attempt.
    let slow = Plan::new(&timer, &[(NEVER, Ok(1))]);
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(timer.clone());
    b.named("slow")
        .timeout(ms(20))
        .retry(1, Backoff::none())
        .add_try_node_with(slow.clone(), step::<Tm>, b.param());
    let dag = b.build();
    let started = clock.now();
    let error = dag.try_run(&0).await.unwrap_err();
    at(clock.now() - started, ms(40), exact, "two timeouts");
    assert_eq!(
        error.to_string(),
        "node `slow` (task #0) timed out after 20ms on attempt 2 of 2"
    );
    assert_eq!((slow.calls(), slow.drops(), slow.max_live()), (2, 2, 1));
}

/// Fallbacks: a value, or another node's value, takes a failed node's place; its dependents
/// run, and the failure is recorded.
pub async fn fallbacks<Tm: SendTimer, C: Clock>(timer: Tm, _clock: C, _exact: bool) {
    let failing = Plan::new(&timer, &[(ms(5), Err("down"))]);
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(timer.clone());
    let by_value =
        b.named("by_value")
            .or_value(40)
            .add_try_node_with(failing.clone(), step::<Tm>, b.param());
    let cached = b.named("cached").add_node_with(
        timer.clone(),
        work::<Tm>,
        (b.add_constant(ms(1)), b.param()),
    );
    let by_node = b
        .named("by_node")
        .timeout(ms(50))
        .or_node(cached)
        .add_try_node_with(failing.clone(), step::<Tm>, b.param());
    let working = Plan::new(&timer, &[(ms(5), Ok(9))]);
    let kept = b
        .named("kept")
        .or_node(cached)
        .add_try_node_with(working, step::<Tm>, b.param());
    let sum = b.add_node(sum3, (by_value, by_node, kept));
    let dag = b.build();
    let mut events = Events::of(0);
    let out = dag.try_run(&1).with_observer(&mut events).await.unwrap();
    assert_eq!((out[by_value], out[by_node], out[kept]), (40, 2, 9));
    assert_eq!(out[sum], 51);
    assert_eq!(out.failed().len(), 2);
    assert_eq!(
        events.seen,
        [
            NodeEvent::Started,
            NodeEvent::AttemptFailed { attempt: 1 },
            NodeEvent::FellBack,
            NodeEvent::Completed,
        ]
    );
    let settled = dag.run_settled(&1).await;
    assert_eq!(settled.outputs[sum], 51);
    let names: Vec<_> = settled
        .errors
        .iter()
        .map(|e| e.name().unwrap().to_string())
        .collect();
    assert!(names.contains(&"by_value".to_string()) && names.contains(&"by_node".to_string()));
    assert_eq!(failing.drops(), failing.calls());
}

/// Dropping a run while a node sleeps its backoff drops everything once: the attempt that
/// failed was dropped before the backoff, the running sibling and the completed output now.
pub async fn drop_during_backoff<Tm: SendTimer, C: Clock>(timer: Tm, _clock: C, exact: bool) {
    let flaky = Plan::new(&timer, &[(NEVER, Ok(1))]);
    let sibling = Plan::new(&timer, &[(NEVER, Ok(1))]);
    let done = Plan::new(&timer, &[(ms(1), Ok(1))]);
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(timer.clone());
    b.named("flaky")
        .timeout(ms(50))
        .retry(1, Backoff::fixed(ms(100)))
        .add_try_node_with(flaky.clone(), step::<Tm>, b.param());
    b.add_try_node_with(sibling.clone(), step::<Tm>, b.param());
    b.add_try_node_with(done.clone(), step::<Tm>, b.param());
    let dag = b.build();
    let mut events = Events::of(0);
    {
        // At 80 ms: `flaky` timed out at 50 and sleeps its backoff until 150.
        let stopped = first_of(
            dag.try_run(&0).with_observer(&mut events),
            timer.sleep(ms(80)),
        )
        .await;
        assert!(stopped.is_none(), "the run ended before it was dropped");
    }
    for plan in [&flaky, &sibling, &done] {
        assert_eq!(plan.drops(), plan.calls());
        assert_eq!(plan.max_live(), 1);
    }
    // On a real clock a stalled machine may reach the drop only after the backoff ended (a
    // second attempt started, and was dropped as well); on a virtual one, never.
    if exact {
        assert_eq!(
            events.seen,
            [NodeEvent::Started, NodeEvent::TimedOut { attempt: 1 }]
        );
        for plan in [&flaky, &sibling, &done] {
            assert_eq!(plan.calls(), 1);
        }
    }
}

/// The output of `work` if it completes before `deadline`; `deadline` then drops `work`.
pub async fn first_of<W: Future, D: Future>(work: W, deadline: D) -> Option<W::Output> {
    let (mut work, mut deadline) = (pin!(work), pin!(deadline));
    core::future::poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        deadline.as_mut().poll(cx).map(|_| None)
    })
    .await
}

/// A DAG that may time out refuses `run` and `run_owned` alike, as they are called (not
/// when a timeout fires), with a message that names the fix: the message.
pub fn run_refuses_timeouts<Tm: SendTimer>(timer: Tm) -> String {
    let plan = Plan::new(&timer, &[(ms(1), Ok(1))]);
    let b = DagBuilder::<u32>::new().with_timer(timer.clone());
    b.named("timed")
        .timeout(ms(5))
        .add_node_with(plan, step_or_zero::<Tm>, b.param());
    let dag = Arc::new(b.build());
    let refusal = |call: &dyn Fn()| {
        let message = std::panic::catch_unwind(core::panic::AssertUnwindSafe(call)).unwrap_err();
        message
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| message.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    };
    let borrowed = refusal(&|| drop(dag.run(&0)));
    let owned = refusal(&|| drop(dag.run_owned(0)));
    assert_eq!(borrowed, owned, "run and run_owned refuse timeouts alike");
    borrowed
}

/// Every check of the suite, in turn.
pub async fn all<Tm: SendTimer, C: Clock + Clone>(timer: Tm, clock: C, exact: bool) {
    timeout_then_retry(timer.clone(), clock.clone(), exact).await;
    optional_input_fails(timer.clone(), clock.clone(), exact).await;
    retries_run_out(timer.clone(), clock.clone(), exact).await;
    fallbacks(timer.clone(), clock.clone(), exact).await;
    drop_during_backoff(timer.clone(), clock, exact).await;
    let message = run_refuses_timeouts(timer);
    assert!(message.contains("try_run"), "{message}");
}
