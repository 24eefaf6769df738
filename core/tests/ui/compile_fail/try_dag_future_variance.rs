//! `TryDagFuture<'a, P, K, E, O>` is invariant in `P` and in `E`.

use dagfut::{Sendable, TryDagFuture};

/// `P` cannot lengthen...
fn lengthen_param<'a>(
    x: TryDagFuture<'a, &'a str, Sendable, String>,
) -> TryDagFuture<'a, &'static str, Sendable, String> {
    x
}

/// ...nor shorten...
fn shorten_param<'a>(
    x: TryDagFuture<'a, &'static str, Sendable, String>,
) -> TryDagFuture<'a, &'a str, Sendable, String> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_param<'a>(
    x: TryDagFuture<'a, for<'s> fn(&'s String), Sendable, String>,
) -> TryDagFuture<'a, fn(&'static String), Sendable, String> {
    x
}

/// ...or the other way.
fn generalize_param<'a>(
    x: TryDagFuture<'a, fn(&'static String), Sendable, String>,
) -> TryDagFuture<'a, for<'s> fn(&'s String), Sendable, String> {
    x
}

/// `E` cannot go from a higher-ranked type to one of its instances (the
/// audit's case: an error valid for any lifetime seen as an `fn(&'static String)`)...
fn specialize_error<'a>(
    x: TryDagFuture<'a, (), Sendable, for<'s> fn(&'s String)>,
) -> TryDagFuture<'a, (), Sendable, fn(&'static String)> {
    x
}

/// ...nor the other way...
fn generalize_error<'a>(
    x: TryDagFuture<'a, (), Sendable, fn(&'static String)>,
) -> TryDagFuture<'a, (), Sendable, for<'s> fn(&'s String)> {
    x
}

/// ...nor can a borrowed `E` lengthen (rustc's note names the type's first invariant
/// argument, `P = ()`, but only `E` differs)...
fn lengthen_error<'a>(
    x: TryDagFuture<'a, (), Sendable, &'a str>,
) -> TryDagFuture<'a, (), Sendable, &'static str> {
    x
}

/// ...or shorten.
fn shorten_error<'a>(
    x: TryDagFuture<'a, (), Sendable, &'static str>,
) -> TryDagFuture<'a, (), Sendable, &'a str> {
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
