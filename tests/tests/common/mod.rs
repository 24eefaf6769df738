//! What the property tests over the reference model share (`model.rs`, `fixed_model.rs`): their
//! proptest configuration and the task waker panics they arm.

use dagfut_tests::model::{WakerOp, WakerPanic};
use proptest::prelude::*;

/// A task waker panic at a call the run makes: a clone or a drop among the first 3, a wake
/// among the first 8.
pub(crate) fn waker_panic() -> impl Strategy<Value = WakerPanic> {
    (0u8..3, 1u32..=8).prop_map(|(op, nth)| match op {
        0 => WakerPanic {
            op: WakerOp::Clone,
            nth: 1 + (nth - 1) % 3,
        },
        1 => WakerPanic {
            op: WakerOp::Drop,
            nth: 1 + (nth - 1) % 3,
        },
        _ => WakerPanic {
            op: WakerOp::Wake,
            nth,
        },
    })
}

/// `cases` cases (4 under Miri), or `PROPTEST_CASES` if it is set.
pub(crate) fn config(cases: u32) -> ProptestConfig {
    let from_env = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: from_env.unwrap_or(if cfg!(miri) { 4 } else { cases }),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
