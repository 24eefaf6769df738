//! Property tests: random DAGs whose nodes park, fail, panic, wake themselves and finished
//! nodes, take some inputs as optional, retry and fall back, with random wake schedules,
//! stale wakes, drop points and task wakers that panic in a clone, a wake or a drop, under
//! every policy, agree with the sequential reference model (`dagfut_tests::model`).
//! `PROPTEST_CASES` sets the number of cases.

mod common;

use common::config;
use dagfut_tests::model::{
    self, DropPanic, Expected, Guard, NodeSpec, Policy, Seeded, Spec, WakerOp, WakerPanic,
};
use proptest::prelude::*;
use proptest::sample::Index;

/// Every check below runs under `model::leak_checked`: what a run leaves allocated (a block
/// the pool lost, an `Arc` of the DAG) or frees with a wrong size fails it, natively.
#[global_allocator]
static ALLOCATOR: model::LeakCheck = model::LeakCheck;

/// One node: inputs, parks, fails, panics, wakes itself, wakes a finished node, and bits
/// that say which inputs are optional and what policy it has (see [`node_spec`]: one draw
/// instead of nine keeps the generation as fast as it was before they existed).
type RawNode = (Vec<Index>, u8, bool, bool, bool, Option<u8>, u64);

fn raw_node() -> impl Strategy<Value = RawNode> {
    (
        prop::collection::vec(any::<Index>(), 0..=4),
        0u8..3,
        prop::bool::weighted(0.08),
        prop::bool::weighted(0.03),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.1, any::<u8>()),
        any::<u64>(),
    )
}

/// Node `index` from its raw parts; `failures` and `panics` say whether the spec allows
/// failing and panicking nodes at all (a spec run with `run` has no failing node and no
/// policy).
///
/// The bits: 3 per input (bits `3k..3k+3`), which make input `k` optional if they are 6 or
/// 7 (a quarter of inputs); bits 12–19, 8 % of them (0 shrinks to none), a policy: bits
/// 20–27 its retries (0 to 2), bits 28–35 how many attempts fail first (0 to 3), bit 36 a
/// fallback value, bits 37–38 a backoff on the timer (a quarter of them); bits 40–42, if
/// they are 7, make every input that takes this node optional (see [`tolerate`]); bit 43,
/// the node touches its waker only to park or to wake itself.
fn node_spec(index: usize, raw: RawNode, failures: bool, panics: bool, run: bool) -> NodeSpec {
    let (inputs, parks, fails, panic, wakes_itself, wakes_finished, bits) = raw;
    let inputs: Vec<usize> = if index == 0 {
        Vec::new()
    } else {
        inputs.iter().map(|pick| pick.index(index)).collect()
    };
    let field = |shift: u32, modulo: u64| (bits >> shift) % modulo;
    NodeSpec {
        optional: (0..inputs.len())
            .map(|k| field(3 * k as u32, 8) >= 6)
            .collect(),
        inputs,
        parks,
        fails: failures && fails && !run,
        panics: panics && panic,
        wakes_itself,
        wakes_finished,
        guard: (field(12, 256) >= 236 && !run).then(|| Guard {
            retries: field(20, 256) as u8 % 3,
            failing_attempts: field(28, 256) as u8 % 4,
            fallback: field(36, 2) == 1,
            pause: field(37, 4) == 3,
        }),
        leaves_waker: field(43, 2) == 1,
    }
}

/// Makes every input that takes node `i` optional if `tolerant[i]`: a failure of it is then
/// tolerated by `try_run` if anything takes it at all (with a quarter of the inputs optional
/// at random, few nodes of more than one dependent would be).
fn tolerate(nodes: &mut [NodeSpec], tolerant: &[bool]) {
    for node in nodes {
        let inputs = node.inputs.clone();
        node.optional.resize(inputs.len(), false);
        for (flag, input) in node.optional.iter_mut().zip(inputs) {
            *flag |= tolerant[input];
        }
    }
}

/// Random DAGs of up to `max_nodes` nodes, each taking up to 4 earlier nodes (some as
/// optional inputs), some with a policy, run with a random policy (`run` in a fifth of the
/// cases). A third of them have no failing node and half no node that panics in its poll
/// (either ends a `try_run`, unless only optional inputs depend on it, and a panic without
/// `catch_panics` any run: these let runs go long); some have one value whose `Drop` panics.
fn spec(max_nodes: usize) -> impl Strategy<Value = Spec> {
    spec_sized(1..=max_nodes)
}

/// A random spec of `nodes` nodes (a count in that range).
fn spec_sized(nodes: core::ops::RangeInclusive<usize>) -> impl Strategy<Value = Spec> {
    let raw_nodes = prop::collection::vec(raw_node(), nodes);
    let drop_panic = prop::option::weighted(0.3, (any::<Index>(), any::<bool>()));
    let allowed = (prop::bool::weighted(0.67), any::<bool>());
    let policy = prop_oneof![
        2 => Just(Policy::Settled),
        2 => Just(Policy::TryRun),
        1 => Just(Policy::Run),
    ];
    (raw_nodes, policy, any::<bool>(), allowed, drop_panic).prop_map(
        |(raw, policy, catch_panics, (failures, panics), drop_panic)| {
            let count = raw.len();
            let run = policy == Policy::Run;
            let tolerant: Vec<bool> = raw.iter().map(|raw| (raw.6 >> 40) % 8 == 7).collect();
            let mut nodes: Vec<NodeSpec> = raw
                .into_iter()
                .enumerate()
                .map(|(index, raw)| node_spec(index, raw, failures, panics, run))
                .collect();
            tolerate(&mut nodes, &tolerant);
            Spec {
                nodes,
                policy,
                catch_panics: catch_panics && !run,
                drop_panic: drop_panic.map(|(node, future)| {
                    let node = node.index(count);
                    if future {
                        DropPanic::Future(node)
                    } else {
                        DropPanic::Output(node)
                    }
                }),
            }
        },
    )
}

/// A seeded schedule that drops the run early in a quarter of the cases, wakes 1 in 8
/// nodes from another thread if `threads`, and in an eighth of the cases has a task waker
/// panic in one of its calls (a clone or a drop among the first 3 the run makes, a wake
/// among the first 8), and in a quarter of the cases gives the run a poll budget (1 to 8
/// node polls per poll of the run, or 32), so that it yields.
fn schedule(threads: bool) -> impl Strategy<Value = Seeded> {
    let waker_panic = prop::option::weighted(0.125, common::waker_panic());
    // A run with a poll budget yields once that many node polls went in one poll of it.
    let budget = prop::option::weighted(0.25, prop_oneof![1usize..=8, Just(32)]);
    (
        any::<u64>(),
        prop::option::weighted(0.25, 0u32..12),
        waker_panic,
        budget,
    )
        .prop_map(move |(seed, drop_after, waker_panic, budget)| {
            Seeded::new(seed)
                .with_threads(threads)
                .with_drop_after(drop_after)
                .with_waker_panic(waker_panic)
                .with_budget(budget)
        })
}

/// Checks `spec` under `schedule`, failing the test with the problem and the spec.
fn check(spec: &Spec, mut schedule: Seeded) {
    model::quiet_intended_panics();
    let start = schedule.clone();
    if let Err(problem) = model::leak_checked_result(|| model::check(spec, &mut schedule)) {
        panic!("{problem}\n{spec:?}\n{start:?}");
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn random_dags_agree_with_the_reference(
        spec in spec(if cfg!(miri) { 8 } else { 120 }),
        schedule in schedule(false),
    ) {
        check(&spec, schedule);
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// Runs of more than 64 tasks keep their ready queue in lists (smaller ones in two
    /// bitmasks, which every spec above uses under Miri): the same properties on them, in a
    /// size Miri runs too.
    #[test]
    fn runs_past_the_bitmask_queue_agree_with_the_reference(
        spec in spec_sized(65..=72),
        schedule in schedule(false),
    ) {
        check(&spec, schedule);
    }

    /// Every run with a poll budget of 1 or 2 node polls, so that it yields in nearly every
    /// poll, with stale wakes queued behind the nodes and at its end (the schedules above
    /// give a quarter of the runs a budget, which Miri's few cases may miss), on runs of
    /// both ready queues (up to 72 tasks; up to 8 under Miri).
    #[test]
    fn runs_that_yield_at_every_poll_agree_with_the_reference(
        spec in spec(if cfg!(miri) { 8 } else { 72 }),
        schedule in schedule(false),
        budget in 1usize..=2,
    ) {
        check(&spec, schedule.with_budget(Some(budget)));
    }
}

/// Checks runs of `spec`'s DAG, one per schedule, up to three at once in `order`, failing the
/// test with the problem, the spec and the schedules.
fn check_overlapping(spec: &Spec, mut schedules: Vec<Seeded>, mut order: Seeded) {
    model::quiet_intended_panics();
    let start = (schedules.clone(), order.clone());
    let checked =
        model::leak_checked_result(|| model::check_overlapping(spec, &mut schedules, &mut order));
    if let Err(problem) = checked {
        panic!("{problem}\n{spec:?}\n{start:?}");
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// Four runs of one DAG, up to three at once, each against the reference (see
    /// `model::check_overlapping`): runs that take memory from the DAG's pool while others
    /// hold some, allocate their own when every place is held, take up the memory of runs
    /// that ended while those runs' outputs are still held, owned runs that outlive the DAG's
    /// `Arc`, and stale wakes of runs that are over while others are under way.
    #[test]
    fn overlapping_runs_of_one_dag_each_agree_with_the_reference(
        spec in spec(if cfg!(miri) { 6 } else { 40 }),
        schedules in prop::collection::vec(schedule(false), 4),
        order in any::<u64>(),
    ) {
        check_overlapping(&spec, schedules, Seeded::new(order).with_threads(true));
    }
}

/// Overlapping runs of a small DAG, from none to six of them, each number with several
/// orders (a first round of up to two runs takes what there is).
#[test]
fn overlapping_runs_take_any_number_of_schedules() {
    for runs in 0..=6 {
        for seed in 0..if cfg!(miri) { 2 } else { 20 } {
            let schedules = (0..runs).map(|run| Seeded::new(seed * 7 + run)).collect();
            check_overlapping(&diamond(), schedules, Seeded::new(seed));
        }
    }
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn wakes_from_other_threads_agree_with_the_reference(
        spec in spec(if cfg!(miri) { 6 } else { 60 }),
        schedule in schedule(true),
    ) {
        check(&spec, schedule);
    }
}

/// Node `i` of a hand-written spec.
fn node(inputs: &[usize], parks: u8) -> NodeSpec {
    NodeSpec {
        inputs: inputs.to_vec(),
        parks,
        ..NodeSpec::default()
    }
}

/// A diamond where one branch fails: the join is skipped, the other branch completes.
fn diamond() -> Spec {
    Spec {
        nodes: vec![
            node(&[], 0),
            NodeSpec {
                fails: true,
                ..node(&[0], 1)
            },
            node(&[0, 0], 2),
            node(&[1, 2], 0),
        ],
        ..Spec::default()
    }
}

/// The leak check the checks above run under fails where it must: on an allocation left
/// live, on one freed with another size than it was made with, and without its allocator.
#[test]
fn the_leak_check_finds_what_it_must() {
    let still_live = "1 of the 1 allocations made are still live: a leak";
    // `black_box`: an optimised build would elide an allocation it can see through.
    let boxed = || std::hint::black_box(Box::new(1u64));
    assert_eq!(model::leak_checked(|| *boxed() + 1), (2, Ok(())));
    // Work that allocates nothing is what a missing allocator looks like: no check at all.
    let (_, nothing) = model::leak_checked(|| 1);
    assert!(
        nothing
            .unwrap_err()
            .contains("`LeakCheck` is not the global allocator")
    );
    // What the work returns is still live as the check counts.
    assert_eq!(model::leak_checked(boxed).1.unwrap_err(), still_live);
    // Grown (a reallocation keeps the allocation's record), or made before and grown.
    let collected = || std::hint::black_box((0..100u64).collect::<Vec<_>>());
    assert_eq!(model::leak_checked(|| collected().len()), (100, Ok(())));
    let grown = model::leak_checked(|| {
        let mut grown = vec![0u64];
        grown.extend(0..100);
        std::hint::black_box(grown)
    });
    assert_eq!(grown.1.unwrap_err(), still_live);
    let mut before = vec![0u64];
    let grown_before = model::leak_checked(|| {
        before.extend(0..100);
        boxed()
    });
    assert_eq!(grown_before.1.unwrap_err(), still_live);
    drop(before);
    // Freed on another thread: counted all the same.
    let value = Box::new(1u64);
    let freed = model::leak_checked(|| std::thread::spawn(move || drop(value)).join().is_ok());
    assert_eq!(freed, (true, Ok(())));
    let moved = model::leak_checked(|| {
        let value = boxed();
        std::thread::spawn(move || drop(value)).join().is_ok()
    });
    assert_eq!(moved, (true, Ok(())));
    // A check's own problem comes first: its message is still live as the check ends.
    let problem = || Err::<(), String>(format!("{} went wrong", "something"));
    assert_eq!(model::leak_checked(problem).1.unwrap_err(), still_live);
    assert_eq!(
        model::leak_checked_result(problem),
        Err("something went wrong".into())
    );
    assert_eq!(model::leak_checked_result(|| Ok(*boxed())), Ok(1));
    // A free with a wrong size breaks `GlobalAlloc`'s contract, which the check does not pass
    // on to the system allocator (it frees with the size it recorded); Miri would stop at the
    // caller.
    if !cfg!(miri) {
        let (_, wrong) = model::leak_checked(|| {
            let layout = std::alloc::Layout::new::<[u64; 2]>();
            // SAFETY: allocated with a non-zero size, freed once. The size it is freed with is
            // wrong on purpose: the leak check frees it with the right one.
            unsafe {
                let memory = std::hint::black_box(std::alloc::alloc(layout));
                assert!(!memory.is_null());
                std::alloc::dealloc(memory, std::alloc::Layout::new::<u64>());
            }
        });
        assert_eq!(
            wrong,
            Err("allocations freed with another size than they were made with: 1".into())
        );
    }
}

#[test]
fn the_reference_model_itself() {
    let spec = diamond();
    let expected = model::reference(&spec);
    assert_eq!(expected[1], model::Expected::Failed);
    assert_eq!(expected[3], model::Expected::Skipped);
    assert_eq!(
        expected[2],
        model::Expected::Value(model::mix(2, &[model::mix(0, &[]); 2]))
    );
    // A future that panics when dropped after `Ready` panics, whatever it returned.
    let spec = Spec {
        drop_panic: Some(DropPanic::Future(2)),
        ..spec
    };
    let expected = model::reference(&spec);
    assert_eq!(expected[2], model::Expected::Panicked);
    assert_eq!(expected[3], model::Expected::Skipped);
}

/// A node whose input `k` is optional if `optional[k]`.
fn with_optional(node: NodeSpec, optional: &[bool]) -> NodeSpec {
    NodeSpec {
        optional: optional.to_vec(),
        ..node
    }
}

/// A node with a policy: `retries`, the first `failing_attempts` attempts fail, maybe a
/// fallback value, maybe a backoff on the timer.
fn guarded(
    node: NodeSpec,
    retries: u8,
    failing_attempts: u8,
    fallback: bool,
    pause: bool,
) -> NodeSpec {
    NodeSpec {
        guard: Some(Guard {
            retries,
            failing_attempts,
            fallback,
            pause,
        }),
        ..node
    }
}

/// Every failure is tolerated or falls back: a `try_run` goes on to the end.
///
/// 1 fails, and only optional inputs take it (2, 5); 3 fails twice and succeeds on its third
/// attempt, after a backoff; 4 fails both its attempts and falls back; 6 has a policy that
/// never acts; 7 fails all 3 of its attempts, and only 8 takes it, as an optional input.
fn tolerant() -> Vec<NodeSpec> {
    vec![
        node(&[], 1),
        NodeSpec {
            fails: true,
            ..node(&[0], 1)
        },
        NodeSpec {
            wakes_itself: true,
            ..with_optional(node(&[0, 1], 2), &[false, true])
        },
        guarded(node(&[0], 1), 2, 2, false, true),
        guarded(node(&[2], 1), 1, 3, true, false),
        NodeSpec {
            wakes_finished: Some(1),
            ..with_optional(node(&[3, 4, 1], 0), &[false, false, true])
        },
        guarded(
            with_optional(node(&[5, 2], 0), &[false, true]),
            0,
            0,
            false,
            false,
        ),
        NodeSpec {
            fails: true,
            wakes_itself: true,
            ..guarded(node(&[0], 1), 2, 0, false, false)
        },
        with_optional(node(&[7, 6], 1), &[true, false]),
    ]
}

/// Failures and skips that optional inputs absorb, and one that stops a `try_run`.
///
/// 1 fails, tolerated (only 3 takes it, as an optional input); 2 fails later, and 3 needs
/// it: 3 is skipped, and 5, which needs 3, too; 4 and 6 take 2, 3 and 5 as optional inputs
/// and run without them; 7 fails its first attempt and panics in its second; only 8 takes
/// it, as an optional input.
fn absorbing() -> Vec<NodeSpec> {
    vec![
        node(&[], 0),
        NodeSpec {
            fails: true,
            ..node(&[0], 0)
        },
        NodeSpec {
            fails: true,
            ..node(&[0], 2)
        },
        with_optional(node(&[1, 2], 0), &[true, false]),
        with_optional(node(&[2, 3], 1), &[true, true]),
        node(&[3, 0], 0),
        with_optional(node(&[5], 0), &[true]),
        NodeSpec {
            panics: true,
            ..guarded(with_optional(node(&[0], 1), &[true]), 1, 1, false, false)
        },
        with_optional(node(&[7, 4, 7], 0), &[true, false, true]),
    ]
}

#[test]
fn the_reference_model_of_optional_inputs_and_policies() {
    let eval = model::evaluate(&Spec {
        nodes: tolerant(),
        ..Spec::default()
    });
    let root = model::mix(0, &[]);
    let two = model::mix(2, &[root, model::ABSENT]);
    let three = model::mix(3, &[root]);
    let four = model::fallback_value(4);
    assert_eq!(eval.results[1], Expected::Failed);
    assert_eq!(eval.results[2], Expected::Value(two));
    assert_eq!(eval.results[3], Expected::Value(three));
    assert_eq!(eval.results[4], Expected::Recovered(four));
    assert_eq!(eval.inputs[5], Some(vec![Some(three), Some(four), None]));
    assert_eq!(eval.results[7], Expected::Failed);
    assert_eq!(eval.attempts, [1, 1, 1, 3, 2, 1, 1, 3, 1]);
    assert!(eval.tolerated[1] && eval.tolerated[7] && !eval.tolerated[0]);
    assert!(!eval.try_run_stops());

    let eval = model::evaluate(&Spec {
        nodes: absorbing(),
        ..Spec::default()
    });
    use Expected::{Failed, Panicked, Skipped};
    assert_eq!(
        eval.results
            .iter()
            .map(|r| r.value().is_some())
            .collect::<Vec<_>>(),
        [true, false, false, false, true, false, true, false, true]
    );
    assert_eq!(&eval.results[1..4], [Failed, Failed, Skipped]);
    assert_eq!(eval.results[5], Skipped);
    assert_eq!(eval.results[7], Panicked);
    assert_eq!(eval.inputs[4], Some(vec![None, None]));
    assert_eq!(eval.inputs[6], Some(vec![None]));
    assert_eq!(eval.attempts[7], 2);
    // 5 is skipped: its failure, were it one, would be tolerated.
    assert_eq!(
        eval.tolerated,
        [false, true, false, false, false, true, false, true, false]
    );
    assert!(eval.try_run_stops());
}

/// Every policy, with and without `catch_panics`.
fn policies() -> impl Iterator<Item = (Policy, bool)> {
    [Policy::Settled, Policy::TryRun]
        .into_iter()
        .flat_map(|policy| [false, true].map(|catch| (policy, catch)))
}

/// A small DAG where every feature shows up: a node that wakes itself and a finished node in
/// its last poll, a failure, a panic, parked nodes borrowing their inputs. It runs under every
/// policy, with every value in turn panicking when dropped, dropped after every poll.
#[test]
fn every_feature_on_a_small_dag() {
    let nodes = vec![
        node(&[], 1),
        NodeSpec {
            wakes_itself: true,
            ..node(&[], 0)
        },
        NodeSpec {
            wakes_itself: true,
            wakes_finished: Some(1),
            ..node(&[0, 1], 1)
        },
        node(&[0, 2], 2),
        NodeSpec {
            fails: true,
            ..node(&[1], 1)
        },
        NodeSpec {
            panics: true,
            wakes_finished: Some(0),
            ..node(&[2], 2)
        },
        node(&[3, 2], 1),
    ];
    let count = nodes.len();
    // Under Miri, every third value whose drop panics, and every fourth drop point.
    let (every_value, every_point) = if cfg!(miri) { (3, 4) } else { (1, 1) };
    let drop_panics = (0..count)
        .flat_map(|node| [DropPanic::Future(node), DropPanic::Output(node)])
        .step_by(every_value)
        .map(Some)
        .chain([None]);
    let drop_points = (0..8).step_by(every_point).map(Some).chain([None]);
    let seeds = if cfg!(miri) { 1 } else { 3 };
    for (policy, catch_panics) in policies() {
        for drop_panic in drop_panics.clone() {
            let spec = Spec {
                nodes: nodes.clone(),
                policy,
                catch_panics,
                drop_panic,
            };
            for drop_after in drop_points.clone() {
                for seed in 0..seeds {
                    check(&spec, Seeded::new(seed).with_drop_after(drop_after));
                }
            }
        }
    }
}

/// The nodes of `nodes` under `policy`: `run` has no failing nodes and no policies.
fn for_policy(nodes: &[NodeSpec], policy: Policy) -> Vec<NodeSpec> {
    nodes
        .iter()
        .map(|node| match policy {
            Policy::Run => NodeSpec {
                fails: false,
                guard: None,
                ..node.clone()
            },
            Policy::Settled | Policy::TryRun => node.clone(),
        })
        .collect()
}

/// Two small DAGs of optional inputs, retries and fallbacks, under every policy, `run`
/// too, with every value in turn panicking when dropped, dropped after every poll.
#[test]
fn optional_inputs_and_policies_on_small_dags() {
    // Under Miri, one seed and every 261st of the other combinations: 5 a DAG, one of each
    // policy (209 combinations each for the first DAG), with different values and drop
    // points; the random DAGs cover the rest there.
    let (seeds, every) = if cfg!(miri) { (1, 261) } else { (3, 1) };
    for nodes in [tolerant(), absorbing()] {
        let count = nodes.len();
        let drop_panics: Vec<Option<DropPanic>> = (0..count)
            .flat_map(|node| [DropPanic::Future(node), DropPanic::Output(node)])
            .map(Some)
            .chain([None])
            .collect();
        let drop_points: Vec<Option<u32>> = (0..10).map(Some).chain([None]).collect();
        let combinations = policies()
            .chain([(Policy::Run, false)])
            .flat_map(|policy| {
                drop_panics
                    .iter()
                    .map(move |&drop_panic| (policy, drop_panic))
            })
            .flat_map(|combination| drop_points.iter().map(move |&point| (combination, point)))
            .step_by(every);
        for (((policy, catch_panics), drop_panic), drop_after) in combinations {
            let spec = Spec {
                nodes: for_policy(&nodes, policy),
                policy,
                catch_panics,
                drop_panic,
            };
            for seed in 0..seeds {
                check(&spec, Seeded::new(seed).with_drop_after(drop_after));
            }
        }
    }
}

#[test]
fn decoded_fuzz_inputs_check_out() {
    for bytes in [
        &b""[..],
        b"\x01\x02\x03\x04\x05\x06\x07\x08abcdefghijklmnop",
        &[0xff; 64],
        // try_run, catch_panics, a future that panics when dropped, dropped after poll 3.
        b"\x01\x02\x03\x04\x05\x06\x07\x08\x2b\x02\x03\xe1\x00\x05\xc1\x00\x00\xe2\x01\x06\xc3\x00\x00\x03\x00\x01\xd4",
        // The seed of the fuzzer's corpus with optional inputs and policies.
        include_bytes!("../../fuzz/corpus/scheduler/optional"),
    ]
    .into_iter()
    // The other seeds of the corpus, but under Miri.
    .chain((!cfg!(miri)).then_some([
        &include_bytes!("../../fuzz/corpus/scheduler/chain")[..],
        include_bytes!("../../fuzz/corpus/scheduler/failing"),
        include_bytes!("../../fuzz/corpus/scheduler/wide"),
    ]).into_iter().flatten())
    {
        // Under Miri, the first 12 nodes of each.
        let (spec, schedule) = model::decode(bytes, if cfg!(miri) { 12 } else { 64 });
        // As the fuzzer does, each also padded past the bitmask queue (not under Miri: the
        // runs of 65-72 tasks above run there).
        let padded = (!cfg!(miri)).then(|| model::padded(&spec, 72));
        for spec in core::iter::once(&spec).chain(&padded) {
            assert_eq!(spec.validate(), Ok(()));
            let (runs, order) = model::overlapping(&schedule);
            check(spec, schedule.clone());
            check_overlapping(spec, runs.into(), order);
        }
    }
}

/// `model::padded` keeps a spec's own nodes as they are and adds plain ones up to the count:
/// each a root, or taking one of the spec's nodes as an optional input (which cannot end a
/// `try_run` through it), or taking the added node before it; some of each.
#[test]
fn padding_keeps_the_spec_and_adds_plain_nodes() {
    let (spec, _) = model::decode(include_bytes!("../../fuzz/corpus/scheduler/optional"), 64);
    let own = spec.nodes.len();
    let padded = model::padded(&spec, 72);
    assert_eq!(padded.validate(), Ok(()));
    assert_eq!(padded.nodes.len(), 72);
    assert_eq!(padded.nodes[..own], spec.nodes[..]);
    assert_eq!(
        (padded.policy, padded.drop_panic),
        (spec.policy, spec.drop_panic)
    );
    let mut kinds = [0; 3];
    for (index, node) in padded.nodes.iter().enumerate().skip(own) {
        let plain = NodeSpec {
            inputs: node.inputs.clone(),
            optional: node.optional.clone(),
            ..NodeSpec::default()
        };
        assert_eq!(*node, plain, "node {index}");
        let kind = match (&node.inputs[..], &node.optional[..]) {
            ([], []) => 0,
            (&[input], [true]) if input < own => 1,
            (&[input], [false]) if input == index - 1 && input >= own => 2,
            other => panic!("node {index} takes {other:?}"),
        };
        kinds[kind] += 1;
    }
    assert!(kinds.iter().all(|&count| count > 0), "{kinds:?}");
    let empty = model::padded(&Spec::default(), 65);
    assert_eq!(empty.validate(), Ok(()));
    assert_eq!(empty.nodes.len(), 65);
}

/// The bytes of optional inputs and policies decode as `model::decode` says, and check out
/// under `try_run` (which goes on after 1 fails: only an optional input takes it) and
/// `run_settled`.
#[test]
fn decoded_optional_inputs_and_policies() {
    // 0: retries once, its first attempt fails; 1 fails; 2 takes 1 (optional) and 0; 3 takes
    // 2, fails its only attempt and falls back.
    let nodes = b"\x00\x01\x01\x00\x00\x0b\x01\x00\x02\x00\x00\x00\x02\x01\x00\x00\x01\x00\x01\x02\x03\x00\x00\x39";
    // `run_settled`, `try_run`, `try_run` catching panics (under Miri, `try_run` only).
    let policies: &[u8] = if cfg!(miri) {
        &[0x01]
    } else {
        &[0x00, 0x01, 0x03]
    };
    for &flags in policies {
        let mut bytes = b"\x01\x02\x03\x04\x05\x06\x07\x08".to_vec();
        bytes.extend([flags, 0, 0]);
        bytes.extend(nodes);
        let (spec, schedule) = model::decode(&bytes, 64);
        let guard = |retries, failing_attempts, fallback| Guard {
            retries,
            failing_attempts,
            fallback,
            pause: false,
        };
        assert_eq!(spec.nodes[0].guard, Some(guard(1, 1, false)));
        assert!(spec.nodes[1].fails);
        assert_eq!(spec.nodes[2].inputs, [1, 0]);
        assert_eq!(spec.nodes[2].optional, [true, false]);
        assert_eq!(spec.nodes[3].inputs, [2]);
        assert_eq!(spec.nodes[3].guard, Some(guard(0, 3, true)));
        let eval = model::evaluate(&spec);
        assert_eq!(eval.attempts, [2, 1, 1, 1]);
        assert_eq!(
            eval.results[3],
            Expected::Recovered(model::fallback_value(3))
        );
        assert!(!eval.try_run_stops());
        check(&spec, schedule);
    }
}

/// Checks `spec` under `schedule` as [`check`] does, saying whether the task waker's armed
/// panic came.
fn check_armed(spec: &Spec, mut schedule: Seeded) -> bool {
    model::quiet_intended_panics();
    let start = schedule.clone();
    match model::leak_checked_result(|| model::check_run(spec, &mut schedule)) {
        Ok(fired) => fired,
        Err(problem) => panic!("{problem}\n{spec:?}\n{start:?}"),
    }
}

/// A small DAG whose nodes park, wake themselves and a finished node, and retry (node 3's
/// second failure in a row yields: its policy wakes its own waker, in the core's code; node
/// 6 wakes itself in the first poll, before the task's waker is registered: the run wakes
/// it itself then).
fn waking_nodes() -> Vec<NodeSpec> {
    vec![
        node(&[], 2),
        NodeSpec {
            wakes_itself: true,
            ..node(&[], 1)
        },
        NodeSpec {
            wakes_finished: Some(0),
            ..node(&[0, 1], 2)
        },
        guarded(node(&[2], 0), 2, 2, false, false),
        NodeSpec {
            wakes_itself: true,
            ..node(&[0, 3], 2)
        },
        node(&[1], 3),
        NodeSpec {
            wakes_itself: true,
            ..node(&[], 0)
        },
    ]
}

/// Runs the DAG of [`waking_nodes`] under every policy (`run` too), with a task waker that
/// panics at the `nth` call of `op` for each `nth` of `nths`, over a few seeds, with and
/// without wakes from other threads, run to its end or dropped after each of `drop_points`;
/// returns how many runs the panic came in, by `nth`. Under Miri, one seed, with wakes from
/// other threads only, the first 2 `nth`s and the first drop point.
fn with_a_panicking_task_waker(
    op: WakerOp,
    nths: core::ops::RangeInclusive<u32>,
    drop_points: &[u32],
) -> Vec<u32> {
    let seeds = if cfg!(miri) { 1 } else { 6 };
    let (nths, drop_points, threads) = if cfg!(miri) {
        let first = *nths.start();
        (
            first..=first + 1,
            &drop_points[..drop_points.len().min(1)],
            &[true][..],
        )
    } else {
        (nths, drop_points, &[false, true][..])
    };
    let mut fired = vec![0; *nths.end() as usize + 1];
    for (policy, catch_panics) in policies().chain([(Policy::Run, false)]) {
        let spec = Spec {
            nodes: for_policy(&waking_nodes(), policy),
            policy,
            catch_panics,
            drop_panic: None,
        };
        for nth in nths.clone() {
            let drop_points = drop_points.iter().copied().map(Some).chain([None]);
            for (seed, drop_after) in (0..seeds).flat_map(|seed| {
                drop_points
                    .clone()
                    .map(move |drop_after| (seed, drop_after))
            }) {
                for &threads in threads {
                    let schedule = Seeded::new(seed)
                        .with_threads(threads)
                        .with_drop_after(drop_after)
                        .with_waker_panic(Some(WakerPanic { op, nth }));
                    fired[nth as usize] += u32::from(check_armed(&spec, schedule));
                }
            }
        }
    }
    fired
}

/// A task waker whose clone panics: a registration's (the first poll that waits, or a poll
/// from the other task) panics out of the run's poll, which is then poisoned.
#[test]
fn a_task_waker_that_panics_in_clone() {
    let fired = with_a_panicking_task_waker(WakerOp::Clone, 1..=3, &[]);
    // The first clone is the first registration: every run makes it (5 policies, 6 seeds,
    // with and without threads; under Miri 1 seed, with threads).
    assert_eq!(fired[1], if cfg!(miri) { 5 } else { 60 }, "{fired:?}");
    assert!(fired[2] > 0, "{fired:?}");
}

/// A task waker whose wake panics: out of a node's poll (the node panics), out of a wake
/// between polls (that wake is lost, and the next wakes reach the task again once the run
/// was polled), or out of the run's own wake.
#[test]
fn a_task_waker_that_panics_in_wake() {
    let fired = with_a_panicking_task_waker(WakerOp::Wake, 1..=6, &[]);
    assert!(fired[1..].iter().all(|&count| count > 0), "{fired:?}");
}

/// A task waker whose drop panics: out of a registration that replaces it (the run's poll
/// panics), or out of the end of the run, in its last poll or its drop.
#[test]
fn a_task_waker_that_panics_in_drop() {
    let fired = with_a_panicking_task_waker(WakerOp::Drop, 1..=3, &[2, 1, 4]);
    assert!(fired[1] > 0 && fired[2] > 0, "{fired:?}");
}

/// A task waker whose wake panics in a policy's yield (the core's code, in the node's poll):
/// with `catch_panics` that node panicked, in the attempt that failed.
#[test]
fn a_task_waker_that_panics_in_a_policys_yield() {
    // 0 parks once; 1 takes it, fails two attempts in a row and yields, in the second poll.
    // The first wake of the task is the driver's of node 0, the second that yield's.
    let nodes = vec![node(&[], 1), guarded(node(&[0], 0), 2, 2, false, false)];
    for (policy, catch_panics) in policies() {
        let spec = Spec {
            nodes: nodes.clone(),
            policy,
            catch_panics,
            drop_panic: None,
        };
        let armed = Some(WakerPanic {
            op: WakerOp::Wake,
            nth: 2,
        });
        for seed in 0..if cfg!(miri) { 1 } else { 4 } {
            let schedule = Seeded::new(seed).with_waker_panic(armed);
            assert!(check_armed(&spec, schedule), "{spec:?}, seed {seed}");
        }
    }
}

/// The corpus's seeds decode with no task waker panic (bit 7 of byte 8 is clear in each),
/// and bytes that set it decode the call that panics from byte 10.
#[test]
fn decoded_task_waker_panics() {
    for bytes in [
        &include_bytes!("../../fuzz/corpus/scheduler/chain")[..],
        include_bytes!("../../fuzz/corpus/scheduler/failing"),
        include_bytes!("../../fuzz/corpus/scheduler/optional"),
        include_bytes!("../../fuzz/corpus/scheduler/wide"),
        b"",
    ] {
        assert_eq!(model::decode(bytes, 64).1.waker_panic, None);
    }
    let nodes = b"\x00\x00\x01\x00\x00\x00\x01\x00\x02\x00\x00\x00";
    for (byte, op, nth) in [
        (0x00, WakerOp::Clone, 1),
        (0x50, WakerOp::Wake, 2),
        (0xe0, WakerOp::Drop, 4),
        (0xb3, WakerOp::Wake, 3),
    ] {
        let mut bytes = b"\x01\x02\x03\x04\x05\x06\x07\x08".to_vec();
        bytes.extend([0x82, 0, byte]);
        bytes.extend(nodes);
        let (spec, schedule) = model::decode(&bytes, 64);
        assert_eq!(schedule.waker_panic, Some(WakerPanic { op, nth }));
        assert!(spec.catch_panics && spec.drop_panic.is_none());
        check(&spec, schedule);
    }
}

/// A schedule that delivers every wake the same way, wakes each parked node once, sends no
/// stale wakes, polls from one task, maybe drops the run after a given poll, and has a task
/// waker call panic.
struct Scripted {
    delivery: model::Delivery,
    waker_panic: WakerPanic,
    drop_after: Option<u32>,
}

impl model::Schedule for Scripted {
    fn pick(&mut self, _count: usize) -> usize {
        0
    }
    fn twice(&mut self) -> bool {
        false
    }
    fn delivery(&mut self) -> model::Delivery {
        self.delivery
    }
    fn stale_wakes(&mut self) -> usize {
        0
    }
    fn drop_run(&mut self, polls: u32) -> bool {
        self.drop_after == Some(polls)
    }
    fn switch_parent(&mut self) -> bool {
        false
    }
    fn waker_panic(&mut self) -> Option<WakerPanic> {
        Some(self.waker_panic)
    }
}

/// Checks `spec` under `schedule`, which must make the task waker's armed panic come.
fn check_scripted(spec: &Spec, mut schedule: Scripted) {
    model::quiet_intended_panics();
    let (delivery, waker_panic, drop_after) =
        (schedule.delivery, schedule.waker_panic, schedule.drop_after);
    let context = format!("{delivery:?}, {waker_panic:?}, dropped after {drop_after:?}");
    match model::leak_checked_result(|| model::check_run(spec, &mut schedule)) {
        Ok(fired) => assert!(fired, "the armed panic did not come: {context}"),
        Err(problem) => panic!("{problem}\n{context}"),
    }
}

/// Three nodes that park twice each, and one that takes them.
fn three_parking_nodes() -> Spec {
    Spec {
        nodes: vec![
            node(&[], 2),
            node(&[], 2),
            node(&[], 2),
            node(&[0, 1, 2], 1),
        ],
        ..Spec::default()
    }
}

/// The driver's wake of a parked node, by reference, by value or from another thread, whose
/// task waker panics: the wake is lost, the node waker consumed by value is let go all the
/// same (else its waker block leaks: Miri reports it), and the next wakes reach the task.
#[test]
fn a_wake_between_polls_whose_task_waker_panics() {
    let spec = three_parking_nodes();
    let deliveries = [
        model::Delivery::ByRef,
        model::Delivery::ByValue,
        model::Delivery::FromThread,
    ];
    for delivery in deliveries {
        for nth in [1, 3] {
            let waker_panic = WakerPanic {
                op: WakerOp::Wake,
                nth,
            };
            let schedule = Scripted {
                delivery,
                waker_panic,
                drop_after: None,
            };
            check_scripted(&spec, schedule);
        }
    }
}

/// The task waker's drop panics as the run lets go of it: in the poll that completes the
/// run (the driver still keeps the nodes' wakers, so the waker block outlives the run), or
/// as the dropped run lets go of it (alone with its block then). Either way the run gives up
/// its block all the same (else the block leaks: Miri reports it).
#[test]
fn a_task_waker_that_panics_in_drop_as_the_run_ends() {
    let spec = three_parking_nodes();
    let waker_panic = WakerPanic {
        op: WakerOp::Drop,
        nth: 1,
    };
    for drop_after in [None, Some(2)] {
        let schedule = Scripted {
            delivery: model::Delivery::ByRef,
            waker_panic,
            drop_after,
        };
        check_scripted(&spec, schedule);
    }
}
