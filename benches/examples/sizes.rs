//! The memory of one run of the seed graph, in bytes, as the compiler lays it out: the future
//! of a `dag!` (every node's future and output inside), the hand-shaped nested `join!`'s, and
//! a `Dag::run`'s future (whose node futures and outputs live in the arena it allocates).
//! Prints one JSON object for `benches/report.py`.
//!
//! `cargo run --release -p dagfut-benches --example sizes`

use dagfut_benches::Shape;
use dagfut_benches::contenders::{DagfutShape, seed_dag_macro, seed_nested_join};
use dagfut_benches::node::READY;

fn main() {
    let dag_macro = seed_dag_macro::<READY>();
    let dag_macro_run = std::mem::size_of_val(&dag_macro.run(&1));
    let nested_join = std::mem::size_of_val(&seed_nested_join::<READY>(1));
    let shape = Shape::seed();
    let dag = DagfutShape::build::<READY>(&shape);
    let dagfut_run = std::mem::size_of_val(&dag.run(1));
    println!(
        "{{\"dag_macro_seed_future\": {dag_macro_run}, \"nested_join_seed_future\": {nested_join}, \"dagfut_seed_run_future\": {dagfut_run}}}"
    );
}
