//! The controls of `compile_fail/*_variance.rs`: the same signatures compile when no lifetime
//! changes, and a DAG whose parameter type borrows (`P = &'a str`) builds and runs.

use std::convert::Infallible;

use dagfut::marker::Try;
use dagfut::{
    Dag, DagBuilder, DagFuture, Named, Node, Outputs, OwnedOutputs, OwnedRun, Sendable, Settled,
    SettledDagFuture, TryDagFuture,
};
use futures_executor::block_on;

type AnyLifetime = for<'s> fn(&'s String);

fn builder<'a>(x: &'a DagBuilder<&'a str>) -> &'a DagBuilder<&'a str> {
    x
}

fn builder_error<'a>(
    x: &'a DagBuilder<(), Sendable, AnyLifetime>,
) -> &'a DagBuilder<(), Sendable, AnyLifetime> {
    x
}

fn dag<'a>(x: &'a Dag<&'a str, Sendable, &'a str>) -> &'a Dag<&'a str, Sendable, &'a str> {
    x
}

fn named<'a>(
    x: Named<'a, &'a str, Sendable, Infallible>,
) -> Named<'a, &'a str, Sendable, Infallible> {
    x
}

fn node<'a>(x: Node<&'a str>) -> Node<&'a str> {
    x
}

fn outputs<'a>(x: Outputs<'a, &'a str>) -> Outputs<'a, &'a str> {
    x
}

fn dag_future<'a>(x: DagFuture<'a, &'a str>) -> DagFuture<'a, &'a str> {
    x
}

fn try_dag_future<'a>(
    x: TryDagFuture<'a, &'a str, Sendable, AnyLifetime>,
) -> TryDagFuture<'a, &'a str, Sendable, AnyLifetime> {
    x
}

fn settled_dag_future<'a>(
    x: SettledDagFuture<'a, &'a str, Sendable, &'a str>,
) -> SettledDagFuture<'a, &'a str, Sendable, &'a str> {
    x
}

fn settled<'a>(
    x: Settled<'a, &'a str, Sendable, String>,
) -> Settled<'a, &'a str, Sendable, String> {
    x
}

fn try_mode<'a>(x: &'a Try<&'static str>) -> &'a Try<&'static str> {
    x
}

fn owned_outputs<'a>(
    x: &'a OwnedOutputs<&'a str, Sendable, AnyLifetime>,
) -> &'a OwnedOutputs<&'a str, Sendable, AnyLifetime> {
    x
}

fn owned_run<'a>(
    x: &'a OwnedRun<(), AnyLifetime, Sendable, &'a str>,
) -> &'a OwnedRun<(), AnyLifetime, Sendable, &'a str> {
    x
}

async fn len(text: &&'static str) -> usize {
    text.len()
}

/// A DAG of a borrowed parameter type builds and runs, and its parameter's handle is a
/// `Node<&'a str>` (no node can take it: inputs are `'static`).
fn run_borrowed<'a>(text: &'a str) -> usize {
    let b = DagBuilder::<&'a str>::new();
    let _param: Node<&'a str> = node(b.param());
    let n = b.named("len").add_node(len, b.add_constant("constant"));
    let dag = b.build();
    let out = block_on(dag.run(&text));
    out[n]
}

fn main() {
    let text = String::from("borrowed");
    assert_eq!(run_borrowed(&text), "constant".len());
    let _ = (
        builder,
        builder_error,
        outputs,
        dag_future,
        dag,
        named,
        try_dag_future,
        settled_dag_future,
        settled,
        try_mode,
        owned_outputs,
        owned_run,
    );
}
