//! The node functions every contender runs, and the driver of the pend-once workload.
//!
//! A node's body is one [`Work`] future: ready on its first poll ([`READY`]), or `Pending`
//! once with its waker parked in a thread-local list that [`drive`] wakes in a shuffled order
//! ([`PEND`]); with [`COUNT`] every poll is counted ([`polls`]). The mode is a const
//! parameter, so the timed benchmarks pay nothing for the modes they do not use.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use crate::shape::XorShift;

/// Mode bits: nodes ready on their first poll.
pub const READY: u8 = 0;
/// Mode bit: nodes return `Pending` once, parking their waker for [`drive`].
pub const PEND: u8 = 1;
/// Mode bit: every poll of a node is counted (see [`polls`]).
pub const COUNT: u8 = 2;

thread_local! {
    static PARKED: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
    /// The driver's second buffer, swapped with `PARKED` at each wake so that neither list
    /// allocates once grown: the driver's memory is not the measured futures'.
    static SPARE: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
    static POLLS: Cell<u64> = const { Cell::new(0) };
}

/// How many node polls this thread has counted (mode [`COUNT`]) since the last reset.
pub fn polls() -> u64 {
    POLLS.with(Cell::get)
}

/// Resets this thread's poll counter.
pub fn reset_polls() {
    POLLS.with(|polls| polls.set(0));
}

/// The body of every node: resolves to `value`, after one `Pending` in mode [`PEND`]. The
/// value passes through [`black_box`](std::hint::black_box), so the compiler cannot compute
/// a node's output ahead of its poll in any contender.
#[derive(Debug)]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Work<const M: u8> {
    value: u64,
    parked: bool,
}

/// A node's body, in mode `M`.
pub fn work<const M: u8>(value: u64) -> Work<M> {
    Work {
        value,
        parked: false,
    }
}

impl<const M: u8> Future for Work<M> {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if M & COUNT != 0 {
            POLLS.with(|polls| polls.set(polls.get() + 1));
        }
        if M & PEND != 0 && !self.parked {
            self.parked = true;
            PARKED.with(|parked| parked.borrow_mut().push(cx.waker().clone()));
            return Poll::Pending;
        }
        // Opaque to the optimiser, as a real node's work is: no contender's chain of ready
        // nodes may fold into one addition (a loop of `.await`s otherwise compiles to `+ n`).
        Poll::Ready(std::hint::black_box(self.value))
    }
}

/// A node of one input (or a root, taking the parameter).
pub async fn n1<const M: u8>(a: &u64) -> u64 {
    work::<M>(a.wrapping_add(1)).await
}

/// A node of two inputs.
pub async fn n2<const M: u8>(a: &u64, b: &u64) -> u64 {
    work::<M>(a.wrapping_add(*b).wrapping_add(1)).await
}

/// A node of three inputs.
pub async fn n3<const M: u8>(a: &u64, b: &u64, c: &u64) -> u64 {
    work::<M>(a.wrapping_add(*b).wrapping_add(*c).wrapping_add(1)).await
}

/// A node of four inputs.
pub async fn n4<const M: u8>(a: &u64, b: &u64, c: &u64, d: &u64) -> u64 {
    work::<M>(
        a.wrapping_add(*b)
            .wrapping_add(*c)
            .wrapping_add(*d)
            .wrapping_add(1),
    )
    .await
}

/// A node of any number of inputs (a list input).
pub async fn many<const M: u8>(inputs: &[&u64]) -> u64 {
    let sum = inputs.iter().fold(0u64, |acc, v| acc.wrapping_add(**v));
    work::<M>(sum.wrapping_add(1)).await
}

/// The node function of `inputs`' arity, borrowing its inputs from `values` (or `param` for
/// a root): one `async fn` for every arity, as a user writes the node of a graph given as
/// data, so that the futures of one layer have one type (no `Either`, no boxing). A node of
/// more than four inputs gathers them into a `Vec` of references for [`many`] when first
/// polled (the `&[&u64]` dagfut hands a list input).
pub async fn node_by_arity<const M: u8>(inputs: &[u32], values: &[u64], param: &u64) -> u64 {
    let v = |i: usize| &values[inputs[i] as usize];
    match inputs.len() {
        0 => n1::<M>(param).await,
        1 => n1::<M>(v(0)).await,
        2 => n2::<M>(v(0), v(1)).await,
        3 => n3::<M>(v(0), v(1), v(2)).await,
        4 => n4::<M>(v(0), v(1), v(2), v(3)).await,
        _ => {
            let list: Vec<&u64> = inputs.iter().map(|&i| &values[i as usize]).collect();
            many::<M>(&list).await
        }
    }
}

/// A node's input values, owned: what the hand-written baselines hand to a node future (one
/// future type for every arity, no boxing).
#[derive(Debug, Clone)]
pub enum Owned {
    /// One input (or the parameter).
    One(u64),
    /// Two inputs.
    Two(u64, u64),
    /// Three inputs.
    Three(u64, u64, u64),
    /// Four inputs.
    Four(u64, u64, u64, u64),
    /// More.
    Many(Vec<u64>),
}

impl Owned {
    /// Gathers the values of `inputs` (the parameter when empty).
    pub fn gather(inputs: &[u32], values: &[u64], param: u64) -> Self {
        let v = |i: usize| values[inputs[i] as usize];
        match inputs.len() {
            0 => Owned::One(param),
            1 => Owned::One(v(0)),
            2 => Owned::Two(v(0), v(1)),
            3 => Owned::Three(v(0), v(1), v(2)),
            4 => Owned::Four(v(0), v(1), v(2), v(3)),
            _ => Owned::Many(inputs.iter().map(|&i| values[i as usize]).collect()),
        }
    }

    /// `arity` copies of `value`: the same futures as a shape's nodes, without the edges.
    pub fn filler(arity: usize, value: u64) -> Self {
        match arity {
            0 | 1 => Owned::One(value),
            2 => Owned::Two(value, value),
            3 => Owned::Three(value, value, value),
            4 => Owned::Four(value, value, value, value),
            _ => Owned::Many(vec![value; arity]),
        }
    }
}

/// Runs the node function of `inputs`' arity; resolves to `(index, output)`.
pub async fn owned_node<const M: u8>(index: u32, inputs: Owned) -> (u32, u64) {
    let value = match &inputs {
        Owned::One(a) => n1::<M>(a).await,
        Owned::Two(a, b) => n2::<M>(a, b).await,
        Owned::Three(a, b, c) => n3::<M>(a, b, c).await,
        Owned::Four(a, b, c, d) => n4::<M>(a, b, c, d).await,
        Owned::Many(values) => {
            let refs: Vec<&u64> = values.iter().collect();
            many::<M>(&refs).await
        }
    };
    (index, value)
}

/// Wakes every parked waker of this thread, in an order shuffled by `random`; returns how
/// many.
pub fn wake_parked(random: &mut XorShift) -> usize {
    let mut wakers = SPARE.with(|spare| std::mem::take(&mut *spare.borrow_mut()));
    PARKED.with(|parked| std::mem::swap(&mut wakers, &mut *parked.borrow_mut()));
    random.shuffle(&mut wakers);
    let count = wakers.len();
    wakers.drain(..).for_each(Waker::wake);
    SPARE.with(|spare| *spare.borrow_mut() = wakers);
    count
}

/// Polls `future` to completion on this thread with a no-op waker; whenever it is pending,
/// wakes the parked node futures in a shuffled order first. No executor, no timer: what is
/// measured is the future's own work.
pub fn drive<F: Future>(future: F, random: &mut XorShift) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        wake_parked(random);
    }
}

/// [`drive`] with `waker` as the task's waker, such as a [`CountingWaker`]'s. (A loop of its
/// own: `drive` calling this one would change how the compiler lays out every measured run,
/// and with it the instruction counts of the earlier reports.)
pub fn drive_with<F: Future>(future: F, random: &mut XorShift, waker: &Waker) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        wake_parked(random);
    }
}

/// A task waker that costs what an executor's costs at the least: it is an `Arc` (a clone and
/// a drop are atomic reference counts) and a wake is an atomic increment (where an executor
/// would also queue the task). Under [`drive`]'s no-op waker, code that clones and wakes the
/// task's waker (a `join!`, whose children get it) pays nothing for it, which no executor
/// gives.
#[derive(Debug, Default)]
pub struct CountingWaker {
    wakes: AtomicUsize,
}

impl CountingWaker {
    /// A waker of a new `CountingWaker`, and the counter, to read its wakes.
    pub fn new_waker() -> (Waker, Arc<CountingWaker>) {
        let counter = Arc::new(CountingWaker::default());
        (Waker::from(Arc::clone(&counter)), counter)
    }

    /// How many wakes it has counted.
    pub fn wakes(&self) -> usize {
        self.wakes.load(Ordering::Relaxed)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
    }
}
