//! Graph shapes, reuse, inputs of every form, foreign handles, outputs and edge cases.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dagfut::{BuildError, DagBuilder, LocalDagBuilder, Node, OutputError};
use futures_executor::block_on;
use support::{Poller, Trigger};

async fn inc(n: &u64) -> u64 {
    n + 1
}

async fn add(a: &u64, b: &u64) -> u64 {
    a + b
}

async fn sum(xs: &[&u64]) -> u64 {
    xs.iter().copied().sum()
}

#[test]
fn a_diamond_joins_both_branches() {
    let b = DagBuilder::<u64>::new();
    let top = b.add_node(inc, b.param());
    let left = b.add_node(add, (top, b.add_constant(10)));
    let right = b.add_node(add, (top, b.add_constant(100)));
    let bottom = b.add_node(add, (left, right));
    let dag = b.build();
    let out = block_on(dag.run(&1));
    assert_eq!(out[bottom], (2 + 10) + (2 + 100));
    assert_eq!(dag.task_count(), 4);
    assert_eq!(dag.edge_count(), 4);
}

#[test]
fn a_dag_is_reused_with_other_parameters() {
    let b = DagBuilder::<u64>::new();
    let x = b.add_node(inc, (b.param(),));
    let dag = b.build();
    for param in [0, 7, 1000] {
        assert_eq!(block_on(dag.run(&param))[x], param + 1);
    }
}

#[test]
fn concurrent_runs_keep_their_own_parameters_and_outputs() {
    // Each run waits on its own trigger: the runs interleave, and their values don't mix.
    let b = DagBuilder::<(u64, Trigger)>::new();
    async fn gated(param: &(u64, Trigger)) -> u64 {
        param.1.wait().await;
        param.0 * 2
    }
    let doubled = b.add_node(gated, (b.param(),));
    let plus = b.add_node(inc, (doubled,));
    let dag = b.build();

    let (first, second) = ((3, Trigger::default()), (50, Trigger::default()));
    let mut run_1 = dag.run(&first);
    let mut run_2 = dag.run(&second);
    let poller = Poller::new();
    assert!(poller.poll(&mut run_1).is_pending());
    assert!(poller.poll(&mut run_2).is_pending());
    second.1.fire();
    let out_2 = match poller.poll(&mut run_2) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the second run should be done"),
    };
    assert!(poller.poll(&mut run_1).is_pending());
    first.1.fire();
    let std::task::Poll::Ready(out_1) = poller.poll(&mut run_1) else {
        panic!("the first run should be done");
    };
    assert_eq!((out_1[doubled], out_1[plus]), (6, 7));
    assert_eq!((out_2[doubled], out_2[plus]), (100, 101));
}

#[test]
fn nodes_run_even_when_nothing_consumes_them() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    async fn side_effect(_: &u64) {
        RAN.fetch_add(1, Ordering::SeqCst);
    }
    let b = DagBuilder::<u64>::new();
    for _ in 0..5 {
        b.add_node(side_effect, (b.param(),));
    }
    let dag = b.build();
    block_on(dag.run(&0));
    block_on(dag.run(&0));
    assert_eq!(RAN.load(Ordering::SeqCst), 10);
}

#[test]
fn an_empty_dag_completes_with_empty_outputs() {
    let dag = DagBuilder::<()>::new().build();
    let mut run = dag.run(&());
    let out = match Poller::new().poll(&mut run) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("an empty DAG completes on its first poll"),
    };
    assert!(out.is_empty());
    assert_eq!(out.dag(), dag.id());
}

#[test]
fn a_single_node_dag() {
    async fn answer() -> u32 {
        42
    }
    let b = DagBuilder::<()>::new();
    let node = b.add_node(answer, ());
    let dag = b.build();
    let out = block_on(dag.run(&()));
    assert_eq!(out[node], 42);
    assert_eq!(out.len(), 1);
}

#[test]
fn a_list_of_thirty_inputs_arrives_in_order() {
    async fn digits(xs: &[&u64]) -> String {
        xs.iter().map(|x| char::from(b'a' + **x as u8)).collect()
    }
    let b = DagBuilder::<u64>::new();
    let inputs: Vec<Node<u64>> = (0..30)
        .map(|i| b.add_node(add, (b.param(), b.add_constant(i))))
        .collect();
    let total = b.add_node(sum, &inputs[..]);
    let letters = b.add_node(digits, inputs.clone());
    let dag = b.build();
    let out = block_on(dag.run(&0));
    assert_eq!(out[total], (0..30).sum::<u64>());
    let expected: String = (0..26u8).map(|i| char::from(b'a' + i)).collect::<String>() + "{|}~";
    assert_eq!(out[letters], expected);
}

#[test]
fn twelve_inputs_of_different_types() {
    #[allow(clippy::too_many_arguments)]
    async fn twelve(
        a: &u8,
        b: &u16,
        c: &u32,
        d: &u64,
        e: &i8,
        f: &i16,
        g: &i32,
        h: &i64,
        i: &usize,
        j: &isize,
        k: &&'static str,
        l: &String,
    ) -> String {
        format!("{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}{k}{l}")
    }
    let b = DagBuilder::<()>::new();
    let node = b.add_node(
        twelve,
        (
            b.add_constant(1u8),
            b.add_constant(2u16),
            b.add_constant(3u32),
            b.add_constant(4u64),
            b.add_constant(5i8),
            b.add_constant(6i16),
            b.add_constant(7i32),
            b.add_constant(8i64),
            b.add_constant(9usize),
            b.add_constant(0isize),
            b.add_constant("k"),
            b.add_constant(String::from("l")),
        ),
    );
    let dag = b.build();
    assert_eq!(block_on(dag.run(&()))[node], "1234567890kl");
}

#[test]
fn the_same_input_twice_still_runs_the_node() {
    let b = DagBuilder::<u64>::new();
    let x = b.add_node(inc, b.param());
    let twice = b.add_node(add, (x, x));
    let thrice = b.add_node(sum, [x, x, x]);
    let param_twice = b.add_node(add, (b.param(), b.param()));
    let dag = b.build();
    let out = block_on(dag.run(&4));
    assert_eq!((out[twice], out[thrice], out[param_twice]), (10, 15, 8));
}

#[test]
fn a_handle_from_another_dag_is_refused_with_an_error_naming_it() {
    let first = DagBuilder::<u64>::new();
    let foreign = first.add_node(inc, first.param());
    let second = DagBuilder::<u64>::new();
    let own = second.add_node(inc, second.param());

    let error = second.try_add_node(add, (own, foreign)).unwrap_err();
    assert_eq!(
        error,
        BuildError::ForeignInput {
            position: 1,
            input: foreign.id(),
            builder: second.id(),
        }
    );
    let message = error.to_string();
    assert!(message.contains("input 1 is task #0 of dag #"), "{message}");
    assert!(
        message.contains("must be handles returned by the same builder"),
        "{message}"
    );

    let error = second
        .try_add_node(sum, vec![own, own, foreign])
        .unwrap_err();
    assert!(matches!(
        error,
        BuildError::ForeignInput { position: 2, .. }
    ));
    // Nothing was added by the refused calls.
    assert_eq!(second.task_count(), 1);
}

#[test]
#[should_panic(expected = "cannot add the node: input 0 is the parameter of dag #")]
fn add_node_panics_on_a_foreign_handle() {
    let first = DagBuilder::<u64>::new();
    let second = DagBuilder::<u64>::new();
    second.add_node(inc, first.param());
}

#[test]
fn outputs_refuse_handles_of_another_dag() {
    let b = DagBuilder::<u64>::new();
    let own = b.add_node(inc, b.param());
    let dag = b.build();
    let other = DagBuilder::<u64>::new();
    let foreign = other.add_node(inc, other.param());
    let _other_dag = other.build();

    let out = block_on(dag.run(&1));
    // Same index (task #0), same type, another DAG: refused, never the wrong value.
    let error = out.get(foreign).unwrap_err();
    assert_eq!(
        error,
        OutputError::ForeignNode {
            node: foreign.id(),
            outputs: dag.id()
        }
    );
    assert!(error.to_string().contains("these outputs come from"));
    assert_eq!(out[own], 2);
}

#[test]
#[should_panic(expected = "index outputs with handles of the DAG that produced them")]
fn indexing_outputs_with_a_foreign_handle_panics() {
    let b = DagBuilder::<u64>::new();
    b.add_node(inc, b.param());
    let dag = b.build();
    let other = DagBuilder::<u64>::new();
    let foreign = other.add_node(inc, other.param());
    let out = block_on(dag.run(&1));
    let _ = out[foreign];
}

#[test]
fn outputs_lend_the_parameter_and_constants_and_give_task_outputs_away() {
    let b = DagBuilder::<u64>::new();
    let param = b.param();
    assert_eq!(param, b.param()); // the same handle on every call
    let name = b.add_constant(String::from("constant"));
    let x = b.add_node(inc, param);
    let dag = b.build();
    let mut out = block_on(dag.run(&9));
    assert_eq!(out[param], 9);
    assert_eq!(out[name], "constant");
    assert_eq!(out.take(x), Ok(10));
    assert!(matches!(out.take(x), Err(OutputError::Taken { .. })));
    assert!(matches!(out.get(x), Err(OutputError::Taken { .. })));
    let error = out.take(name).unwrap_err();
    assert!(matches!(error, OutputError::NotOwned { .. }));
    assert!(error.to_string().contains("read it with `get`"));
    assert!(out.is_empty());
}

#[test]
fn local_dags_take_futures_and_values_that_are_not_send() {
    use std::rc::Rc;
    async fn shared(counter: &Rc<std::cell::Cell<u32>>) -> Rc<u32> {
        counter.set(counter.get() + 1);
        Rc::new(counter.get())
    }
    let b = LocalDagBuilder::<()>::new();
    let counter = Rc::new(std::cell::Cell::new(0));
    let c = b.add_constant(counter.clone());
    let first = b.add_node(shared, (c,));
    let dag = b.build();
    assert_eq!(*block_on(dag.run(&()))[first], 1);
    assert_eq!(*block_on(dag.run(&()))[first], 2);
    assert_eq!(counter.get(), 2);
}

#[test]
fn async_closures_without_captures_are_nodes() {
    let b = DagBuilder::<u64>::new();
    let x = b.add_node(async |n: &u64| n * 3, b.param());
    let y = b.add_node(
        async |a: &u64, k: &Arc<u64>| a + **k,
        (x, b.add_constant(Arc::new(1))),
    );
    let dag = b.build();
    assert_eq!(block_on(dag.run(&2))[y], 7);
}

#[test]
fn zero_sized_large_and_over_aligned_values() {
    #[derive(Debug, PartialEq)]
    #[repr(align(256))]
    struct Aligned(u8);
    async fn unit(_: &u64) {}
    async fn aligned(n: &u64) -> Aligned {
        Aligned(*n as u8)
    }
    async fn large(n: &u64) -> Box<[u64; 4096]> {
        Box::new([*n; 4096])
    }
    async fn large_future(n: &u64) -> u64 {
        // A future that keeps 32 KiB across an await point.
        let buffer = [*n; 4096];
        support::YieldNow::default().await;
        buffer.iter().sum()
    }
    let b = DagBuilder::<u64>::new();
    let u = b.add_node(unit, b.param());
    let a = b.add_node(aligned, b.param());
    let l = b.add_node(large, b.param());
    let f = b.add_node(large_future, b.param());
    let a2 = b.add_node(aligned, f);
    let dag = b.build();
    let out = block_on(dag.run(&1));
    assert_eq!(out[u], ());
    assert_eq!(out[a], Aligned(1));
    assert_eq!(out[a2], Aligned(4096u64 as u8));
    assert_eq!((&out[a] as *const Aligned as usize) % 256, 0);
    assert_eq!((&out[a2] as *const Aligned as usize) % 256, 0);
    assert!(out[l].iter().all(|&x| x == 1));
    assert_eq!(out[f], 4096);
}

#[test]
#[should_panic(expected = "a run's future was polled after completion")]
fn polling_after_completion_panics_with_a_clear_message() {
    let b = DagBuilder::<u64>::new();
    b.add_node(inc, b.param());
    let dag = b.build();
    let mut run = dag.run(&0);
    let poller = Poller::new();
    assert!(poller.poll(&mut run).is_ready());
    let _ = poller.poll(&mut run);
}

#[test]
fn debug_output_says_what_the_run_is_doing() {
    let trigger = Trigger::default();
    async fn wait(t: &Trigger) {
        t.wait().await;
    }
    let b = DagBuilder::<()>::new();
    b.add_node(wait, b.add_constant(trigger.clone()));
    let dag = b.build();
    let mut run = dag.run(&());
    assert!(format!("{run:?}").contains("not started"));
    assert!(Poller::new().poll(&mut run).is_pending());
    let debug = format!("{run:?}");
    assert!(
        debug.contains("running: 1") && debug.contains("completed: 0"),
        "{debug}"
    );
    assert!(format!("{dag:?}").contains("tasks: 1"));
}
