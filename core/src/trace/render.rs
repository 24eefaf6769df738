//! The pictures of a trace: Chrome trace-event JSON, a Mermaid gantt chart, an SVG Gantt.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;
use core::time::Duration;

use super::record::{Outcome, Span, Trace};
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

/// The latest time the trace shows: the last start or end, or the run's end.
fn horizon(trace: &Trace) -> Duration {
    trace
        .spans
        .iter()
        .flat_map(|span| [span.start, span.end])
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
            let args = format!(
                "{{\"polls\": {}, \"outcome\": \"{outcome}\", \"critical\": {}}}",
                span.polls,
                critical.tasks.contains(&task)
            );
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
    /// Names are escaped for Mermaid: whatever they hold, each is one task's text.
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
            let _ = writeln!(
                out,
                "    {} :{}, {}, {}",
                escape_mermaid_task(&text),
                tags.join(", "),
                start.as_millis(),
                end.as_millis().max(start.as_millis() + 1)
            );
        }
        out
    }

    /// The trace as an SVG Gantt picture: one row per node, a bar from start to end, and a
    /// time axis. Each bar's `class` is its outcome (and `critical` on the critical path):
    /// completed nodes are blue, red on the critical path; failed ones hatched grey (outlined
    /// red on the critical path); cancelled ones dashed outlines; running ones pale blue up to
    /// the last time recorded. A skipped node's row says `skipped`.
    ///
    /// The SVG is well-formed XML whatever the names hold: markup is escaped, and characters
    /// XML cannot hold (control characters) are written as Rust escapes (`\u{1b}`).
    pub fn to_svg(&self) -> String {
        const ROW: f64 = 28.0;
        // The names' column: wide enough for the longest (about 7 px a character), within
        // bounds; then 600 px of time.
        let longest = self
            .spans
            .iter()
            .map(|span| visible(&span.name).chars().count());
        let column = (16 + 7 * longest.max().unwrap_or(0)).clamp(160, 480) as f64;
        let width = column + 600.0;
        let critical = self.critical_path();
        let horizon = horizon(self);
        let scale = horizon.as_secs_f64().max(1e-9);
        let rows = self.spans.len();
        let height = ROW * rows as f64 + 70.0;
        let x = |t: Duration| column + t.as_secs_f64() / scale * (width - column - 20.0);
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <defs><pattern id=\"dagfut-failed\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#bbbbbb\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#555555\" stroke-width=\"3\"/></pattern></defs>\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        for (row, span) in self.spans.iter().enumerate() {
            let y = 10.0 + row as f64 * ROW;
            let name = escape_xml(&span.name);
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{name}</text>",
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
            let _ = writeln!(
                out,
                "<rect class=\"{}{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" {} rx=\"3\"><title>{name}: {}, {:.3}–{:.3} s</title></rect>",
                span.outcome.as_str(),
                if on_path { " critical" } else { "" },
                x(start),
                y + 4.0,
                (x(end) - x(start)).max(1.0),
                ROW - 8.0,
                bar_style(span, on_path),
                span.outcome.as_str(),
                start.as_secs_f64(),
                end.as_secs_f64()
            );
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
        out.push_str("</svg>\n");
        out
    }
}

/// The fill and stroke of a span's bar.
fn bar_style(span: &Span, on_path: bool) -> &'static str {
    match (span.outcome, on_path) {
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
