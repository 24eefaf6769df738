//! Builds a spec's DAG, runs it with the spec's policy, and checks what happened against the
//! reference and the trace the nodes left in the control block.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use core::task::Waker;
use core::time::Duration;

use dagfut::{
    Backoff, DagError, Local, LocalDag, LocalDagBuilder, Node, NodeId, Optional, OutputError,
    Outputs, Timer,
};

use super::drive::{Driver, Ending, Held, Schedule, Seeded};
use super::node::{
    Control, Failed, Outcome, Val, fallback, node0, node1, node2, node3, node4, panic_message,
    run0, run1, run2, run3, run4,
};
use super::std;
use super::{Evaluation, Expected, Guard, NodeSpec, Policy, Spec, evaluate_with};

/// The timer of the model's nodes with a policy: each sleep is over at once.
#[derive(Clone, Copy, Debug)]
struct AtOnce;

impl Timer for AtOnce {
    type Sleep = core::future::Ready<()>;
    fn sleep(&self, _duration: Duration) -> Self::Sleep {
        core::future::ready(())
    }
}

fn backoff(guard: Guard) -> Backoff {
    if guard.pause {
        Backoff::fixed(Duration::from_nanos(1))
    } else {
        Backoff::none()
    }
}

/// The handles of a node's inputs: the control block, its index and its plain inputs in a
/// list, and its optional inputs.
fn inputs_of(
    node: &NodeSpec,
    index: Node<Val>,
    shared: Node<Val>,
    nodes: &[Node<Val>],
) -> (Vec<Node<Val>>, Vec<Optional<Val>>) {
    let mut list = vec![shared, index];
    let mut optional = Vec::new();
    for (position, &input) in node.inputs.iter().enumerate() {
        if node.is_optional(position) {
            optional.push(nodes[input].optional());
        } else {
            list.push(nodes[input]);
        }
    }
    (list, optional)
}

/// Calls `$add!(function, inputs)` with the node function that takes as many optional inputs
/// as `$optional` holds (`$f0` to `$f4`) and the inputs `($list, optional..)` (`$list` alone
/// if there are none).
macro_rules! by_arity {
    ($add:ident, $list:expr, $optional:expr, [$f0:ident, $f1:ident, $f2:ident, $f3:ident, $f4:ident]) => {{
        let (list, o) = ($list, $optional);
        match o.len() {
            0 => $add!($f0, list),
            1 => $add!($f1, (list, o[0])),
            2 => $add!($f2, (list, o[0], o[1])),
            3 => $add!($f3, (list, o[0], o[1], o[2])),
            4 => $add!($f4, (list, o[0], o[1], o[2], o[3])),
            count => unreachable!("validated: {count} optional inputs"),
        }
    }};
}

/// A DAG whose nodes may fail, with the model's timer. Its parameter is the run's control
/// block, so that runs of one DAG that overlap each have their own.
type TryDag = LocalDag<Val, Failed>;

/// `spec`'s DAG, keeping the memory of the default number of runs (the overlapping checks set
/// another with `with_kept_runs`).
fn build_fallible(spec: &Spec) -> (TryDag, Vec<Node<Val>>) {
    let b = LocalDagBuilder::<Val, Failed>::new().with_timer(AtOnce);
    let shared = b.param();
    let mut nodes: Vec<Node<Val>> = Vec::with_capacity(spec.nodes.len());
    for (index, node_spec) in spec.nodes.iter().enumerate() {
        let (list, optional) =
            inputs_of(node_spec, b.add_constant(Val::Index(index)), shared, &nodes);
        macro_rules! add {
            ($f:ident, $inputs:expr) => {
                match node_spec.guard {
                    None => b.add_try_node($f, $inputs),
                    Some(guard) => {
                        let guarded = b.retry(u32::from(guard.retries), backoff(guard));
                        if guard.fallback {
                            guarded.or_value(fallback(index)).add_try_node($f, $inputs)
                        } else {
                            guarded.add_try_node($f, $inputs)
                        }
                    }
                }
            };
        }
        let node = by_arity!(add, list, optional, [node0, node1, node2, node3, node4]);
        nodes.push(node);
    }
    (b.build(), nodes)
}

/// The DAG behind an `Arc`, as the owned runs take it (a local DAG's too: the runs and
/// outputs share it on one thread).
#[allow(clippy::arc_with_non_send_sync)]
fn shared<E>(dag: LocalDag<Val, E>) -> Arc<LocalDag<Val, E>> {
    Arc::new(dag)
}

/// `result`, if it is an error or the DAG behind `freed` is freed: the last of its owned
/// runs and their outputs let go of it (the wakers of its runs keep no hold on it).
fn dag_freed<E>(
    freed: &Weak<LocalDag<Val, E>>,
    result: Result<bool, String>,
) -> Result<bool, String> {
    match freed.strong_count() {
        left if left > 0 && result.is_ok() => Err(format!(
            "the DAG outlived its owned runs and their outputs ({left} `Arc`s left)"
        )),
        _ => result,
    }
}

fn kept_runs<E>(dag: LocalDag<Val, E>, kept: Option<usize>) -> LocalDag<Val, E> {
    match kept {
        Some(kept) => dag.with_kept_runs(kept),
        None => dag,
    }
}

/// `move |$index| $run`, with the poll budget of its schedule (`$budgets[$index]`), catching
/// the nodes' panics if the spec says so.
macro_rules! fallible_runs {
    (|$index:ident| $run:expr, $spec:ident, $budgets:ident) => {
        move |$index: usize| {
            let run = $run.with_poll_budget($budgets[$index]);
            if $spec.catch_panics {
                run.catch_panics()
            } else {
                run
            }
        }
    };
}

/// A DAG whose nodes cannot fail, for `run` (as [`build_fallible`]'s).
fn build_infallible(spec: &Spec) -> (LocalDag<Val>, Vec<Node<Val>>) {
    let b = LocalDagBuilder::<Val>::new();
    let shared = b.param();
    let mut nodes: Vec<Node<Val>> = Vec::with_capacity(spec.nodes.len());
    for (index, node_spec) in spec.nodes.iter().enumerate() {
        let (list, optional) =
            inputs_of(node_spec, b.add_constant(Val::Index(index)), shared, &nodes);
        macro_rules! add {
            ($f:ident, $inputs:expr) => {
                b.add_node($f, $inputs)
            };
        }
        let node = by_arity!(add, list, optional, [run0, run1, run2, run3, run4]);
        nodes.push(node);
    }
    (b.build(), nodes)
}

/// Runs `spec` with its policy under `schedule` and checks everything the module's
/// documentation lists. Returns what went wrong, if anything.
pub fn check(spec: &Spec, schedule: &mut dyn Schedule) -> Result<(), String> {
    check_run(spec, schedule).map(|_| ())
}

/// [`check`], saying whether the task waker's armed panic ([`super::WakerPanic`]) came.
pub fn check_run(spec: &Spec, schedule: &mut dyn Schedule) -> Result<bool, String> {
    check_runs(spec, vec![schedule], None)
}

/// How many runs of one DAG [`check_overlapping`] has under way at most.
pub const LANES: usize = 3;

/// Runs `spec`'s DAG once per schedule, each run with a control block of its own (the run's
/// parameter) and checked as [`check`] checks one, with up to [`LANES`] runs under way at
/// once: `order` picks which of them the driver turns to next (a poll, and the wakes between
/// polls that its schedule makes), and the next run starts as one ends. Each run's outputs
/// are its own: no node receives, and no run resolves to, another run's. As `order` picks:
///
/// - the DAG keeps the memory of 0, 1, 2 or 8 runs (`Dag::with_kept_runs`), so that runs
///   take memory from its pool while others hold some, allocate their own when every place
///   is held, and take up the memory of runs that ended; in half the cases the first run or
///   two go as a round of their own on the default pool of 8 places first, so that
///   `with_kept_runs` replaces a pool that holds their memory (the later runs' stale wakes
///   reach their wakers too);
/// - a run that resolved keeps its outputs, in half the cases, while later runs start and go
///   on (they are checked and dropped at a later turn);
/// - a run's node futures let go of the wakers kept for them as they are dropped (completed,
///   failed or cancelled), in half the cases, so that its waker block goes back to the pool
///   at its end for a later run; otherwise the wakers of a run that is over (resolved and
///   held, or checked) are kept (or let go of once it is checked) and get stale wakes while
///   later runs are under way and once they are all over, which must wake no task, poll no
///   node and change no output;
/// - in half the cases the runs are owned runs (`Dag::run_owned` and its kin), and the DAG's
///   own `Arc` is dropped once the last run has started: the runs, their outputs and the
///   wakers they leave outlive it, and once they are all over the DAG must be freed.
pub fn check_overlapping(
    spec: &Spec,
    schedules: &mut [Seeded],
    order: &mut Seeded,
) -> Result<(), String> {
    let schedules = schedules
        .iter_mut()
        .map(|schedule| schedule as &mut dyn Schedule)
        .collect();
    check_runs(spec, schedules, Some(order)).map(|_| ())
}

/// The check of what a `run_settled` resolved to (borrowed or owned outputs alike): every
/// future gone, the values, the failures recorded; then the settled outputs dropped.
macro_rules! settled_done {
    ($nodes:ident, $policy:ident) => {
        |driver: &mut Driver<'_>, eval, settled| {
            let control = driver.control().clone();
            all_futures_gone(driver, "run_settled completed")?;
            check_values(&control, &eval, &$nodes, &settled.outputs, $policy)?;
            check_recorded(
                &control,
                &eval,
                Some(&settled.errors),
                settled.outputs.failed(),
            )?;
            driver.drop_checked(settled.into_inner(), "the settled outputs", true)?;
            Ok(None)
        }
    };
}

/// The check of what a `try_run` resolved to (borrowed or owned outputs alike): outputs as a
/// settled run's, if no failure stopped it; else the failure that must have (and the poll
/// it ended in).
macro_rules! try_done {
    ($nodes:ident, $policy:ident) => {
        |driver: &mut Driver<'_>, eval: Evaluation, outcome| {
            let control = driver.control().clone();
            match outcome.into_inner() {
                Ok(outputs) => {
                    let outputs = Held::new(outputs);
                    all_futures_gone(driver, "try_run completed")?;
                    if eval.try_run_stops() {
                        return Err(format!(
                            "try_run completed, but a failure of the reference is not \
                             tolerated: {:?} (tolerated: {:?})",
                            eval.results, eval.tolerated
                        ));
                    }
                    check_values(&control, &eval, &$nodes, &outputs, $policy)?;
                    check_recorded(&control, &eval, None, outputs.failed())?;
                    driver.drop_checked(outputs.into_inner(), "the outputs", true)?;
                    Ok(None)
                }
                Err(error) => {
                    // Fail-fast drops every running future at once.
                    all_futures_gone(driver, "try_run failed")?;
                    check_fail_fast(&control, &eval, driver.polls, &error)?;
                    Ok(Some(driver.polls))
                }
            }
        }
    };
}

/// The check of what a `run` resolved to (borrowed or owned outputs alike).
macro_rules! run_done {
    ($nodes:ident, $policy:ident) => {
        |driver: &mut Driver<'_>, eval, outputs| {
            all_futures_gone(driver, "run completed")?;
            check_values(driver.control(), &eval, &$nodes, &outputs, $policy)?;
            if !outputs.failed().is_empty() {
                return Err(format!("run lists failed nodes {:?}", outputs.failed()));
            }
            driver.drop_checked(outputs.into_inner(), "the outputs", true)?;
            Ok(None)
        }
    };
}

/// [`check_overlapping`], or [`check_run`] with one schedule and no `order`. Says whether an
/// armed task waker panic came in some run.
fn check_runs(
    spec: &Spec,
    schedules: Vec<&mut dyn Schedule>,
    mut order: Option<&mut Seeded>,
) -> Result<bool, String> {
    spec.validate()?;
    let controls: Vec<Rc<Control>> = schedules.iter().map(|_| Control::new(spec)).collect();
    let budgets: Vec<usize> = schedules.iter().map(|schedule| schedule.budget()).collect();
    let budgets = &budgets;
    let params: Vec<Val> = controls
        .iter()
        .map(|control| Val::Control(control.clone()))
        .collect();
    let params = &params;
    let kept = order.as_mut().map(|order| [0, 1, 2, 8][order.pick(4)]);
    // In half the overlapping cases, the first run or two go as a round of their own on the
    // DAG's default pool; then `with_kept_runs` replaces the pool, holding their memory, and
    // the rest run on the new one, while the first round's wakers get stale wakes.
    let first_round = order
        .as_mut()
        .map_or(0, |order| [0, 0, 1, 2][order.pick(4)])
        .min(schedules.len());
    let mut rest = schedules;
    let first = rest.drain(..first_round).collect::<Vec<_>>();
    // The runs that are over and checked, whose nodes' wakers are kept: for stale wakes in
    // the later round too.
    let mut over = Vec::new();
    // Runs that own an `Arc` of the DAG (`run_owned` and its kin), the caller's `Arc` dropped
    // once the last run started: the runs, their outputs and the wakers they leave then
    // outlive it, and the last of the runs and outputs frees it.
    let owned = order.as_mut().is_some_and(|order| order.pick(2) == 0);
    let policy = spec.policy;
    // The runs `$first..` of a round, one per schedule of `$schedules`.
    macro_rules! round {
        ($first:expr, $schedules:expr, $order:expr, $make:expr, $done:expr) => {
            drive_runs(
                &controls, $first, &mut over, $schedules, $order, $make, $done,
            )
        };
    }
    // Two rounds of runs of the DAG that `$build` makes, each run made by `$make` (a closure
    // of the run's index that uses `$dag`) and checked by `$done`: the first round on the
    // DAG's default pool, the rest after `with_kept_runs`. Borrowed runs:
    macro_rules! borrowed {
        ($build:ident, |$dag:ident| $make:expr, $done:ident) => {{
            let (dag, nodes) = $build(spec);
            let fired = {
                let $dag = &dag;
                round!(0, first, order.as_deref_mut(), $make, $done!(nodes, policy))?
            };
            let $dag = &kept_runs(dag, kept);
            Ok(fired | round!(first_round, rest, order, $make, $done!(nodes, policy))?)
        }};
    }
    // Owned runs: the first round's runs take a clone of the `Arc`, the rest the last one.
    macro_rules! owned {
        ($build:ident, |$dag:ident| $make:expr, $done:ident) => {{
            let (dag, nodes) = $build(spec);
            let dag = shared(dag);
            let fired = {
                let $dag = dag.clone();
                round!(0, first, order.as_deref_mut(), $make, $done!(nodes, policy))?
            };
            let $dag = rekept(dag, kept)?;
            let freed = Arc::downgrade(&$dag);
            let result = round!(first_round, rest, order, $make, $done!(nodes, policy));
            dag_freed(&freed, result.map(|later| fired | later))
        }};
    }
    match (policy, owned) {
        (Policy::Settled, false) => borrowed!(
            build_fallible,
            |dag| fallible_runs!(|run| dag.run_settled(&params[run]), spec, budgets),
            settled_done
        ),
        (Policy::Settled, true) => owned!(
            build_fallible,
            |dag| fallible_runs!(
                |run| dag.run_settled_owned(params[run].clone()),
                spec,
                budgets
            ),
            settled_done
        ),
        (Policy::TryRun, false) => borrowed!(
            build_fallible,
            |dag| fallible_runs!(|run| dag.try_run(&params[run]), spec, budgets),
            try_done
        ),
        (Policy::TryRun, true) => owned!(
            build_fallible,
            |dag| fallible_runs!(|run| dag.try_run_owned(params[run].clone()), spec, budgets),
            try_done
        ),
        (Policy::Run, false) => borrowed!(
            build_infallible,
            |dag| |run: usize| dag.run(&params[run]).with_poll_budget(budgets[run]),
            run_done
        ),
        (Policy::Run, true) => owned!(
            build_infallible,
            |dag| move |run: usize| {
                dag.run_owned(params[run].clone())
                    .with_poll_budget(budgets[run])
            },
            run_done
        ),
    }
}

/// The DAG of owned runs after their first round, keeping the memory of `kept` runs if that
/// is given: it must be the last `Arc` of it (the first round's runs, outputs and wakers are
/// done with it).
fn rekept<E>(
    dag: Arc<LocalDag<Val, E>>,
    kept: Option<usize>,
) -> Result<Arc<LocalDag<Val, E>>, String> {
    match Arc::try_unwrap(dag) {
        Ok(dag) => Ok(shared(kept_runs(dag, kept))),
        Err(dag) => Err(format!(
            "the DAG outlived the first round of owned runs and their outputs ({} `Arc`s)",
            Arc::strong_count(&dag)
        )),
    }
}

/// A run under way: its driver and its future.
struct Lane<'s, F> {
    run: usize,
    driver: Driver<'s>,
    future: Option<Held<F>>,
}

/// A run that resolved, whose output the driver holds while other runs go on (as a user
/// holds a run's outputs while the next runs take memory from the DAG's pool); checked
/// when it is let go of.
struct Resolved<'s, T> {
    run: usize,
    driver: Driver<'s>,
    output: Held<T>,
}

/// Drives run `first + i` (`make(first + i)`, with `controls[first + i]` as its parameter)
/// under `schedules[i]`, at most [`LANES`] at once as `order` picks (one at a time without it), and checks each once
/// it is over ([`finish`]). With `order`, a run that resolved keeps its output, in half the
/// cases, until a later turn (the next run starts meanwhile); a run's node futures let go of
/// the wakers kept for them as they are dropped, in half the cases, so that the waker block
/// goes back to the DAG's pool at the run's end; and the wakers the runs that are over keep
/// (resolved and held, or checked: these are added to `over`, which may hold runs of an
/// earlier round) get stale wakes between turns, and once more when every run is over.
fn drive_runs<'s, F: Future + Unpin>(
    controls: &[Rc<Control>],
    first: usize,
    over: &mut Vec<usize>,
    schedules: Vec<&'s mut dyn Schedule>,
    mut order: Option<&mut Seeded>,
    make: impl FnMut(usize) -> F,
    mut done: impl FnMut(&mut Driver<'s>, Evaluation, Held<F::Output>) -> Result<Option<u32>, String>,
) -> Result<bool, String> {
    let lanes_at_most = if order.is_some() { LANES } else { 1 };
    let mut waiting = schedules
        .into_iter()
        .enumerate()
        .map(|(index, schedule)| (first + index, schedule));
    // Dropped once the last run started (with an owned run's `Arc` of the DAG).
    let mut make = Some(make);
    let mut lanes: Vec<Lane<'s, F>> = Vec::with_capacity(lanes_at_most);
    let mut resolved: Vec<Resolved<'s, F::Output>> = Vec::new();
    let mut fired = false;
    // What went wrong in one of several runs, saying which.
    let named = |run: usize| move |problem: String| format!("run {run}: {problem}");
    loop {
        while lanes.len() < lanes_at_most {
            let (Some((run, schedule)), Some(start)) = (waiting.next(), make.as_mut()) else {
                break;
            };
            let control = &controls[run];
            if let Some(order) = order.as_mut() {
                control.drops_wakers.set(order.pick(2) == 0);
            }
            lanes.push(Lane {
                run,
                driver: Driver::new(control, schedule),
                future: Some(Held::new(start(run))),
            });
            if waiting.len() == 0 {
                make = None;
            }
        }
        let Some(order) = order.as_deref_mut() else {
            // One run, to its end.
            let Some(lane) = lanes.first_mut() else {
                return Ok(fired);
            };
            if let Some(ending) = lane.driver.step(&mut lane.future)? {
                let mut lane = lanes.remove(0);
                finish(&mut lane.driver, ending, &mut done)?;
                fired |= lane.driver.fired();
            }
            continue;
        };
        // The run that is over and checked now.
        let run = if lanes.is_empty() || (!resolved.is_empty() && order.pick(3) == 0) {
            // Let go of a resolved run's output: sometimes, and always once no run is under
            // way.
            if resolved.is_empty() {
                stale_wakes_of_runs_over(controls, over, &[], order)?;
                return Ok(fired);
            }
            let Resolved {
                run,
                mut driver,
                output,
            } = resolved.swap_remove(order.pick(resolved.len()));
            finish(&mut driver, Ending::Completed(output), &mut done).map_err(named(run))?;
            fired |= driver.fired();
            run
        } else {
            let drivers: Vec<(usize, &Driver<'s>)> = lanes
                .iter()
                .map(|lane| (lane.run, &lane.driver))
                .chain(
                    resolved
                        .iter()
                        .map(|resolved| (resolved.run, &resolved.driver)),
                )
                .collect();
            // The runs that resolved and whose outputs are held are over too: their wakers
            // get stale wakes before they are checked.
            let over_or_held: Vec<usize> = over
                .iter()
                .copied()
                .chain(resolved.iter().map(|resolved| resolved.run))
                .collect();
            stale_wakes_of_runs_over(controls, &over_or_held, &drivers, order)?;
            let turn = order.pick(lanes.len());
            let lane = &mut lanes[turn];
            let name = named(lane.run);
            let Some(ending) = lane.driver.step(&mut lane.future).map_err(name)? else {
                continue;
            };
            let lane = lanes.swap_remove(turn);
            let (run, mut driver) = (lane.run, lane.driver);
            match ending {
                Ending::Completed(output) if order.pick(2) == 0 => {
                    resolved.push(Resolved {
                        run,
                        driver,
                        output,
                    });
                    continue;
                }
                ending => finish(&mut driver, ending, &mut done).map_err(name)?,
            }
            fired |= driver.fired();
            run
        };
        if order.pick(2) == 0 {
            controls[run].let_go_of_wakers();
        } else {
            over.push(run);
        }
    }
}

/// Checks a run that is over: `done` checks what a run that resolved resolved to, against
/// the reference, and returns the poll that ended it early (a fail-fast), if one did (a run
/// whose poll panicked ended early in its last poll); then its starts, its nodes against the
/// reference, and its drops.
fn finish<'s, T>(
    driver: &mut Driver<'s>,
    ending: Ending<T>,
    done: &mut impl FnMut(&mut Driver<'s>, Evaluation, Held<T>) -> Result<Option<u32>, String>,
) -> Result<(), String> {
    let ended_early = match ending {
        Ending::Completed(output) => {
            let eval = reference(driver);
            done(driver, eval, output)?
        }
        Ending::Panicked => Some(driver.polls),
        Ending::Dropped => None,
    };
    let control = driver.control().clone();
    check_starts(&control, driver.polls, ended_early, driver.yields)?;
    check_nodes(&control, &reference(driver))?;
    check_drops(&control)
}

/// Wakes some of the nodes' wakers that the runs `over` keep (by reference, by value, or
/// from another thread; runs checked, or resolved and held): none may panic, nor wake the
/// task of a run of `drivers` (under way, or resolved and held), nor poll a node (which the
/// checks of the runs under way would find), nor change what a held run resolved to (which
/// its check finds).
fn stale_wakes_of_runs_over(
    controls: &[Rc<Control>],
    over: &[usize],
    drivers: &[(usize, &Driver<'_>)],
    order: &mut Seeded,
) -> Result<(), String> {
    for _ in 0..order.stale_wakes() {
        let wakers: Vec<(usize, Waker)> = over
            .iter()
            .flat_map(|&run| {
                controls[run]
                    .nodes
                    .borrow()
                    .iter()
                    .filter_map(|trace| trace.waker.clone().map(|waker| (run, waker)))
                    .collect::<Vec<_>>()
            })
            .collect();
        if wakers.is_empty() {
            return Ok(());
        }
        let (of, waker) = wakers[order.pick(wakers.len())].clone();
        drop(wakers);
        let before: Vec<usize> = drivers
            .iter()
            .map(|(_, driver)| driver.all_parent_wakes())
            .collect();
        let delivery = order.delivery();
        let woke =
            std::panic::catch_unwind(core::panic::AssertUnwindSafe(move || delivery.wake(waker)));
        if let Err(payload) = woke {
            return Err(format!(
                "a stale wake of run {of}, which is over, panicked: {}",
                panic_message(&*payload)
            ));
        }
        for ((run, driver), before) in drivers.iter().zip(before) {
            if driver.all_parent_wakes() != before {
                return Err(format!(
                    "a stale wake of run {of}, which is over, woke the task of run {run}"
                ));
            }
        }
    }
    Ok(())
}

/// The reference for the run as it went: a node whose poll the task waker's armed panic
/// came out of panicked in that attempt (its code, or the core's in its poll, raised it).
fn reference(driver: &Driver<'_>) -> Evaluation {
    let control = driver.control();
    let message = driver.armed_message();
    let forced = message.and_then(|message| {
        control
            .nodes
            .borrow()
            .iter()
            .enumerate()
            .find_map(|(index, trace)| match &trace.finished {
                Some((_, Outcome::Panicked(panic))) if *panic == message => {
                    Some((index, trace.attempts))
                }
                _ => None,
            })
    });
    evaluate_with(&control.spec, forced)
}

fn all_futures_gone(driver: &Driver<'_>, when: &str) -> Result<(), String> {
    match driver.alive_at_end.0 {
        0 => Ok(()),
        alive => Err(format!("{when} with {alive} node futures still alive")),
    }
}

/// Every node's output is the reference's value (its fallback's, if it fell back), an output
/// of the run whose control block is `control`; failed, panicked and skipped nodes have none
/// (`run` has none of them).
fn check_values(
    control: &Rc<Control>,
    eval: &Evaluation,
    nodes: &[Node<Val>],
    outputs: &Outputs<'_, Val, Local>,
    policy: Policy,
) -> Result<(), String> {
    for (index, want) in eval.results.iter().enumerate() {
        match (want.value(), outputs.get(nodes[index])) {
            (Some(want), Ok(Val::Num(output))) if want == *output.value => {
                if !output.is_of(control) {
                    return Err(format!(
                        "{policy:?}: node {index}'s output is another run's"
                    ));
                }
            }
            (None, Err(OutputError::NotCompleted { .. })) if policy != Policy::Run => {}
            (_, got) => {
                let got = got.map(|value| match value {
                    Val::Num(output) => Some(*output.value),
                    _ => None,
                });
                return Err(format!(
                    "{policy:?}: node {index}: expected {want:?}, got {got:?}"
                ));
            }
        }
    }
    Ok(())
}

/// A failure as the run reported it or as the node saw it: the node, how it failed (a
/// fallback's failure is its `Err`), and the attempt count `DagError::attempts` says.
type Failure = (usize, Outcome, u32);

/// The failure an error reports, checking that it is the variant its attempt count makes.
fn describe(error: &DagError<Failed>) -> Result<Failure, String> {
    let node = error
        .node()
        .task_index()
        .ok_or_else(|| format!("{error:?} names no task"))?;
    match error {
        DagError::Failed {
            error: Failed(failed),
            ..
        } if *failed == node => Ok((node, Outcome::Err, error.attempts())),
        DagError::Exhausted {
            error: Failed(failed),
            attempts,
            ..
        } if *failed == node && *attempts > 1 => Ok((node, Outcome::Err, error.attempts())),
        DagError::Panicked { message, .. } => {
            Ok((node, Outcome::Panicked(message.clone()), error.attempts()))
        }
        _ => Err(format!("{error:?} does not match node {node}")),
    }
}

/// The final failures as the nodes saw them, in order.
fn failures(control: &Control) -> Vec<Failure> {
    let nodes = control.nodes.borrow();
    control
        .failures
        .borrow()
        .iter()
        .map(|&index| {
            let trace = &nodes[index];
            match trace.finished.as_ref().map(|(_, outcome)| outcome) {
                Some(Outcome::Err | Outcome::FellBack) => (index, Outcome::Err, trace.attempts),
                // A panic is never retried, and its error says 1 attempt.
                Some(Outcome::Panicked(message)) => (index, Outcome::Panicked(message.clone()), 1),
                Some(Outcome::Ok) | None => (index, Outcome::Ok, trace.attempts),
            }
        })
        .collect()
}

/// A run that went on to the end (`run_settled`, or a `try_run` all of whose failures were
/// tolerated) recorded every failure, fallbacks' included, in the order it happened, as it
/// happened (`errors`, for `run_settled`) and by node (`failed`); those are the reference's.
fn check_recorded(
    control: &Control,
    eval: &Evaluation,
    errors: Option<&[DagError<Failed>]>,
    failed: &[NodeId],
) -> Result<(), String> {
    let want = failures(control);
    if let Some(errors) = errors {
        let got = errors.iter().map(describe).collect::<Result<Vec<_>, _>>()?;
        if got != want {
            return Err(format!(
                "run_settled reported {got:?}; the nodes failed with {want:?}"
            ));
        }
    }
    let listed: Vec<Option<usize>> = failed.iter().map(|node| node.task_index()).collect();
    let order: Vec<Option<usize>> = want.iter().map(|(index, ..)| Some(*index)).collect();
    if listed != order {
        return Err(format!(
            "Outputs::failed lists {listed:?}; the nodes failed in the order {order:?}"
        ));
    }
    let mut recorded: Vec<usize> = want.iter().map(|(index, ..)| *index).collect();
    recorded.sort_unstable();
    let reference: Vec<usize> = (0..eval.results.len())
        .filter(|&i| eval.results[i].is_recorded())
        .collect();
    if recorded != reference {
        return Err(format!(
            "nodes {recorded:?} failed; the reference fails {reference:?} ({:?})",
            eval.results
        ));
    }
    Ok(())
}

/// `try_run` fails with a failure that is not tolerated, in the last poll: every failure
/// before it was tolerated or fell back, and nothing ran after it.
fn check_fail_fast(
    control: &Control,
    eval: &Evaluation,
    polls: u32,
    error: &DagError<Failed>,
) -> Result<(), String> {
    let got = describe(error)?;
    let want = failures(control);
    if want.last() != Some(&got) {
        return Err(format!(
            "try_run failed with {got:?}; the nodes failed with {want:?}"
        ));
    }
    let stops = |index: usize| eval.results[index].is_failure() && !eval.tolerated[index];
    if !stops(got.0) {
        return Err(format!(
            "try_run failed with {got:?}, but the reference says {:?} (tolerated: {})",
            eval.results[got.0], eval.tolerated[got.0]
        ));
    }
    if let Some((index, ..)) = want[..want.len() - 1]
        .iter()
        .find(|(index, ..)| stops(*index))
    {
        return Err(format!(
            "try_run went on after node {index} failed ({:?}, not tolerated), and failed later \
             with {got:?}",
            eval.results[*index]
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

/// Each node started in the very poll in which its last input settled (roots: the first):
/// a plain input by completing (or falling back), an optional one by completing, failing or
/// being skipped; unless the run ended early in that poll or was dropped before it. No
/// other node started. A run with a poll budget (`yields`) may start a node in a later poll
/// than that, or not at all if it ended early or was dropped first (a run that resolved
/// without it fails the checks of its outputs).
fn check_starts(
    control: &Control,
    polls: u32,
    ended_early: Option<u32>,
    yields: bool,
) -> Result<(), String> {
    let nodes = control.nodes.borrow();
    // When each node settled, and whether it has a value: when its last attempt finished,
    // or when a plain input of it failed or was skipped (it is skipped then); `None` if it
    // has not settled.
    let mut settled: Vec<Option<(u32, bool)>> = Vec::with_capacity(nodes.len());
    let mut ready_rounds: Vec<Option<u32>> = Vec::with_capacity(nodes.len());
    for (index, spec) in control.spec.nodes.iter().enumerate() {
        let mut ready = Some(1u32);
        let mut skipped: Option<u32> = None;
        for (position, &input) in spec.inputs.iter().enumerate() {
            let optional = spec.is_optional(position);
            match settled[input] {
                Some((round, true)) => ready = ready.map(|latest| latest.max(round)),
                Some((round, false)) if optional => ready = ready.map(|latest| latest.max(round)),
                Some((round, false)) => {
                    ready = None;
                    skipped = Some(skipped.map_or(round, |first| first.min(round)));
                }
                None => ready = None,
            }
        }
        ready_rounds.push(ready);
        settled.push(match &nodes[index].finished {
            Some((round, outcome)) => Some((*round, outcome.has_value())),
            None => skipped.map(|round| (round, false)),
        });
    }
    for (index, ready) in ready_rounds.into_iter().enumerate() {
        match (nodes[index].started, ready) {
            (Some(started), Some(ready)) if started == ready => {}
            (Some(started), Some(ready)) if yields && started > ready => {}
            (None, None) => {}
            (None, Some(ready)) if ready > polls || ended_early == Some(ready) => {}
            (None, Some(_)) if yields => {}
            (started, ready) => {
                return Err(format!(
                    "node {index} started in poll {started:?}; its inputs all settled in \
                     poll {ready:?} (of {polls}, ended early in {ended_early:?})"
                ));
            }
        }
    }
    Ok(())
}

/// Every node that started received the reference's inputs (`None` for each optional input
/// that failed or was skipped), made no more attempts than the reference, and, if it
/// finished, exactly as many, ending as the reference says.
fn check_nodes(control: &Control, eval: &Evaluation) -> Result<(), String> {
    let nodes = control.nodes.borrow();
    for (index, trace) in nodes.iter().enumerate() {
        if trace.attempts == 0 {
            continue;
        }
        if trace.seen != eval.inputs[index] {
            return Err(format!(
                "node {index} received {:?}; the reference gives it {:?}",
                trace.seen, eval.inputs[index]
            ));
        }
        let want = eval.attempts[index];
        let Some((_, outcome)) = &trace.finished else {
            if trace.attempts > want {
                return Err(format!(
                    "node {index} made {} attempts; the reference makes {want}",
                    trace.attempts
                ));
            }
            continue;
        };
        let agrees = matches!(
            (outcome, eval.results[index]),
            (Outcome::Ok, Expected::Value(_))
                | (Outcome::FellBack, Expected::Recovered(_))
                | (Outcome::Err, Expected::Failed)
                | (Outcome::Panicked(_), Expected::Panicked)
        );
        if !agrees || trace.attempts != want {
            return Err(format!(
                "node {index} ended {outcome:?} after {} attempts; the reference says {:?} \
                 after {want}",
                trace.attempts, eval.results[index]
            ));
        }
    }
    Ok(())
}

/// Every attempt's future was dropped exactly once, and every output made.
fn check_drops(control: &Control) -> Result<(), String> {
    for (index, trace) in control.nodes.borrow().iter().enumerate() {
        check_drop_counts(
            || format!("node {index}"),
            (trace.attempts, trace.future_drops),
            (trace.outputs_made, trace.output_drops),
        )?;
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

/// A node's drop counts add up: `futures.1` drops of its `futures.0` futures (one per
/// attempt), and of its outputs made (at most one), `outputs.1` drops. `node` names it.
pub fn check_drop_counts(
    node: impl FnOnce() -> String,
    futures: (u32, u32),
    outputs: (u32, u32),
) -> Result<(), String> {
    if futures.0 != futures.1 {
        return Err(format!(
            "{} made {} futures, dropped {} times",
            node(),
            futures.0,
            futures.1
        ));
    }
    if outputs.0 > 1 || outputs.0 != outputs.1 {
        return Err(format!(
            "{} made {} outputs, dropped {} times",
            node(),
            outputs.0,
            outputs.1
        ));
    }
    Ok(())
}
