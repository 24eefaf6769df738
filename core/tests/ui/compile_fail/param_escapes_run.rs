//! The audit's use-after-free, end to end: a node that keeps its `&'static str` input takes
//! the parameter of a DAG of `&'a str` parameters, and its output outlives the run's
//! parameter. `Node<&'a str>` cannot become a `Node<&'static str>` (nor the builder one of
//! `&'static str` parameters), and node inputs are `'static`, so the parameter cannot be
//! such an input.

use dagfut::DagBuilder;
use futures_executor::block_on;

async fn keep(text: &&'static str) -> &'static str {
    text
}

fn escape(text: &str) -> &'static str {
    let b = DagBuilder::<&str>::new();
    let kept = b.add_node(keep, b.param());
    let dag = b.build();
    let out = block_on(dag.run(&text));
    out[kept]
}

fn main() {
    let text = String::from("freed after the run");
    let kept = escape(&text);
    drop(text);
    println!("{kept}");
}
