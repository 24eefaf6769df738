//! The seed graph's run as `tracing` spans, printed by `tracing-subscriber`'s fmt layer as each
//! closes: one `dagfut.run` span, and inside it one `dagfut.node` span per node, with the node's
//! name, task index and DAG id.
//!
//! ```text
//! cargo run -p dagfut --features tracing --example tracing
//! ```

use std::time::Duration;

use dagfut::DagBuilder;
use tracing_subscriber::fmt::format::FmtSpan;

async fn inc(delay: &u64, n: &u32) -> u32 {
    smol::Timer::after(Duration::from_millis(*delay)).await;
    n + 1
}

async fn add(delay: &u64, a: &u32, b: &u32) -> u32 {
    smol::Timer::after(Duration::from_millis(*delay)).await;
    a + b
}

fn main() {
    tracing_subscriber::fmt()
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .init();

    // The seed's graph, its delays divided by 10 (10 ms instead of 100 ms).
    let b = DagBuilder::<u32>::new();
    let ms = |n: u64| b.add_constant(n);
    let fast_a = b.named("fast_a").add_node(inc, (ms(10), b.param()));
    let slow_b = b.named("slow_b").add_node(inc, (ms(100), fast_a));
    let slow_a = b.named("slow_a").add_node(inc, (ms(50), b.param()));
    let fast_b = b.named("fast_b").add_node(inc, (ms(10), b.param()));
    let fast_c = b.named("fast_c").add_node(add, (ms(10), slow_a, fast_b));
    let end = b.named("end").add_node(add, (ms(10), fast_c, slow_b));
    let dag = b.build();

    let out = smol::block_on(dag.run(&0));
    println!("end = {}", out[end]);
}
