//! The outputs, the runs and a named-node builder are covariant in the lifetime of their
//! borrow (of the DAG, the parameter or the builder): a longer borrow can be used where a
//! shorter one is expected, as with any reference.

use dagfut::{
    DagBuilder, DagFuture, Named, Outputs, Sendable, Settled, SettledDagFuture, TryDagFuture,
};
use futures_executor::block_on;

fn outputs<'s, 'l: 's>(x: Outputs<'l, u32>) -> Outputs<'s, u32> {
    x
}

fn dag_future<'s, 'l: 's>(x: DagFuture<'l, u32>) -> DagFuture<'s, u32> {
    x
}

fn try_dag_future<'s, 'l: 's>(
    x: TryDagFuture<'l, u32, Sendable, String>,
) -> TryDagFuture<'s, u32, Sendable, String> {
    x
}

fn settled_dag_future<'s, 'l: 's>(
    x: SettledDagFuture<'l, u32, Sendable, String>,
) -> SettledDagFuture<'s, u32, Sendable, String> {
    x
}

fn settled<'s, 'l: 's>(
    x: Settled<'l, u32, Sendable, String>,
) -> Settled<'s, u32, Sendable, String> {
    x
}

fn named<'s, 'l: 's>(x: Named<'l, u32, Sendable, String>) -> Named<'s, u32, Sendable, String> {
    x
}

async fn double(n: &u32) -> u32 {
    n * 2
}

async fn check(n: &u32) -> Result<u32, String> {
    Ok(*n)
}

fn main() {
    let b = DagBuilder::<u32>::new().with_error::<String>();
    let doubled = named(b.named("double")).add_node(double, b.param());
    let checked = b.add_try_node(check, doubled);
    let dag = b.build();
    let param = 21;
    let settled_run = block_on(settled_dag_future(dag.run_settled(&param)));
    assert!(settled_run.is_ok());
    assert_eq!(settled(settled_run).outputs[checked], 42);
    let out = block_on(try_dag_future(dag.try_run(&param))).unwrap();
    assert_eq!(outputs(out)[doubled], 42);
    let _ = dag_future;
}
