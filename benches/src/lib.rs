//! Shapes and workloads shared by the benchmarks.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

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

/// Collects the wakers of pending futures, and wakes them all in a shuffled (seeded) order:
/// the driver of the pend-once workload, so that no timer cost is measured.
#[derive(Debug, Clone, Default)]
pub struct Driver(Arc<Mutex<Vec<Waker>>>);

impl Driver {
    /// Wakes every stored waker, in an order shuffled by `seed`; returns how many.
    pub fn wake_all(&self, seed: &mut u64) -> usize {
        let mut wakers = std::mem::take(&mut *self.0.lock().unwrap());
        for i in (1..wakers.len()).rev() {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            wakers.swap(i, (*seed % (i as u64 + 1)) as usize);
        }
        let count = wakers.len();
        wakers.into_iter().for_each(Waker::wake);
        count
    }
}

/// A future that stores its waker with the driver and returns `Pending` once.
#[derive(Debug)]
pub struct PendOnce<'d> {
    driver: &'d Driver,
    polled: bool,
}

impl<'d> PendOnce<'d> {
    /// Pending until the driver wakes it.
    pub fn new(driver: &'d Driver) -> Self {
        PendOnce {
            driver,
            polled: false,
        }
    }
}

impl Future for PendOnce<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            return Poll::Ready(());
        }
        self.polled = true;
        self.driver.0.lock().unwrap().push(cx.waker().clone());
        Poll::Pending
    }
}

async fn pend_leaf(driver: &Driver) -> u64 {
    PendOnce::new(driver).await;
    1
}

/// `width` nodes that each return `Pending` once, and one node taking all of them.
pub fn wide_pending(width: usize, driver: &Driver) -> (Dag<u64>, Node<u64>) {
    let b = DagBuilder::<u64>::new();
    let d = b.add_constant(driver.clone());
    let leaves: Vec<_> = (0..width).map(|_| b.add_node(pend_leaf, d)).collect();
    let total = b.add_node(sum, leaves);
    (b.build(), total)
}

/// Polls `future` with a no-op waker; between polls the driver wakes every parked future
/// in a shuffled order. Returns the output.
pub fn drive<F: Future + Unpin>(mut future: F, driver: &Driver, seed: &mut u64) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = Pin::new(&mut future).poll(&mut cx) {
            return output;
        }
        driver.wake_all(seed);
    }
}
