//! The seed library's two examples, on a virtual clock: exact start and finish times.

mod support;

use dagfut::DagBuilder;
use futures_util::future::join3;
use support::{Env, block_on};

async fn inc(name: &&'static str, delay: &u64, n: &u32, env: &Env) -> u32 {
    env.log.push(env.clock.now(), format!("{name} started"));
    env.clock.sleep(*delay).await;
    env.log.push(env.clock.now(), format!("{name} done"));
    n + 1
}

async fn add(name: &&'static str, delay: &u64, a: &u32, b: &u32, env: &Env) -> u32 {
    env.log.push(env.clock.now(), format!("{name} started"));
    env.clock.sleep(*delay).await;
    env.log.push(env.clock.now(), format!("{name} done"));
    a + b
}

fn lines(expected: &[(u64, &str)]) -> Vec<(u64, String)> {
    expected
        .iter()
        .map(|(at, line)| (*at, (*line).to_owned()))
        .collect()
}

#[test]
fn every_node_starts_the_moment_its_inputs_are_ready() {
    let env = Env::default();
    let b = DagBuilder::<u32>::new();
    let e = b.add_constant(env.clone());
    let c = |name: &'static str| b.add_constant(name);
    let fast_a = b.add_node(inc, (c("fast_task_a"), b.add_constant(100), b.param(), e));
    let slow_b = b.add_node(inc, (c("slow_task_b"), b.add_constant(1000), fast_a, e));
    let slow_a = b.add_node(inc, (c("slow_task_a"), b.add_constant(500), b.param(), e));
    let fast_b = b.add_node(inc, (c("fast_task_b"), b.add_constant(100), b.param(), e));
    let fast_c = b.add_node(
        add,
        (c("fast_task_c"), b.add_constant(100), slow_a, fast_b, e),
    );
    let end = b.add_node(add, (c("end_task"), b.add_constant(100), fast_c, slow_b, e));
    let dag = b.build();

    let out = block_on(&env.clock, dag.run(&0));
    assert_eq!(out[fast_a], 1);
    assert_eq!(out[end], 4);
    // The seed's printed order, with the instant of each line: slow_task_b starts at 100 ms,
    // before slow_task_a finishes at 500 ms, and the run ends at 1200 ms, the critical path
    // fast_task_a → slow_task_b → end_task.
    assert_eq!(
        env.log.lines(),
        lines(&[
            (0, "fast_task_a started"),
            (0, "slow_task_a started"),
            (0, "fast_task_b started"),
            (100, "fast_task_a done"),
            (100, "fast_task_b done"),
            (100, "slow_task_b started"),
            (500, "slow_task_a done"),
            (500, "fast_task_c started"),
            (600, "fast_task_c done"),
            (1100, "slow_task_b done"),
            (1100, "end_task started"),
            (1200, "end_task done"),
        ])
    );
    assert_eq!(env.clock.now(), 1200);

    // The same DAG again, with another parameter, continues on the same clock.
    let again = block_on(&env.clock, dag.run(&10));
    assert_eq!((again[fast_a], again[end]), (11, 34));
    assert_eq!(env.clock.now(), 2400);
}

#[test]
fn one_join_per_layer_waits_for_the_slowest_of_each_layer() {
    // The common hand-written schedule, on the same clock, for comparison: 1600 ms.
    let env = Env::default();
    let e = &env;
    let total = block_on(&env.clock, async {
        let (a, sa, fb) = join3(
            inc(&"fast_task_a", &100, &0, e),
            inc(&"slow_task_a", &500, &0, e),
            inc(&"fast_task_b", &100, &0, e),
        )
        .await;
        let (sb, fc) = futures_util::future::join(
            inc(&"slow_task_b", &1000, &a, e),
            add(&"fast_task_c", &100, &sa, &fb, e),
        )
        .await;
        add(&"end_task", &100, &fc, &sb, e).await
    });
    assert_eq!(total, 4);
    assert_eq!(env.clock.now(), 1600);
}

// The seed's second example: fetch events, insert them, publish, log.

#[derive(Debug, Clone, PartialEq)]
struct Event {
    at: u64,
    location: String,
}

struct Params {
    env: Env,
    allowed_location: &'static str,
}

async fn fetch_event(url: &&'static str, params: &Params) -> Event {
    params.env.clock.sleep(500).await;
    Event {
        at: params.env.clock.now(),
        location: (*url).to_owned(),
    }
}

async fn insert_to_db(event: &Event, params: &Params) -> bool {
    if event.location != params.allowed_location {
        return false;
    }
    params.env.clock.sleep(500).await;
    true
}

async fn publish_results(moon: &bool, sun: &bool, params: &Params) {
    params.env.clock.sleep(500).await;
    let now = params.env.clock.now();
    params.env.log.push(now, format!("published {moon} {sun}"));
}

async fn logger(moon_event: &Event, moon: &bool, sun_event: &Event, sun: &bool, params: &Params) {
    let now = params.env.clock.now();
    let line = format!(
        "{} {moon} {} {sun}",
        moon_event.location, sun_event.location
    );
    params.env.log.push(now, line);
}

#[test]
fn the_same_dag_runs_twice_with_different_parameters() {
    let b = DagBuilder::<Params>::new();
    let p = b.param();
    let moon_event = b.add_node(fetch_event, (b.add_constant("moon"), p));
    let moon_insert = b.add_node(insert_to_db, (moon_event, p));
    let sun_event = b.add_node(fetch_event, (b.add_constant("sun"), p));
    let sun_insert = b.add_node(insert_to_db, (sun_event, p));
    b.add_node(publish_results, (moon_insert, sun_insert, p));
    b.add_node(logger, (moon_event, moon_insert, sun_event, sun_insert, p));
    let dag = b.build();

    let env = Env::default();
    let first = Params {
        env: env.clone(),
        allowed_location: "moon",
    };
    let out = block_on(&env.clock, dag.run(&first));
    assert_eq!(out[moon_event].location, "moon");
    assert!(out[moon_insert]);
    assert!(!out[sun_insert]);
    // Both fetches run at once (500 ms), the moon insert takes 500 ms more, then publishing
    // 500 ms: 1500 ms; the logger runs the moment both inserts are done (1000 ms).
    assert_eq!(env.clock.now(), 1500);
    assert_eq!(
        env.log.lines(),
        lines(&[
            (1000, "moon true sun false"),
            (1500, "published true false")
        ])
    );

    let second = Params {
        env: env.clone(),
        allowed_location: "sun",
    };
    let out = block_on(&env.clock, dag.run(&second));
    assert!(!out[moon_insert]);
    assert!(out[sun_insert]);
    assert_eq!(out[sun_event].at, 2000);
    assert_eq!(env.clock.now(), 3000);
}
