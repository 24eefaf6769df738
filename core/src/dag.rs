//! A built DAG: immutable flat arrays shared by every run.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::convert::Infallible;
use core::fmt;
use core::marker::PhantomData;

use crate::cache::{DEFAULT_KEPT_RUNS, RunCache};
use crate::error::BuildError;
use crate::flavor::{CannotFail, Flavor, Sendable, TypeMarker, assert_send, assert_sync};
use crate::node::NodeId;
use crate::node::{DagId, Node, Slot};
use crate::ready;
use crate::run::{DagFuture, SettledDagFuture, TryDagFuture};
use crate::task::{ConstBox, ErasedTask, Source};

/// What a run reads of one task (see `DagCore::records`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskRecord {
    /// Its slot's offset in the run's arena.
    pub(crate) offset: usize,
    /// Its sources: `DagCore::sources[sources.0..sources.1]`.
    pub(crate) sources: (u32, u32),
    /// Its dependents: `DagCore::dependents[dependents.0..dependents.1]`.
    pub(crate) dependents: (u32, u32),
}

/// The frozen graph, without its type parameters.
pub(crate) struct DagCore {
    pub(crate) id: DagId,
    /// The tasks in insertion order, which is a topological order.
    pub(crate) tasks: Box<[Box<dyn ErasedTask>]>,
    /// Each task's name, if it was given one.
    pub(crate) names: Box<[Option<Cow<'static, str>>]>,
    /// What a run reads of each task as it starts and completes it, in one record per task
    /// (one cache line): its slot's offset, its sources, its dependents. One per task, its
    /// ranges inside `sources` and `dependents` (`check_tables`).
    pub(crate) records: Box<[TaskRecord]>,
    /// Every task's sources, resolved (a task's output by its offset in the arena), task
    /// after task (`TaskRecord::sources`). One flat array read in order as the tasks start,
    /// rather than a table per task.
    pub(crate) sources: Box<[Source]>,
    /// The layout of a run's block: the arena (every task's slot, at its offset), then a state
    /// per task at `states_at`, then the ready queue's buffer at `ready_at`. One allocation, so
    /// a run takes one block from the cache, not three.
    pub(crate) block: Layout,
    /// Where the states start in the run block (bytes).
    pub(crate) states_at: usize,
    /// Where the ready queue's buffer starts in the run block (bytes).
    pub(crate) ready_at: usize,
    pub(crate) constants: Box<[ConstBox]>,
    /// The dependents of every task, task after task (`TaskRecord::dependents`), once per
    /// edge (a task that takes `i` twice is there twice).
    pub(crate) dependents: Box<[u32]>,
    /// Whether each edge of `dependents` is an optional input (empty: none is).
    pub(crate) optional_edges: Box<[bool]>,
    /// Whether a failure of each task leaves the run going even when it fails fast: every
    /// dependent takes it as an optional input (and it has one).
    pub(crate) tolerated: Box<[bool]>,
    /// Whether a task has a timeout, so it may fail even if its function cannot.
    pub(crate) may_time_out: bool,
    /// How many task-input edges each task waits for (parameter and constants are ready).
    pub(crate) in_degree: Box<[u32]>,
    /// The tasks with no task inputs, which start at once.
    pub(crate) roots: Box<[u32]>,
    /// Whether any task's output needs dropping: if none does, dropping a run's outputs
    /// skips the tasks, reading only their states.
    pub(crate) outputs_need_drop: bool,
    /// The memory a run leaves for the next one.
    pub(crate) cache: RunCache,
}

impl DagCore {
    pub(crate) fn new(
        id: DagId,
        tasks: Vec<Box<dyn ErasedTask>>,
        names: Vec<Option<Cow<'static, str>>>,
        constants: Vec<ConstBox>,
    ) -> Result<Self, BuildError> {
        let count = tasks.len();
        let mut in_degree = vec![0u32; count];
        let mut out_degree = vec![0u32; count + 1];
        for (task, erased) in tasks.iter().enumerate() {
            for source in erased.sources() {
                if let Slot::Task(input) = *source {
                    debug_assert!((input as usize) < task, "inputs precede their nodes");
                    in_degree[task] += 1;
                    out_degree[input as usize] += 1;
                }
            }
        }
        // Prefix sums: where each task's dependents start.
        let mut dependents_start = out_degree;
        let mut running = 0u32;
        for entry in dependents_start.iter_mut() {
            let degree = *entry;
            *entry = running;
            running = running
                .checked_add(degree)
                .expect("dagfut: more than u32::MAX edges");
        }
        let mut dependents = vec![0u32; running as usize];
        let any_optional = tasks.iter().any(|task| !task.optional_sources().is_empty());
        let mut optional_edges = vec![false; if any_optional { running as usize } else { 0 }];
        let mut fill: Vec<u32> = dependents_start[..count].to_vec();
        for (task, erased) in tasks.iter().enumerate() {
            let optional = erased.optional_sources();
            for (position, source) in erased.sources().iter().enumerate() {
                if let Slot::Task(input) = *source {
                    let at = &mut fill[input as usize];
                    dependents[*at as usize] = task as u32;
                    if optional.get(position) == Some(&true) {
                        optional_edges[*at as usize] = true;
                    }
                    *at += 1;
                }
            }
        }
        let tolerated = (0..count)
            .map(|task| {
                let mut edges =
                    dependents_start[task] as usize..dependents_start[task + 1] as usize;
                !edges.is_empty() && edges.all(|edge| optional_edges.get(edge) == Some(&true))
            })
            .collect();
        let may_time_out = tasks.iter().any(|task| task.policy().1.is_some());
        let roots = (0..count as u32)
            .filter(|&task| in_degree[task as usize] == 0)
            .collect();
        let mut arena = Layout::new::<()>();
        let offsets = tasks
            .iter()
            .enumerate()
            .map(|(task, erased)| {
                let (extended, offset) = erased
                    .layout()
                    .and_then(|slot| arena.extend(slot).ok())
                    .ok_or(BuildError::RunTooLarge { task })?;
                arena = extended;
                Ok(offset)
            })
            .collect::<Result<Vec<usize>, BuildError>>()?;
        // The states and the ready queue's buffer after the arena, in the same block.
        let words = |len| Layout::array::<u32>(len).ok();
        let (block, states_at, ready_at) = words(count)
            .and_then(|states| arena.extend(states).ok())
            .and_then(|(with_states, states_at)| {
                let ready = words(ready::buffer_len(count))?;
                let (block, ready_at) = with_states.extend(ready).ok()?;
                Some((block.pad_to_align(), states_at, ready_at))
            })
            .ok_or(BuildError::RunTooLarge {
                task: count.saturating_sub(1),
            })?;
        let source_index =
            |at: usize| u32::try_from(at).expect("dagfut: more than u32::MAX node inputs");
        let mut sources = Vec::new();
        let mut records = Vec::with_capacity(count);
        for (task, erased) in tasks.iter().enumerate() {
            let start = source_index(sources.len());
            sources.extend(erased.sources().iter().map(|slot| match *slot {
                Slot::Param => Source::Param,
                Slot::Constant(index) => Source::Constant(index),
                Slot::Task(index) => Source::Task {
                    index,
                    offset: offsets[index as usize],
                },
            }));
            records.push(TaskRecord {
                offset: offsets[task],
                sources: (start, source_index(sources.len())),
                dependents: (dependents_start[task], dependents_start[task + 1]),
            });
        }
        let outputs_need_drop = tasks.iter().any(|task| task.output_needs_drop());
        let core = DagCore {
            id,
            tasks: tasks.into_boxed_slice(),
            names: names.into_boxed_slice(),
            records: records.into_boxed_slice(),
            sources: sources.into_boxed_slice(),
            cache: RunCache::new(block, count, DEFAULT_KEPT_RUNS),
            block,
            states_at,
            ready_at,
            constants: constants.into_boxed_slice(),
            dependents: dependents.into_boxed_slice(),
            optional_edges: optional_edges.into_boxed_slice(),
            tolerated,
            may_time_out,
            in_degree: in_degree.into_boxed_slice(),
            roots,
            outputs_need_drop,
        };
        core.check_tables();
        Ok(core)
    }

    /// Checks, once per DAG, what a run then reads without a bounds check (`Slots::poll_task`,
    /// `Slots::release_dependents`): one record and one state per task, each record's ranges
    /// inside `sources` and `dependents`, every dependent a task.
    ///
    /// # Panics
    /// If one of them does not hold (a bug of `new`, never of the user's graph).
    fn check_tables(&self) {
        let count = self.tasks.len();
        assert!(
            self.records.len() == count && self.in_degree.len() == count,
            "dagfut: a DAG's tables disagree on its task count"
        );
        let within = |(start, end): (u32, u32), len: usize| start <= end && end as usize <= len;
        assert!(
            self.records.iter().all(|record| {
                within(record.sources, self.sources.len())
                    && within(record.dependents, self.dependents.len())
            }),
            "dagfut: a task's record points outside the DAG's tables"
        );
        assert!(
            self.dependents.iter().all(|&dependent| (dependent as usize) < count),
            "dagfut: a dependent that is not a task"
        );
    }
}

/// A DAG of async functions, built once by a [`DagBuilder`](crate::DagBuilder) and run any
/// number of times, also concurrently: [`run`](Self::run) takes `&self`.
///
/// A `Dag<P, Sendable>` is `Send + Sync`.
///
/// # Examples
///
/// ```
/// use dagfut::DagBuilder;
///
/// async fn square(n: &u64) -> u64 {
///     n * n
/// }
///
/// let b = DagBuilder::<u64>::new();
/// let sq = b.add_node(square, (b.param(),));
/// let dag = b.build();
///
/// futures_executor::block_on(async {
///     let (three, four) = futures_util::future::join(dag.run(&3), dag.run(&4)).await;
///     assert_eq!((three[sq], four[sq]), (9, 16));
/// });
/// ```
pub struct Dag<P, K: Flavor = Sendable, E = Infallible> {
    pub(crate) core: DagCore,
    _types: TypeMarker<P, K, E>,
}

// SAFETY: a `Sendable` DAG only ever stores functions that are `Send + Sync` and constants that
// are `Send + Sync` (the `Value<Sendable>` bounds of `add_node`, `add_try_node` and
// `add_constant`); the rest of it is plain data that is never mutated after `build`. `P` and
// `E` are only named by the marker: a `Dag` holds no value of either.
unsafe impl<P, E> Send for Dag<P, Sendable, E> {}
// SAFETY: as above; a shared `Dag` is only read.
unsafe impl<P, E> Sync for Dag<P, Sendable, E> {}
const _: () = {
    assert_send::<Dag<core::cell::Cell<u8>, Sendable, core::cell::Cell<u8>>>();
    assert_sync::<Dag<core::cell::Cell<u8>, Sendable, core::cell::Cell<u8>>>();
};

/// A DAG whose node futures need not be `Send`.
pub type LocalDag<P, E = Infallible> = Dag<P, crate::flavor::Local, E>;

impl<P, K: Flavor, E> Dag<P, K, E> {
    pub(crate) fn from_core(core: DagCore) -> Self {
        Dag {
            core,
            _types: PhantomData,
        }
    }

    /// Runs the DAG with the parameter `param`: the returned future starts every node the
    /// moment its inputs are ready and resolves to the [`Outputs`](crate::Outputs) of all of
    /// them. It polls the nodes itself: nothing is spawned.
    ///
    /// For a DAG whose nodes cannot fail (no [`with_error`](crate::DagBuilder::with_error));
    /// one with fallible nodes runs with [`try_run`](Self::try_run) or
    /// [`run_settled`](Self::run_settled), and `run` says so at compile time.
    ///
    /// # Panics
    /// If a node has a timeout ([`Guarded::timeout`](crate::Guarded::timeout)): it may fail,
    /// so the DAG runs with `try_run` or `run_settled`, whose errors say which node timed out.
    #[track_caller]
    pub fn run<'a>(&'a self, param: &'a P) -> DagFuture<'a, P, K>
    where
        E: CannotFail,
    {
        // `CannotFail` is sealed and only `Infallible` has it: `E` is `Infallible`, the error
        // type the run's sink is made for. `new` refuses a DAG with timeouts.
        DagFuture::new(&self.core, param)
    }

    /// The run's parameter as a node, as [`DagBuilder::param`](crate::DagBuilder::param)
    /// gave it: `outputs[dag.param()]` is the run's parameter.
    pub fn param(&self) -> Node<P> {
        Node::new(self.core.id, Slot::Param)
    }

    /// Runs the DAG, stopping at the first failure (fail-fast): no new node starts, every
    /// running node future is dropped at once, and the future resolves to the
    /// [`DagError`](crate::DagError) naming the node. Otherwise it resolves to the outputs.
    /// (A failure does not stop it if the node has dependents and all of them take it as an
    /// optional input, or if its fallback takes its place: see [`TryDagFuture`].)
    ///
    /// # Examples
    ///
    /// ```
    /// use dagfut::DagBuilder;
    ///
    /// async fn check(n: &i32) -> Result<i32, String> {
    ///     if *n < 0 { Err(format!("{n} is negative")) } else { Ok(*n) }
    /// }
    ///
    /// let b = DagBuilder::<i32>::new().with_error::<String>();
    /// let checked = b.named("check").add_try_node(check, b.param());
    /// let dag = b.build();
    ///
    /// let run = |n: i32| futures_executor::block_on(dag.try_run(&n)).map(|out| out[checked]);
    /// assert_eq!(run(1), Ok(1));
    /// let error = run(-1).unwrap_err();
    /// assert_eq!(error.name(), Some("check"));
    /// assert_eq!(error.to_string(), "node `check` (task #0) failed: -1 is negative");
    /// assert_eq!(run(3), Ok(3)); // the DAG is fine after a failure
    /// ```
    pub fn try_run<'a>(&'a self, param: &'a P) -> TryDagFuture<'a, P, K, E> {
        TryDagFuture::new(&self.core, param)
    }

    /// Runs the DAG letting independent branches finish: a failure skips only the failed
    /// node's descendants. The future resolves to the outputs of every node that completed and
    /// every error, in completion order.
    pub fn run_settled<'a>(&'a self, param: &'a P) -> SettledDagFuture<'a, P, K, E> {
        SettledDagFuture::new(&self.core, param)
    }

    /// The graph as a Mermaid flowchart (`graph TD`): one box per task, labelled with its
    /// name (or `task #i`), and an arrow from each input to the tasks that take it. The
    /// parameter and constants are not drawn. The text is stable: the same DAG gives the same
    /// text.
    ///
    /// # Examples
    ///
    /// ```
    /// use dagfut::DagBuilder;
    ///
    /// async fn inc(n: &u32) -> u32 {
    ///     n + 1
    /// }
    ///
    /// let b = DagBuilder::<u32>::new();
    /// let a = b.named("a").add_node(inc, b.param());
    /// b.named("b").add_node(inc, a);
    /// assert_eq!(
    ///     b.build().to_mermaid(),
    ///     "graph TD;\n    t0[\"a\"];\n    t1[\"b\"];\n    t0-->t1;\n"
    /// );
    /// ```
    pub fn to_mermaid(&self) -> alloc::string::String {
        self.core.to_mermaid()
    }

    /// The graph in Graphviz DOT, drawn as [`to_mermaid`](Self::to_mermaid) draws it.
    pub fn to_dot(&self) -> alloc::string::String {
        self.core.to_dot()
    }

    /// The name given to `node` ([`DagBuilder::named`](crate::DagBuilder::named)), if any.
    pub fn node_name(&self, node: NodeId) -> Option<&str> {
        if node.dag() != self.core.id {
            return None;
        }
        let task = node.task_index()?;
        self.core.names.get(task)?.as_deref()
    }

    /// The name given to task `task`: the index an [`Observer`](crate::Observer) receives
    /// (tasks count from 0 in insertion order). `None` if the task has no name or there is no
    /// such task.
    ///
    /// # Examples
    ///
    /// ```
    /// use dagfut::DagBuilder;
    ///
    /// async fn inc(n: &u32) -> u32 {
    ///     n + 1
    /// }
    ///
    /// let b = DagBuilder::<u32>::new();
    /// let first = b.named("first").add_node(inc, b.param());
    /// b.add_node(inc, first);
    /// let dag = b.build();
    /// assert_eq!(dag.task_name(0), Some("first"));
    /// assert_eq!(dag.task_name(1), None); // unnamed
    /// assert_eq!(dag.task_name(2), None); // no such task
    /// ```
    pub fn task_name(&self, task: usize) -> Option<&str> {
        self.core.names.get(task)?.as_deref()
    }

    /// The identity of this DAG.
    pub fn id(&self) -> DagId {
        self.core.id
    }

    /// How many tasks (nodes that run a function) the DAG has.
    pub fn task_count(&self) -> usize {
        self.core.tasks.len()
    }

    /// How many constants the DAG holds.
    pub fn constant_count(&self) -> usize {
        self.core.constants.len()
    }

    /// How many task-to-task edges the DAG has.
    pub fn edge_count(&self) -> usize {
        self.core.dependents.len()
    }

    /// Keeps the memory of up to `runs` runs at once (8 unless told otherwise). A run leaves
    /// its memory to the DAG as it ends, and the next run takes it instead of allocating, so
    /// as many runs as this may overlap (a service running one DAG for each request it
    /// serves) and allocate nothing once that many have run at once. A run beyond them
    /// allocates its own memory and frees it at its end. The memory kept is freed with the
    /// DAG; `0` keeps none, and every run allocates. Memory kept before is freed now. A DAG
    /// whose runs are large and seldom overlap may keep fewer: after a burst of overlapping
    /// runs it holds the memory of as many as overlapped, up to `runs`, until it is dropped.
    ///
    /// # Panics
    /// If `runs` is `u32::MAX` or more.
    ///
    /// # Examples
    ///
    /// ```
    /// use dagfut::DagBuilder;
    ///
    /// async fn double(n: &u64) -> u64 { n * 2 }
    ///
    /// let b = DagBuilder::<u64>::new();
    /// let doubled = b.add_node(double, b.param());
    /// let dag = b.build().with_kept_runs(2);
    /// assert_eq!(dag.kept_runs(), 2);
    ///
    /// // Two runs at once: each takes a place of its own, and leaves its memory there.
    /// let (a, b) = futures_executor::block_on(futures_util::future::join(dag.run(&1), dag.run(&2)));
    /// assert_eq!((a[doubled], b[doubled]), (2, 4));
    /// ```
    pub fn with_kept_runs(mut self, runs: usize) -> Self {
        assert!(
            runs < u32::MAX as usize,
            "dagfut: a DAG keeps the memory of fewer than u32::MAX runs at once"
        );
        self.core.cache.keep_runs(runs);
        self
    }

    /// How many runs at once the DAG keeps memory for ([`with_kept_runs`](Self::with_kept_runs)).
    pub fn kept_runs(&self) -> usize {
        self.core.cache.runs()
    }
}

impl<P, K: Flavor, E> fmt::Debug for Dag<P, K, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dag")
            .field("id", &self.core.id)
            .field("tasks", &self.task_count())
            .field("constants", &self.constant_count())
            .field("edges", &self.edge_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::DagCore;
    use crate::DagBuilder;

    async fn one(_: &()) -> u32 {
        1
    }

    async fn add(a: &u32, b: &u32) -> u32 {
        a + b
    }

    /// Builds two roots and their sum, lets `tamper` change its tables, and checks them.
    fn check_after(tamper: impl FnOnce(&mut DagCore)) {
        let b = DagBuilder::<()>::new();
        let (x, y) = (b.add_node(one, b.param()), b.add_node(one, b.param()));
        b.add_node(add, (x, y));
        let mut dag = b.build();
        tamper(&mut dag.core);
        dag.core.check_tables();
    }

    #[test]
    fn a_built_dag_passes_the_table_check() {
        check_after(|_| {});
    }

    #[test]
    #[should_panic(expected = "points outside the DAG's tables")]
    fn a_source_range_past_the_sources_is_refused() {
        check_after(|core| core.records[2].sources.1 += 1);
    }

    #[test]
    #[should_panic(expected = "points outside the DAG's tables")]
    fn a_reversed_dependent_range_is_refused() {
        check_after(|core| core.records[0].dependents = (1, 0));
    }

    #[test]
    #[should_panic(expected = "a dependent that is not a task")]
    fn a_dependent_that_is_not_a_task_is_refused() {
        check_after(|core| core.dependents[0] = 3);
    }

    #[test]
    #[should_panic(expected = "disagree on its task count")]
    fn a_missing_record_is_refused() {
        check_after(|core| core.records = core.records[..2].into());
    }
}
