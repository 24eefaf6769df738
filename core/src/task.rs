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

use crate::node::Slot;
use crate::slots::{DONE, RUNNING, VACANT};

/// An async function usable as a node of a [`Sendable`](crate::Sendable) DAG: a function of
/// shared references to its inputs that returns a future which may borrow them for `'a`.
///
/// It is implemented for every `Fn(&'a A, &'a B, ..) -> Fut` with `Fut: Future + 'a`, which
/// covers `async fn` items and closures that return a future; there is nothing to implement by
/// hand. Such a function's future type is known to the compiler, so a `Sendable` DAG can
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
        impl<'a, F, Fut, $($A: 'a + ?Sized),*> NodeFn<'a, ($(&'a $A,)*)> for F
        where
            F: Fn($(&'a $A),*) -> Fut,
            Fut: Future + 'a,
        {
            type Output = Fut::Output;
            type Future = Fut;
            #[allow(clippy::unused_unit)]
            fn call(&'a self, ($($a,)*): ($(&'a $A,)*)) -> Fut {
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
/// `settle` may write an error into `error_sink` as `*mut Option<E>` for its own `E` only: the
/// builder guarantees the run's sink has that type whenever such a write can happen. Fallible
/// nodes added after `with_error::<E>()` settle into `E`; those added before it settle into
/// `Infallible`, whose values cannot exist, so they never write (a conversion into
/// `Infallible` can only diverge).
pub(crate) unsafe trait Mode<R>: 'static {
    /// The node's value.
    type Value;
    /// Splits a completed future's output into the value, or stores the error in the sink.
    ///
    /// # Safety
    /// `error_sink` points to the run's `Option<E>` (see the trait's contract).
    unsafe fn settle(output: R, error_sink: *mut ()) -> Option<Self::Value>;
}

/// Infallible nodes: the future's output is the value.
#[derive(Debug)]
pub enum Plain {}

/// Fallible nodes of a DAG whose error type is `E`: `Ok(value)` is the value, `Err(error)`
/// fails the node (its error converted into `E`, see [`NodeError`]).
#[derive(Debug)]
pub struct Try<E>(PhantomData<fn(E) -> E>);

// SAFETY: never touches the sink.
unsafe impl<T> Mode<T> for Plain {
    type Value = T;
    unsafe fn settle(output: T, _error_sink: *mut ()) -> Option<T> {
        Some(output)
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

// SAFETY: writes only an `E` into the sink, which the trait's contract makes an `Option<E>`.
unsafe impl<T, X: NodeError<E> + 'static, E: 'static> Mode<Result<T, X>> for TryAs<X, E> {
    type Value = T;
    unsafe fn settle(output: Result<T, X>, error_sink: *mut ()) -> Option<T> {
        match output {
            Ok(value) => Some(value),
            Err(error) => {
                let error = error.into_dag_error();
                // SAFETY: the sink is the run's `Option<E>` (the trait's contract), not
                // borrowed elsewhere during a node's poll.
                unsafe { *error_sink.cast::<Option<E>>() = Some(error) };
                None
            }
        }
    }
}

/// How a node's poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completion {
    /// The output is in the slot.
    Done,
    /// The node failed: its error is in the sink; the slot holds nothing.
    Failed,
}

/// Where a starting task finds its inputs.
pub(crate) struct Resolver<'r> {
    pub(crate) arena: *mut u8,
    pub(crate) offsets: &'r [usize],
    pub(crate) constants: &'r [ConstBox],
    pub(crate) param: *const (),
}

impl Resolver<'_> {
    /// The address of the value of `slot`.
    fn resolve(&self, slot: Slot) -> *const u8 {
        match slot {
            Slot::Param => self.param.cast(),
            Slot::Constant(index) => self.constants[index as usize].as_ptr(),
            // `wrapping_add` keeps this function safe; the offset is inside the arena by
            // construction (`DagCore::new` lays the arena out from the same offsets).
            Slot::Task(index) => self.arena.wrapping_add(self.offsets[index as usize]),
        }
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
    /// The layout of the task's slot (future and output share its start), or `None` if it
    /// would exceed `isize::MAX` bytes: the DAG does not build, so the task never starts.
    fn layout(&self) -> Option<Layout>;
    /// Calls the function and writes its future into the slot.
    ///
    /// # Safety
    /// `slot` is the task's slot, aligned and sized as `layout` says, holding nothing; every
    /// source resolves to a live value of its type that stays put (and is not written) for as
    /// long as the future lives.
    unsafe fn start(&self, slot: *mut u8, inputs: &Resolver<'_>);
    /// Polls the future in the slot. On `Ready`, the future is dropped; a value is written in
    /// its place (`Done`, state `DONE`) or an error into `error_sink` (`Failed`, state
    /// `VACANT`). The state is `VACANT` too if the future's drop panicked.
    ///
    /// # Safety
    /// The slot holds this task's future (written by `start`, never moved since), and
    /// `error_sink` is the run's `Option<E>` for the DAG's error type `E`.
    unsafe fn poll(
        &self,
        slot: *mut u8,
        state: &mut u32,
        error_sink: *mut (),
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
        cx: &mut Context<'_>,
    ) -> Poll<Completion> {
        // SAFETY: the caller upholds `start`'s contract.
        unsafe { self.start(slot, inputs) };
        *state = RUNNING;
        // SAFETY: `start` wrote the future in the slot just above; the caller upholds the rest
        // of `poll`'s contract.
        unsafe { self.poll(slot, state, error_sink, cx) }
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
unsafe fn poll_in_place<Fut: Future, M: Mode<Fut::Output>>(
    slot: *mut u8,
    state: &mut u32,
    error_sink: *mut (),
    cx: &mut Context<'_>,
) -> Poll<Completion> {
    // SAFETY: the slot holds a `Fut` that is never moved until it is dropped in place.
    let future = unsafe { Pin::new_unchecked(&mut *slot.cast::<Fut>()) };
    let Poll::Ready(output) = future.poll(cx) else {
        return Poll::Pending;
    };
    // Until a value is written the slot holds nothing droppable: if the future's drop
    // panics, the run must not drop it again.
    *state = VACANT;
    // SAFETY: the future is in the slot and is dropped once, here.
    unsafe { ptr::drop_in_place(slot.cast::<Fut>()) };
    // SAFETY: the sink is the run's `Option<E>` (the caller's contract).
    match unsafe { M::settle(output, error_sink) } {
        Some(value) => {
            // SAFETY: the slot is free, aligned and large enough for the value
            // (`union_layout`).
            unsafe { slot.cast::<M::Value>().write(value) };
            *state = DONE;
            Poll::Ready(Completion::Done)
        }
        None => Poll::Ready(Completion::Failed),
    }
}

/// One element of a node's inputs, by its shape: a single handle ([`One`]) or a list of
/// handles of one type ([`Many`]).
#[allow(unreachable_pub)] // named by the sealed `Input` trait; unreachable from outside
pub trait Shape: 'static {
    /// What the node function receives for it.
    type Ref<'a>;
    /// Whether it takes a region of references in the slot (a list).
    const LIST: bool;
    /// The element's value, from its sources.
    ///
    /// # Safety
    /// Each of `sources` resolves through `inputs` to a live value of the element's type that
    /// stays put, unwritten, for as long as the result is used; for a list, `refs` points to
    /// `sources.len()` free, aligned places for a pointer in the task's slot, as long-lived.
    unsafe fn resolve(
        sources: &[Slot],
        inputs: &Resolver<'_>,
        refs: *mut *const (),
    ) -> Self::Ref<'static>;
}

/// A single handle `Node<A>`: the function receives `&A`.
#[allow(unreachable_pub, missing_debug_implementations)]
pub struct One<A>(PhantomData<fn() -> A>);

/// A list of handles `Vec<Node<A>>` (or an array, a slice): the function receives `&[&A]`.
#[allow(unreachable_pub, missing_debug_implementations)]
pub struct Many<A>(PhantomData<fn() -> A>);

impl<A: 'static> Shape for One<A> {
    type Ref<'a> = &'a A;
    const LIST: bool = false;
    unsafe fn resolve(
        sources: &[Slot],
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
        sources: &[Slot],
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
    /// How many of the sources belong to lists (the places of the slot's reference region).
    fn list_sources(counts: &[u32]) -> usize;
    /// The arguments of the node function.
    ///
    /// # Safety
    /// `counts[i]` is the number of sources of element `i`, in order in `sources`; the rest is
    /// as [`Shape::resolve`], with `refs` the start of the slot's region of references, which
    /// holds a place for every source of every list.
    unsafe fn resolve(
        sources: &[Slot],
        counts: &[u32],
        inputs: &Resolver<'_>,
        refs: *mut *const (),
    ) -> Self::Refs<'static>;
}

macro_rules! shapes_impl {
    ($($S:ident $index:tt),*) => {
        impl<$($S: Shape),*> Shapes for ($($S,)*) {
            type Refs<'a> = ($($S::Ref<'a>,)*);
            #[allow(unused_variables)]
            fn list_sources(counts: &[u32]) -> usize {
                0 $(+ if $S::LIST { counts[$index] as usize } else { 0 })*
            }
            #[allow(unused_variables, unused_mut, unused_assignments, clippy::unused_unit)]
            unsafe fn resolve(
                sources: &[Slot],
                counts: &[u32],
                inputs: &Resolver<'_>,
                refs: *mut *const (),
            ) -> Self::Refs<'static> {
                let (mut at, mut refs) = (0, refs);
                ($({
                    let count = counts[$index] as usize;
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
    M: Mode<Fut::Output>,
    M::Value: 'static,
{
    /// A node calling `f` through `call` on `sources`, `counts[i]` of them for element `i`.
    pub(crate) fn new(f: F, call: C, sources: Box<[Slot]>, counts: Box<[u32]>) -> Self {
        let list_refs = S::list_sources(&counts);
        let extended = union_layout::<Fut, M::Value>()
            .zip(Layout::array::<*const ()>(list_refs).ok())
            .and_then(|(shared, refs)| shared.extend(refs).ok());
        NodeTask {
            f,
            call,
            sources,
            counts,
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
    M: Mode<Fut::Output>,
    M::Value: 'static,
{
    fn sources(&self) -> &[Slot] {
        &self.sources
    }

    fn layout(&self) -> Option<Layout> {
        self.layout
    }

    unsafe fn start(&self, slot: *mut u8, inputs: &Resolver<'_>) {
        let refs = slot.wrapping_add(self.refs_offset).cast::<*const ()>();
        // SAFETY: the caller guarantees each source is a live value of its handle's type that
        // outlives the future; the reference region is in the slot, sized for every list
        // source (`new`), and the slot stays put until the future is dropped.
        let args = unsafe { S::resolve(&self.sources, &self.counts, inputs, refs) };
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
        cx: &mut Context<'_>,
    ) -> Poll<Completion> {
        // SAFETY: the slot holds the `Fut` that `start` wrote; the rest is the caller's.
        unsafe { poll_in_place::<Fut, M>(slot, state, error_sink, cx) }
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
