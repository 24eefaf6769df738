//! `Named<'b, P, K, E>` (a builder about to add a named node) is invariant in `P` and in `E`.

use dagfut::{Named, Sendable};
use std::convert::Infallible;

/// `P` cannot lengthen...
fn lengthen_param<'a>(
    x: Named<'a, &'a str, Sendable, Infallible>,
) -> Named<'a, &'static str, Sendable, Infallible> {
    x
}

/// ...nor shorten...
fn shorten_param<'a>(
    x: Named<'a, &'static str, Sendable, Infallible>,
) -> Named<'a, &'a str, Sendable, Infallible> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_param<'a>(
    x: Named<'a, for<'s> fn(&'s String), Sendable, Infallible>,
) -> Named<'a, fn(&'static String), Sendable, Infallible> {
    x
}

/// ...or the other way.
fn generalize_param<'a>(
    x: Named<'a, fn(&'static String), Sendable, Infallible>,
) -> Named<'a, for<'s> fn(&'s String), Sendable, Infallible> {
    x
}

/// `E` cannot go from a higher-ranked type to one of its instances (the
/// audit's case: an error valid for any lifetime seen as an `fn(&'static String)`)...
fn specialize_error<'a>(
    x: Named<'a, (), Sendable, for<'s> fn(&'s String)>,
) -> Named<'a, (), Sendable, fn(&'static String)> {
    x
}

/// ...nor the other way...
fn generalize_error<'a>(
    x: Named<'a, (), Sendable, fn(&'static String)>,
) -> Named<'a, (), Sendable, for<'s> fn(&'s String)> {
    x
}

/// ...nor can a borrowed `E` lengthen (rustc's note names the type's first invariant
/// argument, `P = ()`, but only `E` differs)...
fn lengthen_error<'a>(
    x: Named<'a, (), Sendable, &'a str>,
) -> Named<'a, (), Sendable, &'static str> {
    x
}

/// ...or shorten.
fn shorten_error<'a>(x: Named<'a, (), Sendable, &'static str>) -> Named<'a, (), Sendable, &'a str> {
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
