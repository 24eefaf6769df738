//! Run traces: when each node ran, where the time went, and pictures of it.
//!
//! A [`Recorder`] is an [`Observer`](crate::Observer) that stamps each node's start and end
//! with a [`Clock`]. Its [`Trace`] renders as Chrome trace-event JSON (open it in Perfetto or
//! `chrome://tracing`), a Mermaid `gantt` chart and an SVG Gantt picture, and finds the
//! [critical path](Trace::critical_path): the chain of nodes that set the run's length, with
//! each node's slack — the answer to "what do I make faster?".
//!
//! Each [`Span`] says how its node ended ([`Outcome`]): completed, failed, cancelled (running
//! when a fail-fast run stopped at another node's failure) or skipped (never started), and
//! every picture shows it.
//!
//! A node with a policy (a timeout, retries, a fallback) that had a failed or timed-out
//! attempt records each [`Attempt`] in its span, and every picture draws each attempt: a bar
//! segment per attempt in the node's SVG row (the backoff a dotted gap between them), a gantt
//! task per attempt, a trace event per attempt inside the node's. A node whose fallback value
//! took its place says `(fallback)`. A node without attempts is drawn as before.
//!
//! # Examples
//!
//! ```
//! use dagfut::DagBuilder;
//! use dagfut::trace::{Outcome, Recorder, StdClock};
//!
//! async fn work(n: &u32) -> u32 {
//!     n + 1
//! }
//!
//! let b = DagBuilder::<u32>::new();
//! let first = b.named("first").add_node(work, b.param());
//! b.named("second").add_node(work, first);
//! let dag = b.build();
//!
//! let mut recorder = Recorder::new(&dag, StdClock::new());
//! futures_executor::block_on(dag.run(&0).with_observer(&mut recorder));
//! let trace = recorder.trace();
//! assert_eq!(trace.critical_path().names(), ["first", "second"]);
//! assert!(trace.spans.iter().all(|span| span.outcome == Outcome::Completed));
//! assert!(trace.to_chrome_json().starts_with('['));
//! ```

use core::time::Duration;
use std::time::Instant;

use crate::observe::Clock;

mod record;
mod render;

pub use record::{Attempt, AttemptOutcome, CriticalPath, Outcome, Recorder, Span, Trace};

/// A [`Clock`] reading `std::time::Instant`, from the moment it was made.
#[derive(Debug, Clone, Copy)]
pub struct StdClock(Instant);

impl StdClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        StdClock(Instant::now())
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for StdClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}
