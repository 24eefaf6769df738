//! Compile tests (trybuild) of the public types' variance and auto traits: what must not
//! compile, with the compiler's error pinned in each case's `.stderr`, and passing controls.
//!
//! - `ui/compile_fail/*_variance.rs`: every type that hands out or takes values of its
//!   parameter `P`, error type `E` or node type `T` is invariant in it, so a reference of a
//!   shorter lifetime cannot be passed off as a longer one (the use-after-free an audit found
//!   when `DagBuilder` was contravariant in `P` and covariant in `E`), nor the other way, and
//!   a higher-ranked type (`for<'s> fn(&'s String)`) cannot be passed off as one of its
//!   instances (`fn(&'static String)`), nor the other way.
//! - `ui/compile_fail/param_escapes_run.rs`: that use-after-free, end to end.
//! - `ui/compile_fail/*send*.rs`, `*sync*.rs`: the auto traits that must stay off.
//! - `ui/compile_fail/fixed_task_sealed.rs`: the `dag!` schedule's node traits are sealed (it
//!   trusts what its nodes do with its bits; an outside audit made a hand-written node lie
//!   about them and free a future twice).
//! - `ui/compile_fail/fixed_schedule_length.rs`: a schedule whose node list is not N nodes long
//!   (node bits and edge tables are indexed by position) does not compile.
//! - `ui/pass/*.rs`: the same code without the coercions compiles and runs, and the
//!   covariance that is intended (`DagError<E>`, `Settled`'s `E`, the borrow lifetime of
//!   outputs and runs) holds.
//!
//! The `.stderr` files are rustc's own output (generated with stable 1.95), which names files
//! of `core/src` and its private types in places: after a compiler update, a refactor of the
//! core or a deliberate change, regenerate them and read each one (the error must still be
//! the variance or auto-trait error the case is about):
//!
//! ```text
//! TRYBUILD=overwrite cargo test -p dagfut --test compile
//! ```

// trybuild runs cargo, which neither Miri nor the loom build (`--cfg dagfut_loom`, whose
// atomics only work inside a model) can do.
#![cfg(not(any(miri, dagfut_loom)))]

#[test]
fn variance_and_auto_traits() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/compile_fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
