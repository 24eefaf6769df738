//! A run of a `Sendable` DAG moves to another thread only with what it holds: a `&P` (so
//! `P: Sync`), its errors (`E: Send`) and its observer (`O: Send`). Its outputs hold the
//! `&P` too. An owned run and its outputs own the parameter, so it must also be `Send`.

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::MutexGuard;

use dagfut::{
    DagFuture, NodeEvent, Observer, Outputs, OwnedOutputs, OwnedRun, Sendable, SettledDagFuture,
    TryDagFuture,
};

/// An observer that is neither `Send` nor `Sync`.
struct Shared(Rc<Cell<usize>>);

impl Observer for Shared {
    fn on_event(&mut self, _task: usize, _event: NodeEvent) {
        self.0.set(self.0.get() + 1);
    }
}

fn is_send<T: Send>() {}

fn main() {
    // The parameter is not `Sync`.
    is_send::<DagFuture<'static, Cell<u32>>>();
    is_send::<TryDagFuture<'static, Cell<u32>, Sendable, String>>();
    is_send::<SettledDagFuture<'static, Cell<u32>, Sendable, String>>();
    is_send::<Outputs<'static, Cell<u32>>>();
    is_send::<OwnedOutputs<Cell<u32>, Sendable, Infallible>>();
    // The parameter is `Sync` but not `Send`: an owned run or its outputs could drop it on
    // another thread.
    is_send::<
        OwnedRun<
            DagFuture<'static, MutexGuard<'static, u32>>,
            MutexGuard<'static, u32>,
            Sendable,
            Infallible,
        >,
    >();
    is_send::<OwnedOutputs<MutexGuard<'static, u32>, Sendable, Infallible>>();
    // The error is not `Send`.
    is_send::<TryDagFuture<'static, u32, Sendable, Rc<String>>>();
    is_send::<SettledDagFuture<'static, u32, Sendable, Rc<String>>>();
    // The observer is not `Send`.
    is_send::<DagFuture<'static, u32, Sendable, Shared>>();
}
