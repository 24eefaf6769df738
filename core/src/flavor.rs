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
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
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
#[diagnostic::on_unimplemented(
    message = "a `{K}` DAG cannot hold `{Self}`",
    label = "not `Send + Sync + 'static`",
    note = "the constants, states and outputs of a `DagBuilder` (`Sendable`, so its runs can be spawned on \
            any thread) are `Send + Sync`; use a `LocalDagBuilder` for `Rc`, `RefCell`, `Cell` and \
            other values that stay on one thread",
    note = "every value a DAG holds is `'static`: it outlives the runs that lend it"
)]
pub trait Value<K: Flavor>: 'static {}
#[diagnostic::do_not_recommend]
impl<T: Send + Sync + 'static> Value<Sendable> for T {}
#[diagnostic::do_not_recommend]
impl<T: 'static> Value<Local> for T {}

/// The error type of a DAG whose nodes cannot fail, `Infallible`: what
/// [`Dag::run`](crate::Dag::run) asks for. Sealed.
#[diagnostic::on_unimplemented(
    message = "this DAG's nodes can fail with `{Self}`: `run` is for DAGs whose nodes cannot fail",
    label = "the DAG's error type",
    note = "use `try_run` (stop at the first failure) or `run_settled` (let independent branches finish)"
)]
pub trait CannotFail: sealed::Sealed {}
impl sealed::Sealed for core::convert::Infallible {}
impl CannotFail for core::convert::Infallible {}

/// Compile-time checks that the `unsafe impl Send` beside each public type applies: used as
/// `const _: () = assert_send::<T>();` next to the impl.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) const fn assert_send<T: Send>() {}

/// As [`assert_send`], for `Sync`.
#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
pub(crate) const fn assert_sync<T: Sync>() {}
