//! The seed DAG of async-dag's README on a microcontroller: QEMU's `lm3s6965evb` (a Cortex-M3),
//! the embassy executor, a SysTick time driver and a 32 KiB heap.
//!
//! It prints the outputs, when `slow_b` started (100 ms: the moment `fast_a` was done, not when
//! the slower `slow_a` was), the run's elapsed time on the board's clock (1200 ms: the critical
//! path fast_a → slow_b → end; one join per layer would take 1700), then a run that fails with a
//! timeout, then a node policy: a sensor read that does not answer within its timeout
//! ([`EmbassyTimer`]) falls back to the last good reading (`or_node`), so the display still
//! shows a value. It exits QEMU over semihosting; `run-qemu.sh` checks what it printed.

#![no_std]
#![no_main]

extern crate alloc;

mod time_driver;

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use dagfut::{Clock, LocalDagBuilder, NodeEvent, Observer};
use dagfut_embassy::{EmbassyClock, EmbassyTimer, Timeout};
use embassy_executor::Executor;
use embassy_time::{Duration, Instant, Timer};
use embedded_alloc::LlffHeap as Heap;

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// The heap's size: the DAG, a run's arena and its node futures live there.
const HEAP_BYTES: usize = 32 * 1024;

async fn inc(_name: &&'static str, delay: &Duration, n: &u32) -> u32 {
    Timer::after(*delay).await;
    n + 1
}

async fn add(_name: &&'static str, delay: &Duration, a: &u32, b: &u32) -> u32 {
    Timer::after(*delay).await;
    a + b
}

/// Stamps each node's start with the board's clock.
struct StartTimes {
    clock: EmbassyClock,
    started_ms: Vec<Option<u64>>,
}

impl Observer for StartTimes {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        if event == NodeEvent::Started {
            self.started_ms[task] = Some(self.clock.now().as_millis() as u64);
        }
    }
}

async fn sense(delay: &Duration) -> Result<u32, Timeout> {
    let work = async {
        Timer::after(*delay).await;
        7
    };
    dagfut_embassy::timeout("sense", Duration::from_millis(20), work).await
}

/// The last good reading of the temperature sensor, in °C (a real driver stores each one).
static LAST_CELSIUS: AtomicU32 = AtomicU32::new(21);

/// How long the sensor's read node has before it counts as failed.
const SENSOR_TIMEOUT_MS: u64 = 50;

/// A read of the sensor that never answers in time: the bus transfer takes longer than the
/// node's timeout, so the policy drops it.
async fn read_sensor(_: &()) -> Result<u32, &'static str> {
    Timer::after(Duration::from_millis(10 * SENSOR_TIMEOUT_MS)).await;
    let celsius = 23;
    LAST_CELSIUS.store(celsius, Ordering::Relaxed);
    Ok(celsius)
}

/// The last good reading: the sensor node's fallback.
async fn last_value(_: &()) -> u32 {
    LAST_CELSIUS.load(Ordering::Relaxed)
}

/// What the display shows: the reading, or the last good one.
async fn display(celsius: &u32) -> u32 {
    *celsius
}

/// The policy demo: `sensor` times out on the board's clock and `display` gets `last_value`'s
/// reading instead.
async fn sensor_with_fallback() {
    let b = LocalDagBuilder::<()>::new()
        .with_error::<&'static str>()
        .with_timer(EmbassyTimer);
    let last = b.named("last_value").add_node(last_value, b.param());
    let reading = b
        .named("sensor")
        .timeout(core::time::Duration::from_millis(SENSOR_TIMEOUT_MS))
        .or_node(last)
        .add_try_node(read_sensor, b.param());
    let shown = b.named("display").add_node(display, reading);
    let dag = b.build();

    let started = Instant::now();
    let settled = dag.run_settled(&()).await;
    let elapsed = started.elapsed();
    let celsius = settled.outputs[shown];
    match settled.errors.first() {
        Some(error) if error.is_timeout() => {
            hprintln!("sensor: timed out, using the last value {}", celsius);
            hprintln!("sensor: recorded: {}", error);
        }
        Some(error) => hprintln!("sensor: failed: {}", error),
        None => hprintln!("sensor: read {}", celsius),
    }
    hprintln!("sensor: displayed after {} ms", elapsed.as_millis());
}

#[embassy_executor::task]
async fn seed() {
    let ms = Duration::from_millis;
    let b = LocalDagBuilder::<u32>::new();
    let fast_a = b.add_node(
        inc,
        (b.add_constant("fast_a"), b.add_constant(ms(100)), b.param()),
    );
    let slow_b = b.add_node(
        inc,
        (b.add_constant("slow_b"), b.add_constant(ms(1000)), fast_a),
    );
    let slow_a = b.add_node(
        inc,
        (b.add_constant("slow_a"), b.add_constant(ms(500)), b.param()),
    );
    let fast_b = b.add_node(
        inc,
        (b.add_constant("fast_b"), b.add_constant(ms(100)), b.param()),
    );
    let fast_c = b.add_node(
        add,
        (
            b.add_constant("fast_c"),
            b.add_constant(ms(100)),
            slow_a,
            fast_b,
        ),
    );
    let end = b.add_node(
        add,
        (
            b.add_constant("end"),
            b.add_constant(ms(100)),
            fast_c,
            slow_b,
        ),
    );
    let dag = b.build();

    let started = Instant::now();
    let mut starts = StartTimes {
        clock: EmbassyClock::new(),
        started_ms: vec![None; dag.task_count()],
    };
    let out = dag.run(&0).with_observer(&mut starts).await;
    let elapsed = started.elapsed();
    hprintln!("fast_a = {}", out[fast_a]);
    hprintln!("slow_b = {}", out[slow_b]);
    hprintln!("end = {}", out[end]);
    hprintln!(
        "slow_b started at {} ms",
        starts.started_ms[1].unwrap_or(u64::MAX)
    );
    hprintln!("elapsed = {} ms", elapsed.as_millis());

    let b = LocalDagBuilder::<Duration>::new().with_error::<Timeout>();
    b.named("sense").add_try_node(sense, b.param());
    let dag = b.build();
    match dag.try_run(&Duration::from_secs(3600)).await {
        Ok(_) => hprintln!("timeout: none"),
        Err(error) => hprintln!("timeout: {}", error),
    }

    sensor_with_fallback().await;
    debug::exit(debug::EXIT_SUCCESS);
}

#[entry]
fn main() -> ! {
    // SAFETY: called once, first thing, before anything allocates.
    unsafe {
        embedded_alloc::init!(HEAP, HEAP_BYTES);
    }
    let peripherals = cortex_m::Peripherals::take().unwrap();
    time_driver::start(peripherals.SYST);
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
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
