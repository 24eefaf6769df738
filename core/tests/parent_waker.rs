//! The parent's slot under executors that do unusual but legal things, through the public API:
//! a wake of the task's waker that pauses (on another thread) or panics while nodes are woken
//! and the run is polled, and an executor that polls inline as it wakes, then runs the jobs that
//! are ready.
//!
//! ```text
//! cargo test -p dagfut --test parent_waker
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, RawWaker, RawWakerVTable, Wake, Waker};
use std::thread;

mod support;
use support::{Gate, gated_dag, open};

/// What the next wake of a [`Hooked`] task's waker does before it counts.
enum Next {
    /// Says so on the first channel, waits on the second, then counts (and maybe panics).
    Pause(mpsc::Sender<()>, mpsc::Receiver<()>, bool),
    /// Panics, without counting.
    Panic,
}

/// A task whose waker is one `Arc` for all its clones (so every poll's registration is the
/// steady one, as under most executors), counting its wakes; its next wake can be made to
/// pause (and then panic).
#[derive(Default)]
struct Hooked {
    wakes: AtomicUsize,
    next: Mutex<Option<Next>>,
}

/// The vtable of a [`Hooked`] task's waker: one `static`, so that `will_wake` finds its clones
/// equal under Miri too (whose vtables of `Waker::from(Arc<_>)` may differ from clone to clone).
static HOOKED: RawWakerVTable =
    RawWakerVTable::new(hooked_clone, hooked_wake, hooked_wake_by_ref, hooked_drop);

unsafe fn hooked_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is an `Arc<Hooked>` of `Hooked::waker`; a clone owns a count.
    unsafe { Arc::increment_strong_count(data.cast::<Hooked>()) };
    RawWaker::new(data, &HOOKED)
}

unsafe fn hooked_wake(data: *const ()) {
    /// Gives the consumed waker's count up even if its wake panics.
    struct Drop_(*const ());
    impl Drop for Drop_ {
        fn drop(&mut self) {
            // SAFETY: the consumed waker's count, given up once.
            unsafe { hooked_drop(self.0) };
        }
    }
    let consumed = Drop_(data);
    // SAFETY: as in `hooked_clone`.
    unsafe { hooked_wake_by_ref(consumed.0) };
}

unsafe fn hooked_wake_by_ref(data: *const ()) {
    // SAFETY: as in `hooked_clone`.
    let task = unsafe { &*data.cast::<Hooked>() };
    let next = task.next.lock().unwrap().take();
    let panic = match next {
        Some(Next::Pause(started, go, panic)) => {
            started.send(()).unwrap();
            go.recv().unwrap();
            panic
        }
        Some(Next::Panic) => std::panic::resume_unwind(Box::new("the task's waker panics")),
        None => false,
    };
    task.wakes.fetch_add(1, Ordering::SeqCst);
    if panic {
        std::panic::resume_unwind(Box::new("the task's waker panics once"));
    }
}

unsafe fn hooked_drop(data: *const ()) {
    // SAFETY: as in `hooked_clone`.
    unsafe { Arc::decrement_strong_count(data.cast::<Hooked>()) };
}

impl Hooked {
    /// A waker of the task (an `Arc` count of it).
    fn waker(self: &Arc<Self>) -> Waker {
        let data = Arc::into_raw(self.clone()).cast::<()>();
        // SAFETY: the functions above keep the contract for an `Arc<Hooked>` pointer whose
        // count the waker owns.
        unsafe { Waker::from_raw(RawWaker::new(data, &HOOKED)) }
    }

    /// Makes the next wake pause (then panic, if `panic`): returns the channel that hears it
    /// start and the one that lets it go on.
    fn arm(&self, panic: bool) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (started_tx, started) = mpsc::channel();
        let (go, go_rx) = mpsc::channel();
        *self.next.lock().unwrap() = Some(Next::Pause(started_tx, go_rx, panic));
        (started, go)
    }
}

/// Step 3 of the lost-wake reproduction, with (`after_a_panic`) or without a panicking wake
/// of the task's waker in step 1. Returns how many times step 3 woke the task.
fn wakes_for_a_wake_during_a_wake(after_a_panic: bool) -> usize {
    let gates: [Gate; 4] = Default::default();
    let dag = gated_dag(&gates);
    let mut run = Box::pin(dag.run(&()));
    let task = Arc::new(Hooked::default());
    let waker = task.waker();
    let mut cx = Context::from_waker(&waker);
    let mut poll = |run: &mut Pin<Box<dagfut::DagFuture<'_, ()>>>| {
        assert!(run.as_mut().poll(&mut cx).is_pending())
    };
    // Every node parks; the run registers the task's waker.
    poll(&mut run);

    // 1. Node 0's wake, on another thread, holds the slot while it wakes the task; meanwhile
    // the task is polled (it drains node 0) and node 1 is woken: its wake finds the slot held
    // and leaves a request (NOTIFY). The held wake then panics (if `after_a_panic`): its
    // `Unlock` lets go of the cell and leaves the request set, with nothing held.
    let (started, go) = task.arm(after_a_panic);
    let waking = {
        let gate = gates[0].clone();
        thread::spawn(move || std::panic::catch_unwind(move || open(&gate)).is_err())
    };
    started.recv().unwrap();
    poll(&mut run);
    open(&gates[1]);
    go.send(()).unwrap();
    assert_eq!(waking.join().unwrap(), after_a_panic);

    // 2. The task is polled again (whatever woke it): node 1 is drained. The registration is
    // the steady one: it leaves the slot's state as it is.
    poll(&mut run);

    // 3. No panic from now on. Node 2's wake holds the slot while it wakes the task; meanwhile
    // the task is polled (node 2 drained) and node 3 is woken: its push lands after that
    // drain, and its wake finds the slot held and leaves a request. The holder must wake the
    // task again as it lets go, or node 3 is never polled.
    let before = task.wakes.load(Ordering::SeqCst);
    let (started, go) = task.arm(false);
    let waking = {
        let gate = gates[2].clone();
        thread::spawn(move || open(&gate))
    };
    started.recv().unwrap();
    poll(&mut run);
    open(&gates[3]);
    go.send(()).unwrap();
    waking.join().unwrap();
    task.wakes.load(Ordering::SeqCst) - before
}

/// A wake that comes while another wake of the task is under way (after the run's drain) has
/// the task woken again.
#[test]
fn a_wake_during_a_wake_wakes_the_task_again() {
    assert_eq!(wakes_for_a_wake_during_a_wake(false), 2);
}

/// The same after a request was left pending with no cell held (here by one panicking wake;
/// the loom model `parent::loom_models::every_wake_is_covered_with_a_steady_waker` reaches
/// that state with no panic, by a race of three wakes). A wake's fast path that let go with
/// the state it found put the new request back as the old one, unanswered: the run was left
/// with a woken node and no wake of its task, for good.
#[test]
fn a_wake_during_a_wake_after_a_stale_notify_wakes_the_task_again() {
    assert_eq!(
        wakes_for_a_wake_during_a_wake(true),
        2,
        "node 3's wake was lost: the holder restored the stale NOTIFY and did not wake again"
    );
}

/// A wake of the task's waker that panics is owed: the next node wake, though it is not the
/// first since the run's last drain (the panicking wake's push is still on the wake stack),
/// wakes the task. Only the first push onto an empty stack used to wake it, so a task waker
/// that panicked once left the run asleep for good.
#[test]
fn after_a_panicking_wake_of_the_task_a_later_node_wake_still_wakes_it() {
    let gates: [Gate; 2] = Default::default();
    let dag = gated_dag(&gates);
    let mut run = Box::pin(dag.run(&()));
    let task = Arc::new(Hooked::default());
    let waker = task.waker();
    let mut cx = Context::from_waker(&waker);
    // Both nodes park; the run registers the task's waker.
    assert!(run.as_mut().poll(&mut cx).is_pending());
    *task.next.lock().unwrap() = Some(Next::Panic);
    let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open(&gates[0])));
    assert!(first.is_err(), "the task's waker panicked in node 0's wake");
    assert_eq!(task.wakes.load(Ordering::SeqCst), 0);
    open(&gates[1]);
    assert_eq!(
        task.wakes.load(Ordering::SeqCst),
        1,
        "node 1's wake did not reach the task: the run sleeps for good"
    );
    // Both wakes are drained by the poll this one asked for.
    assert!(run.as_mut().poll(&mut cx).is_ready());
}

/// An executor of one task that polls it inline, inside the wake of its waker (unless a poll
/// is under way: then it polls once more after it), with a fresh waker for every poll (as
/// `core/tests/waker.rs`'s `InlineTask`), and that, once the task's poll is done, runs the
/// jobs that are ready (an executor whose wake drives everything that is ready).
struct Executor {
    future: Mutex<Option<Pin<Box<dyn Future<Output = ()> + Send>>>>,
    polling: AtomicBool,
    again: AtomicBool,
    polls: AtomicUsize,
    /// Set when one wake polled the task 100 times: it gave up.
    runaway: AtomicBool,
    jobs: Mutex<VecDeque<Box<dyn FnOnce() + Send>>>,
}

impl Executor {
    fn poll_inline(self: &Arc<Self>) {
        if self.polling.swap(true, Ordering::SeqCst) {
            self.again.store(true, Ordering::SeqCst);
            return;
        }
        let mut polls = 0;
        loop {
            self.again.store(false, Ordering::SeqCst);
            self.polls.fetch_add(1, Ordering::SeqCst);
            polls += 1;
            if polls > 100 {
                self.runaway.store(true, Ordering::SeqCst);
                break;
            }
            let waker = Waker::from(Arc::new(WakeInline(self.clone())));
            let mut future = self.future.lock().unwrap();
            if let Some(run) = future.as_mut() {
                if run
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready()
                {
                    *future = None;
                }
            }
            drop(future);
            if !self.again.load(Ordering::SeqCst) {
                break;
            }
        }
        self.polling.store(false, Ordering::SeqCst);
        loop {
            let job = self.jobs.lock().unwrap().pop_front();
            match job {
                Some(job) => job(),
                None => break,
            }
        }
    }
}

struct WakeInline(Arc<Executor>);

impl Wake for WakeInline {
    fn wake(self: Arc<Self>) {
        self.0.poll_inline();
    }
}

/// A node's wake holds cell 0 while it wakes the task (polled inline: it registers a new waker
/// in cell 1); the executor then runs a job that wakes another node, whose wake finds cell 1
/// current and cell 0 held, and so clones the waker, lets go and wakes the clone (polled inline
/// again). Had it held cell 1 across that wake too, the poll inside would find both cells held
/// by the wakes up its own stack and wake its new waker instead of storing it: polled again, it
/// would register another new waker, find both cells held, wake it... for ever.
#[test]
fn an_executor_that_polls_inline_and_then_runs_its_jobs_is_not_woken_for_ever() {
    let gates: [Gate; 3] = Default::default();
    let dag = Arc::new(gated_dag(&gates));
    let executor = Arc::new(Executor {
        future: Mutex::new(Some(Box::pin({
            let dag = dag.clone();
            async move {
                dag.run_owned(()).await;
            }
        }))),
        polling: AtomicBool::new(false),
        again: AtomicBool::new(false),
        polls: AtomicUsize::new(0),
        runaway: AtomicBool::new(false),
        jobs: Mutex::new(VecDeque::new()),
    });
    // Every node parks; the run registers its first waker.
    executor.poll_inline();
    // A job ready to run after the next poll: it opens the second gate.
    let second = gates[1].clone();
    executor
        .jobs
        .lock()
        .unwrap()
        .push_back(Box::new(move || open(&second)));
    open(&gates[0]);
    let polls = executor.polls.load(Ordering::SeqCst);
    assert!(
        !executor.runaway.load(Ordering::SeqCst),
        "one wake polled the run 100 times ({polls} polls in all): a registration that finds \
         both cells held wakes its own new waker, and the executor polls again, for ever"
    );
    assert!(polls <= 4, "{polls} polls");
    open(&gates[2]);
    assert!(
        executor.future.lock().unwrap().is_none(),
        "the run completed"
    );
}
