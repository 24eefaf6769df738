//! Builds a spec's DAG, runs it with the spec's policy, and checks what happened against the
//! reference and the trace the nodes left in the control block.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use dagfut::{DagError, Local, LocalDag, LocalDagBuilder, Node, OutputError, Outputs};

use super::drive::{Driver, Ending, Held, Schedule};
use super::node::{Control, Failed, Outcome, Val, node};
use super::{Expected, Policy, Spec, reference};

type ModelDag = LocalDag<(), Failed>;

fn build(spec: &Spec, control: &Rc<Control>) -> (ModelDag, Vec<Node<Val>>) {
    let b = LocalDagBuilder::<(), Failed>::new();
    let shared = b.add_constant(Val::Control(control.clone()));
    let mut nodes: Vec<Node<Val>> = Vec::with_capacity(spec.nodes.len());
    for (index, node_spec) in spec.nodes.iter().enumerate() {
        let mut list = vec![shared, b.add_constant(Val::Index(index))];
        list.extend(node_spec.inputs.iter().map(|&input| nodes[input]));
        nodes.push(b.add_try_node(node, list));
    }
    (b.build(), nodes)
}

/// Runs `spec` with its policy under `schedule` and checks everything the module's
/// documentation lists. Returns what went wrong, if anything.
pub fn check(spec: &Spec, schedule: &mut dyn Schedule) -> Result<(), String> {
    spec.validate()?;
    let expected = reference(spec);
    let control = Control::new(spec);
    let (dag, nodes) = build(spec, &control);
    let mut driver = Driver::new(&control, schedule);
    // The poll that ended the run early (a panic out of it, or a fail-fast), if one did.
    let ended_early = match spec.policy {
        Policy::Settled => {
            let run = dag.run_settled(&()).with_poll_budget(usize::MAX);
            let run = if spec.catch_panics {
                run.catch_panics()
            } else {
                run
            };
            match driver.drive(run)? {
                Ending::Completed(settled) => {
                    all_futures_gone(&driver, "run_settled completed")?;
                    check_values(&expected, &nodes, &settled.outputs, true)?;
                    check_settled_errors(&control, &expected, &settled.errors)?;
                    driver.drop_checked(settled.into_inner(), "the settled outputs", true)?;
                    None
                }
                Ending::Panicked => Some(driver.polls),
                Ending::Dropped => None,
            }
        }
        Policy::TryRun => {
            let run = dag.try_run(&()).with_poll_budget(usize::MAX);
            let run = if spec.catch_panics {
                run.catch_panics()
            } else {
                run
            };
            match driver.drive(run)? {
                Ending::Completed(outcome) => match outcome.into_inner() {
                    Ok(outputs) => {
                        let outputs = Held::new(outputs);
                        all_futures_gone(&driver, "try_run completed")?;
                        check_values(&expected, &nodes, &outputs, false)?;
                        driver.drop_checked(outputs.into_inner(), "the outputs", true)?;
                        None
                    }
                    Err(error) => {
                        // Fail-fast drops every running future at once.
                        all_futures_gone(&driver, "try_run failed")?;
                        check_fail_fast(&control, driver.polls, &error)?;
                        Some(driver.polls)
                    }
                },
                Ending::Panicked => Some(driver.polls),
                Ending::Dropped => None,
            }
        }
    };
    check_starts(&control, driver.polls, ended_early)?;
    check_drops(&control)
}

fn all_futures_gone(driver: &Driver<'_>, when: &str) -> Result<(), String> {
    match driver.alive_at_end.0 {
        0 => Ok(()),
        alive => Err(format!("{when} with {alive} node futures still alive")),
    }
}

/// Every node's output is the reference's value; failed, panicked and skipped nodes have none
/// (`settled`), or there are none of them (`try_run` succeeded).
fn check_values(
    expected: &[Expected],
    nodes: &[Node<Val>],
    outputs: &Outputs<'_, (), Local>,
    settled: bool,
) -> Result<(), String> {
    for (index, want) in expected.iter().enumerate() {
        match (want, outputs.get(nodes[index])) {
            (Expected::Value(want), Ok(Val::Num(output))) if *want == *output.value => {}
            (
                Expected::Failed | Expected::Panicked | Expected::Skipped,
                Err(OutputError::NotCompleted { .. }),
            ) if settled => {}
            (want, got) => {
                let got = got.map(|value| match value {
                    Val::Num(output) => Some(*output.value),
                    _ => None,
                });
                let policy = if settled { "run_settled" } else { "try_run" };
                return Err(format!(
                    "{policy}: node {index}: expected {want:?}, got {got:?}"
                ));
            }
        }
    }
    Ok(())
}

/// The node and the outcome an error reports.
fn describe(error: &DagError<Failed>) -> Result<(usize, Outcome), String> {
    let node = error
        .node()
        .task_index()
        .ok_or_else(|| format!("{error:?} names no task"))?;
    match error {
        DagError::Failed {
            error: Failed(failed),
            ..
        } if *failed == node => Ok((node, Outcome::Err)),
        DagError::Panicked { message, .. } => Ok((node, Outcome::Panicked(message.clone()))),
        _ => Err(format!("{error:?} does not match node {node}")),
    }
}

/// The failures as the nodes saw them, in order, each with its outcome.
fn failures(control: &Control) -> Vec<(usize, Outcome)> {
    let nodes = control.nodes.borrow();
    control
        .failures
        .borrow()
        .iter()
        .map(|&index| {
            let outcome = nodes[index].finished.as_ref().map(|(_, outcome)| outcome);
            (index, outcome.cloned().unwrap_or(Outcome::Ok))
        })
        .collect()
}

/// `run_settled` reports every failure in the order it happened, as it happened, and those
/// are the reference's failures.
fn check_settled_errors(
    control: &Control,
    expected: &[Expected],
    errors: &[DagError<Failed>],
) -> Result<(), String> {
    let got = errors.iter().map(describe).collect::<Result<Vec<_>, _>>()?;
    let want = failures(control);
    if got != want {
        return Err(format!(
            "run_settled reported {got:?}; the nodes failed with {want:?}"
        ));
    }
    let mut failed: Vec<usize> = want.iter().map(|(index, _)| *index).collect();
    failed.sort_unstable();
    let reference: Vec<usize> = (0..expected.len())
        .filter(|&i| matches!(expected[i], Expected::Failed | Expected::Panicked))
        .collect();
    if failed != reference {
        return Err(format!(
            "nodes {failed:?} failed; the reference fails {reference:?}"
        ));
    }
    Ok(())
}

/// `try_run` fails with the one node that failed, in the last poll: nothing ran after it.
fn check_fail_fast(control: &Control, polls: u32, error: &DagError<Failed>) -> Result<(), String> {
    let got = describe(error)?;
    let want = failures(control);
    if want != [got.clone()] {
        return Err(format!(
            "try_run failed with {got:?}; the nodes failed with {want:?}"
        ));
    }
    match control.nodes.borrow()[got.0].finished {
        Some((round, _)) if round == polls => Ok(()),
        ref finished => Err(format!(
            "try_run ended in poll {polls} with the failure of node {}, finished {finished:?}",
            got.0
        )),
    }
}

/// Each node started in the very poll in which its last input completed (roots: the first),
/// unless the run ended early in that poll or was dropped before it; no other node started.
fn check_starts(control: &Control, polls: u32, ended_early: Option<u32>) -> Result<(), String> {
    let nodes = control.nodes.borrow();
    for (index, spec) in control.spec.nodes.iter().enumerate() {
        let ready =
            spec.inputs
                .iter()
                .try_fold(1, |latest: u32, &input| match nodes[input].finished {
                    Some((round, Outcome::Ok)) => Some(latest.max(round)),
                    _ => None,
                });
        match (nodes[index].started, ready) {
            (Some(started), Some(ready)) if started == ready => {}
            (None, None) => {}
            (None, Some(ready)) if ready > polls || ended_early == Some(ready) => {}
            (started, ready) => {
                return Err(format!(
                    "node {index} started in poll {started:?}; its inputs all completed in \
                     poll {ready:?} (of {polls}, ended early in {ended_early:?})"
                ));
            }
        }
    }
    Ok(())
}

/// Every future that started and every output made was dropped, exactly once.
fn check_drops(control: &Control) -> Result<(), String> {
    for (index, trace) in control.nodes.borrow().iter().enumerate() {
        let started = u32::from(trace.started.is_some());
        if trace.future_drops != started {
            return Err(format!(
                "node {index}'s future (started: {}) was dropped {} times",
                started == 1,
                trace.future_drops
            ));
        }
        if trace.outputs_made > 1 || trace.output_drops != trace.outputs_made {
            return Err(format!(
                "node {index} made {} outputs, dropped {} times",
                trace.outputs_made, trace.output_drops
            ));
        }
    }
    let alive = (control.futures_alive.get(), control.outputs_alive.get());
    if alive != (0, 0) {
        return Err(format!(
            "after the run: {} futures and {} outputs not dropped (or dropped twice)",
            alive.0, alive.1
        ));
    }
    control.check_violations(|| "after the run".into())
}
