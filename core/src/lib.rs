//! Run a DAG of async functions with the most parallelism the graph allows, inside one future.
//!
//! Define a graph of async functions once, run it many times: every node starts the moment
//! its own inputs are ready, never waiting for a whole "layer" as one `join!` per layer does.
//! A run is a single hand-written future ([`DagFuture`]) that polls the ready nodes itself,
//! with a waker and a dependency counter per node: no spawning, no runtime of its own, so it
//! runs on any executor — tokio, smol, async-executor, embassy on a microcontroller.
//! The crate is `no_std`: the runtime builder needs `alloc`, [`dag!`] needs nothing.
//!
//! Nodes receive **shared references** to their inputs, typed and checked by the compiler;
//! no `Clone` bound. Outputs are read back by handle: `outputs[node]` is the node's value.
//!
//! # Examples
//!
//! The graph of the Python library async-dag's README: `slow_b` starts as soon as `fast_a`
//! is done, without waiting for `slow_a`.
//!
//! ```
//! use dagfut::DagBuilder;
//!
//! async fn inc(_name: &&'static str, n: &u32) -> u32 {
//!     n + 1
//! }
//!
//! async fn add(_name: &&'static str, a: &u32, b: &u32) -> u32 {
//!     a + b
//! }
//!
//! let b = DagBuilder::<u32>::new();
//! let fast_a = b.add_node(inc, (b.add_constant("fast_a"), b.param()));
//! let slow_b = b.add_node(inc, (b.add_constant("slow_b"), fast_a));
//! let slow_a = b.add_node(inc, (b.add_constant("slow_a"), b.param()));
//! let fast_b = b.add_node(inc, (b.add_constant("fast_b"), b.param()));
//! let fast_c = b.add_node(add, (b.add_constant("fast_c"), slow_a, fast_b));
//! let end = b.add_node(add, (b.add_constant("end"), fast_c, slow_b));
//! let dag = b.build();
//!
//! let out = futures_executor::block_on(dag.run(&0));
//! assert_eq!((out[fast_a], out[end]), (1, 4));
//! let again = futures_executor::block_on(dag.run(&10)); // the same DAG, another parameter
//! assert_eq!(again[end], 34); // (10 + 1 + 1) + ((10 + 1) + (10 + 1))
//! ```
//!
//! # Flavours, and nodes with state
//!
//! A [`DagBuilder<P>`] takes `Send` node futures, so `tokio::spawn(dag.run(&p))` compiles; a
//! node gets state as its first argument with [`add_node_with`](DagBuilder::add_node_with)
//! (`async fn fetch(client: &Client, id: &u64)`). A [`LocalDagBuilder<P>`] takes any future,
//! for single-threaded and embedded executors, and async closures that capture state
//! (`async move |id: &u64| client.get(*id).await`) are nodes as they are.
//!
//! A run borrows its DAG and parameter; [`Dag::run_owned`] owns them (an `Arc` of the DAG),
//! so a spawned task can run the DAG and return its [`OwnedOutputs`].
//!
//! # Failures, timeouts, retries, fallbacks
//!
//! A fallible node ([`add_try_node`](DagBuilder::add_try_node)) fails the run
//! ([`Dag::try_run`]) or only its descendants ([`Dag::run_settled`]). A node's policy is
//! declared with the graph on a [`Guarded`] builder: a timeout per attempt, retries with a
//! [`Backoff`], a fallback value or node, on the runtime's [`Timer`]
//! ([`DagBuilder::with_timer`]). An optional input ([`Node::optional`]) lets a dependent run
//! without a node that failed.
//!
//! # Fixed at compile time, with no allocator: `dag!`
//!
//! A graph known when the program is written can be a [`dag!`]: one future whose size is
//! known at compile time, the nodes' futures and outputs in place, per-node wakers in a
//! `static`, no allocation at all (the crate builds without `alloc` for it). Same semantics:
//! each node starts the moment its inputs are ready, fail-fast or settling runs, drop is
//! cancellation, stale wakes are ignored, the same [`Observer`].
//!
//! # Features
//!
//! - `std` (default): the [`trace`] module (spans on a clock, critical path, Chrome JSON,
//!   Mermaid and SVG timelines) and `catch_panics` on fallible runs (a node's panic becomes a
//!   [`DagError::Panicked`]). Everything else is `no_std` + `alloc`: for firmware with a heap,
//!   depend on `dagfut = { version = "0.1", default-features = false, features = ["alloc"] }`.
//! - `alloc` (with `std`): the runtime builder and its runs ([`DagBuilder`], [`Dag`], node
//!   policies). Without it only [`dag!`] is left, for firmware with no allocator:
//!   `dagfut = { version = "0.1", default-features = false }`.
//! - `tracing` (off by default; works without `std`): a [`tracing`](https://docs.rs/tracing)
//!   span for each run (`dagfut.run`, with the DAG's id) and, inside it, one per node
//!   (`dagfut.node`, with its name, task index and DAG id), entered around each poll of that
//!   node, so `tracing-subscriber`, tokio-console and OpenTelemetry exporters show the DAG's
//!   nodes with no code of yours. Off, nothing of it is compiled.

#![no_std]
// no_std hygiene, for this crate's own code (test files and std crates use `std` freely).
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

/// The modules of the runtime builder and its runs, which allocate (feature `alloc`).
macro_rules! with_alloc {
    ($($item:item)*) => {$(
        #[cfg(feature = "alloc")]
        $item
    )*};
}

with_alloc! {
    mod builder;
    mod cache;
    mod dag;
    mod error;
    mod export;
    mod guarded;
    // The sealed `IntoTask` trait behind `Inputs` names the crate-private `ErasedTask`: users
    // can neither name nor implement it, which is the point.
    #[allow(private_interfaces)]
    mod inputs;
    mod node;
    mod outputs;
    // The sealed `Fallback` trait's hidden methods name the crate-private `ErasedTask`.
    #[allow(private_interfaces)]
    mod policy;
    mod ready;
    mod run;
    mod slots;
    mod sync;
    // `Shape`, named by the sealed `Input` trait, names the crate-private `Slot` and `Resolver`.
    #[allow(private_interfaces)]
    mod task;
    mod waker;
}
pub mod fixed;
mod flavor;
mod observe;
mod parent;
// `Arc` needs compare-and-swap: not on thumbv6m.
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
mod owned;
#[cfg(all(feature = "alloc", feature = "tracing"))]
mod spans;
mod timeout;
#[cfg(feature = "std")]
pub mod trace;

with_alloc! {
    pub use builder::{DagBuilder, LocalDagBuilder, Named};
    pub use dag::{Dag, LocalDag};
    pub use error::{BuildError, DagError, OutputError};
    pub use guarded::Guarded;
    pub use node::{DagId, Node, NodeId, Optional};
    pub use outputs::Outputs;
    pub use policy::{Backoff, NoTimer, Timer};
    pub use run::{DEFAULT_POLL_BUDGET, DagFuture, Settled, SettledDagFuture, TryDagFuture};
}
pub use flavor::{Local, Sendable};
pub use observe::{Clock, NodeEvent, Observer, Progress};
#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
pub use owned::{OwnedOutputs, OwnedRun, OwnedSettled};
pub use timeout::Timeout;

/// The traits and marker types behind the builder's bounds: what a node function, its
/// inputs, its values and its errors must be. Users rarely name them; their docs say what
/// fits, and their compile errors say what to change.
pub mod marker {
    pub use crate::flavor::{CannotFail, Flavor, Value};
    #[cfg(feature = "alloc")]
    pub use crate::{
        inputs::{GuardedInputs, GuardedTryInputs, Inputs, TryInputs, WithState},
        outputs::Handles,
        policy::{Fallback, NoFallback, OrNode, OrValue},
        task::{Guard, NodeError, NodeFn, Plain, Try},
    };
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
