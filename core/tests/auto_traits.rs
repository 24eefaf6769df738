//! `Send`, `Sync` and `Unpin` of the public types, asserted at compile time.

use dagfut::{
    BuildError, Dag, DagBuilder, DagFuture, DagId, LocalDag, LocalDagBuilder, Node, NodeId,
    OutputError, Outputs,
};
use static_assertions::{assert_impl_all, assert_not_impl_any};
use std::rc::Rc;

assert_impl_all!(Dag<u32>: Send, Sync);
assert_impl_all!(DagFuture<'static, u32>: Send, Sync, Unpin);
assert_impl_all!(Outputs<'static, u32>: Send, Sync);
assert_impl_all!(Node<Rc<u32>>: Send, Sync, Copy, Unpin);
assert_impl_all!(DagId: Send, Sync, Copy);
assert_impl_all!(NodeId: Send, Sync, Copy);
assert_impl_all!(BuildError: Send, Sync, std::error::Error);
assert_impl_all!(OutputError: Send, Sync, std::error::Error);
assert_impl_all!(DagBuilder<u32>: Send);

// A run borrowing a parameter that is not `Sync` cannot move to another thread.
assert_not_impl_any!(DagFuture<'static, std::cell::Cell<u32>>: Send);
// The local flavour holds futures and values that need not be `Send`.
assert_not_impl_any!(LocalDag<u32>: Send, Sync);
assert_not_impl_any!(DagFuture<'static, u32, dagfut::Local>: Send);
assert_not_impl_any!(LocalDagBuilder<u32>: Sync);

#[test]
fn a_run_of_a_sendable_dag_can_be_sent_to_another_thread() {
    async fn inc(n: &u32) -> u32 {
        n + 1
    }
    let b = DagBuilder::<u32>::new();
    let x = b.add_node(inc, b.param());
    let dag = b.build();
    let param = 1;
    let value = std::thread::scope(|scope| {
        let run = dag.run(&param);
        scope
            .spawn(move || futures_executor::block_on(run)[x])
            .join()
            .unwrap()
    });
    assert_eq!(value, 2);
}
