//! dagfut and the code people write by hand, on any [`Shape`].
//!
//! Every contender runs the same node functions ([`crate::node`]) and returns the last node's
//! output, so the benchmarks can check they computed the same thing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use dagfut::{Dag, DagBuilder, Node};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::node::{Owned, many, n1, n2, n3, n4, node_by_arity, owned_node};
use crate::shape::Shape;

/// A shape built as a dagfut DAG in mode `M`, with the handle of its last node.
#[derive(Debug)]
pub struct DagfutShape {
    /// The DAG.
    pub dag: Dag<u64>,
    /// The last node.
    pub last: Node<u64>,
}

impl DagfutShape {
    /// Builds `shape`: nodes of 1 to 4 inputs take a tuple, larger ones a list.
    pub fn build<const M: u8>(shape: &Shape) -> Self {
        let b = DagBuilder::<u64>::new();
        let param = b.param();
        let mut nodes: Vec<Node<u64>> = Vec::with_capacity(shape.len());
        for inputs in &shape.inputs {
            let at = |i: usize| nodes[inputs[i] as usize];
            let node = match inputs.len() {
                0 => b.add_node(n1::<M>, param),
                1 => b.add_node(n1::<M>, at(0)),
                2 => b.add_node(n2::<M>, (at(0), at(1))),
                3 => b.add_node(n3::<M>, (at(0), at(1), at(2))),
                4 => b.add_node(n4::<M>, (at(0), at(1), at(2), at(3))),
                _ => {
                    let list: Vec<Node<u64>> = inputs.iter().map(|&i| nodes[i as usize]).collect();
                    b.add_node(many::<M>, list)
                }
            };
            nodes.push(node);
        }
        let last = *nodes.last().expect("a shape has at least one node");
        DagfutShape {
            dag: b.build(),
            last,
        }
    }

    /// One run; resolves to the last node's output.
    pub async fn run(&self, param: u64) -> u64 {
        self.dag.run(&param).await[self.last]
    }
}

/// What the baselines precompute from a shape once (the structure a programmer would write
/// into the code by hand): layers, and dependents with counters.
#[derive(Debug)]
pub struct Plan {
    /// The shape.
    pub shape: Shape,
    /// Nodes by depth.
    pub layers: Vec<Vec<u32>>,
    /// Where each node's dependents start in `dependents` (length `len + 1`).
    pub dependents_start: Vec<u32>,
    /// Each node's dependents, once per edge.
    pub dependents: Vec<u32>,
}

impl Plan {
    /// Precomputes the layers and dependents of `shape`.
    pub fn new(shape: &Shape) -> Self {
        let (dependents_start, dependents) = shape.dependents();
        Plan {
            shape: shape.clone(),
            layers: shape.layers(),
            dependents_start,
            dependents,
        }
    }

    fn dependents_of(&self, node: u32) -> &[u32] {
        let node = node as usize;
        &self.dependents
            [self.dependents_start[node] as usize..self.dependents_start[node + 1] as usize]
    }

    /// The common hand-written way: one `futures::future::join_all` per layer, each layer
    /// waiting for the whole layer before it, as a user writes it for a graph given as data:
    /// the futures of a layer are one `async fn` ([`node_by_arity`]) borrowing the earlier
    /// layers' outputs from a `Vec<u64>` indexed by node, where each layer's outputs are then
    /// stored. Nothing is boxed or wrapped.
    pub async fn join_all_per_layer<const M: u8>(&self, param: u64) -> u64 {
        let inputs = &self.shape.inputs;
        let mut values = vec![0u64; inputs.len()];
        for layer in &self.layers {
            let outputs = futures::future::join_all(
                layer
                    .iter()
                    .map(|&node| node_by_arity::<M>(&inputs[node as usize], &values, &param)),
            )
            .await;
            for (&node, value) in layer.iter().zip(outputs) {
                values[node as usize] = value;
            }
        }
        values.last().copied().unwrap_or(0)
    }

    /// The best hand-written schedule without a library: a `FuturesUnordered` and a counter
    /// of remaining inputs per node; a node is pushed the moment its counter reaches zero.
    pub async fn futures_unordered<const M: u8>(&self, param: u64) -> u64 {
        let inputs = &self.shape.inputs;
        let mut remaining: Vec<u32> = inputs.iter().map(|i| i.len() as u32).collect();
        let mut values = vec![0u64; inputs.len()];
        let mut running = FuturesUnordered::new();
        for (node, node_inputs) in inputs.iter().enumerate() {
            if node_inputs.is_empty() {
                running.push(owned_node::<M>(node as u32, Owned::One(param)));
            }
        }
        while let Some((node, value)) = running.next().await {
            self.complete(
                node,
                value,
                &mut values,
                &mut remaining,
                param,
                |dependent, inputs| running.push(owned_node::<M>(dependent, inputs)),
            );
        }
        values.last().copied().unwrap_or(0)
    }

    /// Records `node`'s `value` and counts down its dependents; hands each dependent whose
    /// last input this was, with its gathered inputs, to `start`.
    fn complete(
        &self,
        node: u32,
        value: u64,
        values: &mut [u64],
        remaining: &mut [u32],
        param: u64,
        mut start: impl FnMut(u32, Owned),
    ) {
        values[node as usize] = value;
        for &dependent in self.dependents_of(node) {
            let count = &mut remaining[dependent as usize];
            *count -= 1;
            if *count == 0 {
                start(
                    dependent,
                    Owned::gather(&self.shape.inputs[dependent as usize], values, param),
                );
            }
        }
    }

    /// A tokio task per node (`JoinSet`), scheduled with the same counters as
    /// [`futures_unordered`](Self::futures_unordered): call inside a runtime.
    pub async fn joinset<const M: u8>(&self, param: u64) -> u64 {
        let inputs = &self.shape.inputs;
        let mut remaining: Vec<u32> = inputs.iter().map(|i| i.len() as u32).collect();
        let mut values = vec![0u64; inputs.len()];
        let mut set = tokio::task::JoinSet::new();
        for (node, node_inputs) in inputs.iter().enumerate() {
            if node_inputs.is_empty() {
                set.spawn(owned_node::<M>(node as u32, Owned::One(param)));
            }
        }
        while let Some(joined) = set.join_next().await {
            let (node, value) = joined.expect("node tasks do not panic");
            self.complete(
                node,
                value,
                &mut values,
                &mut remaining,
                param,
                |dependent, inputs| {
                    set.spawn(owned_node::<M>(dependent, inputs));
                },
            );
        }
        values.last().copied().unwrap_or(0)
    }

    /// The same node futures with no edges (their inputs all `param`), in futures-buffered's
    /// `join_all` (the best flat join): the floor for a scheduler's bookkeeping. Returns the
    /// last node's output, which here is not the DAG's.
    pub async fn flat_join<const M: u8>(&self, param: u64) -> u64 {
        let inputs = &self.shape.inputs;
        let values = vec![param; inputs.len()];
        let outputs = futures_buffered::join_all(
            inputs
                .iter()
                .map(|node_inputs| node_by_arity::<M>(node_inputs, &values, &param)),
        )
        .await;
        outputs.last().copied().unwrap_or(0)
    }

    /// The same node futures as [`flat_join`](Self::flat_join), boxed and prebuilt, borrowing
    /// `inputs` (from [`FloorInputs::new`]): the input of [`poll_each_once`].
    pub fn boxed_futures<'a>(&'a self, inputs: &'a FloorInputs) -> Vec<BoxedNode<'a>> {
        self.shape
            .inputs
            .iter()
            .map(|node_inputs| {
                Box::pin(node_by_arity::<{ crate::node::READY }>(
                    node_inputs,
                    &inputs.values,
                    &inputs.param,
                )) as BoxedNode<'a>
            })
            .collect()
    }
}

/// The inputs the prebuilt futures of the polling floor borrow: every input the parameter.
#[derive(Debug)]
pub struct FloorInputs {
    param: u64,
    values: Vec<u64>,
}

impl FloorInputs {
    /// Every input `param`, for the nodes of `plan`.
    pub fn new(plan: &Plan, param: u64) -> Self {
        FloorInputs {
            param,
            values: vec![param; plan.shape.len()],
        }
    }
}

/// A node future, boxed.
pub type BoxedNode<'a> = Pin<Box<dyn Future<Output = u64> + 'a>>;

/// The physical floor of any shape: one poll of each prebuilt future (all ready on their
/// first poll), nothing else.
pub fn poll_each_once(futures: &mut [BoxedNode<'_>]) -> u64 {
    let mut cx = Context::from_waker(Waker::noop());
    let mut last = 0;
    for future in futures {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            last = value;
        }
    }
    last
}

/// The floor of a chain ([`Shape::chain`] of `length` nodes): a loop of `.await`s in one
/// future, each node awaiting the one before, as a user writes a sequence. No scheduler, no
/// allocation: one state machine that polls each node in turn.
pub async fn chain_await_loop<const M: u8>(length: usize, param: u64) -> u64 {
    let mut value = param;
    for _ in 0..length {
        value = n1::<M>(&value).await;
    }
    value
}

/// The seed graph ([`Shape::seed`]) as a `dagfut::dag!`: fixed at compile time, no allocation,
/// its nodes' futures and outputs in one future.
#[allow(clippy::type_complexity)] // the macro's async closure, whose type has no name
pub fn seed_dag_macro<const M: u8>() -> dagfut::fixed::StaticDag<
    impl AsyncFn(
        &u64,
        dagfut::fixed::Control<'_>,
    ) -> dagfut::fixed::Report<(Option<u64>,), core::convert::Infallible, 6>,
> {
    dagfut::dag! {
        async |p: &u64| -> (end) {
            fast_a(p) = n1::<M>(p);
            slow_b(fast_a) = n1::<M>(fast_a);
            slow_a(p) = n1::<M>(p);
            fast_b(p) = n1::<M>(p);
            fast_c(slow_a, fast_b) = n2::<M>(slow_a, fast_b);
            end(fast_c, slow_b) = n2::<M>(fast_c, slow_b);
        }
    }
}

/// The floor of the seed graph ([`Shape::seed`]): the hand-shaped nested `join!`, one async
/// block per chain, as a user writes a small graph fixed at compile time (the optimal
/// schedule, one stack-allocated state machine):
///
/// ```text
/// let (slow_b, fast_c) = join!(
///     async { let fast_a = fast_a(p).await; slow_b(&fast_a).await },
///     async { let (slow_a, fast_b) = join!(slow_a(p), fast_b(p)); fast_c(&slow_a, &fast_b).await },
/// );
/// end(&fast_c, &slow_b).await
/// ```
pub async fn seed_nested_join<const M: u8>(param: u64) -> u64 {
    let p = &param;
    let (slow_b, fast_c) = futures::join!(
        async {
            let fast_a = n1::<M>(p).await;
            n1::<M>(&fast_a).await
        },
        async {
            let (slow_a, fast_b) = futures::join!(n1::<M>(p), n1::<M>(p));
            n2::<M>(&slow_a, &fast_b).await
        },
    );
    n2::<M>(&fast_c, &slow_b).await
}
