//! Runs the seed's graph with real sleeps and shows where the time went: writes `trace.json`
//! (open it in Perfetto) and `gantt.svg`, prints the graph and the Gantt chart as Mermaid, and
//! the critical path with each node's slack.
//!
//! ```text
//! cargo run --example trace [-- OUTPUT_DIR]   # default: target/dagfut-trace
//! ```

use std::time::Duration;

use dagfut::DagBuilder;
use dagfut::trace::{Recorder, StdClock};
use smol::Timer;

async fn inc(delay: &Duration, n: &u32) -> u32 {
    Timer::after(*delay).await;
    n + 1
}

async fn add(delay: &Duration, a: &u32, b: &u32) -> u32 {
    Timer::after(*delay).await;
    a + b
}

fn main() -> std::io::Result<()> {
    // Written under `target/` unless a directory is given (`-- docs` refreshes the README's).
    let out_dir =
        std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/dagfut-trace").into()
        }));
    std::fs::create_dir_all(&out_dir)?;

    let ms = |ms| Duration::from_millis(ms);
    let b = DagBuilder::<u32>::new();
    let d = |delay| b.add_constant(ms(delay));
    let fast_a = b.named("FastTask_A").add_node(inc, (d(100), b.param()));
    let slow_b = b.named("SlowTask_B").add_node(inc, (d(1000), fast_a));
    let slow_a = b.named("SlowTask_A").add_node(inc, (d(500), b.param()));
    let fast_b = b.named("FastTask_B").add_node(inc, (d(100), b.param()));
    let fast_c = b
        .named("FastTask_C")
        .add_node(add, (d(100), slow_a, fast_b));
    b.named("EndTask").add_node(add, (d(100), fast_c, slow_b));
    let dag = b.build();

    println!("{}", dag.to_mermaid());

    let mut recorder = Recorder::new(&dag, StdClock::new());
    smol::block_on(dag.run(&0).with_observer(&mut recorder));
    let trace = recorder.trace();

    let json = out_dir.join("trace.json");
    let svg = out_dir.join("gantt.svg");
    std::fs::write(&json, trace.to_chrome_json())?;
    std::fs::write(&svg, trace.to_svg())?;
    println!("{}", trace.to_mermaid_gantt());

    let critical = trace.critical_path();
    println!("critical path: {critical}");
    for span in &trace.spans {
        match critical.slack[span.task] {
            Some(slack) => println!("  {:<12} slack {:.3} s", span.name, slack.as_secs_f64()),
            // Only a node that completed has a slack: a failed, cancelled or skipped one not.
            None => println!("  {:<12} {}", span.name, span.outcome.as_str()),
        }
    }
    println!("wrote {} and {}", json.display(), svg.display());
    Ok(())
}
