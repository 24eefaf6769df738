//! The seed library's first example, with real sleeps: the DAG against one `join` per layer.
//!
//! ```text
//! cargo run --release --example seed
//! ```

use std::sync::Mutex;
use std::time::{Duration, Instant};

use dagfut::DagBuilder;
use futures_util::future::{join, join3};
use smol::Timer;

/// When the current run started: each line is stamped with the time since then.
static RUN_START: Mutex<Option<Instant>> = Mutex::new(None);

fn start_clock() -> Instant {
    let now = Instant::now();
    *RUN_START.lock().unwrap() = Some(now);
    now
}

fn say(name: &str, what: &str) {
    let since = RUN_START
        .lock()
        .unwrap()
        .map_or(0.0, |t| t.elapsed().as_secs_f64());
    println!("[{since:4.2} s] {name} task {what}");
}

async fn inc_task(name: &&'static str, delay: &Duration, n: &u32) -> u32 {
    say(name, "started...");
    Timer::after(*delay).await;
    say(name, "done!");
    n + 1
}

async fn add_task(name: &&'static str, delay: &Duration, a: &u32, b: &u32) -> u32 {
    say(name, "started...");
    Timer::after(*delay).await;
    say(name, "done!");
    a + b
}

fn main() {
    let ms = Duration::from_millis;

    // Define the DAG once.
    let b = DagBuilder::<u32>::new();
    let fast_task_a = b.add_node(
        inc_task,
        (
            b.add_constant("fast_task_a"),
            b.add_constant(ms(100)),
            b.param(),
        ),
    );
    // slow_task_b takes fast_task_a's result: it starts the moment fast_task_a is done.
    let slow_task_b = b.add_node(
        inc_task,
        (
            b.add_constant("slow_task_b"),
            b.add_constant(ms(1000)),
            fast_task_a,
        ),
    );
    let slow_task_a = b.add_node(
        inc_task,
        (
            b.add_constant("slow_task_a"),
            b.add_constant(ms(500)),
            b.param(),
        ),
    );
    let fast_task_b = b.add_node(
        inc_task,
        (
            b.add_constant("fast_task_b"),
            b.add_constant(ms(100)),
            b.param(),
        ),
    );
    let fast_task_c = b.add_node(
        add_task,
        (
            b.add_constant("fast_task_c"),
            b.add_constant(ms(100)),
            slow_task_a,
            fast_task_b,
        ),
    );
    let end_task = b.add_node(
        add_task,
        (
            b.add_constant("end_task"),
            b.add_constant(ms(100)),
            fast_task_c,
            slow_task_b,
        ),
    );
    let dag = b.build();

    smol::block_on(async {
        println!("== the DAG: every task starts when its own inputs are ready");
        let started = start_clock();
        let out = dag.run(&0).await;
        let dag_time = started.elapsed();
        println!("fast_task_a = {}", out[fast_task_a]);
        println!("end_task = {}", out[end_task]);
        println!("DAG wall time: {:.2} s", dag_time.as_secs_f64());

        println!();
        println!("== the common way: one join per layer");
        let started = start_clock();
        let (a, slow_a, fast_b) = join3(
            inc_task(&"fast_task_a", &ms(100), &0),
            inc_task(&"slow_task_a", &ms(500), &0),
            inc_task(&"fast_task_b", &ms(100), &0),
        )
        .await;
        let (slow_b, fast_c) = join(
            inc_task(&"slow_task_b", &ms(1000), &a),
            add_task(&"fast_task_c", &ms(100), &slow_a, &fast_b),
        )
        .await;
        let end = add_task(&"end_task", &ms(100), &fast_c, &slow_b).await;
        let layered_time = started.elapsed();
        println!("fast_task_a = {a}");
        println!("end_task = {end}");
        println!(
            "one join per layer wall time: {:.2} s",
            layered_time.as_secs_f64()
        );

        println!();
        println!(
            "the DAG finished {:.2} s sooner ({:.2}x): see when slow_task_b started in each",
            layered_time.as_secs_f64() - dag_time.as_secs_f64(),
            layered_time.as_secs_f64() / dag_time.as_secs_f64()
        );
    });
}
