//! Errors of building a DAG and of reading its outputs.

use core::fmt;

use crate::node::{DagId, NodeId};

/// Why a node could not be added to a DAG.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// An input handle belongs to another DAG.
    ForeignInput {
        /// The input's position in the list or tuple, from 0.
        position: usize,
        /// The foreign handle.
        input: NodeId,
        /// The DAG being built.
        builder: DagId,
    },
    /// A node has more input edges than the scheduler's counters hold.
    TooManyInputs {
        /// How many were given.
        inputs: usize,
        /// The most a node may have.
        max: usize,
    },
    /// The DAG already holds the most tasks (or constants) it can.
    TooManyNodes {
        /// The most a DAG may hold.
        max: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ForeignInput {
                position,
                input,
                builder,
            } => write!(
                f,
                "input {position} is {input} of {}, but this builder is {builder}: \
                 a node's inputs must be handles returned by the same builder",
                input.dag()
            ),
            BuildError::TooManyInputs { inputs, max } => write!(
                f,
                "a node has {inputs} input edges, more than the {max} the scheduler can count"
            ),
            BuildError::TooManyNodes { max } => {
                write!(f, "a DAG holds at most {max} tasks and {max} constants")
            }
        }
    }
}

impl core::error::Error for BuildError {}

/// Why an output could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputError {
    /// The handle belongs to another DAG than these outputs.
    ForeignNode {
        /// The foreign handle.
        node: NodeId,
        /// The DAG these outputs come from.
        outputs: DagId,
    },
    /// The output was moved out already with [`Outputs::take`](crate::Outputs::take).
    Taken {
        /// The node.
        node: NodeId,
    },
    /// The node did not complete in this run.
    NotCompleted {
        /// The node.
        node: NodeId,
    },
    /// The parameter and constants are borrowed, not owned by the outputs: they cannot be
    /// taken (read them with [`Outputs::get`](crate::Outputs::get)).
    NotOwned {
        /// The node.
        node: NodeId,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::ForeignNode { node, outputs } => write!(
                f,
                "{node} belongs to {}, but these outputs come from {outputs}: \
                 index outputs with handles of the DAG that produced them",
                node.dag()
            ),
            OutputError::Taken { node } => {
                write!(f, "the output of {node} was already taken out")
            }
            OutputError::NotCompleted { node } => {
                write!(f, "{node} did not complete in this run")
            }
            OutputError::NotOwned { node } => write!(
                f,
                "{node} is not a task: its value is borrowed, not owned by the outputs; \
                 read it with `get` instead of `take`"
            ),
        }
    }
}

impl core::error::Error for OutputError {}
