//! Lists of handles beside plain inputs: a report node takes a title, every sensor's reading
//! (a list), every sensor's name (another list) and a threshold.
//!
//! ```text
//! cargo run -p dagfut --example mixed_inputs
//! ```

use dagfut::DagBuilder;

async fn read(sensor: &u32, seed: &u32) -> f64 {
    f64::from((sensor * 37 + seed) % 100) / 10.0
}

async fn name(sensor: &u32) -> String {
    format!("sensor-{sensor}")
}

/// `f(&title, &[&reading..], &[&name..], &threshold)`: the two lists come as slices.
async fn report(title: &String, readings: &[&f64], names: &[&String], threshold: &f64) -> String {
    let over: Vec<&str> = readings
        .iter()
        .zip(names)
        .filter(|(reading, _)| **reading > threshold)
        .map(|(_, name)| name.as_str())
        .collect();
    format!(
        "{title}: {} of {} over {threshold}: {over:?}",
        over.len(),
        readings.len()
    )
}

fn main() {
    let b = DagBuilder::<u32>::new();
    let sensors: Vec<_> = (0..6).map(|s| b.add_constant(s)).collect();
    let readings: Vec<_> = sensors
        .iter()
        .map(|&s| b.add_node(read, (s, b.param())))
        .collect();
    let names: Vec<_> = sensors.iter().map(|&s| b.add_node(name, s)).collect();
    let report = b.add_node(
        report,
        (
            b.add_constant("hall".to_string()),
            readings,
            names,
            b.add_constant(5.0),
        ),
    );
    let dag = b.build();
    for seed in [1, 42] {
        let out = futures_executor::block_on(dag.run(&seed));
        println!("seed {seed}: {}", out[report]);
    }
}
