//! DAGs fixed at compile time, with no allocator: the runtime of [`dag!`](crate::dag!).
//!
//! A [`dag!`](crate::dag!) expands to an async closure whose future holds every node's future
//! and output in place (the compiler lays them out; their size is known at compile time), and
//! a [`Schedule`] that polls them: each node starts the moment its inputs are ready, and is
//! polled again when its own waker is woken (or, while another run of the same `dag!` holds
//! the wakers, on every wake of its run's task). The wakers live in a `static` block per `dag!`
//! site ([`Wakers`]): a waker is a pointer to it, never to the run, so one woken after its run
//! ended (legal for any future) only sets a bit in the block: if a later run of the site has
//! claimed the block by then, that run's task is woken and its node of the same position
//! polled once more (a spurious poll, which any future must tolerate), at most. Nothing here
//! allocates.
//!
//! The pieces are public for the macro's sake; the macro is the interface.

use core::cell::OnceCell;
use core::fmt;
use core::future::Future;
use core::marker::{PhantomData, PhantomPinned};
use core::mem::ManuallyDrop;
use core::ops::ControlFlow;
use core::pin::Pin;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

#[cfg(dagfut_loom)]
use loom::sync::atomic::{AtomicU64, Ordering};
use pin_project_lite::pin_project;
#[cfg(not(dagfut_loom))]
use portable_atomic::{AtomicU64, Ordering};

use crate::flavor::CannotFail;
use crate::observe::{NodeEvent, Observer};
use crate::parent::ParentWaker;

/// The most nodes a [`dag!`](crate::dag!) may have (one bit each in a `u64`).
pub const MAX_NODES: usize = 64;

/// [`Wakers`]' state bit: a run is using the block.
const CLAIMED: u64 = 1;
/// What a claim adds to [`Wakers`]' state (the count above [`CLAIMED`]: 2^63 claims before it
/// repeats, none of which can happen inside one poll).
const CLAIM: u64 = 2;

/// The wakers of a [`dag!`](crate::dag!)'s nodes: one `static` block per `dag!`, claimed by
/// one run at a time (a concurrent second run polls its running nodes on every wake instead:
/// correct, only slower).
#[derive(Debug)]
pub struct Wakers<const N: usize> {
    /// The waker of the run's task, registered by each poll, woken by any node's waker.
    parent: ParentWaker,
    /// Bit `i`: node `i` was woken since the run last looked.
    woken: AtomicU64,
    /// Bit 0: a run is using this block ([`CLAIMED`]); the bits above count the claims (each
    /// adds [`CLAIM`]), so that a run can tell that nobody claimed the block since it looked.
    state: AtomicU64,
    /// Byte `i` is `i`: a node's waker points at its byte, which says which node it is.
    tags: [u8; N],
}

impl<const N: usize> Wakers<N> {
    /// Byte `i` is `i`.
    ///
    /// # Panics
    /// At compile time, if `N` exceeds [`MAX_NODES`].
    const TAGS: [u8; N] = {
        assert!(N <= MAX_NODES, "dagfut: a dag! has at most 64 nodes");
        let mut tags = [0u8; N];
        let mut i = 0;
        while i < N {
            tags[i] = i as u8;
            i += 1;
        }
        tags
    };

    /// A block for `N` nodes.
    ///
    /// # Panics
    /// At compile time (in a `static`), if `N` exceeds [`MAX_NODES`].
    #[cfg(not(dagfut_loom))]
    pub const fn new() -> Self {
        Wakers {
            parent: ParentWaker::new(),
            woken: AtomicU64::new(0),
            state: AtomicU64::new(0),
            tags: Self::TAGS,
        }
    }

    /// A block for `N` nodes (loom's atomics are made at run time).
    #[cfg(dagfut_loom)]
    pub fn new() -> Self {
        Wakers {
            parent: ParentWaker::default(),
            woken: AtomicU64::new(0),
            state: AtomicU64::new(0),
            tags: Self::TAGS,
        }
    }

    /// Registers the run's task.
    ///
    /// # Safety
    /// The caller's run holds the block's claim (one run at a time registers or takes).
    unsafe fn register(&self, waker: &Waker) {
        // SAFETY: the claim makes this run the slot's only run side (the caller's contract;
        // a claim is handed over with `Release` and `Acquire`).
        unsafe { self.parent.register(waker) };
    }

    /// Takes the run's task's wakers out (the block keeps none once a run is done with it).
    ///
    /// # Safety
    /// As [`register`](Self::register).
    unsafe fn take_parent(&self) -> crate::parent::Taken {
        // SAFETY: as in `register`.
        unsafe { self.parent.take() }
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

/// The `static` of a [`dag!`](crate::dag!) that holds its [`Wakers`]: the block itself, made
/// at compile time (under the loom models, one per model execution, made on first use).
#[derive(Debug)]
pub struct Block<const N: usize> {
    #[cfg(not(dagfut_loom))]
    wakers: Wakers<N>,
    #[cfg(dagfut_loom)]
    wakers: loom::lazy_static::Lazy<Wakers<N>>,
}

impl<const N: usize> Block<N> {
    /// The block of a `dag!` with `N` nodes.
    pub const fn new() -> Self {
        Block {
            #[cfg(not(dagfut_loom))]
            wakers: Wakers::new(),
            #[cfg(dagfut_loom)]
            wakers: loom::lazy_static::Lazy {
                init: Wakers::new,
                _p: PhantomData,
            },
        }
    }

    /// The wakers.
    #[inline(always)]
    pub fn get(&'static self) -> &'static Wakers<N> {
        #[cfg(not(dagfut_loom))]
        return &self.wakers;
        #[cfg(dagfut_loom)]
        return self.wakers.get();
    }
}

impl<const N: usize> Default for Block<N> {
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
        // Only the first wake since the run last looked wakes the run: the later ones find
        // their bits set before it looks (a poll is due after the first one's wake). Unless
        // that wake's task waker panicked: then the wake is owed, and this one makes it.
        if block.woken.fetch_or(1 << index, Ordering::AcqRel) == 0 || block.parent.owed() {
            block.parent.wake();
        }
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

/// Sealed: [`Task`] and [`Steps`] are implemented by [`Step`], [`Cons`] and [`Nil`] only. The
/// schedule trusts what they do with its [`Bits`] (which field of a node's union holds a
/// value), so no other implementation may exist.
mod sealed {
    pub trait Sealed {}
}

/// A node of a run, its types erased for the [`Schedule`]. What a node holds (its call, its
/// future, or nothing) is not kept in the node: the schedule's [`Bits`] say it, and its
/// methods are unsafe for that reason. Sealed: only [`Step`] implements it.
pub trait Task<E>: sealed::Sealed {
    /// Calls the node's function: from now on the node holds its future.
    ///
    /// # Safety
    /// The node holds its call (it was neither started nor dropped).
    unsafe fn start(self: Pin<&mut Self>);
    /// Polls the node's future. On `Ready`, `bit` is cleared from `live` and the future is
    /// dropped (in that order: a panic in its drop leaves nothing to drop twice), then the
    /// value goes into the cell (or the error is returned): the node holds nothing from then
    /// on.
    ///
    /// # Safety
    /// The node holds its future.
    unsafe fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        live: &mut u64,
        bit: u64,
    ) -> Poll<Result<(), E>>;
    /// Drops the node's call: it never starts (an input failed, or the run was dropped).
    ///
    /// # Safety
    /// The node holds its call; it holds nothing afterwards.
    unsafe fn drop_call(self: Pin<&mut Self>);
    /// Drops the node's future (the run was dropped while it ran).
    ///
    /// # Safety
    /// The node holds its future; it holds nothing afterwards.
    unsafe fn drop_future(self: Pin<&mut Self>);
}

/// What a node holds: its call, then its future while it runs, then nothing; which one is in
/// the schedule's [`Bits`] (not started: the call; `live`: the future).
union Stage<Mk, Fut> {
    call: ManuallyDrop<Mk>,
    future: ManuallyDrop<Fut>,
}

/// A node: its stage and its output cell. Made holding its call. It keeps no record of what it
/// holds (its [`Schedule`]'s bits do), so it has no `Drop` of its own: the schedule drops what
/// its nodes hold, and a `Step` dropped without ever being given to one leaks its call (as
/// `mem::forget` would; a `dag!` gives every node to its schedule at once).
pub struct Step<'c, T, Mk, Fut, K> {
    cell: &'c OutputCell<T>,
    stage: Stage<Mk, Fut>,
    _kind: PhantomData<fn() -> K>,
    /// The future is polled in place.
    _pinned: PhantomPinned,
}

impl<T, Mk, Fut, K> fmt::Debug for Step<'_, T, Mk, Fut, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step").finish_non_exhaustive()
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
            stage: Stage {
                call: ManuallyDrop::new(make),
            },
            _kind: PhantomData,
            _pinned: PhantomPinned,
        }
    }

    /// The future in place.
    ///
    /// # Safety
    /// The node holds its future.
    #[inline(always)]
    unsafe fn future(self: Pin<&mut Self>) -> Pin<&mut Fut> {
        // SAFETY: the node holds its future (the caller's promise), which is pinned with the
        // node: it is never moved out, only dropped in place.
        unsafe { self.map_unchecked_mut(|step| &mut *step.stage.future) }
    }
}

impl<T, Mk, Fut, K> sealed::Sealed for Step<'_, T, Mk, Fut, K> {}

impl<T, Mk, Fut, K, E> Task<E> for Step<'_, T, Mk, Fut, K>
where
    Mk: FnOnce() -> Fut,
    Fut: Future,
    K: Kind<Fut::Output, E, Value = T>,
{
    #[inline(always)]
    unsafe fn start(self: Pin<&mut Self>) {
        // SAFETY: nothing is moved out of the pinned node but its call, which is not pinned
        // (only a future is polled in place).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: the node holds its call (the caller's promise); it is read out once, and
        // the stage holds nothing until the future is written (a panic of the call leaves
        // nothing to drop).
        let make = unsafe { ManuallyDrop::take(&mut this.stage.call) };
        this.stage.future = ManuallyDrop::new(make());
    }

    #[inline(always)]
    unsafe fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        live: &mut u64,
        bit: u64,
    ) -> Poll<Result<(), E>> {
        // SAFETY: the node holds its future (the caller's promise).
        let Poll::Ready(output) = (unsafe { self.as_mut().future() }).poll(cx) else {
            return Poll::Pending;
        };
        // The future goes before its value is stored: it may borrow its inputs, never its
        // own output.
        *live &= !bit;
        // SAFETY: the node holds its future, dropped in place once (no longer `live`).
        unsafe { self.as_mut().drop_future() };
        Poll::Ready(K::split(output).map(|value| {
            // The cell is empty: a node completes once.
            let _ = self.cell.value.set(value);
        }))
    }

    #[inline(always)]
    unsafe fn drop_call(self: Pin<&mut Self>) {
        // SAFETY: the call is not pinned; the node holds it (the caller's promise), and
        // nothing afterwards.
        unsafe { ManuallyDrop::drop(&mut self.get_unchecked_mut().stage.call) }
    }

    #[inline(always)]
    unsafe fn drop_future(self: Pin<&mut Self>) {
        // SAFETY: the node holds its future (the caller's promise), dropped in place; it
        // holds nothing afterwards.
        unsafe { ManuallyDrop::drop(&mut self.get_unchecked_mut().stage.future) }
    }
}

/// The nodes of a run, as a list `Cons(node 0, Cons(node 1, .. Nil))` in the `dag!`'s order
/// (each node after its inputs): a sweep visits them in that order with static calls, each
/// node's index a constant once inlined, its future's `poll` inlined into the scheduler.
///
/// Sealed: only [`Cons`] and [`Nil`] implement it.
pub trait Steps<E, const N: usize>: sealed::Sealed {
    /// How many nodes the list holds.
    const LEN: usize;

    /// Visits the nodes from position `index` on (see [`Sweep`]); breaks with a failure that
    /// ends the run.
    ///
    /// # Safety
    /// `bits` say what each node holds (see [`Bits`]), and are kept saying it: on return and
    /// on unwind alike.
    unsafe fn sweep<G: Edges<N>, W: Watch>(
        self: Pin<&mut Self>,
        index: usize,
        run: &mut Sweep<E, N>,
        bits: &mut Bits,
        watch: &mut W,
        cx: &mut Context<'_>,
    ) -> ControlFlow<Failed<E>>;

    /// Drops what the nodes from position `index` on hold, as `bits` say; if one of those
    /// drops panics, the rest are still dropped.
    ///
    /// # Safety
    /// `bits` say what each node holds; the nodes hold nothing afterwards.
    unsafe fn drop_held(self: Pin<&mut Self>, index: usize, bits: &Bits);
}

/// Drops what the nodes of a list from position `index` on hold ([`Steps::drop_held`]) when
/// it goes: at the end of its scope, or as a panic unwinds through it.
struct DropHeld<'a, S: Steps<E, N>, E, const N: usize> {
    nodes: Pin<&'a mut S>,
    index: usize,
    bits: &'a Bits,
    _error: PhantomData<fn() -> E>,
}

impl<'a, S: Steps<E, N>, E, const N: usize> DropHeld<'a, S, E, N> {
    /// # Safety
    /// As [`Steps::drop_held`]: `bits` say what the nodes from `index` on hold, and nothing
    /// else drops it.
    unsafe fn new(nodes: Pin<&'a mut S>, index: usize, bits: &'a Bits) -> Self {
        DropHeld {
            nodes,
            index,
            bits,
            _error: PhantomData,
        }
    }
}

impl<S: Steps<E, N>, E, const N: usize> Drop for DropHeld<'_, S, E, N> {
    fn drop(&mut self) {
        // SAFETY: as promised to `new`.
        unsafe { self.nodes.as_mut().drop_held(self.index, self.bits) }
    }
}

/// The end of a [`Steps`] list.
#[derive(Debug)]
pub struct Nil;

impl sealed::Sealed for Nil {}

impl<H, T> sealed::Sealed for Cons<H, T> {}

impl<E, const N: usize> Steps<E, N> for Nil {
    const LEN: usize = 0;

    #[inline(always)]
    unsafe fn sweep<G: Edges<N>, W: Watch>(
        self: Pin<&mut Self>,
        _: usize,
        _: &mut Sweep<E, N>,
        _: &mut Bits,
        _: &mut W,
        _: &mut Context<'_>,
    ) -> ControlFlow<Failed<E>> {
        ControlFlow::Continue(())
    }

    #[inline(always)]
    unsafe fn drop_held(self: Pin<&mut Self>, _: usize, _: &Bits) {}
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

impl<E, H: Task<E>, T: Steps<E, N>, const N: usize> Steps<E, N> for Cons<H, T> {
    const LEN: usize = 1 + T::LEN;

    #[inline(always)]
    unsafe fn sweep<G: Edges<N>, W: Watch>(
        self: Pin<&mut Self>,
        index: usize,
        run: &mut Sweep<E, N>,
        bits: &mut Bits,
        watch: &mut W,
        cx: &mut Context<'_>,
    ) -> ControlFlow<Failed<E>> {
        let this = self.project();
        // SAFETY: as the caller promises, for this node and the rest.
        unsafe {
            run.visit::<G, W, H>(this.head, index, bits, watch, cx)?;
            this.tail.sweep::<G, W>(index + 1, run, bits, watch, cx)
        }
    }

    unsafe fn drop_held(self: Pin<&mut Self>, index: usize, bits: &Bits) {
        let this = self.project();
        // The rest of the list goes after the head, or as a panic of the head's drop unwinds.
        // SAFETY: as the caller promised, for the rest of the list.
        let _rest = unsafe { DropHeld::<T, E, N>::new(this.tail, index + 1, bits) };
        let bit = 1 << index;
        // SAFETY: `bits` say what the node holds (the caller's promise): its call if it never
        // started, its future if it is live, else nothing.
        unsafe {
            if bits.started & bit == 0 {
                this.head.drop_call();
            } else if bits.live & bit != 0 {
                this.head.drop_future();
            }
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
    pub fn run<'a, P: ?Sized, O: AllOutputs, E: CannotFail, const N: usize>(
        &'a self,
        param: &'a P,
    ) -> impl Future<Output = O::Values>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        Finish::new(
            (self.0)(param, Control::new(Mode::FailFast, None)),
            all_outputs,
        )
    }

    /// [`run`](Self::run), with an observer of the node events.
    pub fn run_with<'a, P: ?Sized, O: AllOutputs, E: CannotFail, const N: usize>(
        &'a self,
        param: &'a P,
        observer: &'a mut dyn Observer,
    ) -> impl Future<Output = O::Values>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        Finish::new(
            (self.0)(param, Control::new(Mode::FailFast, Some(observer))),
            all_outputs,
        )
    }

    /// Runs the DAG, stopping at the first failure: every running node future is dropped at
    /// once and the error names the node.
    ///
    /// The future's output is the outputs, or the first node that failed.
    pub fn try_run<'a, P: ?Sized, O: AllOutputs, E, const N: usize>(
        &'a self,
        param: &'a P,
    ) -> impl Future<Output = Result<O::Values, Failed<E>>>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        Finish::new(
            (self.0)(param, Control::new(Mode::FailFast, None)),
            failed_or_outputs,
        )
    }

    /// [`try_run`](Self::try_run), with an observer of the node events.
    pub fn try_run_with<'a, P: ?Sized, O: AllOutputs, E, const N: usize>(
        &'a self,
        param: &'a P,
        observer: &'a mut dyn Observer,
    ) -> impl Future<Output = Result<O::Values, Failed<E>>>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        Finish::new(
            (self.0)(param, Control::new(Mode::FailFast, Some(observer))),
            failed_or_outputs,
        )
    }

    /// Runs the DAG to the end: a failure skips only the failed node's descendants. The
    /// report holds the outputs (`None` for a node that failed or was skipped) and each
    /// node's error.
    pub fn run_settled<'a, P: ?Sized, O, E, const N: usize>(
        &'a self,
        param: &'a P,
    ) -> impl Future<Output = Report<O, E, N>>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        (self.0)(param, Control::new(Mode::Settle, None))
    }

    /// [`run_settled`](Self::run_settled), with an observer of the node events.
    pub fn run_settled_with<'a, P: ?Sized, O, E, const N: usize>(
        &'a self,
        param: &'a P,
        observer: &'a mut dyn Observer,
    ) -> impl Future<Output = Report<O, E, N>>
    where
        R: AsyncFn(&P, Control<'_>) -> Report<O, E, N>,
    {
        (self.0)(param, Control::new(Mode::Settle, Some(observer)))
    }
}

pin_project! {
    /// A run's future, its report turned into what the run method returns.
    struct Finish<F, T> {
        #[pin]
        run: F,
        finish: T,
    }
}

impl<F: Future, T: Fn(F::Output) -> U, U> Finish<F, T> {
    fn new(run: F, finish: T) -> Self {
        Finish { run, finish }
    }
}

impl<F: Future, T: Fn(F::Output) -> U, U> Future for Finish<F, T> {
    type Output = U;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<U> {
        let this = self.project();
        this.run.poll(cx).map(this.finish)
    }
}

/// The outputs of a run whose nodes cannot fail.
fn all_outputs<O: AllOutputs, E, const N: usize>(report: Report<O, E, N>) -> O::Values {
    report
        .outputs
        .all()
        .expect("dagfut: a node of an infallible dag! did not complete")
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

/// The edges of a [`dag!`](crate::dag!), computed at compile time: the inputs of each node,
/// one bit per earlier node.
#[derive(Debug)]
pub struct Graph<const N: usize> {
    inputs: [u64; N],
    names: [&'static str; N],
}

impl<const N: usize> Graph<N> {
    /// The graph whose node `i` is named `names[i]` and reads the outputs of the nodes
    /// `inputs[i]` names ([`PARAM`] for the parameter).
    pub const fn new(names: [&'static str; N], inputs: [&[u8]; N]) -> Self {
        let mut masks = [0u64; N];
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
                    masks[node] |= 1 << source;
                }
                i += 1;
            }
            node += 1;
        }
        Graph {
            inputs: masks,
            names,
        }
    }
}

/// A [`dag!`](crate::dag!)'s edges and wakers as a type: the macro names its [`Graph`] and its
/// `static` [`Wakers`] here, so that a sweep reads each node's inputs and makes each node's
/// waker from constants.
pub trait Edges<const N: usize> {
    /// The graph.
    const GRAPH: &'static Graph<N>;
    /// The wakers' block: the same one on every call (the macro's `static`). One that changes
    /// its answer is a logic error, like a `Hash` that disagrees with `Eq`: its runs' nodes
    /// may get wakers of a block the run did not claim, whose wakes it then misses, but the
    /// run only ever registers and reads in the block it claimed.
    fn wakers() -> &'static Wakers<N>;
}

/// Where a run is, one bit per node, including what each node holds (its call, its future, or
/// nothing), which the [`Schedule`]'s drop goes by. A poll copies it into a local (kept in
/// registers, out of reach of the observer's calls) and writes it back when it returns or
/// unwinds.
#[derive(Debug, Clone, Copy)]
pub struct Bits {
    /// Started: not holding its call any more.
    started: u64,
    /// Holding its future (started, its call returned, its future not `Ready` yet). A node
    /// not started holds its call; a node started and not live holds nothing.
    live: u64,
    done: u64,
    /// Failed, or skipped because an input failed.
    failed: u64,
    /// The running nodes to poll in this sweep (woken).
    due: u64,
}

/// Who hears a sweep's node events: nobody ([`Unwatched`]: the calls compile to nothing) or
/// the run's [`Observer`].
pub trait Watch {
    /// Node `node` had `event`.
    fn event(&mut self, node: usize, event: NodeEvent);
}

/// No observer.
#[derive(Debug)]
pub struct Unwatched;

impl Watch for Unwatched {
    #[inline(always)]
    fn event(&mut self, _: usize, _: NodeEvent) {}
}

impl Watch for &mut dyn Observer {
    #[inline(always)]
    fn event(&mut self, node: usize, event: NodeEvent) {
        self.on_event(node, event);
    }
}

/// The rest of a run's bookkeeping, which a sweep of its [`Steps`] reads and updates with its
/// [`Bits`]: a node starts when the sweep reaches it with its inputs done, and is polled again
/// when the sweep reaches it woken.
pub struct Sweep<E, const N: usize> {
    mode: Mode,
    /// Whether another run owns the wakers: nodes are polled with the task's waker.
    shared: bool,
    /// Set while a poll runs: still set after one that unwound (a node, its drop, the
    /// observer or the task's waker panicked), which may have left the run half-written (a
    /// failure not recorded, a node neither running nor done, the wakers released early).
    /// The schedule then refuses to be polled again, as a runtime run does; dropping it is
    /// sound and drops everything once.
    poisoned: bool,
    /// The block's state when the schedule was made, before any node got a waker of it: if
    /// no run has claimed the block since when this run claims it, every wake of this run's
    /// nodes is still in `woken`.
    seen: u64,
    errors: [Option<E>; N],
}

impl<E, const N: usize> Sweep<E, N> {
    /// Every node, one bit each.
    const ALL: u64 = if N == 64 { u64::MAX } else { (1 << N) - 1 };

    /// Visits node `index`: starts it if its inputs are done (skips it if one failed), polls
    /// it if it is due; records how it ended. Breaks with its failure when that ends the run.
    ///
    /// # Safety
    /// `bits` say what the node holds (see [`Bits`]), and only live nodes are due. Both stay
    /// true, on return and on unwind.
    #[inline(always)]
    unsafe fn visit<G: Edges<N>, W: Watch, T: Task<E>>(
        &mut self,
        mut node: Pin<&mut T>,
        index: usize,
        bits: &mut Bits,
        watch: &mut W,
        cx: &mut Context<'_>,
    ) -> ControlFlow<Failed<E>> {
        let bit = 1 << index;
        if bits.started & bit == 0 {
            let inputs = G::GRAPH.inputs[index];
            if inputs & !bits.done != 0 {
                // Waiting; or skipped, if an input failed (a settling run: a fail-fast run
                // ended at the failure). Its descendants come later in this sweep.
                if inputs & bits.failed != 0 {
                    bits.started |= bit;
                    bits.failed |= bit;
                    // SAFETY: not started, the node held its call: now dropped (marked
                    // started first, so a panic of that drop leaves nothing to drop twice).
                    unsafe { node.as_mut().drop_call() };
                }
                return ControlFlow::Continue(());
            }
            watch.event(index, NodeEvent::Started);
            bits.started |= bit;
            // SAFETY: not started, the node holds its call (marked started first: if the
            // call panics, it holds nothing); it holds its future after.
            unsafe { node.as_mut().start() };
            bits.live |= bit;
        } else if bits.due & bit != 0 {
            debug_assert!(bits.live & bit != 0, "a due node is live");
            bits.due &= !bit;
            watch.event(index, NodeEvent::Woken);
        } else {
            return ControlFlow::Continue(());
        }
        let own;
        let waker = if self.shared {
            cx.waker()
        } else {
            own = G::wakers().waker(index);
            &own
        };
        // SAFETY: live (just started, or due), the node holds its future; `poll` clears its
        // live bit before dropping the future.
        match unsafe {
            node.as_mut()
                .poll(&mut Context::from_waker(waker), &mut bits.live, bit)
        } {
            Poll::Pending => watch.event(index, NodeEvent::Pending),
            Poll::Ready(Ok(())) => {
                bits.done |= bit;
                watch.event(index, NodeEvent::Completed);
            }
            Poll::Ready(Err(error)) => {
                bits.failed |= bit;
                watch.event(index, NodeEvent::Failed);
                return self.fail(G::GRAPH.names[index], index, error);
            }
        }
        ControlFlow::Continue(())
    }

    /// Node `index`, named `name`, failed with `error`.
    #[inline(never)]
    fn fail(&mut self, name: &'static str, index: usize, error: E) -> ControlFlow<Failed<E>> {
        match self.mode {
            Mode::FailFast => ControlFlow::Break(Failed {
                node: name,
                index,
                error,
            }),
            Mode::Settle => {
                self.errors[index] = Some(error);
                ControlFlow::Continue(())
            }
        }
    }
}

impl<E, const N: usize> fmt::Debug for Sweep<E, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sweep")
            .field("mode", &self.mode)
            .field("shared", &self.shared)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

/// Holds a [`Wakers`] block for one run; releases it when the run ends or is dropped.
struct Claim<const N: usize>(&'static Wakers<N>);

impl<const N: usize> Drop for Claim<N> {
    fn drop(&mut self) {
        // The block keeps no task of ours alive once we are done with it. The waker is taken
        // before the release (after it, the next owner's could be taken instead) and dropped
        // after it, so that a waker whose drop panics cannot leave the block claimed.
        // SAFETY: this claim is the run's; no other run registers or takes until it is
        // released, just below.
        let parent = unsafe { self.0.take_parent() };
        self.0.state.fetch_and(!CLAIMED, Ordering::Release);
        drop(parent);
    }
}

/// The future that runs a [`dag!`](crate::dag!)'s nodes to the end: each node starts when its
/// inputs have completed and is polled again when its waker is woken. Its output is the
/// failure that stopped a fail-fast run, and each node's error in a settling one.
///
/// It holds the nodes, pinned with it from its first poll; what each holds (its call, its
/// future, or nothing) is in its [`Bits`], by which its `Drop` drops them.
///
/// # Panics
/// When polled again after a poll of it panicked (a node, its drop, the observer, or the
/// task's waker in a clone, wake or drop did): that poll may have left the run half-written,
/// so the schedule refuses to go on, as a runtime run does. Dropping it is sound and drops
/// what each node holds, once.
pub struct Schedule<'o, S: Steps<E, N>, G, E, const N: usize> {
    nodes: S,
    run: Sweep<E, N>,
    /// What each node holds, and how the run stands. Always true when a poll returns or
    /// unwinds (`WriteBack`), which the drop relies on.
    bits: Bits,
    /// Whose wakers the nodes get: the block's, unclaimed, until the run first waits (`None`,
    /// `run.shared` unset); then the block's, claimed by this run (the claim, held for its
    /// `Drop`: the release), or the task's, if another run owns the block (`run.shared`).
    claim: Option<Claim<N>>,
    observer: Option<&'o mut dyn Observer>,
    _edges: PhantomData<G>,
}

impl<S: Steps<E, N>, G, E, const N: usize> fmt::Debug for Schedule<'_, S, G, E, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("run", &self.run)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

impl<S: Steps<E, N>, G, E, const N: usize> Drop for Schedule<'_, S, G, E, N> {
    fn drop(&mut self) {
        // What the nodes hold goes after the claim's release, or as a panic of it unwinds.
        // SAFETY: the nodes are dropped in place (pinned since the first poll, if there was
        // one), once: this is the schedule's drop; `bits` say what each holds (true after
        // every poll, even one that unwound; all zero before the first: each its call).
        let nodes =
            unsafe { DropHeld::<S, E, N>::new(Pin::new_unchecked(&mut self.nodes), 0, &self.bits) };
        // The wakers are released first, as when the run ends: a wake from a node's drop
        // then sets its bit and wakes nobody (not the task dropping the run; a run of the
        // same site that claims the block later finds the bit: one spurious poll of its node
        // of that position).
        self.claim = None;
        drop(nodes);
    }
}

impl<'o, S: Steps<E, N>, G: Edges<N>, E, const N: usize> Schedule<'o, S, G, E, N> {
    /// Runs `nodes` (in an order where each node's inputs come before it, each holding its
    /// call), their edges and wakers in `G`.
    ///
    /// A list of other than `N` nodes, or more than [`MAX_NODES`], does not compile: a node's
    /// bit in [`Bits`] and its place in `G`'s tables is its position.
    pub fn new(nodes: S, control: Control<'o>) -> Self {
        const {
            assert!(
                S::LEN == N && N <= MAX_NODES,
                "dagfut: a dag! schedule's node list must have N nodes, at most 64"
            );
        }
        Schedule {
            nodes,
            run: Sweep {
                mode: control.mode,
                shared: false,
                poisoned: false,
                seen: G::wakers().state.load(Ordering::Acquire),
                errors: [const { None }; N],
            },
            bits: Bits {
                started: 0,
                live: 0,
                done: 0,
                failed: 0,
                due: 0,
            },
            claim: None,
            observer: control.observer,
            _edges: PhantomData,
        }
    }
}

/// Writes a poll's copy of the [`Bits`] back when the poll returns or unwinds.
struct WriteBack<'a> {
    bits: Bits,
    to: &'a mut Bits,
}

impl Drop for WriteBack<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        *self.to = self.bits;
    }
}

/// One poll of a run: sweeps its nodes until none is due. `Ready` when the run ended, with
/// the failure that ended it if one did.
///
/// # Safety
/// As [`Steps::sweep`].
#[inline(always)]
unsafe fn poll_run<S: Steps<E, N>, G: Edges<N>, E, W: Watch, const N: usize>(
    nodes: &mut Pin<&mut S>,
    run: &mut Sweep<E, N>,
    bits: &mut Bits,
    held: &mut Option<Claim<N>>,
    watch: &mut W,
    cx: &mut Context<'_>,
) -> Poll<Option<Failed<E>>> {
    let wakers = G::wakers();
    // The run has not waited yet (its nodes hold the block's wakers, unclaimed) while it
    // neither holds the claim nor shares the wakers.
    let first = |held: &Option<Claim<N>>, run: &Sweep<E, N>| held.is_none() && !run.shared;
    if let Some(Claim(claimed)) = held {
        // The claimed block itself, not `G::wakers()` read again: an `Edges` (a safe trait)
        // whose `wakers` changes its answer would otherwise have this run register in a block
        // another run has claimed, racing that run's side of the slot.
        // SAFETY: `held` is this block's claim.
        unsafe { claimed.register(cx.waker()) };
        bits.due |= claimed.woken.swap(0, Ordering::AcqRel);
    } else if run.shared {
        // Another run owns the wakers: poll every running node.
        bits.due = !0;
    }
    // Stale wakes (of nodes that ended, or of another run's nodes) are dropped here: only
    // live nodes, which hold their futures, are polled.
    bits.due &= bits.live;
    loop {
        // SAFETY: `bits` say what the nodes hold (the caller's promise), and only live
        // nodes are due (filtered above, and below after a claim).
        let swept = unsafe { nodes.as_mut().sweep::<G, W>(0, run, bits, watch, cx) };
        if let ControlFlow::Break(failure) = swept {
            return Poll::Ready(Some(failure));
        }
        if bits.done | bits.failed == Sweep::<E, N>::ALL {
            return Poll::Ready(None);
        }
        if !first(held, run) {
            return Poll::Pending;
        }
        // The run waits for the first time: it claims the block's wakers, which its nodes
        // already hold, and from now on each poll registers the parent's waker as it starts.
        // A wake during this poll found no waker to wake: look once more after registering.
        let Some(untouched) = claim(wakers, run.seen) else {
            // Another run owns them: the wakers our nodes hold wake it, not us. Poll every
            // running node again at once, with our task's waker.
            run.shared = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        *held = Some(Claim(wakers));
        // SAFETY: the claim just made is in `held`.
        unsafe { wakers.register(cx.waker()) };
        let woken = wakers.woken.swap(0, Ordering::AcqRel);
        bits.due = if untouched {
            // Nobody claimed the block since our nodes got its wakers, so nobody took their
            // wakes' bits: they are all in `woken` (with stale bits of runs before, which
            // only cost a poll).
            woken & bits.live
        } else {
            // Another run owned the block while our nodes held its wakers: a wake in between
            // set a bit that it may have consumed (and woken itself, not us). Poll every
            // running node once more, so no such wake is lost.
            bits.live
        };
        if bits.due == 0 {
            return Poll::Pending;
        }
    }
}

/// Claims `wakers` if no run is using them, trying first from `seen`, the state the run noted
/// before its nodes got the block's wakers: `Some(true)` if the block was still in that state
/// (nobody claimed it since: the claim count is the same), `Some(false)` if it was claimed
/// from a later state, `None` if another run is using it.
fn claim<const N: usize>(wakers: &Wakers<N>, seen: u64) -> Option<bool> {
    let mut state = if seen & CLAIMED == 0 {
        seen
    } else {
        wakers.state.load(Ordering::Acquire)
    };
    while state & CLAIMED == 0 {
        match wakers.state.compare_exchange_weak(
            state,
            state.wrapping_add(CLAIM) | CLAIMED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return Some(state == seen),
            Err(now) => state = now,
        }
    }
    None
}

impl<S: Steps<E, N>, G: Edges<N>, E, const N: usize> Future for Schedule<'_, S, G, E, N> {
    type Output = (Option<Failed<E>>, [Option<E>; N]);

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: only the nodes are pinned (projected as `Pin` just below, never moved).
        let Schedule {
            nodes,
            run,
            bits,
            claim,
            observer,
            ..
        } = unsafe { self.get_unchecked_mut() };
        assert!(
            !run.poisoned,
            "dagfut: a dag! run's schedule was polled again after an earlier poll of it \
             panicked; drop it instead"
        );
        run.poisoned = true;
        // SAFETY: the schedule is pinned, and the nodes with it.
        let mut nodes = unsafe { Pin::new_unchecked(nodes) };
        // A copy of the bits the sweep keeps in registers, written back as the poll returns
        // or unwinds (the drop reads them).
        let mut local = WriteBack {
            bits: *bits,
            to: bits,
        };
        let bits = &mut local.bits;
        // SAFETY: `bits` say what the nodes hold: they did when the last poll returned or
        // unwound (written back), and before the first, when each holds its call.
        let ended = unsafe {
            match observer {
                None => poll_run::<S, G, E, _, N>(&mut nodes, run, bits, claim, &mut Unwatched, cx),
                Some(observer) => {
                    observer.on_poll_start();
                    let ended =
                        poll_run::<S, G, E, _, N>(&mut nodes, run, bits, claim, observer, cx);
                    observer.on_poll_end(ended.is_ready());
                    ended
                }
            }
        };
        drop(local);
        let Poll::Ready(failure) = ended else {
            run.poisoned = false;
            return Poll::Pending;
        };
        // The wakers are released as the run ends (not when the closure drops this future),
        // inside the poisoned window: the task's waker dropped there may panic.
        *claim = None;
        run.shared = true;
        run.poisoned = false;
        Poll::Ready((
            failure,
            core::mem::replace(&mut run.errors, [const { None }; N]),
        ))
    }
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
/// The per-node wakers live in a `static` of the `dag!`'s site (one per site, shared by every
/// instantiation of a generic function around it and every `StaticDag` made there), which one
/// run at a time claims when it first waits; runs at the same time as it still work, polling
/// their running nodes on each wake of their task instead. A run leaked with `mem::forget`
/// keeps its claim: later runs of the site all work that way.
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
                static WAKERS: $crate::fixed::Block<NODE_COUNT> = $crate::fixed::Block::new();
                // The edges, at compile time: each node's name stands for its position here.
                // A `const`, so that each use reads its masks as constants.
                const GRAPH: $crate::fixed::Graph<NODE_COUNT> = {
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
                    let nodes = $crate::dag!(@cons $(
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
                    ),*);
                    struct Shape;
                    impl $crate::fixed::Edges<NODE_COUNT> for Shape {
                        const GRAPH: &'static $crate::fixed::Graph<NODE_COUNT> = &GRAPH;
                        #[inline(always)]
                        fn wakers() -> &'static $crate::fixed::Wakers<NODE_COUNT> {
                            WAKERS.get()
                        }
                    }
                    $crate::fixed::Schedule::<_, Shape, $E, NODE_COUNT>::new(
                        nodes, control,
                    )
                    .await
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
