//! Shapes and workloads shared by the benchmarks.

use dagfut::{Dag, DagBuilder, Node, NodeEvent, Observer};

async fn leaf(n: &u64) -> u64 {
    *n
}

async fn sum(values: &[&u64]) -> u64 {
    values.iter().copied().fold(0, |a, b| a.wrapping_add(*b))
}

async fn inc(n: &u64) -> u64 {
    n.wrapping_add(1)
}

async fn add(a: &u64, b: &u64) -> u64 {
    a.wrapping_add(*b)
}

/// `width` independent nodes and one node taking all of them: every node ready on its first
/// poll.
pub fn wide(width: usize) -> (Dag<u64>, Node<u64>) {
    let b = DagBuilder::<u64>::new();
    let leaves: Vec<_> = (0..width).map(|_| b.add_node(leaf, b.param())).collect();
    let total = b.add_node(sum, leaves);
    (b.build(), total)
}

/// A chain of `length` nodes.
pub fn chain(length: usize) -> (Dag<u64>, Node<u64>) {
    let b = DagBuilder::<u64>::new();
    let mut last = b.param();
    for _ in 0..length {
        last = b.add_node(inc, last);
    }
    (b.build(), last)
}

/// `layers` layers of `width` nodes, each taking two nodes of the layer before (a fixed
/// pattern, no randomness): the shape of real pipelines.
pub fn layered(layers: usize, width: usize) -> (Dag<u64>, Vec<Node<u64>>) {
    let b = DagBuilder::<u64>::new();
    let mut layer: Vec<_> = (0..width).map(|_| b.add_node(leaf, b.param())).collect();
    for depth in 1..layers {
        layer = (0..width)
            .map(|i| b.add_node(add, (layer[i], layer[(i * 7 + depth) % width])))
            .collect();
    }
    (b.build(), layer)
}

/// An observer that counts events: the cost of a real observer.
#[derive(Debug, Default)]
pub struct CountEvents(pub [u64; 5]);

impl Observer for CountEvents {
    fn on_event(&mut self, _task: usize, event: NodeEvent) {
        let slot = match event {
            NodeEvent::Started => 0,
            NodeEvent::Pending => 1,
            NodeEvent::Woken => 2,
            NodeEvent::Completed => 3,
            NodeEvent::Failed => 4,
        };
        self.0[slot] += 1;
    }
}
