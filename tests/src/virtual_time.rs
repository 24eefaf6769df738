//! A virtual clock and an executor that advances it: time moves only when every future waits
//! for a timer, straight to the next deadline, so timings are exact and tests take no time.

use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::Mutex;

use dagfut::{Clock, Timer};

#[derive(Debug, Default)]
struct State {
    now: Duration,
    next_id: u64,
    /// The sleeps that wait: deadline, id, waker.
    sleepers: Vec<(Duration, u64, Waker)>,
}

/// The virtual clock's timer (a [`dagfut::Timer`]) and clock (a [`dagfut::Clock`]).
#[derive(Debug, Clone, Default)]
pub struct VirtualTimer(Arc<Mutex<State>>);

impl VirtualTimer {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }
}

impl Timer for VirtualTimer {
    type Sleep = VirtualSleep;

    fn sleep(&self, duration: Duration) -> VirtualSleep {
        let mut state = self.state();
        state.next_id += 1;
        VirtualSleep {
            timer: self.clone(),
            deadline: state.now.saturating_add(duration),
            id: state.next_id,
        }
    }
}

impl Clock for VirtualTimer {
    fn now(&self) -> Duration {
        self.state().now
    }
}

/// One sleep on the virtual clock.
#[derive(Debug)]
pub struct VirtualSleep {
    timer: VirtualTimer,
    deadline: Duration,
    id: u64,
}

impl Future for VirtualSleep {
    type Output = ();

    fn poll(self: core::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.timer.state();
        if state.now >= self.deadline {
            return Poll::Ready(());
        }
        let id = self.id;
        state.sleepers.retain(|(_, sleeper, _)| *sleeper != id);
        state.sleepers.push((self.deadline, id, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        let id = self.id;
        self.timer
            .state()
            .sleepers
            .retain(|(_, sleeper, _)| *sleeper != id);
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `future` to completion on this thread; whenever it waits with nothing woken, the
/// clock jumps to the earliest deadline and wakes its sleeps.
///
/// # Panics
/// If the future waits with nothing woken and no sleep pending: it would never complete.
pub fn block_on<F: Future>(timer: &VirtualTimer, future: F) -> F::Output {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        if flag.0.swap(false, Ordering::SeqCst) {
            continue;
        }
        let due: Vec<Waker> = {
            let mut state = timer.state();
            let next = state
                .sleepers
                .iter()
                .map(|(deadline, _, _)| *deadline)
                .min()
                .expect("the future waits, but nothing will wake it");
            state.now = next;
            let (due, waiting) = core::mem::take(&mut state.sleepers)
                .into_iter()
                .partition(|(deadline, _, _)| *deadline <= next);
            state.sleepers = waiting;
            due.into_iter().map(|(_, _, waker)| waker).collect()
        };
        due.into_iter().for_each(Waker::wake);
    }
}
