//! Property tests: random DAGs whose nodes park, fail, panic, wake themselves and finished
//! nodes, with random wake schedules, stale wakes and drop points, under every policy, agree
//! with the sequential reference model (`dagfut_tests::model`). `PROPTEST_CASES` sets the
//! number of cases.

use dagfut_tests::model::{self, DropPanic, NodeSpec, Policy, Seeded, Spec};
use proptest::prelude::*;
use proptest::sample::Index;

/// One node: inputs, parks, fails, panics, wakes itself, wakes a finished node.
type RawNode = (Vec<Index>, u8, bool, bool, bool, Option<u8>);

fn raw_node() -> impl Strategy<Value = RawNode> {
    (
        prop::collection::vec(any::<Index>(), 0..=4),
        0u8..3,
        prop::bool::weighted(0.08),
        prop::bool::weighted(0.03),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.1, any::<u8>()),
    )
}

/// Node `index` from its raw parts; `failures` and `panics` say whether the spec allows
/// failing and panicking nodes at all.
fn node_spec(index: usize, raw: RawNode, failures: bool, panics: bool) -> NodeSpec {
    let (inputs, parks, fails, panic, wakes_itself, wakes_finished) = raw;
    NodeSpec {
        inputs: if index == 0 {
            Vec::new()
        } else {
            inputs.iter().map(|pick| pick.index(index)).collect()
        },
        parks,
        fails: failures && fails,
        panics: panics && panic,
        wakes_itself,
        wakes_finished,
    }
}

/// Random DAGs of up to `max_nodes` nodes, each taking up to 4 earlier nodes, run with a
/// random policy. A third of them have no failing node and half no node that panics in its
/// poll (either ends a `try_run`, and a panic without `catch_panics` any run: these let runs
/// go long); some have one value whose `Drop` panics.
fn spec(max_nodes: usize) -> impl Strategy<Value = Spec> {
    let raw_nodes = prop::collection::vec(raw_node(), 1..=max_nodes);
    let drop_panic = prop::option::weighted(0.3, (any::<Index>(), any::<bool>()));
    let allowed = (prop::bool::weighted(0.67), any::<bool>());
    (raw_nodes, any::<bool>(), any::<bool>(), allowed, drop_panic).prop_map(
        |(raw, try_run, catch_panics, (failures, panics), drop_panic)| {
            let count = raw.len();
            Spec {
                nodes: raw
                    .into_iter()
                    .enumerate()
                    .map(|(index, raw)| node_spec(index, raw, failures, panics))
                    .collect(),
                policy: if try_run {
                    Policy::TryRun
                } else {
                    Policy::Settled
                },
                catch_panics,
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

#[test]
fn decoded_fuzz_inputs_check_out() {
    for bytes in [
        &b""[..],
        b"\x01\x02\x03\x04\x05\x06\x07\x08abcdefghijklmnop",
        &[0xff; 64],
        // try_run, catch_panics, a future that panics when dropped, dropped after poll 3.
        b"\x01\x02\x03\x04\x05\x06\x07\x08\x2b\x02\x03\xe1\x00\x05\xc1\xe2\x01\x06\xc3\x03\x00\x01\xd4",
    ] {
        let (spec, schedule) = model::decode(bytes, 64);
        check(&spec, schedule);
    }
}
