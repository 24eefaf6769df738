//! What a node's inputs can be: a tuple of 0 to 12 handles, one handle, or a list of handles
//! of one type.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::marker::PhantomData;

use crate::error::BuildError;
use crate::flavor::{Flavor, Lent, NodeFuture, Value};
use crate::node::{DagId, Node, Slot};
use crate::task::{ErasedTask, ListTask, Mode, NodeFn, Plain, Try, TupleTask};

pub(crate) mod sealed {
    use super::*;

    /// Turns a function and its input handles into a type-erased task whose future's output
    /// becomes its value as `M` says. Sealed: implemented here for tuples, single handles and
    /// lists.
    #[allow(unreachable_pub)] // public in a private module: the sealed-trait pattern
    pub trait IntoTask<F, K, M> {
        type Out;
        fn into_task(self, f: F, dag: DagId) -> Result<Box<dyn ErasedTask>, BuildError>;
    }
}

/// The inputs of an infallible node whose function is `F`, in a DAG of flavour `K`.
///
/// Implemented for:
/// - tuples of 0 to 12 handles `(Node<A>, Node<B>, ..)`: `F` is called as `f(&a, &b, ..)`;
/// - a single handle `Node<A>`: the same as `(Node<A>,)`;
/// - lists of handles of one type — `Vec<Node<A>>`, `&[Node<A>]`, `&Vec<Node<A>>`,
///   `[Node<A>; N]` — of any length: `F` is called as `f(&[&a0, &a1, ..])`.
///
/// `F` must be an async function of shared references to those inputs: an `async fn` or an
/// async closure that captures nothing (see [`NodeFn`]). For a [`Sendable`](crate::Sendable) DAG its future and
/// output must be `Send` (the output `Sync` too) and its inputs `Sync`.
pub trait Inputs<F, K: Flavor>: sealed::IntoTask<F, K, Plain> {
    /// The type of the node's output.
    type Output;
}

impl<F, K: Flavor, I: sealed::IntoTask<F, K, Plain>> Inputs<F, K> for I {
    type Output = I::Out;
}

/// The inputs of a fallible node, whose function `F` returns `Result<T, E>`: the same forms
/// as [`Inputs`]. The node's value is the `T`; an `E` fails it.
pub trait TryInputs<F, K: Flavor, E>: sealed::IntoTask<F, K, Try<E>> {
    /// The type of the node's value when it succeeds.
    type Output;
}

impl<F, K: Flavor, E, I: sealed::IntoTask<F, K, Try<E>>> TryInputs<F, K, E> for I {
    type Output = I::Out;
}

fn check<T>(node: &Node<T>, position: usize, dag: DagId) -> Result<Slot, BuildError> {
    node.slot_in(dag).ok_or(BuildError::ForeignInput {
        position,
        input: node.id(),
        builder: dag,
    })
}

/// The two impls of one tuple arity: infallible and fallible, for either flavour.
macro_rules! tuple_inputs {
    ($n:literal; $($A:ident $index:tt),*) => {
        tuple_inputs!(@one $n; Plain, [], T; $($A $index),*);
        tuple_inputs!(@one $n; Try<E>, [E: Value<K>,], Result<T, E>; $($A $index),*);
    };
    (@one $n:literal; $mode:ty, [$($error:tt)*], $output:ty; $($A:ident $index:tt),*) => {
        impl<F, K: Flavor, T, $($error)* $($A),*> sealed::IntoTask<F, K, $mode> for ($(Node<$A>,)*)
        where
            F: for<'a> NodeFn<'a, ($(&'a $A,)*), Output = $output> + Value<K>,
            for<'a> <F as NodeFn<'a, ($(&'a $A,)*)>>::Future: NodeFuture<K>,
            T: Value<K>,
            $($A: Lent<K> + 'static,)*
        {
            type Out = T;
            fn into_task(self, f: F, _dag: DagId) -> Result<Box<dyn ErasedTask>, BuildError> {
                let sources: [Slot; $n] = [$(check(&self.$index, $index, _dag)?,)*];
                Ok(Box::new(TupleTask::<F, ($($A,)*), $mode, $n> {
                    f,
                    sources,
                    _types: PhantomData,
                }))
            }
        }
    };
}

tuple_inputs!(0;);
tuple_inputs!(1; A1 0);
tuple_inputs!(2; A1 0, A2 1);
tuple_inputs!(3; A1 0, A2 1, A3 2);
tuple_inputs!(4; A1 0, A2 1, A3 2, A4 3);
tuple_inputs!(5; A1 0, A2 1, A3 2, A4 3, A5 4);
tuple_inputs!(6; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5);
tuple_inputs!(7; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6);
tuple_inputs!(8; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7);
tuple_inputs!(9; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8);
tuple_inputs!(10; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9);
tuple_inputs!(11; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10);
tuple_inputs!(12; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10, A12 11);

impl<F, K: Flavor, M, A> sealed::IntoTask<F, K, M> for Node<A>
where
    (Node<A>,): sealed::IntoTask<F, K, M>,
{
    type Out = <(Node<A>,) as sealed::IntoTask<F, K, M>>::Out;
    fn into_task(self, f: F, dag: DagId) -> Result<Box<dyn ErasedTask>, BuildError> {
        sealed::IntoTask::into_task((self,), f, dag)
    }
}

fn list_task<F, A, R, M>(
    nodes: &[Node<A>],
    f: F,
    dag: DagId,
) -> Result<Box<dyn ErasedTask>, BuildError>
where
    F: for<'a> NodeFn<'a, (&'a [&'a A],), Output = R> + 'static,
    A: 'static,
    M: Mode<R>,
    M::Value: 'static,
{
    let sources = nodes
        .iter()
        .enumerate()
        .map(|(position, node)| check(node, position, dag))
        .collect::<Result<Box<[Slot]>, BuildError>>()?;
    Ok(Box::new(ListTask::<F, A, M>::new(f, sources)))
}

/// The two impls of one list type: infallible and fallible, for either flavour.
macro_rules! list_inputs {
    ($([$($generics:tt)*] $list:ty;)*) => {$(
        list_inputs!(@one [$($generics)*] $list; Plain, [], T);
        list_inputs!(@one [$($generics)*] $list; Try<E>, [E: Value<K>,], Result<T, E>);
    )*};
    (@one [$($generics:tt)*] $list:ty; $mode:ty, [$($error:tt)*], $output:ty) => {
        impl<$($generics)* F, K: Flavor, T, A, $($error)*> sealed::IntoTask<F, K, $mode> for $list
        where
            F: for<'a> NodeFn<'a, (&'a [&'a A],), Output = $output> + Value<K>,
            for<'a> <F as NodeFn<'a, (&'a [&'a A],)>>::Future: NodeFuture<K>,
            T: Value<K>,
            A: Lent<K> + 'static,
        {
            type Out = T;
            fn into_task(self, f: F, dag: DagId) -> Result<Box<dyn ErasedTask>, BuildError> {
                list_task::<F, A, $output, $mode>(&self[..], f, dag)
            }
        }
    };
}

list_inputs! {
    [] Vec<Node<A>>;
    ['s,] &'s [Node<A>];
    ['s,] &'s Vec<Node<A>>;
    [const N: usize,] [Node<A>; N];
}
