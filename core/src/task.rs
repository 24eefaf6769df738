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

/// An async function usable as a node: a function of shared references to its inputs that
/// returns a future which may borrow them for `'a`.
///
/// It is implemented for every `Fn(&'a A, &'a B, ..) -> Fut` with `Fut: Future + 'a`, which
/// covers `async fn` items and async closures that capture nothing (pass captured state as a
/// constant input instead: [`DagBuilder::add_constant`](crate::DagBuilder::add_constant)).
/// There is nothing to implement by hand.
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
/// `settle` may treat `error_sink` as `*mut Option<E>` for its own `E` only: the builder
/// guarantees the run's sink has that type (a DAG's fallible nodes all share its error type).
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

/// Fallible nodes: `Ok(value)` is the value, `Err(error)` fails the node.
#[derive(Debug)]
pub struct Try<E>(PhantomData<fn(E) -> E>);

// SAFETY: never touches the sink.
unsafe impl<T> Mode<T> for Plain {
    type Value = T;
    unsafe fn settle(output: T, _error_sink: *mut ()) -> Option<T> {
        Some(output)
    }
}

// SAFETY: writes only an `E` into the sink, which the trait's contract makes an `Option<E>`.
unsafe impl<T, E: 'static> Mode<Result<T, E>> for Try<E> {
    type Value = T;
    unsafe fn settle(output: Result<T, E>, error_sink: *mut ()) -> Option<T> {
        match output {
            Ok(value) => Some(value),
            Err(error) => {
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

/// A node whose inputs are a tuple of handles; `M` says how its output becomes its value.
pub(crate) struct TupleTask<F, Args, M, const N: usize> {
    pub(crate) f: F,
    pub(crate) sources: [Slot; N],
    pub(crate) _types: PhantomData<fn(Args) -> M>,
}

macro_rules! tuple_task_impl {
    ($n:literal; $($A:ident $index:tt),*) => {
        // SAFETY: the slot holds `F::Future` (written by `start`, polled and dropped in place
        // as that type) and then the value at its start, as `layout` (`union_layout`) provides.
        unsafe impl<F, R, M, $($A),*> ErasedTask for TupleTask<F, ($($A,)*), M, $n>
        where
            F: for<'a> NodeFn<'a, ($(&'a $A,)*), Output = R> + 'static,
            M: Mode<R>,
            M::Value: 'static,
            $($A: 'static,)*
        {
            fn sources(&self) -> &[Slot] {
                &self.sources
            }

            fn layout(&self) -> Option<Layout> {
                union_layout::<<F as NodeFn<'static, ($(&'static $A,)*)>>::Future, M::Value>()
            }

            unsafe fn start(&self, slot: *mut u8, _inputs: &Resolver<'_>) {
                let future = self.f.call(($(
                    // SAFETY: the caller guarantees each source is a live `$A` (the handle's
                    // type) that outlives the future.
                    unsafe { &*_inputs.resolve(self.sources[$index]).cast::<$A>() },
                )*));
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
                // SAFETY: the slot holds the future `start` wrote; its type differs from the
                // one named here only in lifetimes, which do not change layout or code.
                unsafe {
                    poll_in_place::<<F as NodeFn<'static, ($(&'static $A,)*)>>::Future, M>(
                        slot, state, error_sink, cx,
                    )
                }
            }

            unsafe fn drop_future(&self, slot: *mut u8) {
                // SAFETY: the slot holds the future (see `poll`), dropped once.
                unsafe {
                    ptr::drop_in_place(slot.cast::<<F as NodeFn<'static, ($(&'static $A,)*)>>::Future>())
                }
            }

            fn output_needs_drop(&self) -> bool {
                core::mem::needs_drop::<M::Value>()
            }

            unsafe fn drop_output(&self, slot: *mut u8) {
                // SAFETY: the slot holds the value, dropped once.
                unsafe { ptr::drop_in_place(slot.cast::<M::Value>()) }
            }
        }
    };
}

tuple_task_impl!(0;);
tuple_task_impl!(1; A1 0);
tuple_task_impl!(2; A1 0, A2 1);
tuple_task_impl!(3; A1 0, A2 1, A3 2);
tuple_task_impl!(4; A1 0, A2 1, A3 2, A4 3);
tuple_task_impl!(5; A1 0, A2 1, A3 2, A4 3, A5 4);
tuple_task_impl!(6; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5);
tuple_task_impl!(7; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6);
tuple_task_impl!(8; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7);
tuple_task_impl!(9; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8);
tuple_task_impl!(10; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9);
tuple_task_impl!(11; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10);
tuple_task_impl!(12; A1 0, A2 1, A3 2, A4 3, A5 4, A6 5, A7 6, A8 7, A9 8, A10 9, A11 10, A12 11);

/// # Safety
/// `slot` is free, aligned and large enough for an `X`.
unsafe fn write_in_place<X>(slot: *mut u8, value: X) {
    // SAFETY: as the caller guarantees.
    unsafe { slot.cast::<X>().write(value) }
}

/// A node whose inputs are a list of handles of one type: it receives `&[&A]`.
pub(crate) struct ListTask<F, A, M> {
    f: F,
    sources: Box<[Slot]>,
    /// Where the array of input references starts in the slot.
    refs_offset: usize,
    /// `None` if the slot would exceed `isize::MAX` bytes (the DAG then fails to build).
    layout: Option<Layout>,
    _types: PhantomData<fn(&A) -> M>,
}

impl<F, A, R, M> ListTask<F, A, M>
where
    F: for<'a> NodeFn<'a, (&'a [&'a A],), Output = R> + 'static,
    A: 'static,
    M: Mode<R>,
    M::Value: 'static,
{
    pub(crate) fn new(f: F, sources: Box<[Slot]>) -> Self {
        let shared =
            union_layout::<<F as NodeFn<'static, (&'static [&'static A],)>>::Future, M::Value>();
        let refs = Layout::array::<&A>(sources.len()).ok();
        let extended = shared
            .zip(refs)
            .and_then(|(shared, refs)| shared.extend(refs).ok());
        ListTask {
            f,
            sources,
            refs_offset: extended.map_or(0, |(_, offset)| offset),
            layout: extended.map(|(layout, _)| layout),
            _types: PhantomData,
        }
    }
}

// SAFETY: the slot holds the future and then the output at its start (`union_layout`), and the
// input references in their own region after it, for as long as the future lives.
unsafe impl<F, A, R, M> ErasedTask for ListTask<F, A, M>
where
    F: for<'a> NodeFn<'a, (&'a [&'a A],), Output = R> + 'static,
    A: 'static,
    M: Mode<R>,
    M::Value: 'static,
{
    fn sources(&self) -> &[Slot] {
        &self.sources
    }

    fn layout(&self) -> Option<Layout> {
        self.layout
    }

    unsafe fn start(&self, slot: *mut u8, inputs: &Resolver<'_>) {
        let refs = slot.wrapping_add(self.refs_offset).cast::<&A>();
        for (position, source) in self.sources.iter().enumerate() {
            // SAFETY: the reference region holds `sources.len()` aligned `&A`s (`new`), and
            // each source is a live `A` that outlives the future (the caller's contract).
            unsafe {
                refs.add(position)
                    .write(&*inputs.resolve(*source).cast::<A>())
            };
        }
        // SAFETY: the references were all written just above; the region is not touched again
        // until the slot is dropped, after the future.
        let list = unsafe { core::slice::from_raw_parts(refs, self.sources.len()) };
        let future = self.f.call((list,));
        // SAFETY: the start of the slot is free and laid out for this future.
        unsafe { write_in_place(slot, future) };
    }

    unsafe fn poll(
        &self,
        slot: *mut u8,
        state: &mut u32,
        error_sink: *mut (),
        cx: &mut Context<'_>,
    ) -> Poll<Completion> {
        // SAFETY: as in the tuple tasks: the same future type but for lifetimes.
        unsafe {
            poll_in_place::<<F as NodeFn<'static, (&'static [&'static A],)>>::Future, M>(
                slot, state, error_sink, cx,
            )
        }
    }

    unsafe fn drop_future(&self, slot: *mut u8) {
        // SAFETY: the slot holds the future, dropped once.
        unsafe {
            ptr::drop_in_place(
                slot.cast::<<F as NodeFn<'static, (&'static [&'static A],)>>::Future>(),
            )
        }
    }

    fn output_needs_drop(&self) -> bool {
        core::mem::needs_drop::<M::Value>()
    }

    unsafe fn drop_output(&self, slot: *mut u8) {
        // SAFETY: the slot holds the value, dropped once.
        unsafe { ptr::drop_in_place(slot.cast::<M::Value>()) }
    }
}
