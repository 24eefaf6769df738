//! Building a DAG.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::convert::Infallible;
use core::fmt;
use core::marker::PhantomData;

use crate::dag::{Dag, DagCore};
use crate::error::BuildError;
use crate::flavor::{Flavor, Local, Sendable, TypeMarker, Value, assert_send};
use crate::guarded::Guarded;
use crate::inputs::{Inputs, TryInputs, WithState, sealed::IntoTask};
use crate::node::{DagId, Node, Slot};
use crate::policy::{Backoff, Fallback, NoFallback, NoTimer, OrNode, OrValue, Timer, WithPolicy};
use crate::slots::MAX_INPUT_EDGES;
use crate::task::{ConstBox, ErasedTask};
use crate::waker::MAX_TASKS;
use alloc::format;
use core::time::Duration;

/// Builds a [`Dag`]: add the nodes, then [`build`](Self::build) it once and run it many times.
///
/// `P` is the type of the run's parameter ([`Dag::run`] takes a `&P`); `K` is the flavour,
/// [`Sendable`] by default (`Send` node futures, so a run can be spawned on a multi-threaded
/// executor) or [`Local`] (see [`LocalDagBuilder`]); `E` is the error type of the DAG's
/// fallible nodes ([`add_try_node`](Self::add_try_node)), none by default.
///
/// Every method takes `&self`, so calls nest: an input can be added right where it is used.
/// Nodes can only name handles that already exist, so the graph is acyclic by construction.
///
/// # Examples
///
/// ```
/// use dagfut::DagBuilder;
///
/// async fn add(a: &u32, b: &u32) -> u32 {
///     a + b
/// }
///
/// let b = DagBuilder::<u32>::new();
/// let x = b.add_node(add, (b.param(), b.add_constant(1)));
/// let y = b.add_node(add, (x, x));
/// let dag = b.build();
///
/// let out = futures_executor::block_on(dag.run(&20));
/// assert_eq!((out[x], out[y]), (21, 42));
/// ```
pub struct DagBuilder<P, K: Flavor = Sendable, E = Infallible, Tm = NoTimer> {
    id: DagId,
    parts: RefCell<Parts>,
    /// The timer of node policies ([`with_timer`](Self::with_timer)); each such node keeps a
    /// clone.
    timer: Tm,
    _types: TypeMarker<P, K, E>,
}

// SAFETY: a `Sendable` builder holds what its `Dag` will (see the `Send` impl of `Dag`), and
// its timer; it is not `Sync` (its `RefCell`), so it is only ever used from one thread at a
// time.
unsafe impl<P, E, Tm: Send> Send for DagBuilder<P, Sendable, E, Tm> {}
const _: () = assert_send::<DagBuilder<core::cell::Cell<u8>, Sendable>>();

/// A builder of DAGs whose node futures need not be `Send`: for single-threaded and embedded
/// executors. Its nodes can be async closures that capture state, `Rc` and `RefCell` included.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use dagfut::LocalDagBuilder;
///
/// let calls = Rc::new(Cell::new(0));
/// let b = LocalDagBuilder::<u32>::new();
/// let counter = calls.clone();
/// let doubled = b.add_node(
///     async move |n: &u32| {
///         counter.set(counter.get() + 1); // state the closure captured
///         n * 2
///     },
///     b.param(),
/// );
/// let dag = b.build();
/// assert_eq!(futures_executor::block_on(dag.run(&21))[doubled], 42);
/// assert_eq!(calls.get(), 1);
/// ```
pub type LocalDagBuilder<P, E = Infallible, Tm = NoTimer> = DagBuilder<P, Local, E, Tm>;

#[derive(Default)]
struct Parts {
    tasks: Vec<Box<dyn ErasedTask>>,
    names: Vec<Option<Cow<'static, str>>>,
    constants: Vec<ConstBox>,
}

// Only before a timer: a node with a timeout may fail with the builder's error type, so the
// error type is fixed before any such node exists (a node's failure is written into the run's
// sink as the DAG's error type: see `task::Mode`).
impl<P, K: Flavor> DagBuilder<P, K, Infallible, NoTimer> {
    /// The builder with `E` as the error type of its fallible nodes: nodes added so far keep
    /// their handles.
    ///
    /// # Examples
    ///
    /// ```
    /// use dagfut::DagBuilder;
    ///
    /// async fn parse(text: &&'static str) -> Result<u32, std::num::ParseIntError> {
    ///     text.parse()
    /// }
    ///
    /// let b = DagBuilder::<()>::new().with_error::<std::num::ParseIntError>();
    /// let n = b.add_try_node(parse, b.add_constant("42"));
    /// let dag = b.build();
    /// assert_eq!(futures_executor::block_on(dag.try_run(&())).unwrap()[n], 42);
    /// ```
    pub fn with_error<E>(self) -> DagBuilder<P, K, E, NoTimer> {
        DagBuilder {
            id: self.id,
            parts: self.parts,
            timer: self.timer,
            _types: PhantomData,
        }
    }
}

impl<P, K: Flavor, E> DagBuilder<P, K, E, NoTimer> {
    /// An empty builder with a fresh [`DagId`].
    pub fn new() -> Self {
        DagBuilder {
            id: DagId::fresh(),
            parts: RefCell::new(Parts::default()),
            timer: NoTimer,
            _types: PhantomData,
        }
    }

    /// The builder with `timer` for the timeouts and backoffs of its nodes' policies
    /// ([`Guarded`]): each adapter has one (`dagfut_tokio::TokioTimer`, ...). Nodes added so
    /// far keep their handles.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use dagfut::{Backoff, DagBuilder, Timer};
    ///
    /// #[derive(Clone, Copy)]
    /// struct NoWait; // a timer whose sleeps end at once
    ///
    /// impl Timer for NoWait {
    ///     type Sleep = core::future::Ready<()>;
    ///     fn sleep(&self, _: Duration) -> Self::Sleep {
    ///         core::future::ready(())
    ///     }
    /// }
    ///
    /// static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    ///
    /// async fn flaky(_: &()) -> Result<u32, String> {
    ///     match CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
    ///         0 | 1 => Err("busy".to_string()),
    ///         n => Ok(n),
    ///     }
    /// }
    ///
    /// let b = DagBuilder::<()>::new().with_error::<String>().with_timer(NoWait);
    /// let n = b
    ///     .named("flaky")
    ///     .retry(3, Backoff::fixed(Duration::from_millis(10)))
    ///     .add_try_node(flaky, b.param());
    /// let dag = b.build();
    /// let out = futures_executor::block_on(dag.try_run(&())).unwrap();
    /// assert_eq!(out[n], 2); // the third attempt succeeded
    /// ```
    pub fn with_timer<Tm: Timer>(self, timer: Tm) -> DagBuilder<P, K, E, Tm> {
        DagBuilder {
            id: self.id,
            parts: self.parts,
            timer,
            _types: PhantomData,
        }
    }
}

impl<P, K: Flavor, E, Tm> DagBuilder<P, K, E, Tm> {
    /// The identity of the DAG being built; its handles carry it.
    pub fn id(&self) -> DagId {
        self.id
    }

    /// The run's parameter as a node: each run lends its `&P` to the nodes that take it.
    /// Every call returns the same handle.
    pub fn param(&self) -> Node<P> {
        Node::new(self.id, Slot::Param)
    }

    /// A node whose value is `value` in every run (the seed library's "immediate node").
    /// Nodes receive it by reference, so it is never cloned.
    ///
    /// # Panics
    /// If the DAG already holds 2,147,483,645 constants.
    #[track_caller]
    pub fn add_constant<T: Value<K>>(&self, value: T) -> Node<T> {
        added(self.try_add_constant(value))
    }

    /// Adds a constant as [`add_constant`](Self::add_constant) does, or says why it cannot.
    ///
    /// # Errors
    /// [`BuildError::TooManyNodes`] if the DAG already holds 2,147,483,645 constants.
    pub fn try_add_constant<T: Value<K>>(&self, value: T) -> Result<Node<T>, BuildError> {
        let mut parts = self.parts.borrow_mut();
        let index = parts.constants.len();
        if index >= MAX_TASKS {
            return Err(BuildError::TooManyNodes { max: MAX_TASKS });
        }
        parts.constants.push(ConstBox::new(value));
        Ok(Node::new(self.id, Slot::Constant(index as u32)))
    }

    /// Adds a node that runs `f` on its `inputs` once in every run, the moment the last of
    /// them is ready, and returns its handle.
    ///
    /// `inputs` is a tuple of 0 to 12 elements or a single element, each a handle or a list of
    /// handles of one type (see [`Inputs`]); `f` receives shared references to their values,
    /// in that order. Any earlier node can be an input, the same one several times too.
    ///
    /// # Panics
    /// If an input belongs to another DAG, or a limit of [`BuildError`] is reached; the message
    /// names the problem. [`try_add_node`](Self::try_add_node) returns the error instead.
    ///
    /// # Examples
    ///
    /// A list beside other inputs: the function receives `&[&T]` for it.
    ///
    /// ```
    /// use dagfut::DagBuilder;
    ///
    /// async fn total(label: &&'static str, parts: &[&u32]) -> String {
    ///     format!("{label}: {}", parts.iter().copied().sum::<u32>())
    /// }
    ///
    /// async fn double(n: &u32) -> u32 {
    ///     n * 2
    /// }
    ///
    /// let b = DagBuilder::<u32>::new();
    /// let parts: Vec<_> = (0..3).map(|_| b.add_node(double, b.param())).collect();
    /// let sum = b.add_node(total, (b.add_constant("sum"), parts));
    /// let dag = b.build();
    /// assert_eq!(futures_executor::block_on(dag.run(&5))[sum], "sum: 30");
    /// ```
    #[track_caller]
    pub fn add_node<F, I: Inputs<F, K>>(&self, f: F, inputs: I) -> Node<I::Output> {
        added(self.try_add_node(f, inputs))
    }

    /// Adds a node as [`add_node`](Self::add_node) does, or says why it cannot.
    ///
    /// # Errors
    /// [`BuildError::ForeignInput`] if an input handle belongs to another DAG;
    /// [`BuildError::TooManyInputs`] or [`BuildError::TooManyNodes`] past the limits. A refused
    /// node leaves the builder as it was (every adding method: no task, no state, no name).
    ///
    /// # Examples
    ///
    /// ```
    /// use dagfut::{BuildError, DagBuilder};
    ///
    /// async fn id(n: &u32) -> u32 {
    ///     *n
    /// }
    ///
    /// let first = DagBuilder::<u32>::new();
    /// let second = DagBuilder::<u32>::new();
    /// let error = second.try_add_node(id, (first.param(),)).unwrap_err();
    /// assert!(matches!(error, BuildError::ForeignInput { position: 0, .. }));
    /// ```
    pub fn try_add_node<F, I: Inputs<F, K>>(
        &self,
        f: F,
        inputs: I,
    ) -> Result<Node<I::Output>, BuildError> {
        self.add_task(f, inputs, None)
    }

    /// Adds a fallible node: `f` returns `Result<T, E>`; its dependents receive `&T`. If it
    /// returns `Err`, [`Dag::try_run`] stops the run and reports the error with the node, and
    /// [`Dag::run_settled`] skips the node's descendants.
    ///
    /// # Panics
    /// As [`add_node`](Self::add_node).
    #[track_caller]
    pub fn add_try_node<F, I: TryInputs<F, K, E>>(&self, f: F, inputs: I) -> Node<I::Output> {
        added(self.try_add_try_node(f, inputs))
    }

    /// Adds a fallible node as [`add_try_node`](Self::add_try_node) does, or says why it
    /// cannot.
    ///
    /// # Errors
    /// As [`try_add_node`](Self::try_add_node).
    pub fn try_add_try_node<F, I: TryInputs<F, K, E>>(
        &self,
        f: F,
        inputs: I,
    ) -> Result<Node<I::Output>, BuildError> {
        self.add_task(f, inputs, None)
    }

    /// Adds a node whose function has state: `f` receives `&state` first, then its inputs.
    ///
    /// The state is stored in the DAG once and lent to every run, as a constant is: a client,
    /// a connection pool, a configuration. This is how a [`Sendable`] DAG's node gets state
    /// (its functions capture nothing, so their futures are known to be `Send`); a
    /// [`LocalDagBuilder`] also takes async closures that capture.
    ///
    /// # Panics
    /// As [`add_node`](Self::add_node).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use dagfut::DagBuilder;
    ///
    /// struct Client {
    ///     base_url: String,
    /// }
    ///
    /// impl Client {
    ///     async fn get(&self, id: u64) -> String {
    ///         format!("{}/items/{id}", self.base_url)
    ///     }
    /// }
    ///
    /// async fn fetch(client: &Arc<Client>, id: &u64) -> String {
    ///     client.get(*id).await
    /// }
    ///
    /// let client = Arc::new(Client { base_url: "https://example.test".into() });
    /// let b = DagBuilder::<u64>::new();
    /// let item = b.add_node_with(client.clone(), fetch, b.param());
    /// let dag = b.build();
    /// assert_eq!(
    ///     futures_executor::block_on(dag.run(&7))[item],
    ///     "https://example.test/items/7"
    /// );
    /// ```
    #[track_caller]
    pub fn add_node_with<S, F, I>(
        &self,
        state: S,
        f: F,
        inputs: I,
    ) -> Node<<I::With as Inputs<F, K>>::Output>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: Inputs<F, K>,
    {
        added(self.try_add_node_with(state, f, inputs))
    }

    /// Adds a node with state as [`add_node_with`](Self::add_node_with) does, or says why it
    /// cannot.
    ///
    /// # Errors
    /// As [`try_add_node`](Self::try_add_node).
    pub fn try_add_node_with<S, F, I>(
        &self,
        state: S,
        f: F,
        inputs: I,
    ) -> Result<Node<<I::With as Inputs<F, K>>::Output>, BuildError>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: Inputs<F, K>,
    {
        self.add_task_with(state, f, inputs, None)
    }

    /// Adds a fallible node with state: [`add_node_with`](Self::add_node_with) for a function
    /// that returns `Result<T, E>`, as [`add_try_node`](Self::add_try_node).
    ///
    /// # Panics
    /// As [`add_node`](Self::add_node).
    #[track_caller]
    pub fn add_try_node_with<S, F, I>(
        &self,
        state: S,
        f: F,
        inputs: I,
    ) -> Node<<I::With as TryInputs<F, K, E>>::Output>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: TryInputs<F, K, E>,
    {
        added(self.try_add_try_node_with(state, f, inputs))
    }

    /// Adds a fallible node with state as [`add_try_node_with`](Self::add_try_node_with)
    /// does, or says why it cannot.
    ///
    /// # Errors
    /// As [`try_add_node`](Self::try_add_node).
    // The type names what the node's value is; an alias would hide it from the docs.
    #[allow(clippy::type_complexity)]
    pub fn try_add_try_node_with<S, F, I>(
        &self,
        state: S,
        f: F,
        inputs: I,
    ) -> Result<Node<<I::With as TryInputs<F, K, E>>::Output>, BuildError>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: TryInputs<F, K, E>,
    {
        self.add_task_with(state, f, inputs, None)
    }

    /// Adds `state` as a constant, then the task of `f` on it and `inputs`, with its name.
    #[allow(clippy::type_complexity)] // the handle's type, spelled out as `add_task`'s
    fn add_task_with<S: Value<K>, F, M, I: WithState<S>>(
        &self,
        state: S,
        f: F,
        inputs: I,
        name: Option<Cow<'static, str>>,
    ) -> Result<Node<<I::With as IntoTask<F, K, M>>::Out>, BuildError>
    where
        I::With: IntoTask<F, K, M>,
    {
        self.add_with_state(state, inputs, |inputs| self.add_task(f, inputs, name))
    }

    /// Adds `state` as a constant, puts its handle before `inputs` (the inputs of a node with
    /// state), and adds the node with `add` on them, all or nothing: a refused node leaves no
    /// state behind.
    pub(crate) fn add_with_state<S: Value<K>, I: WithState<S>, R>(
        &self,
        state: S,
        inputs: I,
        add: impl FnOnce(I::With) -> Result<R, BuildError>,
    ) -> Result<R, BuildError> {
        self.all_or_nothing(|| add(inputs.with_state(self.try_add_constant(state)?)))
    }

    /// Runs `add`, which adds what one call of the public API adds (a node, its state, the
    /// task that takes a fallback's value): if it fails, what it added is taken out again, so
    /// that a refused node leaves nothing behind (no state constant, no task that no handle
    /// names but that would run, and fail, in every run).
    pub(crate) fn all_or_nothing<R>(
        &self,
        add: impl FnOnce() -> Result<R, BuildError>,
    ) -> Result<R, BuildError> {
        let (tasks, constants) = {
            let parts = self.parts.borrow();
            (parts.tasks.len(), parts.constants.len())
        };
        let added = add();
        if added.is_err() {
            let removed = {
                let mut parts = self.parts.borrow_mut();
                parts.names.truncate(tasks);
                (parts.tasks.split_off(tasks), parts.constants.split_off(constants))
            };
            // Dropped once the builder is no longer borrowed: a value's `Drop` may use it.
            drop(removed);
        }
        added
    }

    /// Adds the task of `f` on `inputs`, with its name, and returns its handle: a
    /// `Node<I::Out>`, the type of the task's value (`Inputs::Output` and `TryInputs::Output`
    /// are bound to it).
    pub(crate) fn add_task<F, M, I: IntoTask<F, K, M>>(
        &self,
        f: F,
        inputs: I,
        name: Option<Cow<'static, str>>,
    ) -> Result<Node<I::Out>, BuildError> {
        let task = IntoTask::into_task(inputs, f, self.id)?;
        self.push_task(task, name)
    }

    /// Names the next node: `b.named("fetch_moon").add_node(f, inputs)`. Errors, `Debug`
    /// output and exports use the name; nodes without one are called by their index.
    pub fn named(&self, name: impl Into<Cow<'static, str>>) -> Named<'_, P, K, E, Tm> {
        Named {
            builder: self,
            name: name.into(),
        }
    }

    /// The next node has a timeout per attempt: see [`Guarded::timeout`]. Name it with
    /// [`named`](Self::named) first, so that its errors say which node timed out.
    pub fn timeout(&self, after: Duration) -> Guarded<'_, P, K, E, Tm, NoFallback>
    where
        Tm: Timer,
    {
        Guarded::new(self, None).timeout(after)
    }

    /// The next node retries: see [`Guarded::retry`].
    pub fn retry(&self, retries: u32, backoff: Backoff) -> Guarded<'_, P, K, E, Tm, NoFallback>
    where
        Tm: Timer,
    {
        Guarded::new(self, None).retry(retries, backoff)
    }

    /// Adds the task of `f` with its policy on `inputs`, and the task that takes its
    /// fallback node's value in its place if it has one: the handle is that of the second.
    pub(crate) fn add_guarded<F, M, Fb, T, I>(
        &self,
        f: F,
        inputs: I,
        guard: Guarded<'_, P, K, E, Tm, Fb>,
    ) -> Result<Node<T>, BuildError>
    where
        Tm: Clone,
        Fb: Fallback<T>,
        I: IntoTask<WithPolicy<F, Tm, Fb>, K, M, Out = T>,
    {
        let merge_name = guard
            .name
            .as_ref()
            .map(|name| Cow::Owned(format!("{name} | fallback")));
        let fallback_node = guard.fallback.node();
        let policy = WithPolicy {
            f,
            timer: self.timer.clone(),
            spec: guard.spec,
            fallback: guard.fallback,
        };
        self.all_or_nothing(|| {
            let node = self.add_task(policy, inputs, guard.name)?;
            match fallback_node {
                None => Ok(node),
                Some(other) => {
                    let other = other.slot_in(self.id).ok_or(BuildError::ForeignInput {
                        position: 0,
                        input: other.id(),
                        builder: self.id,
                    })?;
                    let sources = [node.id.slot, other];
                    self.push_task(Fb::merge_task(sources), merge_name)
                }
            }
        })
    }

    fn push_task<T>(
        &self,
        task: Box<dyn ErasedTask>,
        name: Option<Cow<'static, str>>,
    ) -> Result<Node<T>, BuildError> {
        let edges = task.sources().len();
        if edges > MAX_INPUT_EDGES as usize {
            return Err(BuildError::TooManyInputs {
                inputs: edges,
                max: MAX_INPUT_EDGES as usize,
            });
        }
        let mut parts = self.parts.borrow_mut();
        let index = parts.tasks.len();
        if index >= MAX_TASKS {
            return Err(BuildError::TooManyNodes { max: MAX_TASKS });
        }
        parts.tasks.push(task);
        parts.names.push(name);
        Ok(Node::new(self.id, Slot::Task(index as u32)))
    }

    /// How many tasks (nodes that run a function) have been added.
    pub fn task_count(&self) -> usize {
        self.parts.borrow().tasks.len()
    }

    /// Freezes the graph into a [`Dag`]. Nothing can be added afterwards.
    ///
    /// # Panics
    /// If [`try_build`](Self::try_build) fails; the message names the problem.
    #[track_caller]
    pub fn build(self) -> Dag<P, K, E> {
        match self.try_build() {
            Ok(dag) => dag,
            Err(error) => panic!("dagfut: cannot build the DAG: {error}"),
        }
    }

    /// Freezes the graph into a [`Dag`], or says why it cannot.
    ///
    /// # Errors
    /// [`BuildError::RunTooLarge`] if a run's node futures and outputs would not fit in one
    /// allocation (more than `isize::MAX` bytes).
    pub fn try_build(self) -> Result<Dag<P, K, E>, BuildError> {
        let parts = self.parts.into_inner();
        let core = DagCore::new(self.id, parts.tasks, parts.names, parts.constants)?;
        Ok(Dag::from_core(core))
    }
}

/// A builder about to add a named node: see [`DagBuilder::named`].
#[derive(Debug)]
pub struct Named<'b, P, K: Flavor, E, Tm = NoTimer> {
    builder: &'b DagBuilder<P, K, E, Tm>,
    name: Cow<'static, str>,
}

impl<'b, P, K: Flavor, E, Tm> Named<'b, P, K, E, Tm> {
    /// The node has a timeout per attempt: see [`Guarded::timeout`].
    pub fn timeout(self, after: Duration) -> Guarded<'b, P, K, E, Tm, NoFallback>
    where
        Tm: Timer,
    {
        Guarded::new(self.builder, Some(self.name)).timeout(after)
    }

    /// The node retries when it fails: see [`Guarded::retry`].
    pub fn retry(self, retries: u32, backoff: Backoff) -> Guarded<'b, P, K, E, Tm, NoFallback>
    where
        Tm: Timer,
    {
        Guarded::new(self.builder, Some(self.name)).retry(retries, backoff)
    }

    /// The node's value is `value` when it fails: see [`Guarded::or_value`].
    pub fn or_value<V>(self, value: V) -> Guarded<'b, P, K, E, Tm, OrValue<V>> {
        Guarded::new(self.builder, Some(self.name)).or_value(value)
    }

    /// The node's value is that of `other` when it fails: see [`Guarded::or_node`].
    pub fn or_node<V>(self, other: Node<V>) -> Guarded<'b, P, K, E, Tm, OrNode<V>> {
        Guarded::new(self.builder, Some(self.name)).or_node(other)
    }
}

impl<P, K: Flavor, E, Tm> Named<'_, P, K, E, Tm> {
    /// [`DagBuilder::add_node`], with the name.
    ///
    /// # Panics
    /// As [`DagBuilder::add_node`].
    #[track_caller]
    pub fn add_node<F, I: Inputs<F, K>>(self, f: F, inputs: I) -> Node<I::Output> {
        added(self.try_add_node(f, inputs))
    }

    /// [`DagBuilder::try_add_node`], with the name.
    ///
    /// # Errors
    /// As [`DagBuilder::try_add_node`].
    pub fn try_add_node<F, I: Inputs<F, K>>(
        self,
        f: F,
        inputs: I,
    ) -> Result<Node<I::Output>, BuildError> {
        self.builder.add_task(f, inputs, Some(self.name))
    }

    /// [`DagBuilder::add_try_node`], with the name.
    ///
    /// # Panics
    /// As [`DagBuilder::add_node`].
    #[track_caller]
    pub fn add_try_node<F, I: TryInputs<F, K, E>>(self, f: F, inputs: I) -> Node<I::Output> {
        added(self.try_add_try_node(f, inputs))
    }

    /// [`DagBuilder::try_add_try_node`], with the name.
    ///
    /// # Errors
    /// As [`DagBuilder::try_add_node`].
    pub fn try_add_try_node<F, I: TryInputs<F, K, E>>(
        self,
        f: F,
        inputs: I,
    ) -> Result<Node<I::Output>, BuildError> {
        self.builder.add_task(f, inputs, Some(self.name))
    }

    /// [`DagBuilder::add_node_with`], with the name.
    ///
    /// # Panics
    /// As [`DagBuilder::add_node`].
    #[track_caller]
    pub fn add_node_with<S, F, I>(
        self,
        state: S,
        f: F,
        inputs: I,
    ) -> Node<<I::With as Inputs<F, K>>::Output>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: Inputs<F, K>,
    {
        added(self.try_add_node_with(state, f, inputs))
    }

    /// [`DagBuilder::try_add_node_with`], with the name.
    ///
    /// # Errors
    /// As [`DagBuilder::try_add_node`].
    pub fn try_add_node_with<S, F, I>(
        self,
        state: S,
        f: F,
        inputs: I,
    ) -> Result<Node<<I::With as Inputs<F, K>>::Output>, BuildError>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: Inputs<F, K>,
    {
        self.builder
            .add_task_with(state, f, inputs, Some(self.name))
    }

    /// [`DagBuilder::add_try_node_with`], with the name.
    ///
    /// # Panics
    /// As [`DagBuilder::add_node`].
    #[track_caller]
    pub fn add_try_node_with<S, F, I>(
        self,
        state: S,
        f: F,
        inputs: I,
    ) -> Node<<I::With as TryInputs<F, K, E>>::Output>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: TryInputs<F, K, E>,
    {
        added(self.try_add_try_node_with(state, f, inputs))
    }

    /// [`DagBuilder::try_add_try_node_with`], with the name.
    ///
    /// # Errors
    /// As [`DagBuilder::try_add_node`].
    // The type names what the node's value is; an alias would hide it from the docs.
    #[allow(clippy::type_complexity)]
    pub fn try_add_try_node_with<S, F, I>(
        self,
        state: S,
        f: F,
        inputs: I,
    ) -> Result<Node<<I::With as TryInputs<F, K, E>>::Output>, BuildError>
    where
        S: Value<K>,
        I: WithState<S>,
        I::With: TryInputs<F, K, E>,
    {
        self.builder
            .add_task_with(state, f, inputs, Some(self.name))
    }
}

/// The node of an adding method that panics on errors.
#[track_caller]
pub(crate) fn added<T>(node: Result<Node<T>, BuildError>) -> Node<T> {
    match node {
        Ok(node) => node,
        Err(error) => panic!("dagfut: cannot add the node: {error}"),
    }
}

impl<P, K: Flavor, E> Default for DagBuilder<P, K, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P, K: Flavor, E, Tm> fmt::Debug for DagBuilder<P, K, E, Tm> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = self.parts.borrow();
        f.debug_struct("DagBuilder")
            .field("id", &self.id)
            .field("tasks", &parts.tasks.len())
            .field("constants", &parts.constants.len())
            .finish()
    }
}
