//! The other Rust DAG crates, on the shapes they can express.
//!
//! - `dagx` 0.3: a task takes at most 8 dependencies, so a node of more inputs (the wide
//!   shape's sink) cannot be written; a runner runs once (its tasks are consumed), so each
//!   measured run gets a freshly built graph; it needs a spawner (tokio here).
//! - `async_dag` 0.1.2: a task takes at most 12 arguments, by value; a graph runs once too.

use async_dag::Graph;
use dagx::{DagRunner, Task, TaskHandle, task};

use crate::node::{READY, n1, n2, n3, n4};
use crate::shape::Shape;

/// A dagx root: holds the parameter.
#[derive(Debug)]
struct Root(u64);

#[task]
impl Root {
    async fn run(&mut self) -> u64 {
        n1::<READY>(&self.0).await
    }
}

/// A dagx node of one input.
#[derive(Debug)]
struct One;

#[task]
impl One {
    async fn run(a: &u64) -> u64 {
        n1::<READY>(a).await
    }
}

/// A dagx node of two inputs.
#[derive(Debug)]
struct Two;

#[task]
impl Two {
    async fn run(a: &u64, b: &u64) -> u64 {
        n2::<READY>(a, b).await
    }
}

/// A dagx node of three inputs.
#[derive(Debug)]
struct Three;

#[task]
impl Three {
    async fn run(a: &u64, b: &u64, c: &u64) -> u64 {
        n3::<READY>(a, b, c).await
    }
}

/// A dagx node of four inputs.
#[derive(Debug)]
struct Four;

#[task]
impl Four {
    async fn run(a: &u64, b: &u64, c: &u64, d: &u64) -> u64 {
        n4::<READY>(a, b, c, d).await
    }
}

/// A shape built for dagx, ready to run once.
#[allow(missing_debug_implementations)] // dagx's runner has no `Debug`
pub struct DagxShape {
    runner: DagRunner,
    last: TaskHandle<u64>,
}

impl DagxShape {
    /// Whether dagx can express `shape` (at most 4 inputs per node here; dagx's limit is 8).
    pub fn supports(shape: &Shape) -> bool {
        shape.max_fan_in() <= 4
    }

    /// Builds `shape` (see [`supports`](Self::supports)).
    pub fn build(shape: &Shape, param: u64) -> Self {
        let runner = DagRunner::new();
        let mut nodes: Vec<TaskHandle<u64>> = Vec::with_capacity(shape.len());
        for inputs in &shape.inputs {
            let at = |i: usize| &nodes[inputs[i] as usize];
            let node: TaskHandle<u64> = match inputs.len() {
                0 => runner.add_task(Root(param)).into(),
                1 => runner.add_task(One).depends_on(at(0)),
                2 => runner.add_task(Two).depends_on((at(0), at(1))),
                3 => runner.add_task(Three).depends_on((at(0), at(1), at(2))),
                4 => runner
                    .add_task(Four)
                    .depends_on((at(0), at(1), at(2), at(3))),
                n => panic!("dagx shapes here take at most 4 inputs, not {n}"),
            };
            nodes.push(node);
        }
        let last = nodes.pop().expect("a shape has at least one node");
        DagxShape { runner, last }
    }

    /// Runs the graph on the current tokio runtime (one task spawned per node) and returns
    /// the last node's output.
    pub async fn run(self) -> u64 {
        self.runner
            .run(|future| {
                tokio::spawn(future);
            })
            .await
            .expect("dagx run");
        self.runner.get(self.last).expect("dagx output")
    }
}

async fn a0<const M: u8>(param: u64) -> u64 {
    n1::<M>(&param).await
}

async fn a1<const M: u8>(a: u64) -> u64 {
    n1::<M>(&a).await
}

async fn a2<const M: u8>(a: u64, b: u64) -> u64 {
    n2::<M>(&a, &b).await
}

async fn a3<const M: u8>(a: u64, b: u64, c: u64) -> u64 {
    n3::<M>(&a, &b, &c).await
}

async fn a4<const M: u8>(a: u64, b: u64, c: u64, d: u64) -> u64 {
    n4::<M>(&a, &b, &c, &d).await
}

/// A shape built for async_dag, ready to run once.
#[allow(missing_debug_implementations)] // async_dag's graph has no `Debug`
pub struct AsyncDagShape {
    graph: Graph<'static>,
    last: async_dag::NodeIndex,
}

impl AsyncDagShape {
    /// Whether async_dag can express `shape` (at most 4 inputs per node here; its limit is 12).
    pub fn supports(shape: &Shape) -> bool {
        shape.max_fan_in() <= 4
    }

    /// Builds `shape` in node mode `M` (see [`supports`](Self::supports)).
    pub fn build<const M: u8>(shape: &Shape, param: u64) -> Self {
        let mut graph = Graph::new();
        let mut nodes = Vec::with_capacity(shape.len());
        for inputs in &shape.inputs {
            let node = match inputs.len() {
                0 => graph.add_task(move || a0::<M>(param)),
                1 => graph.add_task(a1::<M>),
                2 => graph.add_task(a2::<M>),
                3 => graph.add_task(a3::<M>),
                4 => graph.add_task(a4::<M>),
                n => panic!("async_dag shapes here take at most 4 inputs, not {n}"),
            };
            for (position, &input) in inputs.iter().enumerate() {
                graph
                    .update_dependency(nodes[input as usize], node, position as u8)
                    .unwrap_or_else(|_| panic!("async_dag edge"));
            }
            nodes.push(node);
        }
        let last = *nodes.last().expect("a shape has at least one node");
        AsyncDagShape { graph, last }
    }

    /// Runs the graph (one future, any executor) and returns the last node's output.
    pub async fn run(mut self) -> u64 {
        self.graph.run().await;
        self.graph
            .get_value::<u64>(self.last)
            .expect("async_dag output")
    }
}
