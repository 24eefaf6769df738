//! Errors of building a DAG and of reading its outputs.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;
use core::time::Duration;

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
    /// A run's memory for the node futures and outputs would exceed `isize::MAX` bytes, the
    /// most one allocation can hold.
    RunTooLarge {
        /// The first task that does not fit.
        task: usize,
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
            BuildError::RunTooLarge { task } => write!(
                f,
                "a run would need more than isize::MAX bytes for its node futures and outputs \
                 (task #{task} does not fit)"
            ),
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

/// Why a run failed: which node, and its error or panic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DagError<E> {
    /// A fallible node returned `Err`.
    Failed {
        /// The node.
        node: NodeId,
        /// Its name, if it was given one.
        name: Option<Cow<'static, str>>,
        /// Its error.
        error: E,
    },
    /// A node with retries ([`Guarded::retry`](crate::Guarded::retry)) returned `Err` on
    /// its last attempt.
    Exhausted {
        /// The node.
        node: NodeId,
        /// Its name, if it was given one.
        name: Option<Cow<'static, str>>,
        /// The error of its last attempt.
        error: E,
        /// How many attempts it made.
        attempts: u32,
    },
    /// A node's last attempt ran out of time ([`Guarded::timeout`](crate::Guarded::timeout)).
    TimedOut {
        /// The node.
        node: NodeId,
        /// Its name, if it was given one.
        name: Option<Cow<'static, str>>,
        /// The timeout of each attempt.
        after: Duration,
        /// How many attempts it made.
        attempts: u32,
    },
    /// A node panicked, and the run was asked to catch panics
    /// ([`TryDagFuture::catch_panics`](crate::TryDagFuture::catch_panics)).
    Panicked {
        /// The node.
        node: NodeId,
        /// Its name, if it was given one.
        name: Option<Cow<'static, str>>,
        /// The panic's message.
        message: String,
    },
}

impl<E> DagError<E> {
    /// The node that failed.
    pub fn node(&self) -> NodeId {
        match self {
            DagError::Failed { node, .. }
            | DagError::Exhausted { node, .. }
            | DagError::TimedOut { node, .. }
            | DagError::Panicked { node, .. } => *node,
        }
    }

    /// The name of the node that failed, if it has one.
    pub fn name(&self) -> Option<&str> {
        match self {
            DagError::Failed { name, .. }
            | DagError::Exhausted { name, .. }
            | DagError::TimedOut { name, .. }
            | DagError::Panicked { name, .. } => name.as_deref(),
        }
    }

    /// The node's error, if it returned one (not a timeout or a panic).
    pub fn into_error(self) -> Option<E> {
        match self {
            DagError::Failed { error, .. } | DagError::Exhausted { error, .. } => Some(error),
            DagError::TimedOut { .. } | DagError::Panicked { .. } => None,
        }
    }

    /// The node's error, if it returned one, by reference.
    pub fn error(&self) -> Option<&E> {
        match self {
            DagError::Failed { error, .. } | DagError::Exhausted { error, .. } => Some(error),
            DagError::TimedOut { .. } | DagError::Panicked { .. } => None,
        }
    }

    /// How many attempts the node made: 1 unless it had retries.
    pub fn attempts(&self) -> u32 {
        match self {
            DagError::Exhausted { attempts, .. } | DagError::TimedOut { attempts, .. } => *attempts,
            DagError::Failed { .. } | DagError::Panicked { .. } => 1,
        }
    }

    /// Whether the node's last attempt ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, DagError::TimedOut { .. })
    }

    fn describe_node(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "node `{name}` ({})", self.node()),
            None => write!(f, "{}", self.node()),
        }
    }
}

impl<E: fmt::Display> fmt::Display for DagError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe_node(f)?;
        match self {
            DagError::Failed { error, .. } => write!(f, " failed: {error}"),
            DagError::Exhausted {
                error, attempts, ..
            } => write!(f, " failed after {attempts} attempts: {error}"),
            DagError::TimedOut {
                after, attempts: 1, ..
            } => write!(f, " timed out after {after:?}"),
            DagError::TimedOut {
                after, attempts, ..
            } => write!(
                f,
                " timed out after {after:?} on attempt {attempts} of {attempts}"
            ),
            DagError::Panicked { message, .. } => write!(f, " panicked: {message}"),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for DagError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            DagError::Failed { error, .. } | DagError::Exhausted { error, .. } => Some(error),
            DagError::TimedOut { .. } | DagError::Panicked { .. } => None,
        }
    }
}
