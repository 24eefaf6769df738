//! Two CPU-bound nodes, computed in the run's own future and then offloaded to tokio's
//! blocking pool: on two cores, the offloaded pair takes about the time of one.
//!
//! ```text
//! cargo run --release -p dagfut-tokio --example offload
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use dagfut::DagBuilder;

/// About `rounds` million multiply-adds: a stand-in for real CPU work.
fn crunch(rounds: u64) -> u64 {
    let mut x = 1u64;
    for i in 0..rounds * 1_000_000 {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    x
}

async fn inline(rounds: &u64) -> u64 {
    crunch(*rounds)
}

async fn offloaded(rounds: &u64) -> u64 {
    let rounds = *rounds;
    dagfut_tokio::offload_blocking(move || crunch(rounds)).await
}

async fn both(a: &u64, b: &u64) -> u64 {
    a ^ b
}

async fn time_it(offload: bool, rounds: u64) -> Duration {
    let b = DagBuilder::<u64>::new();
    let (left, right) = if offload {
        (
            b.add_node(offloaded, b.param()),
            b.add_node(offloaded, b.param()),
        )
    } else {
        (b.add_node(inline, b.param()), b.add_node(inline, b.param()))
    };
    let sum = b.add_node(both, (left, right));
    let dag = b.build();
    let started = Instant::now();
    black_box(dag.run(&rounds).await[sum]);
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds = 300;
    let single = {
        let started = Instant::now();
        black_box(crunch(rounds));
        started.elapsed()
    };
    let inline = time_it(false, rounds).await;
    let offloaded = time_it(true, rounds).await;
    println!("one node alone:                {single:>10.2?}");
    println!("two nodes in the run's future: {inline:>10.2?}");
    println!("two nodes offloaded:           {offloaded:>10.2?}");
    println!(
        "offloading: {:.2}x faster on {} cores",
        inline.as_secs_f64() / offloaded.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}
