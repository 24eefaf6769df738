//! The values a run produced.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Index;

use crate::error::OutputError;
use crate::flavor::{Flavor, Sendable, TypeMarker, assert_send, assert_sync};
use crate::node::{DagId, Node};
use crate::slots::{DONE, Slots};

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
    pub(crate) fn new(slots: Slots<'a>) -> Self {
        Outputs {
            slots,
            _types: PhantomData,
        }
    }

    /// The DAG these outputs come from.
    pub fn dag(&self) -> DagId {
        self.slots.dag_id()
    }

    /// The value of `node`.
    ///
    /// # Errors
    /// [`OutputError::ForeignNode`] if `node` belongs to another DAG; [`OutputError::Taken`]
    /// if it was moved out with [`take`](Self::take).
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
    #[track_caller]
    fn index(&self, node: Node<T>) -> &T {
        match self.get(node) {
            Ok(value) => value,
            Err(error) => panic!("dagfut: {error}"),
        }
    }
}

impl<P, K: Flavor> fmt::Debug for Outputs<'_, P, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outputs")
            .field("dag", &self.dag())
            .field("held", &self.len())
            .finish()
    }
}
