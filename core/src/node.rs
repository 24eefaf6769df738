//! Node handles and the identity of a DAG.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;

use crate::sync::IdCounter;
use portable_atomic::Ordering;

/// The identity of one DAG: every builder gets a fresh one, and its handles and outputs
/// carry it, so a handle can never be used with another DAG's data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DagId(u64);

impl DagId {
    pub(crate) fn fresh() -> Self {
        static NEXT: IdCounter = IdCounter::new(1);
        DagId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Debug for DagId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dag#{}", self.0)
    }
}

impl fmt::Display for DagId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dag #{}", self.0)
    }
}

/// Where a node's value lives: the run's parameter, a constant stored in the DAG, or the
/// output of a task (a node that runs an async function).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Slot {
    Param,
    Constant(u32),
    Task(u32),
}

/// A node of some DAG with its type erased: what errors and exports name.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId {
    pub(crate) dag: DagId,
    pub(crate) slot: Slot,
}

impl NodeId {
    /// The DAG this node belongs to.
    pub fn dag(&self) -> DagId {
        self.dag
    }

    /// The task index of a node that runs a function (tasks are numbered in the order they
    /// were added, from 0), or `None` for the parameter and constants.
    pub fn task_index(&self) -> Option<usize> {
        match self.slot {
            Slot::Task(index) => Some(index as usize),
            Slot::Param | Slot::Constant(_) => None,
        }
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} of {:?}", self.dag)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.slot {
            Slot::Param => f.write_str("the parameter"),
            Slot::Constant(index) => write!(f, "constant #{index}"),
            Slot::Task(index) => write!(f, "task #{index}"),
        }
    }
}

/// A typed handle to a node of a DAG: its parameter, a constant, or a task.
///
/// `Node<T>` is `Copy`; it is what you pass as an input to later nodes and what you index
/// [`Outputs`](crate::Outputs) with to read the node's value, a `T`. It remembers the DAG it
/// came from: using it with another DAG is refused with an error that says so.
///
/// # Examples
///
/// ```
/// use dagfut::DagBuilder;
///
/// async fn double(n: &u32) -> u32 {
///     n * 2
/// }
///
/// let b = DagBuilder::<u32>::new();
/// let doubled = b.add_node(double, (b.param(),));
/// let dag = b.build();
/// let out = futures_executor::block_on(dag.run(&21));
/// assert_eq!(out[doubled], 42);
/// ```
pub struct Node<T> {
    pub(crate) id: NodeId,
    /// Invariant in `T`: a handle names a place that holds exactly a `T` (its builder checked
    /// that), so it must not be re-typed with a longer lifetime (`flavor::TypeMarker`).
    _type: PhantomData<fn(T) -> T>,
}

impl<T> Node<T> {
    pub(crate) fn new(dag: DagId, slot: Slot) -> Self {
        Node {
            id: NodeId { dag, slot },
            _type: PhantomData,
        }
    }

    /// The node with its type erased.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The DAG this node belongs to.
    pub fn dag(&self) -> DagId {
        self.id.dag
    }

    /// The node's slot, if it belongs to `dag`.
    pub(crate) fn slot_in(&self, dag: DagId) -> Option<Slot> {
        (self.id.dag == dag).then_some(self.id.slot)
    }

    /// The node as an optional input: the dependent receives `Option<&T>`, `None` if this
    /// node failed (or was skipped because an input of it did), and runs either way. Under
    /// [`try_run`](crate::Dag::try_run) a node that only optional inputs depend on does not
    /// stop the run when it fails; under [`run_settled`](crate::Dag::run_settled) its
    /// failure skips only the dependents that need it. The failure is recorded either way
    /// ([`Outputs::failed`](crate::Outputs::failed), [`Settled::errors`](crate::Settled::errors)).
    ///
    /// # Examples
    ///
    /// ```
    /// use dagfut::DagBuilder;
    ///
    /// async fn recommendations(id: &u32) -> Result<Vec<String>, String> {
    ///     Err(format!("the recommender is down (product {id})"))
    /// }
    ///
    /// async fn page(id: &u32, recs: Option<&Vec<String>>) -> Result<String, String> {
    ///     Ok(match recs {
    ///         Some(recs) => format!("product {id}, see also {}", recs.join(", ")),
    ///         None => format!("product {id}"),
    ///     })
    /// }
    ///
    /// let b = DagBuilder::<u32>::new().with_error::<String>();
    /// let recs = b.named("recs").add_try_node(recommendations, b.param());
    /// let page = b.add_try_node(page, (b.param(), recs.optional()));
    /// let dag = b.build();
    ///
    /// let out = futures_executor::block_on(dag.try_run(&7)).unwrap();
    /// assert_eq!(out[page], "product 7");
    /// assert_eq!(out.failed(), [recs.id()]);
    /// ```
    pub fn optional(self) -> Optional<T> {
        Optional(self)
    }
}

/// A node taken as an optional input ([`Node::optional`]): the node function receives
/// `Option<&T>`.
pub struct Optional<T>(pub(crate) Node<T>);

impl<T> Clone for Optional<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Optional<T> {}

impl<T> fmt::Debug for Optional<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Optional({:?})", self.0)
    }
}

impl<T> Clone for Node<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Node<T> {}

impl<T> PartialEq for Node<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T> Eq for Node<T> {}

impl<T> Hash for Node<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl<T> fmt::Debug for Node<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node<{}>({:?})", core::any::type_name::<T>(), self.id)
    }
}
