//! Node policies at the edges: local DAGs with capturing closures, fallback nodes that fail
//! too, optional inputs of skipped nodes, fail-fast runs whose failed node has an optional and
//! a hard dependent, timeouts of infallible functions, refused guarded nodes; and an outside
//! audit's cases of attempts that misbehave: panics in an attempt's poll or drop, a fallback
//! whose clone panics, a timer whose sleep panics, a timeout racing completion, many quick
//! retries, list and optional inputs lent to every attempt. (The timing suite, on a virtual
//! clock and every adapter's timer, is `tests/src/policy.rs`.)

mod support;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use dagfut::{Backoff, DagBuilder, DagError, LocalDagBuilder, NodeEvent, Observer, Timer};
use futures_executor::block_on;
use support::{DropCounter, Token};

/// A timer that counts polls, not time: a sleep of `n` ms ends at its `n + 1`th poll (it wakes
/// itself until then). Deterministic, and enough to race a timeout against work that never
/// ends.
#[derive(Clone, Copy, Debug)]
struct Polls;

struct PollSleep(u128);

impl Future for PollSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Timer for Polls {
    type Sleep = PollSleep;
    fn sleep(&self, duration: Duration) -> PollSleep {
        PollSleep(duration.as_millis())
    }
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn never(_: &u32) -> u32 {
    std::future::pending().await
}

async fn fail(_: &u32) -> Result<u32, String> {
    Err("down".to_string())
}

async fn inc(n: &u32) -> u32 {
    n + 1
}

async fn maybe(n: Option<&u32>) -> u32 {
    n.map_or(0, |n| n + 100)
}

#[test]
fn a_local_dag_retries_a_capturing_async_closure() {
    let calls = Rc::new(Cell::new(0));
    let b = LocalDagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(Polls);
    let counter = calls.clone();
    let flaky = b
        .named("flaky")
        .retry(3, Backoff::fixed(ms(2)))
        .add_try_node(
            async move |n: &u32| {
                counter.set(counter.get() + 1);
                if counter.get() < 3 {
                    Err(format!("attempt {}", counter.get()))
                } else {
                    Ok(n * 10)
                }
            },
            b.param(),
        );
    let dag = b.build();
    assert_eq!(block_on(dag.try_run(&4)).unwrap()[flaky], 40);
    assert_eq!(calls.get(), 3);
}

#[test]
fn a_timeout_makes_an_infallible_function_fail_with_timed_out() {
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(Polls);
    b.named("stuck").timeout(ms(3)).add_node(never, b.param());
    let dag = b.build();
    let error = block_on(dag.try_run(&0)).unwrap_err();
    assert!(matches!(error, DagError::TimedOut { attempts: 1, .. }));
    assert_eq!(
        error.to_string(),
        "node `stuck` (task #0) timed out after 3ms"
    );
    assert_eq!(error.attempts(), 1);
    assert!(error.error().is_none());
}

#[test]
fn a_fallback_node_that_fails_too_skips_the_merged_node() {
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(Polls);
    let other = b.named("other").add_try_node(fail, b.param());
    let merged = b.named("main").or_node(other).add_try_node(fail, b.param());
    let after = b.add_node(inc, merged);
    let dag = b.build();
    let settled = block_on(dag.run_settled(&0));
    assert!(settled.outputs.get(after).is_err());
    let names: Vec<_> = settled.errors.iter().map(|e| e.name().unwrap()).collect();
    assert_eq!(names, ["other", "main"]);
    // Fail-fast: `other`'s failure stops the run (the merge needs it).
    let error = block_on(dag.try_run(&0)).unwrap_err();
    assert_eq!(error.name(), Some("other"));
    assert_eq!(dag.task_name(2), Some("main | fallback"));
}

/// A guarded node whose fallback node, or whose input, belongs to another DAG is refused, and
/// leaves nothing behind: not the guarded task (checked before its fallback, it would run, and
/// fail, in every run, under no handle), nor its state.
#[test]
fn a_refused_guarded_node_leaves_nothing_behind() {
    async fn with_state(s: &u32, n: &u32) -> Result<u32, String> {
        Ok(s + n)
    }
    let other = DagBuilder::<u32>::new().with_error::<String>();
    let foreign = other.add_node(inc, other.param());
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(Polls);
    let is_foreign = |error| matches!(error, dagfut::BuildError::ForeignInput { .. });
    let refused = b
        .named("guarded")
        .or_node(foreign)
        .try_add_try_node(fail, b.param());
    assert!(is_foreign(refused.unwrap_err()));
    let refused = b
        .timeout(ms(5))
        .or_value(0)
        .try_add_try_node_with(1u32, with_state, foreign);
    assert!(is_foreign(refused.unwrap_err()));
    let refused = b
        .retry(1, Backoff::fixed(ms(1)))
        .or_node(foreign)
        .try_add_try_node_with(1u32, with_state, b.param());
    assert!(is_foreign(refused.unwrap_err()));
    assert_eq!(b.task_count(), 0, "a refused node was added");
    let ok = b.add_node(inc, b.param());
    let dag = b.build();
    assert_eq!(dag.constant_count(), 0, "a refused node's state was kept");
    assert_eq!(block_on(dag.try_run(&1)).unwrap()[ok], 2);
}

#[test]
fn an_optional_input_of_a_skipped_node_is_none() {
    let b = DagBuilder::<u32>::new().with_error::<String>();
    let failed = b.named("failed").add_try_node(fail, b.param());
    let skipped = b.named("skipped").add_node(inc, failed);
    let reads = b.named("reads").add_node(maybe, skipped.optional());
    let dag = b.build();
    let settled = block_on(dag.run_settled(&0));
    assert_eq!(settled.outputs[reads], 0);
    assert_eq!(settled.errors.len(), 1);
    assert_eq!(settled.outputs.failed(), [failed.id()]);
}

#[test]
fn fail_fast_stops_when_a_hard_dependent_needs_the_failed_node() {
    let b = DagBuilder::<u32>::new().with_error::<String>();
    let failed = b.named("failed").add_try_node(fail, b.param());
    b.named("tolerant").add_node(maybe, failed.optional());
    b.named("needs").add_node(inc, failed);
    let dag = b.build();
    assert_eq!(
        block_on(dag.try_run(&0)).unwrap_err().name(),
        Some("failed")
    );

    // Only optional dependents: the run goes on, and says what failed.
    let b = DagBuilder::<u32>::new().with_error::<String>();
    let failed = b.named("failed").add_try_node(fail, b.param());
    let one = b.add_node(maybe, failed.optional());
    let two = b.add_node(maybe, failed.optional());
    let dag = b.build();
    let out = block_on(dag.try_run(&0)).unwrap();
    assert_eq!((out[one], out[two]), (0, 0));
    assert_eq!(out.failed(), [failed.id()]);
}

#[test]
fn a_present_optional_input_is_some() {
    let b = DagBuilder::<u32>::new();
    let first = b.add_node(inc, b.param());
    let reads = b.add_node(maybe, first.optional());
    let dag = b.build();
    assert_eq!(block_on(dag.run(&1))[reads], 102);
}

/// Records every event of task 0.
#[derive(Default)]
struct Log(Vec<NodeEvent>);

impl Observer for Log {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        if task == 0 && !matches!(event, NodeEvent::Pending | NodeEvent::Woken) {
            self.0.push(event);
        }
    }
}

#[test]
fn many_immediate_retries_yield_so_no_event_is_lost() {
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(Polls);
    b.named("always")
        .retry(9, Backoff::none())
        .add_try_node(fail, b.param());
    let dag = b.build();
    let mut log = Log::default();
    let error = block_on(dag.try_run(&0).with_observer(&mut log)).unwrap_err();
    assert_eq!(error.attempts(), 10);
    let mut expected = vec![NodeEvent::Started];
    for attempt in 1..=10 {
        if attempt > 1 {
            expected.push(NodeEvent::Retrying { attempt });
        }
        expected.push(NodeEvent::AttemptFailed { attempt });
    }
    expected.push(NodeEvent::Failed);
    assert_eq!(log.0, expected);
}

/// Counts the drops of a node's attempts; the attempt number `panic_at` panics in its poll,
/// and the one numbered `bomb` hangs until its timeout drops it, and panics in its `Drop`.
struct Attempted {
    calls: std::sync::atomic::AtomicU32,
    drops: std::sync::Arc<std::sync::atomic::AtomicU32>,
    panic_at: u32,
    bomb: u32,
}

struct AttemptGuard {
    drops: std::sync::Arc<std::sync::atomic::AtomicU32>,
    bomb: bool,
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.bomb {
            panic!("an attempt's drop panicked");
        }
    }
}

async fn attempt(plan: &std::sync::Arc<Attempted>, _: &u32) -> Result<u32, String> {
    use std::sync::atomic::Ordering;
    let call = plan.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = AttemptGuard {
        drops: plan.drops.clone(),
        bomb: call == plan.bomb,
    };
    std::future::ready(()).await;
    if call == plan.bomb {
        // Never completes: the node's timeout drops it (its guard's drop then panics). A
        // future that completed would drop the guard as it returns, and a drop that panics
        // while a function returns leaks its return value (a known rustc limitation).
        std::future::pending::<()>().await;
    }
    if call == plan.panic_at {
        panic!("attempt {call} panicked");
    }
    Err(format!("attempt {call} failed"))
}

fn attempted(
    panic_at: u32,
    bomb: u32,
) -> (
    dagfut::Dag<u32, dagfut::Sendable, String>,
    std::sync::Arc<Attempted>,
) {
    let plan = std::sync::Arc::new(Attempted {
        calls: Default::default(),
        drops: Default::default(),
        panic_at,
        bomb,
    });
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(Polls);
    b.named("flaky")
        .timeout(ms(2))
        .retry(5, Backoff::fixed(ms(1)))
        .add_try_node_with(plan.clone(), attempt, b.param());
    (b.build(), plan)
}

#[test]
fn a_panicking_attempt_is_not_retried_and_every_attempt_drops_once() {
    use std::sync::atomic::Ordering;
    // Caught: the node fails with the panic after its second attempt; both attempts dropped.
    let (dag, plan) = attempted(2, 0);
    let error = block_on(dag.try_run(&0).catch_panics()).unwrap_err();
    assert!(matches!(error, DagError::Panicked { .. }), "{error:?}");
    assert_eq!(plan.calls.load(Ordering::SeqCst), 2);
    assert_eq!(plan.drops.load(Ordering::SeqCst), 2);
    // Not caught: the panic leaves the run's poll; dropping the run drops the rest once.
    let (dag, plan) = attempted(3, 0);
    let mut run = Box::pin(dag.run_settled(&0));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        block_on(run.as_mut());
    }));
    assert!(panicked.is_err());
    drop(run);
    assert_eq!(plan.calls.load(Ordering::SeqCst), 3);
    assert_eq!(plan.drops.load(Ordering::SeqCst), 3);
}

#[test]
fn an_attempt_whose_drop_panics_as_it_fails_is_dropped_once() {
    use std::sync::atomic::Ordering;
    // The first attempt times out and its drop (before the backoff) panics: caught, the node
    // fails with it, and nothing is dropped twice or started again.
    let (dag, plan) = attempted(0, 1);
    let error = block_on(dag.try_run(&0).catch_panics()).unwrap_err();
    assert!(matches!(error, DagError::Panicked { .. }), "{error:?}");
    assert_eq!(plan.calls.load(Ordering::SeqCst), 1);
    assert_eq!(plan.drops.load(Ordering::SeqCst), 1);
}

/// One attempt: holds a token; `Ready(Err)` at its first poll, then its drop panics (if
/// `panic_in_drop`) after reading its input.
struct Attempt<'a> {
    input: &'a String,
    _held: Token,
    panic_in_drop: bool,
}
impl Future for Attempt<'_> {
    type Output = Result<u32, String>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Err(format!("{} failed", self.input)))
    }
}
impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        assert_eq!(self.input, "in");
        if self.panic_in_drop {
            panic!("attempt drop");
        }
    }
}

#[test]
fn an_attempt_whose_drop_panics_is_dropped_once() {
    let tokens = DropCounter::default();
    let b = DagBuilder::<()>::new()
        .with_error::<String>()
        .with_timer(Polls);
    let t = b.add_constant(tokens.clone());
    let input = b.add_node(async |_: &()| String::from("in"), b.param());
    fn attempt<'a>(s: &'a String, t: &'a DropCounter) -> Attempt<'a> {
        Attempt {
            input: s,
            _held: t.token(),
            panic_in_drop: true,
        }
    }
    let n = b
        .retry(3, Backoff::fixed(ms(1)))
        .add_try_node(attempt, (input, t));
    let after = b.add_node(async |n: &u32| *n, n);
    let dag = b.build();
    let error = block_on(dag.try_run(&()).catch_panics()).unwrap_err();
    assert!(matches!(error, DagError::Panicked { .. }), "{error:?}");
    // One attempt was made; its token dropped exactly once.
    assert_eq!(tokens.dropped(), 1);
    let settled = block_on(dag.run_settled(&()).catch_panics());
    assert!(settled.outputs.get(after).is_err());
    assert_eq!(tokens.dropped(), 2);
}

#[test]
fn an_attempt_that_panics_in_poll_is_not_retried_and_dropped_once() {
    let tokens = DropCounter::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let b = DagBuilder::<()>::new()
        .with_error::<String>()
        .with_timer(Polls);
    let t = b.add_constant(tokens.clone());
    let c = b.add_constant(calls.clone());
    let n = b
        .timeout(ms(5))
        .retry(2, Backoff::none())
        .or_value(7u32)
        .add_try_node(
            async |t: &DropCounter, c: &Arc<AtomicUsize>| {
                let _held = t.token();
                if c.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err("first".to_string());
                }
                support::YieldNow::default().await;
                panic!("second attempt");
            },
            (t, c),
        );
    let dag = b.build();
    let settled = block_on(dag.run_settled(&()).catch_panics());
    assert!(settled.outputs.get(n).is_err());
    assert!(matches!(settled.errors[0], DagError::Panicked { .. }));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(tokens.dropped(), 2);
}

struct CloneBomb(#[allow(dead_code)] Token);
impl Clone for CloneBomb {
    fn clone(&self) -> Self {
        panic!("fallback clone");
    }
}

#[test]
fn a_fallback_whose_clone_panics() {
    let tokens = DropCounter::default();
    let b = DagBuilder::<()>::new()
        .with_error::<String>()
        .with_timer(Polls);
    let t = b.add_constant(tokens.clone());
    let n = b
        .retry(1, Backoff::none())
        .or_value(CloneBomb(tokens.token()))
        .add_try_node(
            async |t: &DropCounter| {
                let _held = t.token();
                Err::<CloneBomb, _>("no".to_string())
            },
            t,
        );
    let side = b.add_node(async |t: &DropCounter| t.token(), t);
    let dag = b.build();
    let settled = block_on(dag.run_settled(&()).catch_panics());
    assert!(settled.outputs.get(n).is_err());
    assert!(settled.outputs.get(side).is_ok());
    drop(settled);
    // Two attempts' tokens and `side`'s; the fallback's own token lives in the DAG.
    assert_eq!(tokens.dropped(), 3);
    drop(dag);
    assert_eq!(tokens.dropped(), 4);
}

/// Counts events by kind.
#[derive(Default)]
struct Events(Vec<(usize, NodeEvent)>);
impl Observer for Events {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        self.0.push((task, event));
    }
}

#[test]
fn many_quick_retries_report_every_event() {
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(Polls);
    let n = b
        .retry(20, Backoff::none())
        .add_try_node(async |_: &u32| Err::<u32, _>("no".to_string()), b.param());
    let dag = b.build();
    let mut events = Events::default();
    let error = block_on(dag.try_run(&0).with_observer(&mut events)).unwrap_err();
    assert!(
        matches!(error, DagError::Exhausted { attempts: 21, .. }),
        "{error:?}"
    );
    let failed = events
        .0
        .iter()
        .filter(|(_, e)| matches!(e, NodeEvent::AttemptFailed { .. }))
        .count();
    let retried = events
        .0
        .iter()
        .filter(|(_, e)| matches!(e, NodeEvent::Retrying { .. }))
        .count();
    assert_eq!((failed, retried), (21, 20));
    let _ = n;
}

#[test]
fn a_timeout_racing_completion_and_fallbacks_lend_lists_and_optionals() {
    // The work is ready at the same poll as the deadline: the work wins.
    struct ReadyAfter(u32, u32);
    impl Future for ReadyAfter {
        type Output = Result<u32, String>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            if self.0 == 0 {
                return Poll::Ready(Ok(self.1));
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    let b = DagBuilder::<u32>::new()
        .with_error::<String>()
        .with_timer(Polls);
    let bad = b.add_try_node(async |_: &u32| Err::<u32, _>("x".to_string()), b.param());
    let xs: Vec<_> = (0..3)
        .map(|_| b.add_node(async |p: &u32| p + 1, b.param()))
        .collect();
    fn race<'a>(xs: &'a [&'a u32], o: Option<&'a u32>, p: &'a u32) -> ReadyAfter {
        ReadyAfter(
            *p,
            xs.iter().copied().sum::<u32>() + o.copied().unwrap_or(100),
        )
    }
    let n = b
        .timeout(ms(3))
        .retry(2, Backoff::none())
        .or_value(0)
        .add_try_node(race, (xs, bad.optional(), b.param()));
    let dag = b.build();
    // 3 polls of work, deadline of 3 ms: the work is ready when the deadline would be.
    let out = block_on(dag.run_settled(&3));
    assert_eq!(out.outputs[n], 4 * 3 + 100);
    // 4 polls: every attempt times out, the fallback takes its place.
    let out = block_on(dag.run_settled(&4));
    assert_eq!(out.outputs[n], 0);
    assert!(
        out.errors
            .iter()
            .any(|e| matches!(e, DagError::TimedOut { attempts: 3, .. }))
    );
}

#[test]
fn a_timer_whose_sleep_panics_at_the_start() {
    #[derive(Clone)]
    struct Bad;
    impl Timer for Bad {
        type Sleep = std::future::Ready<()>;
        fn sleep(&self, _: Duration) -> Self::Sleep {
            panic!("no timer");
        }
    }
    let tokens = DropCounter::default();
    let b = DagBuilder::<()>::new()
        .with_error::<String>()
        .with_timer(Bad);
    let t = b.add_constant(tokens.clone());
    // The function is called (its future made) before the deadline's sleep: the future is
    // dropped during the unwind.
    b.timeout(ms(1)).add_node(
        async |t: &DropCounter| {
            let _held = t.token();
            1u32
        },
        t,
    );
    let held = b.add_node(async |t: &DropCounter| t.token(), t);
    let dag = b.build();
    let settled = block_on(dag.run_settled(&()).catch_panics());
    assert!(matches!(settled.errors[0], DagError::Panicked { .. }));
    assert!(settled.outputs.get(held).is_ok());
    drop(settled);
    assert_eq!(tokens.dropped(), 1);
}
