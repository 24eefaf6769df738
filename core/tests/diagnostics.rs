//! The compile errors of common mistakes (trybuild): each `ui/diagnostics/*.rs` is a mistake a
//! new user makes, and its `.stderr` pins the message, which must say what to do — so a
//! compiler or API change that makes one worse is seen in review. Regenerate after a deliberate
//! change, then read each file:
//!
//! ```text
//! TRYBUILD=overwrite cargo test -p dagfut --test diagnostics
//! ```

// trybuild runs cargo, which neither Miri nor the loom build can do.
#![cfg(not(any(miri, dagfut_loom)))]

#[test]
fn mistakes_get_messages_that_name_the_fix() {
    trybuild::TestCases::new().compile_fail("tests/ui/diagnostics/*.rs");
}
