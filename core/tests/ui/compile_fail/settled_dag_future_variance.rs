//! `SettledDagFuture<'a, P, K, E, O>` is invariant in `P` and in `E`.

use dagfut::{Sendable, SettledDagFuture};

/// `P` cannot lengthen...
fn lengthen_param<'a>(
    x: SettledDagFuture<'a, &'a str, Sendable, String>,
) -> SettledDagFuture<'a, &'static str, Sendable, String> {
    x
}

/// ...nor shorten...
fn shorten_param<'a>(
    x: SettledDagFuture<'a, &'static str, Sendable, String>,
) -> SettledDagFuture<'a, &'a str, Sendable, String> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_param<'a>(
    x: SettledDagFuture<'a, for<'s> fn(&'s String), Sendable, String>,
) -> SettledDagFuture<'a, fn(&'static String), Sendable, String> {
    x
}

/// ...or the other way.
fn generalize_param<'a>(
    x: SettledDagFuture<'a, fn(&'static String), Sendable, String>,
) -> SettledDagFuture<'a, for<'s> fn(&'s String), Sendable, String> {
    x
}

/// `E` cannot go from a higher-ranked type to one of its instances (the
/// audit's case: an error valid for any lifetime seen as an `fn(&'static String)`)...
fn specialize_error<'a>(
    x: SettledDagFuture<'a, (), Sendable, for<'s> fn(&'s String)>,
) -> SettledDagFuture<'a, (), Sendable, fn(&'static String)> {
    x
}

/// ...nor the other way...
fn generalize_error<'a>(
    x: SettledDagFuture<'a, (), Sendable, fn(&'static String)>,
) -> SettledDagFuture<'a, (), Sendable, for<'s> fn(&'s String)> {
    x
}

/// ...nor can a borrowed `E` lengthen (rustc's note names the type's first invariant
/// argument, `P = ()`, but only `E` differs)...
fn lengthen_error<'a>(
    x: SettledDagFuture<'a, (), Sendable, &'a str>,
) -> SettledDagFuture<'a, (), Sendable, &'static str> {
    x
}

/// ...or shorten.
fn shorten_error<'a>(
    x: SettledDagFuture<'a, (), Sendable, &'static str>,
) -> SettledDagFuture<'a, (), Sendable, &'a str> {
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
