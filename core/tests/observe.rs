//! Graph export, node events, progress and traces (on the virtual clock: exact times).

mod support;

use std::time::Duration;

use dagfut::trace::Recorder;
use dagfut::{Clock, DagBuilder, NodeEvent, Observer, Progress};
use support::{Env, Poller, Trigger, block_on};

async fn step(name: &&'static str, delay: &u64, n: &u32, env: &Env) -> u32 {
    let _ = name;
    env.clock.sleep(*delay).await;
    n + 1
}

async fn join(name: &&'static str, delay: &u64, a: &u32, b: &u32, env: &Env) -> u32 {
    let _ = name;
    env.clock.sleep(*delay).await;
    a + b
}

/// The seed's graph, named, on a virtual clock.
fn seed(env: &Env) -> dagfut::Dag<u32> {
    let b = DagBuilder::<u32>::new();
    let e = b.add_constant(env.clone());
    let c = |name: &'static str| b.add_constant(name);
    let ms = |ms: u64| b.add_constant(ms);
    let fast_a = b
        .named("fast_task_a")
        .add_node(step, (c("fast_task_a"), ms(100), b.param(), e));
    let slow_b = b
        .named("slow_task_b")
        .add_node(step, (c("slow_task_b"), ms(1000), fast_a, e));
    let slow_a = b
        .named("slow_task_a")
        .add_node(step, (c("slow_task_a"), ms(500), b.param(), e));
    let fast_b = b
        .named("fast_task_b")
        .add_node(step, (c("fast_task_b"), ms(100), b.param(), e));
    let fast_c = b
        .named("fast_task_c")
        .add_node(join, (c("fast_task_c"), ms(100), slow_a, fast_b, e));
    b.named("end_task")
        .add_node(join, (c("end_task"), ms(100), fast_c, slow_b, e));
    b.build()
}

struct VirtualClock(support::Clock);

impl Clock for VirtualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.now())
    }
}

#[test]
fn the_graph_as_mermaid_and_dot() {
    let dag = seed(&Env::default());
    assert_eq!(
        dag.to_mermaid(),
        "graph TD;
    t0[\"fast_task_a\"];
    t1[\"slow_task_b\"];
    t2[\"slow_task_a\"];
    t3[\"fast_task_b\"];
    t4[\"fast_task_c\"];
    t5[\"end_task\"];
    t0-->t1;
    t2-->t4;
    t3-->t4;
    t4-->t5;
    t1-->t5;
"
    );
    assert_eq!(
        dag.to_dot(),
        "digraph dag {
    t0 [label=\"fast_task_a\"];
    t1 [label=\"slow_task_b\"];
    t2 [label=\"slow_task_a\"];
    t3 [label=\"fast_task_b\"];
    t4 [label=\"fast_task_c\"];
    t5 [label=\"end_task\"];
    t0 -> t1;
    t2 -> t4;
    t3 -> t4;
    t4 -> t5;
    t1 -> t5;
}
"
    );
}

#[test]
fn unnamed_nodes_and_quotes_are_exported_safely() {
    async fn one(_: &()) -> u8 {
        1
    }
    let b = DagBuilder::<()>::new();
    let x = b.named("say \"hi\"").add_node(one, b.param());
    b.add_node(async |a: &u8, b: &u8| a + b, (x, x));
    let dag = b.build();
    assert_eq!(
        dag.to_mermaid(),
        "graph TD;\n    t0[\"say #34;hi#34;\"];\n    t1[\"task #35;1\"];\n    t0-->t1;\n"
    );
    assert!(dag.to_dot().contains("t0 [label=\"say \\\"hi\\\"\"];"));
}

#[test]
fn node_events_arrive_in_order() {
    #[derive(Default)]
    struct Log(Vec<(usize, NodeEvent)>);
    impl Observer for Log {
        fn on_event(&mut self, task: usize, event: NodeEvent) {
            self.0.push((task, event));
        }
    }
    let mut log = Log::default();
    wait_then_after(&mut log);
    use NodeEvent::*;
    assert_eq!(
        log.0,
        [
            (0, Started),
            (0, Pending),
            (0, Woken),
            (0, Completed),
            (1, Started),
            (1, Completed)
        ]
    );
}

#[test]
fn progress_counts_completed_and_failed_nodes() {
    async fn ok(_: &()) -> Result<u8, String> {
        Ok(1)
    }
    async fn fail(_: &()) -> Result<u8, String> {
        Err("no".into())
    }
    let b = DagBuilder::<()>::new().with_error::<String>();
    b.add_try_node(ok, b.param());
    b.add_try_node(fail, b.param());
    b.add_try_node(ok, b.param());
    let dag = b.build();
    let mut reports = Vec::new();
    let progress = Progress::new(dag.task_count(), |done, total| reports.push((done, total)));
    let settled = futures_executor::block_on(dag.run_settled(&()).with_observer(progress));
    assert_eq!(settled.errors.len(), 1);
    assert_eq!(reports, [(1, 3), (2, 3), (3, 3)]);
}

#[test]
fn the_trace_of_the_seed_and_its_critical_path() {
    let env = Env::default();
    let dag = seed(&env);
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    block_on(&env.clock, dag.run(&0).with_observer(&mut recorder));
    let trace = recorder.trace();
    let ms = Duration::from_millis;
    let spans: Vec<_> = trace
        .spans
        .iter()
        .map(|s| (s.name.as_str(), s.start.unwrap(), s.end.unwrap(), s.polls))
        .collect();
    assert_eq!(
        spans,
        [
            ("fast_task_a", ms(0), ms(100), 2),
            ("slow_task_b", ms(100), ms(1100), 2),
            ("slow_task_a", ms(0), ms(500), 2),
            ("fast_task_b", ms(0), ms(100), 2),
            ("fast_task_c", ms(500), ms(600), 2),
            ("end_task", ms(1100), ms(1200), 2),
        ]
    );
    let critical = trace.critical_path();
    assert_eq!(critical.names(), ["fast_task_a", "slow_task_b", "end_task"]);
    assert_eq!(critical.length, ms(1200));
    assert_eq!(
        critical.to_string(),
        "fast_task_a → slow_task_b → end_task (1.200 s)"
    );
    // What could be slower without making the run longer.
    let slack: Vec<_> = critical.slack.iter().map(|s| s.unwrap()).collect();
    assert_eq!(slack, [ms(0), ms(0), ms(500), ms(900), ms(500), ms(0)]);

    let json = trace.to_chrome_json();
    assert!(json.contains(
        "{\"name\": \"slow_task_b\", \"cat\": \"completed\", \"ph\": \"X\", \"ts\": 100000, \"dur\": 1000000, \"pid\": 1, \"tid\": 1, \"args\": {\"polls\": 2, \"outcome\": \"completed\", \"critical\": true}}"
    ));
    assert_eq!(json.matches("\"ph\": \"X\"").count(), 6);
    let gantt = trace.to_mermaid_gantt();
    assert!(gantt.starts_with("gantt\n"));
    assert!(gantt.contains("    slow_task_b :crit, t1, 100, 1100\n"));
    assert!(gantt.contains("    fast_task_c :t4, 500, 600\n"));
    let svg = trace.to_svg();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches("<rect class=\"completed critical\"").count(),
        3,
        "three critical bars"
    );
    assert_eq!(svg.matches("fill=\"#d62728\" rx").count(), 3);
    assert!(svg.contains("critical path: fast_task_a → slow_task_b → end_task (1.200 s)"));
}

/// What an observer saw: poll starts and ends, and node events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    PollStart,
    Node(usize, NodeEvent),
    PollEnd(bool),
}

#[derive(Default)]
struct Watch(Vec<Seen>);

impl Observer for Watch {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        self.0.push(Seen::Node(task, event));
    }
    fn on_poll_start(&mut self) {
        self.0.push(Seen::PollStart);
    }
    fn on_poll_end(&mut self, ready: bool) {
        self.0.push(Seen::PollEnd(ready));
    }
}

#[test]
fn the_observer_sees_each_poll_start_and_end() {
    let mut watch = Watch::default();
    wait_then_after(&mut watch);
    use NodeEvent::*;
    use Seen::*;
    assert_eq!(
        watch.0,
        [
            PollStart,
            Node(0, Started),
            Node(0, Pending),
            PollEnd(false),
            PollStart,
            Node(0, Woken),
            Node(0, Completed),
            Node(1, Started),
            Node(1, Completed),
            PollEnd(true),
        ]
    );
}

/// Sleeps `delay` ms on the virtual clock, then fails if `fail`.
async fn fallible(delay: &u64, fail: &bool, inputs: &[&u32], env: &Env) -> Result<u32, String> {
    env.clock.sleep(*delay).await;
    if *fail {
        return Err("no".into());
    }
    Ok(inputs.iter().fold(1, |sum, &&n| sum.wrapping_add(n)))
}

/// Six nodes: `ok_10` and `ok_5` complete at 10 and 5 ms, `fails` fails at 20 ms and its
/// chain `skip_1` → `skip_2` never starts, `ok_50` completes at 50 ms unless a fail-fast run
/// stopped first.
fn six(env: &Env) -> dagfut::Dag<(), dagfut::Sendable, String> {
    let b = DagBuilder::<()>::new().with_error::<String>();
    let e = b.add_constant(env.clone());
    let node = |name: &'static str, delay: u64, fail: bool, inputs: Vec<dagfut::Node<u32>>| {
        b.named(name).add_try_node(
            fallible,
            (b.add_constant(delay), b.add_constant(fail), inputs, e),
        )
    };
    node("ok_10", 10, false, vec![]);
    let fails = node("fails", 20, true, vec![]);
    node("ok_5", 5, false, vec![]);
    let skip = node("skip_1", 1, false, vec![fails]);
    node("skip_2", 1, false, vec![skip]);
    node("ok_50", 50, false, vec![]);
    b.build()
}

#[test]
fn the_task_name_of_what_an_observer_sees() {
    let env = Env::default();
    let dag = six(&env);
    let mut watch = Watch::default();
    let _ = block_on(&env.clock, dag.run_settled(&()).with_observer(&mut watch));
    let finished: Vec<_> = watch
        .0
        .iter()
        .filter_map(|seen| match *seen {
            Seen::Node(task, NodeEvent::Completed | NodeEvent::Failed) => dag.task_name(task),
            _ => None,
        })
        .collect();
    assert_eq!(finished, ["ok_5", "ok_10", "fails", "ok_50"]);
    assert_eq!(dag.task_name(6), None);
}

#[test]
fn progress_reaches_the_total_when_a_run_fails_or_settles() {
    let env = Env::default();
    let dag = six(&env);
    let mut reports = Vec::new();
    let progress = Progress::new(dag.task_count(), |done, total| reports.push((done, total)));
    let result = block_on(&env.clock, dag.try_run(&()).with_observer(progress));
    assert_eq!(result.unwrap_err().name(), Some("fails"));
    assert_eq!(reports, [(1, 6), (2, 6), (3, 6), (6, 6)], "fail-fast");

    let env = Env::default();
    let dag = six(&env);
    let mut reports = Vec::new();
    let progress = Progress::new(dag.task_count(), |done, total| reports.push((done, total)));
    let settled = block_on(&env.clock, dag.run_settled(&()).with_observer(progress));
    assert_eq!(settled.errors.len(), 1);
    assert_eq!(reports, [(1, 6), (2, 6), (3, 6), (4, 6), (6, 6)], "settled");
}

#[test]
fn one_progress_counts_each_run_from_zero() {
    let env = Env::default();
    let dag = seed(&env);
    let mut reports = Vec::new();
    {
        let report = |done, total| reports.push((done, total));
        let mut progress = Progress::new(dag.task_count(), report);
        block_on(&env.clock, dag.run(&0).with_observer(&mut progress));
        block_on(&env.clock, dag.run(&0).with_observer(&mut progress));
    }
    let once: Vec<_> = (1..=6).map(|done| (done, 6)).collect();
    assert_eq!(reports, [once.clone(), once].concat());
}

/// Runs `wait` (pends until a trigger fires between the run's two polls) then `after` (takes
/// it) under `observer`.
fn wait_then_after<O: Observer>(observer: O) {
    let trigger = Trigger::default();
    async fn wait(t: &Trigger) -> u8 {
        t.wait().await;
        1
    }
    async fn after(x: &u8) -> u8 {
        x + 1
    }
    let b = DagBuilder::<()>::new();
    let w = b.add_node(wait, b.add_constant(trigger.clone()));
    b.add_node(after, w);
    let dag = b.build();
    let mut run = dag.run(&()).with_observer(observer);
    let poller = Poller::new();
    assert!(poller.poll(&mut run).is_pending());
    trigger.fire();
    assert!(poller.poll(&mut run).is_ready());
}
