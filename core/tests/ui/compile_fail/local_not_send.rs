//! The `Local` flavour holds node futures, functions and values that need not be `Send` or
//! `Sync` (`Rc`, `RefCell`): its DAG, builder, runs and outputs stay on their thread.

use std::convert::Infallible;

use dagfut::{
    DagFuture, Local, LocalDag, LocalDagBuilder, Outputs, OwnedOutputs, OwnedRun, SettledDagFuture,
    TryDagFuture,
};

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}

fn main() {
    is_send::<LocalDag<u32>>();
    is_sync::<LocalDag<u32>>();
    is_send::<LocalDagBuilder<u32>>();
    is_send::<DagFuture<'static, u32, Local>>();
    is_send::<TryDagFuture<'static, u32, Local, String>>();
    is_send::<SettledDagFuture<'static, u32, Local, String>>();
    is_send::<Outputs<'static, u32, Local>>();
    is_send::<OwnedRun<DagFuture<'static, u32, Local>, u32, Local, Infallible>>();
    is_send::<OwnedOutputs<u32, Local, Infallible>>();
}
