//! `Settled<'a, P, K, E>` is invariant in `P`, through its `outputs` (covariant in `E`: see
//! `ui/pass/covariant_errors.rs`).

use dagfut::{Sendable, Settled};

/// `P` cannot lengthen...
fn lengthen_param<'a>(
    x: Settled<'a, &'a str, Sendable, String>,
) -> Settled<'a, &'static str, Sendable, String> {
    x
}

/// ...nor shorten...
fn shorten_param<'a>(
    x: Settled<'a, &'static str, Sendable, String>,
) -> Settled<'a, &'a str, Sendable, String> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_param<'a>(
    x: Settled<'a, for<'s> fn(&'s String), Sendable, String>,
) -> Settled<'a, fn(&'static String), Sendable, String> {
    x
}

/// ...or the other way.
fn generalize_param<'a>(
    x: Settled<'a, fn(&'static String), Sendable, String>,
) -> Settled<'a, for<'s> fn(&'s String), Sendable, String> {
    x
}

fn main() {
    let _ = (
        lengthen_param,
        shorten_param,
        specialize_param,
        generalize_param,
    );
}
