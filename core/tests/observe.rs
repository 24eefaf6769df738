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
        "graph TD;\n    t0[\"say #quot;hi#quot;\"];\n    t1[\"task #1\"];\n    t0-->t1;\n"
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
    let mut log = Log::default();
    let mut run = dag.run(&()).with_observer(&mut log);
    let poller = Poller::new();
    assert!(poller.poll(&mut run).is_pending());
    trigger.fire();
    assert!(poller.poll(&mut run).is_ready());
    drop(run);
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
        "{\"name\": \"slow_task_b\", \"cat\": \"node\", \"ph\": \"X\", \"ts\": 100000, \"dur\": 1000000, \"pid\": 1, \"tid\": 1, \"args\": {\"polls\": 2}}"
    ));
    assert_eq!(json.matches("\"ph\": \"X\"").count(), 6);
    let gantt = trace.to_mermaid_gantt();
    assert!(gantt.starts_with("gantt\n"));
    assert!(gantt.contains("    slow_task_b :crit, t1, 100, 1100\n"));
    assert!(gantt.contains("    fast_task_c :t4, 500, 600\n"));
    let svg = trace.to_svg();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches("fill=\"#d62728\" rx").count(),
        3,
        "three critical bars"
    );
    assert!(svg.contains("critical path: fast_task_a → slow_task_b → end_task (1.200 s)"));
}
