//! Property tests: random DAGs whose nodes park, fail, panic, wake themselves and finished
//! nodes, take some inputs as optional, retry and fall back, with random wake schedules,
//! stale wakes and drop points, under every policy, agree with the sequential reference
//! model (`dagfut_tests::model`). `PROPTEST_CASES` sets the number of cases.

use dagfut_tests::model::{self, DropPanic, Expected, Guard, NodeSpec, Policy, Seeded, Spec};
use proptest::prelude::*;
use proptest::sample::Index;

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

/// A seeded schedule that drops the run early in a quarter of the cases, and wakes 1 in 8
/// nodes from another thread if `threads`.
fn schedule(threads: bool) -> impl Strategy<Value = Seeded> {
    (any::<u64>(), prop::option::weighted(0.25, 0u32..12)).prop_map(move |(seed, drop_after)| {
        Seeded::new(seed)
            .with_threads(threads)
            .with_drop_after(drop_after)
    })
}

/// `cases` cases (4 under Miri), or `PROPTEST_CASES` if it is set.
fn config(cases: u32) -> ProptestConfig {
    let from_env = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: from_env.unwrap_or(if cfg!(miri) { 4 } else { cases }),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Checks `spec` under `schedule`, failing the test with the problem and the spec.
fn check(spec: &Spec, mut schedule: Seeded) {
    model::quiet_intended_panics();
    let start = schedule.clone();
    if let Err(problem) = model::check(spec, &mut schedule) {
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
        check(&spec, schedule);
    }
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
