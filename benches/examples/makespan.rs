//! The seed graph with real timers (smol): the wall time of one run for dagfut, one `join`
//! per layer, the hand-shaped nested `join`, async_dag and dagx.
//!
//! ```text
//! cargo run --release -p dagfut-benches --example makespan
//! ```
//!
//! `fast_a` (100 ms) → `slow_b` (1 s); `slow_a` (500 ms) and `fast_b` (100 ms) → `fast_c`
//! (100 ms); `end` (100 ms) takes `fast_c` and `slow_b`. Best schedule: 1.2 s; one join per
//! layer: 0.5 + 1 + 0.1 = 1.6 s. Prints the times and writes
//! `$CARGO_TARGET_DIR/dagfut-benches/makespan.json` for the report.

use std::time::{Duration, Instant};

use dagfut::DagBuilder;
use dagfut_benches::write_output;
use dagx::{DagRunner, Task, task};
use futures_util::future::{join, join3};
use smol::Timer;

const FAST: Duration = Duration::from_millis(100);
const SLOW_A: Duration = Duration::from_millis(500);
const SLOW_B: Duration = Duration::from_millis(1000);

async fn inc(delay: &Duration, n: &u32) -> u32 {
    Timer::after(*delay).await;
    n + 1
}

async fn add(delay: &Duration, a: &u32, b: &u32) -> u32 {
    Timer::after(*delay).await;
    a + b
}

fn dagfut_run() -> u32 {
    let b = DagBuilder::<u32>::new();
    let d = |delay| b.add_constant(delay);
    let fast_a = b.add_node(inc, (d(FAST), b.param()));
    let slow_b = b.add_node(inc, (d(SLOW_B), fast_a));
    let slow_a = b.add_node(inc, (d(SLOW_A), b.param()));
    let fast_b = b.add_node(inc, (d(FAST), b.param()));
    let fast_c = b.add_node(add, (d(FAST), slow_a, fast_b));
    let end = b.add_node(add, (d(FAST), fast_c, slow_b));
    let dag = b.build();
    smol::block_on(dag.run(&0))[end]
}

fn join_per_layer() -> u32 {
    smol::block_on(async {
        let (fast_a, slow_a, fast_b) =
            join3(inc(&FAST, &0), inc(&SLOW_A, &0), inc(&FAST, &0)).await;
        let (slow_b, fast_c) = join(inc(&SLOW_B, &fast_a), add(&FAST, &slow_a, &fast_b)).await;
        add(&FAST, &fast_c, &slow_b).await
    })
}

fn nested_join() -> u32 {
    smol::block_on(async {
        let (slow_b, fast_c) = join(async { inc(&SLOW_B, &inc(&FAST, &0).await).await }, async {
            let (slow_a, fast_b) = join(inc(&SLOW_A, &0), inc(&FAST, &0)).await;
            add(&FAST, &slow_a, &fast_b).await
        })
        .await;
        add(&FAST, &fast_c, &slow_b).await
    })
}

async fn owned_inc(delay: Duration, n: u32) -> u32 {
    inc(&delay, &n).await
}

async fn owned_add(delay: Duration, a: u32, b: u32) -> u32 {
    add(&delay, &a, &b).await
}

fn async_dag_run() -> u32 {
    let mut g = async_dag::Graph::new();
    let fast_a = g.add_task(|| owned_inc(FAST, 0));
    let slow_b = g.add_task(|n: u32| owned_inc(SLOW_B, n));
    g.update_dependency(fast_a, slow_b, 0).ok().unwrap();
    let slow_a = g.add_task(|| owned_inc(SLOW_A, 0));
    let fast_b = g.add_task(|| owned_inc(FAST, 0));
    let fast_c = g.add_task(|a: u32, b: u32| owned_add(FAST, a, b));
    g.update_dependency(slow_a, fast_c, 0).ok().unwrap();
    g.update_dependency(fast_b, fast_c, 1).ok().unwrap();
    let end = g.add_task(|a: u32, b: u32| owned_add(FAST, a, b));
    g.update_dependency(fast_c, end, 0).ok().unwrap();
    g.update_dependency(slow_b, end, 1).ok().unwrap();
    smol::block_on(g.run());
    g.get_value::<u32>(end).unwrap()
}

/// A dagx root sleeping `0` then yielding 1.
struct Root(Duration);

#[task]
impl Root {
    async fn run(&mut self) -> u32 {
        inc(&self.0, &0).await
    }
}

/// A dagx node of one input.
struct Inc(Duration);

#[task]
impl Inc {
    async fn run(&mut self, n: &u32) -> u32 {
        inc(&self.0, n).await
    }
}

/// A dagx node of two inputs.
struct Add(Duration);

#[task]
impl Add {
    async fn run(&mut self, a: &u32, b: &u32) -> u32 {
        add(&self.0, a, b).await
    }
}

fn dagx_run() -> u32 {
    let dag = DagRunner::new();
    let fast_a = dag.add_task(Root(FAST));
    let slow_b = dag.add_task(Inc(SLOW_B)).depends_on(&fast_a);
    let slow_a = dag.add_task(Root(SLOW_A));
    let fast_b = dag.add_task(Root(FAST));
    let fast_c = dag.add_task(Add(FAST)).depends_on((&slow_a, &fast_b));
    let end = dag.add_task(Add(FAST)).depends_on((&fast_c, &slow_b));
    smol::block_on(dag.run(|future| smol::spawn(future).detach())).unwrap();
    dag.get(end).unwrap()
}

/// A contender: its name and one run, returning the end node's value.
type Contender = (&'static str, fn() -> u32);

fn main() {
    let contenders: [Contender; 5] = [
        ("dagfut", dagfut_run),
        ("join_per_layer", join_per_layer),
        ("nested_join", nested_join),
        ("async_dag", async_dag_run),
        ("dagx", dagx_run),
    ];
    let mut json = String::from("{\n");
    for (i, (name, run)) in contenders.iter().enumerate() {
        let started = Instant::now();
        let end = run();
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(end, 4, "{name}");
        println!("{name:>15}: {seconds:.3} s");
        let comma = if i + 1 == contenders.len() { "" } else { "," };
        json.push_str(&format!("  \"{name}\": {seconds:.6}{comma}\n"));
    }
    json.push_str("}\n");
    let path = write_output("makespan.json", &json).expect("write makespan.json");
    println!("wrote {}", path.display());
}
