//! What a node's inputs can be: a tuple of 0 to 12 elements, or one element, each element a
//! handle or a list of handles of one type.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::convert::Infallible;

use crate::error::BuildError;
use crate::flavor::{Flavor, Local, Sendable, Value};
use crate::node::{DagId, Node, Optional};
use crate::policy::{Attempts, Fallback, Timer, WithPolicy};
use crate::slots::MAX_INPUT_EDGES;
use crate::task::{
    ErasedTask, Guard, GuardAs, Many, Never, NodeError, NodeFn, NodeTask, One, Opt, Plain, Shape,
    Try, TryAs, ViaInto,
};

pub(crate) mod sealed {
    use super::*;

    /// Keeps [`WithState`](super::WithState) to the impls of this crate.
    #[allow(unreachable_pub)]
    pub trait Sealed {}

    /// Turns a function and its input handles into a type-erased task whose future's output
    /// becomes its value as `M` says. Sealed: implemented here for tuples and single
    /// elements, in each flavour.
    #[allow(unreachable_pub)] // public in a private module: the sealed-trait pattern
    pub trait IntoTask<F, K, M> {
        type Out;
        fn into_task(self, f: F, dag: DagId) -> Result<Box<dyn ErasedTask>, BuildError>;
    }

    /// One element of a node's inputs: a handle `Node<A>` (the function receives `&A`) or a
    /// list of handles of one type (it receives `&[&A]`).
    #[allow(unreachable_pub)]
    pub trait Input {
        /// The type of the values it lends.
        type Item: 'static;
        /// How the function receives it.
        type Shape: Shape;
        /// Appends its sources (checked to belong to `dag`) and returns how many.
        fn collect(
            &self,
            dag: DagId,
            sources: &mut Vec<crate::node::Slot>,
        ) -> Result<u32, BuildError>;
    }
}

use sealed::{Input, IntoTask};

/// The inputs of an infallible node whose function is `F`, in a DAG of flavour `K`.
///
/// A tuple of 0 to 12 elements, or a single element; each element is
/// - a handle `Node<A>`: the function receives `&A`;
/// - a list of handles of one type — `Vec<Node<A>>`, `&[Node<A>]`, `&Vec<Node<A>>`,
///   `[Node<A>; N]` — of any length: the function receives `&[&A]`.
///
/// Elements of both kinds mix: `(log, name, parts)` with `parts: Vec<Node<u32>>` calls
/// `f(&log, &name, &[&p0, &p1, ..])`.
///
/// In a [`Sendable`] DAG, `F` is an `async fn` (or a closure returning a future, see
/// [`NodeFn`]) whose future is `Send`, its output `Send + Sync`, its inputs `Sync`; a closure
/// with state goes in through [`DagBuilder::add_node_with`](crate::DagBuilder::add_node_with).
/// In a [`Local`] DAG, `F` is any `AsyncFn` — async closures that capture state included.
#[diagnostic::on_unimplemented(
    message = "`{F}` cannot be a node of a `{K}` DAG with the inputs `{Self}`",
    label = "these inputs do not fit the node function",
    note = "a node function is an `async fn` taking `&` references to its inputs, in the order given: \
            a `Node<T>` input is a `&T`, a list such as `Vec<Node<T>>` is a `&[&T]`",
    note = "a `DagBuilder` (`Sendable`) takes functions that capture nothing, with `Send` futures and \
            `Send + Sync` outputs: give a node state with `add_node_with(state, f, inputs)`, `f` taking \
            `&State` first, or use a `LocalDagBuilder`, which takes async closures that capture and \
            values that are not `Send` (`Rc`, `RefCell`)",
    note = "a function returning `Result<T, E>` that should fail the run is added with `add_try_node`"
)]
pub trait Inputs<F, K: Flavor>:
    IntoTask<F, K, Plain, Out = <Self as Inputs<F, K>>::Output>
{
    /// The type of the node's output.
    type Output;
}

#[diagnostic::do_not_recommend]
impl<F, K: Flavor, I: IntoTask<F, K, Plain>> Inputs<F, K> for I {
    type Output = I::Out;
}

/// The inputs of a fallible node, whose function `F` returns `Result<T, E>`: the same forms
/// as [`Inputs`]. The node's value is the `T`; an `E` fails it.
#[diagnostic::on_unimplemented(
    message = "`{F}` cannot be a fallible node of a `{K}` DAG whose error type is `{E}`, with the inputs `{Self}`",
    label = "these inputs do not fit the node function, or it does not return `Result<_, {E}>`",
    note = "a fallible node returns `Result<T, E>` with `E` the DAG's error type, set once on the builder: \
            `DagBuilder::<P>::new().with_error::<E>()` (without it the error type is `Infallible`)",
    note = "its inputs are as for `add_node`: a `Node<T>` input is a `&T`, a list such as `Vec<Node<T>>` is a `&[&T]`"
)]
pub trait TryInputs<F, K: Flavor, E>:
    IntoTask<F, K, Try<E>, Out = <Self as TryInputs<F, K, E>>::Output>
{
    /// The type of the node's value when it succeeds.
    type Output;
}

#[diagnostic::do_not_recommend]
impl<F, K: Flavor, E, I: IntoTask<F, K, Try<E>>> TryInputs<F, K, E> for I {
    type Output = I::Out;
}

/// The future of an infallible function, mapped to `Ok`.
type MapOk<Fut, T, X> = futures_util::future::Map<Fut, fn(T) -> Result<T, X>>;

/// The future of an infallible function as one that returns `Ok`: what `Attempts` takes.
fn ok<T, X, Fut: core::future::Future<Output = T>>(future: Fut) -> MapOk<Fut, T, X> {
    futures_util::FutureExt::map(future, Ok as fn(T) -> Result<T, X>)
}

/// The future of a fallible function, as it is.
fn same<T, X, Fut: core::future::Future<Output = Result<T, X>>>(future: Fut) -> Fut {
    future
}

/// A compile-time check that a node's future is `Send`.
fn assert_send_future<X: Send>(_: &X) {}

/// The inputs of a node with a policy ([`Guarded`](crate::Guarded)) whose function `F` cannot
/// fail, in a DAG of flavour `K` and error type `E`, with the timer `Tm` and the fallback
/// `Fb`: the same forms as [`Inputs`], and an [`Optional`](crate::Optional) handle too.
#[diagnostic::on_unimplemented(
    message = "`{F}` cannot be a node with a policy of a `{K}` DAG with the inputs `{Self}`",
    label = "these inputs do not fit the node function",
    note = "a node function is an `async fn` taking `&` references to its inputs, in the order given: \
            a `Node<T>` input is a `&T`, a list such as `Vec<Node<T>>` is a `&[&T]`, an optional input \
            `node.optional()` is an `Option<&T>`",
    note = "in a `DagBuilder` (`Sendable`), the timer and its sleeps must be `Send + Sync` too",
    note = "a function returning `Result<T, E>` is added with `add_try_node`"
)]
pub trait GuardedInputs<F, K: Flavor, E, Tm, Fb>:
    IntoTask<
        WithPolicy<F, Tm, Fb>,
        K,
        Guard<Plain, E>,
        Out = <Self as GuardedInputs<F, K, E, Tm, Fb>>::Output,
    >
{
    /// The type of the node's output.
    type Output;
}

#[diagnostic::do_not_recommend]
impl<F, K: Flavor, E, Tm, Fb, I> GuardedInputs<F, K, E, Tm, Fb> for I
where
    I: IntoTask<WithPolicy<F, Tm, Fb>, K, Guard<Plain, E>>,
{
    type Output = I::Out;
}

/// The inputs of a node with a policy whose function `F` returns `Result<T, X>`, `X`
/// converting `Into` the DAG's error type `E`: as [`GuardedInputs`].
#[diagnostic::on_unimplemented(
    message = "`{F}` cannot be a fallible node with a policy of a `{K}` DAG whose error type is `{E}`, with the inputs `{Self}`",
    label = "these inputs do not fit the node function, or it does not return `Result<_, {E}>`",
    note = "a fallible node returns `Result<T, E>` with `E` the DAG's error type, set once on the builder: \
            `DagBuilder::<P>::new().with_error::<E>()`",
    note = "its inputs are as for `add_node`: a `Node<T>` input is a `&T`, a list such as `Vec<Node<T>>` \
            is a `&[&T]`, an optional input `node.optional()` is an `Option<&T>`"
)]
pub trait GuardedTryInputs<F, K: Flavor, E, Tm, Fb>:
    IntoTask<
        WithPolicy<F, Tm, Fb>,
        K,
        Guard<Try<E>, E>,
        Out = <Self as GuardedTryInputs<F, K, E, Tm, Fb>>::Output,
    >
{
    /// The type of the node's value when it succeeds.
    type Output;
}

#[diagnostic::do_not_recommend]
impl<F, K: Flavor, E, Tm, Fb, I> GuardedTryInputs<F, K, E, Tm, Fb> for I
where
    I: IntoTask<WithPolicy<F, Tm, Fb>, K, Guard<Try<E>, E>>,
{
    type Output = I::Out;
}

/// Checks that `node` belongs to `dag`; its position is the number of sources before it.
fn push_source<T>(
    node: &Node<T>,
    dag: DagId,
    sources: &mut Vec<crate::node::Slot>,
) -> Result<(), BuildError> {
    let slot = node.slot_in(dag).ok_or(BuildError::ForeignInput {
        position: sources.len(),
        input: node.id(),
        builder: dag,
    })?;
    sources.push(slot);
    Ok(())
}

impl<A: 'static> Input for Node<A> {
    type Item = A;
    type Shape = One<A>;
    fn collect(&self, dag: DagId, sources: &mut Vec<crate::node::Slot>) -> Result<u32, BuildError> {
        push_source(self, dag, sources)?;
        Ok(1)
    }
}

impl<A: 'static> Input for Optional<A> {
    type Item = A;
    type Shape = Opt<A>;
    fn collect(&self, dag: DagId, sources: &mut Vec<crate::node::Slot>) -> Result<u32, BuildError> {
        push_source(&self.0, dag, sources)?;
        Ok(1)
    }
}

/// The sources of a list element.
fn collect_list<A>(
    nodes: &[Node<A>],
    dag: DagId,
    sources: &mut Vec<crate::node::Slot>,
) -> Result<u32, BuildError> {
    let count = u32::try_from(nodes.len())
        .ok()
        .filter(|&count| count <= MAX_INPUT_EDGES)
        .ok_or(BuildError::TooManyInputs {
            inputs: nodes.len(),
            max: MAX_INPUT_EDGES as usize,
        })?;
    sources.reserve(nodes.len());
    for node in nodes {
        push_source(node, dag, sources)?;
    }
    Ok(count)
}

macro_rules! list_input {
    ($([$($generics:tt)*] $list:ty;)*) => {$(
        impl<$($generics)* A: 'static> Input for $list {
            type Item = A;
            type Shape = Many<A>;
            fn collect(
                &self,
                dag: DagId,
                sources: &mut Vec<crate::node::Slot>,
            ) -> Result<u32, BuildError> {
                collect_list(&self[..], dag, sources)
            }
        }
    )*};
}

list_input! {
    [] Vec<Node<A>>;
    ['s,] &'s [Node<A>];
    ['s,] &'s Vec<Node<A>>;
    [const N: usize,] [Node<A>; N];
}

/// The sources of a tuple's elements and each element's count.
macro_rules! collect_all {
    ($dag:expr; $($e:ident),*) => {{
        #[allow(unused_mut)]
        let mut sources = Vec::new();
        let counts: Box<[u32]> = Box::new([$($e.collect($dag, &mut sources)?),*]);
        (sources.into_boxed_slice(), counts)
    }};
}

/// The impls of one tuple arity: infallible and fallible, in each flavour.
macro_rules! tuple_inputs {
    ($($E:ident $e:ident),*) => {
        tuple_inputs!(@all ($($E,)*), ($($e,)*), $($E $e),*);
    };
    // A single element `E1` stands for `(E1,)`: `b.add_node(f, x)` is `b.add_node(f, (x,))`.
    (single) => {
        tuple_inputs!(@all E1, e1, E1 e1);
    };
    (@all $Self:ty, $pattern:pat, $($E:ident $e:ident),*) => {
        tuple_inputs!(@sendable $Self, $pattern, Plain, Plain, [], T; $($E $e),*);
        tuple_inputs!(
            @sendable $Self, $pattern, Try<Er>, TryAs<X, Er>,
            [Er: Value<Sendable>, X: NodeError<Er> + 'static,], Result<T, X>;
            $($E $e),*
        );
        tuple_inputs!(@local $Self, $pattern, Plain, Plain, [], T; $($E $e),*);
        tuple_inputs!(
            @local $Self, $pattern, Try<Er>, TryAs<X, Er>,
            [Er: Value<Local>, X: NodeError<Er> + 'static,], Result<T, X>;
            $($E $e),*
        );
        tuple_inputs!(
            @guard_sendable $Self, $pattern, Guard<Plain, Er>, GuardAs<Infallible, Er, Never>,
            [], T, Infallible, ok; $($E $e),*
        );
        tuple_inputs!(
            @guard_sendable $Self, $pattern, Guard<Try<Er>, Er>, GuardAs<X, Er, ViaInto>,
            [X: NodeError<Er> + 'static,], Result<T, X>, X, same; $($E $e),*
        );
        tuple_inputs!(
            @guard_local $Self, $pattern, Guard<Plain, Er>, GuardAs<Infallible, Er, Never>,
            [], T, Infallible, ok; $($E $e),*
        );
        tuple_inputs!(
            @guard_local $Self, $pattern, Guard<Try<Er>, Er>, GuardAs<X, Er, ViaInto>,
            [X: NodeError<Er> + 'static,], Result<T, X>, X, same; $($E $e),*
        );
    };
    // A node with a policy: its task stores the function with the policy, and its future is
    // the `Attempts` of the function's futures, each an `ok`-wrapped or the `same` result.
    (
        @guard_sendable $Self:ty, $pattern:pat, $mode:ty, $task_mode:ty, [$($error:tt)*],
        $output:ty, $X:ty, $wrap:ident; $($E:ident $e:ident),*
    ) => {
        impl<F, T, Tm, Fb, Er, $($error)* $($E: Input),*> IntoTask<WithPolicy<F, Tm, Fb>, Sendable, $mode> for $Self
        where
            F: for<'a> NodeFn<'a, ($(<$E::Shape as Shape>::Ref<'a>,)*), Output = $output>
                + Send
                + Sync
                + 'static,
            for<'a> <F as NodeFn<'a, ($(<$E::Shape as Shape>::Ref<'a>,)*)>>::Future: Send,
            T: Value<Sendable>,
            Er: Value<Sendable>,
            Tm: Timer + Send + Sync,
            Tm::Sleep: Send,
            Fb: Fallback<T> + Send + Sync,
            $($E::Item: Sync,)*
            $(<$E::Shape as Shape>::Ref<'static>: Send,)*
        {
            type Out = T;
            #[allow(unused_variables)]
            fn into_task(
                self,
                f: WithPolicy<F, Tm, Fb>,
                dag: DagId,
            ) -> Result<Box<dyn ErasedTask>, BuildError> {
                let $pattern = self;
                let (sources, counts) = collect_all!(dag; $($e),*);
                let policy = f.spec.policy();
                let call = |p: &'static WithPolicy<F, Tm, Fb>,
                            refs: ($(<$E::Shape as Shape>::Ref<'static>,)*)| {
                    let attempts = Attempts::new(p, move || $wrap::<T, $X, _>(p.f.call(refs)));
                    // What makes the run of a `Sendable` DAG `Send` (see `DagFuture`).
                    assert_send_future(&attempts);
                    attempts
                };
                Ok(Box::new(NodeTask::<_, ($($E::Shape,)*), _, _, $task_mode>::with_policy(
                    f, call, sources, counts, policy,
                )))
            }
        }
    };
    (
        @guard_local $Self:ty, $pattern:pat, $mode:ty, $task_mode:ty, [$($error:tt)*],
        $output:ty, $X:ty, $wrap:ident; $($E:ident $e:ident),*
    ) => {
        impl<F, T, Tm, Fb, Er, $($error)* $($E: Input),*> IntoTask<WithPolicy<F, Tm, Fb>, Local, $mode> for $Self
        where
            F: for<'a> AsyncFn($(<$E::Shape as Shape>::Ref<'a>),*) -> $output + 'static,
            T: Value<Local>,
            Er: 'static,
            Tm: Timer,
            Fb: Fallback<T>,
        {
            type Out = T;
            #[allow(unused_variables)]
            fn into_task(
                self,
                f: WithPolicy<F, Tm, Fb>,
                dag: DagId,
            ) -> Result<Box<dyn ErasedTask>, BuildError> {
                let $pattern = self;
                let (sources, counts) = collect_all!(dag; $($e),*);
                let policy = f.spec.policy();
                let call = |p: &'static WithPolicy<F, Tm, Fb>,
                            refs: ($(<$E::Shape as Shape>::Ref<'static>,)*)| {
                    Attempts::new(p, move || {
                        let ($($e,)*) = refs;
                        $wrap::<T, $X, _>((p.f)($($e),*))
                    })
                };
                Ok(Box::new(NodeTask::<_, ($($E::Shape,)*), _, _, $task_mode>::with_policy(
                    f, call, sources, counts, policy,
                )))
            }
        }
    };
    (
        @sendable $Self:ty, $pattern:pat, $mode:ty, $task_mode:ty, [$($error:tt)*], $output:ty;
        $($E:ident $e:ident),*
    ) => {
        impl<F, T, $($error)* $($E: Input),*> IntoTask<F, Sendable, $mode> for $Self
        where
            F: for<'a> NodeFn<'a, ($(<$E::Shape as Shape>::Ref<'a>,)*), Output = $output>
                + Send
                + Sync
                + 'static,
            for<'a> <F as NodeFn<'a, ($(<$E::Shape as Shape>::Ref<'a>,)*)>>::Future: Send,
            T: Value<Sendable>,
            $($E::Item: Sync,)*
        {
            type Out = T;
            #[allow(unused_variables)]
            fn into_task(self, f: F, dag: DagId) -> Result<Box<dyn ErasedTask>, BuildError> {
                let $pattern = self;
                let (sources, counts) = collect_all!(dag; $($e),*);
                let call = |f: &'static F, refs: ($(<$E::Shape as Shape>::Ref<'static>,)*)| {
                    f.call(refs)
                };
                Ok(Box::new(NodeTask::<F, ($($E::Shape,)*), _, _, $task_mode>::new(
                    f, call, sources, counts,
                )))
            }
        }
    };
    (
        @local $Self:ty, $pattern:pat, $mode:ty, $task_mode:ty, [$($error:tt)*], $output:ty;
        $($E:ident $e:ident),*
    ) => {
        impl<F, T, $($error)* $($E: Input),*> IntoTask<F, Local, $mode> for $Self
        where
            F: for<'a> AsyncFn($(<$E::Shape as Shape>::Ref<'a>),*) -> $output + 'static,
            T: Value<Local>,
        {
            type Out = T;
            #[allow(unused_variables)]
            fn into_task(self, f: F, dag: DagId) -> Result<Box<dyn ErasedTask>, BuildError> {
                let $pattern = self;
                let (sources, counts) = collect_all!(dag; $($e),*);
                let call = |f: &'static F, ($($e,)*): ($(<$E::Shape as Shape>::Ref<'static>,)*)| {
                    f($($e),*)
                };
                Ok(Box::new(NodeTask::<F, ($($E::Shape,)*), _, _, $task_mode>::new(
                    f, call, sources, counts,
                )))
            }
        }
    };
}

tuple_inputs!();
tuple_inputs!(E1 e1);
tuple_inputs!(E1 e1, E2 e2);
tuple_inputs!(E1 e1, E2 e2, E3 e3);
tuple_inputs!(E1 e1, E2 e2, E3 e3, E4 e4);
tuple_inputs!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5);
tuple_inputs!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6);
tuple_inputs!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7);
tuple_inputs!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7, E8 e8);
tuple_inputs!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7, E8 e8, E9 e9);
tuple_inputs!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7, E8 e8, E9 e9, E10 e10);
tuple_inputs!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7, E8 e8, E9 e9, E10 e10, E11 e11);
tuple_inputs!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7, E8 e8, E9 e9, E10 e10, E11 e11, E12 e12);

tuple_inputs!(single);

/// The inputs of a node with state ([`add_node_with`](crate::DagBuilder::add_node_with)):
/// the same forms as [`Inputs`], up to 11 elements; the state comes first.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the inputs of a node with state",
    label = "expected a handle, a list of handles, or a tuple of up to 11 of them",
    note = "the state takes the first of a node's 12 places: `f(&state, &input1, ..)`"
)]
pub trait WithState<S>: sealed::Sealed {
    /// The inputs with the state's handle first.
    type With;
    /// Puts the state's handle first.
    #[doc(hidden)]
    fn with_state(self, state: Node<S>) -> Self::With;
}

impl<E: Input> sealed::Sealed for E {}

impl<S, E: Input> WithState<S> for E {
    type With = (Node<S>, E);
    fn with_state(self, state: Node<S>) -> Self::With {
        (state, self)
    }
}

macro_rules! with_state {
    ($($E:ident $e:ident),*) => {
        impl<$($E: Input),*> sealed::Sealed for ($($E,)*) {}

        impl<S, $($E: Input),*> WithState<S> for ($($E,)*) {
            type With = (Node<S>, $($E,)*);
            fn with_state(self, state: Node<S>) -> Self::With {
                let ($($e,)*) = self;
                (state, $($e,)*)
            }
        }
    };
}

with_state!();
with_state!(E1 e1);
with_state!(E1 e1, E2 e2);
with_state!(E1 e1, E2 e2, E3 e3);
with_state!(E1 e1, E2 e2, E3 e3, E4 e4);
with_state!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5);
with_state!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6);
with_state!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7);
with_state!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7, E8 e8);
with_state!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7, E8 e8, E9 e9);
with_state!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7, E8 e8, E9 e9, E10 e10);
with_state!(E1 e1, E2 e2, E3 e3, E4 e4, E5 e5, E6 e6, E7 e7, E8 e8, E9 e9, E10 e10, E11 e11);
