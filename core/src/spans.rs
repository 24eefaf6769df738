//! `tracing` spans for a run (the `tracing` feature): one for the run, and one per node,
//! entered around each poll of that node. Off, none of this is compiled.

use alloc::vec::Vec;

use tracing::Span;

use crate::dag::DagCore;

/// The spans of one run.
pub(crate) struct RunSpans {
    run: Span,
    /// Each task's span, from its start until it completes or fails.
    nodes: Vec<Option<Span>>,
}

impl RunSpans {
    /// The run's span, a child of whatever span is current where the run is first polled.
    pub(crate) fn new(core: &DagCore) -> Self {
        let run = tracing::info_span!("dagfut.run", dag = %core.id, tasks = core.tasks.len());
        let mut nodes = Vec::new();
        if !run.is_disabled() {
            nodes.resize_with(core.tasks.len(), || None);
        }
        RunSpans { run, nodes }
    }

    /// The span of `task`, made when it starts: its name (or `task #i`), its index and its
    /// DAG's id as fields, inside the run's span.
    pub(crate) fn node(&mut self, core: &DagCore, task: u32) -> Option<&Span> {
        let slot = self.nodes.get_mut(task as usize)?;
        Some(slot.get_or_insert_with(|| {
            let name = core.names[task as usize].as_deref().unwrap_or("");
            tracing::info_span!(
                parent: &self.run,
                "dagfut.node",
                name,
                task,
                dag = %core.id,
            )
        }))
    }

    /// Closes the span of `task`, which completed or failed.
    pub(crate) fn close(&mut self, task: u32) {
        if let Some(slot) = self.nodes.get_mut(task as usize) {
            *slot = None;
        }
    }

    /// The run's span.
    pub(crate) fn run(&self) -> &Span {
        &self.run
    }
}
