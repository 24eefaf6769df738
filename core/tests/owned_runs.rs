//! Owned runs and the `Dag`'s run cache at their edges (`owned.rs`, `cache.rs`, and how the
//! run, its slots and its waker block use them), from an outside audit: owned runs that
//! outlive their caller's `Arc`, wakers that outlive everything, runs of one `Dag` on several
//! threads at once sharing its cache, panics and leaks mid-run, a wake by value that frees the
//! block. Public API only; what matters is as much Miri's verdict as the asserts:
//!
//! ```text
//! cargo test -p dagfut --test owned_runs
//! MIRIFLAGS="-Zmiri-strict-provenance -Zmiri-symbolic-alignment-check" cargo +nightly miri test -p dagfut --test owned_runs
//! ```

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use dagfut::{DagBuilder, DagError};

mod support;

use support::{DropCounter, PanicsOnDrop, Token};

/// The system allocator, counting the frees that the current thread makes while asked to.
struct CountingFrees;

thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static FREES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

// SAFETY: every call goes to `System` unchanged.
unsafe impl std::alloc::GlobalAlloc for CountingFrees {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, memory: *mut u8, layout: std::alloc::Layout) {
        if COUNTING.try_with(std::cell::Cell::get).unwrap_or(false) {
            let _ = FREES.try_with(|frees| frees.set(frees.get() + 1));
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.dealloc(memory, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingFrees = CountingFrees;

/// How many frees this thread makes in `work`.
fn frees_in(work: impl FnOnce()) -> usize {
    FREES.with(|frees| frees.set(0));
    COUNTING.with(|on| on.set(true));
    work();
    COUNTING.with(|on| on.set(false));
    FREES.with(std::cell::Cell::get)
}

/// Where nodes leave clones of their wakers, for the test to keep past the run.
#[derive(Clone, Default)]
struct Parked(Arc<Mutex<Vec<Waker>>>);

impl Parked {
    fn take(&self) -> Vec<Waker> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A gate a node waits on: open, or not (its waker parked in `Parked`).
#[derive(Clone, Default)]
struct Gate {
    open: Arc<Mutex<bool>>,
    parked: Parked,
}

impl Gate {
    fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        std::future::poll_fn(move |cx| {
            if *self.open.lock().unwrap() {
                return Poll::Ready(());
            }
            self.parked.0.lock().unwrap().push(cx.waker().clone());
            Poll::Pending
        })
    }
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        for waker in self.parked.take() {
            waker.wake();
        }
    }
}

/// Pending once: keeps a clone of its waker in `keep`, and wakes itself.
fn yield_keeping(keep: &Parked) -> impl Future<Output = ()> + Send + '_ {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        keep.0.lock().unwrap().push(cx.waker().clone());
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// Pending once: at its first poll, hands its waker to `touch`, which must see that it is woken.
async fn pend_once(touch: impl FnOnce(&Waker)) {
    let mut touch = Some(touch);
    std::future::poll_fn(|cx| match touch.take() {
        None => Poll::Ready(()),
        Some(touch) => {
            touch(cx.waker());
            Poll::Pending
        }
    })
    .await;
}

/// A DAG of one node, `n + 1`, that pends once, keeping a clone of its waker in `kept`.
fn keeping_dag() -> (Parked, Arc<dagfut::Dag<u64>>, dagfut::Node<u64>) {
    let kept = Parked::default();
    let b = DagBuilder::<u64>::new();
    let node = b.add_node_with(
        kept.clone(),
        async |keep: &Parked, n: &u64| {
            yield_keeping(keep).await;
            n + 1
        },
        b.param(),
    );
    (kept, Arc::new(b.build()), node)
}

/// A DAG of one node, `n + 1`, that waits on the returned gate.
fn gated_dag() -> (Gate, Arc<dagfut::Dag<u64>>, dagfut::Node<u64>) {
    let gate = Gate::default();
    let b = DagBuilder::<u64>::new();
    let node = b.add_node_with(
        gate.clone(),
        async |gate: &Gate, n: &u64| {
            gate.wait().await;
            n + 1
        },
        b.param(),
    );
    (gate, Arc::new(b.build()), node)
}

fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// Consumes by value, dropping inside a call (Miri then checks no reference passed in is
/// still asserted while the drop frees what it points to).
fn consume<T>(value: T) {
    drop(value);
}

/// A node's waker kept past everything: the owned run, its outputs, and every `Arc` of the
/// DAG. Waking it afterwards (by reference, by value, from another thread) and dropping it is
/// sound and does nothing.
#[test]
fn a_node_waker_outlives_the_owned_run_its_outputs_and_the_dag() {
    let (kept, dag, node) = keeping_dag();
    let out = futures_executor::block_on(dag.run_owned(1));
    assert_eq!(out[node], 2);
    drop(dag);
    // The kept waker is the only thing left of the run's waker block; the DAG is still held by
    // `out` (and its state holds `kept`'s Arc).
    let wakers = kept.take();
    assert_eq!(wakers.len(), 1);
    consume(out); // the last `Arc<Dag>`: the DAG and its cache go here
    let waker = wakers.into_iter().next().unwrap();
    waker.wake_by_ref();
    let clone = waker.clone();
    std::thread::spawn(move || clone.wake()).join().unwrap();
    waker.wake();
}

/// As above, but the run is dropped mid-way (its node parked on a gate) on another thread
/// while the main thread wakes the parked waker; the DAG's last `Arc` is in the run.
#[test]
fn an_owned_run_dropped_on_another_thread_while_its_waker_is_woken() {
    let gate = Gate::default();
    let drops = DropCounter::default();
    let b = DagBuilder::<()>::new();
    let node = b.add_node_with(
        (gate.clone(), drops.clone()),
        async |(gate, drops): &(Gate, DropCounter), _: &()| {
            let token = drops.token();
            gate.wait().await;
            drop(token);
            1u32
        },
        b.param(),
    );
    let _ = node;
    let dag = Arc::new(b.build());
    let mut run = dag.run_owned(());
    drop(dag);
    assert!(poll_once(&mut run, Waker::noop()).is_pending());
    let wakers = gate.parked.take();
    assert_eq!(wakers.len(), 1);
    let waker = wakers.into_iter().next().unwrap();
    let dropper = std::thread::spawn(move || consume(run));
    waker.wake_by_ref();
    waker.wake_by_ref();
    dropper.join().unwrap();
    waker.wake();
    assert_eq!(drops.dropped(), 1, "the node future was dropped once");
}

/// Owned runs of one `Arc<Dag>` on several threads at once, each run's node yielding once
/// (so each run makes a waker block) with its waker also cloned from a scoped thread during
/// the node's poll (the proto waker's clone takes the cache's place from that thread). The
/// cache's two places are taken and put back by whichever run gets them, on any thread; the
/// outputs leave the threads and are dropped elsewhere.
#[test]
fn owned_runs_on_several_threads_share_the_cache() {
    let (threads, runs) = if cfg!(miri) { (3, 2) } else { (4, 50) };
    let b = DagBuilder::<u64>::new();
    let first = b.add_node(
        async |n: &u64| {
            // The proto waker cloned from another thread during this poll.
            pend_once(|waker| {
                std::thread::scope(|s| s.spawn(|| waker.clone()).join().unwrap()).wake()
            })
            .await;
            n + 1
        },
        b.param(),
    );
    let second = b.add_node(
        async |n: &u64| {
            // Woken from another thread, by value, after the poll returns.
            pend_once(|waker| {
                let waker = waker.clone();
                std::thread::spawn(move || waker.wake());
            })
            .await;
            n * 2
        },
        first,
    );
    let dag = Arc::new(b.build());
    let handles: Vec<_> = (0..threads as u64)
        .map(|t| {
            let dag = Arc::clone(&dag);
            std::thread::spawn(move || {
                (0..runs as u64)
                    .map(|r| {
                        let n = t * 1000 + r;
                        let out = futures_executor::block_on(dag.run_owned(n));
                        assert_eq!((out[first], out[second]), (n + 1, 2 * (n + 1)));
                        out
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    drop(dag);
    let outputs: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(outputs.len(), threads * runs);
    // The last `Arc` of the DAG goes with the last outputs, dropped on yet another thread.
    std::thread::spawn(move || drop(outputs)).join().unwrap();
    // Let the detached wakers' threads finish (under Miri, a thread still running at the end
    // is reported).
    #[cfg(miri)]
    for _ in 0..100 {
        std::thread::yield_now();
    }
}

/// A node future whose `Drop` panics, in an owned run that holds the last `Arc` of its DAG
/// and is dropped mid-way: the other futures and outputs are dropped once, the DAG (and its
/// cache) is freed while unwinding, after the run's block went back to it.
#[test]
fn a_panicking_node_drop_in_an_owned_run_holding_the_last_arc() {
    let gate = Gate::default();
    let drops = DropCounter::default();
    let b = DagBuilder::<()>::new();
    let done = b.add_node_with(
        drops.clone(),
        async |d: &DropCounter, _: &()| d.token(),
        b.param(),
    );
    b.add_node_with(
        (gate.clone(), drops.clone()),
        async |(gate, drops): &(Gate, DropCounter), _: &()| {
            let guard = PanicsOnDrop(drops.token());
            gate.wait().await;
            drop(guard);
        },
        b.param(),
    );
    b.add_node_with(
        (gate.clone(), drops.clone()),
        async |(gate, drops): &(Gate, DropCounter), t: &Token| {
            let _ = t;
            let token = drops.token();
            gate.wait().await;
            drop(token);
        },
        done,
    );
    let dag = Arc::new(b.build());
    let mut run = dag.run_owned(());
    drop(dag);
    assert!(poll_once(&mut run, Waker::noop()).is_pending());
    let wakers = gate.parked.take();
    assert_eq!(wakers.len(), 2);
    let result = catch_unwind(AssertUnwindSafe(|| consume(run)));
    assert!(result.is_err());
    // The panicking future's token, the other future's token, and `done`'s output.
    assert_eq!(drops.dropped(), 3);
    for waker in wakers {
        waker.wake();
    }
}

/// A node that panics in an owned run holding the last `Arc` of its DAG: the poll panics, a
/// poll after it panics clearly, and the drop frees everything (the DAG last).
#[test]
fn a_panicking_node_in_an_owned_run_holding_the_last_arc() {
    let kept = Parked::default();
    let drops = DropCounter::default();
    let b = DagBuilder::<u32>::new();
    b.add_node_with(
        drops.clone(),
        async |d: &DropCounter, _: &u32| d.token(),
        b.param(),
    );
    b.add_node_with(
        kept.clone(),
        async |keep: &Parked, n: &u32| {
            yield_keeping(keep).await;
            100 / n
        },
        b.param(),
    );
    let dag = Arc::new(b.build());
    let mut run = dag.run_owned(0);
    drop(dag);
    assert!(poll_once(&mut run, Waker::noop()).is_pending());
    let polled = catch_unwind(AssertUnwindSafe(|| poll_once(&mut run, Waker::noop())));
    assert!(polled.is_err());
    let again = catch_unwind(AssertUnwindSafe(|| poll_once(&mut run, Waker::noop())));
    assert!(again.is_err(), "a poisoned run panics when polled again");
    consume(run);
    assert_eq!(drops.dropped(), 1);
    for waker in kept.take() {
        waker.wake();
    }
}

/// `with_poll_budget(0)` (documented to panic) on an owned run that is mid-way: the running
/// node futures are dropped once, before the DAG and parameter that they borrow, which the
/// run holds the last `Arc`s of.
#[test]
fn a_refused_budget_on_a_running_owned_run_drops_everything_once() {
    let gate = Gate::default();
    let drops = DropCounter::default();
    let b = DagBuilder::<String>::new();
    b.add_node_with(
        (gate.clone(), drops.clone()),
        async |(gate, drops): &(Gate, DropCounter), p: &String| {
            let token = drops.token();
            gate.wait().await;
            drop(token);
            p.len()
        },
        b.param(),
    );
    let dag = Arc::new(b.build());
    let mut run = dag.run_owned("param".to_string());
    drop(dag);
    assert!(poll_once(&mut run, Waker::noop()).is_pending());
    let refused = catch_unwind(AssertUnwindSafe(move || drop(run.with_poll_budget(0))));
    assert!(refused.is_err());
    assert_eq!(drops.dropped(), 1);
    gate.open();
}

/// An observer set on an owned run that is mid-way moves the run (its waker queue with it)
/// while a waker of its block lives on another thread and wakes it: the run completes.
#[test]
fn an_owned_run_moved_by_with_observer_mid_way_still_hears_its_wakes() {
    struct Count(Arc<AtomicUsize>);
    impl dagfut::Observer for Count {
        fn on_event(&mut self, _: usize, _: dagfut::NodeEvent) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (gate, dag, node) = gated_dag();
    let mut run = dag.run_owned(41);
    assert!(poll_once(&mut run, Waker::noop()).is_pending());
    let events = Arc::new(AtomicUsize::new(0));
    let run = run.with_observer(Count(events.clone()));
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || gate.open())
    };
    let out = futures_executor::block_on(run);
    opener.join().unwrap();
    assert_eq!(out[node], 42);
    assert!(events.load(Ordering::SeqCst) > 0);
}

/// A run that another thread polls after the first polled it (the future is `Send`), its
/// node's waker woken from a third thread, then its outputs sent back: nothing is lost.
#[test]
fn an_owned_run_polled_on_two_threads_in_turn() {
    let gate = Gate::default();
    let b = DagBuilder::<u64>::new().with_error::<String>();
    let node = b.add_node_with(
        gate.clone(),
        async |gate: &Gate, n: &u64| {
            gate.wait().await;
            n * 3
        },
        b.param(),
    );
    let dag = Arc::new(b.build());
    let mut run = dag.try_run_owned(5);
    assert!(poll_once(&mut run, Waker::noop()).is_pending());
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || gate.open())
    };
    let out = std::thread::spawn(move || futures_executor::block_on(run))
        .join()
        .unwrap()
        .unwrap();
    opener.join().unwrap();
    assert_eq!(out[node], 15);
    assert_eq!(*out.param(), 5);
    assert!(Arc::ptr_eq(out.dag(), &dag));
}

/// The outputs of a settled owned run outlive the run, the caller's `Arc` and the errors, on
/// another thread; reading the parameter and a constant through them stays valid.
#[test]
fn owned_settled_outputs_outlive_everything_on_another_thread() {
    let b = DagBuilder::<String>::new().with_error::<String>();
    let name = b.add_constant(String::from("constant"));
    let failing = b.add_try_node(
        async |_: &String| Err::<u32, _>("no".to_string()),
        b.param(),
    );
    b.add_node(async |n: &u32| n + 1, failing);
    let len = b.add_node(
        async |p: &String, c: &String| p.len() + c.len(),
        (b.param(), name),
    );
    let dag = Arc::new(b.build());
    let param = dag.param();
    let settled = futures_executor::block_on(dag.run_settled_owned("abc".to_string()));
    drop(dag);
    let dagfut::OwnedSettled { outputs, errors } = settled;
    assert!(matches!(&errors[0], DagError::Failed { error, .. } if error == "no"));
    drop(errors);
    let (len_value, param_value, constant) = std::thread::spawn(move || {
        let read = (outputs[len], outputs[param].clone(), outputs[name].clone());
        consume(outputs);
        read
    })
    .join()
    .unwrap();
    assert_eq!(
        (len_value, param_value.as_str(), constant.as_str()),
        (11, "abc", "constant")
    );
}

/// Runs of one DAG, borrowed and owned, overlapping on one thread in every order with a node
/// waker kept past one of them: each run completes with its own parameter, whatever block it
/// found in the cache (a block kept alive by a waker is never handed to a later run).
#[test]
fn overlapping_owned_and_borrowed_runs_with_kept_wakers() {
    let kept = Parked::default();
    let b = DagBuilder::<u64>::new();
    let node = b.add_node_with(
        kept.clone(),
        async |keep: &Parked, n: &u64| {
            yield_keeping(keep).await;
            n * 10
        },
        b.param(),
    );
    let dag = Arc::new(b.build());
    let mut a = dag.run_owned(1);
    assert!(poll_once(&mut a, Waker::noop()).is_pending());
    let mut b_run = dag.run(&2);
    assert!(poll_once(&mut b_run, Waker::noop()).is_pending());
    // `a` holds both places; `b_run` has its own blocks.
    let out_a = futures_executor::block_on(a);
    let out_b = futures_executor::block_on(b_run);
    assert_eq!((out_a[node], out_b[node]), (10, 20));
    // Two wakers kept: neither block went back to the cache.
    assert_eq!(kept.len(), 2);
    for round in 0..3u64 {
        let out = futures_executor::block_on(dag.run_owned(round));
        assert_eq!(out[node], round * 10);
        // Wake every kept waker, old ones included: stale, ignored.
        for waker in kept.0.lock().unwrap().iter() {
            waker.wake_by_ref();
        }
    }
    drop((out_a, out_b));
    drop(dag);
    drop(kept.take());
}

/// An owned run leaked with `mem::forget` mid-way keeps its DAG, parameter and blocks: its
/// node's waker (alive elsewhere) stays valid, and later runs of the DAG complete on memory
/// of their own. (Not under Miri: the leak is on purpose.)
#[test]
#[cfg_attr(miri, ignore)]
fn a_forgotten_owned_run_keeps_its_waker_valid_and_later_runs_work() {
    let (gate, dag, node) = gated_dag();
    let mut run = dag.run_owned(1);
    assert!(poll_once(&mut run, Waker::noop()).is_pending());
    std::mem::forget(run);
    let wakers = gate.parked.take();
    assert_eq!(wakers.len(), 1);
    drop(dag);
    for waker in &wakers {
        waker.wake_by_ref();
    }
    drop(wakers);
    let b = DagBuilder::<u64>::new();
    let node2 = b.add_node(async |n: &u64| n + 2, b.param());
    let dag = Arc::new(b.build());
    let mut run = dag.run_owned(1);
    assert!(poll_once(&mut run, Waker::noop()).is_ready());
    std::mem::forget(run);
    for n in 0..3 {
        assert_eq!(futures_executor::block_on(dag.run_owned(n))[node2], n + 2);
    }
    let _ = node;
}

/// Threads racing to clone one node's proto waker during its poll (each clone may make a
/// waker block; one wins, the others give theirs back: to the DAG's cache if they took its
/// place, else freed), while owned runs of the same DAG on other threads take and leave the
/// cache's places. Every run completes; Miri checks the hand-overs for races.
#[test]
fn racing_proto_clones_across_concurrent_owned_runs() {
    let (threads, runs) = if cfg!(miri) { (2, 2) } else { (4, 100) };
    let b = DagBuilder::<u64>::new();
    let node = b.add_node(
        async |n: &u64| {
            pend_once(|waker| {
                let clones: Vec<Waker> = std::thread::scope(|s| {
                    let racers: Vec<_> = (0..2).map(|_| s.spawn(|| waker.clone())).collect();
                    let own = waker.clone();
                    let mut clones: Vec<Waker> =
                        racers.into_iter().map(|r| r.join().unwrap()).collect();
                    clones.push(own);
                    clones
                });
                assert!(clones.iter().all(|c| c.will_wake(&clones[0])), "one block");
                // One wake by value; the rest dropped (their block goes back only if none is
                // left when the run ends).
                clones.into_iter().next().unwrap().wake();
            })
            .await;
            n + 7
        },
        b.param(),
    );
    let dag = Arc::new(b.build());
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let dag = &dag;
            s.spawn(move || {
                for r in 0..runs as u64 {
                    let n = t * 1000 + r;
                    assert_eq!(futures_executor::block_on(dag.run_owned(n))[node], n + 7);
                }
            });
        }
    });
}

/// A node waker woken *by value* when it is the last reference of its block (its run ended
/// with the waker alive elsewhere) frees the block inside `Waker::wake`, as its drop would; by
/// reference it frees nothing (as `waker.rs` and the README say: an interrupt handler whose
/// allocator must not be called wakes by reference).
#[test]
fn waking_the_last_node_waker_by_value_frees_its_block() {
    let (kept, dag, node) = keeping_dag();
    assert_eq!(futures_executor::block_on(dag.run_owned(1))[node], 2);
    let waker = kept.take().pop().unwrap();
    assert_eq!(
        frees_in(|| waker.wake_by_ref()),
        0,
        "a wake by reference frees nothing"
    );
    assert_eq!(
        frees_in(|| waker.wake()),
        1,
        "the wake by value freed the waker block"
    );
}
