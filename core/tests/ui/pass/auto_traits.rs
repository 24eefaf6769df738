//! The controls of `compile_fail/local_not_send.rs`, `run_not_send.rs` and
//! `builder_not_sync.rs`: the same checks pass for a `Sendable` DAG with a `Sync` parameter,
//! `Send` errors and observer.

use std::convert::Infallible;

use dagfut::{
    Dag, DagBuilder, DagFuture, NodeEvent, Observer, Outputs, OwnedOutputs, OwnedRun,
    OwnedSettled, Sendable, SettledDagFuture, TryDagFuture,
};

/// An observer that is `Send + Sync`.
struct Count(usize);

impl Observer for Count {
    fn on_event(&mut self, _task: usize, _event: NodeEvent) {
        self.0 += 1;
    }
}

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}

fn main() {
    is_send::<Dag<u32>>();
    is_sync::<Dag<u32>>();
    is_send::<DagBuilder<u32>>();
    is_send::<DagFuture<'static, u32>>();
    is_send::<TryDagFuture<'static, u32, Sendable, String>>();
    is_send::<SettledDagFuture<'static, u32, Sendable, String>>();
    is_send::<Outputs<'static, u32>>();
    is_send::<DagFuture<'static, u32, Sendable, Count>>();
    is_send::<OwnedRun<DagFuture<'static, u32>, u32, Sendable, Infallible>>();
    is_send::<OwnedOutputs<u32, Sendable, Infallible>>();
    is_sync::<OwnedOutputs<u32, Sendable, Infallible>>();
    is_send::<OwnedRun<DagFuture<'static, u32, Sendable, Count>, u32, Sendable, Infallible>>();
    is_send::<OwnedRun<TryDagFuture<'static, u32, Sendable, String, Count>, u32, Sendable, String>>();
    is_send::<
        OwnedRun<SettledDagFuture<'static, u32, Sendable, String, Count>, u32, Sendable, String>,
    >();
    is_send::<OwnedSettled<u32, Sendable, String>>();
    is_sync::<OwnedSettled<u32, Sendable, String>>();
    let _ = Count(0);
}
