//! The graph as text: Mermaid (`graph TD`, as the seed's README draws it) and Graphviz DOT;
//! and the escaping every text export of the crate shares (the traces' too).
//!
//! A node's name is any string. Each export shows it as the same *visible text*
//! ([`visible`]): characters that no format can hold or show (control characters, line and
//! paragraph separators, the non-characters U+FFFE and U+FFFF) become Rust escapes such as
//! `\n` or `\u{1b}`; then each format escapes that text by its own rules, so that a name can
//! neither break the output's syntax nor be read as markup.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::dag::DagCore;
use crate::node::Slot;

/// Whether `c` is shown as a Rust escape (see [`visible`]).
fn is_hidden(c: char) -> bool {
    // Line and paragraph separators; U+FFFE and U+FFFF, not characters (XML forbids them);
    // the bidirectional controls, which would reorder the text after the name.
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}')
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` as every export shows it: control characters (C0, DEL, C1: XML 1.0 cannot hold
/// most of them, and the others break lines), U+2028, U+2029, U+FFFE, U+FFFF and the
/// bidirectional controls (which would reorder what follows the name) as Rust escapes (`\n`,
/// `\0`, `\u{1b}`, `\u{202e}`); the rest as it is.
pub(crate) fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) {
            let _ = write!(out, "{}", c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` as XML character data or a quoted attribute value: [`visible`], then `&`, `<`, `>`,
/// `"` and `'` as entities. The result is well-formed XML 1.0 whatever `text` is.
#[cfg(any(feature = "std", test))] // for the traces
pub(crate) fn escape_xml(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` inside a DOT double-quoted string: [`visible`], then `\` and `"` escaped with a
/// backslash (so Graphviz's `\n`, `\N`, `\l` escapes cannot appear) and `&` as `&amp;`
/// (Graphviz reads HTML entities such as `&lambda;` in every label).
pub(crate) fn escape_dot(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether Mermaid text may hold `c` as it is: ASCII letters, digits, space and punctuation
/// that no Mermaid rule gives a meaning inside a label or a task's text, and non-ASCII
/// characters but the four that Mermaid's entity encoding uses as markers (`ﬂ°¶ß`).
fn mermaid_plain(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || " _-.,/!?+*=@$^~'()[]".contains(c)
    } else {
        !matches!(c, '\u{FB02}' | '\u{B0}' | '\u{B6}' | '\u{DF}')
    }
}

/// Writes `c` as a Mermaid entity code: `#35;` for `#`.
fn push_entity(out: &mut String, c: char) {
    let _ = write!(out, "#{};", u32::from(c));
}

/// Whether JavaScript's `trim` removes `c` (Mermaid trims labels).
fn js_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{FEFF}'
}

/// Writes visible `text` for Mermaid: plain characters as they are, the others as entity
/// codes, and so are white space at either end, which Mermaid would trim.
fn push_mermaid(out: &mut String, text: &str) {
    let start = text.len() - text.trim_start_matches(js_space).len();
    let inner = text[start..].trim_end_matches(js_space);
    let (head, tail) = (&text[..start], &text[start + inner.len()..]);
    head.chars().for_each(|c| push_entity(out, c));
    for c in inner.chars() {
        if mermaid_plain(c) {
            out.push(c);
        } else {
            push_entity(out, c);
        }
    }
    tail.chars().for_each(|c| push_entity(out, c));
}

/// `text` as Mermaid shows it in a flowchart label (inside `["…"]`): [`visible`], then every
/// character outside a plain set as a numeric entity code (`#35;` for `#`, `#34;` for `"`),
/// which Mermaid decodes when it draws. So no `"`, `:`, `;`, `#`, `%%` (comments,
/// `%%{init}%%` directives), `<b>` (HTML), backtick (Markdown strings) or `#quot;` (an entity
/// code) in a name means anything to Mermaid. An empty text is `#32;`, a space: Mermaid
/// rejects an empty label.
pub(crate) fn escape_mermaid(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    if text.is_empty() {
        push_entity(&mut out, ' ');
    }
    push_mermaid(&mut out, &text);
    out
}

/// The words that Mermaid's gantt lexer reads as statements at the start of a line (lower
/// case; the lexer ignores case; `acc` stands for `accTitle`, `accDescr`, `accDescription`).
#[cfg(any(feature = "std", test))] // for the traces
const GANTT_KEYWORDS: [&str; 17] = [
    "acc",
    "axisformat",
    "call",
    "click",
    "dateformat",
    "excludes",
    "gantt",
    "href",
    "includes",
    "inclusiveenddates",
    "section",
    "tickinterval",
    "title",
    "todaymarker",
    "topaxis",
    "weekday",
    "weekend",
];

/// `text` as a Mermaid gantt task's text: as [`escape_mermaid`], and the first character an
/// entity code too when the line would otherwise start with a gantt keyword (`title`,
/// `section`, `click`, …) or a digit (a date), which the lexer would take for a statement.
#[cfg(any(feature = "std", test))] // for the traces
pub(crate) fn escape_mermaid_task(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    match text.chars().next() {
        None => push_entity(&mut out, ' '),
        Some(first)
            if first.is_ascii_digit()
                || GANTT_KEYWORDS
                    .iter()
                    .any(|word| text.to_ascii_lowercase().starts_with(word)) =>
        {
            push_entity(&mut out, first);
            rest = &text[first.len_utf8()..];
        }
        Some(_) => {}
    }
    push_mermaid(&mut out, rest);
    out
}

impl DagCore {
    /// Each task's label: its name, or `task #i`.
    pub(crate) fn label(&self, task: usize) -> Cow<'_, str> {
        match &self.names[task] {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("task #{task}")),
        }
    }

    /// The task inputs of `task`, each once, in order of first use.
    pub(crate) fn task_inputs(&self, task: usize) -> Vec<usize> {
        let mut inputs: Vec<usize> = Vec::new();
        for source in self.tasks[task].sources() {
            if let Slot::Task(input) = *source {
                if !inputs.contains(&(input as usize)) {
                    inputs.push(input as usize);
                }
            }
        }
        inputs
    }

    pub(crate) fn to_mermaid(&self) -> String {
        let mut out = String::from("graph TD;\n");
        for task in 0..self.tasks.len() {
            let label = escape_mermaid(&self.label(task));
            let _ = writeln!(out, "    t{task}[\"{label}\"];");
        }
        for task in 0..self.tasks.len() {
            for input in self.task_inputs(task) {
                let _ = writeln!(out, "    t{input}-->t{task};");
            }
        }
        out
    }

    pub(crate) fn to_dot(&self) -> String {
        let mut out = String::from("digraph dag {\n");
        for task in 0..self.tasks.len() {
            let label = escape_dot(&self.label(task));
            let _ = writeln!(out, "    t{task} [label=\"{label}\"];");
        }
        for task in 0..self.tasks.len() {
            for input in self.task_inputs(task) {
                let _ = writeln!(out, "    t{input} -> t{task};");
            }
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_escapes_what_no_format_can_hold() {
        assert_eq!(visible("plain é ✓"), "plain é ✓");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        assert_eq!(
            visible("a\nb\tc\0d\u{1}e\u{1b}f\u{7f}g\u{85}h\u{2028}i\u{FFFF}j\u{202e}k\u{2067}"),
            "a\\nb\\tc\\0d\\u{1}e\\u{1b}f\\u{7f}g\\u{85}h\\u{2028}i\\u{ffff}j\\u{202e}k\\u{2067}"
        );
    }

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(
            escape_xml("<b>&\"'\u{1}"),
            "&lt;b&gt;&amp;&quot;&#39;\\u{1}"
        );
    }

    #[test]
    fn dot_escapes_quotes_backslashes_and_entities() {
        assert_eq!(
            escape_dot("a\"b\\n&lambda;\0"),
            "a\\\"b\\\\n&amp;lambda;\\\\0"
        );
    }

    // Mermaid's own grammar rules, as in mermaid 11 (`encodeEntities`, the flowchart and gantt
    // lexers): `core/tests/trace.rs` checks the output with Mermaid's parser when it can.
    #[test]
    fn mermaid_text_holds_no_character_mermaid_reads() {
        let hostile = "a:b;c#d%%e\"f<b>g`h#quot;i[j]k{l}m|n(o)\u{FB02}\u{B0}\u{B6}\u{DF}\n";
        let escaped = escape_mermaid(hostile);
        assert_eq!(
            escaped,
            "a#58;b#59;c#35;d#37;#37;e#34;f#60;b#62;g#96;h#35;quot#59;i[j]k#123;l#125;m#124;n(o)#64258;#176;#182;#223;#92;n"
        );
        // What remains is either plain or an entity code `#digits;`.
        let mut rest = escaped.as_str();
        while let Some(at) = rest.find('#') {
            let code = &rest[at + 1..];
            let end = code.find(';').expect("an entity ends with `;`");
            assert!(code[..end].chars().all(|c| c.is_ascii_digit()));
            rest = &code[end + 1..];
        }
        assert!(!escaped.contains(['"', ':', '%', '<', '>', '`', '\n']));
        assert_eq!(escape_mermaid(""), "#32;");
        assert_eq!(escape_mermaid("  "), "#32;#32;");
        assert_eq!(escape_mermaid(" a b "), "#32;a b#32;");
        assert_eq!(escape_mermaid("fast_task_a"), "fast_task_a");
    }

    #[test]
    fn gantt_task_text_never_starts_a_statement() {
        assert_eq!(escape_mermaid_task("fast_task_a"), "fast_task_a");
        assert_eq!(escape_mermaid_task("title x"), "#116;itle x");
        assert_eq!(escape_mermaid_task("Section"), "#83;ection");
        assert_eq!(escape_mermaid_task("click"), "#99;lick");
        assert_eq!(escape_mermaid_task("2024-01-01 x"), "#50;024-01-01 x");
        assert_eq!(escape_mermaid_task(" x "), "#32;x#32;");
        assert_eq!(escape_mermaid_task("\u{a0}title"), "#160;title");
        assert_eq!(escape_mermaid_task("t"), "t");
        assert_eq!(escape_mermaid_task("%"), "#37;");
        assert_eq!(escape_mermaid_task(""), "#32;");
    }
}
