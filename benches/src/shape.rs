//! Graph shapes, described once and built by every contender.

/// A DAG as plain data: node `i`'s inputs are `inputs[i]`, indices of earlier nodes (so the
/// order is topological). A node with no inputs takes the run's parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// A short name, used in benchmark ids.
    pub name: String,
    /// Each node's inputs, in order; empty means "the parameter".
    pub inputs: Vec<Vec<u32>>,
}

/// A xorshift64 generator: fixed seeds, the same graph and wake order on every machine.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

impl Shape {
    /// How many nodes.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether the shape has no node.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The largest number of inputs of one node.
    pub fn max_fan_in(&self) -> usize {
        self.inputs.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// The graph of the seed library's README (async-dag): `fast_a → slow_b`, `slow_a` and
    /// `fast_b → fast_c`, then `end` taking `fast_c` and `slow_b`. Node order: `fast_a`,
    /// `slow_b`, `slow_a`, `fast_b`, `fast_c`, `end`.
    pub fn seed() -> Self {
        Shape {
            name: "seed".into(),
            inputs: vec![vec![], vec![0], vec![], vec![], vec![2, 3], vec![4, 1]],
        }
    }

    /// A chain of `length` nodes, each taking the one before.
    pub fn chain(length: usize) -> Self {
        Shape {
            name: "chain".into(),
            inputs: (0..length)
                .map(|i| if i == 0 { vec![] } else { vec![i as u32 - 1] })
                .collect(),
        }
    }

    /// `width` independent nodes and one node taking all of them (a list input).
    pub fn wide(width: usize) -> Self {
        let mut inputs = vec![vec![]; width];
        inputs.push((0..width as u32).collect());
        Shape {
            name: "wide".into(),
            inputs,
        }
    }

    /// One node and `width` nodes each taking it.
    pub fn fan_out(width: usize) -> Self {
        let mut inputs = vec![vec![]];
        inputs.extend((0..width).map(|_| vec![0]));
        Shape {
            name: "fan_out".into(),
            inputs,
        }
    }

    /// A random layered DAG of `nodes` nodes: layers of about `sqrt(nodes)` nodes, each
    /// node after the first layer taking 1 to 4 distinct nodes of the layer before, drawn by
    /// a generator seeded with `seed`.
    pub fn layered(nodes: usize, seed: u64) -> Self {
        let mut random = XorShift::new(seed);
        let width = (nodes as f64).sqrt().ceil().max(1.0) as usize;
        let mut inputs = Vec::with_capacity(nodes);
        let mut previous = 0..0u32;
        while inputs.len() < nodes {
            let start = inputs.len() as u32;
            let count = width.min(nodes - inputs.len());
            for _ in 0..count {
                if previous.is_empty() {
                    inputs.push(vec![]);
                    continue;
                }
                let fan_in = (1 + random.below(4)).min(previous.len());
                let mut chosen: Vec<u32> = Vec::with_capacity(fan_in);
                while chosen.len() < fan_in {
                    let pick = previous.start + random.below(previous.len()) as u32;
                    if !chosen.contains(&pick) {
                        chosen.push(pick);
                    }
                }
                inputs.push(chosen);
            }
            previous = start..inputs.len() as u32;
        }
        Shape {
            name: "layered".into(),
            inputs,
        }
    }

    /// The same layers and fan-ins as [`layered`](Self::layered), but each node takes the
    /// nodes at its own position and the next ones in the layer before: the same work with
    /// local edges, to tell the cost of scattered memory access from the cost of the work.
    pub fn layered_local(nodes: usize, seed: u64) -> Self {
        let mut shape = Self::layered(nodes, seed);
        let width = (nodes as f64).sqrt().ceil().max(1.0) as usize;
        for (node, inputs) in shape.inputs.iter_mut().enumerate() {
            if inputs.is_empty() {
                continue;
            }
            let (layer, position) = (node / width, node % width);
            let previous = (layer - 1) * width;
            let fan_in = inputs.len();
            *inputs = (0..fan_in)
                .map(|j| (previous + (position + j) % width) as u32)
                .collect();
        }
        shape.name = "layered_local".into();
        shape
    }

    /// Each node's dependents, once per edge, as a compressed list: the dependents of `i`
    /// are `list[start[i]..start[i + 1]]`.
    pub fn dependents(&self) -> (Vec<u32>, Vec<u32>) {
        let mut start = vec![0u32; self.len() + 1];
        for inputs in &self.inputs {
            for &input in inputs {
                start[input as usize + 1] += 1;
            }
        }
        for i in 0..self.len() {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut list = vec![0u32; start[self.len()] as usize];
        for (node, inputs) in self.inputs.iter().enumerate() {
            for &input in inputs {
                list[fill[input as usize] as usize] = node as u32;
                fill[input as usize] += 1;
            }
        }
        (start, list)
    }

    /// The nodes grouped by depth (longest path from a root): what one `join_all` per layer
    /// runs together.
    pub fn layers(&self) -> Vec<Vec<u32>> {
        let mut depth = vec![0usize; self.len()];
        let mut layers: Vec<Vec<u32>> = Vec::new();
        for (node, inputs) in self.inputs.iter().enumerate() {
            let d = inputs
                .iter()
                .map(|&i| depth[i as usize] + 1)
                .max()
                .unwrap_or(0);
            depth[node] = d;
            if layers.len() <= d {
                layers.resize_with(d + 1, Vec::new);
            }
            layers[d].push(node as u32);
        }
        layers
    }

    /// The value every contender must compute for the last node: each node outputs the
    /// wrapping sum of its inputs plus one, a root its parameter plus one.
    pub fn expected_last(&self, param: u64) -> u64 {
        let mut values = vec![0u64; self.len()];
        for (node, inputs) in self.inputs.iter().enumerate() {
            let sum = if inputs.is_empty() {
                param
            } else {
                inputs
                    .iter()
                    .fold(0u64, |acc, &i| acc.wrapping_add(values[i as usize]))
            };
            values[node] = sum.wrapping_add(1);
        }
        values.last().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layered_is_topological_with_fan_in_one_to_four() {
        let shape = Shape::layered(10_000, 7);
        assert_eq!(shape.len(), 10_000);
        for (node, inputs) in shape.inputs.iter().enumerate() {
            assert!(inputs.len() <= 4);
            assert!(inputs.iter().all(|&i| (i as usize) < node));
        }
        assert_eq!(shape, Shape::layered(10_000, 7), "fixed seed, same graph");
        assert_eq!(shape.layers().len(), 100);
    }

    #[test]
    fn layered_local_keeps_layers_and_fan_in() {
        let random = Shape::layered(10_000, 7);
        let local = Shape::layered_local(10_000, 7);
        assert_eq!(random.layers(), local.layers());
        for (a, b) in random.inputs.iter().zip(&local.inputs) {
            assert_eq!(a.len(), b.len());
        }
    }

    #[test]
    fn seed_layers_and_values() {
        let seed = Shape::seed();
        assert_eq!(seed.layers(), vec![vec![0, 2, 3], vec![1, 4], vec![5]]);
        assert_eq!(seed.expected_last(0), 6);
    }
}
