//! The two flavours of DAG — `Send` node futures or not — and what each makes `Send`/`Sync`.

use core::fmt;
use core::marker::PhantomData;

use crate::builder::DagBuilder;
use crate::dag::Dag;
use crate::outputs::Outputs;
use crate::run::{DagFuture, SettledDagFuture, TryDagFuture};

mod sealed {
    pub trait Sealed {}
}

/// The type parameters of a builder, a DAG, a run or its outputs: `P` the parameter's type,
/// `K` the flavour, `E` the error type.
///
/// **Invariant** in `P` and `E`: a builder of `&'a str` parameters must not be viewed as one
/// of `&'static str` (its parameter handle would then be a `Node<&'static str>` and an output
/// could outlive the parameter), nor one whose nodes fail with `for<'a> fn(&'a String)` as one
/// that takes nodes failing with `fn(&'static String)` (the run would hand that error back
/// under the higher-ranked type). `fn(X) -> X` is invariant in `X` and `Send + Sync` whatever
/// `X` is, so the marker leaves the auto traits to the `unsafe impl`s beside each type.
pub(crate) type TypeMarker<P, K, E> = PhantomData<(fn(P) -> P, K, fn(E) -> E)>;

/// Which node futures a DAG takes: [`Sendable`] or [`Local`]. Sealed.
pub trait Flavor: sealed::Sealed + fmt::Debug + Send + Sync + Unpin + 'static {}

/// DAGs of `Send` node futures, `Send + Sync` functions and outputs: the [`Dag`] is
/// `Send + Sync` and its runs are `Send`, so they can be spawned on a multi-threaded executor.
#[derive(Debug)]
pub enum Sendable {}

/// DAGs whose node futures, functions or outputs need not be `Send` (`Rc`, `RefCell`,
/// peripherals of an embedded board): for single-threaded and embedded executors.
#[derive(Debug)]
pub enum Local {}

impl sealed::Sealed for Sendable {}
impl sealed::Sealed for Local {}
impl Flavor for Sendable {}
impl Flavor for Local {}

/// A value a DAG of flavour `K` can hold: any `'static` value in a [`Local`] DAG,
/// `Send + Sync` ones in a [`Sendable`] DAG.
pub trait Value<K: Flavor>: 'static {}
impl<T: Send + Sync + 'static> Value<Sendable> for T {}
impl<T: 'static> Value<Local> for T {}

/// What a node may borrow as an input in a DAG of flavour `K`: anything in a [`Local`] DAG,
/// `Sync` values in a [`Sendable`] DAG (a `Send` future holds `&A`).
pub trait Lent<K: Flavor> {}
impl<T: Sync + ?Sized> Lent<Sendable> for T {}
impl<T: ?Sized> Lent<Local> for T {}

/// What a node's future must be in a DAG of flavour `K`: anything in a [`Local`] DAG, `Send`
/// in a [`Sendable`] DAG.
pub trait NodeFuture<K: Flavor> {}
impl<T: Send + ?Sized> NodeFuture<Sendable> for T {}
impl<T: ?Sized> NodeFuture<Local> for T {}

// SAFETY: a `Sendable` DAG only ever stores functions that are `Send + Sync` and constants that
// are `Send + Sync` (the bounds of `add_node` and `add_constant` for `Sendable`); the rest of it
// is plain data that is never mutated after `build`.
unsafe impl<P, E> Send for Dag<P, Sendable, E> {}
// SAFETY: as above; a shared `Dag` is only read.
unsafe impl<P, E> Sync for Dag<P, Sendable, E> {}

// SAFETY: a `Sendable` builder holds what its `Dag` will (see above); it is not `Sync`
// (its `RefCell`), so it is only ever used from one thread at a time.
unsafe impl<P, E> Send for DagBuilder<P, Sendable, E> {}

// SAFETY: a run of a `Sendable` DAG holds `&P` (sent across threads: `P: Sync`), a shared
// `Dag` (`Sync`, above), node futures that are `Send` and outputs that are `Send + Sync`
// (the bounds of `add_node` for `Sendable`), and its waker block, which is thread-safe.
// The observer goes with the run, hence `O: Send`.
unsafe impl<P: Sync, O: Send> Send for DagFuture<'_, P, Sendable, O> {}
// SAFETY: `&DagFuture` gives access to nothing but counts for `Debug`.
unsafe impl<P: Sync, O: Sync> Sync for DagFuture<'_, P, Sendable, O> {}

// SAFETY: as for `DagFuture`; the run also holds errors of type `E`, hence `E: Send`, which
// `&TryDagFuture` does not give access to.
unsafe impl<P: Sync, E: Send, O: Send> Send for TryDagFuture<'_, P, Sendable, E, O> {}
// SAFETY: `&TryDagFuture` gives access to nothing but counts for `Debug`.
unsafe impl<P: Sync, E, O: Sync> Sync for TryDagFuture<'_, P, Sendable, E, O> {}
// SAFETY: as for `TryDagFuture`.
unsafe impl<P: Sync, E: Send, O: Send> Send for SettledDagFuture<'_, P, Sendable, E, O> {}
// SAFETY: as for `TryDagFuture`.
unsafe impl<P: Sync, E, O: Sync> Sync for SettledDagFuture<'_, P, Sendable, E, O> {}

// SAFETY: outputs of a `Sendable` DAG are `Send + Sync`, as are its constants, and `&P` is
// `Send + Sync` when `P: Sync`.
unsafe impl<P: Sync> Send for Outputs<'_, P, Sendable> {}
// SAFETY: as above; shared outputs are only read.
unsafe impl<P: Sync> Sync for Outputs<'_, P, Sendable> {}
