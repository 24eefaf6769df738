//! Runs that own what they borrow: the DAG (through an `Arc`) and the parameter. Their futures
//! and outputs are `'static`, so a spawned task can run the DAG and return its outputs.

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::ops::{Deref, Index};
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};

use crate::dag::{Dag, DagCore};
use crate::error::{DagError, OutputError};
use crate::flavor::{CannotFail, Flavor};
use crate::node::Node;
use crate::observe::Observer;
use crate::outputs::Outputs;
use crate::run::{DagFuture, Settled, SettledDagFuture, TryDagFuture};

/// What an owned run keeps alive for the values that borrow it: the DAG and the parameter.
/// Both live behind `Arc`s, so moving this moves two pointers, never what they point to. The
/// run and its outputs each keep their own (a completed run still holds its borrows until it
/// is dropped).
struct Keep<P, K: Flavor, E> {
    dag: Arc<Dag<P, K, E>>,
    param: Arc<P>,
}

impl<P, K: Flavor, E> Clone for Keep<P, K, E> {
    fn clone(&self) -> Self {
        Keep {
            dag: Arc::clone(&self.dag),
            param: Arc::clone(&self.param),
        }
    }
}

impl<P: 'static, K: Flavor, E> Keep<P, K, E> {
    fn new(dag: &Arc<Dag<P, K, E>>, param: P) -> Self {
        Keep {
            dag: Arc::clone(dag),
            param: Arc::new(param),
        }
    }

    /// The DAG's core and the parameter, borrowed for as long as the caller keeps `self`.
    ///
    /// # Safety
    /// The caller drops every value made from these references before `self` (field order),
    /// and hands out no reference that outlives a borrow of itself.
    unsafe fn lend(&self) -> (&'static DagCore, &'static P) {
        // SAFETY: both live in `Arc` allocations that `self` keeps until it is dropped, at
        // stable addresses (moving an `Arc` does not move its value); the caller keeps every
        // borrower from outliving `self`.
        unsafe { (&*ptr::from_ref(&self.dag.core), &*Arc::as_ptr(&self.param)) }
    }
}

/// Future for the [`Dag::run_owned`], [`Dag::try_run_owned`] and [`Dag::run_settled_owned`]
/// methods: a run that owns an `Arc` of its DAG and its parameter, so it is `'static` and can
/// be spawned; it resolves to [`OwnedOutputs`] (or an error, for `try_run_owned`; or
/// [`OwnedSettled`], for `run_settled_owned`).
///
/// # Cancel safety
///
/// As [`DagFuture`]: dropping it drops every running future and every output once.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct OwnedRun<R, P, K: Flavor, E> {
    /// Borrows `keep` (even once it completed): declared first, so dropped first.
    run: R,
    keep: Keep<P, K, E>,
}

impl<P: 'static, K: Flavor, E> Dag<P, K, E> {
    /// Runs the DAG as [`run`](Self::run) does, owning an `Arc` of it and the parameter: the
    /// future is `'static` (and `Send` for a [`Sendable`](crate::Sendable) DAG whose parameter
    /// is `Send + Sync`), so `tokio::spawn(dag.run_owned(p))` compiles and the spawned task
    /// can return the outputs.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use dagfut::DagBuilder;
    ///
    /// async fn square(n: &u64) -> u64 {
    ///     n * n
    /// }
    ///
    /// let b = DagBuilder::<u64>::new();
    /// let sq = b.add_node(square, b.param());
    /// let dag = Arc::new(b.build());
    ///
    /// let run = dag.run_owned(12); // 'static: it could be spawned
    /// let handle = std::thread::spawn(move || futures_executor::block_on(run));
    /// let outputs = handle.join().unwrap(); // the outputs left the thread that ran them
    /// assert_eq!(outputs[sq], 144);
    /// ```
    ///
    /// # Panics
    /// As [`run`](Self::run): if a node has a timeout (run it with
    /// [`try_run_owned`](Self::try_run_owned)).
    #[track_caller]
    pub fn run_owned(self: &Arc<Self>, param: P) -> OwnedRun<DagFuture<'static, P, K>, P, K, E>
    where
        E: CannotFail,
    {
        let keep = Keep::new(self, param);
        // SAFETY: the run is dropped before `keep` (`OwnedRun`'s field order), and gives out
        // outputs only inside `OwnedOutputs`, which keeps `keep` alive as long.
        let (core, param) = unsafe { keep.lend() };
        // `CannotFail` is only `Infallible`: the run's sink type (see `Dag::run`).
        OwnedRun {
            run: DagFuture::new(core, param),
            keep,
        }
    }

    /// Runs the DAG as [`try_run`](Self::try_run) does, owning an `Arc` of it and the
    /// parameter, as [`run_owned`](Self::run_owned).
    pub fn try_run_owned(
        self: &Arc<Self>,
        param: P,
    ) -> OwnedRun<TryDagFuture<'static, P, K, E>, P, K, E> {
        let keep = Keep::new(self, param);
        // SAFETY: as in `run_owned`.
        let (core, param) = unsafe { keep.lend() };
        OwnedRun {
            run: TryDagFuture::new(core, param),
            keep,
        }
    }

    /// Runs the DAG as [`run_settled`](Self::run_settled) does, owning an `Arc` of it and the
    /// parameter, as [`run_owned`](Self::run_owned): a failure skips only the failed node's
    /// descendants, and the spawned task can return what completed with every error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use dagfut::DagBuilder;
    ///
    /// async fn check(n: &i32) -> Result<i32, String> {
    ///     if *n < 0 { Err(format!("{n} is negative")) } else { Ok(*n) }
    /// }
    ///
    /// let b = DagBuilder::<i32>::new().with_error::<String>();
    /// let checked = b.named("check").add_try_node(check, b.param());
    /// let doubled = b.add_node(async |n: &i32| n * 2, checked);
    /// let other = b.add_node(async |n: &i32| n.abs(), b.param());
    /// let dag = Arc::new(b.build());
    ///
    /// let run = dag.run_settled_owned(-4); // 'static: it could be spawned
    /// let settled = std::thread::spawn(move || futures_executor::block_on(run)).join().unwrap();
    /// assert_eq!(settled.errors.len(), 1);
    /// assert_eq!(settled.errors[0].name(), Some("check"));
    /// assert!(settled.outputs.get(doubled).is_err()); // skipped: its input failed
    /// assert_eq!(settled.outputs[other], 4); // the independent branch finished
    /// ```
    pub fn run_settled_owned(
        self: &Arc<Self>,
        param: P,
    ) -> OwnedRun<SettledDagFuture<'static, P, K, E>, P, K, E> {
        let keep = Keep::new(self, param);
        // SAFETY: as in `run_owned`.
        let (core, param) = unsafe { keep.lend() };
        OwnedRun {
            run: SettledDagFuture::new(core, param),
            keep,
        }
    }
}

impl<R, P, K: Flavor, E> OwnedRun<R, P, K, E> {
    /// The same run with its future changed by `f` (a setting), and the same hold on what it
    /// borrows.
    fn map_run<R2>(self, f: impl FnOnce(R) -> R2) -> OwnedRun<R2, P, K, E> {
        OwnedRun {
            run: f(self.run),
            keep: self.keep,
        }
    }

    /// The outputs of a completed run, with their own hold on what they borrow: the run keeps
    /// its own, since it still points at the DAG and the parameter until it is dropped.
    fn owned(&self, outputs: Outputs<'static, P, K>) -> OwnedOutputs<P, K, E> {
        OwnedOutputs {
            outputs,
            keep: self.keep.clone(),
        }
    }
}

/// The settings of an owned run: those of the run future it wraps, `$future` (with its type
/// parameters but the observer), made by `Dag::$entry`; `$ok` reads its output's outputs.
macro_rules! owned_options {
    ($future:ident<$($param:ident),*>, $entry:literal, $ok:literal) => {
        impl<P, K: Flavor, E, O: Observer> OwnedRun<$future<'static, $($param,)* O>, P, K, E> {
            #[doc = concat!("Sends the run's node events to `observer`, as [`", stringify!($future), "::with_observer`].")]
            /// The run stays `Send`, so that it can be spawned, if the observer is `Send`.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            /// use std::sync::atomic::{AtomicUsize, Ordering};
            /// use dagfut::{DagBuilder, NodeEvent, Observer};
            ///
            /// /// Counts the nodes that completed, where the caller can read it.
            /// struct Completed(Arc<AtomicUsize>);
            ///
            /// impl Observer for Completed {
            ///     fn on_event(&mut self, _task: usize, event: NodeEvent) {
            ///         if event == NodeEvent::Completed {
            ///             self.0.fetch_add(1, Ordering::Relaxed);
            ///         }
            ///     }
            /// }
            ///
            /// let b = DagBuilder::<u64>::new();
            /// let double = b.add_node(async |n: &u64| n * 2, b.param());
            /// b.add_node(async |n: &u64| n + 1, double);
            /// let dag = Arc::new(b.build());
            ///
            /// let completed = Arc::new(AtomicUsize::new(0));
            #[doc = concat!("let run = dag.", $entry, "(20).with_observer(Completed(completed.clone()));")]
            #[doc = concat!("let outputs = std::thread::spawn(move || futures_executor::block_on(run)", $ok, ").join().unwrap();")]
            /// assert_eq!(outputs[double], 40);
            /// assert_eq!(completed.load(Ordering::Relaxed), 2);
            /// ```
            pub fn with_observer<O2: Observer>(
                self,
                observer: O2,
            ) -> OwnedRun<$future<'static, $($param,)* O2>, P, K, E> {
                self.map_run(|run| run.with_observer(observer))
            }

            #[doc = concat!("Sets how many node polls one `poll` of the run makes at most, as [`", stringify!($future), "::with_poll_budget`]:")]
            /// a spawned run then gives way to its executor's other tasks.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::future::Future;
            /// use std::pin::Pin;
            /// use std::sync::Arc;
            /// use std::task::{Context, Waker};
            /// use dagfut::DagBuilder;
            ///
            /// let b = DagBuilder::<u64>::new();
            /// let nodes: Vec<_> = (0..100).map(|_| b.add_node(async |n: &u64| n + 1, b.param())).collect();
            /// let dag = Arc::new(b.build());
            ///
            /// // At most 16 node polls per poll of the run: 100 ready nodes take more than one.
            #[doc = concat!("let mut run = dag.", $entry, "(1).with_poll_budget(16);")]
            /// let mut cx = Context::from_waker(Waker::noop());
            /// assert!(Pin::new(&mut run).poll(&mut cx).is_pending());
            #[doc = concat!("let outputs = futures_executor::block_on(run)", $ok, ";")]
            /// assert_eq!(outputs[nodes[99]], 2);
            /// ```
            ///
            /// # Panics
            /// If `budget` is 0.
            pub fn with_poll_budget(self, budget: usize) -> Self {
                self.map_run(|run| run.with_poll_budget(budget))
            }
        }
    };
}

owned_options!(DagFuture<P, K>, "run_owned", "");
owned_options!(TryDagFuture<P, K, E>, "try_run_owned", ".unwrap()");
owned_options!(SettledDagFuture<P, K, E>, "run_settled_owned", ".outputs");

/// `catch_panics` of the owned runs whose futures have it (`$future`, made by `Dag::$entry`),
/// with `$failed` the expression that finds the `DagError` in its output `output`.
macro_rules! owned_catch_panics {
    ($future:ident, $entry:literal, $failed:literal) => {
        impl<P, K: Flavor, E, O: Observer> OwnedRun<$future<'static, P, K, E, O>, P, K, E> {
            #[doc = concat!("Turns a panicking node into [`DagError::Panicked`], as [`", stringify!($future), "::catch_panics`].")]
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            /// use dagfut::{DagBuilder, DagError};
            ///
            /// let b = DagBuilder::<u32>::new().with_error::<String>();
            /// b.named("divide").add_node(async |n: &u32| 100 / n, b.param());
            /// let dag = Arc::new(b.build());
            ///
            #[doc = concat!("let output = futures_executor::block_on(dag.", $entry, "(0).catch_panics());")]
            #[doc = concat!("let error = ", $failed, ";")]
            /// assert!(matches!(error, DagError::Panicked { .. }));
            /// assert_eq!(error.name(), Some("divide"));
            /// ```
            #[cfg(feature = "std")]
            pub fn catch_panics(self) -> Self {
                self.map_run(|run| run.catch_panics())
            }
        }
    };
}

owned_catch_panics!(TryDagFuture, "try_run_owned", "output.unwrap_err()");
owned_catch_panics!(SettledDagFuture, "run_settled_owned", "&output.errors[0]");

impl<P: 'static, K: Flavor, E, O: Observer> Future
    for OwnedRun<DagFuture<'static, P, K, O>, P, K, E>
{
    type Output = OwnedOutputs<P, K, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.run).poll(cx) {
            Poll::Ready(outputs) => Poll::Ready(this.owned(outputs)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<P: 'static, K: Flavor, E, O: Observer> Future
    for OwnedRun<TryDagFuture<'static, P, K, E, O>, P, K, E>
{
    type Output = Result<OwnedOutputs<P, K, E>, DagError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.run).poll(cx) {
            Poll::Ready(Ok(outputs)) => Poll::Ready(Ok(this.owned(outputs))),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<P: 'static, K: Flavor, E, O: Observer> Future
    for OwnedRun<SettledDagFuture<'static, P, K, E, O>, P, K, E>
{
    type Output = OwnedSettled<P, K, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.run).poll(cx) {
            Poll::Ready(Settled { outputs, errors }) => Poll::Ready(OwnedSettled {
                outputs: this.owned(outputs),
                errors,
            }),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What an owned settled run ([`Dag::run_settled_owned`]) produced: as [`Settled`], with
/// outputs that keep their DAG and parameter alive.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use dagfut::DagBuilder;
///
/// let b = DagBuilder::<u32>::new().with_error::<String>();
/// let half = b.add_node(async |n: &u32| n / 2, b.param());
/// let dag = Arc::new(b.build());
///
/// let settled = futures_executor::block_on(dag.run_settled_owned(8));
/// assert!(settled.is_ok());
/// let mut outputs = settled.outputs; // the errors (none here) go their own way
/// assert_eq!(outputs.take(half), Ok(4));
/// ```
pub struct OwnedSettled<P, K: Flavor, E> {
    /// The outputs of the nodes that completed; failed nodes and their descendants have
    /// none ([`OutputError::NotCompleted`]).
    pub outputs: OwnedOutputs<P, K, E>,
    /// Every failure, in completion order, those a fallback replaced included.
    pub errors: alloc::vec::Vec<DagError<E>>,
}

// By hand, as `Settled`'s: `P` and `K` need no `Debug`.
impl<P, K: Flavor, E: fmt::Debug> fmt::Debug for OwnedSettled<P, K, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSettled")
            .field("outputs", &self.outputs)
            .field("errors", &self.errors)
            .finish()
    }
}

impl<P, K: Flavor, E> OwnedSettled<P, K, E> {
    /// Whether no node failed (a node whose fallback took its place did).
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

// The run futures are `Unpin` (their node futures live in the run's heap arena), and so is
// what `Keep` holds.
impl<R: Unpin, P, K: Flavor, E> Unpin for OwnedRun<R, P, K, E> {}

impl<R: fmt::Debug, P, K: Flavor, E> fmt::Debug for OwnedRun<R, P, K, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedRun").field("run", &self.run).finish()
    }
}

/// The outputs of an owned run ([`Dag::run_owned`]): [`Outputs`] that keep their DAG and
/// parameter alive, so they can be returned from a spawned task and sent to other threads.
///
/// Read them as [`Outputs`] (they dereference to it); [`take`](Self::take) and
/// [`take_many`](Self::take_many) move values out.
pub struct OwnedOutputs<P, K: Flavor, E> {
    /// Borrows `keep`: declared first, so dropped first.
    outputs: Outputs<'static, P, K>,
    keep: Keep<P, K, E>,
}

impl<P, K: Flavor, E> OwnedOutputs<P, K, E> {
    /// Moves the output of task `node` out, as [`Outputs::take`].
    ///
    /// # Errors
    /// As [`Outputs::take`].
    pub fn take<T>(&mut self, node: Node<T>) -> Result<T, OutputError> {
        self.outputs.take(node)
    }

    /// Moves the outputs of several tasks out at once, as [`Outputs::take_many`].
    ///
    /// # Errors
    /// As [`Outputs::take_many`]; nothing is taken then.
    pub fn take_many<H: crate::outputs::Handles>(
        &mut self,
        handles: H,
    ) -> Result<H::Values, OutputError> {
        self.outputs.take_many(handles)
    }

    /// The run's parameter.
    pub fn param(&self) -> &P {
        &self.keep.param
    }

    /// The DAG that produced these outputs.
    pub fn dag(&self) -> &Arc<Dag<P, K, E>> {
        &self.keep.dag
    }
}

/// Only shared access: a `&mut Outputs<'static, ..>` could be swapped with another run's,
/// which would then outlive the DAG and parameter it borrows.
impl<P, K: Flavor, E> Deref for OwnedOutputs<P, K, E> {
    type Target = Outputs<'static, P, K>;

    fn deref(&self) -> &Self::Target {
        &self.outputs
    }
}

impl<T, P, K: Flavor, E> Index<Node<T>> for OwnedOutputs<P, K, E> {
    type Output = T;

    /// # Panics
    /// As indexing [`Outputs`].
    #[track_caller]
    fn index(&self, node: Node<T>) -> &T {
        &self.outputs[node]
    }
}

impl<P, K: Flavor, E> fmt::Debug for OwnedOutputs<P, K, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedOutputs").field(&self.outputs).finish()
    }
}
