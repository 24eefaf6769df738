//! Bytes → a DAG of up to 64 nodes (inputs, parks, failures) and a wake schedule, run by
//! dagfut and checked against the sequential reference model.

#![no_main]

use dagfut_tests::model::{self, Seeded};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (spec, seed) = model::decode(data, 64);
    if let Err(problem) = model::check(&spec, &mut Seeded(seed)) {
        panic!("{problem}\n{spec:?}");
    }
});
