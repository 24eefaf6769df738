//! [dagfut] on [tokio]: the timer of node policies, per-node timeouts, offloading of CPU-heavy
//! nodes, a clock that follows tokio's paused time, and runs that respect tokio's cooperative
//! budget.
//!
//! A dagfut run is one future, and it runs on tokio as it is: `dag.run(&p).await` in a task,
//! or `tokio::spawn` of a task that owns the DAG. This crate adds what tokio users expect:
//!
//! - [`TokioTimer`]: tokio's timer as a [`dagfut::Timer`], for node policies declared with the
//!   graph (`b.named("recs").timeout(..).retry(..).or_value(..)`): timeouts per attempt,
//!   retries with a backoff, fallbacks, all on tokio's (pausable) time;
//! - [`timeout`]: a node's future with a deadline from tokio's timer, failing with a
//!   [`Timeout`] that names the node: the same deadline by hand, inside the node's body;
//! - [`offload`] and [`offload_blocking`]: run a CPU-heavy piece of a node on tokio's workers
//!   (`tokio::spawn`, `tokio::task::spawn_blocking`), so two such nodes use two cores while the
//!   rest of the DAG stays in the one future;
//! - [`TokioClock`]: a [`dagfut::Clock`] reading `tokio::time::Instant`, so run traces follow
//!   paused and advanced test time;
//! - [`cooperative`]: a run that charges each node poll to the task's cooperative budget and
//!   yields, as tokio resources do, when it is spent: at most 128 node polls between two
//!   chances of the other tasks, whatever the run's own poll budget.
//!
//! # Examples
//!
//! A node with a deadline: the DAG's error type is [`Timeout`], the node is fallible, and the
//! run stops at the first node that overruns (fail-fast), naming it.
//!
//! ```
//! use std::time::Duration;
//! use dagfut::DagBuilder;
//! use dagfut_tokio::Timeout;
//!
//! async fn fetch(delay_ms: &u64) -> Result<u64, Timeout> {
//!     let work = async {
//!         tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
//!         *delay_ms
//!     };
//!     dagfut_tokio::timeout("fetch", Duration::from_millis(100), work).await
//! }
//!
//! async fn double(n: &u64) -> u64 {
//!     n * 2
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let b = DagBuilder::<u64>::new().with_error::<Timeout>();
//! let fetched = b.named("fetch").add_try_node(fetch, b.param());
//! let doubled = b.add_node(double, fetched);
//! let dag = b.build();
//!
//! let out = dagfut_tokio::cooperative(dag.try_run(&30)).await.unwrap();
//! assert_eq!(out[doubled], 60);
//!
//! let error = dag.try_run(&500).await.unwrap_err();
//! assert_eq!(error.name(), Some("fetch"));
//! assert_eq!(error.to_string(), "node `fetch` (task #0) failed: `fetch` timed out after 100ms");
//! # });
//! ```

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod clock;
mod coop;
mod offload;
mod timeout;
mod timer;

pub use clock::TokioClock;
pub use coop::{Cooperative, PollBudget, cooperative};
pub use offload::{Offloaded, offload, offload_blocking};
pub use timeout::{Timeout, timeout};
pub use timer::TokioTimer;
