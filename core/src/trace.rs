//! Run traces: when each node ran, where the time went, and pictures of it.
//!
//! A [`Recorder`] is an [`Observer`] that stamps each node's start and end with a [`Clock`].
//! Its [`Trace`] renders as Chrome trace-event JSON (open it in Perfetto or
//! `chrome://tracing`), a Mermaid `gantt` chart and an SVG Gantt picture, and finds the
//! [critical path](Trace::critical_path): the chain of nodes that set the run's length, with
//! each node's slack — the answer to "what do I make faster?".
//!
//! # Examples
//!
//! ```
//! use dagfut::DagBuilder;
//! use dagfut::trace::{Recorder, StdClock};
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
//! assert!(trace.to_chrome_json().starts_with('['));
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};
use core::fmt::Write;
use core::time::Duration;
use std::time::Instant;

use crate::dag::Dag;
use crate::flavor::Flavor;
use crate::observe::{Clock, NodeEvent, Observer};

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

/// One node's time in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The task's index.
    pub task: usize,
    /// Its name, or `task #i`.
    pub name: String,
    /// When it started, if it did.
    pub start: Option<Duration>,
    /// When it completed or failed, if it did.
    pub end: Option<Duration>,
    /// Whether it failed.
    pub failed: bool,
    /// How many times it was polled.
    pub polls: u32,
}

/// Records a run's node events with a clock: attach it with `with_observer(&mut recorder)`.
#[derive(Debug)]
pub struct Recorder<C> {
    clock: C,
    spans: Vec<Span>,
    inputs: Vec<Vec<usize>>,
}

impl<C: Clock> Recorder<C> {
    /// A recorder for runs of `dag`, stamping events with `clock`.
    pub fn new<P, K: Flavor, E>(dag: &Dag<P, K, E>, clock: C) -> Self {
        let core = &dag.core;
        let tasks = core.tasks.len();
        Recorder {
            clock,
            spans: (0..tasks)
                .map(|task| Span {
                    task,
                    name: core.label(task).into_owned(),
                    start: None,
                    end: None,
                    failed: false,
                    polls: 0,
                })
                .collect(),
            inputs: (0..tasks).map(|task| core.task_inputs(task)).collect(),
        }
    }

    /// What was recorded so far.
    pub fn trace(&self) -> Trace {
        Trace {
            spans: self.spans.clone(),
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
                span.polls += 1;
            }
            NodeEvent::Woken => span.polls += 1,
            NodeEvent::Pending => {}
            NodeEvent::Completed => span.end = Some(self.clock.now()),
            NodeEvent::Failed => {
                span.end = Some(self.clock.now());
                span.failed = true;
            }
        }
    }
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// One span per task, in task order.
    pub spans: Vec<Span>,
    inputs: Vec<Vec<usize>>,
}

/// The chain of nodes that set a run's length: see [`Trace::critical_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalPath {
    /// The tasks on the path, first to last.
    pub tasks: Vec<usize>,
    /// Their names.
    names: Vec<String>,
    /// The run's length: when the last node ended.
    pub length: Duration,
    /// For each task, how much later it could have ended without making the run longer
    /// (zero on the critical path; `None` for tasks that did not complete).
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

fn micros(duration: Duration) -> u128 {
    duration.as_micros()
}

fn escape_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Trace {
    /// The run's length: when the last node ended (zero if none did).
    pub fn length(&self) -> Duration {
        self.spans
            .iter()
            .filter_map(|span| span.end)
            .max()
            .unwrap_or_default()
    }

    /// The critical path: from the node that ended last, back through the input that ended
    /// last (the one its start waited for), to a node with no task inputs; and each node's
    /// slack.
    pub fn critical_path(&self) -> CriticalPath {
        let length = self.length();
        let mut tasks = Vec::new();
        let last = self
            .spans
            .iter()
            .filter(|span| span.end.is_some())
            .max_by_key(|span| (span.end, core::cmp::Reverse(span.task)));
        if let Some(last) = last {
            let mut current = last.task;
            tasks.push(current);
            while let Some(&input) = self.inputs[current]
                .iter()
                .filter(|&&input| self.spans[input].end.is_some())
                .max_by_key(|&&input| (self.spans[input].end, core::cmp::Reverse(input)))
            {
                tasks.push(input);
                current = input;
            }
            tasks.reverse();
        }
        // Latest finish: a task may end as late as its dependents' latest start allows.
        let count = self.spans.len();
        let mut latest_finish: Vec<Option<Duration>> = vec![None; count];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (task, inputs) in self.inputs.iter().enumerate() {
            for &input in inputs {
                dependents[input].push(task);
            }
        }
        for task in (0..count).rev() {
            let span = &self.spans[task];
            let (Some(_), Some(_)) = (span.start, span.end) else {
                continue;
            };
            let mut finish = length;
            for &dependent in &dependents[task] {
                let d = &self.spans[dependent];
                if let (Some(start), Some(end), Some(latest)) =
                    (d.start, d.end, latest_finish[dependent])
                {
                    finish = finish.min(latest.saturating_sub(end - start));
                }
            }
            latest_finish[task] = Some(finish);
        }
        let slack = self
            .spans
            .iter()
            .zip(&latest_finish)
            .map(|(span, latest)| Some(latest.as_ref()?.saturating_sub(span.end?)))
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

    /// The trace in Chrome's trace-event format: one complete event per node that started
    /// (`"ph": "X"`, microseconds), one row per node. Open it in Perfetto.
    pub fn to_chrome_json(&self) -> String {
        let mut out = String::from("[\n");
        let mut first = true;
        for span in &self.spans {
            let Some(start) = span.start else { continue };
            let end = span.end.unwrap_or(start);
            if !first {
                out.push_str(",\n");
            }
            first = false;
            let _ = write!(
                out,
                "  {{\"name\": \"{}\", \"cat\": \"{}\", \"ph\": \"X\", \"ts\": {}, \"dur\": {}, \"pid\": 1, \"tid\": {}, \"args\": {{\"polls\": {}}}}}",
                escape_json(&span.name),
                if span.failed { "failed" } else { "node" },
                micros(start),
                micros(end - start),
                span.task,
                span.polls
            );
        }
        out.push_str("\n]\n");
        out
    }

    /// The trace as a Mermaid `gantt` chart (milliseconds), the critical path marked `crit`.
    pub fn to_mermaid_gantt(&self) -> String {
        let critical = self.critical_path();
        let mut out = String::from(
            "gantt\n    title dagfut run\n    dateFormat x\n    axisFormat %S.%L s\n    section nodes\n",
        );
        for span in &self.spans {
            let (Some(start), Some(end)) = (span.start, span.end) else {
                continue;
            };
            let mut tags = Vec::new();
            if critical.tasks.contains(&span.task) {
                tags.push("crit".to_string());
            }
            if span.failed {
                tags.push("done".to_string());
            }
            tags.push(format!("t{}", span.task));
            let _ = writeln!(
                out,
                "    {} :{}, {}, {}",
                span.name.replace(':', "#colon;"),
                tags.join(", "),
                start.as_millis(),
                end.as_millis().max(start.as_millis() + 1)
            );
        }
        out
    }

    /// The trace as an SVG Gantt picture: one row per node, a bar from start to end, the
    /// critical path in red, failed nodes hatched grey, and a time axis.
    pub fn to_svg(&self) -> String {
        const ROW: f64 = 28.0;
        const LABEL: f64 = 160.0;
        const WIDTH: f64 = 760.0;
        let critical = self.critical_path();
        let length = self.length().as_secs_f64().max(1e-9);
        let rows = self.spans.len();
        let height = ROW * rows as f64 + 70.0;
        let x = |t: Duration| LABEL + t.as_secs_f64() / length * (WIDTH - LABEL - 20.0);
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        for (row, span) in self.spans.iter().enumerate() {
            let y = 10.0 + row as f64 * ROW;
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LABEL - 8.0,
                y + ROW * 0.6,
                escape_xml(&span.name)
            );
            if let (Some(start), Some(end)) = (span.start, span.end) {
                let fill = if span.failed {
                    "#999999"
                } else if critical.tasks.contains(&span.task) {
                    "#d62728"
                } else {
                    "#1f77b4"
                };
                let _ = writeln!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" rx=\"3\"><title>{}: {:.3}–{:.3} s</title></rect>",
                    x(start),
                    y + 4.0,
                    (x(end) - x(start)).max(1.0),
                    ROW - 8.0,
                    escape_xml(&span.name),
                    start.as_secs_f64(),
                    end.as_secs_f64()
                );
            }
        }
        let axis_y = 10.0 + rows as f64 * ROW + 8.0;
        let _ = writeln!(
            out,
            "<line x1=\"{LABEL}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\" stroke=\"black\"/>",
            WIDTH - 20.0
        );
        for tick in 0..=4 {
            let t = Duration::from_secs_f64(length * f64::from(tick) / 4.0);
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.2} s</text>",
                x(t),
                axis_y + 16.0,
                t.as_secs_f64()
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{LABEL:.1}\" y=\"{:.1}\" fill=\"#d62728\">critical path: {}</text>",
            axis_y + 38.0,
            escape_xml(&critical.to_string())
        );
        out.push_str("</svg>\n");
        out
    }
}
