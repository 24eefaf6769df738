//! Property tests: random DAGs with random park/wake schedules agree with the sequential
//! reference model (`dagfut_tests::model`). `PROPTEST_CASES` sets the number of cases.

use std::task::Waker;

use dagfut_tests::model::{self, NodeSpec, Schedule, Seeded, Spec};
use proptest::prelude::*;

/// Random DAGs of up to `max_nodes` nodes, each taking up to 4 earlier nodes.
fn spec(max_nodes: usize) -> impl Strategy<Value = Spec> {
    prop::collection::vec(
        (
            prop::collection::vec(any::<prop::sample::Index>(), 0..=4),
            0u8..3,
            prop::bool::weighted(0.08),
        ),
        1..=max_nodes,
    )
    .prop_map(|raw| Spec {
        nodes: raw
            .into_iter()
            .enumerate()
            .map(|(index, (inputs, parks, fails))| NodeSpec {
                inputs: if index == 0 {
                    Vec::new()
                } else {
                    inputs.iter().map(|pick| pick.index(index)).collect()
                },
                parks,
                fails,
            })
            .collect(),
    })
}

/// A seeded schedule that wakes some nodes from another thread.
struct Threaded(Seeded);

impl Schedule for Threaded {
    fn pick(&mut self, parked: usize) -> usize {
        self.0.pick(parked)
    }
    fn twice(&mut self) -> bool {
        self.0.twice()
    }
    fn wake(&mut self, waker: Waker) {
        if self.0.next_u64() % 8 == 0 {
            std::thread::spawn(move || waker.wake()).join().unwrap();
        } else {
            waker.wake();
        }
    }
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

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn random_dags_agree_with_the_reference(spec in spec(if cfg!(miri) { 8 } else { 120 }), seed in any::<u64>()) {
        if let Err(problem) = model::check(&spec, &mut Seeded(seed)) {
            panic!("{problem}\n{spec:?}");
        }
    }
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn wakes_from_other_threads_agree_with_the_reference(spec in spec(if cfg!(miri) { 6 } else { 60 }), seed in any::<u64>()) {
        if let Err(problem) = model::check(&spec, &mut Threaded(Seeded(seed))) {
            panic!("{problem}\n{spec:?}");
        }
    }
}

#[test]
fn the_reference_model_itself() {
    // A diamond where one branch fails: the join is skipped, the other branch completes.
    let spec = Spec {
        nodes: vec![
            NodeSpec {
                inputs: vec![],
                parks: 0,
                fails: false,
            },
            NodeSpec {
                inputs: vec![0],
                parks: 1,
                fails: true,
            },
            NodeSpec {
                inputs: vec![0, 0],
                parks: 2,
                fails: false,
            },
            NodeSpec {
                inputs: vec![1, 2],
                parks: 0,
                fails: false,
            },
        ],
    };
    let expected = model::reference(&spec);
    assert_eq!(expected[1], model::Expected::Failed);
    assert_eq!(expected[3], model::Expected::Skipped);
    assert_eq!(
        expected[2],
        model::Expected::Value(model::mix(2, &[model::mix(0, &[]); 2]))
    );
    model::check(&spec, &mut Seeded(7)).unwrap();
}

#[test]
fn decoded_fuzz_inputs_check_out() {
    for bytes in [
        &b""[..],
        b"\x01\x02\x03\x04\x05\x06\x07\x08abcdefghijklmnop",
        &[0xff; 64],
    ] {
        let (spec, seed) = model::decode(bytes, 64);
        model::check(&spec, &mut Seeded(seed)).unwrap();
    }
}
