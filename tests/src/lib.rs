//! A `#![no_std]` crate built on dagfut: proof that the core needs nothing but `core` and
//! `alloc`. CI builds it for `thumbv7em-none-eabihf` and `thumbv6m-none-eabi` (no
//! compare-and-swap); the host tests of this crate run it on several executors.

#![no_std]
// no_std hygiene, for this crate's own code (test files and std crates use `std` freely).
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

extern crate alloc;

// The reference model's driver uses `Arc` wakers: targets with pointer-sized atomics only.
#[cfg(target_has_atomic = "ptr")]
pub mod model;

// The policy suite and its virtual clock catch panics and lock mutexes: hosted targets only.
#[cfg(not(target_os = "none"))]
extern crate std;
#[cfg(not(target_os = "none"))]
pub mod policy;
#[cfg(not(target_os = "none"))]
pub mod virtual_time;

use alloc::vec::Vec;
use dagfut::{Dag, DagBuilder, LocalDag, LocalDagBuilder, Node};

async fn inc(n: &u32) -> u32 {
    n + 1
}

async fn add(a: &u32, b: &u32) -> u32 {
    a + b
}

async fn total(values: &[&u32]) -> u32 {
    values.iter().copied().sum()
}

/// The seed's graph without timers: `fast_a → slow_b → end` and `(slow_a, fast_b) → fast_c →
/// end`. Returns the DAG and the handles of `fast_a` and `end`.
pub fn seed_graph() -> (Dag<u32>, Node<u32>, Node<u32>) {
    let b = DagBuilder::<u32>::new();
    let fast_a = b.add_node(inc, b.param());
    let slow_b = b.add_node(inc, fast_a);
    let slow_a = b.add_node(inc, b.param());
    let fast_b = b.add_node(inc, b.param());
    let fast_c = b.add_node(add, (slow_a, fast_b));
    let end = b.add_node(add, (fast_c, slow_b));
    (b.build(), fast_a, end)
}

/// A local-flavour fan-in of `width` nodes, as firmware would build one.
pub fn local_fan_in(width: u32) -> (LocalDag<u32>, Node<u32>) {
    let b = LocalDagBuilder::<u32>::new();
    let leaves: Vec<Node<u32>> = (0..width).map(|_| b.add_node(inc, b.param())).collect();
    let sum = b.add_node(total, leaves);
    (b.build(), sum)
}

/// Builds the seed graph of async-dag's README with timers, on the builder `$b` (a
/// `DagBuilder` of either flavour, by reference), and gives the handles of `fast_a`, `slow_b`
/// and `end`.
///
/// `$inc` and `$add` are the node functions, with the runtime's timer inside: each takes its
/// node's name (`&&'static str`), its delay (`&D`) and its inputs (`&u32`, or two), sleeps, and
/// returns the input plus one or the sum. Delays are multiples of `$unit` (of type `D`; the
/// README's is 100 ms): `fast_a` 1 → `slow_b` 10; `slow_a` 5 and `fast_b` 1 → `fast_c` 1;
/// `end` 1, taking `fast_c` and `slow_b`. A macro, so that one graph serves every runtime's
/// timer and duration type and both flavours of builder.
#[macro_export]
macro_rules! timed_seed_graph {
    ($b:expr, $unit:expr, $inc:expr, $add:expr) => {{
        let b = $b;
        let unit = $unit;
        let named =
            |name: &'static str, units: u32| (b.add_constant(name), b.add_constant(unit * units));
        let (name, delay) = named("fast_a", 1);
        let fast_a = b.named("fast_a").add_node($inc, (name, delay, b.param()));
        let (name, delay) = named("slow_b", 10);
        let slow_b = b.named("slow_b").add_node($inc, (name, delay, fast_a));
        let (name, delay) = named("slow_a", 5);
        let slow_a = b.named("slow_a").add_node($inc, (name, delay, b.param()));
        let (name, delay) = named("fast_b", 1);
        let fast_b = b.named("fast_b").add_node($inc, (name, delay, b.param()));
        let (name, delay) = named("fast_c", 1);
        let fast_c = b
            .named("fast_c")
            .add_node($add, (name, delay, slow_a, fast_b));
        let (name, delay) = named("end", 1);
        let end = b.named("end").add_node($add, (name, delay, fast_c, slow_b));
        (fast_a, slow_b, end)
    }};
}

/// Sets its flag when dropped: tells a test that a run dropped a node's future (or whatever
/// holds it).
#[cfg(target_has_atomic = "ptr")]
#[derive(Debug)]
pub struct DropFlag(pub alloc::sync::Arc<core::sync::atomic::AtomicBool>);

#[cfg(target_has_atomic = "ptr")]
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, core::sync::atomic::Ordering::SeqCst);
    }
}

/// A calibration a sensor node keeps as state.
#[derive(Debug)]
pub struct Calibration {
    /// Added to every raw reading.
    pub offset: u32,
}

async fn calibrated(calibration: &Calibration, raw: &u32) -> u32 {
    raw + calibration.offset
}

async fn average(label: &&'static str, readings: &[&u32]) -> (&'static str, u32) {
    let sum: u32 = readings.iter().copied().sum();
    (label, sum / readings.len().max(1) as u32)
}

/// A `Sendable` DAG of stateful nodes, on no_std: `width` sensors, each calibrated by a node
/// with state (`add_node_with`), averaged by a node that takes a plain input and a list.
pub fn calibrated_average(width: u32) -> (Dag<u32>, Node<(&'static str, u32)>) {
    let b = DagBuilder::<u32>::new();
    let readings: Vec<Node<u32>> = (0..width)
        .map(|offset| b.add_node_with(Calibration { offset }, calibrated, b.param()))
        .collect();
    let avg = b.add_node(average, (b.add_constant("avg"), readings));
    (b.build(), avg)
}

/// A `Local` DAG whose nodes are async closures capturing a shared counter (an `Rc`, which a
/// `Sendable` DAG would refuse), on no_std: returns the DAG, its output, and the counter of
/// node calls.
pub fn counted_chain(
    length: u32,
) -> (
    LocalDag<u32>,
    Node<u32>,
    alloc::rc::Rc<core::cell::Cell<u32>>,
) {
    let calls = alloc::rc::Rc::new(core::cell::Cell::new(0));
    let b = LocalDagBuilder::<u32>::new();
    let mut last = b.param();
    for _ in 0..length {
        let calls = calls.clone();
        last = b.add_node(
            async move |n: &u32| {
                calls.set(calls.get() + 1);
                n + 1
            },
            last,
        );
    }
    (b.build(), last, calls)
}
