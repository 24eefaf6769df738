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
    2 * tasks + tasks.div_ceil(WORD)
}

/// Tasks to poll: the current batch, in index order, then the tasks queued since.
///
/// A run of at most `SMALL_RUN` tasks (`small`) keeps its batches in `current_bits` and
/// `next_bits`, one bit per task, and its lists and their bitmap below are empty.
pub(crate) struct ReadyQueue {
    current_bits: u64,
    next_bits: u64,
    /// `buffer_len(tasks)` words: two lists of up to `tasks` indexes each, at `0` and at
    /// `tasks` — the batch being polled and the tasks queued since, which is which
    /// alternating — then a bitmap of one bit per task, all clear between batches. In the run
    /// block (`Slots::ready_buffer`), or, in unit tests, its own (`owned`).
    buf: NonNull<u32>,
    /// `buffer_len(tasks)`, kept: bounds checks read it.
    buf_len: usize,
    #[cfg(test)]
    owned: bool,
    /// The run's tasks (`u32`s: a run has at most `waker::MAX_TASKS`, and the run's future
    /// moves less).
    tasks: u32,
    /// Where the current batch's list starts (`0` or `tasks`), the position of the next task
    /// to poll in it, and its length.
    current: u32,
    cursor: u32,
    current_len: u32,
    /// How many tasks are queued for the next batch (in the other list, in the order they
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
    /// (the words after the two lists) is clear: a new block is zeroed, and every batch that
    /// sets bits clears them before it returns, with no code but this module's in between.
    #[inline]
    pub(crate) unsafe fn new(tasks: usize, buf: NonNull<u32>) -> Self {
        let queue = ReadyQueue {
            current_bits: 0,
            next_bits: 0,
            buf,
            buf_len: buffer_len(tasks),
            #[cfg(test)]
            owned: false,
            tasks: u32::try_from(tasks).expect("dagfut: a DAG holds at most u32::MAX tasks"),
            current: 0,
            cursor: 0,
            current_len: 0,
            next_len: 0,
        };
        debug_assert!(
            queue.buf().iter().skip(2 * tasks).all(|&word| word == 0),
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
    #[inline(always)]
    fn buf(&self) -> &[u32] {
        // SAFETY: `buffer_len(tasks)` words for the queue alone (`new`'s contract).
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr(), self.buf_len) }
    }

    /// The buffer, to write.
    #[inline(always)]
    fn buf_mut(&mut self) -> &mut [u32] {
        // SAFETY: as in `buf`; `&mut self` makes this the only access.
        unsafe { core::slice::from_raw_parts_mut(self.buf.as_ptr(), self.buf_len) }
    }

    /// Where the list of the next batch starts.
    fn next(&self) -> usize {
        (self.tasks - self.current) as usize
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
        let at = self.next() + self.next_len as usize;
        self.buf_mut()[at] = task;
        self.next_len += 1;
    }

    /// Whether no task is queued.
    pub(crate) fn is_empty(&self) -> bool {
        if self.small() {
            return self.current_bits | self.next_bits == 0;
        }
        self.cursor == self.current_len && self.next_len == 0
    }

    /// How many tasks are queued.
    pub(crate) fn len(&self) -> usize {
        if self.small() {
            return (self.current_bits.count_ones() + self.next_bits.count_ones()) as usize;
        }
        (self.current_len - self.cursor + self.next_len) as usize
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
        if self.cursor < self.current_len {
            let task = self.buf()[(self.current + self.cursor) as usize];
            self.cursor += 1;
            return Some(task);
        }
        match self.next_len {
            0 => None,
            1 => {
                // A batch of one (each step of a chain): nothing to order.
                self.next_len = 0;
                Some(self.buf()[self.next()])
            }
            _ => Some(self.start_next_batch()),
        }
    }

    /// `pop` once the current batch is done and at least two tasks are queued: puts them in
    /// index order, makes them the current batch, and returns its first task.
    #[inline(never)]
    fn start_next_batch(&mut self) -> u32 {
        let (next, len) = (self.next(), self.next_len as usize);
        let tasks = self.tasks as usize;
        let (lists, bits) = self.buf_mut().split_at_mut(2 * tasks);
        let batch = &mut lists[next..next + len];
        if len <= SMALL_BATCH {
            batch.sort_unstable();
        } else {
            order_large_batch(batch, bits);
        }
        // `next` is `tasks - current`, a `u32`.
        self.current = next as u32;
        self.current_len = self.next_len;
        self.cursor = 1;
        self.next_len = 0;
        self.buf()[next]
    }
}

#[cfg(test)]
impl Drop for ReadyQueue {
    fn drop(&mut self) {
        if self.owned {
            let words = core::ptr::slice_from_raw_parts_mut(self.buf.as_ptr(), self.buf_len);
            // SAFETY: `owned` made it from a boxed slice of this length, freed once, here.
            drop(unsafe { alloc::boxed::Box::from_raw(words) });
        }
    }
}

/// Puts `batch` in index order: through `bits` (clear, one bit per task) when the range of
/// its indexes holds at most two bitmap words per task, by sorting otherwise. `bits` is clear
/// again afterwards.
fn order_large_batch(batch: &mut [u32], bits: &mut [u32]) {
    let (low, high) = batch.iter().fold((u32::MAX, 0), |(low, high), &task| {
        (low.min(task), high.max(task))
    });
    let (first, last) = (low as usize / WORD, high as usize / WORD);
    if last - first >= 2 * batch.len() {
        batch.sort_unstable();
        return;
    }
    for &task in &*batch {
        bits[task as usize / WORD] |= 1 << (task as usize % WORD);
    }
    let mut at = 0;
    for (offset, word) in bits[first..=last].iter_mut().enumerate() {
        let mut set = core::mem::take(word);
        while set != 0 {
            batch[at] = ((first + offset) * WORD) as u32 + set.trailing_zeros();
            at += 1;
            set &= set - 1;
        }
    }
    // A task queued twice would leave the batch's tail as it was: those tasks would be polled
    // again (a spurious poll, or a stale one, which is ignored), never unsoundly.
    debug_assert_eq!(at, batch.len(), "a task was queued twice");
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
