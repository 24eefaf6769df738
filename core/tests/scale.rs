//! Depth and width: a 1,000,000-node chain and a 100,000-wide fan-in run and drop without
//! overflowing the stack (scaled down under Miri).

mod support;

use dagfut::DagBuilder;
use support::{YieldNow, scaled};

async fn inc(n: &u64) -> u64 {
    n + 1
}

async fn inc_pending(n: &u64) -> u64 {
    YieldNow::default().await;
    n + 1
}

async fn one(_: &()) -> u64 {
    1
}

async fn sum(xs: &[&u64]) -> u64 {
    xs.iter().copied().sum()
}

#[test]
fn a_chain_of_a_million_nodes_runs_and_drops() {
    let length = scaled(1_000_000, 200);
    let b = DagBuilder::<u64>::new();
    let mut last = b.param();
    for _ in 0..length {
        last = b.add_node(inc, last);
    }
    let dag = b.build();
    let out = futures_executor::block_on(dag.run(&0));
    assert_eq!(out[last], length as u64);
    drop(out);
    drop(dag);
}

#[test]
fn a_long_chain_of_pending_nodes_runs_and_drops_midway() {
    let length = scaled(100_000, 100);
    let b = DagBuilder::<u64>::new();
    let mut last = b.param();
    for _ in 0..length {
        last = b.add_node(inc_pending, last);
    }
    let dag = b.build();
    let out = futures_executor::block_on(dag.run(&0));
    assert_eq!(out[last], length as u64);
    // Dropped half-way through: every started future and finished output goes.
    let mut run = dag.run(&0);
    let poller = support::Poller::new();
    for _ in 0..length {
        assert!(poller.poll(&mut run).is_pending());
    }
    drop(run);
}

#[test]
fn a_fan_in_of_a_hundred_thousand_nodes_runs_and_drops() {
    let width = scaled(100_000, 300);
    let b = DagBuilder::<()>::new();
    let leaves: Vec<_> = (0..width).map(|_| b.add_node(one, b.param())).collect();
    let total = b.add_node(sum, leaves);
    let dag = b.build();
    let out = futures_executor::block_on(dag.run(&()));
    assert_eq!(out[total], width as u64);
}
