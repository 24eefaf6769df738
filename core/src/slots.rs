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
//!
//! # Invariants (each `unsafe` block below relies on them)
//!
//! - **Who writes a state.** Only the methods of [`Slots`], on the run's thread (`&mut self`),
//!   and the task's own vtable calls (`start_and_poll`, `poll`), which this module hands the
//!   task's state word. Wakers never touch states: a wake only queues an index.
//! - **Transitions.** waiting `n` → `n - 1` (an input completed: `release_dependents`, once per
//!   edge); `0` → `RUNNING` (started: the future is written first); `RUNNING` → `VACANT` (its
//!   future is being dropped after `Ready`) → `DONE` (the output is written) or `FAILED` (an
//!   error); waiting → `FAILED` (skipped: `skip_dependents_of`); any → `FAILED` after a caught
//!   panic (`abandon`, which drops what the slot held first); `DONE` → `VACANT` (taken, or
//!   dropped). Nothing else: a started task's state is never overwritten by a failure, and a
//!   count is never decremented out of a non-waiting state (both panic instead).
//! - **Stale wakes.** A task is polled only in state `0` or `RUNNING`; in any other state
//!   `poll_task` does nothing, so a wake that arrives after the task completed, failed or was
//!   skipped (legal for any future: `select!` wakes a branch it then drops) is ignored.
//! - **Borrows.** A running future may hold references to the outputs of its inputs (state
//!   `DONE`, never moved or written while it lives), to constants and to the parameter. So
//!   every future is dropped before any output: the run drops its futures in one pass and its
//!   outputs in a second; an output is only moved out (`take`) through `Outputs`, which exist
//!   once no future is left.
//! - **Drops.** Each value is dropped exactly once: its state leaves `RUNNING` or `DONE`
//!   before its drop runs, so a drop that panics is never repeated, and the drop passes resume
//!   after it (their cursors) while unwinding.

use alloc::alloc::{alloc_zeroed, dealloc, handle_alloc_error};
use alloc::collections::VecDeque;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll};

use crate::cache::Ticket;
use crate::dag::DagCore;
use crate::error::OutputError;
use crate::node::{Node, Slot};
use crate::policy::News;
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

/// A shared borrow for `'a`, kept as a raw pointer: a value that holds it (a run, its outputs)
/// may be the one whose drop frees the borrowed value last (an owned run keeps an `Arc` of its
/// DAG beside it), and a reference field would assert, for as long as such a value is passed
/// by value, that its target stays allocated.
pub(crate) struct Lent<'a, T>(NonNull<T>, PhantomData<&'a T>);

impl<'a, T> Lent<'a, T> {
    pub(crate) fn new(value: &'a T) -> Self {
        Lent(NonNull::from(value), PhantomData)
    }

    /// The borrowed value.
    #[inline]
    pub(crate) fn get(self) -> &'a T {
        // SAFETY: made from a `&'a T`: the value lives and is not written for `'a` (for an
        // owned run, `'a` stands for "as long as the `Arc`s kept beside this", which outlive
        // every use: `owned.rs`).
        unsafe { self.0.as_ref() }
    }
}

impl<T> Clone for Lent<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Lent<'_, T> {}

/// What the node polls of one poll of a run share: where a starting task finds its inputs
/// (all but its own sources, set per task by [`Slots::poll_task`]), and the events of a
/// node's policy.
pub(crate) struct Polling<'a> {
    inputs: Resolver<'a>,
    /// The events of the last node polled (none without policies); the run passes them on.
    pub(crate) news: News,
}

/// The values of one run: task slots and their states, the parameter and the DAG's constants.
pub(crate) struct Slots<'a> {
    core: Lent<'a, DagCore>,
    param: *const (),
    /// The run block (`DagCore::block`): the arena at its start, every pointer into it
    /// derived from this one.
    block: NonNull<u8>,
    /// The states, `len` of them, inside the block (at `DagCore::states_at`).
    states: NonNull<u32>,
    len: usize,
    /// The right to put the block back in the DAG's cache.
    ticket: Ticket,
    /// The next task whose future `Drop` will drop: futures go first, all of them, so that no
    /// future outlives an output it may borrow (a guard reading its input in its `Drop`).
    /// `len` once none is left. A panicking drop resumes after it.
    future_cursor: u32,
    /// The next task whose output `Drop` will drop, once every future is gone.
    output_cursor: u32,
}

impl<'a> Slots<'a> {
    /// The arena of a new run of `core` with the parameter `param` (which the caller keeps
    /// borrowed for `'a`). Each task waits for its input edges.
    #[inline]
    pub(crate) fn new<P>(core: &'a DagCore, param: &'a P) -> Self {
        let layout = core.block;
        let (block, ticket) = if layout.size() == 0 {
            // Zero-sized: no task, no slot; only an aligned, non-null address is needed.
            let dangling = ptr::without_provenance_mut(layout.align());
            (
                NonNull::new(dangling).expect("align is non-zero"),
                Ticket::NONE,
            )
        } else {
            match core.cache.block.take() {
                // The block a run before left, holding no value (`Drop` below).
                (Some(block), ticket) => (block, ticket),
                (None, ticket) => {
                    // Zeroed: the ready queue reads its bitmap before writing it (the states
                    // are written below, the queue's list before it is read).
                    // SAFETY: the layout has a non-zero size.
                    let block = unsafe { alloc_zeroed(layout) };
                    (
                        NonNull::new(block).unwrap_or_else(|| handle_alloc_error(layout)),
                        ticket,
                    )
                }
            }
        };
        let len = core.in_degree.len();
        // In the block (`DagCore::block` puts `len` states at `states_at`, aligned for `u32`),
        // or dangling and aligned for an empty DAG.
        let states = block.as_ptr().wrapping_add(core.states_at).cast::<u32>();
        let states = NonNull::new(states).expect("inside a non-null block");
        // SAFETY: `len` states fit at `states_at`, aligned, in the block, which this run owns
        // alone; `in_degree` is a different allocation.
        unsafe { ptr::copy_nonoverlapping(core.in_degree.as_ptr(), states.as_ptr(), len) };
        Slots {
            core: Lent::new(core),
            param: (param as *const P).cast(),
            block,
            states,
            len,
            ticket,
            future_cursor: 0,
            output_cursor: 0,
        }
    }

    /// What the node polls of one poll of the run share ([`poll_task`](Self::poll_task)).
    #[inline]
    pub(crate) fn polling(&self) -> Polling<'a> {
        let core = self.core.get();
        Polling {
            inputs: Resolver {
                arena: self.block.as_ptr(),
                sources: &[],
                constants: &core.constants,
                param: self.param,
                states: self.states.as_ptr().cast_const(),
            },
            news: News::new(),
        }
    }

    /// Notes that the run completed: every task completed, failed or was skipped, so no
    /// future is left, and dropping the slots skips the pass over the futures (a ready run's
    /// teardown reads no state when its outputs need no drop).
    #[inline]
    pub(crate) fn completed(&mut self) {
        debug_assert!(
            !self.states().contains(&RUNNING),
            "a completed run has no future left"
        );
        self.future_cursor = self.len as u32;
    }

    /// The ready queue's buffer in the run block: `ready::buffer_len(tasks)` words, its
    /// bitmap clear (a fresh block is zeroed, and every batch clears what it set).
    #[inline]
    pub(crate) fn ready_buffer(&self) -> NonNull<u32> {
        let buffer = self.block.as_ptr().wrapping_add(self.core.get().ready_at);
        NonNull::new(buffer.cast()).expect("inside a non-null block")
    }

    /// The task states.
    #[inline(always)]
    fn states(&self) -> &[u32] {
        // SAFETY: `len` initialised states at `states` (`new`), in the block this run owns;
        // written only through `&mut self` (`states_mut`, or the raw pointers of `poll_task`
        // and `release_dependents`), so never while this slice lives.
        unsafe { core::slice::from_raw_parts(self.states.as_ptr(), self.len) }
    }

    /// The task states, to write.
    #[inline(always)]
    fn states_mut(&mut self) -> &mut [u32] {
        // SAFETY: as in `states`; `&mut self` makes this the only access.
        unsafe { core::slice::from_raw_parts_mut(self.states.as_ptr(), self.len) }
    }

    /// The DAG these slots belong to.
    pub(crate) fn dag_id(&self) -> crate::node::DagId {
        self.core.get().id
    }

    /// Whether `task` is ready to start (its next poll starts it).
    pub(crate) fn is_ready(&self, task: u32) -> bool {
        // `get`, not indexing: no panic path, so without an observer the check compiles away.
        self.states().get(task as usize) == Some(&0)
    }

    /// How many tasks have the state `state` (for `Debug`).
    pub(crate) fn count(&self, state: u32) -> usize {
        self.states().iter().filter(|&&s| s == state).count()
    }

    fn slot_ptr(&self, task: u32) -> *mut u8 {
        // `wrapping_add` keeps this safe; the offset lies inside the arena (`DagCore::new`).
        self.block
            .as_ptr()
            .wrapping_add(self.core.get().records[task as usize].offset)
    }

    /// Whether `task` has started and not finished: its future is in its slot.
    pub(crate) fn is_running(&self, task: u32) -> bool {
        // `get`, not indexing, for the same reason as `is_ready`.
        self.states().get(task as usize) == Some(&RUNNING)
    }

    /// Starts `task` if it is ready, then polls it, or does nothing if it is neither ready
    /// nor running (`None`): a stale wake of a task that completed, failed or was skipped, or
    /// whose start or poll panicked. When it completes its value is in its slot (call
    /// [`release_dependents`](Self::release_dependents) next); when it fails its error is in
    /// `error_sink`, and its state is `FAILED`. The events of its policy, if it has one, go to
    /// `news`.
    ///
    /// Only the node's own code runs here (its function, its future's `poll` and `Drop`), so a
    /// caller that catches a panic out of it knows the state is `0` (the function panicked),
    /// `RUNNING` (the poll did) or `VACANT` (the future's drop did): see [`abandon`](Self::abandon).
    ///
    /// # Safety
    /// `error_sink` points to a `Sink<E>`, `E` the error type of the `Dag` this run belongs
    /// to: its fallible nodes fail with an `E`, or, if added before `with_error`, with
    /// `Infallible`, which never writes (see `Mode`). `polling` was made by these slots'
    /// [`polling`](Self::polling): its inputs point into this run's block.
    #[inline(always)]
    pub(crate) unsafe fn poll_task(
        &mut self,
        task: u32,
        cx: &mut Context<'_>,
        error_sink: *mut (),
        polling: &mut Polling<'a>,
    ) -> Option<Poll<Completion>> {
        let index = task as usize;
        if index >= self.len {
            return None;
        }
        let core = self.core.get();
        // SAFETY: `index < len`, the DAG's task count (`new`), which is also the length of
        // `tasks` and `records` (`DagCore::check_tables`).
        let (erased, record) = unsafe {
            (
                &**core.tasks.get_unchecked(index),
                *core.records.get_unchecked(index),
            )
        };
        // `wrapping_add` keeps this safe; the offset lies inside the arena (`DagCore::new`).
        let slot = self.block.as_ptr().wrapping_add(record.offset);
        // One raw pointer for every state: the task's own, written below through `state`, and
        // the others, which an optional input reads as the task starts (`Resolver::states`).
        let states = self.states.as_ptr();
        // SAFETY: `index` is in bounds (checked above); no other reference to this state exists
        // while `state` lives (the others are only read through `states`).
        let state = unsafe { &mut *states.add(index) };
        let poll = match *state {
            0 => {
                let (start, end) = record.sources;
                // SAFETY: a record's range lies inside `sources` (`DagCore::check_tables`).
                polling.inputs.sources =
                    unsafe { core.sources.get_unchecked(start as usize..end as usize) };
                let (inputs, news) = (&polling.inputs, &mut polling.news);
                // SAFETY: state 0 means every task input has settled (each completion counts
                // down its dependents once per edge, in `release_dependents`, and a failure
                // only those that take it as optional, in `skip_dependents_of`), so each
                // source is a live output (state `DONE`), a constant of the DAG or the
                // parameter, or, for an optional source only, a task that failed or was
                // skipped, which `Resolver::resolve_optional` reads as `None`. Outputs are never
                // moved or written while a future lives: `take` needs `Outputs`, which exist
                // only once no future is left, and `drop_values` drops every future before any
                // output. Constants and the parameter outlive `'a`. The slot is free: the task
                // never started. The states are not written while it starts, but its own. The
                // sources are this task's, resolved when the DAG was built
                // (`DagCore::sources`), set just above; the rest of the inputs point into this
                // run's block, as the caller guarantees, and so is the sink.
                unsafe {
                    erased.start_and_poll(slot, inputs, state, error_sink, news, cx)
                }
            }
            // SAFETY: RUNNING: the slot holds the future `start` wrote; the sink is as the
            // caller guarantees.
            RUNNING => unsafe { erased.poll(slot, state, error_sink, &mut polling.news, cx) },
            // A stale wake: nothing to poll.
            _ => return None,
        };
        if let Poll::Ready(Completion::Failed) = poll {
            *state = FAILED;
        }
        Some(poll)
    }

    /// Counts down the inputs of every dependent of `task`, which just completed, once per
    /// edge, and pushes those whose inputs are now all done on `ready`.
    ///
    /// # Panics
    /// If a dependent is neither waiting nor skipped (it would mean a task completed twice);
    /// the state is never changed then.
    #[inline(always)]
    pub(crate) fn release_dependents(&mut self, task: u32, ready: &mut ReadyQueue) {
        let core = self.core.get();
        let (start, end) = core.records[task as usize].dependents;
        // SAFETY: a record's range lies inside `dependents` (`DagCore::check_tables`).
        let dependents = unsafe { core.dependents.get_unchecked(start as usize..end as usize) };
        let states = self.states.as_ptr();
        for &dependent in dependents {
            // SAFETY: a dependent is a task (`DagCore::check_tables`), below `len`, the number
            // of states (`new`); `&mut self` makes this the only access to the states.
            let remaining = unsafe { &mut *states.add(dependent as usize) };
            match *remaining {
                // Skipped already, because another of its inputs failed.
                FAILED => {}
                1..=MAX_INPUT_EDGES => {
                    *remaining -= 1;
                    if *remaining == 0 {
                        ready.push(dependent);
                    }
                }
                state => broken_state(dependent, state, task),
            }
        }
    }

    /// Settles the dependents of the failed `task`: one that takes it as an optional input
    /// counts it down as settled (and is pushed on `ready` once its inputs are all settled);
    /// every other one, and, the same way, the dependents of each, is marked as never to run
    /// (state `FAILED`). Returns how many were skipped. Iterative: no recursion on depth.
    pub(crate) fn skip_dependents_of(
        &mut self,
        task: u32,
        ready: &mut ReadyQueue,
        scratch: &mut VecDeque<u32>,
    ) -> usize {
        let core = self.core.get();
        let mut skipped = 0;
        scratch.clear();
        scratch.push_back(task);
        while let Some(failed) = scratch.pop_front() {
            let (start, end) = core.records[failed as usize].dependents;
            for edge in start as usize..end as usize {
                let dependent = core.dependents[edge];
                let optional = core.optional_edges.get(edge) == Some(&true);
                let state = &mut self.states_mut()[dependent as usize];
                match *state {
                    FAILED => {}
                    // It runs without this input: one edge fewer to wait for.
                    1..=MAX_INPUT_EDGES if optional => {
                        *state -= 1;
                        if *state == 0 {
                            ready.push(dependent);
                        }
                    }
                    // A dependent of a task that did not complete is still waiting for it.
                    1..=MAX_INPUT_EDGES => {
                        *state = FAILED;
                        skipped += 1;
                        scratch.push_back(dependent);
                    }
                    // Never overwrite a started task's state: its future or output would be
                    // lost (never dropped, freed under a pinned future).
                    state => panic!(
                        "dagfut: task {dependent} in state {state:#x} although its input {failed} failed"
                    ),
                }
            }
        }
        skipped
    }

    /// Gives up on `task` after a panic out of [`poll_task`](Self::poll_task): drops what its
    /// slot holds, if anything. Afterwards it is `FAILED` (so a late wake is ignored and its
    /// dependents never start), even if that drop panics too.
    #[cfg(feature = "std")]
    pub(crate) fn abandon(&mut self, task: u32) {
        let state = core::mem::replace(&mut self.states_mut()[task as usize], FAILED);
        let slot = self.slot_ptr(task);
        let erased = &self.core.get().tasks[task as usize];
        match state {
            // SAFETY: RUNNING: the slot holds the future (a future whose poll panicked is still
            // a valid value to drop); it is FAILED from now on, so it is dropped once.
            RUNNING => unsafe { erased.drop_future(slot) },
            // `poll_task` never panics after writing an output; if it did, the output is
            // dropped rather than leaked.
            // SAFETY: DONE: the slot holds the output; it is FAILED from now on.
            DONE => unsafe { erased.drop_output(slot) },
            // Waiting, ready (the function panicked before a future existed), VACANT (the
            // future's drop panicked) or FAILED: nothing to drop.
            _ => {}
        }
    }

    fn value_ptr<T>(&self, node: &Node<T>) -> Result<*const u8, OutputError> {
        let Some(slot) = node.slot_in(self.core.get().id) else {
            return Err(OutputError::ForeignNode {
                node: node.id(),
                outputs: self.core.get().id,
            });
        };
        match slot {
            Slot::Param => Ok(self.param.cast()),
            Slot::Constant(index) => Ok(self.core.get().constants[index as usize].as_ptr()),
            Slot::Task(task) => match self.states()[task as usize] {
                DONE => Ok(self.slot_ptr(task).cast_const()),
                VACANT => Err(OutputError::Taken { node: node.id() }),
                _ => Err(OutputError::NotCompleted { node: node.id() }),
            },
        }
    }

    /// The value of `node`, if it belongs to this DAG and is there. Inlined for the common
    /// case, a completed task's output; the rest (the parameter, a constant, an error) is not.
    #[inline]
    pub(crate) fn get<T>(&self, node: &Node<T>) -> Result<&T, OutputError> {
        if let Some(Slot::Task(task)) = node.slot_in(self.core.get().id) {
            if self.states().get(task as usize) == Some(&DONE) {
                // SAFETY: as in `get_other`, for a task's output that is there (state DONE).
                return Ok(unsafe { &*self.slot_ptr(task).cast_const().cast::<T>() });
            }
        }
        self.get_other(node)
    }

    /// [`get`](Self::get) for all but a completed task's output.
    #[inline(never)]
    fn get_other<T>(&self, node: &Node<T>) -> Result<&T, OutputError> {
        let value = self.value_ptr(node)?;
        // SAFETY: `node` belongs to this DAG (checked by `value_ptr`; ids are never reused).
        // Handles have no public constructor: this DAG's builder made it, with `T` the type of
        // the value at that place — the parameter (`Node<P>`, the `P` of this run), the
        // constant it stored, or the task's output, which is there (state DONE). `Node<T>` and
        // the builder are invariant in their types, so `T` cannot have been re-typed with
        // another lifetime since. Nothing mutates the value while `&self` is borrowed.
        Ok(unsafe { &*value.cast::<T>() })
    }

    /// Whether [`take`](Self::take) would succeed.
    pub(crate) fn take_check<T>(&self, node: &Node<T>) -> Result<u32, OutputError> {
        self.value_ptr(node)?;
        match node.id.slot {
            Slot::Task(task) => Ok(task),
            Slot::Param | Slot::Constant(_) => Err(OutputError::NotOwned { node: node.id() }),
        }
    }

    /// Moves the output of task `node` out; its slot is empty afterwards.
    pub(crate) fn take<T>(&mut self, node: &Node<T>) -> Result<T, OutputError> {
        let task = self.take_check(node)?;
        let value = self.value_ptr(node)?;
        self.states_mut()[task as usize] = VACANT;
        // SAFETY: as in `get`, `value` is the task's output of type `T`; its state is now
        // VACANT, so it is read out exactly once and never dropped in place.
        Ok(unsafe { value.cast::<T>().read() })
    }

    /// Drops every future still in the arena, then every output, each once: a future may
    /// borrow any output (its inputs), never the other way round.
    fn drop_values(&mut self) {
        while let Some(&state) = self.states().get(self.future_cursor as usize) {
            let task = self.future_cursor as usize;
            self.future_cursor += 1;
            if state == RUNNING {
                self.states_mut()[task] = VACANT;
                // SAFETY: RUNNING: the slot holds the future; it is VACANT from now on.
                unsafe { self.core.get().tasks[task].drop_future(self.slot_ptr(task as u32)) };
            }
        }
        if !self.core.get().outputs_need_drop {
            return;
        }
        while let Some(&state) = self.states().get(self.output_cursor as usize) {
            let task = self.output_cursor as usize;
            self.output_cursor += 1;
            if state == DONE {
                self.states_mut()[task] = VACANT;
                // SAFETY: DONE: the slot holds the output, and no future is left that could
                // borrow it (the pass above); it is VACANT from now on.
                unsafe { self.core.get().tasks[task].drop_output(self.slot_ptr(task as u32)) };
            }
        }
    }
}

/// The panic of a dependent found neither waiting nor skipped when its input `task`
/// completed (it would mean a task completed twice). Out of line: the loop it guards is hot.
#[cold]
#[inline(never)]
fn broken_state(dependent: u32, state: u32, task: u32) -> ! {
    panic!("dagfut: task {dependent} in state {state:#x} while its input {task} completed")
}

impl Drop for Slots<'_> {
    #[inline]
    fn drop(&mut self) {
        // A completed run whose outputs need no drop has nothing to drop (the common end of
        // a run, checked inline): the block only goes back.
        if self.future_cursor as usize >= self.len && !self.core.get().outputs_need_drop {
            self.leave_block();
        } else {
            self.drop_all();
        }
    }
}

impl Slots<'_> {
    /// `Drop`'s work when a value may be left: drops every value, then leaves the block.
    #[inline(never)]
    fn drop_all(&mut self) {
        /// Finishes the job if a value's `Drop` panics: the remaining values are dropped and
        /// the block freed or kept while unwinding (a second panic aborts, as for `Vec`).
        /// Disarmed (`None`) once every value is dropped.
        struct Finish<'s, 'a>(Option<&'s mut Slots<'a>>);
        impl Drop for Finish<'_, '_> {
            fn drop(&mut self) {
                if let Some(slots) = self.0.take() {
                    slots.drop_values();
                    slots.leave_block();
                }
            }
        }
        let mut finish = Finish(Some(self));
        if let Some(slots) = finish.0.as_deref_mut() {
            slots.drop_values();
        }
        // Nothing panicked: the rest needs no guard.
        if let Some(slots) = finish.0.take() {
            slots.leave_block();
        }
    }
}

impl Slots<'_> {
    /// Leaves the run block to the next run of the DAG (every value in it has been dropped or
    /// moved out: `drop_values`), or frees it.
    fn leave_block(&mut self) {
        let core = self.core.get();
        let layout = core.block;
        let ticket = core::mem::replace(&mut self.ticket, Ticket::NONE);
        if layout.size() != 0 {
            if let Err(block) = core.cache.block.leave(ticket, self.block) {
                // SAFETY: the block was allocated with this layout (`new`), and holds no value.
                unsafe { dealloc(block.as_ptr(), layout) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use core::task::Waker;

    use super::*;
    use crate::DagBuilder;

    async fn one(_: &()) -> u32 {
        1
    }

    async fn inc(n: &u32) -> u32 {
        n + 1
    }

    /// A chain `first → second`, and its slots for one run.
    fn chain() -> crate::Dag<()> {
        let b = DagBuilder::<()>::new();
        let first = b.add_node(one, b.param());
        b.add_node(inc, first);
        b.build()
    }

    #[test]
    fn only_ready_and_running_tasks_are_polled() {
        let dag = chain();
        let mut slots = Slots::new(&dag.core, &());
        let mut cx = Context::from_waker(Waker::noop());
        let poll = |slots: &mut Slots<'_>, task, cx: &mut Context<'_>| {
            // SAFETY: plain nodes never touch the sink.
            unsafe { slots.poll_task(task, cx, ptr::null_mut(), &mut slots.polling()) }
        };
        // Waiting for its input (no safe code can wake it yet, but nothing happens if it is).
        assert_eq!(poll(&mut slots, 1, &mut cx), None);
        assert_eq!(
            poll(&mut slots, 0, &mut cx),
            Some(Poll::Ready(Completion::Done))
        );
        // Completed: a late wake polls nothing.
        assert_eq!(poll(&mut slots, 0, &mut cx), None);
        let mut ready = ReadyQueue::owned(2);
        slots.release_dependents(0, &mut ready);
        assert_eq!(ready.pop(), Some(1));
        assert_eq!(
            poll(&mut slots, 1, &mut cx),
            Some(Poll::Ready(Completion::Done))
        );
        assert_eq!(poll(&mut slots, 1, &mut cx), None);
    }

    #[test]
    fn a_failure_never_overwrites_a_started_dependent() {
        async fn wait(_: &u32) -> u32 {
            core::future::pending().await
        }
        let b = DagBuilder::<()>::new();
        let first = b.add_node(one, b.param());
        b.add_node(wait, first);
        let dag = b.build();
        let mut slots = Slots::new(&dag.core, &());
        let mut cx = Context::from_waker(Waker::noop());
        let mut ready = ReadyQueue::owned(2);
        for task in [0, 1] {
            let mut polling = slots.polling();
            // SAFETY: plain nodes never touch the sink.
            let _ = unsafe { slots.poll_task(task, &mut cx, ptr::null_mut(), &mut polling) };
            if task == 0 {
                slots.release_dependents(0, &mut ready);
            }
        }
        assert!(slots.is_running(1));
        // As if task 0 had failed after its dependent started (a scheduler bug): refused.
        let skip = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            slots.skip_dependents_of(0, &mut ReadyQueue::owned(2), &mut VecDeque::new())
        }));
        assert!(skip.is_err());
        assert!(
            slots.is_running(1),
            "the running future is kept, to be dropped"
        );
        // A second completion of task 0 (another scheduler bug) is refused the same way.
        let release = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            slots.release_dependents(0, &mut ready)
        }));
        assert!(release.is_err());
        assert!(slots.is_running(1));
    }
}
