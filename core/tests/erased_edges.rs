//! The type-erased core at its edges (an outside audit's cases): zero-sized and over-aligned
//! futures and outputs sharing the arena, list and optional inputs (empty lists, a failed
//! node taken both ways), `Outputs` misused, drops and error conversions that panic, `!Send`
//! outputs of a local DAG, one DAG run on several threads, `!Unpin` futures in a run future
//! that moves, and a run leaked with `mem::forget`. Each is a case safe code can produce; they
//! pass natively and under Miri (the leak is ignored there).

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use dagfut::{DagBuilder, LocalDagBuilder, OutputError};
use futures_executor::block_on;
use support::{DropCounter, PanicsOnDrop, Token, Trigger};

// --- Layouts: ZSTs, over-aligned values and futures, sharing the arena --------------------

/// A zero-sized output with a drop that counts.
struct Zst;
static ZST_DROPS: AtomicUsize = AtomicUsize::new(0);
impl Drop for Zst {
    fn drop(&mut self) {
        ZST_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// A zero-sized future yielding a zero-sized output: its slot has size 0, so it shares its
/// address with the next task's slot.
struct ZstFuture;
impl Future for ZstFuture {
    type Output = Zst;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Zst> {
        Poll::Ready(Zst)
    }
}

#[repr(align(4096))]
#[derive(Debug, Clone, PartialEq)]
struct Page([u8; 8]);

#[repr(align(256))]
struct AlignedFuture(u8, Option<Token>);
impl Future for AlignedFuture {
    type Output = Page;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Page> {
        assert_eq!(
            (&*self as *const Self as usize) % 256,
            0,
            "future misaligned"
        );
        if self.0 == 0 {
            self.0 = 1;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.1 = None;
        Poll::Ready(Page([7; 8]))
    }
}

#[test]
fn zst_and_over_aligned_slots_share_the_arena_soundly() {
    ZST_DROPS.store(0, Ordering::SeqCst);
    let tokens = DropCounter::default();
    let b = DagBuilder::<u64>::new();
    let t = b.add_constant(tokens.clone());
    let z0 = b.add_node(|_: &u64| ZstFuture, b.param());
    let page = b.add_node(|t: &DropCounter| AlignedFuture(0, Some(t.token())), t);
    let z1 = b.add_node(|_: &Zst| ZstFuture, z0);
    let n = b.add_node(
        async |p: &Page, _: &Zst, _: &Zst, x: &u64| {
            assert_eq!((p as *const Page as usize) % 4096, 0);
            p.0[0] as u64 + x
        },
        (page, z0, z1, b.param()),
    );
    // A list of zero-sized values and an empty list.
    let zs = b.add_node(async |zs: &[&Zst]| zs.len(), vec![z0, z1, z0]);
    let none = b.add_node(
        async |xs: &[&Page], ys: &[&u64]| xs.len() + ys.len(),
        (
            Vec::<dagfut::Node<Page>>::new(),
            [] as [dagfut::Node<u64>; 0],
        ),
    );
    let dag = b.build();
    for round in 0..3u64 {
        let mut out = block_on(dag.run(&round));
        assert_eq!(out[n], 7 + round);
        assert_eq!(out[zs], 3);
        assert_eq!(out[none], 0);
        assert_eq!(out[page], Page([7; 8]));
        assert_eq!((&out[page] as *const Page as usize) % 4096, 0);
        let _z: Zst = out.take(z0).unwrap();
        assert!(matches!(out.take(z0), Err(OutputError::Taken { .. })));
        let p: Page = out.take(page).unwrap();
        assert_eq!(p, Page([7; 8]));
    }
    // Two ZST outputs in each of the three runs, each dropped once (taken or with the
    // outputs).
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 6);
    assert_eq!(tokens.dropped(), 3);
}

// --- Lists and optional inputs --------------------------------------------------------------

#[test]
fn lists_mixed_with_optional_inputs_of_failed_nodes() {
    let b = DagBuilder::<u32>::new().with_error::<String>();
    let ok = b.add_try_node(async |n: &u32| Ok::<_, String>(*n), b.param());
    let bad = b.add_try_node(async |_: &u32| Err::<u32, _>("no".to_string()), b.param());
    let skipped = b.add_node(async |n: &u32| *n, bad); // skipped after `bad`
    let list = vec![ok, ok, b.param()];
    let f = b.add_node(
        async |a: &[&u32],
               o: Option<&u32>,
               e: &[&u32],
               p: Option<&u32>,
               s: Option<&u32>,
               last: &[&u32]| {
            (
                a.iter().map(|x| **x).sum::<u32>(),
                o.copied(),
                e.len(),
                p.copied(),
                s.copied(),
                last.len(),
            )
        },
        (
            list,
            bad.optional(),
            Vec::<dagfut::Node<u32>>::new(),
            b.param().optional(),
            skipped.optional(),
            vec![ok; 5],
        ),
    );
    let dag = b.build();
    let settled = block_on(dag.run_settled(&4));
    assert_eq!(settled.outputs[f], (12, None, 0, Some(4), None, 5));
    assert_eq!(settled.errors.len(), 1);
    // Under try_run, `bad` is needed by `skipped`: the run stops.
    assert!(block_on(dag.try_run(&4)).is_err());
}

#[test]
fn the_same_node_twice_once_optional_and_once_required() {
    // One dependent takes the failing node both ways: it must be skipped, whatever the order.
    for optional_first in [false, true] {
        let b = DagBuilder::<u32>::new().with_error::<String>();
        let bad = b.add_try_node(async |_: &u32| Err::<u32, _>("no".to_string()), b.param());
        let d = if optional_first {
            b.add_node(async |_: Option<&u32>, _: &u32| 1u32, (bad.optional(), bad))
        } else {
            b.add_node(async |_: &u32, _: Option<&u32>| 1u32, (bad, bad.optional()))
        };
        let after = b.add_node(async |x: Option<&u32>| x.copied(), d.optional());
        let dag = b.build();
        let settled = block_on(dag.run_settled(&0));
        assert!(settled.outputs.get(d).is_err());
        assert_eq!(settled.outputs[after], None);
    }
}

// --- Outputs ------------------------------------------------------------------------------

#[test]
fn outputs_take_get_and_foreign_handles() {
    let b = DagBuilder::<u32>::new();
    let c = b.add_constant(String::from("c"));
    let x = b.add_node(async |n: &u32| n.to_string(), b.param());
    let y = b.add_node(async |s: &String| s.len(), x);
    let dag = b.build();
    let other = DagBuilder::<u32>::new();
    let foreign = other.add_node(async |n: &u32| n.to_string(), other.param());
    let mut out = block_on(dag.run(&42));
    assert!(matches!(
        out.get(foreign),
        Err(OutputError::ForeignNode { .. })
    ));
    assert!(matches!(
        out.take(foreign),
        Err(OutputError::ForeignNode { .. })
    ));
    assert!(matches!(out.take(c), Err(OutputError::NotOwned { .. })));
    assert!(matches!(
        out.take(dag.param()),
        Err(OutputError::NotOwned { .. })
    ));
    assert!(matches!(
        out.take_many((x, y, x)),
        Err(OutputError::Taken { .. })
    ));
    assert_eq!(out.len(), 2);
    let (s, n) = out.take_many((x, y)).unwrap();
    assert_eq!((s.as_str(), n), ("42", 2));
    assert!(out.is_empty());
    assert!(matches!(out.take(x), Err(OutputError::Taken { .. })));
    assert!(catch_unwind(AssertUnwindSafe(|| out[x].len())).is_err());
    assert_eq!(out[c], "c");
    assert_eq!(out[dag.param()], 42);
}

/// An output whose drop panics: the other outputs are still dropped once, and the block is
/// freed or kept (Miri reports a leak otherwise).
#[test]
fn an_output_whose_drop_panics_leaves_nothing_behind() {
    let tokens = DropCounter::default();
    let b = DagBuilder::<()>::new();
    let t = b.add_constant(tokens.clone());
    b.add_node(async |t: &DropCounter| t.token(), t);
    b.add_node(async |t: &DropCounter| PanicsOnDrop(t.token()), t);
    b.add_node(async |t: &DropCounter| t.token(), t);
    let dag = b.build();
    let out = block_on(dag.run(&()));
    assert!(catch_unwind(AssertUnwindSafe(|| drop(out))).is_err());
    assert_eq!(tokens.dropped(), 3);
    // The DAG still runs (its block came back or was freed).
    let out = block_on(dag.run(&()));
    assert!(catch_unwind(AssertUnwindSafe(|| drop(out))).is_err());
    assert_eq!(tokens.dropped(), 6);
}

// --- Futures that misbehave in drop or after completion ---------------------------------------

/// Reads its input in Drop, then panics there: the drop that `poll_task` runs right after the
/// future returned `Ready` (a hand-written future, so that the panic is in its `Drop`, not in
/// the `async` body, where rustc leaks the return value: rust-lang/rust#47949).
struct ReadsThenPanics<'a>(&'a String, &'a DropCounter);
impl Future for ReadsThenPanics<'_> {
    type Output = Result<Token, String>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Ok(self.1.token()))
    }
}
impl Drop for ReadsThenPanics<'_> {
    fn drop(&mut self) {
        assert_eq!(self.0, "input");
        panic!("future drop");
    }
}

#[test]
fn a_future_whose_drop_panics_at_completion_under_catch_panics() {
    let tokens = DropCounter::default();
    let b = DagBuilder::<()>::new().with_error::<String>();
    let t = b.add_constant(tokens.clone());
    let s = b.add_node(async |_: &()| String::from("input"), b.param());
    fn bomb_node<'a>(s: &'a String, t: &'a DropCounter) -> ReadsThenPanics<'a> {
        ReadsThenPanics(s, t)
    }
    let bomb = b.add_try_node(bomb_node, (s, t));
    let after = b.add_node(async |_: &Token| 1u32, bomb);
    let side = b.add_node(async |t: &DropCounter| t.token(), t);
    let dag = b.build();
    let error = block_on(dag.try_run(&()).catch_panics()).unwrap_err();
    assert!(
        matches!(error, dagfut::DagError::Panicked { .. }),
        "{error:?}"
    );
    // The value the failed node produced was dropped during the unwind; `side`'s with the run.
    assert_eq!(tokens.dropped(), 2);
    let settled = block_on(dag.run_settled(&()).catch_panics());
    assert!(settled.outputs.get(after).is_err());
    assert!(settled.outputs.get(side).is_ok());
    assert_eq!(settled.errors.len(), 1);
    drop(settled);
    assert_eq!(tokens.dropped(), 4);
    // Without catching: the panic comes out of `poll`; the run is dropped after.
    let r = catch_unwind(AssertUnwindSafe(|| block_on(dag.try_run(&()))));
    assert!(r.is_err());
    assert_eq!(tokens.dropped(), 6);
}

#[test]
fn a_try_node_whose_error_conversion_panics() {
    #[derive(Debug)]
    struct Mine;
    struct Boom;
    impl From<Boom> for Mine {
        fn from(_: Boom) -> Mine {
            panic!("conversion");
        }
    }
    let tokens = DropCounter::default();
    let b = DagBuilder::<()>::new().with_error::<Mine>();
    let t = b.add_constant(tokens.clone());
    let keep = b.add_node(async |t: &DropCounter| t.token(), t);
    let bad = b.add_try_node(
        async |_: &Token, t: &DropCounter| {
            let _held = t.token();
            Err::<u32, Boom>(Boom)
        },
        (keep, t),
    );
    b.add_node(async |_: &u32| 0u8, bad);
    let dag = b.build();
    let error = block_on(dag.try_run(&()).catch_panics()).unwrap_err();
    assert!(matches!(error, dagfut::DagError::Panicked { .. }));
    assert_eq!(tokens.dropped(), 2);
    let settled = block_on(dag.run_settled(&()).catch_panics());
    assert_eq!(settled.errors.len(), 1);
    drop(settled);
    assert_eq!(tokens.dropped(), 4);
}

// --- Local DAGs: `!Send` outputs, capturing closures ----------------------------------------

#[test]
fn local_dag_with_rc_outputs_and_capturing_closures() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let log = Rc::new(RefCell::new(Vec::new()));
    let b = LocalDagBuilder::<u32>::new();
    let l = log.clone();
    let x = b.add_node(
        async move |n: &u32| {
            l.borrow_mut().push(*n);
            Rc::new(*n)
        },
        b.param(),
    );
    let l2 = log.clone();
    let y = b.add_node(
        async move |a: &Rc<u32>, list: &[&Rc<u32>]| {
            support::YieldNow::default().await;
            l2.borrow_mut().push(**a + list.len() as u32);
            Rc::clone(a)
        },
        (x, vec![x, x]),
    );
    let dag = b.build();
    let mut out = block_on(dag.run(&5));
    let rc = out.take(y).unwrap();
    assert_eq!(Rc::strong_count(&rc), 2);
    drop(out);
    assert_eq!(Rc::strong_count(&rc), 1);
    assert_eq!(*log.borrow(), [5, 7]);
}

#[test]
fn the_same_dag_run_on_several_threads_with_list_and_optional_inputs() {
    let b = DagBuilder::<u64>::new();
    let roots: Vec<_> = (0..70)
        .map(|i| b.add_node_with(i, async |i: &u64, p: &u64| p * i, b.param()))
        .collect();
    let sum = b.add_node(
        async |xs: &[&u64], o: Option<&u64>| {
            xs.iter().copied().sum::<u64>() + o.copied().unwrap_or(0)
        },
        (roots.clone(), roots[1].optional()),
    );
    let dag = Arc::new(b.build());
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let dag = dag.clone();
            std::thread::spawn(move || {
                for r in 0..2 {
                    let p = t * 10 + r;
                    let out = block_on(dag.run(&p));
                    assert_eq!(out[sum], p * (69 * 70 / 2) + p);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

// --- `!Unpin` futures in a run future that moves; interior mutability through inputs --------

/// Records its address at its first poll and checks it at every later poll and in Drop.
struct Pinned {
    at: usize,
    polls: u32,
    _pin: std::marker::PhantomPinned,
}
impl Future for Pinned {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        // SAFETY: nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let here = this as *mut Pinned as usize;
        if this.at == 0 {
            this.at = here;
        }
        assert_eq!(this.at, here, "a pinned node future moved");
        this.polls += 1;
        if this.polls < 3 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(here)
    }
}
impl Drop for Pinned {
    fn drop(&mut self) {
        if self.at != 0 {
            let here = self as *mut Pinned as usize;
            assert_eq!(self.at, here, "moved before its drop");
        }
    }
}

#[test]
fn pinned_node_futures_stay_put_while_the_run_future_moves() {
    let b = LocalDagBuilder::<std::cell::Cell<u32>>::new();
    let p = b.add_node(
        |_: &std::cell::Cell<u32>| Pinned {
            at: 0,
            polls: 0,
            _pin: std::marker::PhantomPinned,
        },
        b.param(),
    );
    let cell = b.add_node(async |_: &usize| std::cell::Cell::new(0u32), p);
    // Two dependents write the same input through its `Cell`, interleaved, and the parameter's.
    for _ in 0..2 {
        b.add_node(
            async |c: &std::cell::Cell<u32>, param: &std::cell::Cell<u32>| {
                c.set(c.get() + 1);
                support::YieldNow::default().await;
                c.set(c.get() + 10);
                param.set(param.get() + 1);
            },
            (cell, b.param()),
        );
    }
    let dag = b.build();
    let param = std::cell::Cell::new(0);
    let poller = support::Poller::new();
    // The run future moves between two places at each poll.
    let mut places = [Some(dag.run(&param)), None];
    let mut at = 0;
    let out = loop {
        let run = places[at].as_mut().expect("the run is here");
        if let Poll::Ready(out) = poller.poll(run) {
            break out;
        }
        places[1 - at] = places[at].take();
        at = 1 - at;
    };
    assert_ne!(out[p], 0);
    assert_eq!(out[cell].get(), 22);
    assert_eq!(param.get(), 2);
}

// --- Leaking a run ----------------------------------------------------------------------------

#[test]
#[cfg_attr(miri, ignore)] // the leak is on purpose
fn a_forgotten_run_then_dropped_dag_touches_nothing() {
    let trigger = Trigger::default();
    let b = DagBuilder::<String>::new();
    let trig = b.add_constant(trigger.clone());
    let x = b.add_node(
        async |s: &String, t: &Trigger| {
            t.wait().await;
            s.len()
        },
        (b.param(), trig),
    );
    let dag = b.build();
    let param = String::from("abc");
    let poller = support::Poller::new();
    let mut run = dag.run(&param);
    assert!(poller.poll(&mut run).is_pending());
    std::mem::forget(run);
    // A later run allocates its own block.
    trigger.fire();
    let out = block_on(dag.run(&param));
    assert_eq!(out[x], 3);
    drop(out);
    drop(param);
    drop(dag);
    // A late wake of the forgotten run's node touches only the waker block.
    trigger.wake();
}
