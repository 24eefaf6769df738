//! A long DAG — 3,000 nodes in 30 layers, each sleeping a few milliseconds and taking two
//! nodes of the layer before — with an indicatif progress bar fed by a `Progress` observer.
//!
//! ```text
//! cargo run --release --example progress
//! ```

use std::time::Duration;

use dagfut::{DagBuilder, Node, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use smol::Timer;

async fn source(ms: &u64) -> u64 {
    Timer::after(Duration::from_millis(*ms)).await;
    1
}

async fn combine(ms: &u64, a: &u64, b: &u64) -> u64 {
    Timer::after(Duration::from_millis(*ms)).await;
    a.wrapping_add(*b)
}

fn main() {
    const LAYERS: u64 = 30;
    const WIDTH: u64 = 100;
    let b = DagBuilder::<()>::new();
    let mut layer: Vec<Node<u64>> = (0..WIDTH)
        .map(|i| b.add_node(source, b.add_constant(1 + i % 7)))
        .collect();
    for depth in 1..LAYERS {
        layer = (0..WIDTH)
            .map(|i| {
                let delay = b.add_constant(1 + (i * 13 + depth * 7) % 20);
                let (left, right) = (layer[i as usize], layer[((i * 7 + 3) % WIDTH) as usize]);
                b.add_node(combine, (delay, left, right))
            })
            .collect();
    }
    let dag = b.build();

    let bar = ProgressBar::new(dag.task_count() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} nodes, {elapsed_precise}")
            .expect("a valid template"),
    );
    let progress = Progress::new(dag.task_count(), |done, _total| {
        bar.set_position(done as u64)
    });
    let out = smol::block_on(dag.run(&()).with_observer(progress));
    bar.finish();
    let total: u64 = layer
        .iter()
        .map(|&node| out[node])
        .fold(0, u64::wrapping_add);
    println!("{} nodes done; checksum {total}", dag.task_count());
}
