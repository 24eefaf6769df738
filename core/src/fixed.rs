//! DAGs fixed at compile time, with no allocator: the runtime of [`dag!`](crate::dag!).
//!
//! A [`dag!`](crate::dag!) expands to an async closure whose future holds every node's future
//! and output in place (the compiler lays them out; their size is known at compile time), and
//! a [`schedule`] that polls them: each node starts the moment its inputs are ready, and is
//! polled again only when its own waker is woken. The wakers live in a `static` block per
//! `dag!` ([`Wakers`]): a waker is a pointer to it, never to the run, so one woken after its
//! run ended (legal for any future) only sets a bit nobody reads. Nothing here allocates.
//!
//! The pieces are public for the macro's sake; the macro is the interface.

use core::cell::OnceCell;
use core::fmt;
use core::future::{Future, poll_fn};
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use futures_util::task::AtomicWaker;
use pin_project_lite::pin_project;
use portable_atomic::{AtomicBool, AtomicU64, Ordering};

use crate::flavor::CannotFail;
use crate::observe::{NodeEvent, Observer};

/// The most nodes a [`dag!`](crate::dag!) may have (one bit each in a `u64`).
pub const MAX_NODES: usize = 64;

/// The wakers of a [`dag!`](crate::dag!)'s nodes: one `static` block per `dag!`, claimed by
/// one run at a time (a concurrent second run polls its running nodes on every wake instead:
/// correct, only slower).
#[derive(Debug)]
pub struct Wakers<const N: usize> {
    /// The waker of the run's task, registered by each poll, woken by any node's waker.
    parent: AtomicWaker,
    /// Bit `i`: node `i` was woken since the run last looked.
    woken: AtomicU64,
    /// Whether a run is using this block.
    claimed: AtomicBool,
    /// Byte `i` is `i`: a node's waker points at its byte, which says which node it is.
    tags: [u8; N],
}

impl<const N: usize> Wakers<N> {
    /// A block for `N` nodes.
    ///
    /// # Panics
    /// At compile time (in a `static`), if `N` exceeds [`MAX_NODES`].
    pub const fn new() -> Self {
        assert!(N <= MAX_NODES, "dagfut: a dag! has at most 64 nodes");
        let mut tags = [0u8; N];
        let mut i = 0;
        while i < N {
            tags[i] = i as u8;
            i += 1;
        }
        Wakers {
            parent: AtomicWaker::new(),
            woken: AtomicU64::new(0),
            claimed: AtomicBool::new(false),
            tags,
        }
    }

    /// The waker of node `index`.
    fn waker(&'static self, index: usize) -> Waker {
        // A pointer to `tags[index]` derived from the whole block (not from `&self.tags`), so
        // that `wake` may step back from the tag to the block within its provenance.
        let block: *const Self = self;
        let tag = block
            .cast::<u8>()
            .wrapping_add(core::mem::offset_of!(Wakers<N>, tags) + index);
        // SAFETY: the vtable's functions uphold `RawWaker`'s contract for a `'static` tag of
        // a `Wakers<N>` (see `VTable`).
        unsafe { Waker::from_raw(RawWaker::new(tag.cast(), VTable::<N>::VTABLE)) }
    }
}

impl<const N: usize> Default for Wakers<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The waker functions of a `Wakers<N>`'s tags. A waker owns nothing: clone copies the
/// pointer, drop does nothing.
struct VTable<const N: usize>;

impl<const N: usize> VTable<N> {
    const VTABLE: &'static RawWakerVTable =
        &RawWakerVTable::new(Self::clone, Self::wake, Self::wake, Self::drop);

    /// # Safety
    /// `tag` points at a tag byte of a `'static` `Wakers<N>`, with the provenance of the
    /// whole block (`Wakers::waker` made it so).
    unsafe fn block(tag: *const ()) -> (&'static Wakers<N>, usize) {
        let tag = tag.cast::<u8>();
        // SAFETY: the tag byte is initialized and never written after `new`.
        let index = usize::from(unsafe { *tag });
        // SAFETY: the tag is `tags[index]`, so stepping back `index` bytes and then the offset
        // of `tags` reaches the block, within the provenance of the pointer.
        let block = unsafe {
            tag.sub(index)
                .sub(core::mem::offset_of!(Wakers<N>, tags))
                .cast::<Wakers<N>>()
        };
        // SAFETY: the block is a `'static` value, only ever shared.
        (unsafe { &*block }, index)
    }

    unsafe fn clone(tag: *const ()) -> RawWaker {
        RawWaker::new(tag, Self::VTABLE)
    }

    unsafe fn wake(tag: *const ()) {
        // SAFETY: every waker of this vtable was made by `Wakers::waker`.
        let (block, index) = unsafe { Self::block(tag) };
        block.woken.fetch_or(1 << index, Ordering::AcqRel);
        block.parent.wake();
    }

    unsafe fn drop(_tag: *const ()) {}
}

/// The run's parameter, as a node's input: the node receives `&P`.
#[derive(Debug)]
pub struct Param<'a, P: ?Sized>(pub &'a P);

/// A node's output cell.
#[derive(Debug)]
pub struct OutputCell<T> {
    value: OnceCell<T>,
}

impl<T> OutputCell<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        OutputCell {
            value: OnceCell::new(),
        }
    }

    /// The node's value, if it completed.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}

impl<T> Default for OutputCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// What a node's input can be: another node's output cell, or the parameter.
pub trait Source<'a> {
    /// What the node receives.
    type Value;
    /// The value: the output of a completed node, or the parameter.
    fn value(self) -> Self::Value;
}

/// The "position" of the parameter among a node's inputs.
pub const PARAM: u8 = u8::MAX;

impl<'a, T> Source<'a> for &'a OutputCell<T> {
    type Value = &'a T;
    #[inline(always)]
    fn value(self) -> &'a T {
        self.value
            .get()
            .expect("dagfut: a dag! node started before its input completed")
    }
}

impl<'a, 'p, P: ?Sized> Source<'a> for &'a Param<'p, P> {
    type Value = &'p P;
    #[inline(always)]
    fn value(self) -> &'p P {
        self.0
    }
}

/// The compile-time check that a node's input names an earlier node or the parameter.
#[doc(hidden)]
pub fn earlier<'a, I: Source<'a>>(_: &I) {}

/// How a node's future's output becomes its value: [`Sure`] (it is the value) or
/// [`Fallible`] (`Ok(value)`, or `Err` fails the node).
pub trait Kind<O, E> {
    /// The node's value.
    type Value;
    /// The value, or the error as the DAG's error type.
    fn split(output: O) -> Result<Self::Value, E>;
}

/// A node whose function cannot fail.
#[derive(Debug)]
pub enum Sure {}

/// A node whose function returns `Result<T, X>`, `X: Into<E>`.
#[derive(Debug)]
pub enum Fallible {}

impl<O, E> Kind<O, E> for Sure {
    type Value = O;
    #[inline(always)]
    fn split(output: O) -> Result<O, E> {
        Ok(output)
    }
}

impl<T, X: Into<E>, E> Kind<Result<T, X>, E> for Fallible {
    type Value = T;
    #[inline(always)]
    fn split(output: Result<T, X>) -> Result<T, E> {
        output.map_err(Into::into)
    }
}

/// A node of a run, its types erased for [`schedule`].
pub trait Task<E> {
    /// Calls its function (the first time), then polls its future; on `Ready` the future is
    /// dropped and the value is in the cell (or the error is returned).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>>;
}

pin_project! {
    /// A node: its function's call, then its future while it runs, then nothing.
    #[project = StepProj]
    #[project_replace = StepReplace]
    enum Stage<Mk, Fut> {
        /// Not started: the call that makes its future.
        Make { make: Mk },
        /// Running.
        Run { #[pin] future: Fut },
        /// Completed, failed or dropped.
        Gone,
    }
}

pin_project! {
    /// A node: its stage and its output cell.
    pub struct Step<'c, T, Mk, Fut, K> {
        cell: &'c OutputCell<T>,
        #[pin]
        stage: Stage<Mk, Fut>,
        _kind: PhantomData<fn() -> K>,
    }
}

impl<'c, T, Mk, Fut, K> Step<'c, T, Mk, Fut, K>
where
    Mk: FnOnce() -> Fut,
    Fut: Future,
{
    /// The node writing to `cell`, calling `make`.
    pub fn new(cell: &'c OutputCell<T>, make: Mk) -> Self {
        Step {
            cell,
            stage: Stage::Make { make },
            _kind: PhantomData,
        }
    }
}

impl<T, Mk, Fut, K, E> Task<E> for Step<'_, T, Mk, Fut, K>
where
    Mk: FnOnce() -> Fut,
    Fut: Future,
    K: Kind<Fut::Output, E, Value = T>,
{
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        let mut this = self.project();
        if let StepProj::Make { .. } = this.stage.as_mut().project() {
            let StepReplace::Make { make } = this.stage.as_mut().project_replace(Stage::Gone)
            else {
                unreachable!()
            };
            this.stage.set(Stage::Run { future: make() });
        }
        let StepProj::Run { future } = this.stage.as_mut().project() else {
            return Poll::Pending;
        };
        let Poll::Ready(output) = future.poll(cx) else {
            return Poll::Pending;
        };
        // The future goes before its value is stored: it may borrow its inputs, never its
        // own output.
        this.stage.set(Stage::Gone);
        Poll::Ready(K::split(output).map(|value| {
            // The cell is empty: a node completes once.
            let _ = this.cell.value.set(value);
        }))
    }
}

/// The nodes of a run, as a list `Cons(node 0, Cons(node 1, .. Nil))`: polling node `i` is
/// a static call (its future's `poll` inlined into the scheduler), not a call through a
/// vtable.
pub trait Steps<E> {
    /// Polls node `index` (see [`Task::poll`]).
    fn poll_step(self: Pin<&mut Self>, index: usize, cx: &mut Context<'_>) -> Poll<Result<(), E>>;
}

/// The end of a [`Steps`] list.
#[derive(Debug)]
pub struct Nil;

impl<E> Steps<E> for Nil {
    #[inline(always)]
    fn poll_step(self: Pin<&mut Self>, index: usize, _: &mut Context<'_>) -> Poll<Result<(), E>> {
        unreachable!("dagfut: a dag! has no node #{index}")
    }
}

pin_project! {
    /// A node, and the nodes after it: a [`Steps`] list.
    #[derive(Debug)]
    pub struct Cons<H, T> {
        #[pin]
        head: H,
        #[pin]
        tail: T,
    }
}

impl<H, T> Cons<H, T> {
    /// `head`, then the nodes of `tail`.
    pub const fn new(head: H, tail: T) -> Self {
        Cons { head, tail }
    }
}

impl<E, H: Task<E>, T: Steps<E>> Steps<E> for Cons<H, T> {
    #[inline(always)]
    fn poll_step(self: Pin<&mut Self>, index: usize, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        let this = self.project();
        if index == 0 {
            this.head.poll(cx)
        } else {
            this.tail.poll_step(index - 1, cx)
        }
    }
}

/// What a run does when a node fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stop at the first failure (`try_run`).
    FailFast,
    /// Skip the failed node's descendants, finish the rest (`run_settled`).
    Settle,
}

/// How a run of a [`dag!`](crate::dag!) is made: its policy and its observer.
pub struct Control<'o> {
    /// The policy.
    pub mode: Mode,
    /// The observer of its node events (task = the node's position in the `dag!`), if any.
    pub observer: Option<&'o mut dyn Observer>,
}

impl fmt::Debug for Control<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// A failed node of a [`dag!`](crate::dag!): its name, position and error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed<E> {
    /// The node's name (its variable in the `dag!`).
    pub node: &'static str,
    /// Its position in the `dag!`, from 0.
    pub index: usize,
    /// Its error.
    pub error: E,
}

impl<E: fmt::Display> fmt::Display for Failed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node `{}` (#{}) failed: {}",
            self.node, self.index, self.error
        )
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for Failed<E> {}

/// What a run of a [`dag!`](crate::dag!) produced: the requested outputs (`None` for a node
/// that did not complete), the first failure, and each node's error (settling runs).
#[derive(Debug)]
pub struct Report<O, E, const N: usize> {
    /// The outputs the `dag!` returns, each `Some` if its node completed.
    pub outputs: O,
    /// The failure that stopped a fail-fast run.
    pub failed: Option<Failed<E>>,
    /// Each node's error, by position (a settling run records every failure).
    pub errors: [Option<E>; N],
}

/// The outputs of a [`dag!`](crate::dag!) that completed: a tuple of `Option`s, unwrapped.
pub trait AllOutputs {
    /// The tuple of values.
    type Values;
    /// The values, if every one is there.
    fn all(self) -> Option<Self::Values>;
}

macro_rules! outputs_impl {
    ($($T:ident $t:ident),*) => {
        impl<$($T),*> AllOutputs for ($(Option<$T>,)*) {
            type Values = ($($T,)*);
            #[allow(clippy::unused_unit)]
            fn all(self) -> Option<Self::Values> {
                let ($($t,)*) = self;
                Some(($($t?,)*))
            }
        }
    };
}

outputs_impl!(T1 t1);
outputs_impl!(T1 t1, T2 t2);
outputs_impl!(T1 t1, T2 t2, T3 t3);
outputs_impl!(T1 t1, T2 t2, T3 t3, T4 t4);
outputs_impl!(T1 t1, T2 t2, T3 t3, T4 t4, T5 t5);
outputs_impl!(T1 t1, T2 t2, T3 t3, T4 t4, T5 t5, T6 t6);
outputs_impl!(T1 t1, T2 t2, T3 t3, T4 t4, T5 t5, T6 t6, T7 t7);
outputs_impl!(T1 t1, T2 t2, T3 t3, T4 t4, T5 t5, T6 t6, T7 t7, T8 t8);

/// A DAG fixed at compile time, made by [`dag!`](crate::dag!): run it any number of times.
///
/// `R` is the async closure the macro wrote; its future is the whole run, with every node's
/// future and output in place: `size_of_val(&dag.run(&p))` is the run's memory, all of it.
#[derive(Debug)]
pub struct StaticDag<R>(R);

impl<R> StaticDag<R> {
    #[doc(hidden)]
    pub fn new(run: R) -> Self {
        StaticDag(run)
    }

    /// Runs the DAG (whose nodes cannot fail) and returns the outputs the `dag!` names.
    ///
    /// # Panics
    /// If a node panics (as `join!` does).
    pub async fn run<P: ?Sized, O: AllOutputs, E: CannotFail, const N: usize>(
        &self,
        param: &P,
    ) -> O::Values
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        let report = (self.0)(param, Control::new(Mode::FailFast, None)).await;
        report
            .outputs
            .all()
            .expect("dagfut: a node of an infallible dag! did not complete")
    }

    /// [`run`](Self::run), with an observer of the node events.
    pub async fn run_with<P: ?Sized, O: AllOutputs, E: CannotFail, const N: usize>(
        &self,
        param: &P,
        observer: &mut dyn Observer,
    ) -> O::Values
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        let report = (self.0)(param, Control::new(Mode::FailFast, Some(observer))).await;
        report
            .outputs
            .all()
            .expect("dagfut: a node of an infallible dag! did not complete")
    }

    /// Runs the DAG, stopping at the first failure: every running node future is dropped at
    /// once and the error names the node.
    ///
    /// # Errors
    /// The first node that failed.
    pub async fn try_run<P: ?Sized, O: AllOutputs, E, const N: usize>(
        &self,
        param: &P,
    ) -> Result<O::Values, Failed<E>>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        let report = (self.0)(param, Control::new(Mode::FailFast, None)).await;
        failed_or_outputs(report)
    }

    /// [`try_run`](Self::try_run), with an observer of the node events.
    ///
    /// # Errors
    /// The first node that failed.
    pub async fn try_run_with<P: ?Sized, O: AllOutputs, E, const N: usize>(
        &self,
        param: &P,
        observer: &mut dyn Observer,
    ) -> Result<O::Values, Failed<E>>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        let report = (self.0)(param, Control::new(Mode::FailFast, Some(observer))).await;
        failed_or_outputs(report)
    }

    /// Runs the DAG to the end: a failure skips only the failed node's descendants. The
    /// report holds the outputs (`None` for a node that failed or was skipped) and each
    /// node's error.
    pub async fn run_settled<P: ?Sized, O, E, const N: usize>(&self, param: &P) -> Report<O, E, N>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        (self.0)(param, Control::new(Mode::Settle, None)).await
    }

    /// [`run_settled`](Self::run_settled), with an observer of the node events.
    pub async fn run_settled_with<P: ?Sized, O, E, const N: usize>(
        &self,
        param: &P,
        observer: &mut dyn Observer,
    ) -> Report<O, E, N>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        (self.0)(param, Control::new(Mode::Settle, Some(observer))).await
    }
}

impl<'o> Control<'o> {
    fn new(mode: Mode, observer: Option<&'o mut dyn Observer>) -> Self {
        Control { mode, observer }
    }
}

/// The outputs of a fail-fast run, or its failure.
fn failed_or_outputs<O: AllOutputs, E, const N: usize>(
    report: Report<O, E, N>,
) -> Result<O::Values, Failed<E>> {
    match report.failed {
        Some(failed) => Err(failed),
        None => Ok(report
            .outputs
            .all()
            .expect("dagfut: a dag! run ended without a failure but with a node missing")),
    }
}

/// The edges of a [`dag!`](crate::dag!), computed at compile time: how many inputs each node
/// waits for, and the nodes that read each one's output.
#[derive(Debug)]
pub struct Graph<const N: usize> {
    waiting: [u8; N],
    dependents: [u64; N],
    roots: u64,
    names: [&'static str; N],
}

impl<const N: usize> Graph<N> {
    /// The graph whose node `i` is named `names[i]` and reads the outputs of the nodes
    /// `inputs[i]` names ([`PARAM`] for the parameter).
    pub const fn new(names: [&'static str; N], inputs: [&[u8]; N]) -> Self {
        let mut waiting = [0u8; N];
        let mut dependents = [0u64; N];
        let mut roots = 0;
        let mut node = 0;
        while node < N {
            let mut i = 0;
            while i < inputs[node].len() {
                let source = inputs[node][i];
                // The names resolved to earlier nodes in the `dag!`'s scope; a name that an
                // outer variable shadows could still point at this node or a later one (a
                // cycle): refused here, at compile time (the graph is a `static`).
                assert!(
                    source == PARAM || (source as usize) < node,
                    "dagfut: a dag! node's inputs must be the parameter or nodes before it"
                );
                if source != PARAM {
                    waiting[node] += 1;
                    dependents[source as usize] |= 1 << node;
                }
                i += 1;
            }
            if waiting[node] == 0 {
                roots |= 1 << node;
            }
            node += 1;
        }
        Graph {
            waiting,
            dependents,
            roots,
            names,
        }
    }
}

/// A node's state in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Done,
    /// Failed, or skipped because an input did.
    Failed,
}

/// Whose wakers a run's nodes get.
enum Wakes<const N: usize> {
    /// The block's, unclaimed: the run has not waited yet.
    First,
    /// The block's, claimed by this run.
    Own(#[allow(dead_code)] Claim<N>), // held for its `Drop`: the release
    /// The task's: another run owns the block.
    Shared,
}

/// Holds a [`Wakers`] block for one run; releases it when the run ends or is dropped.
struct Claim<const N: usize>(&'static Wakers<N>);

impl<const N: usize> Drop for Claim<N> {
    fn drop(&mut self) {
        // The block keeps no task of ours alive once we are done with it.
        drop(self.0.parent.take());
        self.0.claimed.store(false, Ordering::Release);
    }
}

/// Runs `nodes` (in an order where each node's inputs come before it, their edges in `graph`)
/// to the end: each node starts when its inputs have completed and is polled when its waker is
/// woken.
pub async fn schedule<E, S: Steps<E>, const N: usize>(
    mut nodes: Pin<&mut S>,
    graph: &'static Graph<N>,
    wakers: &'static Wakers<N>,
    control: Control<'_>,
) -> (Option<Failed<E>>, [Option<E>; N]) {
    let Control { mode, mut observer } = control;
    let mut waiting = graph.waiting;
    let dependents = &graph.dependents;
    let mut state = [State::Waiting; N];
    let mut errors: [Option<E>; N] = [const { None }; N];
    let mut failed = None;
    // The nodes to poll now: those whose inputs are done (to start) and those woken.
    let mut due: u64 = graph.roots;
    let mut left = N;
    // Whether a poll returned `Pending`: from then on the parent's waker is registered.
    // One run at a time owns the block's wakers: it claims them when it first waits (a run
    // that completes in its first poll never touches an atomic). A run that finds them taken
    // polls every running node with its task's waker instead.
    let mut wakes = Wakes::First;
    let event = |observer: &mut Option<&mut dyn Observer>, node: usize, event: NodeEvent| {
        if let Some(observer) = observer {
            observer.on_event(node, event);
        }
    };
    poll_fn(|cx| {
        if let Some(observer) = &mut observer {
            observer.on_poll_start();
        }
        match &wakes {
            Wakes::First => {}
            Wakes::Own(_) => {
                wakers.parent.register(cx.waker());
                due |= wakers.woken.swap(0, Ordering::AcqRel);
            }
            Wakes::Shared => {
                for (i, s) in state.iter().enumerate() {
                    if *s == State::Running {
                        due |= 1 << i;
                    }
                }
            }
        }
        loop {
            while due != 0 {
                let node = due.trailing_zeros() as usize;
                due &= due - 1;
                match state[node] {
                    State::Waiting if waiting[node] == 0 => {
                        state[node] = State::Running;
                        event(&mut observer, node, NodeEvent::Started);
                    }
                    State::Running => event(&mut observer, node, NodeEvent::Woken),
                    // A stale wake: done, failed or skipped.
                    _ => continue,
                }
                let waker = match &wakes {
                    Wakes::First | Wakes::Own(_) => wakers.waker(node),
                    Wakes::Shared => cx.waker().clone(),
                };
                let polled = nodes
                    .as_mut()
                    .poll_step(node, &mut Context::from_waker(&waker));
                match polled {
                    Poll::Pending => event(&mut observer, node, NodeEvent::Pending),
                    Poll::Ready(Ok(())) => {
                        state[node] = State::Done;
                        left -= 1;
                        event(&mut observer, node, NodeEvent::Completed);
                        let mut next = dependents[node];
                        while next != 0 {
                            let dependent = next.trailing_zeros() as usize;
                            next &= next - 1;
                            waiting[dependent] -= 1;
                            if waiting[dependent] == 0 && state[dependent] == State::Waiting {
                                due |= 1 << dependent;
                            }
                        }
                    }
                    Poll::Ready(Err(error)) => {
                        state[node] = State::Failed;
                        left -= 1;
                        event(&mut observer, node, NodeEvent::Failed);
                        if mode == Mode::FailFast {
                            failed = Some(Failed {
                                node: graph.names[node],
                                index: node,
                                error,
                            });
                            if let Some(observer) = &mut observer {
                                observer.on_poll_end(true);
                            }
                            return Poll::Ready(());
                        }
                        errors[node] = Some(error);
                        // Skip every descendant (they come later: inputs precede their nodes).
                        let mut skip = dependents[node];
                        for later in node + 1..N {
                            if skip & (1 << later) != 0 && state[later] == State::Waiting {
                                state[later] = State::Failed;
                                left -= 1;
                                skip |= dependents[later];
                            }
                        }
                    }
                }
            }
            if left == 0 || !matches!(wakes, Wakes::First) {
                break;
            }
            // The run waits for the first time: it claims the block's wakers, which its nodes
            // already hold, and from now on each poll registers the parent's waker as it
            // starts. A wake during this poll found no waker to wake: look once more after
            // registering.
            let claimed = wakers
                .claimed
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            if !claimed {
                // Another run owns them: the wakers our nodes hold wake it, not us. Poll
                // every running node again at once, with our task's waker.
                wakes = Wakes::Shared;
                cx.waker().wake_by_ref();
                break;
            }
            wakes = Wakes::Own(Claim(wakers));
            wakers.parent.register(cx.waker());
            due |= wakers.woken.swap(0, Ordering::AcqRel);
            // Our nodes held the block's wakers before we owned it: a wake in between set a
            // bit that the run owning the block then may have consumed (and woken itself, not
            // us). Poll every running node once more, so no such wake is lost.
            for (i, s) in state.iter().enumerate() {
                if *s == State::Running {
                    due |= 1 << i;
                }
            }
            if due == 0 {
                break;
            }
        }
        let ended = left == 0;
        if let Some(observer) = &mut observer {
            observer.on_poll_end(ended);
        }
        if ended {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    drop(wakes);
    (failed, errors)
}

/// One, for counting the nodes of a [`dag!`](crate::dag!) at compile time.
#[doc(hidden)]
pub const fn one(_: &str) -> usize {
    1
}

/// A DAG fixed at compile time that needs no allocator: one future, the size of its nodes'
/// futures and outputs, known at compile time.
///
/// ```text
/// dag! {
///     async |param: &P| -> (output, ..) or E {
///         node(input, ..) = expression;        // a node: `expression` is its future
///         node(input, ..) = try expression;    // a fallible node: its future returns `Result<T, X>`, X: Into<E>
///         ..
///     }
/// }
/// ```
///
/// Each node names its inputs (the parameter or earlier nodes), then the call that makes its
/// future; inside the call, each input's name is a reference to its value (`&P`, `&T`). A node
/// starts the moment its inputs have completed; `or E` is the error type of fallible nodes
/// (without it, nodes cannot fail). The result is a [`StaticDag`](crate::fixed::StaticDag):
/// [`run`](crate::fixed::StaticDag::run), [`try_run`](crate::fixed::StaticDag::try_run) and
/// [`run_settled`](crate::fixed::StaticDag::run_settled) it any number of times; the outputs
/// named after `->` come back as a tuple.
///
/// An input that names no earlier node (a typo, a later node, the node itself: a cycle) is a
/// compile error at that name. At most 64 nodes.
///
/// A run's future is not `Send` (its nodes share their output cells by reference): run it on
/// the task that made it, as firmware and single-threaded executors do.
///
/// The per-node wakers live in a `static` of the `dag!`'s site (one for every instantiation of
/// a generic function around it), which one run at a time claims when it first waits; runs at
/// the same time as it still work, polling their running nodes on each wake instead.
///
/// # Examples
///
/// The seed graph of the Python library async-dag:
///
/// ```
/// async fn inc(_name: &str, n: &u32) -> u32 {
///     n + 1
/// }
///
/// async fn add(_name: &str, a: &u32, b: &u32) -> u32 {
///     a + b
/// }
///
/// let seed = dagfut::dag! {
///     async |p: &u32| -> (end, fast_a) {
///         fast_a(p) = inc("fast_a", p);
///         slow_b(fast_a) = inc("slow_b", fast_a);
///         slow_a(p) = inc("slow_a", p);
///         fast_b(p) = inc("fast_b", p);
///         fast_c(slow_a, fast_b) = add("fast_c", slow_a, fast_b);
///         end(fast_c, slow_b) = add("end", fast_c, slow_b);
///     }
/// };
/// let (end, fast_a) = futures_executor::block_on(seed.run(&0));
/// assert_eq!((end, fast_a), (4, 1));
/// ```
///
/// Fallible nodes:
///
/// ```
/// async fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
///     text.parse()
/// }
///
/// let dag = dagfut::dag! {
///     async |text: &&str| -> (n) or std::num::ParseIntError {
///         n(text) = try parse(text);
///     }
/// };
/// assert_eq!(futures_executor::block_on(dag.try_run(&"42")), Ok((42,)));
/// let error = futures_executor::block_on(dag.try_run(&"x")).unwrap_err();
/// assert_eq!(error.node, "n");
/// ```
#[macro_export]
macro_rules! dag {
    (async |$p:ident : $P:ty| -> ($($out:ident),+ $(,)?) or $E:ty { $($body:tt)* }) => {
        $crate::dag!(@nodes [$p [$P] [$E] [$($out),+]] [] [] $($body)*)
    };
    (async |$p:ident : $P:ty| -> ($($out:ident),+ $(,)?) { $($body:tt)* }) => {
        $crate::dag!(
            @nodes [$p [$P] [::core::convert::Infallible] [$($out),+]] [] [] $($body)*
        )
    };
    // The nodes as a `Steps` list.
    (@cons) => { $crate::fixed::Nil };
    (@cons $first:expr $(, $rest:expr)*) => {
        $crate::fixed::Cons::new($first, $crate::dag!(@cons $($rest),*))
    };
    // One node line at a time, into `[name [inputs] call kind [index]]` entries; the `1`s
    // count the nodes before.
    (@nodes $head:tt [$($done:tt)*] [$($before:tt)*]
        $name:ident ( $($input:ident),* $(,)? ) = try $call:expr ; $($rest:tt)*) => {
        $crate::dag!(@nodes $head
            [$($done)* [$name [$($input),*] [$call] $crate::fixed::Fallible [0 $(+ $before)*]]]
            [$($before)* 1] $($rest)*)
    };
    (@nodes $head:tt [$($done:tt)*] [$($before:tt)*]
        $name:ident ( $($input:ident),* $(,)? ) = $call:expr ; $($rest:tt)*) => {
        $crate::dag!(@nodes $head
            [$($done)* [$name [$($input),*] [$call] $crate::fixed::Sure [0 $(+ $before)*]]]
            [$($before)* 1] $($rest)*)
    };
    (@nodes [$p:ident [$P:ty] [$E:ty] [$($out:ident),+]]
        [$([$name:ident [$($input:ident),*] [$call:expr] $kind:path [$($index:tt)*]])*] $count:tt) => {
        $crate::fixed::StaticDag::new(
            async move |param: $P, control: $crate::fixed::Control<'_>| {
                const NODE_COUNT: usize = 0 $(+ $crate::fixed::one(stringify!($name)))*;
                static WAKERS: $crate::fixed::Wakers<NODE_COUNT> = $crate::fixed::Wakers::new();
                // The edges, at compile time: each node's name stands for its position here.
                static GRAPH: $crate::fixed::Graph<NODE_COUNT> = {
                    #[allow(non_upper_case_globals, dead_code)]
                    const $p: u8 = $crate::fixed::PARAM;
                    $(
                        #[allow(non_upper_case_globals, dead_code)]
                        const $name: u8 = $($index)*;
                    )*
                    $crate::fixed::Graph::new(
                        [$(stringify!($name)),*],
                        [$( &[$($input),*] ),*],
                    )
                };
                let $p = $crate::fixed::Param(param);
                // Each node's output cell, in order: an input must name one declared before
                // (or the parameter), which is what makes the graph acyclic.
                $(
                    $( $crate::fixed::earlier(&&$input); )*
                    let $name = $crate::fixed::OutputCell::new();
                )*
                let (failed, errors) = {
                    let nodes = ::core::pin::pin!($crate::dag!(@cons $(
                        $crate::fixed::Step::<_, _, _, $kind>::new(
                            &$name,
                            {
                                $( let $input = &$input; )*
                                move || {
                                    $( let $input = $crate::fixed::Source::value($input); )*
                                    $call
                                }
                            },
                        )
                    ),*));
                    let ended =
                        $crate::fixed::schedule::<$E, _, NODE_COUNT>(nodes, &GRAPH, &WAKERS, control)
                            .await;
                    ended
                };
                $crate::fixed::Report {
                    outputs: ($($out.into_inner(),)+),
                    failed,
                    errors,
                }
            },
        )
    };
}
