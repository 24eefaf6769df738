//! Counts the allocations and bytes of one run, with a counting global allocator, for DAGs of
//! growing size: a run's allocations do not grow with the node count.
//!
//! ```text
//! cargo run --release -p dagfut-benches --example allocations
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use dagfut_benches::{chain, wide};
use futures_executor::block_on;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size(), Relaxed);
        // SAFETY: the caller's contract for `alloc` is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn measure(run: impl FnOnce()) -> (usize, usize) {
    let (a, b) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
    run();
    (ALLOCATIONS.load(Relaxed) - a, BYTES.load(Relaxed) - b)
}

fn main() {
    println!("| shape | nodes | allocations per run | bytes per run | bytes per node |");
    println!("|---|---|---|---|---|");
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let (dag, total) = wide(n);
        let (allocations, bytes) = measure(|| {
            assert_eq!(block_on(dag.run(&1))[total], n as u64);
        });
        let nodes = dag.task_count();
        println!(
            "| wide | {nodes} | {allocations} | {bytes} | {:.1} |",
            bytes as f64 / nodes as f64
        );
    }
    for n in [1_000usize, 100_000] {
        let (dag, last) = chain(n);
        let (allocations, bytes) = measure(|| {
            assert_eq!(block_on(dag.run(&0))[last], n as u64);
        });
        println!(
            "| chain | {n} | {allocations} | {bytes} | {:.1} |",
            bytes as f64 / n as f64
        );
    }
}
