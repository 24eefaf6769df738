//! The values a run produced.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Index;

use crate::error::OutputError;
use crate::flavor::{Flavor, Sendable, TypeMarker, assert_send, assert_sync};
use crate::node::{DagId, Node, NodeId};
use crate::slots::{DONE, Slots};
use alloc::vec::Vec;

/// The outputs of one run: index it with a [`Node<T>`] to read that node's `T`.
///
/// The outputs stay in the run's arena (nothing is copied when the run completes) and are
/// dropped with it. They borrow the [`Dag`](crate::Dag) and the run's parameter, so
/// `outputs[param]` and `outputs[constant]` work too.
///
/// # Examples
///
/// ```
/// use dagfut::DagBuilder;
///
/// async fn greet(name: &&'static str) -> String {
///     format!("hello, {name}")
/// }
///
/// let b = DagBuilder::<()>::new();
/// let name = b.add_constant("dag");
/// let greeting = b.add_node(greet, (name,));
/// let dag = b.build();
///
/// let mut out = futures_executor::block_on(dag.run(&()));
/// assert_eq!(out[name], "dag");
/// assert_eq!(out.get(greeting).unwrap(), "hello, dag");
/// let owned: String = out.take(greeting).unwrap();
/// assert!(out.get(greeting).is_err()); // taken
/// # drop(owned);
/// ```
pub struct Outputs<'a, P, K: Flavor = Sendable> {
    slots: Slots<'a>,
    /// The nodes that failed while the run went on, in order.
    failed: Vec<NodeId>,
    /// Borrows the DAG and the parameter for `'a`; invariant in `P` (`flavor::TypeMarker`).
    _types: PhantomData<(&'a (), TypeMarker<P, K, ()>)>,
}

// SAFETY: outputs of a `Sendable` DAG are `Send + Sync` (the `Value<Sendable>` bound of
// `add_node`), as are its constants, and the `&P` they lend is `Send + Sync` when `P: Sync`.
unsafe impl<P: Sync> Send for Outputs<'_, P, Sendable> {}
// SAFETY: as above; shared outputs are only read.
unsafe impl<P: Sync> Sync for Outputs<'_, P, Sendable> {}
const _: () = {
    assert_send::<Outputs<'static, u8, Sendable>>();
    assert_sync::<Outputs<'static, u8, Sendable>>();
};

impl<'a, P, K: Flavor> Outputs<'a, P, K> {
    pub(crate) fn new(slots: Slots<'a>, failed: Vec<NodeId>) -> Self {
        Outputs {
            slots,
            failed,
            _types: PhantomData,
        }
    }

    /// The DAG these outputs come from.
    pub fn dag(&self) -> DagId {
        self.slots.dag_id()
    }

    /// The nodes that failed in this run while it went on, in the order they failed: those
    /// whose fallback took their place ([`Guarded::or_value`](crate::Guarded::or_value)),
    /// those only optional inputs depended on ([`Node::optional`]), and, in a
    /// [`run_settled`](crate::Dag::run_settled), every other failure too. Their errors are in
    /// [`Settled::errors`](crate::Settled::errors); the observer sees them as they happen.
    pub fn failed(&self) -> &[NodeId] {
        &self.failed
    }

    /// The value of `node`.
    ///
    /// # Errors
    /// [`OutputError::ForeignNode`] if `node` belongs to another DAG; [`OutputError::Taken`]
    /// if it was moved out with [`take`](Self::take); [`OutputError::NotCompleted`] if it did
    /// not complete in this run (a settled run's failed or skipped nodes).
    pub fn get<T>(&self, node: Node<T>) -> Result<&T, OutputError> {
        self.slots.get(&node)
    }

    /// Moves the output of task `node` out of the outputs.
    ///
    /// # Errors
    /// As [`get`](Self::get), and [`OutputError::NotOwned`] for the parameter and constants,
    /// which are borrowed.
    pub fn take<T>(&mut self, node: Node<T>) -> Result<T, OutputError> {
        self.slots.take(&node)
    }

    /// Moves the outputs of several tasks out at once: `handles` is a tuple of up to 12
    /// handles, and the values come back as a tuple of the same shape.
    ///
    /// # Errors
    /// As [`take`](Self::take) for the first handle that cannot be taken, and
    /// [`OutputError::Taken`] if a handle appears twice; nothing is taken then.
    ///
    /// # Examples
    ///
    /// ```
    /// use dagfut::DagBuilder;
    ///
    /// async fn name(n: &u32) -> String {
    ///     format!("#{n}")
    /// }
    ///
    /// async fn digits(n: &u32) -> Vec<u32> {
    ///     n.to_string().chars().filter_map(|c| c.to_digit(10)).collect()
    /// }
    ///
    /// let b = DagBuilder::<u32>::new();
    /// let (a, d) = (b.add_node(name, b.param()), b.add_node(digits, b.param()));
    /// let dag = b.build();
    /// let mut out = futures_executor::block_on(dag.run(&42));
    /// let (a, d): (String, Vec<u32>) = out.take_many((a, d)).unwrap();
    /// assert_eq!((a.as_str(), d), ("#42", vec![4, 2]));
    /// ```
    pub fn take_many<H: Handles>(&mut self, handles: H) -> Result<H::Values, OutputError> {
        handles.check(&self.slots)?;
        Ok(handles.take_from(&mut self.slots))
    }

    /// How many task outputs are held (not taken).
    pub fn len(&self) -> usize {
        self.slots.count(DONE)
    }

    /// Whether no task output is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T, P, K: Flavor> Index<Node<T>> for Outputs<'_, P, K> {
    type Output = T;

    /// # Panics
    /// If [`get`](Outputs::get) returns an error; the message says which.
    #[inline]
    #[track_caller]
    fn index(&self, node: Node<T>) -> &T {
        match self.get(node) {
            Ok(value) => value,
            Err(error) => index_failed(error),
        }
    }
}

/// The panic of an `outputs[node]` that found no value. Out of line: indexing is inlined.
#[cold]
#[inline(never)]
#[track_caller]
fn index_failed(error: OutputError) -> ! {
    panic!("dagfut: {error}")
}

impl<P, K: Flavor> fmt::Debug for Outputs<'_, P, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outputs")
            .field("dag", &self.dag())
            .field("held", &self.len())
            .finish()
    }
}

/// A tuple of handles whose outputs [`Outputs::take_many`] moves out at once. Sealed.
// Its hidden methods name the crate-private `Slots`: users can neither call nor implement them.
#[allow(private_interfaces)]
pub trait Handles: sealed::Sealed {
    /// The tuple of the values.
    type Values;
    #[doc(hidden)]
    fn check(&self, slots: &Slots<'_>) -> Result<(), OutputError>;
    #[doc(hidden)]
    fn take_from(self, slots: &mut Slots<'_>) -> Self::Values;
}

mod sealed {
    #[allow(unreachable_pub)]
    pub trait Sealed {}
}

macro_rules! handles_impl {
    ($($T:ident $index:tt),*) => {
        impl<$($T),*> sealed::Sealed for ($(Node<$T>,)*) {}

        #[allow(private_interfaces)]
        impl<$($T),*> Handles for ($(Node<$T>,)*) {
            type Values = ($($T,)*);

            fn check(&self, slots: &Slots<'_>) -> Result<(), OutputError> {
                let ids = [$(self.$index.id()),*];
                $(slots.take_check(&self.$index)?;)*
                for (at, id) in ids.iter().enumerate() {
                    if ids[..at].contains(id) {
                        return Err(OutputError::Taken { node: *id });
                    }
                }
                Ok(())
            }

            fn take_from(self, slots: &mut Slots<'_>) -> Self::Values {
                ($(slots.take(&self.$index).expect("checked by `check`"),)*)
            }
        }
    };
}

handles_impl!(T1 0);
handles_impl!(T1 0, T2 1);
handles_impl!(T1 0, T2 1, T3 2);
handles_impl!(T1 0, T2 1, T3 2, T4 3);
handles_impl!(T1 0, T2 1, T3 2, T4 3, T5 4);
handles_impl!(T1 0, T2 1, T3 2, T4 3, T5 4, T6 5);
handles_impl!(T1 0, T2 1, T3 2, T4 3, T5 4, T6 5, T7 6);
handles_impl!(T1 0, T2 1, T3 2, T4 3, T5 4, T6 5, T7 6, T8 7);
handles_impl!(T1 0, T2 1, T3 2, T4 3, T5 4, T6 5, T7 6, T8 7, T9 8);
handles_impl!(T1 0, T2 1, T3 2, T4 3, T5 4, T6 5, T7 6, T8 7, T9 8, T10 9);
handles_impl!(T1 0, T2 1, T3 2, T4 3, T5 4, T6 5, T7 6, T8 7, T9 8, T10 9, T11 10);
handles_impl!(T1 0, T2 1, T3 2, T4 3, T5 4, T6 5, T7 6, T8 7, T9 8, T10 9, T11 10, T12 11);
