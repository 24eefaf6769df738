//! Type-erased tasks: how the scheduler starts, polls and drops a node's future without
//! knowing its type.
//!
//! Each task owns a *slot* in the run's arena, laid out when the DAG is built: the node's
//! future lives there while it runs, and its output takes the same place once it completes
//! (the future is dropped first). A list node keeps its array of input references after that
//! shared region. Inputs are lent to the future as `&T` pointing into other slots, into the
//! DAG's constants or at the run's parameter: all of them outlive the run's futures, which is
//! why the futures' lifetimes can be erased here.

use alloc::boxed::Box;
use core::alloc::Layout;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};
use core::time::Duration;

use crate::flavor::TypeMarker;
use crate::node::Slot;
use crate::policy::{Attempts, Fallback, News, Outcome, Timer};
use crate::slots::{DONE, FAILED, RUNNING, VACANT};

/// An async function usable as a node of a [`Sendable`](crate::Sendable) DAG: a function of
/// shared references to its inputs that returns a future which may borrow them for `'a`.
///
/// It is implemented for every `Fn(&'a A, &'a B, ..) -> Fut` with `Fut: Future + 'a` (an
/// optional input is an `Option<&'a A>`, a list a `&'a [&'a A]`), which covers `async fn`
/// items and closures that return a future; there is nothing to implement by hand. Such a
/// function's future type is known to the compiler, so a `Sendable` DAG can
/// check that it is `Send`.
///
/// A node with state takes it as its first argument: [`add_node_with`](crate::DagBuilder::add_node_with).
/// A closure that captures state works when its future borrows none of it: copy what it needs
/// out before `async move`. A [`Local`](crate::Local) DAG takes any `AsyncFn` instead, async
/// closures that capture included.
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
///         format!("{}/{id}", self.base_url)
///     }
/// }
///
/// let client = Arc::new(Client { base_url: "svc".into() });
/// let b = DagBuilder::<u64>::new();
/// let got = b.add_node(
///     // Clone the state and copy the input out, then `async move`: the future borrows
///     // nothing of the closure or its input, so it is `Send` and fits a `DagBuilder`.
///     move |id: &u64| {
///         let (client, id) = (client.clone(), *id);
///         async move { client.get(id).await }
///     },
///     b.param(),
/// );
/// let dag = b.build();
/// assert_eq!(futures_executor::block_on(dag.run(&7))[got], "svc/7");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a node function taking `{Args}`",
    note = "a node function is an `async fn` taking `&` references to its inputs, in order"
)]
pub trait NodeFn<'a, Args> {
    /// The value the node produces.
    type Output;
    /// The future the function returns.
    type Future: Future<Output = Self::Output> + 'a;
    /// Calls the function with the references in `args`.
    fn call(&'a self, args: Args) -> Self::Future;
}

macro_rules! node_fn_impl {
    ($($A:ident $a:ident),*) => {
        impl<'a, F, Fut, $($A),*> NodeFn<'a, ($($A,)*)> for F
        where
            F: Fn($($A),*) -> Fut,
            Fut: Future + 'a,
        {
            type Output = Fut::Output;
            type Future = Fut;
            #[allow(clippy::unused_unit)]
            fn call(&'a self, ($($a,)*): ($($A,)*)) -> Fut {
                self($($a),*)
            }
        }
    };
}

node_fn_impl!();
node_fn_impl!(A1 a1);
node_fn_impl!(A1 a1, A2 a2);
node_fn_impl!(A1 a1, A2 a2, A3 a3);
node_fn_impl!(A1 a1, A2 a2, A3 a3, A4 a4);
node_fn_impl!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5);
node_fn_impl!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6);
node_fn_impl!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7);
node_fn_impl!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8);
node_fn_impl!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9);
node_fn_impl!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10);
node_fn_impl!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11);
node_fn_impl!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12);

/// How a node's future's output becomes the node's value.
///
/// # Safety
/// `settle` may write a failure into `error_sink` as `*mut Sink<E>` for its own `E`
/// only: the builder guarantees the run's sink has that type whenever such a write can happen.
/// Fallible nodes added after `with_error::<E>()` settle into `E`; those added before it settle
/// into `Infallible`, whose values cannot exist, so they never write (a conversion into
/// `Infallible` can only diverge). A node with a policy writes a timeout (`Some(None)`, a
/// `Sink<E>`'s value) only if it has a timeout, which needs the builder's timer, and
/// `with_error` exists only on builders without one: such a node always settles into the
/// run's `E`.
pub(crate) unsafe trait Mode<Fut: Future>: 'static {
    /// The node's value.
    type Value;
    /// Splits a completed future's output into the value, or stores the failure in the sink
    /// (or both: a fallback took the failed node's place).
    ///
    /// # Safety
    /// `error_sink` points to the run's [`Sink<E>`] (see the trait's contract).
    unsafe fn settle(output: Fut::Output, error_sink: *mut ()) -> Settlement<Self::Value>;
    /// Moves the node events the future produced in its last poll to `news` (a node with a
    /// policy: its retries and timeouts).
    #[inline(always)]
    fn take_news(future: Pin<&mut Fut>, news: &mut News) {
        let _ = (future, news);
    }
}

/// What a completed node's output became.
pub(crate) enum Settlement<V> {
    /// Its value.
    Value(V),
    /// A failure, in the sink.
    Failed,
    /// Its fallback value; the failure it replaced is in the sink.
    Recovered(V),
}

/// Infallible nodes: the future's output is the value.
#[derive(Debug)]
pub enum Plain {}

/// Fallible nodes of a DAG whose error type is `E`: `Ok(value)` is the value, `Err(error)`
/// fails the node (its error converted into `E`, see [`NodeError`]).
#[derive(Debug)]
pub struct Try<E>(PhantomData<fn(E) -> E>);

/// Nodes with a policy (a timeout, retries, a fallback) in a DAG whose error type is `E`: `M`
/// is [`Plain`] or [`Try`], as the node's function.
#[derive(Debug)]
pub struct Guard<M, E>(TypeMarker<M, (), E>);

// SAFETY: never touches the sink.
unsafe impl<Fut: Future> Mode<Fut> for Plain {
    type Value = Fut::Output;
    #[inline(always)]
    unsafe fn settle(output: Fut::Output, _error_sink: *mut ()) -> Settlement<Fut::Output> {
        Settlement::Value(output)
    }
}

/// The error a fallible node returns, turned into the DAG's error type `E`: every error that
/// converts `Into<E>` (`E` itself, and whatever `?` would convert).
#[diagnostic::on_unimplemented(
    message = "this node fails with `{Self}`, but the DAG's error type is `{E}`",
    label = "the node's error type",
    note = "set the DAG's error type once, on the builder: `DagBuilder::<P>::new().with_error::<{Self}>()` \
            (without it, it is `Infallible`: the DAG's nodes cannot fail)",
    note = "a node may fail with any error that converts `Into<{E}>`; convert others with `map_err`"
)]
pub trait NodeError<E> {
    /// The error as the DAG's error type.
    fn into_dag_error(self) -> E;
}

#[diagnostic::do_not_recommend]
impl<E, X: Into<E>> NodeError<E> for X {
    fn into_dag_error(self) -> E {
        self.into()
    }
}

/// The mode of a fallible node whose function fails with `X`, in a DAG whose error type is
/// `E`: its error is converted as it is stored.
pub(crate) struct TryAs<X, E>(PhantomData<fn(X) -> E>);

/// Where a failing node leaves its failure for the run: `Some(Some(error))` its error,
/// `Some(None)` its last attempt timed out. How many attempts it made and its timeout are the
/// task's ([`ErasedTask::policy`]).
pub(crate) type Sink<E> = Option<Option<E>>;

/// # Safety
/// `error_sink` is the run's [`Sink<E>`], not borrowed elsewhere during a node's poll.
unsafe fn sink<E>(error_sink: *mut (), error: Option<E>) {
    // SAFETY: as the caller guarantees.
    unsafe { *error_sink.cast::<Sink<E>>() = Some(error) };
}

// SAFETY: writes only an `E` into the sink, which the trait's contract makes a `Sink<E>`.
unsafe impl<T, X, E, Fut> Mode<Fut> for TryAs<X, E>
where
    X: NodeError<E> + 'static,
    E: 'static,
    Fut: Future<Output = Result<T, X>>,
{
    type Value = T;
    unsafe fn settle(output: Result<T, X>, error_sink: *mut ()) -> Settlement<T> {
        match output {
            Ok(value) => Settlement::Value(value),
            Err(error) => {
                // SAFETY: the sink is the run's (the trait's contract).
                unsafe { sink(error_sink, Some(error.into_dag_error())) };
                Settlement::Failed
            }
        }
    }
}

/// How the error of a node with a policy becomes the DAG's error: [`ViaInto`] for fallible
/// functions, [`Never`] for infallible ones (which fail only by timing out).
pub(crate) trait Convert<X, E>: 'static {
    fn convert(error: X) -> E;
}

/// The error of a fallible function, converted `Into` the DAG's (see [`NodeError`]).
pub(crate) enum ViaInto {}

/// The function cannot fail: its `Infallible` becomes any `E`.
pub(crate) enum Never {}

impl<X: NodeError<E>, E> Convert<X, E> for ViaInto {
    #[inline(always)]
    fn convert(error: X) -> E {
        error.into_dag_error()
    }
}

impl<E> Convert<core::convert::Infallible, E> for Never {
    #[inline(always)]
    fn convert(error: core::convert::Infallible) -> E {
        match error {}
    }
}

/// The mode of a node with a policy whose function fails with `X` (`Infallible` for an
/// infallible function), in a DAG whose error type is `E`; `C` converts the one into the other.
pub(crate) struct GuardAs<X, E, C>(PhantomData<fn(X, C) -> E>);

// SAFETY: writes only an `E` into the sink, as `TryAs`.
unsafe impl<F, Sp, Fut, Tm, Fb, T, X, E, C> Mode<Attempts<F, Fut, Sp, Tm, Fb>> for GuardAs<X, E, C>
where
    Sp: Fn() -> Fut,
    Fut: Future<Output = Result<T, X>>,
    Tm: Timer,
    Fb: Fallback<T>,
    C: Convert<X, E>,
    X: 'static,
    E: 'static,
{
    type Value = T;
    unsafe fn settle(output: Outcome<T, X>, error_sink: *mut ()) -> Settlement<T> {
        match output {
            Outcome::Value(value) => Settlement::Value(value),
            Outcome::Failed(error) => {
                // SAFETY: the sink is the run's (the trait's contract).
                unsafe { sink(error_sink, error.map(C::convert)) };
                Settlement::Failed
            }
            Outcome::Recovered(value, error) => {
                // SAFETY: as above.
                unsafe { sink(error_sink, error.map(C::convert)) };
                Settlement::Recovered(value)
            }
        }
    }

    fn take_news(future: Pin<&mut Attempts<F, Fut, Sp, Tm, Fb>>, news: &mut News) {
        future.take_news(news);
    }
}

/// How a node's poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completion {
    /// The output is in the slot.
    Done,
    /// The node failed: its failure is in the sink; the slot holds nothing.
    Failed,
    /// The node failed and its fallback value is in the slot; its failure is in the sink.
    Recovered,
}

/// Where a task's input lives, resolved when the DAG is built: the parameter, a constant, or
/// the output of a task at a known offset in the arena (so a starting task reads no table of
/// offsets: one random access fewer per input edge on a large DAG).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    Param,
    Constant(u32),
    Task {
        /// The task, whose state an optional input reads.
        index: u32,
        /// Its slot's offset in the arena.
        offset: usize,
    },
}

/// Where a starting task finds its inputs.
pub(crate) struct Resolver<'r> {
    pub(crate) arena: *mut u8,
    /// The task's sources, in order (its part of `DagCore::sources`).
    pub(crate) sources: &'r [Source],
    pub(crate) constants: &'r [ConstBox],
    pub(crate) param: *const (),
    /// The run's task states, read (never written) for optional inputs: an input that did
    /// not complete is `None`.
    pub(crate) states: *const u32,
}

impl Resolver<'_> {
    /// The address of the value of `source`.
    #[inline]
    fn resolve(&self, source: Source) -> *const u8 {
        match source {
            Source::Param => self.param.cast(),
            Source::Constant(index) => self.constants[index as usize].as_ptr(),
            // `wrapping_add` keeps this function safe; the offset is inside the arena by
            // construction (`DagCore::new` lays the arena out and resolves the sources).
            Source::Task { offset, .. } => self.arena.wrapping_add(offset),
        }
    }

    /// The address of the value of `source`, if it is there: a task that failed or was
    /// skipped has none.
    ///
    /// # Safety
    /// `states` points to the run's states, one per task, none of which is written while
    /// this reads it.
    unsafe fn resolve_optional(&self, source: Source) -> Option<*const u8> {
        if let Source::Task { index, .. } = source {
            // SAFETY: as the caller guarantees; `index` is a task of this DAG (its handle
            // was checked when the node was added).
            if unsafe { *self.states.add(index as usize) } != DONE {
                return None;
            }
        }
        Some(self.resolve(source))
    }
}

/// A constant stored in the DAG, its type erased.
pub(crate) struct ConstBox(Box<dyn Erased>);

trait Erased {}
impl<T> Erased for T {}

impl ConstBox {
    pub(crate) fn new<T: 'static>(value: T) -> Self {
        ConstBox(Box::new(value))
    }

    pub(crate) fn as_ptr(&self) -> *const u8 {
        (&*self.0 as *const dyn Erased).cast()
    }
}

/// A task with its types erased.
///
/// # Safety
/// Implementations lay out their slot as [`layout`](Self::layout) says, write a valid future
/// there in `start`, and keep the output at the start of the slot once the state is `DONE`.
pub(crate) unsafe trait ErasedTask {
    /// The nodes whose values the task reads, in order.
    fn sources(&self) -> &[Slot];
    /// Which of the sources are optional (the node runs without them if they fail), one flag
    /// per source; empty if none is.
    fn optional_sources(&self) -> &[bool];
    /// How many attempts the node makes before it fails for good (1 without retries), and
    /// the timeout of each, if it has one.
    fn policy(&self) -> (u32, Option<Duration>);
    /// The layout of the task's slot (future and output share its start), or `None` if it
    /// would exceed `isize::MAX` bytes: the DAG does not build, so the task never starts.
    fn layout(&self) -> Option<Layout>;
    /// Calls the function and writes its future into the slot.
    ///
    /// # Safety
    /// `slot` is the task's slot, aligned and sized as `layout` says, holding nothing;
    /// `inputs.sources` are this task's [`sources`](Self::sources), resolved
    /// (`DagCore::sources`); every source resolves to a live value of its type that stays put
    /// (and is not written) for as long as the future lives.
    unsafe fn start(&self, slot: *mut u8, inputs: &Resolver<'_>);
    /// Polls the future in the slot, and moves the events of its policy (if it has one) to
    /// `news`. On `Ready`, the future is dropped; a value is written in its place (`Done`,
    /// state `DONE`), or a failure into `error_sink` (`Failed`, state `FAILED`), or both
    /// (`Recovered`: a fallback value). The state is `VACANT` if the future's drop panicked.
    ///
    /// # Safety
    /// The slot holds this task's future (written by `start`, never moved since), and
    /// `error_sink` is the run's [`Sink<E>`] for the DAG's error type `E`.
    unsafe fn poll(
        &self,
        slot: *mut u8,
        state: &mut u32,
        error_sink: *mut (),
        news: &mut News,
        cx: &mut Context<'_>,
    ) -> Poll<Completion>;
    /// [`start`](Self::start)s the task, marks `state` `RUNNING`, and [`poll`](Self::poll)s
    /// it: one call through the vtable where there would be two.
    ///
    /// # Safety
    /// As `start`, then as `poll`.
    unsafe fn start_and_poll(
        &self,
        slot: *mut u8,
        inputs: &Resolver<'_>,
        state: &mut u32,
        error_sink: *mut (),
        news: &mut News,
        cx: &mut Context<'_>,
    ) -> Poll<Completion> {
        // SAFETY: the caller upholds `start`'s contract.
        unsafe { self.start(slot, inputs) };
        *state = RUNNING;
        // SAFETY: `start` wrote the future in the slot just above; the caller upholds the rest
        // of `poll`'s contract.
        unsafe { self.poll(slot, state, error_sink, news, cx) }
    }
    /// Drops the future in the slot.
    ///
    /// # Safety
    /// The slot holds this task's future; it is not used again.
    unsafe fn drop_future(&self, slot: *mut u8);
    /// Whether dropping the output does anything (`core::mem::needs_drop`).
    fn output_needs_drop(&self) -> bool;
    /// Drops the output in the slot.
    ///
    /// # Safety
    /// The slot holds this task's output; it is not used again.
    unsafe fn drop_output(&self, slot: *mut u8);
}

/// The layout of a slot where a `Fut` and then a `T` live, one after the other, or `None` if
/// it would exceed `isize::MAX` bytes.
fn union_layout<Fut, T>() -> Option<Layout> {
    let (future, output) = (Layout::new::<Fut>(), Layout::new::<T>());
    Layout::from_size_align(
        future.size().max(output.size()),
        future.align().max(output.align()),
    )
    .ok()
}

/// # Safety
/// As [`ErasedTask::poll`], with `Fut` the slot's future type and `M::Value` the node's value.
#[inline]
unsafe fn poll_in_place<Fut: Future, M: Mode<Fut>>(
    slot: *mut u8,
    state: &mut u32,
    error_sink: *mut (),
    news: &mut News,
    cx: &mut Context<'_>,
) -> Poll<Completion> {
    // SAFETY: the slot holds a `Fut` that is never moved until it is dropped in place.
    let mut future = unsafe { Pin::new_unchecked(&mut *slot.cast::<Fut>()) };
    let poll = future.as_mut().poll(cx);
    M::take_news(future, news);
    let Poll::Ready(output) = poll else {
        return Poll::Pending;
    };
    // Until a value is written the slot holds nothing droppable: if the future's drop
    // panics, the run must not drop it again.
    *state = VACANT;
    // SAFETY: the future is in the slot and is dropped once, here.
    unsafe { ptr::drop_in_place(slot.cast::<Fut>()) };
    // SAFETY: the sink is the run's `Sink<E>` (the caller's contract).
    let (value, completion) = match unsafe { M::settle(output, error_sink) } {
        Settlement::Value(value) => (value, Completion::Done),
        Settlement::Recovered(value) => (value, Completion::Recovered),
        Settlement::Failed => {
            *state = FAILED;
            return Poll::Ready(Completion::Failed);
        }
    };
    // SAFETY: the slot is free, aligned and large enough for the value (`union_layout`).
    unsafe { slot.cast::<M::Value>().write(value) };
    *state = DONE;
    Poll::Ready(completion)
}

/// One element of a node's inputs, by its shape: a single handle ([`One`]) or a list of
/// handles of one type ([`Many`]).
#[allow(unreachable_pub)] // named by the sealed `Input` trait; unreachable from outside
pub trait Shape: 'static {
    /// What the node function receives for it (references, copied into each attempt).
    type Ref<'a>: Copy;
    /// Whether it takes a region of references in the slot (a list).
    const LIST: bool;
    /// Whether the node runs without it if its source fails ([`Opt`]).
    const OPTIONAL: bool = false;
    /// The element's value, from its sources.
    ///
    /// # Safety
    /// Each of `sources` resolves through `inputs` to a live value of the element's type that
    /// stays put, unwritten, for as long as the result is used; for a list, `refs` points to
    /// `sources.len()` free, aligned places for a pointer in the task's slot, as long-lived.
    unsafe fn resolve(
        sources: &[Source],
        inputs: &Resolver<'_>,
        refs: *mut *const (),
    ) -> Self::Ref<'static>;
}

/// A single handle `Node<A>`: the function receives `&A`.
#[allow(unreachable_pub, missing_debug_implementations)]
pub struct One<A>(PhantomData<fn() -> A>);

/// An optional handle [`Optional<A>`](crate::Optional): the function receives `Option<&A>`,
/// `None` if the node failed or was skipped.
#[allow(unreachable_pub, missing_debug_implementations)]
pub struct Opt<A>(PhantomData<fn() -> A>);

impl<A: 'static> Shape for Opt<A> {
    type Ref<'a> = Option<&'a A>;
    const LIST: bool = false;
    const OPTIONAL: bool = true;
    unsafe fn resolve(
        sources: &[Source],
        inputs: &Resolver<'_>,
        _refs: *mut *const (),
    ) -> Option<&'static A> {
        // SAFETY: the states are the run's, not written while the task starts; a source that
        // is there is a live `A` that outlives every use (the caller's contract).
        unsafe {
            inputs
                .resolve_optional(sources[0])
                .map(|value| &*value.cast::<A>())
        }
    }
}

/// A list of handles `Vec<Node<A>>` (or an array, a slice): the function receives `&[&A]`.
#[allow(unreachable_pub, missing_debug_implementations)]
pub struct Many<A>(PhantomData<fn() -> A>);

impl<A: 'static> Shape for One<A> {
    type Ref<'a> = &'a A;
    const LIST: bool = false;
    unsafe fn resolve(
        sources: &[Source],
        inputs: &Resolver<'_>,
        _refs: *mut *const (),
    ) -> &'static A {
        // SAFETY: the source is a live `A` that outlives every use (the caller's contract).
        unsafe { &*inputs.resolve(sources[0]).cast::<A>() }
    }
}

impl<A: 'static> Shape for Many<A> {
    type Ref<'a> = &'a [&'a A];
    const LIST: bool = true;
    unsafe fn resolve(
        sources: &[Source],
        inputs: &Resolver<'_>,
        refs: *mut *const (),
    ) -> &'static [&'static A] {
        // `&A` and `*const ()` have the same layout (`A: Sized`).
        let refs = refs.cast::<&A>();
        for (position, source) in sources.iter().enumerate() {
            // SAFETY: the region holds `sources.len()` aligned places (the caller's contract),
            // and each source is a live `A` that outlives every use.
            unsafe {
                refs.add(position)
                    .write(&*inputs.resolve(*source).cast::<A>())
            };
        }
        // SAFETY: every place was written just above; the region is not written again while
        // the task's future lives.
        unsafe { core::slice::from_raw_parts(refs, sources.len()) }
    }
}

/// The shapes of all of a node's inputs: a tuple of [`Shape`]s.
#[allow(unreachable_pub)]
pub trait Shapes: 'static {
    /// The tuple of what the node function receives.
    type Refs<'a>;
    /// Whether an element is a list (only then does `resolve` read `counts` and `refs`).
    const LISTS: bool;
    /// How many of the sources belong to lists (the places of the slot's reference region).
    fn list_sources(counts: &[u32]) -> usize;
    /// Whether each source is optional, or an empty list if none is.
    fn optional_sources(counts: &[u32]) -> Box<[bool]>;
    /// The arguments of the node function.
    ///
    /// # Safety
    /// `counts[i]` is the number of sources of element `i`, in order in `sources`; the rest is
    /// as [`Shape::resolve`], with `refs` the start of the slot's region of references, which
    /// holds a place for every source of every list.
    unsafe fn resolve(
        sources: &[Source],
        counts: &[u32],
        inputs: &Resolver<'_>,
        refs: *mut *const (),
    ) -> Self::Refs<'static>;
}

macro_rules! shapes_impl {
    ($($S:ident $index:tt),*) => {
        impl<$($S: Shape),*> Shapes for ($($S,)*) {
            type Refs<'a> = ($($S::Ref<'a>,)*);
            const LISTS: bool = false $(|| $S::LIST)*;
            #[allow(unused_variables)]
            fn list_sources(counts: &[u32]) -> usize {
                0 $(+ if $S::LIST { counts[$index] as usize } else { 0 })*
            }
            #[allow(unused_variables, unused_mut)]
            fn optional_sources(counts: &[u32]) -> Box<[bool]> {
                if !(false $(|| $S::OPTIONAL)*) {
                    return Box::new([]);
                }
                let mut flags = alloc::vec::Vec::new();
                $(flags.extend(core::iter::repeat_n($S::OPTIONAL, counts[$index] as usize));)*
                flags.into_boxed_slice()
            }
            #[allow(unused_variables, unused_mut, unused_assignments, clippy::unused_unit)]
            unsafe fn resolve(
                sources: &[Source],
                counts: &[u32],
                inputs: &Resolver<'_>,
                refs: *mut *const (),
            ) -> Self::Refs<'static> {
                let (mut at, mut refs) = (0, refs);
                ($({
                    // A single handle has one source: no need to read its count.
                    let count = if $S::LIST { counts[$index] as usize } else { 1 };
                    // SAFETY: this element's sources and, for a list, its part of the region
                    // (the caller's contract).
                    let value = unsafe { $S::resolve(&sources[at..at + count], inputs, refs) };
                    at += count;
                    if $S::LIST {
                        refs = refs.wrapping_add(count);
                    }
                    value
                },)*)
            }
        }
    };
}

shapes_impl!();
shapes_impl!(S1 0);
shapes_impl!(S1 0, S2 1);
shapes_impl!(S1 0, S2 1, S3 2);
shapes_impl!(S1 0, S2 1, S3 2, S4 3);
shapes_impl!(S1 0, S2 1, S3 2, S4 3, S5 4);
shapes_impl!(S1 0, S2 1, S3 2, S4 3, S5 4, S6 5);
shapes_impl!(S1 0, S2 1, S3 2, S4 3, S5 4, S6 5, S7 6);
shapes_impl!(S1 0, S2 1, S3 2, S4 3, S5 4, S6 5, S7 6, S8 7);
shapes_impl!(S1 0, S2 1, S3 2, S4 3, S5 4, S6 5, S7 6, S8 7, S9 8);
shapes_impl!(S1 0, S2 1, S3 2, S4 3, S5 4, S6 5, S7 6, S8 7, S9 8, S10 9);
shapes_impl!(S1 0, S2 1, S3 2, S4 3, S5 4, S6 5, S7 6, S8 7, S9 8, S10 9, S11 10);
shapes_impl!(S1 0, S2 1, S3 2, S4 3, S5 4, S6 5, S7 6, S8 7, S9 8, S10 9, S11 10, S12 11);

/// A node: its function `F`, the shapes `S` of its inputs, and `call`, which calls `F` with
/// them and returns its future, a `Fut`. `M` says how the future's output becomes the value.
///
/// `Fut` is whatever `call` returns: for a capturing async closure it is a type no one can
/// name (`AsyncFn`'s future), which is why it is inferred from `call` instead of projected.
pub(crate) struct NodeTask<F, S, C, Fut, M> {
    f: F,
    call: C,
    sources: Box<[Slot]>,
    /// How many of `sources` each input element takes, in order.
    counts: Box<[u32]>,
    /// Which sources are optional (empty: none).
    optional: Box<[bool]>,
    /// How many attempts it makes at most, and the timeout of each.
    attempts: u32,
    timeout: Option<Duration>,
    /// Where the region of list references starts in the slot.
    refs_offset: usize,
    /// `None` if the slot would exceed `isize::MAX` bytes (the DAG then fails to build).
    layout: Option<Layout>,
    _types: PhantomData<fn(S) -> (Fut, M)>,
}

impl<F, S, C, Fut, M> NodeTask<F, S, C, Fut, M>
where
    F: 'static,
    S: Shapes,
    C: Fn(&'static F, S::Refs<'static>) -> Fut + 'static,
    Fut: Future + 'static,
    M: Mode<Fut>,
    M::Value: 'static,
{
    /// A node calling `f` through `call` on `sources`, `counts[i]` of them for element `i`.
    pub(crate) fn new(f: F, call: C, sources: Box<[Slot]>, counts: Box<[u32]>) -> Self {
        Self::with_policy(f, call, sources, counts, (1, None))
    }

    /// As [`new`](Self::new), for a node with a policy: at most `attempts`, each with
    /// `timeout`.
    pub(crate) fn with_policy(
        f: F,
        call: C,
        sources: Box<[Slot]>,
        counts: Box<[u32]>,
        (attempts, timeout): (u32, Option<Duration>),
    ) -> Self {
        let list_refs = S::list_sources(&counts);
        let optional = S::optional_sources(&counts);
        let extended = union_layout::<Fut, M::Value>()
            .zip(Layout::array::<*const ()>(list_refs).ok())
            .and_then(|(shared, refs)| shared.extend(refs).ok());
        NodeTask {
            f,
            call,
            sources,
            counts,
            optional,
            attempts,
            timeout,
            refs_offset: extended.map_or(0, |(_, offset)| offset),
            layout: extended.map(|(layout, _)| layout),
            _types: PhantomData,
        }
    }
}

// SAFETY: the slot holds the `Fut` that `start` writes (polled and dropped in place as that
// type) and then the value at its start, as `layout` (`union_layout`) provides; the list
// references live in their own region after it, for as long as the future lives.
unsafe impl<F, S, C, Fut, M> ErasedTask for NodeTask<F, S, C, Fut, M>
where
    F: 'static,
    S: Shapes,
    C: Fn(&'static F, S::Refs<'static>) -> Fut + 'static,
    Fut: Future + 'static,
    M: Mode<Fut>,
    M::Value: 'static,
{
    fn sources(&self) -> &[Slot] {
        &self.sources
    }

    fn optional_sources(&self) -> &[bool] {
        &self.optional
    }

    fn policy(&self) -> (u32, Option<Duration>) {
        (self.attempts, self.timeout)
    }

    fn layout(&self) -> Option<Layout> {
        self.layout
    }

    unsafe fn start(&self, slot: *mut u8, inputs: &Resolver<'_>) {
        // Only a node with a list reads its counts and reference region: the others read
        // nothing of `self` here (a run of a large DAG then touches no memory of its tasks
        // but their vtables).
        let (counts, refs): (&[u32], _) = if S::LISTS {
            (&self.counts, slot.wrapping_add(self.refs_offset))
        } else {
            (&[], slot)
        };
        // SAFETY: the caller guarantees each source is a live value of its handle's type that
        // outlives the future; the reference region is in the slot, sized for every list
        // source (`new`), and the slot stays put until the future is dropped; without a list,
        // `resolve` reads neither the counts nor the region.
        let args = unsafe { S::resolve(inputs.sources, counts, inputs, refs.cast()) };
        // SAFETY: `'static` is a lie the future never sees through: the function lives in the
        // DAG, which outlives every run and so every future, as its inputs do (above); the
        // future is dropped in place before any of them goes (`Slots`).
        let f: &'static F = unsafe { &*ptr::from_ref(&self.f) };
        let future = (self.call)(f, args);
        // SAFETY: the slot is free and laid out for this future (`layout`).
        unsafe { write_in_place(slot, future) };
    }

    unsafe fn poll(
        &self,
        slot: *mut u8,
        state: &mut u32,
        error_sink: *mut (),
        news: &mut News,
        cx: &mut Context<'_>,
    ) -> Poll<Completion> {
        // SAFETY: the slot holds the `Fut` that `start` wrote; the rest is the caller's.
        unsafe { poll_in_place::<Fut, M>(slot, state, error_sink, news, cx) }
    }

    unsafe fn drop_future(&self, slot: *mut u8) {
        // SAFETY: the slot holds the future, dropped once.
        unsafe { ptr::drop_in_place(slot.cast::<Fut>()) }
    }

    fn output_needs_drop(&self) -> bool {
        core::mem::needs_drop::<M::Value>()
    }

    unsafe fn drop_output(&self, slot: *mut u8) {
        // SAFETY: the slot holds the value, dropped once.
        unsafe { ptr::drop_in_place(slot.cast::<M::Value>()) }
    }
}

/// # Safety
/// `slot` is free, aligned and large enough for an `X`.
unsafe fn write_in_place<X>(slot: *mut u8, value: X) {
    // SAFETY: as the caller guarantees.
    unsafe { slot.cast::<X>().write(value) }
}
