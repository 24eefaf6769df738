//! The scripted executor: polls a run, and between polls wakes nodes and maybe drops it, as
//! a [`Schedule`] says, checking every poll and every drop.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::mem::ManuallyDrop;
use core::panic::AssertUnwindSafe;
use core::pin::Pin;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::DropPanic;
use super::node::{
    Control, Raised, expecting_core_panic, panic_message, polling_node, set_polling_node,
    set_running,
};
use super::std;
use std::panic::{catch_unwind, resume_unwind};

/// How the driver delivers a wake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// `waker.wake_by_ref()`.
    ByRef,
    /// `waker.wake()`, consuming a clone.
    ByValue,
    /// `waker.wake()` on another thread, joined before the driver goes on.
    FromThread,
}

impl Delivery {
    /// Wakes `waker` this way. A panic of the waking thread (the task waker's) goes on here.
    pub(super) fn wake(self, waker: Waker) {
        match self {
            Delivery::ByRef => waker.wake_by_ref(),
            Delivery::ByValue => waker.wake(),
            Delivery::FromThread => {
                if let Err(payload) = std::thread::spawn(move || waker.wake()).join() {
                    resume_unwind(payload);
                }
            }
        }
    }
}

/// Chooses what the driver does between polls.
pub trait Schedule {
    /// Which of the `count` candidates (`0..count`) to wake next: a parked node, or a
    /// finished one for a stale wake.
    fn pick(&mut self, count: usize) -> usize;
    /// Whether to wake the parked node twice (the second wake must be absorbed).
    fn twice(&mut self) -> bool;
    /// How to deliver the next wake.
    fn delivery(&mut self) -> Delivery;
    /// How many stale wakes (of finished nodes) to send now.
    fn stale_wakes(&mut self) -> usize;
    /// Whether to drop the run now, after `polls` polls, instead of polling it again.
    fn drop_run(&mut self, polls: u32) -> bool;
    /// Whether the next poll comes from another task's waker than the last one (as when a
    /// run moves between tasks, or a combinator polls it with a waker of its own).
    fn switch_parent(&mut self) -> bool;
    /// Which call of the task wakers panics in this run, if one does (asked once, before the
    /// first poll; ignored for a spec with a value whose `Drop` panics: two panics at once
    /// abort).
    fn waker_panic(&mut self) -> Option<WakerPanic> {
        None
    }
    /// The run's poll budget (`with_poll_budget`): how many node polls one poll of the run
    /// makes at most before it yields (wakes its task and returns `Pending`). `usize::MAX`
    /// (the default): it never yields, and the driver checks that each node starts in the
    /// very poll its inputs settle in; with a budget, a node may start in a later poll.
    fn budget(&self) -> usize {
        usize::MAX
    }
}

/// An operation on a task waker (the waker of a task that polls the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakerOp {
    /// `clone`.
    Clone,
    /// `wake` or `wake_by_ref`.
    Wake,
    /// `drop`.
    Drop,
}

/// The task wakers of a run panic at the `nth` (from 1) call of `op` that the run (the core,
/// or a node's code) makes on them, counted over both tasks' wakers from the run's start,
/// whatever makes it: a registration's clone or drop, a wake of the slot after a node's wake
/// (in a node's poll, in the driver's wake between polls, on another thread), the run's own
/// `wake_by_ref`, the drop of the wakers the run took at its end. The driver's own wakers
/// (lent to each poll) are made and let go without the vtable: they are not counted. A waker
/// whose `wake` or `drop` panics gives up its reference as the panic unwinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakerPanic {
    /// Which operation panics.
    pub op: WakerOp,
    /// Its call that panics, from 1.
    pub nth: u32,
}

impl WakerPanic {
    /// The message the task waker panics with.
    pub fn message(&self) -> String {
        format!(
            "model: the task waker panicked in its {:?} #{}",
            self.op, self.nth
        )
    }
}

/// A small deterministic schedule from a seed (xorshift).
#[derive(Debug, Clone)]
pub struct Seeded {
    state: u64,
    /// Whether 1 in 8 wakes comes from another thread.
    pub threads: bool,
    /// Drop the run after this many polls (0: before the first), if it has not ended.
    pub drop_after: Option<u32>,
    /// Which call of the task wakers panics, if one does.
    pub waker_panic: Option<WakerPanic>,
    /// The run's poll budget, if it has one (else it never yields).
    pub budget: Option<usize>,
}

impl Seeded {
    /// Wakes on this thread only, and polls the run to its end.
    pub fn new(seed: u64) -> Self {
        Seeded {
            state: seed,
            threads: false,
            drop_after: None,
            waker_panic: None,
            budget: None,
        }
    }

    /// Sets the run's poll budget, if it has one.
    pub fn with_budget(mut self, budget: Option<usize>) -> Self {
        self.budget = budget;
        self
    }

    /// Sets which call of the task wakers panics, if one does.
    pub fn with_waker_panic(mut self, waker_panic: Option<WakerPanic>) -> Self {
        self.waker_panic = waker_panic;
        self
    }

    /// Sets whether 1 in 8 wakes comes from another thread.
    pub fn with_threads(mut self, threads: bool) -> Self {
        self.threads = threads;
        self
    }

    /// Sets after how many polls the run is dropped, if it has not ended.
    pub fn with_drop_after(mut self, drop_after: Option<u32>) -> Self {
        self.drop_after = drop_after;
        self
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }
}

impl Schedule for Seeded {
    fn pick(&mut self, count: usize) -> usize {
        (self.next_u64() % count as u64) as usize
    }
    fn twice(&mut self) -> bool {
        self.next_u64() % 4 == 0
    }
    fn delivery(&mut self) -> Delivery {
        match self.next_u64() % 8 {
            0 if self.threads => Delivery::FromThread,
            0..=3 => Delivery::ByRef,
            _ => Delivery::ByValue,
        }
    }
    fn stale_wakes(&mut self) -> usize {
        match self.next_u64() % 8 {
            0..=3 => 0,
            4 | 5 => 1,
            6 => 2,
            _ => 3,
        }
    }
    fn drop_run(&mut self, polls: u32) -> bool {
        self.drop_after == Some(polls)
    }
    fn switch_parent(&mut self) -> bool {
        self.next_u64() % 4 == 0
    }
    fn waker_panic(&mut self) -> Option<WakerPanic> {
        self.waker_panic
    }
    fn budget(&self) -> usize {
        self.budget.unwrap_or(usize::MAX)
    }
}

/// The run's [`WakerPanic`], shared by its two task wakers.
struct Plan {
    armed: Option<WakerPanic>,
    /// The calls of the armed operation so far (the armed call came, and panicked, once
    /// they reach its `nth`).
    calls: AtomicU32,
    /// The node whose poll the driver's thread was in (its latest) when it came
    /// (`usize::MAX`: none, or another thread).
    node: AtomicUsize,
}

impl Plan {
    /// Counts a call of `op`, and panics if it is the armed one.
    fn call(&self, op: WakerOp) {
        let Some(armed) = self.armed else { return };
        if armed.op != op || self.calls.fetch_add(1, Ordering::SeqCst) + 1 != armed.nth {
            return;
        }
        self.node
            .store(polling_node().unwrap_or(usize::MAX), Ordering::SeqCst);
        panic!("{}", armed.message());
    }

    fn fired(&self) -> bool {
        self.armed
            .is_some_and(|armed| self.calls.load(Ordering::SeqCst) >= armed.nth)
    }

    /// Runs `call`, catching its panic: with the armed panic's message if that came in it.
    fn catching<R>(&self, call: impl FnOnce() -> R) -> (std::thread::Result<R>, Option<String>) {
        let before = self.fired();
        let result = catch_unwind(AssertUnwindSafe(call));
        let fired = (!before && self.fired()).then(|| self.message()).flatten();
        (result, fired)
    }

    /// The message of the armed panic, if one is armed.
    fn message(&self) -> Option<String> {
        self.armed.map(|armed| armed.message())
    }
}

/// A task waker the run is polled with: counts its wakes, and panics as its [`Plan`] says.
/// Its wakers point at it, an `Arc`, each holding one reference (but the driver's own).
struct TaskWaker {
    wakes: AtomicUsize,
    plan: Arc<Plan>,
}

impl TaskWaker {
    fn woken(&self) {
        self.plan.call(WakerOp::Wake);
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// One vtable, a `static`, so that `will_wake` finds two wakers of one task equal.
static TASK_VTABLE: RawWakerVTable =
    RawWakerVTable::new(task_clone, task_wake, task_wake_by_ref, task_drop);

unsafe fn task_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is `Arc::as_ptr` of a `TaskWaker` (see `Driver::next_parent`), alive
    // while the waker being cloned is: it holds a reference, or is the driver's own, lent
    // while the driver's `Arc` lives.
    let task = unsafe { &*data.cast::<TaskWaker>() };
    task.plan.call(WakerOp::Clone);
    // SAFETY: as above; the new reference is the clone's, given up by its wake or drop.
    unsafe { Arc::increment_strong_count(data.cast::<TaskWaker>()) };
    RawWaker::new(data, &TASK_VTABLE)
}

unsafe fn task_wake(data: *const ()) {
    // SAFETY: a consumed waker is a clone (the driver's own is never consumed), which owns a
    // reference: taken back here, and given up when `task` drops, as a panic unwinds too.
    let task = unsafe { Arc::from_raw(data.cast::<TaskWaker>()) };
    task.woken();
}

unsafe fn task_wake_by_ref(data: *const ()) {
    // SAFETY: as in `task_clone`.
    unsafe { &*data.cast::<TaskWaker>() }.woken();
}

unsafe fn task_drop(data: *const ()) {
    // SAFETY: as in `task_wake`: a dropped waker is a clone, which owns a reference.
    let task = unsafe { Arc::from_raw(data.cast::<TaskWaker>()) };
    task.plan.call(WakerOp::Drop);
}

/// The two task wakers a run is polled with (one task's, then maybe another's, as when a run
/// moves between tasks), and the [`WakerPanic`] they share.
pub struct Tasks {
    parents: [Arc<TaskWaker>; 2],
    plan: Arc<Plan>,
}

impl core::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tasks")
            .field("armed", &self.plan.armed)
            .finish_non_exhaustive()
    }
}

impl Tasks {
    /// Two tasks whose wakers panic at the `armed` call, if one is armed.
    pub fn new(armed: Option<WakerPanic>) -> Self {
        let plan = Arc::new(Plan {
            armed,
            calls: AtomicU32::new(0),
            node: AtomicUsize::new(usize::MAX),
        });
        Tasks {
            parents: [0, 1].map(|_| {
                Arc::new(TaskWaker {
                    wakes: AtomicUsize::new(0),
                    plan: plan.clone(),
                })
            }),
            plan,
        }
    }

    /// A fresh `Waker` of task `task` (0 or 1), to lend to a poll. It owns no reference and
    /// is never dropped (nor woken by value: it is only lent), so that the task's calls count
    /// only the run's.
    pub fn waker(&self, task: usize) -> ManuallyDrop<Waker> {
        let data = Arc::as_ptr(&self.parents[task]).cast::<()>();
        // SAFETY: the vtable's functions hold for `data` (see them) while `self.parents`
        // lives, which outlives every poll; this waker is never dropped or consumed, so it
        // gives up no reference, and its clones own one each.
        ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(data, &TASK_VTABLE)) })
    }

    /// How many times task `task`'s wakers were woken.
    pub fn wakes(&self, task: usize) -> usize {
        self.parents[task].wakes.load(Ordering::SeqCst)
    }

    /// Whether `waker` is a waker of one of these tasks.
    pub fn owns(&self, waker: &Waker) -> bool {
        self.parents
            .iter()
            .any(|parent| waker.data() == Arc::as_ptr(parent).cast::<()>())
    }

    /// Whether the armed panic came.
    pub fn fired(&self) -> bool {
        self.plan.fired()
    }

    /// The message of the armed panic, if one is armed.
    pub fn armed_message(&self) -> Option<String> {
        self.plan.message()
    }

    /// Nothing holds a waker of either task any more (`what` let go of them): each is back
    /// to the one reference of this.
    pub fn check_let_go(&self, what: &str) -> Result<(), String> {
        match self
            .parents
            .iter()
            .position(|parent| Arc::strong_count(parent) != 1)
        {
            Some(parent) => Err(format!(
                "{what} still holds task waker {parent} after it was dropped ({} references)",
                Arc::strong_count(&self.parents[parent]) - 1
            )),
            None => Ok(()),
        }
    }
}

/// How a driven run ended.
pub(super) enum Ending<T> {
    /// It resolved to this.
    Completed(Held<T>),
    /// A poll panicked as it had to; the run was then found poisoned, and dropped.
    Panicked,
    /// The schedule dropped it before it ended.
    Dropped,
}

/// A value that an early error return drops under `catch_unwind`: the check has failed
/// already, and a panic out of the value's `Drop` must not hide why.
pub(super) struct Held<T>(Option<T>);

impl<T> Held<T> {
    pub(super) fn new(value: T) -> Self {
        Held(Some(value))
    }

    pub(super) fn get_mut(&mut self) -> &mut T {
        self.0.as_mut().expect("held until taken")
    }

    /// The value, to be dropped the checked way.
    pub(super) fn into_inner(mut self) -> T {
        self.0.take().expect("held until taken")
    }
}

impl<T> core::ops::Deref for Held<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("held until taken")
    }
}

impl<T> Drop for Held<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
        }
    }
}

/// How many polls a run gets before the driver gives up on it (see [`Driver::step`]).
const MAX_POLLS: u32 = 100_000;

/// Polls one run, as a schedule says.
pub(super) struct Driver<'s> {
    control: Rc<Control>,
    schedule: &'s mut dyn Schedule,
    /// The two task wakers the run is polled with, as the schedule switches between them.
    tasks: Tasks,
    /// Whether the armed panic came in the latest poll or since (then a wake may have been
    /// lost: the run may sleep until it is polled again).
    lost_wake: bool,
    /// Whether a node's wake returned normally after `lost_wake` was set: that wake must have
    /// woken the task (the lost one is owed), so the run is not asleep.
    woke_after_loss: bool,
    /// The one the latest poll was given.
    parent: usize,
    /// How many times the run was polled.
    pub(super) polls: u32,
    /// The futures and outputs alive when the run resolved.
    pub(super) alive_at_end: (i64, i64),
    /// Whether the run has a poll budget ([`Schedule::budget`]), so that a poll may yield
    /// with nodes left to poll.
    pub(super) yields: bool,
    /// The budget itself (`usize::MAX` without one).
    budget: usize,
}

impl<'s> Driver<'s> {
    pub(super) fn new(control: &Rc<Control>, schedule: &'s mut dyn Schedule) -> Self {
        // Two panics at once abort: none is armed where a value's `Drop` panics.
        let armed = schedule
            .waker_panic()
            .filter(|_| control.spec.drop_panic.is_none());
        let budget = schedule.budget();
        let yields = budget != usize::MAX;
        Driver {
            control: control.clone(),
            schedule,
            tasks: Tasks::new(armed),
            lost_wake: false,
            woke_after_loss: false,
            parent: 0,
            polls: 0,
            alive_at_end: (0, 0),
            yields,
            budget,
        }
    }

    /// The wakes of the task waker the latest poll was given.
    fn parent_wakes(&self) -> usize {
        self.tasks.wakes(self.parent)
    }

    /// The control block of the run this drives.
    pub(super) fn control(&self) -> &Rc<Control> {
        &self.control
    }

    /// The wakes of every task waker the run was polled with.
    pub(super) fn all_parent_wakes(&self) -> usize {
        self.tasks.wakes(0) + self.tasks.wakes(1)
    }

    /// The run's next poll gets a fresh `Waker` of the same task, or (as the schedule says)
    /// one of the other task: the run must wake the latest.
    fn next_parent(&mut self) -> ManuallyDrop<Waker> {
        if self.polls > 0 && self.schedule.switch_parent() {
            self.parent ^= 1;
        }
        self.tasks.waker(self.parent)
    }

    /// The message of the armed task waker panic, if one is armed.
    pub(super) fn armed_message(&self) -> Option<String> {
        self.tasks.armed_message()
    }

    /// Whether the armed task waker panic came.
    pub(super) fn fired(&self) -> bool {
        self.tasks.fired()
    }

    /// Once the run is dropped, it holds no task waker it was polled with: each is back to
    /// the driver's one reference.
    fn check_parents_let_go(&self, what: &str) -> Result<(), String> {
        self.tasks.check_let_go(what)
    }

    /// One turn of driving a run: drops it if the schedule says so, or polls it once and, if
    /// it is pending, makes the schedule's wakes. `Some` once the run resolved, panicked or
    /// was dropped: its future is then taken out of `run` and dropped (checked).
    pub(super) fn step<F: Future + Unpin>(
        &mut self,
        run: &mut Option<Held<F>>,
    ) -> Result<Option<Ending<F::Output>>, String> {
        let Some(future) = run.as_mut() else {
            return Err("a run that is over was driven again".into());
        };
        if self.schedule.drop_run(self.polls) {
            self.let_go_of_node_wakers();
            let future = run.take().expect("checked above");
            self.drop_checked(future.into_inner(), "the run", true)?;
            self.check_parents_let_go("the dropped run")?;
            self.wakes_after_the_run()?;
            return Ok(Some(Ending::Dropped));
        }
        let waker = self.next_parent();
        let mut cx = Context::from_waker(&waker);
        // A run that never ends fails the check instead of hanging it (far more polls than any
        // spec's nodes, parks, attempts and wakes take, even one node poll at a time).
        if self.polls == MAX_POLLS {
            return Err(self.given_up());
        }
        self.polls += 1;
        self.control.round.set(self.polls);
        self.lost_wake = false;
        self.woke_after_loss = false;
        let parent_before = self.parent_wakes();
        let node_polls_before = self.control.node_polls.get();
        let polled = self.poll_checked(future.get_mut(), &mut cx)?;
        self.control
            .check_violations(|| format!("poll {}", self.polls))?;
        match polled {
            None => {
                self.check_poisoned(future.get_mut(), &mut cx)?;
                self.stale_wakes(false)?;
                self.let_go_of_node_wakers();
                let future = run.take().expect("checked above");
                self.drop_checked(future.into_inner(), "the poisoned run", true)?;
                self.check_parents_let_go("the poisoned run")?;
                self.wakes_after_the_run()?;
                Ok(Some(Ending::Panicked))
            }
            Some(Poll::Ready(output)) => {
                self.alive_at_end = (
                    self.control.futures_alive.get(),
                    self.control.outputs_alive.get(),
                );
                let output = Held::new(output);
                let future = run.take().expect("checked above");
                self.drop_checked(future.into_inner(), "the completed run", false)?;
                self.check_parents_let_go("the completed run")?;
                self.wakes_after_the_run()?;
                Ok(Some(Ending::Completed(output)))
            }
            Some(Poll::Pending) => {
                // A budget's yield may leave woken nodes and the next attempt of a retried
                // node to a later poll: it must have woken the task then (as a wake of a node
                // in the poll may have done too), and spent the budget, which counts polls of
                // nodes (each polls its node's future once or more; a stale wake polls none).
                let budget_spent = self.control.node_polls.get() - node_polls_before >= self.budget;
                let run_yielded =
                    self.yields && budget_spent && self.parent_wakes() != parent_before;
                if !run_yielded {
                    self.check_woken_were_polled()?;
                }
                if !self.yields {
                    self.check_retries_went_on()?;
                }
                self.stale_wakes(true)?;
                self.wake_a_parked_node(parent_before, run_yielded)?;
                self.stale_wakes(true)?;
                Ok(None)
            }
        }
    }

    /// Why the driver gave up on the run: it did not end in [`MAX_POLLS`] polls; which nodes
    /// had not finished, and which were parked.
    fn given_up(&self) -> String {
        let nodes = self.control.nodes.borrow();
        let unfinished: Vec<String> = nodes
            .iter()
            .enumerate()
            .filter(|(_, trace)| trace.finished.is_none())
            .map(|(index, trace)| {
                format!(
                    "{index} (started in poll {:?}, {} attempts, resumed: {})",
                    trace.started, trace.attempts, trace.resumed
                )
            })
            .collect();
        let parked: Vec<usize> = self
            .control
            .parked
            .borrow()
            .iter()
            .map(|&(index, _)| index)
            .collect();
        format!(
            "the run did not end in {MAX_POLLS} polls; unfinished nodes: {}; parked: {parked:?}",
            unfinished.join(", ")
        )
    }

    /// In a run with an armed task waker panic, or whose nodes drop their wakers
    /// ([`Control::drops_wakers`]), lets go of the nodes' wakers the driver keeps before it
    /// drops the run: the run is then alone with its waker block, and takes the task's wakers
    /// out without atomics (checking, in debug builds, that no wake left a cell of the slot
    /// held), and gives the block back to the DAG's pool.
    fn let_go_of_node_wakers(&mut self) {
        if self.tasks.plan.armed.is_none() && !self.control.drops_wakers.get() {
            return;
        }
        self.control.let_go_of_wakers();
    }

    /// Polls the run once: `None` if it panicked, as it had to (see [`Raised`]).
    fn poll_checked<F: Future + Unpin>(
        &mut self,
        run: &mut F,
        cx: &mut Context<'_>,
    ) -> Result<Option<Poll<F::Output>>, String> {
        self.control.raised.borrow_mut().clear();
        set_polling_node(None);
        set_running(Some(self.control.clone()));
        let (polled, fired) = self.tasks.plan.catching(|| Pin::new(&mut *run).poll(cx));
        set_running(None);
        let raised: Vec<Raised> = self.control.raised.borrow_mut().drain(..).collect();
        let catch = self.control.spec.catch_panics;
        let escaping = raised.iter().find(|raised| raised.escapes_poll(catch));
        let poll = self.polls;
        // The armed task waker panic came in this poll: out of the run's own call (the poll
        // panics with it), or of a node's poll (a node's own code records it as that node's
        // panic; one out of the core's code in a node's poll, a policy's yield, is that node's
        // panic too), whose wake is then lost.
        self.lost_wake |= fired.is_some();
        match (polled, escaping) {
            (Ok(polled), None) => {
                let unrecorded =
                    fired.filter(|message| !raised.iter().any(|raised| raised.message == *message));
                if let Some(message) = unrecorded {
                    if !catch {
                        return Err(format!(
                            "poll {poll} returned, but the task waker's panic {message:?} came \
                            in it and the run does not catch panics"
                        ));
                    }
                    let node = self.tasks.plan.node.load(Ordering::SeqCst);
                    self.control
                        .panicked_between_attempts(node, message)
                        .map_err(|problem| format!("poll {poll}: {problem}"))?;
                }
                Ok(Some(polled))
            }
            (Err(payload), Some(raised)) if panic_message(&*payload) == raised.message => Ok(None),
            (Err(payload), None) if fired.as_ref() == Some(&panic_message(&*payload)) => Ok(None),
            (Err(payload), escaping) => Err(format!(
                "poll {poll} panicked with {:?}; expected {:?}",
                panic_message(&*payload),
                escaping.map(|raised| &raised.message)
            )),
            (Ok(_), Some(raised)) => Err(format!(
                "poll {poll} returned, but {:?} ({:?}) should have come out of it",
                raised.message, raised.site
            )),
        }
    }

    /// A run whose poll panicked panics when polled again, saying so.
    fn check_poisoned<F: Future + Unpin>(
        &mut self,
        run: &mut F,
        cx: &mut Context<'_>,
    ) -> Result<(), String> {
        let again = expecting_core_panic(|| {
            catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *run).poll(cx)))
        });
        let ran = core::mem::take(&mut *self.control.raised.borrow_mut());
        if let Some(raised) = ran.first() {
            return Err(format!("polling a poisoned run ran a node: {raised:?}"));
        }
        self.control
            .check_violations(|| format!("polling the poisoned run after poll {}", self.polls))?;
        match again {
            Ok(_) => Err("polling a run again after its poll panicked did not panic".into()),
            Err(payload) => {
                let message = panic_message(&*payload);
                if message.starts_with("dagfut: ") && message.contains("panicked") {
                    Ok(())
                } else {
                    Err(format!("polling a poisoned run panicked with {message:?}"))
                }
            }
        }
    }

    /// Drops `value`, which must panic exactly if it holds the one value whose `Drop`
    /// panics. `owner`: whether it holds whatever futures and outputs are alive (a run, the
    /// outputs), or nothing (a run that resolved).
    pub(super) fn drop_checked<T>(
        &mut self,
        value: T,
        what: &str,
        owner: bool,
    ) -> Result<(), String> {
        let control = &self.control;
        let armed_alive = owner
            && match control.spec.drop_panic {
                Some(DropPanic::Future(node)) => {
                    let trace = &control.nodes.borrow()[node];
                    trace.started.is_some() && trace.future_drops == 0
                }
                Some(DropPanic::Output(node)) => {
                    let trace = &control.nodes.borrow()[node];
                    trace.outputs_made > trace.output_drops
                }
                None => false,
            };
        control.raised.borrow_mut().clear();
        // The armed task waker panic came in this drop (of the wakers the run took as it
        // ended): the drop panics with it.
        let (dropped, fired) = self.tasks.plan.catching(move || drop(value));
        let raised: Vec<Raised> = control.raised.borrow_mut().drain(..).collect();
        control.check_violations(|| format!("dropping {what} after poll {}", self.polls))?;
        match (dropped, raised.first()) {
            (Err(payload), None)
                if !armed_alive && fired.as_ref() == Some(&panic_message(&*payload)) =>
            {
                Ok(())
            }
            (Ok(()), None) if fired.is_some() => Err(format!(
                "dropping {what}: the task waker's panic {fired:?} came in it, and the drop \
                returned"
            )),
            (Ok(()), None) if !armed_alive => Ok(()),
            (Err(payload), Some(raised))
                if armed_alive && panic_message(&*payload) == raised.message =>
            {
                Ok(())
            }
            (Ok(()), _) if armed_alive => Err(format!(
                "dropping {what} did not drop the value that panics when dropped ({:?})",
                control.spec.drop_panic
            )),
            (dropped, raised) => Err(format!(
                "dropping {what}: {:?}, with the nodes' panics {raised:?}",
                dropped.map_err(|payload| panic_message(&*payload))
            )),
        }
    }

    /// Every node woken while parked was polled by the poll that just returned `Pending`.
    fn check_woken_were_polled(&self) -> Result<(), String> {
        let nodes = self.control.nodes.borrow();
        match nodes.iter().position(|trace| trace.resumed) {
            Some(index) => Err(format!(
                "node {index} was woken before poll {}, which did not poll it",
                self.polls
            )),
            None => Ok(()),
        }
    }

    /// An attempt that failed and was not its node's last is followed by the next in the same
    /// poll, or, if the node yielded (waking itself) to pass on its events, in the next one.
    fn check_retries_went_on(&self) -> Result<(), String> {
        let nodes = self.control.nodes.borrow();
        let late = nodes
            .iter()
            .position(|trace| trace.between.is_some_and(|failed| failed < self.polls));
        match late {
            Some(index) => Err(format!(
                "node {index}'s attempt {} failed in poll {:?}, and poll {} did not start the next",
                nodes[index].attempts, nodes[index].between, self.polls
            )),
            None => Ok(()),
        }
    }

    /// Wakes one parked node (maybe twice); the run's parent must have been woken since the
    /// start of the last poll (`parent_before` wakes then), so that it polls the run again.
    /// With no node parked, a node between two attempts must have woken it (it yielded), or
    /// the run itself, out of its poll budget (`run_yielded`: the last poll woke the task).
    fn wake_a_parked_node(
        &mut self,
        parent_before: usize,
        run_yielded: bool,
    ) -> Result<(), String> {
        let mut parked = self.control.parked.borrow_mut();
        if parked.is_empty() {
            let yielded = self
                .control
                .nodes
                .borrow()
                .iter()
                .any(|trace| trace.between.is_some());
            return match (yielded, self.parent_wakes() == parent_before) {
                (true, false) => Ok(()),
                // A budget's yield (which woke the task).
                (false, false) if run_yielded => Ok(()),
                // The task waker's panic lost the wake.
                (true, true) if self.lost_wake => Ok(()),
                (true, true) => Err(format!(
                    "poll {}: a node yielded between two attempts, and the run's parent was \
                     not woken",
                    self.polls
                )),
                (false, _) => Err(format!(
                    "poll {}: the run is pending but no node is parked",
                    self.polls
                )),
            };
        }
        let pick = self.schedule.pick(parked.len());
        let (index, waker) = parked.swap_remove(pick);
        drop(parked);
        self.control.nodes.borrow_mut()[index].resumed = true;
        if self.schedule.twice() {
            self.waking(|| waker.wake_by_ref())?;
        }
        self.deliver(waker)?;
        // A wake the task waker's panic lost (in the latest poll, or in a wake since) leaves
        // the run asleep until a later node wake makes the wake it owes (the wake stack holds
        // a task from then on, so only the first wake since a drain would wake the parent
        // otherwise).
        if (!self.lost_wake || self.woke_after_loss) && self.parent_wakes() == parent_before {
            return Err(format!(
                "waking node {index} after poll {} left the run asleep",
                self.polls
            ));
        }
        Ok(())
    }

    /// Sends the schedule's number of wakes to stored wakers: of finished nodes only (a
    /// stale wake) if `finished_only`, of any node otherwise.
    fn stale_wakes(&mut self, finished_only: bool) -> Result<(), String> {
        for _ in 0..self.schedule.stale_wakes() {
            let nodes = self.control.nodes.borrow();
            let candidates: Vec<&Waker> = nodes
                .iter()
                .filter(|trace| !finished_only || trace.finished.is_some())
                .filter_map(|trace| trace.waker.as_ref())
                .collect();
            if candidates.is_empty() {
                return Ok(());
            }
            let waker = candidates[self.schedule.pick(candidates.len())].clone();
            drop(nodes);
            self.deliver(waker)?;
        }
        Ok(())
    }

    /// Once the run is over (resolved or dropped), its wakers do nothing.
    fn wakes_after_the_run(&mut self) -> Result<(), String> {
        let before = self.all_parent_wakes();
        self.stale_wakes(false)?;
        if self.all_parent_wakes() != before {
            return Err("a wake after the run was over woke its parent".into());
        }
        Ok(())
    }

    fn deliver(&mut self, waker: Waker) -> Result<(), String> {
        let delivery = self.schedule.delivery();
        self.waking(move || delivery.wake(waker))
    }

    /// Runs `wake`, a node's wake between polls: it panics exactly if the armed task waker
    /// panic comes in it, with that panic (its wake is then lost).
    fn waking(&mut self, wake: impl FnOnce()) -> Result<(), String> {
        let (woke, fired) = self.tasks.plan.catching(wake);
        self.lost_wake |= fired.is_some();
        match (woke, fired) {
            (Ok(()), None) => {
                self.woke_after_loss |= self.lost_wake;
                Ok(())
            }
            (Err(payload), Some(message)) if panic_message(&*payload) == message => Ok(()),
            (woke, fired) => Err(format!(
                "a wake after poll {}: {:?}, while the task waker's armed panic {fired:?} came \
                in it",
                self.polls,
                woke.map_err(|payload| panic_message(&*payload))
            )),
        }
    }
}

impl Control {
    /// Everything the nodes saw that must not happen, as an error, saying `during` what.
    pub(super) fn check_violations(&self, during: impl FnOnce() -> String) -> Result<(), String> {
        let violations = self.violations.borrow();
        match violations.first() {
            Some(first) => Err(format!(
                "{}: {first} ({} problems in all)",
                during(),
                violations.len()
            )),
            None => Ok(()),
        }
    }
}
