//! `Dag<P, K, E>` is invariant in `P` and in `E`.

use dagfut::{Dag, Sendable};

/// `P` cannot lengthen...
fn lengthen_param<'a>(x: &'a Dag<&'a str>) -> &'a Dag<&'static str> {
    x
}

/// ...nor shorten...
fn shorten_param<'a>(x: &'a Dag<&'static str>) -> &'a Dag<&'a str> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_param<'a>(x: &'a Dag<for<'s> fn(&'s String)>) -> &'a Dag<fn(&'static String)> {
    x
}

/// ...or the other way.
fn generalize_param<'a>(x: &'a Dag<fn(&'static String)>) -> &'a Dag<for<'s> fn(&'s String)> {
    x
}

/// `E` cannot go from a higher-ranked type to one of its instances (the
/// audit's case: an error valid for any lifetime seen as an `fn(&'static String)`)...
fn specialize_error<'a>(
    x: &'a Dag<(), Sendable, for<'s> fn(&'s String)>,
) -> &'a Dag<(), Sendable, fn(&'static String)> {
    x
}

/// ...nor the other way...
fn generalize_error<'a>(
    x: &'a Dag<(), Sendable, fn(&'static String)>,
) -> &'a Dag<(), Sendable, for<'s> fn(&'s String)> {
    x
}

/// ...nor can a borrowed `E` lengthen (rustc's note names the type's first invariant
/// argument, `P = ()`, but only `E` differs)...
fn lengthen_error<'a>(x: &'a Dag<(), Sendable, &'a str>) -> &'a Dag<(), Sendable, &'static str> {
    x
}

/// ...or shorten.
fn shorten_error<'a>(x: &'a Dag<(), Sendable, &'static str>) -> &'a Dag<(), Sendable, &'a str> {
    x
}

fn main() {
    let _ = (
        lengthen_param,
        shorten_param,
        specialize_param,
        generalize_param,
        specialize_error,
        generalize_error,
        lengthen_error,
        shorten_error,
    );
}
