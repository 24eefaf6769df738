//! The run's arena of task slots and the state of each task.
//!
//! One allocation per run holds every task's slot (its future, then its output), laid out when
//! the DAG was built. Next to it, one `u32` per task says what the slot holds:
//!
//! | state                  | the task is…                         | the slot holds |
//! |------------------------|--------------------------------------|----------------|
//! | `1..=MAX_INPUT_EDGES`  | waiting for that many input edges     | nothing        |
//! | `0`                    | ready: its inputs are all done        | nothing        |
//! | `RUNNING`              | started                               | its future     |
//! | `DONE`                 | completed                             | its output     |
//! | `VACANT`               | taken out, or lost to a panicking drop| nothing        |
//! | `FAILED`               | failed, panicked, or skipped after one| nothing        |
//!
//! Everything that depends on that table — starting a task only once its inputs are done,
//! reading an output only when it is there, dropping each value exactly once — lives here.

use alloc::alloc::{alloc, dealloc, handle_alloc_error};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll};

use crate::dag::DagCore;
use crate::error::OutputError;
use crate::node::{Node, Slot};
use crate::ready::ReadyQueue;
use crate::task::{Completion, Resolver};

/// Started: the slot holds the future.
pub(crate) const RUNNING: u32 = u32::MAX;
/// Completed: the slot holds the output.
pub(crate) const DONE: u32 = u32::MAX - 1;
/// The slot holds nothing and never will again.
pub(crate) const VACANT: u32 = u32::MAX - 2;
/// The task failed, or depends on one that did: it holds nothing and never will.
pub(crate) const FAILED: u32 = u32::MAX - 3;
/// The most input edges a task may have (the states above are not counts).
pub(crate) const MAX_INPUT_EDGES: u32 = u32::MAX - 4;

/// The values of one run: task slots and their states, the parameter and the DAG's constants.
pub(crate) struct Slots<'a> {
    core: &'a DagCore,
    param: *const (),
    arena: NonNull<u8>,
    states: Box<[u32]>,
    /// The next task whose value `Drop` will drop (so a panicking drop resumes after it).
    drop_cursor: usize,
}

impl<'a> Slots<'a> {
    /// The arena of a new run of `core` with the parameter `param` (which the caller keeps
    /// borrowed for `'a`). Each task waits for its input edges.
    pub(crate) fn new<P>(core: &'a DagCore, param: &'a P) -> Self {
        let layout = core.arena;
        let arena = if layout.size() == 0 {
            // Zero-sized slots need only an aligned, non-null address.
            NonNull::new(ptr::without_provenance_mut(layout.align())).expect("align is non-zero")
        } else {
            // SAFETY: the layout has a non-zero size.
            let arena = unsafe { alloc(layout) };
            NonNull::new(arena).unwrap_or_else(|| handle_alloc_error(layout))
        };
        Slots {
            core,
            param: (param as *const P).cast(),
            arena,
            states: core.in_degree.clone(),
            drop_cursor: 0,
        }
    }

    /// The DAG these slots belong to.
    pub(crate) fn dag_id(&self) -> crate::node::DagId {
        self.core.id
    }

    /// Whether `task` is ready to start (its next poll starts it).
    pub(crate) fn is_ready(&self, task: u32) -> bool {
        // `get`, not indexing: no panic path, so without an observer the check compiles away.
        self.states.get(task as usize) == Some(&0)
    }

    /// How many tasks have the state `state` (for `Debug`).
    pub(crate) fn count(&self, state: u32) -> usize {
        self.states.iter().filter(|&&s| s == state).count()
    }

    fn slot_ptr(&self, task: u32) -> *mut u8 {
        // `wrapping_add` keeps this safe; the offset lies inside the arena (`DagCore::new`).
        self.arena
            .as_ptr()
            .wrapping_add(self.core.offsets[task as usize])
    }

    /// Starts `task` if it is ready, then polls it. When it completes, its value is in its
    /// slot and every dependent whose inputs are now all done is pushed on `ready`; when it
    /// fails, its error is in `error_sink` and its dependents never become ready.
    ///
    /// # Panics
    /// If `task` was neither ready nor running (a scheduler bug), or if the node panics.
    ///
    /// # Safety
    /// `error_sink` points to an `Option<E>`, `E` the error type of the `Dag` this run belongs
    /// to (all its fallible nodes fail with an `E`: `DagBuilder::add_try_node`).
    pub(crate) unsafe fn poll_task(
        &mut self,
        task: u32,
        cx: &mut Context<'_>,
        ready: &mut ReadyQueue,
        error_sink: *mut (),
    ) -> Poll<Completion> {
        let erased = &*self.core.tasks[task as usize];
        let slot = self.slot_ptr(task);
        let poll = match self.states[task as usize] {
            0 => {
                let inputs = Resolver {
                    arena: self.arena.as_ptr(),
                    offsets: &self.core.offsets,
                    constants: &self.core.constants,
                    param: self.param,
                };
                // SAFETY: state 0 means every task input has completed (each completion
                // counts down its dependents once per edge, below), so each source is a live
                // output, a constant of the DAG or the parameter; outputs are never moved or
                // written while the run lives, and constants and the parameter outlive `'a`.
                // The slot is free: the task never started. The sink is as the caller
                // guarantees.
                unsafe {
                    erased.start_and_poll(
                        slot,
                        &inputs,
                        &mut self.states[task as usize],
                        error_sink,
                        cx,
                    )
                }
            }
            // SAFETY: RUNNING: the slot holds the future `start` wrote; the sink is as the
            // caller guarantees.
            RUNNING => unsafe {
                erased.poll(slot, &mut self.states[task as usize], error_sink, cx)
            },
            state => unreachable!("dagfut: task {task} polled in state {state:#x}"),
        };
        if let Poll::Ready(Completion::Failed) = poll {
            self.states[task as usize] = FAILED;
        }
        if let Poll::Ready(Completion::Done) = poll {
            let core = self.core;
            let start = core.dependents_start[task as usize] as usize;
            let end = core.dependents_start[task as usize + 1] as usize;
            for &dependent in &core.dependents[start..end] {
                let remaining = &mut self.states[dependent as usize];
                if *remaining == FAILED {
                    // Skipped already, because another of its inputs failed.
                    continue;
                }
                debug_assert!((1..=MAX_INPUT_EDGES).contains(remaining));
                *remaining -= 1;
                if *remaining == 0 {
                    ready.push(dependent);
                }
            }
        }
        poll
    }

    /// Marks every task that depends, directly or not, on the failed `task` as never to run
    /// (state `FAILED`), and returns how many there were. Iterative: no recursion on depth.
    pub(crate) fn skip_dependents_of(&mut self, task: u32, scratch: &mut VecDeque<u32>) -> usize {
        let core = self.core;
        let mut skipped = 0;
        scratch.clear();
        scratch.push_back(task);
        while let Some(failed) = scratch.pop_front() {
            let start = core.dependents_start[failed as usize] as usize;
            let end = core.dependents_start[failed as usize + 1] as usize;
            for &dependent in &core.dependents[start..end] {
                let state = &mut self.states[dependent as usize];
                // A dependent of a failed task never started: its counter cannot reach zero.
                if *state != FAILED {
                    debug_assert!((1..=MAX_INPUT_EDGES).contains(state));
                    *state = FAILED;
                    skipped += 1;
                    scratch.push_back(dependent);
                }
            }
        }
        skipped
    }

    /// Gives up on `task` after its poll (or start) panicked: drops its future if it has one.
    /// Afterwards it holds nothing and its dependents never start.
    #[cfg(feature = "std")]
    pub(crate) fn abandon(&mut self, task: u32) {
        let state = core::mem::replace(&mut self.states[task as usize], FAILED);
        if state == RUNNING {
            let slot = self.slot_ptr(task);
            // SAFETY: RUNNING: the slot holds the future (a future whose poll panicked is still
            // a valid value to drop); it is FAILED from now on.
            unsafe { self.core.tasks[task as usize].drop_future(slot) };
        }
    }

    fn value_ptr<T>(&self, node: &Node<T>) -> Result<*const u8, OutputError> {
        let Some(slot) = node.slot_in(self.core.id) else {
            return Err(OutputError::ForeignNode {
                node: node.id(),
                outputs: self.core.id,
            });
        };
        match slot {
            Slot::Param => Ok(self.param.cast()),
            Slot::Constant(index) => Ok(self.core.constants[index as usize].as_ptr()),
            Slot::Task(task) => match self.states[task as usize] {
                DONE => Ok(self.slot_ptr(task).cast_const()),
                VACANT => Err(OutputError::Taken { node: node.id() }),
                _ => Err(OutputError::NotCompleted { node: node.id() }),
            },
        }
    }

    /// The value of `node`, if it belongs to this DAG and is there.
    pub(crate) fn get<T>(&self, node: &Node<T>) -> Result<&T, OutputError> {
        let value = self.value_ptr(node)?;
        // SAFETY: `node` belongs to this DAG (checked by `value_ptr`), and this DAG's builder
        // made it with `T` the type of the value at that place: the parameter (`Node<P>`), the
        // constant it stored, or the task's output, which is there (state DONE). Nothing
        // mutates it while `&self` is borrowed.
        Ok(unsafe { &*value.cast::<T>() })
    }

    /// Moves the output of task `node` out; its slot is empty afterwards.
    pub(crate) fn take<T>(&mut self, node: &Node<T>) -> Result<T, OutputError> {
        let value = self.value_ptr(node)?;
        let Slot::Task(task) = node.id.slot else {
            return Err(OutputError::NotOwned { node: node.id() });
        };
        self.states[task as usize] = VACANT;
        // SAFETY: as in `get`, `value` is the task's output of type `T`; its state is now
        // VACANT, so it is read out exactly once and never dropped in place.
        Ok(unsafe { value.cast::<T>().read() })
    }

    /// Drops every future and output still in the arena, each once.
    fn drop_values(&mut self) {
        while let Some(&state) = self.states.get(self.drop_cursor) {
            let task = self.drop_cursor;
            self.drop_cursor += 1;
            self.states[task] = VACANT;
            let slot = self.slot_ptr(task as u32);
            match state {
                // SAFETY: RUNNING: the slot holds the future; it is VACANT from now on.
                RUNNING => unsafe { self.core.tasks[task].drop_future(slot) },
                // SAFETY: DONE: the slot holds the output; it is VACANT from now on.
                DONE if self.core.outputs_need_drop => unsafe {
                    self.core.tasks[task].drop_output(slot)
                },
                _ => {}
            }
        }
    }
}

impl Drop for Slots<'_> {
    fn drop(&mut self) {
        /// Finishes the job if a value's `Drop` panics: the remaining values are dropped and
        /// the arena freed while unwinding (a second panic aborts, as for `Vec`).
        struct Finish<'s, 'a>(&'s mut Slots<'a>);
        impl Drop for Finish<'_, '_> {
            fn drop(&mut self) {
                let slots = &mut *self.0;
                slots.drop_values();
                let layout = slots.core.arena;
                if layout.size() != 0 {
                    // SAFETY: the arena was allocated in `new` with this layout and every
                    // value in it has been dropped or moved out.
                    unsafe { dealloc(slots.arena.as_ptr(), layout) };
                }
            }
        }
        Finish(self).0.drop_values();
    }
}
