//! The `tracing` feature: a span per node inside a span for the run, entered around each poll
//! of that node (never for a stale wake), with the node's name, index and DAG id as fields.
//!
//! ```text
//! cargo test -p dagfut --features tracing --test tracing
//! ```

#![cfg(feature = "tracing")]

mod support;

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use dagfut::DagBuilder;
use support::{Poller, Trigger, YieldNow};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What the subscriber saw of one span.
#[derive(Debug, Default, Clone)]
struct Seen {
    name: &'static str,
    fields: HashMap<String, String>,
    parent: Option<u64>,
    entered: usize,
    /// The handles of the span still open (0: closed).
    handles: usize,
}

/// Records every span: its name, fields, explicit parent, how often it was entered, and
/// whether it is still open.
#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<HashMap<u64, Seen>>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut seen = Seen {
            name: span.metadata().name(),
            parent: span.parent().map(Id::into_u64),
            handles: 1,
            ..Seen::default()
        };
        span.record(&mut Fields(&mut seen.fields));
        self.spans.lock().unwrap().insert(id, seen);
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, span: &Id) {
        self.spans
            .lock()
            .unwrap()
            .get_mut(&span.into_u64())
            .unwrap()
            .entered += 1;
    }
    fn exit(&self, _: &Id) {}
    fn clone_span(&self, span: &Id) -> Id {
        let mut spans = self.spans.lock().unwrap();
        spans.get_mut(&span.into_u64()).unwrap().handles += 1;
        span.clone()
    }
    fn try_close(&self, span: Id) -> bool {
        let mut spans = self.spans.lock().unwrap();
        let seen = spans.get_mut(&span.into_u64()).unwrap();
        seen.handles -= 1;
        seen.handles == 0
    }
}

async fn inc(n: &u32) -> u32 {
    YieldNow::default().await;
    n + 1
}

async fn wait(trigger: &Trigger, n: &u32) -> u32 {
    trigger.wait().await;
    *n
}

/// The tests of this file, one at a time: `tracing` caches each callsite's interest when the
/// callsite is first hit, and while one dispatcher exists it asks the hitting thread's own
/// default. A run on another test's thread, with no subscriber, could hit the node span's
/// callsite first and cache "never" for every thread (seen once in CI: no node span recorded).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn a_span_per_node_inside_the_runs_entered_once_per_poll() {
    let _one = one_at_a_time();
    let recorder = Recorder::default();
    let trigger = Trigger::default();
    let b = DagBuilder::<u32>::new();
    let first = b.named("first").add_node(inc, b.param());
    let second = b.add_node(wait, (b.add_constant(trigger.clone()), first));
    // Wakes itself and completes in the same poll: its stale wake must not re-enter its span.
    let quick = b.named("quick").add_node(
        |n: &u32| {
            let n = *n;
            poll_fn(move |cx| {
                cx.waker().wake_by_ref();
                Poll::Ready(n)
            })
        },
        b.param(),
    );
    let dag = b.build();
    let out = tracing::subscriber::with_default(recorder.clone(), || {
        // Interest cached from another thread's default (none) is asked again, of ours.
        tracing::callsite::rebuild_interest_cache();
        let poller = Poller::new();
        let mut run = dag.run(&1);
        loop {
            if let Poll::Ready(out) = poller.poll(&mut run) {
                break out;
            }
            if trigger.waiting() > 0 {
                trigger.fire();
            }
        }
    });
    assert_eq!((out[first], out[second], out[quick]), (2, 2, 1));

    let spans = recorder.spans.lock().unwrap();
    // A completed run closed its span and every node's (its outputs are still alive).
    for seen in spans.values() {
        assert_eq!(seen.handles, 0, "{} still open after the run", seen.name);
    }
    let runs: Vec<_> = spans
        .iter()
        .filter(|(_, s)| s.name == "dagfut.run")
        .collect();
    assert_eq!(runs.len(), 1);
    let (&run_id, run) = runs[0];
    assert_eq!(run.fields["tasks"], "3");
    let dag_id = run.fields["dag"].clone();
    let mut nodes: Vec<_> = spans.values().filter(|s| s.name == "dagfut.node").collect();
    nodes.sort_by_key(|s| s.fields["task"].clone());
    assert_eq!(nodes.len(), 3, "one span per node");
    let names: Vec<_> = nodes.iter().map(|s| s.fields["name"].as_str()).collect();
    assert_eq!(names, ["first", "", "quick"]);
    for node in &nodes {
        assert_eq!(node.parent, Some(run_id), "inside the run's span");
        assert_eq!(node.fields["dag"], dag_id);
    }
    // `first` pends once (2 polls), `second` waits for the trigger (2 polls), `quick` is
    // polled once: its own wake after `Ready` is stale.
    let entered: Vec<_> = nodes.iter().map(|s| s.entered).collect();
    assert_eq!(entered, [2, 2, 1]);
}

#[test]
fn without_a_subscriber_nothing_is_recorded_and_the_run_is_the_same() {
    let _one = one_at_a_time();
    let b = DagBuilder::<u32>::new();
    let x = b.add_node(inc, b.param());
    let dag = b.build();
    assert_eq!(futures_executor::block_on(dag.run(&41))[x], 42);
}
