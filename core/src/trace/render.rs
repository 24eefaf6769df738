//! The pictures of a trace: Chrome trace-event JSON, a Mermaid gantt chart, an SVG Gantt.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;
use core::time::Duration;

use super::record::{Attempt, AttemptOutcome, Outcome, Span, Trace};
use crate::export::{escape_mermaid_task, escape_xml, visible};

fn micros(duration: Duration) -> u128 {
    duration.as_micros()
}

/// `text` inside a JSON string: `"`, `\` and the control characters escaped. JSON holds
/// every other character as it is.
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

/// The latest time the trace shows: the last start or end (of a node or an attempt), or the
/// run's end.
fn horizon(trace: &Trace) -> Duration {
    let attempts = trace.spans.iter().flat_map(|span| &span.attempts);
    trace
        .spans
        .iter()
        .flat_map(|span| [span.start, span.end])
        .chain(attempts.flat_map(|attempt| [Some(attempt.start), attempt.end]))
        .chain([trace.ended])
        .flatten()
        .max()
        .unwrap_or_default()
}

impl Trace {
    /// The trace in Chrome's trace-event format (microseconds, one row per node: `tid` is
    /// the task's index), to open in Perfetto or `chrome://tracing`.
    ///
    /// A node that ran is a complete event (`"ph": "X"`) whose category (`cat`) and
    /// `args.outcome` say how it ended: `completed`, `failed`, or `cancelled` (running when a
    /// fail-fast run stopped: the event ends when the run stopped). One still running is a
    /// begin event (`"ph": "B"`) with no end. A node the run skipped is an instant event
    /// (`"ph": "i"`, category `skipped`) at the run's end. `args.critical` says whether a
    /// node is on the [critical path](Self::critical_path).
    ///
    /// A node with [attempts](Span::attempts) has `args.attempts` (how many), and
    /// `args.fell_back: true` if its [fallback](Span::fell_back) took its place. Each attempt
    /// is an event of its own right after the node's, on the node's row and within its time
    /// (so Perfetto draws the attempts under the node, the backoff between them a gap), named
    /// `recs attempt 1`, its category and `args.outcome` how it ended (`completed`,
    /// `failed`, `timed out`, `cancelled`; a running one is a begin event), and
    /// `args.attempt` its number.
    ///
    /// # Examples
    ///
    /// A node still running when another fails is cancelled, and its event says so:
    ///
    /// ```
    /// use dagfut::DagBuilder;
    /// use dagfut::trace::{Outcome, Recorder, StdClock};
    ///
    /// async fn forever(_: &()) -> Result<u32, String> {
    ///     std::future::pending().await
    /// }
    ///
    /// async fn fail(_: &()) -> Result<u32, String> {
    ///     Err("no".to_string())
    /// }
    ///
    /// let b = DagBuilder::<()>::new().with_error::<String>();
    /// b.named("forever").add_try_node(forever, b.param());
    /// b.named("fail").add_try_node(fail, b.param());
    /// let dag = b.build();
    /// let mut recorder = Recorder::new(&dag, StdClock::new());
    /// let result = futures_executor::block_on(dag.try_run(&()).with_observer(&mut recorder));
    /// assert!(result.is_err());
    /// let trace = recorder.trace();
    /// assert_eq!(trace.spans[0].outcome, Outcome::Cancelled);
    /// let json = trace.to_chrome_json();
    /// assert!(json.contains("\"name\": \"forever\", \"cat\": \"cancelled\""));
    /// assert!(json.contains("\"name\": \"fail\", \"cat\": \"failed\""));
    /// ```
    pub fn to_chrome_json(&self) -> String {
        let critical = self.critical_path();
        let mut events = Vec::new();
        for span in &self.spans {
            let name = escape_json(&span.name);
            let task = span.task;
            let outcome = span.outcome.as_str();
            let mut args = format!(
                "{{\"polls\": {}, \"outcome\": \"{outcome}\", \"critical\": {}",
                span.polls,
                critical.tasks.contains(&task)
            );
            if !span.attempts.is_empty() {
                let _ = write!(args, ", \"attempts\": {}", span.attempts.len());
            }
            if span.fell_back {
                args.push_str(", \"fell_back\": true");
            }
            args.push('}');
            let event = match (span.outcome, span.start, span.end) {
                (_, Some(start), Some(end)) => format!(
                    "{{\"name\": \"{name}\", \"cat\": \"{outcome}\", \"ph\": \"X\", \"ts\": {}, \"dur\": {}, \"pid\": 1, \"tid\": {task}, \"args\": {args}}}",
                    micros(start),
                    micros(end.saturating_sub(start)),
                ),
                (_, Some(start), None) => format!(
                    "{{\"name\": \"{name}\", \"cat\": \"{outcome}\", \"ph\": \"B\", \"ts\": {}, \"pid\": 1, \"tid\": {task}, \"args\": {args}}}",
                    micros(start),
                ),
                (Outcome::Skipped, None, _) => format!(
                    "{{\"name\": \"{name}\", \"cat\": \"{outcome}\", \"ph\": \"i\", \"s\": \"t\", \"ts\": {}, \"pid\": 1, \"tid\": {task}, \"args\": {args}}}",
                    micros(self.ended.unwrap_or_default()),
                ),
                _ => continue,
            };
            events.push(event);
            // Each attempt, inside the node's event on its row.
            for attempt in &span.attempts {
                events.push(attempt_event(&name, task, attempt));
            }
        }
        let mut out = String::from("[\n");
        for (i, event) in events.iter().enumerate() {
            out.push_str("  ");
            out.push_str(event);
            out.push_str(if i + 1 < events.len() { ",\n" } else { "\n" });
        }
        out.push_str("]\n");
        out
    }

    /// The trace as a Mermaid `gantt` chart (milliseconds): one task per node that ran, the
    /// critical path marked `crit`, a failed node `done` (grey) and a cancelled one `active`,
    /// each with its outcome after its name (`fetch (failed)`).
    ///
    /// A node with [attempts](Span::attempts) is one task per attempt instead, with its
    /// number and outcome (`recs attempt 1 (timed out)`, id `t0a1` for task 0), `done` if it
    /// failed or timed out, `active` if it was cancelled, `crit` on the critical path; the
    /// backoff is the gap between two of them. The last attempt of a node whose
    /// [fallback](Span::fell_back) took its place says so: `recs attempt 2 (failed,
    /// fallback)`.
    ///
    /// Names are escaped for Mermaid: whatever they hold, each is one task's text.
    ///
    /// # Examples
    ///
    /// Recommendations that fail twice and fall back to none (on a timer whose sleeps end at
    /// once):
    ///
    /// ```
    /// use core::time::Duration;
    /// use dagfut::trace::{AttemptOutcome, Recorder, StdClock};
    /// use dagfut::{Backoff, DagBuilder, Timer};
    ///
    /// #[derive(Clone, Copy)]
    /// struct NoWait;
    ///
    /// impl Timer for NoWait {
    ///     type Sleep = core::future::Ready<()>;
    ///     fn sleep(&self, _: Duration) -> Self::Sleep {
    ///         core::future::ready(())
    ///     }
    /// }
    ///
    /// async fn recommendations(_: &u32) -> Result<Vec<String>, String> {
    ///     Err("the recommender is down".to_string())
    /// }
    ///
    /// let b = DagBuilder::<u32>::new().with_error::<String>().with_timer(NoWait);
    /// b.named("recs")
    ///     .retry(1, Backoff::fixed(Duration::from_millis(10)))
    ///     .or_value(Vec::new())
    ///     .add_try_node(recommendations, b.param());
    /// let dag = b.build();
    /// let mut recorder = Recorder::new(&dag, StdClock::new());
    /// futures_executor::block_on(dag.run_settled(&7).with_observer(&mut recorder));
    /// let trace = recorder.trace();
    /// let span = &trace.spans[0];
    /// assert!(span.fell_back);
    /// assert_eq!(span.attempts.len(), 2);
    /// assert!(span.attempts.iter().all(|a| a.outcome == AttemptOutcome::Failed));
    /// let gantt = trace.to_mermaid_gantt();
    /// assert!(gantt.contains("    recs attempt 1 (failed) :crit, done, t0a1, "));
    /// assert!(gantt.contains("    recs attempt 2 (failed, fallback) :crit, done, t0a2, "));
    /// ```
    pub fn to_mermaid_gantt(&self) -> String {
        let critical = self.critical_path();
        let mut out = String::from(
            "gantt\n    title dagfut run\n    dateFormat x\n    axisFormat %S.%L s\n    section nodes\n",
        );
        for span in &self.spans {
            let on_path = critical.tasks.contains(&span.task);
            if !span.attempts.is_empty() {
                push_gantt_attempts(&mut out, span, on_path);
                continue;
            }
            let (Some(start), Some(end)) = (span.start, span.end) else {
                continue;
            };
            let mut tags = Vec::new();
            if on_path {
                tags.push("crit");
            }
            let text = match span.outcome {
                Outcome::Failed => {
                    tags.push("done");
                    format!("{} (failed)", span.name)
                }
                Outcome::Cancelled => {
                    tags.push("active");
                    format!("{} (cancelled)", span.name)
                }
                _ => span.name.clone(),
            };
            let task = format!("t{}", span.task);
            tags.push(&task);
            push_gantt_task(&mut out, &text, &tags, start, end);
        }
        out
    }
    /// The trace as an SVG Gantt picture: one row per node, a bar from start to end, and a
    /// time axis. Each bar's `class` is its outcome (and `critical` on the critical path):
    /// completed nodes are blue, red on the critical path; failed ones hatched grey (outlined
    /// red on the critical path); cancelled ones dashed outlines; running ones pale blue up to
    /// the last time recorded. A skipped node's row says `skipped`.
    ///
    /// A node with [attempts](Span::attempts) has one bar per attempt in its row instead, in a
    /// group (`<g class="completed critical attempts">`, titled with the node's outcome and how
    /// many attempts it made), each bar of class `attempt` and its outcome (`attempt timed-out`,
    /// `attempt failed`, `attempt completed`, with `critical` on the critical path), numbered,
    /// and titled with its number, outcome and times (`recs attempt 1: timed out, 0.000–0.050
    /// s`): timed-out attempts orange, failed ones hatched grey, the completed one as a
    /// completed node. A dotted line (class `backoff`) crosses the gap before each retry: the
    /// backoff. The label of a node whose [fallback](Span::fell_back) took its place ends in
    /// `(fallback)`. A legend below the axis names the attempts' styles.
    ///
    /// The SVG is well-formed XML whatever the names hold: markup is escaped, and characters
    /// XML cannot hold (control characters) are written as Rust escapes (`\u{1b}`).
    pub fn to_svg(&self) -> String {
        const ROW: f64 = 28.0;
        // The names' column: wide enough for the longest label (about 7 px a character),
        // within bounds; then 600 px of time.
        let longest = self.spans.iter().map(|span| {
            let fallback = if span.fell_back { FALLBACK.len() } else { 0 };
            visible(&span.name).chars().count() + fallback
        });
        let column = (16 + 7 * longest.max().unwrap_or(0)).clamp(160, 480) as f64;
        let width = column + 600.0;
        let critical = self.critical_path();
        let horizon = horizon(self);
        let scale = horizon.as_secs_f64().max(1e-9);
        let rows = self.spans.len();
        // Room for the attempts' legend, if any node has attempts.
        let legend = self.spans.iter().any(|span| !span.attempts.is_empty());
        let height = ROW * rows as f64 + if legend { 92.0 } else { 70.0 };
        let x = |t: Duration| column + t.as_secs_f64() / scale * (width - column - 20.0);
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <defs><pattern id=\"dagfut-failed\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#bbbbbb\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#555555\" stroke-width=\"3\"/></pattern></defs>\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        for (row, span) in self.spans.iter().enumerate() {
            let y = 10.0 + row as f64 * ROW;
            let name = escape_xml(&span.name);
            let fallback = if span.fell_back {
                // The space outside the `tspan`, where every renderer keeps it.
                format!(
                    " <tspan fill=\"#777777\" font-style=\"italic\">{}</tspan>",
                    FALLBACK.trim_start()
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{name}{fallback}</text>",
                column - 8.0,
                y + ROW * 0.6,
            );
            let on_path = critical.tasks.contains(&span.task);
            let Some(start) = span.start else {
                if span.outcome == Outcome::Skipped {
                    let _ = writeln!(
                        out,
                        "<text class=\"skipped\" x=\"{:.1}\" y=\"{:.1}\" fill=\"#777777\" font-style=\"italic\">skipped</text>",
                        column + 4.0,
                        y + ROW * 0.6,
                    );
                }
                continue;
            };
            let end = span.end.unwrap_or(horizon);
            if span.attempts.is_empty() {
                let _ = writeln!(
                    out,
                    "<rect class=\"{}{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" {} rx=\"3\"><title>{name}: {}, {:.3}–{:.3} s</title></rect>",
                    span.outcome.as_str(),
                    if on_path { " critical" } else { "" },
                    x(start),
                    y + 4.0,
                    (x(end) - x(start)).max(1.0),
                    ROW - 8.0,
                    bar_style(span.outcome, on_path),
                    span.outcome.as_str(),
                    start.as_secs_f64(),
                    end.as_secs_f64()
                );
                continue;
            }
            // One bar per attempt, the backoff between them a dotted line.
            let count = span.attempts.len();
            let _ = writeln!(
                out,
                "<g class=\"{}{} attempts\"><title>{name}: {}{}, {count} attempt{}, {:.3}–{:.3} s</title>",
                span.outcome.as_str(),
                if on_path { " critical" } else { "" },
                span.outcome.as_str(),
                if span.fell_back { FALLBACK } else { "" },
                if count == 1 { "" } else { "s" },
                start.as_secs_f64(),
                end.as_secs_f64()
            );
            let middle = y + ROW / 2.0;
            let backoff = |out: &mut String, after: &Attempt, until: Duration| {
                let from = after.end.unwrap_or(horizon);
                if until > from {
                    let _ = writeln!(
                        out,
                        "<line class=\"backoff\" x1=\"{:.1}\" y1=\"{middle:.1}\" x2=\"{:.1}\" y2=\"{middle:.1}\" {BACKOFF_STYLE}><title>{name} backoff after attempt {}: {:.3}–{:.3} s</title></line>",
                        x(from),
                        x(until),
                        after.number,
                        from.as_secs_f64(),
                        until.as_secs_f64()
                    );
                }
            };
            for (i, attempt) in span.attempts.iter().enumerate() {
                if let Some(before) = i.checked_sub(1).map(|i| &span.attempts[i]) {
                    backoff(&mut out, before, attempt.start);
                }
                let attempt_end = attempt.end.unwrap_or(horizon);
                let (left, right) = (x(attempt.start), x(attempt_end));
                let bar = (right - left).max(1.0);
                let _ = writeln!(
                    out,
                    "<rect class=\"attempt {}{}\" x=\"{left:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" {} rx=\"3\"><title>{name} attempt {}: {}, {:.3}–{:.3} s</title></rect>",
                    attempt_class(attempt.outcome),
                    if on_path { " critical" } else { "" },
                    y + 4.0,
                    ROW - 8.0,
                    attempt_style(attempt.outcome, on_path),
                    attempt.number,
                    attempt.outcome.as_str(),
                    attempt.start.as_secs_f64(),
                    attempt_end.as_secs_f64()
                );
                // Its number, where the bar has room.
                if bar >= 14.0 {
                    let _ = writeln!(
                        out,
                        "<text class=\"attempt-number\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" stroke=\"white\" stroke-width=\"2\" paint-order=\"stroke\">{}</text>",
                        left + bar / 2.0,
                        y + ROW * 0.6,
                        attempt.number
                    );
                }
            }
            // A run that stopped (or goes on) during a backoff: the backoff up to the end.
            if let Some(last) = span.attempts.last() {
                if matches!(span.outcome, Outcome::Running | Outcome::Cancelled) {
                    backoff(&mut out, last, end);
                }
            }
            out.push_str("</g>\n");
        }
        let axis_y = 10.0 + rows as f64 * ROW + 8.0;
        let _ = writeln!(
            out,
            "<line x1=\"{column}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\" stroke=\"black\"/>",
            width - 20.0
        );
        for tick in 0..=4 {
            let t = Duration::from_secs_f64(scale * f64::from(tick) / 4.0);
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
            "<text x=\"{column:.1}\" y=\"{:.1}\" fill=\"#d62728\">critical path: {}</text>",
            axis_y + 38.0,
            escape_xml(&critical.to_string())
        );
        if legend {
            push_legend(&mut out, column, axis_y + 60.0);
        }
        out.push_str("</svg>\n");
        out
    }
}

/// What the label of a node whose fallback took its place ends with.
const FALLBACK: &str = " (fallback)";

/// The dotted line of a backoff between attempts.
const BACKOFF_STYLE: &str = "stroke=\"#777777\" stroke-width=\"1.5\" stroke-dasharray=\"2 2\"";

/// The Chrome trace event of one attempt of `task` (`name` escaped for JSON), on the node's
/// row: a complete event, or a begin event if it is running.
fn attempt_event(name: &str, task: usize, attempt: &Attempt) -> String {
    let outcome = attempt.outcome.as_str();
    let number = attempt.number;
    let head = format!("\"name\": \"{name} attempt {number}\", \"cat\": \"{outcome}\"");
    let args = format!("{{\"attempt\": {number}, \"outcome\": \"{outcome}\"}}");
    match attempt.end {
        Some(end) => format!(
            "{{{head}, \"ph\": \"X\", \"ts\": {}, \"dur\": {}, \"pid\": 1, \"tid\": {task}, \"args\": {args}}}",
            micros(attempt.start),
            micros(end.saturating_sub(attempt.start)),
        ),
        None => format!(
            "{{{head}, \"ph\": \"B\", \"ts\": {}, \"pid\": 1, \"tid\": {task}, \"args\": {args}}}",
            micros(attempt.start),
        ),
    }
}

/// Writes one gantt task: its text (escaped here), its tags and id, its start and end in
/// milliseconds (at least one: Mermaid draws nothing of an empty task).
fn push_gantt_task(out: &mut String, text: &str, tags: &[&str], start: Duration, end: Duration) {
    let _ = writeln!(
        out,
        "    {} :{}, {}, {}",
        escape_mermaid_task(text),
        tags.join(", "),
        start.as_millis(),
        end.as_millis().max(start.as_millis() + 1)
    );
}

/// Writes one gantt task per attempt of `span` that ended: `recs attempt 1 (timed out)`,
/// `crit` on the critical path, `done` (grey) if it failed or timed out, `active` if it was
/// cancelled; its id `t{task}a{number}`. The last attempt of a node whose fallback took its
/// place says so: `recs attempt 2 (failed, fallback)`.
fn push_gantt_attempts(out: &mut String, span: &Span, on_path: bool) {
    for (i, attempt) in span.attempts.iter().enumerate() {
        let Some(end) = attempt.end else { continue };
        let mut tags = Vec::new();
        if on_path {
            tags.push("crit");
        }
        match attempt.outcome {
            AttemptOutcome::Failed | AttemptOutcome::TimedOut => tags.push("done"),
            AttemptOutcome::Cancelled => tags.push("active"),
            AttemptOutcome::Completed | AttemptOutcome::Running => {}
        }
        let id = format!("t{}a{}", span.task, attempt.number);
        tags.push(&id);
        let last = i + 1 == span.attempts.len();
        let text = format!(
            "{} attempt {} ({}{})",
            span.name,
            attempt.number,
            attempt.outcome.as_str(),
            if span.fell_back && last {
                ", fallback"
            } else {
                ""
            }
        );
        push_gantt_task(out, &text, &tags, attempt.start, end);
    }
}

/// The fill and stroke of a node's bar.
fn bar_style(outcome: Outcome, on_path: bool) -> &'static str {
    match (outcome, on_path) {
        (Outcome::Completed, true) => "fill=\"#d62728\"",
        (Outcome::Completed, false) => "fill=\"#1f77b4\"",
        (Outcome::Failed, true) => {
            "fill=\"url(#dagfut-failed)\" stroke=\"#d62728\" stroke-width=\"2\""
        }
        (Outcome::Failed, false) => "fill=\"url(#dagfut-failed)\" stroke=\"#555555\"",
        (Outcome::Cancelled, _) => {
            "fill=\"white\" stroke=\"#777777\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\""
        }
        _ => "fill=\"#aec7e8\"",
    }
}

/// An attempt's outcome as a class name: `timed-out` for `timed out`.
fn attempt_class(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::TimedOut => "timed-out",
        outcome => outcome.as_str(),
    }
}

/// The fill and stroke of an attempt's bar: as a node's of the same outcome, and a timed-out
/// one orange (outlined red on the critical path).
fn attempt_style(outcome: AttemptOutcome, on_path: bool) -> &'static str {
    match (outcome, on_path) {
        (AttemptOutcome::TimedOut, true) => {
            "fill=\"#ffbb78\" stroke=\"#d62728\" stroke-width=\"2\""
        }
        (AttemptOutcome::TimedOut, false) => {
            "fill=\"#ffbb78\" stroke=\"#ff7f0e\" stroke-width=\"1.5\""
        }
        (AttemptOutcome::Completed, _) => bar_style(Outcome::Completed, on_path),
        (AttemptOutcome::Failed, _) => bar_style(Outcome::Failed, on_path),
        (AttemptOutcome::Cancelled, _) => bar_style(Outcome::Cancelled, on_path),
        (AttemptOutcome::Running, _) => bar_style(Outcome::Running, on_path),
    }
}

/// Writes the legend of the attempts' styles at `(x, y)`.
fn push_legend(out: &mut String, x: f64, y: f64) {
    out.push_str("<g class=\"legend\" font-size=\"11\">\n");
    let swatches = [
        ("completed attempt", bar_style(Outcome::Completed, false)),
        ("failed attempt", bar_style(Outcome::Failed, false)),
        (
            "timed-out attempt",
            attempt_style(AttemptOutcome::TimedOut, false),
        ),
    ];
    let mut left = x;
    for (text, style) in swatches {
        let _ = writeln!(
            out,
            "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" {style} rx=\"2\"/><text x=\"{:.1}\" y=\"{y:.1}\">{text}</text>",
            y - 9.0,
            left + 18.0
        );
        left += 140.0;
    }
    let _ = writeln!(
        out,
        "<line x1=\"{left:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" {BACKOFF_STYLE}/><text x=\"{:.1}\" y=\"{y:.1}\">backoff before a retry</text>",
        y - 4.0,
        left + 14.0,
        y - 4.0,
        left + 18.0
    );
    out.push_str("</g>\n");
}
