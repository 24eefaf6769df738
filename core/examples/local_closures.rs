//! A `LocalDagBuilder` whose nodes are async closures that capture state: an `Rc` cache and a
//! `RefCell` log, neither of which is `Send`. Runs on a single-threaded executor.
//!
//! ```text
//! cargo run -p dagfut --example local_closures
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use dagfut::LocalDagBuilder;

fn main() {
    let cache: Rc<RefCell<HashMap<u32, u32>>> = Rc::default();
    let log: Rc<RefCell<Vec<String>>> = Rc::default();

    let b = LocalDagBuilder::<u32>::new();
    let (cache_in, log_in) = (cache.clone(), log.clone());
    // A closure that captures: it reads and fills the cache across runs.
    let squared = b.named("squared").add_node(
        async move |n: &u32| {
            if let Some(hit) = cache_in.borrow().get(n) {
                log_in.borrow_mut().push(format!("cache hit for {n}"));
                return *hit;
            }
            let value = n * n;
            cache_in.borrow_mut().insert(*n, value);
            log_in.borrow_mut().push(format!("computed {n}² = {value}"));
            value
        },
        b.param(),
    );
    let log_in = log.clone();
    let labelled = b.named("label").add_node(
        async move |n: &u32, square: &u32| {
            log_in.borrow_mut().push(format!("labelled {n}"));
            format!("{n}² = {square}")
        },
        (b.param(), squared),
    );
    let dag = b.build();

    let executor = smol::LocalExecutor::new();
    for n in [3, 4, 3] {
        let out = smol::block_on(executor.run(dag.run(&n)));
        println!("{}", out[labelled]);
    }
    for line in log.borrow().iter() {
        println!("log: {line}");
    }
    assert_eq!(
        cache.borrow().len(),
        2,
        "3 was computed once, then read from the cache"
    );
}
