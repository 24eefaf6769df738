//! The panics of misuse point at the user's line, not at dagfut's (`#[track_caller]` through
//! every layer, out-of-line panic helpers included): indexing outputs with a foreign handle or
//! a taken output, running a DAG that may time out with `run`, adding a node whose input is of
//! another DAG. One test, as the panic hook that records the location is process-wide.

use std::panic::{self, Location};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dagfut::{DagBuilder, Timer};
use futures_executor::block_on;

mod support;

async fn inc(x: &u64) -> u64 {
    x + 1
}

/// A timer whose sleeps never end (no node here waits for one).
#[derive(Clone)]
struct NeverFires;

impl Timer for NeverFires {
    type Sleep = std::future::Pending<()>;
    fn sleep(&self, _: Duration) -> Self::Sleep {
        std::future::pending()
    }
}

/// Uses a value (the expression under test is the argument).
fn touch<T>(_: &T) {}

/// The file and line where `f`'s panic was raised, and its message.
fn panic_site(f: impl FnOnce()) -> (String, u32, String) {
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let at = info.location().expect("a panic location");
        let message = support::panic_text(info.payload());
        *record.lock().unwrap() = Some((at.file().to_owned(), at.line(), message));
    }));
    let result = panic::catch_unwind(panic::AssertUnwindSafe(f));
    panic::set_hook(previous);
    assert!(result.is_err(), "no panic");
    let seen = seen.lock().unwrap().take();
    seen.expect("the hook saw the panic")
}

/// Asserts that `site` is at `line` of this file, with a message containing `says`.
#[track_caller]
fn assert_site(site: (String, u32, String), line: u32, says: &str) {
    let here = Location::caller().file();
    assert_eq!((site.0.as_str(), site.1), (here, line), "panic: {}", site.2);
    assert!(
        site.2.contains(says),
        "the message {:?} lacks {says:?}",
        site.2
    );
}

#[test]
fn misuse_panics_point_at_the_callers_line() {
    let b = DagBuilder::<u64>::new();
    let x = b.add_node(inc, b.param());
    let dag = Arc::new(b.build());
    let other = DagBuilder::<u64>::new();
    let foreign = other.add_node(inc, other.param());

    let mut out = block_on(dag.run(&1));
    let site = panic_site(|| touch(&out[foreign]));
    assert_site(site, line!() - 1, "handles of the DAG that produced them");
    out.take(x).unwrap();
    let site = panic_site(|| touch(&out[x]));
    assert_site(site, line!() - 1, "taken");

    let owned = block_on(dag.run_owned(1));
    let site = panic_site(|| touch(&owned[foreign]));
    assert_site(site, line!() - 1, "handles of the DAG that produced them");

    let third = DagBuilder::<u64>::new();
    let site = panic_site(|| touch(&third.add_node(inc, foreign)));
    assert_site(site, line!() - 1, "cannot add the node");

    let timed = DagBuilder::<u64>::new().with_timer(NeverFires);
    timed
        .timeout(Duration::from_secs(1))
        .add_node(inc, timed.param());
    let timed = Arc::new(timed.build());
    let site = panic_site(|| touch(&timed.run(&1)));
    assert_site(site, line!() - 1, "try_run");
    let site = panic_site(|| touch(&timed.run_owned(1)));
    assert_site(site, line!() - 1, "try_run");
}
