//! Benchmarks of dagfut against the code people write by hand, tokio tasks, and the other
//! DAG crates: shapes, workloads and contenders shared by the criterion benches, the
//! metrics and makespan examples, and the report.
//!
//! See `benches/README.md` for the commands.

#![deny(unsafe_code)]

pub mod contenders;
// The one exception: a `GlobalAlloc` is an unsafe trait (see the module's SAFETY comments).
#[allow(unsafe_code)]
pub mod counting_alloc;
pub mod node;
pub mod peers;
pub mod shape;
pub mod suite;

pub use shape::{Shape, XorShift};

/// The seed of every random layered DAG.
pub const GRAPH_SEED: u64 = 0x5EED_DA6F;

/// The seed of the shuffled wake order.
pub const WAKE_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// The shapes of issue 5: the seed graph, chains of 1k and 100k, wide 10k + 1, fan-out
/// 1 → 10k, a random layered DAG of 100k nodes (fan-in 1–4, seed [`GRAPH_SEED`]).
pub fn issue_shapes() -> Vec<Shape> {
    vec![
        Shape::seed(),
        Shape::chain(1_000),
        Shape::chain(100_000),
        Shape::wide(10_000),
        Shape::fan_out(10_000),
        Shape::layered(100_000, GRAPH_SEED),
    ]
}

/// Whether the process runs criterion's quick test mode (`-- --test`): each bench once, with
/// the largest sizes reduced so that CI stays fast.
pub fn quick_mode() -> bool {
    std::env::args().any(|arg| arg == "--test")
}

/// The sizes of the scaling series: 1,000 to 1,000,000 nodes (up to 100,000 in quick mode, or
/// up to `DAGFUT_BENCH_MAX_NODES` when set).
pub fn scaling_sizes() -> Vec<usize> {
    let max = std::env::var("DAGFUT_BENCH_MAX_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick_mode() { 100_000 } else { 1_000_000 });
    [1_000, 10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max)
        .collect()
}

/// Where the examples write their measurements for the report: `$CARGO_TARGET_DIR` (or the
/// workspace's `target/`) joined with `dagfut-benches/`.
pub fn output_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("dagfut-benches")
}

/// Writes `text` to `name` in [`output_dir`], creating it; returns the path.
pub fn write_output(name: &str, text: &str) -> std::io::Result<std::path::PathBuf> {
    let dir = output_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}
