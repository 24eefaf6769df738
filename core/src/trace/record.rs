//! The recorder, the spans it records, and the critical path through them.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::time::Duration;

use crate::dag::Dag;
use crate::flavor::Flavor;
use crate::observe::{Clock, NodeEvent, Observer};

/// How a node's span ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It has not started: the run has not reached it yet.
    NotStarted,
    /// It started and has not finished: the run is still going (or its future was dropped
    /// before it ended).
    Running,
    /// It produced its value.
    Completed,
    /// It failed.
    Failed,
    /// It was running when a fail-fast run stopped at another node's failure, and was
    /// dropped: its span ends when the run stopped.
    Cancelled,
    /// It never started, and the run has ended: an input of it failed, or a fail-fast run
    /// stopped first.
    Skipped,
}

impl Outcome {
    /// The outcome in lower case, as the pictures and the JSON name it: `"completed"`,
    /// `"failed"`, `"cancelled"`, `"skipped"`, `"running"`, `"not started"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NotStarted => "not started",
            Outcome::Running => "running",
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Skipped => "skipped",
        }
    }

    /// Whether the node finished by itself: it completed or failed.
    pub fn is_finished(self) -> bool {
        matches!(self, Outcome::Completed | Outcome::Failed)
    }
}

/// One node's time in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The task's index.
    pub task: usize,
    /// Its name, or `task #i`.
    pub name: String,
    /// When it started, if it did.
    pub start: Option<Duration>,
    /// When it completed or failed, or, [cancelled](Outcome::Cancelled), when the run
    /// stopped.
    pub end: Option<Duration>,
    /// How it ended.
    pub outcome: Outcome,
    /// How many times it was polled.
    pub polls: u32,
    /// Its attempts, if it has a policy and one of them failed or timed out (a retry, a
    /// fallback, or the node's failure followed); empty otherwise: the span is its one
    /// attempt.
    pub attempts: Vec<Attempt>,
    /// Whether it failed for good and its fallback value took its place (its outcome is
    /// then `Completed`).
    pub fell_back: bool,
}

/// One attempt of a node with a policy (a timeout, retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attempt {
    /// Its number, from 1.
    pub number: u32,
    /// When it started.
    pub start: Duration,
    /// When it ended, if it did.
    pub end: Option<Duration>,
    /// How it ended.
    pub outcome: AttemptOutcome,
}

/// How an [`Attempt`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// It is still running (or the run's future was dropped first).
    Running,
    /// It produced the node's value.
    Completed,
    /// It returned `Err` (or panicked).
    Failed,
    /// It ran out of time and was dropped.
    TimedOut,
    /// It was running when a fail-fast run stopped at another node's failure.
    Cancelled,
}

impl AttemptOutcome {
    /// The outcome in lower case: `"completed"`, `"failed"`, `"timed out"`, `"cancelled"`,
    /// `"running"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Running => "running",
            AttemptOutcome::Completed => "completed",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::TimedOut => "timed out",
            AttemptOutcome::Cancelled => "cancelled",
        }
    }
}

impl Span {
    fn new(task: usize, name: String) -> Self {
        Span {
            task,
            name,
            start: None,
            end: None,
            outcome: Outcome::NotStarted,
            polls: 0,
            attempts: Vec::new(),
            fell_back: false,
        }
    }

    /// Whether it failed.
    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Failed
    }

    /// Ends attempt `number` with `outcome`; the first attempt is recorded as it ends (it
    /// began with the span).
    fn fail_attempt(&mut self, number: u32, now: Duration, outcome: AttemptOutcome) {
        if self.attempts.is_empty() {
            self.attempts.push(Attempt {
                number,
                start: self.start.unwrap_or(now),
                end: None,
                outcome: AttemptOutcome::Running,
            });
        }
        self.end_attempt(now, outcome);
    }

    /// Ends the running attempt, if any, with `outcome`.
    fn end_attempt(&mut self, now: Duration, outcome: AttemptOutcome) {
        if let Some(last) = self.attempts.last_mut() {
            if last.outcome == AttemptOutcome::Running {
                last.end = Some(now);
                last.outcome = outcome;
            }
        }
    }

    /// Its start and end if it completed or failed.
    fn finished(&self) -> Option<(Duration, Duration)> {
        match (self.outcome.is_finished(), self.start, self.end) {
            (true, Some(start), Some(end)) => Some((start, end)),
            _ => None,
        }
    }
}

/// Records a run's node events with a clock: attach it with `with_observer(&mut recorder)`.
///
/// It may record one run after another: the first poll after a run ended starts a new trace
/// (take the last one with [`trace`](Self::trace) before). Times are the clock's, from its
/// origin.
#[derive(Debug)]
pub struct Recorder<C> {
    clock: C,
    spans: Vec<Span>,
    inputs: Vec<Vec<usize>>,
    started: Option<Duration>,
    ended: Option<Duration>,
}

impl<C: Clock> Recorder<C> {
    /// A recorder for runs of `dag`, stamping events with `clock`.
    pub fn new<P, K: Flavor, E>(dag: &Dag<P, K, E>, clock: C) -> Self {
        let core = &dag.core;
        let tasks = core.tasks.len();
        Recorder {
            clock,
            spans: (0..tasks)
                .map(|task| Span::new(task, core.label(task).into_owned()))
                .collect(),
            inputs: (0..tasks).map(|task| core.task_inputs(task)).collect(),
            started: None,
            ended: None,
        }
    }

    /// What was recorded so far.
    pub fn trace(&self) -> Trace {
        Trace {
            spans: self.spans.clone(),
            started: self.started,
            ended: self.ended,
            inputs: self.inputs.clone(),
        }
    }
}

impl<C: Clock> Observer for Recorder<C> {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        let span = &mut self.spans[task];
        match event {
            NodeEvent::Started => {
                span.start = Some(self.clock.now());
                span.outcome = Outcome::Running;
                span.polls += 1;
            }
            NodeEvent::Woken => span.polls += 1,
            NodeEvent::Completed => {
                let now = self.clock.now();
                span.end = Some(now);
                span.outcome = Outcome::Completed;
                span.end_attempt(now, AttemptOutcome::Completed);
            }
            NodeEvent::Failed => {
                let now = self.clock.now();
                span.end = Some(now);
                span.outcome = Outcome::Failed;
                span.end_attempt(now, AttemptOutcome::Failed);
            }
            NodeEvent::AttemptFailed { attempt } => {
                span.fail_attempt(attempt, self.clock.now(), AttemptOutcome::Failed);
            }
            NodeEvent::TimedOut { attempt } => {
                span.fail_attempt(attempt, self.clock.now(), AttemptOutcome::TimedOut);
            }
            NodeEvent::Retrying { attempt } => span.attempts.push(Attempt {
                number: attempt,
                start: self.clock.now(),
                end: None,
                outcome: AttemptOutcome::Running,
            }),
            NodeEvent::FellBack => span.fell_back = true,
            // Events this recorder does not know yet.
            _ => {}
        }
    }

    fn on_poll_start(&mut self) {
        if self.ended.is_some() {
            // Another run: a new trace.
            for span in &mut self.spans {
                *span = Span::new(span.task, core::mem::take(&mut span.name));
            }
            self.started = None;
            self.ended = None;
        }
        if self.started.is_none() {
            self.started = Some(self.clock.now());
        }
    }

    fn on_poll_end(&mut self, ready: bool) {
        if !ready {
            return;
        }
        // The run ended: a node still running was dropped, one not started never will be.
        let now = self.clock.now();
        for span in &mut self.spans {
            match span.outcome {
                Outcome::Running => {
                    span.outcome = Outcome::Cancelled;
                    span.end = Some(now);
                    span.end_attempt(now, AttemptOutcome::Cancelled);
                }
                Outcome::NotStarted => span.outcome = Outcome::Skipped,
                _ => {}
            }
        }
        self.ended = Some(now);
    }
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// One span per task, in task order.
    pub spans: Vec<Span>,
    /// When the run was first polled, if it was.
    pub started: Option<Duration>,
    /// When the run ended (completed, settled, or stopped at a failure), if it has.
    pub ended: Option<Duration>,
    inputs: Vec<Vec<usize>>,
}

/// The chain of nodes that set a run's length: see [`Trace::critical_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalPath {
    /// The tasks on the path, first to last.
    pub tasks: Vec<usize>,
    /// Their names.
    names: Vec<String>,
    /// The run's length: when the last node completed or failed.
    pub length: Duration,
    /// For each task, how much later it could have completed without making the run longer
    /// (zero on the critical path). `None` for a task that did not complete: failed,
    /// cancelled, skipped or still running — a failed node on the critical path too.
    pub slack: Vec<Option<Duration>>,
}

impl CriticalPath {
    /// The names of the tasks on the path, first to last.
    pub fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }
}

impl core::fmt::Display for CriticalPath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} ({:.3} s)",
            self.names.join(" → "),
            self.length.as_secs_f64()
        )
    }
}

impl Trace {
    /// The run's length: when the last node completed or failed, on the clock (zero if none
    /// did).
    pub fn length(&self) -> Duration {
        self.spans
            .iter()
            .filter_map(|span| Some(span.finished()?.1))
            .max()
            .unwrap_or_default()
    }

    /// The critical path, and each node's slack.
    ///
    /// The path ends at the node that finished (completed or failed) last, and goes back
    /// through the input of each node that finished last — the one its start waited for — to
    /// a node with no task inputs. Among nodes that finished at the same time (zero-length
    /// nodes, or ties), it takes the longest chain: the path ends at a node none of whose
    /// dependents finished (a sink, in a run that completed), and goes back through as many
    /// nodes as there are. So on a clock where a node starts when its last input ends, the
    /// path is a longest root-to-sink path of the DAG, by duration.
    ///
    /// # Examples
    ///
    /// A node that takes no time still ends the path: it waited for the others.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use dagfut::trace::{Recorder, StdClock};
    /// use dagfut::DagBuilder;
    ///
    /// async fn slow(_: &()) -> u32 {
    ///     std::thread::sleep(Duration::from_millis(20));
    ///     1
    /// }
    ///
    /// async fn end(n: &u32) -> u32 {
    ///     n + 1
    /// }
    ///
    /// let b = DagBuilder::<()>::new();
    /// let a = b.named("a").add_node(slow, b.param());
    /// b.named("end").add_node(end, a);
    /// let dag = b.build();
    /// let mut recorder = Recorder::new(&dag, StdClock::new());
    /// futures_executor::block_on(dag.run(&()).with_observer(&mut recorder));
    /// let critical = recorder.trace().critical_path();
    /// assert_eq!(critical.names(), ["a", "end"]);
    /// assert_eq!(critical.slack[1], Some(Duration::ZERO));
    /// ```
    pub fn critical_path(&self) -> CriticalPath {
        let count = self.spans.len();
        let length = self.length();
        let finished = |task: usize| self.spans[task].finished();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (task, inputs) in self.inputs.iter().enumerate() {
            for &input in inputs {
                dependents[input].push(task);
            }
        }
        // For each finished task, the input its start waited for (the one that finished
        // last; among ties, the one with the longest chain behind it, then the first), and
        // how many nodes that chain has. Inputs precede their tasks.
        let mut previous: Vec<Option<usize>> = vec![None; count];
        let mut depth = vec![0usize; count];
        for task in 0..count {
            if finished(task).is_none() {
                continue;
            }
            let waited_for = self.inputs[task]
                .iter()
                .copied()
                .filter_map(|input| Some((finished(input)?.1, depth[input], Reverse(input))))
                .max()
                .map(|(_, _, Reverse(input))| input);
            previous[task] = waited_for;
            depth[task] = 1 + waited_for.map_or(0, |input| depth[input]);
        }
        let last = (0..count)
            .filter(|&task| {
                finished(task).is_some()
                    && dependents[task]
                        .iter()
                        .all(|&dependent| finished(dependent).is_none())
            })
            .max_by_key(|&task| {
                (
                    finished(task).map(|(_, end)| end),
                    depth[task],
                    Reverse(task),
                )
            });
        let mut tasks = Vec::new();
        let mut current = last;
        while let Some(task) = current {
            tasks.push(task);
            current = previous[task];
        }
        tasks.reverse();

        // Latest finish: a task may end as late as its dependents' latest start allows.
        let mut latest_finish: Vec<Option<Duration>> = vec![None; count];
        for task in (0..count).rev() {
            if finished(task).is_none() {
                continue;
            }
            let mut latest = length;
            for &dependent in &dependents[task] {
                if let (Some((start, end)), Some(finish)) =
                    (finished(dependent), latest_finish[dependent])
                {
                    latest = latest.min(finish.saturating_sub(end.saturating_sub(start)));
                }
            }
            latest_finish[task] = Some(latest);
        }
        let slack = self
            .spans
            .iter()
            .zip(&latest_finish)
            .map(|(span, latest)| match span.outcome {
                Outcome::Completed => Some(latest.as_ref()?.saturating_sub(span.end?)),
                _ => None,
            })
            .collect();
        CriticalPath {
            names: tasks
                .iter()
                .map(|&task| self.spans[task].name.clone())
                .collect(),
            tasks,
            length,
            slack,
        }
    }
}
