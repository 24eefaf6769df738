//! Allocations, bytes, polls and peak memory of runs, with a counting global allocator:
//! dagfut against the hand-written baselines on every shape, and the scaling series.
//!
//! Each contender's first run is measured on its own (for dagfut: the first run of a freshly
//! built `Dag`, whose bytes less the nodes' own futures are the scheduler's bytes per node),
//! then the runs after it together: their allocations per run are the *allocations per run
//! after a warm-up run* (0 for a scheduler that reuses its run state).
//!
//! ```text
//! cargo run --release -p dagfut-benches --example allocations            # up to 1M nodes
//! cargo run --release -p dagfut-benches --example allocations -- --quick # up to 100k (CI)
//! ```
//!
//! Runs that overlap, as a service runs one DAG for several requests at once, are measured
//! too: `k` runs of one `Dag` of the seed graph at once (nodes that pend once, so that every
//! run holds its memory until all have started), after one such round as a warm-up.
//!
//! Prints a table and writes `$CARGO_TARGET_DIR/dagfut-benches/metrics.json` for the report.

use std::fmt::Write as _;

use dagfut_benches::contenders::{DagfutShape, Plan, chain_await_loop, seed_nested_join};
use dagfut_benches::counting_alloc::{Counting, Counts, measure};
use dagfut_benches::node::{COUNT, PEND, READY, drive, many, n1, n2, n3, n4, polls, reset_polls};
use dagfut_benches::peers::AsyncDagShape;
use dagfut_benches::{GRAPH_SEED, Shape, WAKE_SEED, XorShift, write_output};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The bytes of a node's own future (or output, if larger) for a node of `arity` inputs: what
/// any executor must store per node, so it is not counted as the scheduler's.
fn own_bytes(arity: usize) -> usize {
    let x = 0u64;
    let refs = vec![&x; arity];
    let future = match arity {
        0 | 1 => size_of_val(&n1::<PEND>(&x)),
        2 => size_of_val(&n2::<PEND>(&x, &x)),
        3 => size_of_val(&n3::<PEND>(&x, &x, &x)),
        4 => size_of_val(&n4::<PEND>(&x, &x, &x, &x)),
        _ => size_of_val(&many::<PEND>(&refs)),
    };
    future
        .max(size_of::<u64>())
        .next_multiple_of(align_of::<u64>())
}

/// How many runs after the first are measured together, for the allocations per run after a
/// warm-up run.
const WARM_RUNS: usize = 3;

/// One measured row.
struct Row {
    shape: String,
    nodes: usize,
    contender: &'static str,
    workload: &'static str,
    /// The first run of this contender (for dagfut: the first run of a freshly built `Dag`).
    first: Counts,
    /// The [`WARM_RUNS`] runs after it, together.
    warm: Counts,
    polls: u64,
    /// For dagfut: the built DAG's allocations and bytes, and the nodes' own bytes.
    build: Option<Counts>,
    own: usize,
}

/// Measures the first run of `measured`, then [`WARM_RUNS`] more (allocations, bytes), and
/// counts the node polls of one run of `counted` (the same contender in mode [`COUNT`]).
fn row(
    shape: &Shape,
    contender: &'static str,
    workload: &'static str,
    mut measured: impl FnMut() -> u64,
    counted: impl FnOnce() -> u64,
) -> Row {
    // The counting twin runs first: besides counting the polls, it grows the pend driver's
    // thread-local wake lists, which are the driver's memory, not the contender's.
    reset_polls();
    counted();
    let polls = polls();
    let (_, first) = measure(&mut measured);
    let (_, warm) = measure(|| {
        for _ in 0..WARM_RUNS {
            measured();
        }
    });
    Row {
        shape: shape.name.clone(),
        nodes: shape.len(),
        contender,
        workload,
        first,
        warm,
        polls,
        build: None,
        own: 0,
    }
}

/// One row per workload of a contender given as a function generic over the mode:
/// `measured!(rows, shape, random, "name", f(args))` runs `f::<READY>(args)` or
/// `f::<PEND>(args)` under [`drive`], and its `COUNT` twin for the polls.
macro_rules! measured {
    ($rows:expr, $shape:expr, $random:expr, $pend:expr, $name:literal,
     $($f:ident)::+ ($($arg:expr),*)) => {{
        let mut twin = $random.clone();
        let measured = if $pend {
            row(
                $shape,
                $name,
                "pend",
                || drive($($f)::+::<PEND>($($arg),*), &mut $random),
                || drive($($f)::+::<{ PEND | COUNT }>($($arg),*), &mut twin),
            )
        } else {
            row(
                $shape,
                $name,
                "ready",
                || drive($($f)::+::<READY>($($arg),*), &mut $random),
                || drive($($f)::+::<{ READY | COUNT }>($($arg),*), &mut twin),
            )
        };
        $rows.push(measured);
    }};
}

fn measure_shape(shape: &Shape, rows: &mut Vec<Row>, peers: bool) {
    let mut random = XorShift::new(WAKE_SEED);
    let own: usize = shape.inputs.iter().map(|i| own_bytes(i.len())).sum();
    let plan = Plan::new(shape);
    for pend in [false, true] {
        let workload = if pend { "pend" } else { "ready" };
        let (dag, build) = measure(|| {
            if pend {
                DagfutShape::build::<PEND>(shape)
            } else {
                DagfutShape::build::<READY>(shape)
            }
        });
        let counting = if pend {
            DagfutShape::build::<{ PEND | COUNT }>(shape)
        } else {
            DagfutShape::build::<{ READY | COUNT }>(shape)
        };
        let mut twin = random.clone();
        let mut dagfut = row(
            shape,
            "dagfut",
            workload,
            || drive(dag.run(1), &mut random),
            || drive(counting.run(1), &mut twin),
        );
        dagfut.build = Some(build);
        dagfut.own = own;
        rows.push(dagfut);
        drop((dag, counting));

        if shape.name == "seed" {
            measured!(
                rows,
                shape,
                random,
                pend,
                "nested_join",
                seed_nested_join(1)
            );
        }
        if shape.name == "chain" {
            let n = shape.len();
            measured!(
                rows,
                shape,
                random,
                pend,
                "await_loop",
                chain_await_loop(n, 1)
            );
        }
        measured!(
            rows,
            shape,
            random,
            pend,
            "join_all_per_layer",
            Plan::join_all_per_layer(&plan, 1)
        );
        measured!(
            rows,
            shape,
            random,
            pend,
            "futures_unordered",
            Plan::futures_unordered(&plan, 1)
        );
        measured!(
            rows,
            shape,
            random,
            pend,
            "futures_buffered_flat",
            Plan::flat_join(&plan, 1)
        );

        if peers && AsyncDagShape::supports(shape) {
            let mut twin = random.clone();
            let measured = if pend {
                row(
                    shape,
                    "async_dag",
                    workload,
                    || drive(AsyncDagShape::build::<PEND>(shape, 1).run(), &mut random),
                    || {
                        drive(
                            AsyncDagShape::build::<{ PEND | COUNT }>(shape, 1).run(),
                            &mut twin,
                        )
                    },
                )
            } else {
                row(
                    shape,
                    "async_dag",
                    workload,
                    || drive(AsyncDagShape::build::<READY>(shape, 1).run(), &mut random),
                    || {
                        drive(
                            AsyncDagShape::build::<{ READY | COUNT }>(shape, 1).run(),
                            &mut twin,
                        )
                    },
                )
            };
            rows.push(measured);
        }
    }
}

/// An average per run: whole numbers as such, others with two decimals.
fn per_run(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value}")
    } else {
        format!("{value:.2}")
    }
}

/// The peak heap of building and running a dagfut DAG of `nodes` layered nodes.
fn peak_of_scaling_run(nodes: usize) -> (usize, Counts) {
    let shape = Shape::layered(nodes, GRAPH_SEED);
    let mut random = XorShift::new(WAKE_SEED);
    let (_, counts) = measure(|| {
        let dag = DagfutShape::build::<READY>(&shape);
        drive(dag.run(1), &mut random)
    });
    (nodes, counts)
}

/// The process's peak resident memory (`VmHWM`), in kB, where `/proc` has it.
fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many rounds of overlapping runs are counted, after the warm-up round.
const OVERLAP_ROUNDS: usize = 4;

/// Allocations per run of `k` runs at once of `dag` (the seed graph, nodes that pend once),
/// for each `k` measured: one round of `k` runs at once as a warm-up, then
/// [`OVERLAP_ROUNDS`] more, counted. `join!` allocates nothing of its own.
fn overlapping_runs(dag: &DagfutShape) -> Vec<(usize, f64)> {
    let mut random = XorShift::new(WAKE_SEED);
    let mut per_run = Vec::new();
    macro_rules! at_once {
        ($($param:literal),+) => {{
            let k = [$($param),+].len();
            let mut round = || drive(async { futures::join!($(dag.run($param)),+) }, &mut random);
            round();
            let (_, counts) = measure(|| {
                for _ in 0..OVERLAP_ROUNDS {
                    round();
                }
            });
            per_run.push((k, counts.allocations as f64 / (OVERLAP_ROUNDS * k) as f64));
        }};
    }
    at_once!(1);
    at_once!(1, 2);
    at_once!(1, 2, 3, 4);
    at_once!(1, 2, 3, 4, 5, 6, 7, 8);
    at_once!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    per_run
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let max = if quick { 100_000 } else { 1_000_000 };
    let mut rows = Vec::new();
    let shapes = dagfut_benches::issue_shapes();
    for shape in &shapes {
        measure_shape(shape, &mut rows, true);
    }
    let mut scaling = Vec::new();
    for nodes in [1_000, 10_000, 100_000, 1_000_000] {
        if nodes > max {
            continue;
        }
        let shape = Shape::layered(nodes, GRAPH_SEED);
        let mut series = Vec::new();
        measure_shape(&shape, &mut series, false);
        for row in &mut series {
            row.shape = "scaling".into();
        }
        rows.extend(series);
        scaling.push(peak_of_scaling_run(nodes));
    }

    println!(
        "| shape | nodes | workload | contender | allocations: first run | allocations per run after a warm-up run | bytes/node per run after warm-up | scheduler bytes/node (first run) | polls/node |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut json = format!("{{\n  \"warm_runs\": {WARM_RUNS},\n  \"rows\": [\n");
    for (i, r) in rows.iter().enumerate() {
        let warm_allocations = r.warm.allocations as f64 / WARM_RUNS as f64;
        let warm_bytes = r.warm.bytes as f64 / WARM_RUNS as f64;
        let scheduler = (r.contender == "dagfut")
            .then(|| (r.first.bytes as f64 - r.own as f64) / r.nodes as f64);
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.2} |",
            r.shape,
            r.nodes,
            r.workload,
            r.contender,
            r.first.allocations,
            per_run(warm_allocations),
            warm_bytes / r.nodes as f64,
            scheduler.map_or(String::new(), |s| format!("{s:.1}")),
            r.polls as f64 / r.nodes as f64
        );
        let build = r.build.unwrap_or_default();
        let _ = writeln!(
            json,
            "    {{\"shape\": \"{}\", \"nodes\": {}, \"workload\": \"{}\", \"contender\": \"{}\", \
             \"first_allocations\": {}, \"first_bytes\": {}, \"warm_allocations\": {}, \
             \"warm_bytes\": {}, \"polls\": {}, \"own_bytes\": {}, \"build_allocations\": {}, \
             \"build_bytes\": {}}}{}",
            r.shape,
            r.nodes,
            r.workload,
            r.contender,
            r.first.allocations,
            r.first.bytes,
            r.warm.allocations,
            r.warm.bytes,
            r.polls,
            r.own,
            build.allocations,
            build.bytes,
            if i + 1 == rows.len() { "" } else { "," }
        );
    }
    json.push_str("  ],\n  \"scaling_peak\": [\n");
    println!();
    println!("| layered nodes | peak heap of build + run | per node |");
    println!("|---|---|---|");
    for (i, (nodes, counts)) in scaling.iter().enumerate() {
        println!(
            "| {nodes} | {} | {:.1} |",
            counts.peak,
            counts.peak as f64 / *nodes as f64
        );
        let _ = writeln!(
            json,
            "    {{\"nodes\": {nodes}, \"peak\": {}}}{}",
            counts.peak,
            if i + 1 == scaling.len() { "" } else { "," }
        );
    }
    let seed = DagfutShape::build::<PEND>(&Shape::seed());
    let kept = seed.dag.kept_runs();
    let overlapping = overlapping_runs(&seed);
    println!();
    println!(
        "| runs at once (seed graph, pend-once; the `Dag` keeps {kept}) | allocations per run after a warm-up round |"
    );
    println!("|---|---|");
    json.push_str(&format!(
        "  ],\n  \"kept_runs\": {kept},\n  \"overlapping\": [\n"
    ));
    for (i, (k, allocations)) in overlapping.iter().enumerate() {
        println!("| {k} | {} |", per_run(*allocations));
        let _ = writeln!(
            json,
            "    {{\"runs\": {k}, \"allocations_per_run\": {allocations}}}{}",
            if i + 1 == overlapping.len() { "" } else { "," }
        );
    }
    let hwm = vm_hwm_kb();
    println!("\nprocess peak resident memory (VmHWM): {hwm:?} kB");
    let _ = write!(
        json,
        "  ],\n  \"vm_hwm_kb\": {},\n  \"quick\": {quick}\n}}\n",
        hwm.map_or("null".to_string(), |v| v.to_string())
    );
    let path = write_output("metrics.json", &json).expect("write metrics.json");
    println!("wrote {}", path.display());
}
