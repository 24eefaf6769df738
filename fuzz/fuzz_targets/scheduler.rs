//! Bytes → a DAG of up to 64 nodes (inputs, parks, failures, panics, wakes of themselves and
//! of finished nodes, one value whose `Drop` panics), a policy (`run_settled` or `try_run`,
//! with or without `catch_panics`) and a schedule (wakes, stale wakes, from threads, a drop
//! point, a task waker call that panics), run by dagfut and checked against the sequential
//! reference model; then four runs of its DAG, up to three at once, each checked so; then
//! both again with the DAG padded to 72 nodes with plain ones (`model::padded`), so that the
//! same wakes, panics and drops go through the ready queue of runs past 64 tasks.

#![no_main]

use dagfut_tests::model;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The model's own panics are caught and checked; any other still reaches libFuzzer's
    // hook, which aborts (a crash).
    model::quiet_intended_panics();
    let (spec, start) = model::decode(data, 64);
    let padded = model::padded(&spec, 72);
    for spec in [&spec, &padded] {
        let mut schedule = start.clone();
        if let Err(problem) = model::check(spec, &mut schedule) {
            panic!("{problem}\n{spec:?}\n{start:?}");
        }
        // The same spec, four runs of one DAG, up to three at once.
        let (mut runs, mut order) = model::overlapping(&start);
        if let Err(problem) = model::check_overlapping(spec, &mut runs, &mut order) {
            panic!("overlapping runs: {problem}\n{spec:?}\n{start:?}");
        }
    }
});
