//! Traces on the virtual clock: the critical path against a brute-force longest path,
//! failed, cancelled and skipped spans, a recorder reused; and every export of hostile names
//! read back by a real parser (Python's XML and JSON parsers, Graphviz's `dot`, Mermaid's
//! parser under node), each test skipping with a note when its tool is missing (failing
//! instead when `DAGFUT_REQUIRE_PARSERS` is set). Mermaid's parser is looked for in
//! `$DAGFUT_MERMAID_DIR`, else `target/mermaid-check`:
//! `npm install --prefix target/mermaid-check mermaid@11 jsdom`.

mod support;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dagfut::trace::{Attempt, AttemptOutcome, Outcome, Recorder, Span, Trace};
use dagfut::{Backoff, Clock, DagBuilder, Node};
use support::{Env, block_on, scaled};

struct VirtualClock(support::Clock);

impl Clock for VirtualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.now())
    }
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Sleeps `delay` ms on the virtual clock, then adds its inputs up.
async fn work(delay: &u64, inputs: &[&u32], env: &Env) -> u32 {
    env.clock.sleep(*delay).await;
    inputs.iter().fold(1, |sum, &&n| sum.wrapping_add(n))
}

/// Sleeps `delay` ms, then fails if `fail`.
async fn fallible(delay: &u64, fail: &bool, inputs: &[&u32], env: &Env) -> Result<u32, String> {
    env.clock.sleep(*delay).await;
    if *fail {
        return Err("no".into());
    }
    Ok(inputs.iter().fold(1, |sum, &&n| sum.wrapping_add(n)))
}

/// A DAG of fallible nodes: (name, delay, fails, inputs).
fn fallible_dag(
    env: &Env,
    nodes: &[(&'static str, u64, bool, &[usize])],
) -> dagfut::Dag<(), dagfut::Sendable, String> {
    let b = DagBuilder::<()>::new().with_error::<String>();
    let e = b.add_constant(env.clone());
    let mut handles: Vec<Node<u32>> = Vec::new();
    for &(name, delay, fail, inputs) in nodes {
        let inputs: Vec<Node<u32>> = inputs.iter().map(|&i| handles[i]).collect();
        let node = b.named(name).add_try_node(
            fallible,
            (b.add_constant(delay), b.add_constant(fail), inputs, e),
        );
        handles.push(node);
    }
    b.build()
}

#[test]
fn a_zero_length_sink_ends_the_critical_path() {
    let env = Env::default();
    let b = DagBuilder::<()>::new();
    let e = b.add_constant(env.clone());
    let a = b
        .named("a")
        .add_node(work, (b.add_constant(100), Vec::new(), e));
    b.named("end")
        .add_node(work, (b.add_constant(0), vec![a], e));
    let dag = b.build();
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    block_on(&env.clock, dag.run(&()).with_observer(&mut recorder));
    let critical = recorder.trace().critical_path();
    assert_eq!(critical.names(), ["a", "end"]);
    assert_eq!(critical.length, ms(100));
    assert_eq!(critical.slack, [Some(ms(0)), Some(ms(0))]);
    assert_eq!(critical.to_string(), "a → end (0.100 s)");
}

#[test]
fn ties_take_the_longer_chain() {
    // a (100) → b (0) → c (0), and a → c: c waited for a and b alike; the path takes both.
    let env = Env::default();
    let b = DagBuilder::<()>::new();
    let e = b.add_constant(env.clone());
    let a = b
        .named("a")
        .add_node(work, (b.add_constant(100), Vec::new(), e));
    let bb = b.named("b").add_node(work, (b.add_constant(0), vec![a], e));
    b.named("c")
        .add_node(work, (b.add_constant(0), vec![a, bb], e));
    b.named("d")
        .add_node(work, (b.add_constant(100), Vec::new(), e));
    let dag = b.build();
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    block_on(&env.clock, dag.run(&()).with_observer(&mut recorder));
    let critical = recorder.trace().critical_path();
    assert_eq!(critical.names(), ["a", "b", "c"]);
    assert_eq!(critical.slack, [Some(ms(0)); 4]);
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The longest root-to-sink path through each node, by duration, by enumerating every path.
fn brute_force_longest_through(durations: &[u64], inputs: &[Vec<usize>]) -> Vec<u64> {
    let n = durations.len();
    let mut dependents = vec![Vec::new(); n];
    for (task, inputs) in inputs.iter().enumerate() {
        for &input in inputs {
            dependents[input].push(task);
        }
    }
    let mut through = vec![0; n];
    let mut stack: Vec<Vec<usize>> = (0..n)
        .filter(|&t| inputs[t].is_empty())
        .map(|t| vec![t])
        .collect();
    while let Some(path) = stack.pop() {
        let last = *path.last().unwrap();
        if dependents[last].is_empty() {
            let length: u64 = path.iter().map(|&t| durations[t]).sum();
            for &t in &path {
                through[t] = through[t].max(length);
            }
        }
        for &next in &dependents[last] {
            let mut longer = path.clone();
            longer.push(next);
            stack.push(longer);
        }
    }
    through
}

#[test]
fn the_critical_path_is_a_longest_root_to_sink_path_of_random_dags() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..scaled(200, 4) {
        let env = Env::default();
        let n = 1 + rng.below(12) as usize;
        // Many zero lengths and ties.
        let durations: Vec<u64> = (0..n)
            .map(|_| [0, 0, 10, 20, 30, 50][rng.below(6) as usize])
            .collect();
        let inputs: Vec<Vec<usize>> = (0..n)
            .map(|task| (0..task).filter(|_| rng.below(10) < 3).collect())
            .collect();
        let b = DagBuilder::<()>::new();
        let e = b.add_constant(env.clone());
        let mut nodes: Vec<Node<u32>> = Vec::new();
        for task in 0..n {
            let ins: Vec<Node<u32>> = inputs[task].iter().map(|&i| nodes[i]).collect();
            nodes.push(b.add_node(work, (b.add_constant(durations[task]), ins, e)));
        }
        let dag = b.build();
        let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
        block_on(&env.clock, dag.run(&()).with_observer(&mut recorder));
        let trace = recorder.trace();
        let critical = trace.critical_path();
        let through = brute_force_longest_through(&durations, &inputs);
        let longest = through.iter().copied().max().unwrap();
        let context = format!(
            "round {round}: durations {durations:?}, inputs {inputs:?}, path {:?}",
            critical.tasks
        );
        assert_eq!(critical.length, ms(longest), "{context}");
        let path = &critical.tasks;
        let first = path[0];
        let last = *path.last().unwrap();
        assert!(inputs[first].is_empty(), "starts at a root: {context}");
        assert!(
            inputs.iter().all(|ins| !ins.contains(&last)),
            "ends at a sink: {context}"
        );
        for pair in path.windows(2) {
            assert!(inputs[pair[1]].contains(&pair[0]), "an edge: {context}");
        }
        let length: u64 = path.iter().map(|&t| durations[t]).sum();
        assert_eq!(length, longest, "a longest path: {context}");
        // Slack: how much shorter than the longest path the longest path through it is.
        let slack: Vec<_> = through.iter().map(|&t| Some(ms(longest - t))).collect();
        assert_eq!(critical.slack, slack, "{context}");
    }
}

#[test]
fn failed_nodes_have_no_slack() {
    // Settled: a (100) → b fails at 135; c (200) alone.
    let env = Env::default();
    let dag = fallible_dag(
        &env,
        &[
            ("a", 100, false, &[]),
            ("b", 35, true, &[0]),
            ("c", 200, false, &[]),
        ],
    );
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    let settled = block_on(
        &env.clock,
        dag.run_settled(&()).with_observer(&mut recorder),
    );
    assert_eq!(settled.errors.len(), 1);
    let trace = recorder.trace();
    assert_eq!(trace.spans[1].outcome, Outcome::Failed);
    let critical = trace.critical_path();
    assert_eq!(critical.names(), ["c"]);
    assert_eq!(critical.slack, [Some(ms(65)), None, Some(ms(0))]);

    // Fail-fast: the failure that ends the run is on the critical path, still without slack.
    let env = Env::default();
    let dag = fallible_dag(&env, &[("a", 100, false, &[]), ("b", 35, true, &[0])]);
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    assert!(block_on(&env.clock, dag.try_run(&()).with_observer(&mut recorder)).is_err());
    let critical = recorder.trace().critical_path();
    assert_eq!(critical.names(), ["a", "b"]);
    assert_eq!(critical.slack, [Some(ms(0)), None]);
}

/// A fail-fast run: `fails` fails at 50 ms while `long` runs (cancelled); `quick` completed
/// at 10 ms; `after_long` and `after_fail` never start (skipped).
fn fail_fast_trace() -> Trace {
    let env = Env::default();
    let dag = fallible_dag(
        &env,
        &[
            ("fails", 50, true, &[]),
            ("long", 200, false, &[]),
            ("after_long", 10, false, &[1]),
            ("quick", 10, false, &[]),
            ("after_fail", 10, false, &[0]),
        ],
    );
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    let result = block_on(&env.clock, dag.try_run(&()).with_observer(&mut recorder));
    assert_eq!(result.unwrap_err().name(), Some("fails"));
    recorder.trace()
}

#[test]
fn cancelled_failed_and_skipped_spans_are_marked() {
    let trace = fail_fast_trace();
    let outcomes: Vec<_> = trace
        .spans
        .iter()
        .map(|s| (s.name.as_str(), s.outcome, s.start, s.end))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("fails", Outcome::Failed, Some(ms(0)), Some(ms(50))),
            ("long", Outcome::Cancelled, Some(ms(0)), Some(ms(50))),
            ("after_long", Outcome::Skipped, None, None),
            ("quick", Outcome::Completed, Some(ms(0)), Some(ms(10))),
            ("after_fail", Outcome::Skipped, None, None),
        ]
    );
    assert_eq!((trace.started, trace.ended), (Some(ms(0)), Some(ms(50))));
    let critical = trace.critical_path();
    assert_eq!(critical.names(), ["fails"]);
    assert_eq!(critical.slack, [None, None, None, Some(ms(40)), None]);

    let json = trace.to_chrome_json();
    assert!(json.contains(
        "{\"name\": \"long\", \"cat\": \"cancelled\", \"ph\": \"X\", \"ts\": 0, \"dur\": 50000, \"pid\": 1, \"tid\": 1, \"args\": {\"polls\": 1, \"outcome\": \"cancelled\", \"critical\": false}}"
    ), "{json}");
    assert!(json.contains(
        "{\"name\": \"fails\", \"cat\": \"failed\", \"ph\": \"X\", \"ts\": 0, \"dur\": 50000, \"pid\": 1, \"tid\": 0, \"args\": {\"polls\": 2, \"outcome\": \"failed\", \"critical\": true}}"
    ), "{json}");
    assert!(json.contains(
        "{\"name\": \"after_fail\", \"cat\": \"skipped\", \"ph\": \"i\", \"s\": \"t\", \"ts\": 50000, \"pid\": 1, \"tid\": 4, \"args\": {\"polls\": 0, \"outcome\": \"skipped\", \"critical\": false}}"
    ), "{json}");
    assert!(json.contains("\"cat\": \"completed\""));

    let gantt = trace.to_mermaid_gantt();
    assert!(
        gantt.contains("    fails (failed) :crit, done, t0, 0, 50\n"),
        "{gantt}"
    );
    assert!(
        gantt.contains("    long (cancelled) :active, t1, 0, 50\n"),
        "{gantt}"
    );
    assert!(gantt.contains("    quick :t3, 0, 10\n"), "{gantt}");
    assert!(!gantt.contains("after_"));

    let svg = trace.to_svg();
    assert_eq!(svg.matches("<rect class=\"failed critical\"").count(), 1);
    assert!(svg.contains("fill=\"url(#dagfut-failed)\" stroke=\"#d62728\""));
    assert_eq!(svg.matches("<rect class=\"cancelled\"").count(), 1);
    assert!(svg.contains("stroke-dasharray=\"4 3\""));
    assert_eq!(svg.matches("<rect class=\"completed\"").count(), 1);
    assert_eq!(svg.matches("<text class=\"skipped\"").count(), 2);
    assert!(svg.contains("<title>long: cancelled, 0.000–0.050 s</title>"));
}

#[test]
fn a_running_span_is_open_until_the_run_ends() {
    let env = Env::default();
    let dag = fallible_dag(&env, &[("a", 100, false, &[]), ("b", 10, false, &[0])]);
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    let mut run = dag.try_run(&()).with_observer(&mut recorder);
    let poller = support::Poller::new();
    assert!(poller.poll(&mut run).is_pending());
    drop(run);
    let trace = recorder.trace();
    assert_eq!(trace.spans[0].outcome, Outcome::Running);
    assert_eq!(trace.spans[1].outcome, Outcome::NotStarted);
    assert_eq!(trace.ended, None);
    let json = trace.to_chrome_json();
    assert!(
        json.contains("\"cat\": \"running\", \"ph\": \"B\", \"ts\": 0,"),
        "{json}"
    );
    assert_eq!(json.matches("\"ph\"").count(), 1);
    assert!(trace.to_svg().contains("<rect class=\"running\""));
    assert_eq!(trace.critical_path().tasks, Vec::<usize>::new());
}

#[test]
fn a_recorder_starts_a_new_trace_for_each_run() {
    let env = Env::default();
    let dag = fallible_dag(&env, &[("a", 100, false, &[]), ("b", 50, false, &[0])]);
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    for run in 0..2u64 {
        block_on(&env.clock, dag.try_run(&()).with_observer(&mut recorder)).unwrap();
        let trace = recorder.trace();
        let t0 = ms(150 * run);
        let spans: Vec<_> = trace
            .spans
            .iter()
            .map(|s| (s.start, s.end, s.polls, s.outcome))
            .collect();
        assert_eq!(
            spans,
            [
                (Some(t0), Some(t0 + ms(100)), 2, Outcome::Completed),
                (
                    Some(t0 + ms(100)),
                    Some(t0 + ms(150)),
                    2,
                    Outcome::Completed
                ),
            ],
            "run {run}"
        );
        assert_eq!((trace.started, trace.ended), (Some(t0), Some(t0 + ms(150))));
        assert_eq!(trace.critical_path().names(), ["a", "b"]);
    }
}

// --- Every export of hostile names, read back by a real parser ---

/// Names that break naive exports: markup, quotes, comment and directive syntax, entity
/// codes, keywords, control characters, separators, non-characters.
const HOSTILE: &[&str] = &[
    "",
    "plain",
    "a:b; c",
    "#quot; #35; &amp; &lambda; &#60;",
    "<b>bold</b> ]]> <!-- x -->",
    "say \"hi\" 'there'",
    "back\\slash \\n \\N \\l \\",
    "%% comment",
    "%%{init: {\"theme\": \"dark\"}}%%",
    "# hash",
    "new\nline",
    "cr\rreturn\r\n",
    "tab\tx",
    "nul\0x",
    "\u{1}\u{1b}[31mred\u{7}",
    "del\u{7f} c1\u{85}\u{9f}",
    "ls\u{2028}ps\u{2029}",
    "nonchar\u{FFFE}\u{FFFF}",
    "`md` **bold** _em_",
    "title x",
    "Section y",
    "click z",
    "2024-01-01 date",
    "  lead and trail  ",
    "\u{a0}title",
    "\u{FB02}\u{B0}\u{B0}35\u{B6}\u{DF}",
    "style x:#fff;",
    "classDef c fill:#f00;",
    "end",
    "graph TD",
    "x-->y",
    "[box]{curly}(paren)|pipe|",
    "emoji 🦀 é 中文 \u{202e}rtl \u{2067}isolate\u{200f}",
];

/// A DAG whose nodes have the hostile names, a chain through them, and one unnamed node. In a
/// settled run, the node named `end` fails and its dependents are skipped.
fn hostile_dag(env: &Env) -> dagfut::Dag<(), dagfut::Sendable, String> {
    let b = DagBuilder::<()>::new().with_error::<String>();
    let e = b.add_constant(env.clone());
    let mut handles: Vec<Node<u32>> = Vec::new();
    for (i, &name) in HOSTILE.iter().enumerate() {
        let inputs: Vec<Node<u32>> = if i % 3 == 0 {
            Vec::new()
        } else {
            vec![handles[i - 1]]
        };
        let inputs = (
            b.add_constant(i as u64 * 5),
            b.add_constant(name == "end"),
            inputs,
            e,
        );
        handles.push(b.named(name).add_try_node(fallible, inputs));
    }
    let last = *handles.last().unwrap();
    b.add_try_node(
        fallible,
        (b.add_constant(1), b.add_constant(false), vec![last], e),
    );
    b.build()
}

/// Every name as the exports show it: control characters (and U+2028, U+2029, U+FFFE,
/// U+FFFF, the bidirectional controls) as Rust escapes.
fn visible(name: &str) -> String {
    name.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}')
                || ('\u{202A}'..='\u{202E}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c);
            if c.is_control()
                || bidi
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}')
            {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A label as Mermaid draws it: [`visible`], and an empty one as a space (Mermaid rejects
/// an empty label).
fn mermaid_visible(name: &str) -> String {
    if name.is_empty() {
        " ".to_string()
    } else {
        visible(name)
    }
}

fn labels() -> Vec<String> {
    let mut labels: Vec<String> = HOSTILE.iter().map(|name| name.to_string()).collect();
    labels.push(format!("task #{}", HOSTILE.len()));
    labels
}

/// Notes that a test is skipped for want of a tool; fails it instead if
/// `DAGFUT_REQUIRE_PARSERS` is set (CI, where every tool is installed).
fn skip(why: &str) {
    assert!(
        std::env::var_os("DAGFUT_REQUIRE_PARSERS").is_none(),
        "DAGFUT_REQUIRE_PARSERS is set, but {why}"
    );
    eprintln!("note: skipped: {why}");
}

/// Runs `program args` with `input` on stdin: its stdout, or `None` (with a note) if the
/// program is missing. Panics with its stderr if it fails.
fn run_tool(program: &str, args: &[&str], input: &[u8]) -> Option<String> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            skip(&format!("`{program}` is not available ({error})"));
            return None;
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "`{program}` failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// Parses SVG with Python's `xml.dom.minidom` (well-formedness) and `xml.etree`; prints each
/// `<text>`'s and `<title>`'s content, and for Graphviz's node groups, each node's id and
/// label, as hex UTF-8.
const PY_SVG: &str = r#"
import sys, xml.dom.minidom, xml.etree.ElementTree as ET
data = sys.stdin.buffer.read()
xml.dom.minidom.parseString(data)
root = ET.fromstring(data)
ns = '{http://www.w3.org/2000/svg}'
h = lambda s: (s or '').encode('utf-8').hex()
for el in root.iter():
    tag = el.tag[len(ns):]
    if tag == 'g' and el.get('class') == 'node':
        title = el.find(ns + 'title').text
        label = ''.join(''.join(t.itertext()) for t in el.findall(ns + 'text'))
        print('node', title, h(label))
    elif tag in ('text', 'title'):
        print(tag, h(''.join(el.itertext())))
"#;

/// Parses Chrome trace JSON with Python's `json`: each event's name, category and phase.
const PY_JSON: &str = r#"
import sys, json
for event in json.loads(sys.stdin.buffer.read().decode('utf-8')):
    print(event['name'].encode('utf-8').hex(), event['cat'], event['ph'], event['tid'])
"#;

#[test]
#[cfg_attr(miri, ignore = "runs python3")]
fn the_svg_and_json_of_hostile_names_parse() {
    let env = Env::default();
    let dag = hostile_dag(&env);
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    let settled = block_on(
        &env.clock,
        dag.run_settled(&()).with_observer(&mut recorder),
    );
    assert_eq!(settled.errors.len(), 1);
    let trace = recorder.trace();
    let labels = labels();

    let svg = trace.to_svg();
    let Some(parsed) = run_tool("python3", &["-c", PY_SVG], svg.as_bytes()) else {
        return;
    };
    let texts: BTreeSet<String> = parsed
        .lines()
        .filter_map(|line| line.strip_prefix("text "))
        .map(unhex)
        .collect();
    for label in &labels {
        assert!(texts.contains(&visible(label)), "{label:?} in {texts:?}");
    }
    let titles = parsed
        .lines()
        .filter(|line| line.starts_with("title "))
        .count();
    let ran = trace.spans.iter().filter(|s| s.start.is_some()).count();
    assert_eq!(titles, ran);

    let json = trace.to_chrome_json();
    let parsed = run_tool("python3", &["-c", PY_JSON], json.as_bytes()).unwrap();
    let events: Vec<(String, String)> = parsed
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            (unhex(fields[0]), fields[1].to_string())
        })
        .collect();
    assert_eq!(events.len(), labels.len());
    for (span, (name, category)) in trace.spans.iter().zip(&events) {
        assert_eq!(name, &span.name, "JSON keeps names exactly");
        assert_eq!(category, span.outcome.as_str());
    }
    assert!(events.iter().any(|(_, cat)| cat == "failed"));
    assert!(events.iter().any(|(_, cat)| cat == "skipped"));
}

#[test]
#[cfg_attr(miri, ignore = "runs dot and python3")]
fn the_dot_of_hostile_names_parses() {
    let dag = hostile_dag(&Env::default());
    let dot = dag.to_dot();
    let Some(svg) = run_tool("dot", &["-Tsvg"], dot.as_bytes()) else {
        return;
    };
    let Some(parsed) = run_tool("python3", &["-c", PY_SVG], svg.as_bytes()) else {
        return;
    };
    // Graphviz writes a second space of a run as U+00A0.
    let spaces = |text: &str| text.replace('\u{a0}', " ");
    let nodes: Vec<(String, String)> = parsed
        .lines()
        .filter_map(|line| line.strip_prefix("node "))
        .map(|line| {
            let (id, label) = line.split_once(' ').unwrap();
            (id.to_string(), spaces(&unhex(label)))
        })
        .collect();
    let expected: Vec<(String, String)> = labels()
        .iter()
        .enumerate()
        .map(|(i, label)| (format!("t{i}"), spaces(&visible(label))))
        .collect();
    assert_eq!(nodes, expected);
    let edges = dot.matches(" -> ").count();
    assert_eq!(edges, dag.edge_count());
    assert_eq!(svg.matches("class=\"edge\"").count(), edges);
}

/// Parses Mermaid text with Mermaid's own parser (the `mermaid` package under node, with
/// jsdom for its DOM), and prints the flowchart's vertices and edges, or the gantt's tasks,
/// the text decoded as Mermaid draws it (its entity codes, then HTML entities).
const MERMAID_JS: &str = r#"
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import path from 'node:path';
const [dir, file] = process.argv.slice(2);
const require = createRequire(path.join(dir, 'package.json'));
const { JSDOM } = require('jsdom');
const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
const { default: mermaid } = await import(pathToFileURL(require.resolve('mermaid')).href);
mermaid.initialize({ startOnLoad: false });
const text = readFileSync(file, 'utf8');
const hex = (s) => Buffer.from(s, 'utf8').toString('hex');
const decode = (s) => {
  const area = document.createElement('textarea');
  area.innerHTML = s.replace(/ﬂ°°/g, '&#').replace(/ﬂ°/g, '&').replace(/¶ß/g, ';');
  return area.value;
};
try {
  await mermaid.parse(text);
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db;
  if (db.getVertices) {
    for (const [id, v] of db.getVertices()) console.log('V', id, hex(decode(v.text)));
    for (const e of db.getEdges()) console.log('E', e.start, e.end);
  }
  if (db.getTasks) {
    for (const t of db.getTasks()) {
      const flags = ['crit', 'done', 'active'].filter((f) => t[f]).join(',') || '-';
      console.log('T', t.id, hex(decode(t.task)), t.startTime.getTime(), t.endTime.getTime(), flags);
    }
  }
} catch (error) {
  console.log('ERR', error.message);
  process.exit(1);
}
"#;

/// Where the `mermaid` and `jsdom` packages are: `$DAGFUT_MERMAID_DIR`, or `target/mermaid-check`
/// (`npm install --prefix target/mermaid-check mermaid@11 jsdom`).
fn mermaid_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DAGFUT_MERMAID_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/mermaid-check"),
        PathBuf::from,
    );
    if dir.join("node_modules/mermaid").is_dir() && dir.join("node_modules/jsdom").is_dir() {
        Some(dir)
    } else {
        skip(&format!(
            "no mermaid in {} (npm install --prefix target/mermaid-check mermaid@11 jsdom)",
            dir.display()
        ));
        None
    }
}

/// Mermaid's parse of `text`: its output lines, or `None` with a note.
fn mermaid_parse(text: &str, name: &str) -> Option<Vec<String>> {
    let dir = mermaid_dir()?;
    let scratch =
        std::env::temp_dir().join(format!("dagfut-mermaid-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let script = scratch.join("parse.mjs");
    let input = scratch.join("input.mmd");
    std::fs::write(&script, MERMAID_JS).unwrap();
    std::fs::write(&input, text).unwrap();
    let args = [
        script.to_str().unwrap(),
        dir.to_str().unwrap(),
        input.to_str().unwrap(),
    ];
    let output = run_tool("node", &args, b"");
    let _ = std::fs::remove_dir_all(&scratch);
    Some(output?.lines().map(str::to_string).collect())
}

#[test]
#[cfg_attr(miri, ignore = "runs node")]
fn the_mermaid_flowchart_of_hostile_names_parses() {
    let dag = hostile_dag(&Env::default());
    let text = dag.to_mermaid();
    let Some(lines) = mermaid_parse(&text, "flowchart") else {
        return;
    };
    let vertices: Vec<(String, String)> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("V "))
        .map(|line| {
            let (id, label) = line.split_once(' ').unwrap();
            (id.to_string(), unhex(label))
        })
        .collect();
    let expected: Vec<(String, String)> = labels()
        .iter()
        .enumerate()
        .map(|(i, label)| (format!("t{i}"), mermaid_visible(label)))
        .collect();
    assert_eq!(vertices, expected, "{text}");
    let edges: Vec<&String> = lines.iter().filter(|line| line.starts_with("E ")).collect();
    assert_eq!(edges.len(), dag.edge_count());
    for task in 0..dag.task_count() {
        assert_eq!(dag.task_name(task), HOSTILE.get(task).copied());
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs node")]
fn the_mermaid_gantt_of_hostile_names_parses() {
    let env = Env::default();
    let dag = hostile_dag(&env);
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    block_on(
        &env.clock,
        dag.run_settled(&()).with_observer(&mut recorder),
    );
    let trace = recorder.trace();
    let text = trace.to_mermaid_gantt();
    let Some(lines) = mermaid_parse(&text, "gantt") else {
        return;
    };
    let critical = trace.critical_path();
    let tasks: Vec<Vec<String>> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("T "))
        .map(|line| line.split(' ').map(str::to_string).collect())
        .collect();
    let ran: Vec<_> = trace.spans.iter().filter(|s| s.end.is_some()).collect();
    assert_eq!(tasks.len(), ran.len(), "{text}\n{lines:?}");
    for (task, span) in tasks.iter().zip(ran) {
        let suffix = match span.outcome {
            Outcome::Failed => " (failed)",
            _ => "",
        };
        assert_eq!(task[0], format!("t{}", span.task));
        // The text runs to the `:` before the task's data: one space more.
        assert_eq!(
            unhex(&task[1]),
            format!("{} ", mermaid_visible(&format!("{}{suffix}", span.name))),
            "{text}"
        );
        let (start, end) = (
            span.start.unwrap().as_millis(),
            span.end.unwrap().as_millis(),
        );
        assert_eq!(task[2], start.to_string());
        assert_eq!(task[3], end.max(start + 1).to_string());
        let crit = critical.tasks.contains(&span.task);
        let flags = match (crit, span.outcome) {
            (true, Outcome::Failed) => "crit,done",
            (false, Outcome::Failed) => "done",
            (true, _) => "crit",
            (false, _) => "-",
        };
        assert_eq!(task[4], flags);
    }
}

// --- Nodes with policies: each attempt recorded and drawn ---

/// The virtual clock as the builder's [`Timer`](dagfut::Timer), for timeouts and backoffs.
#[derive(Clone)]
struct VirtualTimer(support::Clock);

impl dagfut::Timer for VirtualTimer {
    type Sleep = support::Sleep;

    fn sleep(&self, duration: Duration) -> support::Sleep {
        self.0.sleep(duration.as_millis() as u64)
    }
}

/// Work that outlasts any timeout here: a timeout always wins the race against it.
const NEVER: u64 = 3_600_000;

/// What each call of a node does, in order: how many ms it works, then whether it fails
/// (more calls repeat the last step).
struct Plan {
    clock: support::Clock,
    steps: Vec<(u64, bool)>,
    calls: AtomicU32,
}

impl Plan {
    fn new(env: &Env, steps: &[(u64, bool)]) -> Arc<Plan> {
        Arc::new(Plan {
            clock: env.clock.clone(),
            steps: steps.to_vec(),
            calls: AtomicU32::new(0),
        })
    }
}

/// The node function of a [`Plan`]: its next step, then its inputs added up.
async fn planned(plan: &Arc<Plan>, inputs: &[&u32]) -> Result<u32, String> {
    let call = plan.calls.fetch_add(1, Ordering::SeqCst) as usize;
    let (delay, fail) = plan.steps[call.min(plan.steps.len() - 1)];
    plan.clock.sleep(delay).await;
    if fail {
        return Err("no".into());
    }
    Ok(inputs.iter().fold(1, |sum, &&n| sum.wrapping_add(n)))
}

/// How a node of [`policy_dag`] behaves.
#[derive(Clone, Copy)]
enum Policy {
    /// No policy: `planned`'s first step.
    Plain,
    /// A 50 ms timeout and up to `retries` retries after 10 ms each.
    Retry(u32),
    /// As `Retry`, and a fallback value.
    RetryOrValue(u32),
}

/// A node of [`policy_dag`]: its name, policy, steps and inputs.
type Planned<'a> = (&'a str, Policy, &'a [(u64, bool)], &'a [usize]);

/// A DAG of planned nodes.
fn policy_dag(env: &Env, nodes: &[Planned<'_>]) -> dagfut::Dag<(), dagfut::Sendable, String> {
    let b = DagBuilder::<()>::new()
        .with_error::<String>()
        .with_timer(VirtualTimer(env.clock.clone()));
    let mut handles: Vec<Node<u32>> = Vec::new();
    for &(name, policy, steps, inputs) in nodes {
        let inputs: Vec<Node<u32>> = inputs.iter().map(|&i| handles[i]).collect();
        let plan = Plan::new(env, steps);
        let named = b.named(name.to_string());
        let node = match policy {
            Policy::Plain => named.add_try_node_with(plan, planned, inputs),
            Policy::Retry(retries) => named
                .timeout(ms(50))
                .retry(retries, Backoff::fixed(ms(10)))
                .add_try_node_with(plan, planned, inputs),
            Policy::RetryOrValue(retries) => named
                .timeout(ms(50))
                .retry(retries, Backoff::fixed(ms(10)))
                .or_value(0)
                .add_try_node_with(plan, planned, inputs),
        };
        handles.push(node);
    }
    b.build()
}

fn attempt(number: u32, start: u64, end: u64, outcome: AttemptOutcome) -> Attempt {
    Attempt {
        number,
        start: ms(start),
        end: Some(ms(end)),
        outcome,
    }
}

/// `recs` times out at 50 ms, backs off 10 ms, and its second attempt completes at 80 ms;
/// `after` waits for it; `quick` has a timeout it never reaches (no attempts recorded).
fn retried_trace() -> Trace {
    let env = Env::default();
    let dag = policy_dag(
        &env,
        &[
            (
                "recs",
                Policy::Retry(2),
                &[(NEVER, false), (20, false)],
                &[],
            ),
            ("after", Policy::Plain, &[(5, false)], &[0]),
            ("quick", Policy::Retry(0), &[(10, false)], &[]),
        ],
    );
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    block_on(&env.clock, dag.try_run(&()).with_observer(&mut recorder)).unwrap();
    recorder.trace()
}

#[test]
fn a_timeout_then_a_retry_is_recorded_and_drawn_attempt_by_attempt() {
    let trace = retried_trace();
    let spans: Vec<_> = trace
        .spans
        .iter()
        .map(|s| (s.name.as_str(), s.outcome, s.start, s.end, s.fell_back))
        .collect();
    assert_eq!(
        spans,
        [
            ("recs", Outcome::Completed, Some(ms(0)), Some(ms(80)), false),
            (
                "after",
                Outcome::Completed,
                Some(ms(80)),
                Some(ms(85)),
                false
            ),
            (
                "quick",
                Outcome::Completed,
                Some(ms(0)),
                Some(ms(10)),
                false
            ),
        ]
    );
    assert_eq!(
        trace.spans[0].attempts,
        [
            attempt(1, 0, 50, AttemptOutcome::TimedOut),
            attempt(2, 60, 80, AttemptOutcome::Completed),
        ]
    );
    assert!(trace.spans[1].attempts.is_empty());
    assert!(trace.spans[2].attempts.is_empty(), "no attempt failed");
    assert_eq!(trace.critical_path().names(), ["recs", "after"]);

    let json = trace.to_chrome_json();
    assert!(json.contains(
        "  {\"name\": \"recs\", \"cat\": \"completed\", \"ph\": \"X\", \"ts\": 0, \"dur\": 80000, \"pid\": 1, \"tid\": 0, \"args\": {\"polls\": 4, \"outcome\": \"completed\", \"critical\": true, \"attempts\": 2}},\n\
         \x20 {\"name\": \"recs attempt 1\", \"cat\": \"timed out\", \"ph\": \"X\", \"ts\": 0, \"dur\": 50000, \"pid\": 1, \"tid\": 0, \"args\": {\"attempt\": 1, \"outcome\": \"timed out\"}},\n\
         \x20 {\"name\": \"recs attempt 2\", \"cat\": \"completed\", \"ph\": \"X\", \"ts\": 60000, \"dur\": 20000, \"pid\": 1, \"tid\": 0, \"args\": {\"attempt\": 2, \"outcome\": \"completed\"}},\n"
    ), "{json}");
    // The others as before.
    assert!(json.contains(
        "{\"name\": \"quick\", \"cat\": \"completed\", \"ph\": \"X\", \"ts\": 0, \"dur\": 10000, \"pid\": 1, \"tid\": 2, \"args\": {\"polls\": 2, \"outcome\": \"completed\", \"critical\": false}}"
    ), "{json}");
    assert_eq!(json.matches("\"ph\": \"X\"").count(), 5);

    let gantt = trace.to_mermaid_gantt();
    assert_eq!(
        gantt,
        "gantt\n    title dagfut run\n    dateFormat x\n    axisFormat %S.%L s\n    section nodes\n\
         \x20   recs attempt 1 (timed out) :crit, done, t0a1, 0, 50\n\
         \x20   recs attempt 2 (completed) :crit, t0a2, 60, 80\n\
         \x20   after :crit, t1, 80, 85\n\
         \x20   quick :t2, 0, 10\n"
    );

    let svg = trace.to_svg();
    // 600 px for 85 ms: recs's attempts at 0–50 and 60–80 ms, the backoff between them.
    let x = |t: f64| 160.0 + t / 85.0 * 580.0;
    assert!(svg.contains(
        "<g class=\"completed critical attempts\"><title>recs: completed, 2 attempts, 0.000–0.080 s</title>\n"
    ), "{svg}");
    assert!(svg.contains(&format!(
        "<rect class=\"attempt timed-out critical\" x=\"160.0\" y=\"14.0\" width=\"{:.1}\" height=\"20.0\" fill=\"#ffbb78\" stroke=\"#d62728\" stroke-width=\"2\" rx=\"3\"><title>recs attempt 1: timed out, 0.000–0.050 s</title></rect>\n",
        x(50.0) - x(0.0)
    )), "{svg}");
    assert!(svg.contains(&format!(
        "<line class=\"backoff\" x1=\"{:.1}\" y1=\"24.0\" x2=\"{:.1}\" y2=\"24.0\" stroke=\"#777777\" stroke-width=\"1.5\" stroke-dasharray=\"2 2\"><title>recs backoff after attempt 1: 0.050–0.060 s</title></line>\n",
        x(50.0),
        x(60.0)
    )), "{svg}");
    assert!(svg.contains(&format!(
        "<rect class=\"attempt completed critical\" x=\"{:.1}\" y=\"14.0\" width=\"{:.1}\" height=\"20.0\" fill=\"#d62728\" rx=\"3\"><title>recs attempt 2: completed, 0.060–0.080 s</title></rect>\n",
        x(60.0),
        x(80.0) - x(60.0)
    )), "{svg}");
    assert_eq!(svg.matches("<text class=\"attempt-number\"").count(), 2);
    assert!(svg.contains(">timed-out attempt</text>"), "the legend");
    // The nodes without attempts, as before.
    assert!(svg.contains("<title>after: completed, 0.080–0.085 s</title>"));
    assert!(svg.contains("<rect class=\"completed\" x=\"160.0\""));
    assert_eq!(svg.matches("<g class=").count(), 2, "recs and the legend");

    check_attempt_exports(&trace);
}

#[test]
fn fallbacks_exhausted_retries_and_cancelled_attempts_are_drawn() {
    // Settled: `flaky` fails twice and falls back; `down` fails three times for good, and
    // `after_down` is skipped.
    let env = Env::default();
    let dag = policy_dag(
        &env,
        &[
            ("flaky", Policy::RetryOrValue(1), &[(5, true)], &[]),
            ("down", Policy::Retry(2), &[(5, true)], &[]),
            ("after_down", Policy::Plain, &[(5, false)], &[1]),
        ],
    );
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    let settled = block_on(
        &env.clock,
        dag.run_settled(&()).with_observer(&mut recorder),
    );
    assert_eq!(settled.errors.len(), 2);
    let trace = recorder.trace();
    let flaky = &trace.spans[0];
    assert!(flaky.fell_back);
    assert_eq!(
        (flaky.outcome, flaky.start, flaky.end),
        (Outcome::Completed, Some(ms(0)), Some(ms(20)))
    );
    assert_eq!(
        flaky.attempts,
        [
            attempt(1, 0, 5, AttemptOutcome::Failed),
            attempt(2, 15, 20, AttemptOutcome::Failed),
        ]
    );
    let down = &trace.spans[1];
    assert!(!down.fell_back);
    assert_eq!(down.outcome, Outcome::Failed);
    assert_eq!(
        down.attempts,
        [
            attempt(1, 0, 5, AttemptOutcome::Failed),
            attempt(2, 15, 20, AttemptOutcome::Failed),
            attempt(3, 30, 35, AttemptOutcome::Failed),
        ]
    );
    assert_eq!(trace.spans[2].outcome, Outcome::Skipped);

    let gantt = trace.to_mermaid_gantt();
    assert!(
        gantt.contains(
            "    flaky attempt 1 (failed) :done, t0a1, 0, 5\n\
             \x20   flaky attempt 2 (failed, fallback) :done, t0a2, 15, 20\n\
             \x20   down attempt 1 (failed) :crit, done, t1a1, 0, 5\n\
             \x20   down attempt 2 (failed) :crit, done, t1a2, 15, 20\n\
             \x20   down attempt 3 (failed) :crit, done, t1a3, 30, 35\n"
        ),
        "{gantt}"
    );
    let svg = trace.to_svg();
    assert!(svg.contains(
        "text-anchor=\"end\">flaky <tspan fill=\"#777777\" font-style=\"italic\">(fallback)</tspan></text>"
    ), "{svg}");
    assert!(svg.contains("<title>flaky: completed (fallback), 2 attempts, 0.000–0.020 s</title>"));
    assert!(svg.contains("<g class=\"failed critical attempts\"><title>down: failed, 3 attempts, 0.000–0.035 s</title>"));
    assert_eq!(svg.matches("<rect class=\"attempt failed\"").count(), 2);
    assert_eq!(
        svg.matches("<rect class=\"attempt failed critical\"")
            .count(),
        3
    );
    assert_eq!(svg.matches("<line class=\"backoff\"").count(), 3);
    let json = trace.to_chrome_json();
    assert!(json.contains("\"critical\": false, \"attempts\": 2, \"fell_back\": true}"));
    assert!(json.contains(
        "{\"name\": \"down attempt 3\", \"cat\": \"failed\", \"ph\": \"X\", \"ts\": 30000, \"dur\": 5000, \"pid\": 1, \"tid\": 1, \"args\": {\"attempt\": 3, \"outcome\": \"failed\"}}"
    ), "{json}");
    check_attempt_exports(&trace);

    // Fail-fast: `boom` fails at 70 ms, during `recs`'s second attempt (cancelled), and at
    // 55 ms during `slow`'s backoff (the run stops before its retry).
    for (stop, attempts) in [
        (
            70,
            vec![
                attempt(1, 0, 50, AttemptOutcome::TimedOut),
                attempt(2, 60, 70, AttemptOutcome::Cancelled),
            ],
        ),
        (55, vec![attempt(1, 0, 50, AttemptOutcome::TimedOut)]),
    ] {
        let env = Env::default();
        let dag = policy_dag(
            &env,
            &[
                ("recs", Policy::Retry(2), &[(NEVER, false)], &[]),
                ("boom", Policy::Plain, &[(stop, true)], &[]),
            ],
        );
        let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
        let error = block_on(&env.clock, dag.try_run(&()).with_observer(&mut recorder));
        assert_eq!(error.unwrap_err().name(), Some("boom"));
        let trace = recorder.trace();
        let recs = &trace.spans[0];
        assert_eq!(
            (recs.outcome, recs.end),
            (Outcome::Cancelled, Some(ms(stop)))
        );
        assert_eq!(recs.attempts, attempts, "stopped at {stop} ms");
        let svg = trace.to_svg();
        assert!(svg.contains("<g class=\"cancelled attempts\">"), "{svg}");
        let gantt = trace.to_mermaid_gantt();
        if stop == 70 {
            assert!(svg.contains("<title>recs attempt 2: cancelled, 0.060–0.070 s</title>"));
            assert!(svg.contains("<title>recs backoff after attempt 1: 0.050–0.060 s</title>"));
            assert!(
                gantt.contains("    recs attempt 2 (cancelled) :active, t0a2, 60, 70\n"),
                "{gantt}"
            );
        } else {
            // The backoff the run cut short, up to its end.
            assert!(svg.contains("<title>recs backoff after attempt 1: 0.050–0.055 s</title>"));
            assert!(!gantt.contains("attempt 2"), "{gantt}");
        }
        check_attempt_exports(&trace);
    }
}

/// A clock the test sets, in milliseconds.
#[derive(Clone, Default)]
struct HandClock(Arc<AtomicU32>);

impl HandClock {
    fn set(&self, ms: u32) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for HandClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst).into())
    }
}

#[test]
fn a_running_attempt_is_open_in_every_rendering() {
    // The events of a run dropped during `recs`'s second attempt, fed by hand.
    use dagfut::{NodeEvent, Observer};
    let env = Env::default();
    let dag = policy_dag(&env, &[("recs", Policy::Retry(2), &[(NEVER, false)], &[])]);
    let clock = HandClock::default();
    let mut recorder = Recorder::new(&dag, clock.clone());
    recorder.on_poll_start();
    recorder.on_event(0, NodeEvent::Started);
    recorder.on_event(0, NodeEvent::Pending);
    recorder.on_poll_end(false);
    clock.set(50);
    recorder.on_poll_start();
    recorder.on_event(0, NodeEvent::TimedOut { attempt: 1 });
    recorder.on_event(0, NodeEvent::Pending);
    recorder.on_poll_end(false);
    clock.set(60);
    recorder.on_poll_start();
    recorder.on_event(0, NodeEvent::Retrying { attempt: 2 });
    recorder.on_event(0, NodeEvent::Pending);
    recorder.on_poll_end(false);
    let trace = recorder.trace();
    let recs = &trace.spans[0];
    assert_eq!((recs.outcome, recs.end), (Outcome::Running, None));
    assert_eq!(
        recs.attempts,
        [
            attempt(1, 0, 50, AttemptOutcome::TimedOut),
            Attempt {
                number: 2,
                start: ms(60),
                end: None,
                outcome: AttemptOutcome::Running
            },
        ]
    );
    let json = trace.to_chrome_json();
    assert!(json.contains(
        "{\"name\": \"recs attempt 2\", \"cat\": \"running\", \"ph\": \"B\", \"ts\": 60000, \"pid\": 1, \"tid\": 0, \"args\": {\"attempt\": 2, \"outcome\": \"running\"}}"
    ), "{json}");
    assert_eq!(
        json.matches("\"ph\": \"B\"").count(),
        2,
        "recs and its attempt"
    );
    let gantt = trace.to_mermaid_gantt();
    assert!(
        gantt.ends_with("    recs attempt 1 (timed out) :done, t0a1, 0, 50\n"),
        "{gantt}"
    );
    // The picture runs to the last time recorded: attempt 2's start.
    let svg = trace.to_svg();
    assert!(
        svg.contains("<rect class=\"attempt running\" x=\"740.0\" y=\"14.0\" width=\"1.0\""),
        "{svg}"
    );
    assert!(svg.contains("<title>recs attempt 1: timed out, 0.000–0.050 s</title>"));
    assert!(svg.contains("<title>recs backoff after attempt 1: 0.050–0.060 s</title>"));
    check_attempt_exports(&trace);
}

#[test]
fn a_trace_without_attempts_renders_byte_for_byte_as_before() {
    // Pinned from the renderings before attempts were drawn.
    let trace = fail_fast_trace();
    assert_eq!(
        trace.to_chrome_json(),
        include_str!("pinned/fail_fast.json")
    );
    assert_eq!(
        trace.to_mermaid_gantt(),
        include_str!("pinned/fail_fast.mmd")
    );
    assert_eq!(trace.to_svg(), include_str!("pinned/fail_fast.svg"));
    for text in [
        trace.to_chrome_json(),
        trace.to_mermaid_gantt(),
        trace.to_svg(),
    ] {
        assert!(!text.contains("attempt") && !text.contains("fallback"));
        assert!(!text.contains("legend") && !text.contains("backoff"));
    }
}

/// The node and attempt texts each rendering holds: `(name, attempt number, outcome, start,
/// end)` per attempt that ended.
fn ended_attempts(trace: &Trace) -> Vec<(&Span, &Attempt, Duration)> {
    trace
        .spans
        .iter()
        .flat_map(|span| {
            span.attempts
                .iter()
                .filter_map(move |attempt| Some((span, attempt, attempt.end?)))
        })
        .collect()
}

/// Parses Chrome trace JSON with Python's `json`: each event's name, category, phase, row,
/// and `args.attempt` (or `-`).
const PY_JSON_ATTEMPTS: &str = r#"
import sys, json
for event in json.loads(sys.stdin.buffer.read().decode('utf-8')):
    h = lambda s: s.encode('utf-8').hex()
    print(h(event['name']), h(event['cat']), event['ph'], event['tid'], event['args'].get('attempt', '-'))
"#;

/// Reads `trace`'s three renderings back with the real parsers (Python's XML and JSON
/// parsers, Mermaid's), and checks that each holds each attempt.
fn check_attempt_exports(trace: &Trace) {
    if cfg!(miri) {
        // Miri runs no program.
        return;
    }
    let critical = trace.critical_path();

    // SVG: well-formed; every label; a title per plain node, per node with attempts, per
    // attempt and per backoff, each attempt's naming it.
    let svg = trace.to_svg();
    let Some(parsed) = run_tool("python3", &["-c", PY_SVG], svg.as_bytes()) else {
        return;
    };
    let texts: BTreeSet<String> = parsed
        .lines()
        .filter_map(|line| line.strip_prefix("text "))
        .map(unhex)
        .collect();
    let titles: Vec<String> = parsed
        .lines()
        .filter_map(|line| line.strip_prefix("title "))
        .map(unhex)
        .collect();
    for span in &trace.spans {
        let fallback = if span.fell_back { " (fallback)" } else { "" };
        let label = format!("{}{fallback}", visible(&span.name));
        assert!(texts.contains(&label), "{label:?} in {texts:?}");
    }
    let backoffs = svg.matches("<line class=\"backoff\"").count();
    let expected_titles: usize = trace
        .spans
        .iter()
        .filter(|span| span.start.is_some())
        .map(|span| 1 + span.attempts.len())
        .sum();
    assert_eq!(titles.len(), expected_titles + backoffs, "{titles:?}");
    for (span, attempt, end) in ended_attempts(trace) {
        let title = format!(
            "{} attempt {}: {}, {:.3}–{:.3} s",
            visible(&span.name),
            attempt.number,
            attempt.outcome.as_str(),
            attempt.start.as_secs_f64(),
            end.as_secs_f64()
        );
        assert!(titles.contains(&title), "{title:?} in {titles:?}");
    }

    // Chrome JSON: each node's event, then one per attempt, on its row.
    let json = trace.to_chrome_json();
    let parsed = run_tool("python3", &["-c", PY_JSON_ATTEMPTS], json.as_bytes()).unwrap();
    let events: Vec<(String, String, String, String)> = parsed
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            (
                unhex(fields[0]),
                unhex(fields[1]),
                fields[3].to_string(),
                fields[4].to_string(),
            )
        })
        .collect();
    let mut expected = Vec::new();
    for span in &trace.spans {
        if span.start.is_none() && span.outcome != Outcome::Skipped {
            continue;
        }
        let task = span.task.to_string();
        expected.push((
            span.name.clone(),
            span.outcome.as_str().to_string(),
            task.clone(),
            "-".to_string(),
        ));
        for attempt in &span.attempts {
            expected.push((
                format!("{} attempt {}", span.name, attempt.number),
                attempt.outcome.as_str().to_string(),
                task.clone(),
                attempt.number.to_string(),
            ));
        }
    }
    assert_eq!(events, expected, "{json}");

    // Mermaid: one task per attempt that ended, each with its number and outcome.
    let text = trace.to_mermaid_gantt();
    // A scratch directory of its own: tests run at once.
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let call = CALLS.fetch_add(1, Ordering::SeqCst);
    let Some(lines) = mermaid_parse(&text, &format!("attempts-{call}")) else {
        return;
    };
    let tasks: Vec<Vec<String>> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("T "))
        .map(|line| line.split(' ').map(str::to_string).collect())
        .collect();
    let mut expected = Vec::new();
    for span in &trace.spans {
        let crit = critical.tasks.contains(&span.task);
        if span.attempts.is_empty() {
            let (Some(start), Some(end)) = (span.start, span.end) else {
                continue;
            };
            let (suffix, flag) = match span.outcome {
                Outcome::Failed => (" (failed)", Some("done")),
                Outcome::Cancelled => (" (cancelled)", Some("active")),
                _ => ("", None),
            };
            expected.push((
                format!("t{}", span.task),
                format!("{}{suffix}", span.name),
                start,
                end,
                crit,
                flag,
            ));
            continue;
        }
        for (i, attempt) in span.attempts.iter().enumerate() {
            let Some(end) = attempt.end else { continue };
            let fallback = span.fell_back && i + 1 == span.attempts.len();
            let flag = match attempt.outcome {
                AttemptOutcome::Failed | AttemptOutcome::TimedOut => Some("done"),
                AttemptOutcome::Cancelled => Some("active"),
                _ => None,
            };
            expected.push((
                format!("t{}a{}", span.task, attempt.number),
                format!(
                    "{} attempt {} ({}{})",
                    span.name,
                    attempt.number,
                    attempt.outcome.as_str(),
                    if fallback { ", fallback" } else { "" }
                ),
                attempt.start,
                end,
                crit,
                flag,
            ));
        }
    }
    assert_eq!(tasks.len(), expected.len(), "{text}\n{lines:?}");
    for (task, (id, label, start, end, crit, flag)) in tasks.iter().zip(expected) {
        assert_eq!(task[0], id, "{text}");
        // The text runs to the `:` before the task's data: one space more.
        assert_eq!(unhex(&task[1]), format!("{} ", mermaid_visible(&label)));
        let (start, end) = (start.as_millis(), end.as_millis());
        assert_eq!(task[2], start.to_string());
        assert_eq!(task[3], end.max(start + 1).to_string());
        let flags: Vec<&str> = crit.then_some("crit").into_iter().chain(flag).collect();
        let flags = if flags.is_empty() {
            "-".to_string()
        } else {
            flags.join(",")
        };
        assert_eq!(task[4], flags, "{label}");
    }
}

/// The hostile names again, each node with a policy: the first of every four times out once
/// then completes, the second fails twice and falls back, the third fails three times for
/// good (its chain's rest is skipped), the fourth completes at once (no attempts).
#[test]
#[cfg_attr(miri, ignore = "runs python3 and node")]
fn the_attempts_of_hostile_names_parse_in_every_export() {
    let env = Env::default();
    let inputs: Vec<Vec<usize>> = (0..HOSTILE.len())
        .map(|i| if i % 3 == 0 { Vec::new() } else { vec![i - 1] })
        .collect();
    let nodes: Vec<Planned<'_>> = HOSTILE
        .iter()
        .zip(&inputs)
        .enumerate()
        .map(|(i, (&name, inputs))| {
            let (policy, steps): (Policy, &[(u64, bool)]) = match i % 4 {
                0 => (Policy::Retry(1), &[(NEVER, false), (5, false)]),
                1 => (Policy::RetryOrValue(1), &[(5, true)]),
                2 => (Policy::Retry(2), &[(5, true)]),
                _ => (Policy::Retry(1), &[(5, false)]),
            };
            (name, policy, steps, inputs.as_slice())
        })
        .collect();
    let dag = policy_dag(&env, &nodes);
    let mut recorder = Recorder::new(&dag, VirtualClock(env.clock.clone()));
    block_on(
        &env.clock,
        dag.run_settled(&()).with_observer(&mut recorder),
    );
    let trace = recorder.trace();
    let with = |test: fn(&Span) -> bool| trace.spans.iter().filter(|s| test(s)).count();
    assert!(with(|s| s.fell_back) >= 3);
    assert!(with(|s| s.outcome == Outcome::Failed && !s.attempts.is_empty()) >= 3);
    assert!(with(|s| s.outcome == Outcome::Skipped) >= 3);
    assert!(
        with(|s| s
            .attempts
            .iter()
            .any(|a| a.outcome == AttemptOutcome::TimedOut))
            >= 3
    );
    assert!(with(|s| s.outcome == Outcome::Completed && s.attempts.is_empty()) >= 3);
    check_attempt_exports(&trace);
}
