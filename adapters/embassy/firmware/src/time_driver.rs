//! embassy-time's driver for this board: SysTick interrupts once a millisecond, counting ticks
//! and waking the timers that are due.
//!
//! The timer queue is embassy's *generic* one: it stores any waker, which dagfut needs (each
//! node is polled with a waker of its own, not the embassy task's).

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::queue_generic::ConstGenericQueue;

/// The SysTick clock: QEMU's lm3s6965evb runs the core at 12 MHz.
const CORE_HZ: u32 = 12_000_000;
/// Ticks a second (embassy-time's `tick-hz-1_000` feature).
const TICK_HZ: u32 = 1_000;
/// Timers pending at once, at most: one per node awaiting a timer, with room to spare.
const TIMERS: usize = 16;

struct SysTickDriver {
    /// Milliseconds since `start`.
    ticks: Mutex<Cell<u64>>,
    timers: Mutex<RefCell<ConstGenericQueue<TIMERS>>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    timers: Mutex::new(RefCell::new(ConstGenericQueue::new())),
});

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut timers = self.timers.borrow(cs).borrow_mut();
            timers.schedule_wake(at, waker);
            // A timer already due is woken now rather than at the next tick.
            timers.next_expiration(self.ticks.borrow(cs).get());
        });
    }
}

/// Starts the millisecond interrupt.
pub fn start(mut syst: SYST) {
    syst.set_reload(CORE_HZ / TICK_HZ - 1);
    syst.clear_current();
    syst.set_clock_source(SystClkSource::Core);
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let ticks = DRIVER.ticks.borrow(cs);
        ticks.set(ticks.get() + 1);
        DRIVER
            .timers
            .borrow(cs)
            .borrow_mut()
            .next_expiration(ticks.get());
    });
}
