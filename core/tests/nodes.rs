//! Nodes as users write them: functions with state in both flavours, async closures that
//! capture, lists mixed with other inputs, every fallible form of the builder, and runs whose
//! outputs leave the task that ran them.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use dagfut::{BuildError, DagBuilder, DagError, LocalDagBuilder, OutputError};
use support::{DropCounter, Poller, Token, Trigger};

struct Client {
    base_url: String,
    calls: std::sync::atomic::AtomicUsize,
}

impl Client {
    async fn get(&self, id: u64) -> String {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("{}/{id}", self.base_url)
    }
}

fn client() -> Arc<Client> {
    Arc::new(Client {
        base_url: "svc".into(),
        calls: 0.into(),
    })
}

async fn fetch(client: &Arc<Client>, id: &u64) -> String {
    client.get(*id).await
}

async fn fetch_offset(client: &Arc<Client>, id: &u64, offset: &u64) -> String {
    client.get(id + offset).await
}

#[test]
fn a_sendable_node_gets_state_as_its_first_argument_and_the_run_stays_send() {
    let client = client();
    let b = DagBuilder::<u64>::new();
    let one = b.add_node_with(client.clone(), fetch, b.param());
    let two = b.add_node_with(client.clone(), fetch_offset, (b.param(), b.add_constant(1)));
    let named = b.named("third").add_node_with(
        client.clone(),
        fetch_offset,
        (b.param(), b.add_constant(2)),
    );
    let dag = b.build();
    let param = 10;
    let run = dag.run(&param);
    // A run of a `Sendable` DAG with stateful nodes can move to another thread.
    let out = std::thread::scope(|scope| {
        scope
            .spawn(move || futures_executor::block_on(run))
            .join()
            .unwrap()
    });
    assert_eq!((&out[one][..], &out[two][..]), ("svc/10", "svc/11"));
    assert_eq!(out[named], "svc/12");
    assert_eq!(dag.node_name(named.id()), Some("third"));
    assert_eq!(client.calls.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[test]
fn a_closure_that_copies_its_inputs_out_before_async_move_is_a_sendable_node() {
    let client = client();
    let b = DagBuilder::<u64>::new();
    let c = client.clone();
    let got = b.add_node(
        move |id: &u64| {
            let (client, id) = (c.clone(), *id);
            async move { client.get(id).await }
        },
        b.param(),
    );
    let dag = b.build();
    assert_eq!(futures_executor::block_on(dag.run(&4))[got], "svc/4");
}

#[test]
fn local_nodes_are_async_closures_that_capture_state() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let counter = Rc::new(Cell::new(0u32));
    let b = LocalDagBuilder::<u32>::new();
    let (log, count) = (seen.clone(), counter.clone());
    let first = b.add_node(
        async move |n: &u32| {
            log.borrow_mut().push(format!("first {n}"));
            count.set(count.get() + 1);
            n + 1
        },
        b.param(),
    );
    let log = seen.clone();
    let second = b.add_node(
        async move |a: &u32, b: &u32| {
            support::YieldNow::default().await;
            log.borrow_mut().push(format!("second {a} {b}"));
            a * b
        },
        (first, b.param()),
    );
    let dag = b.build();
    let out = futures_executor::block_on(dag.run(&3));
    assert_eq!((out[first], out[second]), (4, 12));
    drop(out);
    let again = futures_executor::block_on(dag.run(&5));
    assert_eq!(again[second], 30);
    assert_eq!(counter.get(), 2, "the closure's state lives across runs");
    assert_eq!(
        *seen.borrow(),
        ["first 3", "second 4 3", "first 5", "second 6 5"]
    );
}

#[test]
fn local_fallible_closures_and_state() {
    let limit = Rc::new(10u32);
    let b = LocalDagBuilder::<u32>::new().with_error::<String>();
    let l = limit.clone();
    let checked = b.named("check").add_try_node(
        async move |n: &u32| {
            if *n > *l {
                Err(format!("{n} is over {l}"))
            } else {
                Ok(*n)
            }
        },
        b.param(),
    );
    async fn scaled(factor: &Rc<u32>, n: &u32) -> Result<u32, String> {
        Ok(**factor * n)
    }
    let out = b.add_try_node_with(Rc::new(3u32), scaled, checked);
    let dag = b.build();
    assert_eq!(
        futures_executor::block_on(dag.try_run(&4)).unwrap()[out],
        12
    );
    let error = futures_executor::block_on(dag.try_run(&11)).unwrap_err();
    assert_eq!(error.name(), Some("check"));
    assert!(matches!(error, DagError::Failed { error, .. } if error == "11 is over 10"));
}

async fn summary(label: &&'static str, first: &[&u32], second: &[&String], last: &u32) -> String {
    let numbers: Vec<String> = first.iter().map(|n| n.to_string()).collect();
    format!(
        "{label}: [{}] [{}] {last}",
        numbers.join(","),
        second
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    )
}

async fn plus(n: &u32, k: &u32) -> u32 {
    n + k
}

async fn show(n: &u32) -> String {
    format!("<{n}>")
}

#[test]
fn lists_mix_with_other_inputs_and_with_each_other() {
    let b = DagBuilder::<u32>::new();
    let numbers: Vec<_> = (0..3)
        .map(|k| b.add_node(plus, (b.param(), b.add_constant(k))))
        .collect();
    let texts = [b.add_node(show, numbers[2]), b.add_node(show, numbers[0])];
    let last = b.add_node(plus, (numbers[1], numbers[1]));
    let out_node = b.add_node(summary, (b.add_constant("sum"), &numbers[..], texts, last));
    let empty = b.add_node(
        summary,
        (b.add_constant("none"), Vec::new(), Vec::new(), b.param()),
    );
    let dag = b.build();
    // Task-to-task edges: texts 2, last 2 (the same input twice), the summary 3 + 2 + 1.
    assert_eq!(dag.edge_count(), 2 + 2 + 6);
    let out = futures_executor::block_on(dag.run(&10));
    assert_eq!(out[out_node], "sum: [10,11,12] [<12>,<10>] 22");
    assert_eq!(out[empty], "none: [] [] 10");
}

#[test]
fn a_node_starts_when_the_last_of_its_list_inputs_completes() {
    async fn wait(trigger: &Trigger, n: &u32) -> u32 {
        trigger.wait().await;
        *n
    }
    async fn count(state: &u32, parts: &[&u32], extra: &u32) -> u32 {
        state + parts.iter().copied().sum::<u32>() + extra
    }
    let triggers = [Trigger::default(), Trigger::default()];
    let b = DagBuilder::<u32>::new();
    let parts: Vec<_> = triggers
        .iter()
        .map(|t| b.add_node(wait, (b.add_constant(t.clone()), b.param())))
        .collect();
    let total = b.add_node_with(100u32, count, (parts, b.param()));
    let dag = b.build();
    let poller = Poller::new();
    let mut run = dag.run(&1);
    assert!(poller.poll(&mut run).is_pending());
    triggers[1].fire();
    assert!(poller.poll(&mut run).is_pending());
    triggers[0].fire();
    let std::task::Poll::Ready(out) = poller.poll(&mut run) else {
        panic!("the run should complete once both list inputs are done");
    };
    assert_eq!(out[total], 103);
}

#[test]
fn a_foreign_handle_in_a_mixed_input_names_its_flattened_position() {
    let other = DagBuilder::<u32>::new();
    let b = DagBuilder::<u32>::new();
    let mine = b.add_node(show, b.param());
    let error = b
        .try_add_node(
            summary,
            (
                b.add_constant("x"),
                vec![b.param(), other.param()],
                vec![mine],
                b.param(),
            ),
        )
        .unwrap_err();
    assert!(matches!(
        error,
        BuildError::ForeignInput { position: 2, .. }
    ));
}

#[test]
fn every_adding_method_has_a_form_that_returns_the_error() {
    async fn ok(n: &u32) -> Result<u32, String> {
        Ok(*n)
    }
    async fn with_state(s: &u32, n: &u32) -> u32 {
        s + n
    }
    async fn try_with_state(s: &u32, n: &u32) -> Result<u32, String> {
        Ok(s + n)
    }
    let other = DagBuilder::<u32>::new();
    let foreign = other.param();
    let b = DagBuilder::<u32>::new().with_error::<String>();
    let is_foreign = |error: BuildError| matches!(error, BuildError::ForeignInput { .. });
    assert!(is_foreign(b.try_add_try_node(ok, foreign).unwrap_err()));
    assert!(is_foreign(
        b.try_add_node_with(1u32, with_state, foreign).unwrap_err()
    ));
    assert!(is_foreign(
        b.try_add_try_node_with(1u32, try_with_state, foreign)
            .unwrap_err()
    ));
    assert!(is_foreign(
        b.named("a").try_add_node(show, foreign).unwrap_err()
    ));
    assert!(is_foreign(
        b.named("b").try_add_try_node(ok, foreign).unwrap_err()
    ));
    assert!(is_foreign(
        b.named("c")
            .try_add_node_with(1u32, with_state, foreign)
            .unwrap_err()
    ));
    assert!(is_foreign(
        b.named("d")
            .try_add_try_node_with(1u32, try_with_state, foreign)
            .unwrap_err()
    ));
    // Nothing was added by the failed calls, not even the states of those with state.
    assert_eq!(b.task_count(), 0);
    let x = b.named("x").try_add_try_node(ok, b.param()).unwrap();
    let y = b.try_add_try_node_with(2u32, try_with_state, x).unwrap();
    let dag = b.build();
    assert_eq!(dag.constant_count(), 1, "only `y`'s state is a constant");
    assert_eq!(dag.node_name(x.id()), Some("x"));
    let out = futures_executor::block_on(dag.try_run(&5)).unwrap();
    assert_eq!((out[x], out[y], out[dag.param()]), (5, 7, 5));
}

#[test]
fn owned_runs_are_static_and_their_outputs_leave_the_thread_that_ran_them() {
    let client = client();
    let b = DagBuilder::<u64>::new();
    let fetched = b.add_node_with(client.clone(), fetch, b.param());
    let dag = Arc::new(b.build());
    let handles: Vec<_> = (0..4u64)
        .map(|id| {
            let run = dag.run_owned(id);
            std::thread::spawn(move || futures_executor::block_on(run))
        })
        .collect();
    let mut outputs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (id, out) in outputs.iter().enumerate() {
        assert_eq!(out[fetched], format!("svc/{id}"));
        assert_eq!(*out.param(), id as u64);
    }
    // The DAG and the parameters live as long as the outputs, even with the caller's `Arc`
    // gone.
    drop(dag);
    let last = outputs.pop().unwrap();
    let (value,) = {
        let mut last = last;
        last.take_many((fetched,)).unwrap()
    };
    assert_eq!(value, "svc/3");
}

#[test]
fn an_owned_run_dropped_midway_drops_everything_once() {
    async fn hold(trigger: &Trigger, futures: &DropCounter) -> Token {
        let token = futures.token();
        trigger.wait().await;
        token
    }
    let (trigger, futures) = (Trigger::default(), DropCounter::default());
    let b = DagBuilder::<()>::new().with_error::<String>();
    let held = b.add_node(
        hold,
        (
            b.add_constant(trigger.clone()),
            b.add_constant(futures.clone()),
        ),
    );
    let dag = Arc::new(b.build());
    let poller = Poller::new();
    let mut run = dag.try_run_owned(());
    assert!(poller.poll(&mut run).is_pending());
    drop(run);
    assert_eq!(futures.dropped(), 1);
    let mut run = dag.try_run_owned(());
    assert!(poller.poll(&mut run).is_pending());
    trigger.fire();
    let std::task::Poll::Ready(Ok(mut out)) = poller.poll(&mut run) else {
        panic!("the run should complete");
    };
    drop(run);
    assert!(out.get(held).is_ok());
    let token = out.take(held).unwrap();
    drop(out);
    assert_eq!(futures.dropped(), 1);
    drop(token);
    assert_eq!(futures.dropped(), 2);
}

#[test]
fn take_many_takes_nothing_unless_it_can_take_everything() {
    let b = DagBuilder::<u32>::new();
    let (a, s) = (
        b.add_node(show, b.param()),
        b.add_node(plus, (b.param(), b.param())),
    );
    let dag = b.build();
    let mut out = futures_executor::block_on(dag.run(&2));
    assert!(matches!(
        out.take_many((a, a)),
        Err(OutputError::Taken { .. })
    ));
    assert!(matches!(
        out.take_many((a, dag.param())),
        Err(OutputError::NotOwned { .. })
    ));
    assert_eq!(out.len(), 2, "nothing was taken");
    assert_eq!(out.take_many((s, a)).unwrap(), (4, "<2>".to_string()));
    assert!(out.is_empty());
}

#[test]
fn a_node_error_converts_into_the_dag_error_type() {
    #[derive(Debug, PartialEq)]
    struct AppError(String);
    impl From<std::num::ParseIntError> for AppError {
        fn from(error: std::num::ParseIntError) -> Self {
            AppError(error.to_string())
        }
    }
    async fn parse(text: &&'static str) -> Result<u32, std::num::ParseIntError> {
        text.parse()
    }
    async fn positive(n: &u32) -> Result<u32, AppError> {
        if *n == 0 {
            Err(AppError("zero".into()))
        } else {
            Ok(*n)
        }
    }
    let b = DagBuilder::<()>::new().with_error::<AppError>();
    let bad = b.add_try_node(parse, b.add_constant("x1"));
    let checked = b.add_try_node(positive, bad);
    let dag = b.build();
    let settled = futures_executor::block_on(dag.run_settled(&()));
    assert_eq!(settled.errors.len(), 1);
    assert!(matches!(
        &settled.errors[0],
        DagError::Failed { error: AppError(message), .. } if message == "invalid digit found in string"
    ));
    assert!(settled.outputs.get(checked).is_err());
}

#[test]
fn a_completed_owned_run_stays_valid_after_its_outputs_and_the_callers_arc_are_gone() {
    let b = DagBuilder::<u64>::new();
    let sq = b.add_node(async |n: &u64| n * n, b.param());
    let dag = Arc::new(b.build());
    let id = dag.id();
    let mut run = dag.run_owned(12);
    let out = futures_executor::block_on(&mut run);
    assert_eq!(out[sq], 144);
    drop(out);
    drop(dag);
    // The run still points at the DAG: it keeps its own hold on it until it is dropped.
    let moved = std::hint::black_box(run);
    assert!(format!("{moved:?}").contains(&format!("{id:?}")));
}

/// Consumes owned values by value, dropping them inside the call.
fn consume<T>(value: T) {
    drop(value);
}

#[test]
fn owned_runs_and_outputs_may_hold_the_last_reference_to_their_dag() {
    let b = DagBuilder::<u64>::new();
    let sq = b.add_node(async |n: &u64| n * n, b.param());
    let dag = Arc::new(b.build());
    let out = futures_executor::block_on(dag.run_owned(3));
    let never_polled = dag.run_owned(4);
    drop(dag);
    assert_eq!(out[sq], 9);
    // Each frees the DAG and the parameter as it is dropped inside a call (Miri checks that no
    // reference into them is still asserted then).
    consume(out);
    consume(never_polled);
}

/// The events an observer saw, shared with the test (an owned run's observer moves into it).
#[derive(Clone, Default)]
struct SharedEvents(Arc<std::sync::Mutex<Vec<(usize, dagfut::NodeEvent)>>>);

impl dagfut::Observer for SharedEvents {
    fn on_event(&mut self, task: usize, event: dagfut::NodeEvent) {
        self.0.lock().unwrap().push((task, event));
    }
}

impl SharedEvents {
    fn count(&self, kind: dagfut::NodeEvent) -> usize {
        let events = self.0.lock().unwrap();
        events.iter().filter(|(_, event)| *event == kind).count()
    }
}

#[test]
fn owned_runs_take_the_settings_of_the_borrowed_ones() {
    use dagfut::NodeEvent::{Completed, Started};
    let b = DagBuilder::<u64>::new().with_error::<String>();
    let nodes: Vec<_> = (0..3u64)
        .map(|i| b.add_node_with(i, async |i: &u64, n: &u64| n + i, b.param()))
        .collect();
    let dag = Arc::new(b.build());
    let poller = Poller::new();

    // A budget of one node poll per poll of the run, and an observer, on a `run_owned`
    // spawned on another thread (the settings keep it `'static` and `Send`).
    let events = SharedEvents::default();
    let mut run = dag
        .try_run_owned(10)
        .with_poll_budget(1)
        .with_observer(events.clone());
    assert!(
        poller.poll(&mut run).is_pending(),
        "one node, then it yields"
    );
    assert_eq!((events.count(Started), poller.wakes()), (1, 1));
    let out = std::thread::spawn(move || futures_executor::block_on(run))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(out[nodes[2]], 12);
    assert_eq!(events.count(Completed), 3);

    // The same on the infallible owned run; the observer may come after a first poll.
    let b = DagBuilder::<u64>::new();
    let first = b.add_node(async |n: &u64| n + 1, b.param());
    let second = b.add_node(async |n: &u64| n * 2, first);
    let dag = Arc::new(b.build());
    let mut run = dag.run_owned(1).with_poll_budget(1);
    assert!(poller.poll(&mut run).is_pending());
    let events = SharedEvents::default();
    let out = futures_executor::block_on(run.with_observer(events.clone()));
    assert_eq!((out[first], out[second]), (2, 4));
    assert_eq!((events.count(Started), events.count(Completed)), (1, 1));
}

#[test]
fn an_owned_run_may_catch_its_nodes_panics() {
    let b = DagBuilder::<u32>::new().with_error::<String>();
    let divided = b
        .named("divide")
        .add_node(async |n: &u32| 100 / n, b.param());
    b.add_node(async |n: &u32| n + 1, divided);
    let dag = Arc::new(b.build());
    let error = futures_executor::block_on(dag.try_run_owned(0).catch_panics()).unwrap_err();
    assert!(
        matches!(&error, DagError::Panicked { message, .. } if message.contains("divide by zero")),
        "{error:?}"
    );
    assert_eq!(error.name(), Some("divide"));
    // The DAG runs again, and a panic that is not caught still unwinds.
    let out = futures_executor::block_on(dag.try_run_owned(4).catch_panics()).unwrap();
    assert_eq!(out[divided], 25);
    let uncaught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures_executor::block_on(dag.try_run_owned(0))
    }));
    assert!(uncaught.is_err());
}

#[test]
#[should_panic(expected = "the poll budget must be at least 1")]
fn an_owned_run_refuses_a_budget_of_zero() {
    let b = DagBuilder::<u32>::new();
    b.add_node(async |n: &u32| n + 1, b.param());
    drop(Arc::new(b.build()).run_owned(0).with_poll_budget(0));
}

#[test]
fn an_owned_settled_run_returns_what_completed_and_every_error_from_another_thread() {
    use dagfut::NodeEvent::{Completed, Failed};
    async fn check(n: &i32) -> Result<i32, String> {
        if *n < 0 {
            Err(format!("{n} is negative"))
        } else {
            Ok(*n)
        }
    }
    let b = DagBuilder::<i32>::new().with_error::<String>();
    let checked = b.named("check").add_try_node(check, b.param());
    let doubled = b.add_node(async |n: &i32| n * 2, checked);
    let divided = b
        .named("divide")
        .add_node(async |n: &i32| 100 / n, b.param());
    let other = b.add_node(async |n: &i32| n.abs(), b.param());
    let dag = Arc::new(b.build());

    let events = SharedEvents::default();
    let mut run = dag
        .run_settled_owned(-4)
        .with_poll_budget(1)
        .with_observer(events.clone());
    let poller = Poller::new();
    assert!(
        poller.poll(&mut run).is_pending(),
        "one node, then it yields"
    );
    assert_eq!((events.count(Failed), poller.wakes()), (1, 1));
    let settled = std::thread::spawn(move || futures_executor::block_on(run))
        .join()
        .unwrap();
    drop(dag);
    assert!(!settled.is_ok());
    assert_eq!(settled.errors.len(), 1);
    assert_eq!(settled.errors[0].name(), Some("check"));
    assert!(matches!(
        settled.outputs.get(doubled),
        Err(OutputError::NotCompleted { .. })
    ));
    assert_eq!(
        (
            settled.outputs[divided],
            settled.outputs[other],
            *settled.outputs.param()
        ),
        (-25, 4, -4)
    );
    assert_eq!((events.count(Completed), events.count(Failed)), (2, 1));

    // A panic is caught as one more failure; the other branches still finish.
    let dag = settled.outputs.dag().clone();
    let settled = futures_executor::block_on(dag.run_settled_owned(0).catch_panics());
    assert_eq!(settled.errors.len(), 1);
    assert!(matches!(&settled.errors[0], DagError::Panicked { .. }));
    assert_eq!(settled.errors[0].name(), Some("divide"));
    assert_eq!((settled.outputs[checked], settled.outputs[doubled]), (0, 0));

    // Nothing fails: every output is there. A parameter without `Debug` still lets the
    // result be printed.
    struct Opaque(i32);
    let b = DagBuilder::<Opaque>::new().with_error::<String>();
    let read = b.add_node(async |p: &Opaque| p.0, b.param());
    let settled = futures_executor::block_on(Arc::new(b.build()).run_settled_owned(Opaque(7)));
    assert!(settled.is_ok() && settled.errors.is_empty());
    assert_eq!(settled.outputs[read], 7);
    assert!(format!("{settled:?}").starts_with("OwnedSettled"));
}
