//! The builder is all-or-nothing (proptest): random sequences of adds (constants; nodes with a
//! list input, with or without state, with or without a fallback value or node), some of them
//! naming a node of another DAG as an input or as the fallback. A refused add must leave the
//! builder as it was: the same task count after it, and in the end the same DAG, constants and
//! task names included, with the same outputs, as a builder given only the adds that succeed.

use std::time::Duration;

use dagfut::{BuildError, DagBuilder, Node, Sendable, Timer};
use futures_executor::block_on;
use proptest::prelude::*;

/// A timer whose sleeps never end: the timeouts of guarded nodes never fire (every node is
/// ready at its first poll).
#[derive(Clone, Copy, Debug)]
struct Never;

impl Timer for Never {
    type Sleep = std::future::Pending<()>;
    fn sleep(&self, _: Duration) -> Self::Sleep {
        std::future::pending()
    }
}

type Builder = DagBuilder<u64, Sendable, String, Never>;

/// An input or a fallback node: one made before (its index taken modulo how many there are;
/// the parameter if none), the parameter, or a node of another DAG.
#[derive(Clone, Copy, Debug)]
enum Handle {
    Made(usize),
    Param,
    Foreign,
}

#[derive(Clone, Copy, Debug)]
enum Fallback {
    Value(u64),
    Node(Handle),
}

#[derive(Clone, Debug)]
enum Add {
    Constant(u64),
    Node {
        inputs: Vec<Handle>,
        state: Option<u64>,
        fallback: Option<Fallback>,
        /// Named (`add {position}`) or not.
        named: bool,
    },
}

impl Add {
    /// Whether the add names no node of another DAG, so it must succeed.
    fn is_valid(&self) -> bool {
        let foreign = |h: &Handle| matches!(h, Handle::Foreign);
        match self {
            Add::Constant(_) => true,
            Add::Node {
                inputs, fallback, ..
            } => {
                !inputs.iter().any(foreign)
                    && !matches!(fallback, Some(Fallback::Node(Handle::Foreign)))
            }
        }
    }
}

fn handle() -> impl Strategy<Value = Handle> {
    prop_oneof![
        6 => (0..64usize).prop_map(Handle::Made),
        2 => Just(Handle::Param),
        1 => Just(Handle::Foreign),
    ]
}

fn add() -> impl Strategy<Value = Add> {
    let fallback = prop_oneof![
        (0..100u64).prop_map(Fallback::Value),
        handle().prop_map(Fallback::Node),
    ];
    prop_oneof![
        1 => (0..100u64).prop_map(Add::Constant),
        4 => (
            prop::collection::vec(handle(), 0..4),
            prop::option::of(0..100u64),
            prop::option::of(fallback),
            any::<bool>(),
        )
            .prop_map(|(inputs, state, fallback, named)| Add::Node {
                inputs,
                state,
                fallback,
                named,
            }),
    ]
}

async fn sum(xs: &[&u64]) -> u64 {
    xs.iter()
        .fold(1, |acc, x| acc.wrapping_mul(31).wrapping_add(**x))
}

async fn sum_with(state: &u64, xs: &[&u64]) -> u64 {
    xs.iter()
        .fold(*state, |acc, x| acc.wrapping_mul(31).wrapping_add(**x))
}

/// Applies `add`, the `position`th, to `b`; `made` is the handles of the adds that succeeded,
/// in order.
fn apply(
    b: &Builder,
    (position, add): (usize, &Add),
    made: &[Node<u64>],
    foreign: Node<u64>,
) -> Result<Node<u64>, BuildError> {
    let resolve = |h: Handle| match h {
        Handle::Made(i) if !made.is_empty() => made[i % made.len()],
        Handle::Made(_) | Handle::Param => b.param(),
        Handle::Foreign => foreign,
    };
    let (inputs, state, fallback, named) = match add {
        Add::Constant(value) => return b.try_add_constant(*value),
        Add::Node {
            inputs,
            state,
            fallback,
            named,
        } => (inputs, state, fallback, *named),
    };
    let inputs: Vec<Node<u64>> = inputs.iter().map(|&h| resolve(h)).collect();
    let name = format!("add {position}");
    let guard = || {
        let after = Duration::from_secs(1);
        if named {
            b.named(name.clone()).timeout(after)
        } else {
            b.timeout(after)
        }
    };
    match (state, fallback) {
        (None, None) if named => b.named(name).try_add_node(sum, inputs),
        (None, None) => b.try_add_node(sum, inputs),
        (Some(s), None) if named => b.named(name).try_add_node_with(*s, sum_with, inputs),
        (Some(s), None) => b.try_add_node_with(*s, sum_with, inputs),
        (None, Some(Fallback::Value(v))) => guard().or_value(*v).try_add_node(sum, inputs),
        (None, Some(Fallback::Node(h))) => guard().or_node(resolve(*h)).try_add_node(sum, inputs),
        (Some(s), Some(Fallback::Value(v))) => {
            guard().or_value(*v).try_add_node_with(*s, sum_with, inputs)
        }
        (Some(s), Some(Fallback::Node(h))) => guard()
            .or_node(resolve(*h))
            .try_add_node_with(*s, sum_with, inputs),
    }
}

fn check(adds: &[Add], param: u64) {
    let other = DagBuilder::<u64>::new();
    let foreign = other.add_node(sum, vec![other.param()]);
    let new = || {
        DagBuilder::<u64>::new()
            .with_error::<String>()
            .with_timer(Never)
    };
    // `tried` gets every add, `given` only those that must succeed.
    let (tried, given) = (new(), new());
    let (mut made_tried, mut made_given) = (Vec::new(), Vec::new());
    for (position, add) in adds.iter().enumerate() {
        let tasks = tried.task_count();
        let result = apply(&tried, (position, add), &made_tried, foreign);
        if !add.is_valid() {
            let error = result.expect_err("an add naming a foreign node was accepted");
            assert!(
                matches!(error, BuildError::ForeignInput { .. }),
                "{error:?}"
            );
            assert_eq!(
                tried.task_count(),
                tasks,
                "a refused add left a task: {add:?}"
            );
            continue;
        }
        made_tried.push(result.expect("a valid add was refused"));
        let given_add = apply(&given, (position, add), &made_given, foreign);
        made_given.push(given_add.expect("a valid add"));
        assert_eq!(tried.task_count(), given.task_count());
    }
    let (tried, given) = (tried.build(), given.build());
    assert_eq!(tried.task_count(), given.task_count());
    for task in 0..tried.task_count() {
        assert_eq!(
            tried.task_name(task),
            given.task_name(task),
            "task {task}'s name"
        );
    }
    assert_eq!(
        tried.constant_count(),
        given.constant_count(),
        "a refused add left a constant"
    );
    let tried_out = block_on(tried.try_run(&param)).expect("no node fails");
    let given_out = block_on(given.try_run(&param)).expect("no node fails");
    for (a, b) in made_tried.iter().zip(&made_given) {
        assert_eq!(tried_out[*a], given_out[*b]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 8 } else { 256 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_refused_add_leaves_the_builder_as_it_was(
        adds in prop::collection::vec(add(), 0..24),
        param in any::<u64>(),
    ) {
        check(&adds, param);
    }
}
