//! The graph as text: Mermaid (`graph TD`, as the seed's README draws it) and Graphviz DOT.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::dag::DagCore;
use crate::node::Slot;

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
            let label = self.label(task).replace('"', "#quot;");
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
            let label = self.label(task).replace('\\', "\\\\").replace('"', "\\\"");
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
