//! The two flavours of DAG — `Send` node futures or not — and what each makes `Send`/`Sync`.

use core::fmt;
use core::marker::PhantomData;

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

/// DAGs of `Send` node futures, `Send + Sync` functions and outputs: the [`Dag`](crate::Dag) is
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

/// Compile-time checks that the `unsafe impl Send` beside each public type applies: used as
/// `const _: () = assert_send::<T>();` next to the impl.
pub(crate) const fn assert_send<T: Send>() {}

/// As [`assert_send`], for `Sync`.
pub(crate) const fn assert_sync<T: Sync>() {}
