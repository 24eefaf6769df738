//! The run's ready queue: the tasks to poll, in batches, each batch in index order.
//!
//! Tasks become ready in the order their last input completes (or their waker fires), which on
//! a large graph is a random walk over everything laid out per task: arena slots, states,
//! waker slots, dependents. The queue polls a *batch* — everything queued while the previous
//! batch was polled — in index order instead, so a run walks that memory forwards. On a
//! 100,000-node random layered DAG that halves the time per node (`scaling/dagfut/*` in
//! `benches/`).
//!
//! Ordering costs little: tasks are queued in a plain list; when a batch starts, a short one
//! is sorted, and a long one whose indexes are dense (at most two bitmap words per task) is
//! put in order through a bitmap, one bit per task: set each task's bit, read the words back
//! in order. A long sparse batch is sorted. Either way the work is proportional to the batch,
//! never to the size of the graph. A task is queued at most once at a time (the scheduler
//! guarantees it: a task becomes ready once, and a woken task is not queued again before it is
//! polled).
//!
//! The two batches share one list of a word per task. Tasks are queued at its front, upwards;
//! when a batch starts, it is put in order at the list's back and taken from there upwards,
//! while the next batch is queued at the front again. The tasks the current batch has left and
//! the tasks queued since are never more than the run's tasks together, so the two never meet.
//! (Two lists, one per batch, took twice the words.)
//!
//! A run of at most [`SMALL_RUN`] tasks needs no list: its two batches are two `u64` bitmasks
//! (the current batch and the next), a push sets a bit and a pop takes the lowest, which is
//! index order by construction. Such a run's block has no buffer for the queue at all.

use core::ptr::NonNull;

/// Bits per bitmap word.
const WORD: usize = u32::BITS as usize;

/// Batches up to this length are sorted (an insertion sort, at this size); longer ones go
/// through the bitmap when their indexes are dense enough.
const SMALL_BATCH: usize = 16;

/// The most tasks a run may have for its queue to be two bitmasks.
pub(crate) const SMALL_RUN: usize = u64::BITS as usize;

/// How many words the buffer of a queue for `tasks` tasks holds (none for a small run).
pub(crate) const fn buffer_len(tasks: usize) -> usize {
    if tasks <= SMALL_RUN {
        return 0;
    }
    tasks + tasks.div_ceil(WORD)
}

/// Tasks to poll: the current batch, in index order, then the tasks queued since.
///
/// A run of at most `SMALL_RUN` tasks (`small`) keeps its batches in `current_bits` and
/// `next_bits`, one bit per task, and its list and bitmap below are empty.
pub(crate) struct ReadyQueue {
    current_bits: u64,
    next_bits: u64,
    /// `buffer_len(tasks)` words: the list of `tasks` indexes the two batches share (the
    /// current batch at its back, the next queued at its front: the module's doc), then a
    /// bitmap of one bit per task, all clear between batches. In the run block
    /// (`Slots::ready_buffer`), or, in unit tests, its own (`owned`).
    buf: NonNull<u32>,
    #[cfg(test)]
    owned: bool,
    /// The run's tasks (`u32`s: a run has at most `waker::MAX_TASKS`, and the run's future
    /// moves less).
    tasks: u32,
    /// How many tasks the current batch has left: the last `left` words of the list.
    left: u32,
    /// How many tasks are queued for the next batch, at the list's front (in the order they
    /// came).
    next_len: u32,
}

impl ReadyQueue {
    /// An empty queue for a run of `tasks` tasks in `buf`: it never grows, each task being
    /// queued at most once at a time.
    ///
    /// # Safety
    /// `buf` points to `buffer_len(tasks)` initialised words, valid and used by nothing else
    /// while the queue is used (the run block's buffer: `Slots::ready_buffer`), whose bitmap
    /// (the words after the list) is clear: a new block is zeroed, and every batch that sets
    /// bits clears them before it returns, with no code but this module's in between.
    #[inline]
    pub(crate) unsafe fn new(tasks: usize, buf: NonNull<u32>) -> Self {
        let tasks = u32::try_from(tasks).expect("dagfut: a DAG holds at most u32::MAX tasks");
        let queue = ReadyQueue {
            current_bits: 0,
            next_bits: 0,
            buf,
            #[cfg(test)]
            owned: false,
            tasks,
            left: 0,
            next_len: 0,
        };
        debug_assert!(
            queue.buf().iter().skip(tasks as usize).all(|&word| word == 0),
            "the ready queue's bitmap is clear"
        );
        queue
    }

    /// An empty queue with a buffer of its own (unit tests).
    #[cfg(test)]
    pub(crate) fn owned(tasks: usize) -> Self {
        let buf = alloc::vec![0u32; buffer_len(tasks)].into_boxed_slice();
        let buf = NonNull::new(alloc::boxed::Box::into_raw(buf).cast::<u32>()).expect("a box");
        // SAFETY: a buffer of `buffer_len(tasks)` words of its own, freed by `Drop`.
        let mut queue = unsafe { Self::new(tasks, buf) };
        queue.owned = true;
        queue
    }

    /// Whether the batches are bitmasks: the run has at most `SMALL_RUN` tasks.
    #[inline(always)]
    fn small(&self) -> bool {
        self.tasks as usize <= SMALL_RUN
    }

    /// The buffer.
    fn buf(&self) -> &[u32] {
        // SAFETY: `buffer_len(tasks)` words for the queue alone (`new`'s contract).
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr(), buffer_len(self.tasks as usize)) }
    }

    /// The buffer, to write.
    fn buf_mut(&mut self) -> &mut [u32] {
        let len = buffer_len(self.tasks as usize);
        // SAFETY: as in `buf`; `&mut self` makes this the only access.
        unsafe { core::slice::from_raw_parts_mut(self.buf.as_ptr(), len) }
    }

    /// The list: the buffer's first `tasks` words (bounds checks read `tasks`, so a task
    /// queued past the list's end panics instead of reaching the bitmap). Only a run of more
    /// than `SMALL_RUN` tasks has one.
    #[inline(always)]
    fn list(&self) -> &[u32] {
        debug_assert!(!self.small(), "a small run's queue has no list");
        // SAFETY: the run is not small (every caller checks `small` first), so its buffer is
        // `buffer_len(tasks)` words, more than `tasks`, for the queue alone (`new`'s contract).
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr(), self.tasks as usize) }
    }

    /// The list, to write.
    #[inline(always)]
    fn list_mut(&mut self) -> &mut [u32] {
        debug_assert!(!self.small(), "a small run's queue has no list");
        // SAFETY: as in `list`; `&mut self` makes this the only access.
        unsafe { core::slice::from_raw_parts_mut(self.buf.as_ptr(), self.tasks as usize) }
    }

    /// Queues `task` for the next batch. It must not be queued already.
    #[inline]
    pub(crate) fn push(&mut self, task: u32) {
        if self.small() {
            // `task` is below `tasks`, at most 64 (a task of this run).
            debug_assert!(self.next_bits & (1 << task) == 0, "a task was queued twice");
            self.next_bits |= 1 << (task % u64::BITS);
            return;
        }
        let at = self.next_len;
        self.list_mut()[at as usize] = task;
        self.next_len = at + 1;
        // Each task queued at most once: the next batch cannot reach the current one.
        debug_assert!(self.next_len + self.left <= self.tasks, "a task was queued twice");
    }

    /// Whether no task is queued.
    pub(crate) fn is_empty(&self) -> bool {
        if self.small() {
            return self.current_bits | self.next_bits == 0;
        }
        self.left == 0 && self.next_len == 0
    }

    /// How many tasks are queued.
    pub(crate) fn len(&self) -> usize {
        if self.small() {
            return (self.current_bits.count_ones() + self.next_bits.count_ones()) as usize;
        }
        (self.left + self.next_len) as usize
    }

    /// The next task to poll: the rest of the current batch first, then the next batch, in
    /// index order.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<u32> {
        if self.small() {
            if self.current_bits == 0 {
                self.current_bits = core::mem::take(&mut self.next_bits);
                if self.current_bits == 0 {
                    return None;
                }
            }
            let task = self.current_bits.trailing_zeros();
            self.current_bits &= self.current_bits - 1;
            return Some(task);
        }
        if self.left != 0 {
            let task = self.list()[(self.tasks - self.left) as usize];
            self.left -= 1;
            return Some(task);
        }
        match self.next_len {
            0 => None,
            1 => {
                // A batch of one (each step of a chain): nothing to order, nothing to move.
                self.next_len = 0;
                Some(self.list()[0])
            }
            _ => Some(self.start_next_batch()),
        }
    }

    /// `pop` once the current batch is done and at least two tasks are queued: puts them in
    /// index order at the back of the list, makes them the current batch, and returns its
    /// first task.
    #[inline(never)]
    fn start_next_batch(&mut self) -> u32 {
        let (len, tasks) = (self.next_len as usize, self.tasks as usize);
        let (list, bits) = self.buf_mut().split_at_mut(tasks);
        let start = tasks - len;
        if len <= SMALL_BATCH || !order_large_batch(list, len, bits) {
            list[..len].sort_unstable();
            list.copy_within(..len, start);
        }
        self.left = self.next_len - 1;
        self.next_len = 0;
        self.list()[start]
    }
}

#[cfg(test)]
impl Drop for ReadyQueue {
    fn drop(&mut self) {
        if self.owned {
            let len = buffer_len(self.tasks as usize);
            let words = core::ptr::slice_from_raw_parts_mut(self.buf.as_ptr(), len);
            // SAFETY: `owned` made it from a boxed slice of this length, freed once, here.
            drop(unsafe { alloc::boxed::Box::from_raw(words) });
        }
    }
}

/// Writes the batch queued at `list`'s first `len` words in index order to its last `len`
/// words through `bits` (clear, one bit per task), if the range of its indexes holds at most
/// two bitmap words per task; returns whether it did. `bits` is clear again afterwards.
fn order_large_batch(list: &mut [u32], len: usize, bits: &mut [u32]) -> bool {
    let (low, high) = list[..len].iter().fold((u32::MAX, 0), |(low, high), &task| {
        (low.min(task), high.max(task))
    });
    let (first, last) = (low as usize / WORD, high as usize / WORD);
    if last - first >= 2 * len {
        return false;
    }
    for &task in &list[..len] {
        bits[task as usize / WORD] |= 1 << (task as usize % WORD);
    }
    // Every task of the batch is read into the bitmap: its words may now be written over.
    let back = list.len() - len;
    let mut at = back;
    for (offset, word) in bits[first..=last].iter_mut().enumerate() {
        let mut set = core::mem::take(word);
        while set != 0 {
            list[at] = ((first + offset) * WORD) as u32 + set.trailing_zeros();
            at += 1;
            set &= set - 1;
        }
    }
    // The scheduler queues a task at most once at a time. Were a task queued twice, part of
    // the batch would be left as it was, or the next batch could write over the current one:
    // tasks polled twice, or not at all and the run never done; never anything unsound
    // (every index is checked). Debug builds (the tests, the fuzzer) check it at each push.
    debug_assert_eq!(at, list.len(), "a task was queued twice");
    true
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    fn drain(queue: &mut ReadyQueue) -> Vec<u32> {
        core::iter::from_fn(|| queue.pop()).collect()
    }

    #[test]
    fn batches_come_out_in_index_order() {
        let mut queue = ReadyQueue::owned(200);
        for task in [70, 3, 65, 4, 199, 0] {
            queue.push(task);
        }
        assert_eq!(queue.len(), 6);
        assert_eq!(queue.pop(), Some(0));
        // Queued during a batch: after the rest of it.
        queue.push(1);
        queue.push(2);
        assert_eq!(drain(&mut queue), [3, 4, 65, 70, 199, 1, 2]);
        assert!(queue.is_empty());
        // The bitmap was cleared: the same tasks can be queued again.
        for task in [199, 4, 70] {
            queue.push(task);
        }
        assert_eq!(drain(&mut queue), [4, 70, 199]);
    }

    #[test]
    fn a_small_run_keeps_its_batches_in_two_bitmasks() {
        assert_eq!(buffer_len(SMALL_RUN), 0);
        assert!(buffer_len(SMALL_RUN + 1) > 0);
        let mut queue = ReadyQueue::owned(SMALL_RUN);
        assert!(queue.small() && queue.is_empty());
        for task in [63, 3, 40, 0] {
            queue.push(task);
        }
        assert_eq!(queue.len(), 4);
        assert_eq!(queue.pop(), Some(0));
        // Queued during a batch: after the rest of it, even with lower indexes.
        queue.push(1);
        queue.push(2);
        assert_eq!(queue.len(), 5);
        assert_eq!(drain(&mut queue), [3, 40, 63, 1, 2]);
        assert!(queue.is_empty());
        queue.push(63);
        assert_eq!(drain(&mut queue), [63]);
    }

    #[test]
    fn a_batch_that_queues_every_task_again_as_it_goes_never_meets_the_next() {
        // Every task polled queues itself again at once (a node woken in its own poll): the
        // current batch shrinks at the list's back as the next grows at its front, the two
        // together always every task. The full batches go through the bitmap, the last one
        // (three tasks) through the sort.
        for tasks in [SMALL_RUN + 1, 100, 1_000] {
            let mut queue = ReadyQueue::owned(tasks);
            for task in (0..tasks as u32).rev() {
                queue.push(task);
            }
            for _round in 0..5 {
                for expected in 0..tasks as u32 {
                    assert_eq!(queue.pop(), Some(expected));
                    queue.push(expected);
                    assert_eq!(queue.len(), tasks);
                }
            }
            assert_eq!(drain(&mut queue), (0..tasks as u32).collect::<Vec<_>>());
            // Batches of one (a chain) and then a full one again, from the end it left off.
            for task in 0..3 {
                queue.push(task);
                assert_eq!(drain(&mut queue), [task]);
            }
            for task in [9, 3, 7] {
                queue.push(task);
            }
            assert_eq!(drain(&mut queue), [3, 7, 9]);
        }
    }

    #[test]
    fn batches_match_a_plain_model_of_the_queue() {
        // Random pushes (of tasks not queued) and pops against a model: a batch is what was
        // queued while the one before it was polled, in index order.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut random = move |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        for tasks in [65, 80, 300] {
            let mut queue = ReadyQueue::owned(tasks);
            let (mut current, mut next) = (Vec::<u32>::new(), Vec::<u32>::new());
            let mut queued = alloc::vec![false; tasks];
            // Fewer steps under Miri, which runs them some thousand times slower.
            for _ in 0..if cfg!(miri) { 1_000 } else { 20_000 } {
                if random(3) == 0 {
                    let expected = if current.is_empty() && next.is_empty() {
                        None
                    } else {
                        if current.is_empty() {
                            current = core::mem::take(&mut next);
                            current.sort_unstable_by(|a, b| b.cmp(a));
                        }
                        current.pop()
                    };
                    assert_eq!(queue.pop(), expected);
                    if let Some(task) = expected {
                        queued[task as usize] = false;
                    }
                } else {
                    // Up to 40 tasks, so batches both sort and go through the bitmap.
                    for _ in 0..random(40) {
                        let task = random(tasks);
                        if !queued[task] {
                            queued[task] = true;
                            next.push(task as u32);
                            queue.push(task as u32);
                        }
                    }
                }
                assert_eq!(queue.len(), current.len() + next.len());
            }
        }
    }

    #[test]
    fn a_long_sparse_batch_is_sorted_and_moved() {
        // 20 tasks about 500 apart: too sparse for the bitmap, sorted at the front of the
        // list and moved to its back.
        let mut queue = ReadyQueue::owned(10_000);
        let tasks: Vec<u32> = (0..20).map(|task| (task * 7 % 20) * 499).collect();
        tasks.iter().for_each(|&task| queue.push(task));
        let mut sorted = tasks.clone();
        sorted.sort_unstable();
        assert_eq!(queue.pop(), Some(0));
        queue.push(0);
        assert_eq!(drain(&mut queue), [&sorted[1..], &[0]].concat());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic = "a task was queued twice"]
    fn debug_builds_refuse_a_task_queued_twice() {
        // A full list whose batch has one task left, and that task queued again: the next
        // batch would reach it.
        let mut queue = ReadyQueue::owned(SMALL_RUN + 1);
        (0..=SMALL_RUN as u32).for_each(|task| queue.push(task));
        (0..SMALL_RUN as u32).for_each(|task| {
            assert_eq!(queue.pop(), Some(task));
            queue.push(task);
        });
        queue.push(SMALL_RUN as u32);
    }

    #[test]
    fn sparse_batches_are_sorted() {
        let mut queue = ReadyQueue::owned(10_000);
        queue.push(9_999);
        queue.push(5);
        assert_eq!(drain(&mut queue), [5, 9_999]);
        queue.push(9_999);
        queue.push(5);
        queue.push(6);
        assert_eq!(drain(&mut queue), [5, 6, 9_999]);
    }
}
