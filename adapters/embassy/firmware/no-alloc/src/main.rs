//! The seed DAG of async-dag's README as a `dag!`, on QEMU's `lm3s6965evb` (a Cortex-M3) with
//! **no allocator linked**: no heap, no `#[global_allocator]`, dagfut without its `alloc`
//! feature. The run is one future whose size is known at compile time, in the task's own
//! static memory.
//!
//! It prints the outputs, when `slow_b` started (100 ms), the run's elapsed time (1200 ms),
//! the size of the run's future, and a run of a fallible node failing fast; `../run-qemu.sh`
//! checks what it printed.

#![no_std]
#![no_main]

#[path = "../../src/time_driver.rs"]
mod time_driver;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use dagfut::{NodeEvent, Observer};
use embassy_executor::Executor;
use embassy_time::{Duration, Instant, Timer};

async fn inc(_name: &str, delay_ms: u64, n: &u32) -> u32 {
    Timer::after(Duration::from_millis(delay_ms)).await;
    n + 1
}

async fn add(_name: &str, delay_ms: u64, a: &u32, b: &u32) -> u32 {
    Timer::after(Duration::from_millis(delay_ms)).await;
    a + b
}

async fn sense(limit_ms: &u64) -> Result<u32, &'static str> {
    Timer::after(Duration::from_millis(*limit_ms)).await;
    Err("the sensor did not answer")
}

/// When each node started, in ms on the board's clock: a fixed array, no allocation.
struct StartTimes {
    origin: Instant,
    started_ms: [u64; 6],
}

impl Observer for StartTimes {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        if event == NodeEvent::Started {
            self.started_ms[task] = self.origin.elapsed().as_millis();
        }
    }
}

#[embassy_executor::task]
async fn seed() {
    let seed = dagfut::dag! {
        async |p: &u32| -> (end, fast_a, slow_b) {
            fast_a(p) = inc("fast_a", 100, p);
            slow_b(fast_a) = inc("slow_b", 1000, fast_a);
            slow_a(p) = inc("slow_a", 500, p);
            fast_b(p) = inc("fast_b", 100, p);
            fast_c(slow_a, fast_b) = add("fast_c", 100, slow_a, fast_b);
            end(fast_c, slow_b) = add("end", 100, fast_c, slow_b);
        }
    };
    let started = Instant::now();
    let mut starts = StartTimes {
        origin: started,
        started_ms: [u64::MAX; 6],
    };
    let run = seed.run_with(&0, &mut starts);
    let bytes = core::mem::size_of_val(&run);
    let (end, fast_a, slow_b) = run.await;
    let elapsed = started.elapsed();
    hprintln!("fast_a = {}", fast_a);
    hprintln!("slow_b = {}", slow_b);
    hprintln!("end = {}", end);
    hprintln!("slow_b started at {} ms", starts.started_ms[1]);
    hprintln!("elapsed = {} ms", elapsed.as_millis());
    hprintln!("seed future = {} bytes", bytes);

    let guarded = dagfut::dag! {
        async |limit: &u64| -> (reading) or &'static str {
            reading(limit) = try sense(limit);
        }
    };
    match guarded.try_run(&20).await {
        Ok((reading,)) => hprintln!("sense: {}", reading),
        Err(failed) => hprintln!("sense: {}", failed),
    }
    debug::exit(debug::EXIT_SUCCESS);
}

#[entry]
fn main() -> ! {
    let peripherals = cortex_m::Peripherals::take().unwrap();
    time_driver::start(peripherals.SYST);
    let executor = cortex_m::singleton!(: Executor = Executor::new()).unwrap();
    executor.run(|spawner| spawner.spawn(seed().unwrap()))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
