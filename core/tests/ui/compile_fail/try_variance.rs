//! `Try<E>`, the mode of fallible nodes, is invariant in `E`.

use dagfut::marker::Try;

/// `E` cannot go from a higher-ranked type to one of its instances (the
/// audit's case: an error valid for any lifetime seen as an `fn(&'static String)`)...
fn specialize_error<'a>(x: &'a Try<for<'s> fn(&'s String)>) -> &'a Try<fn(&'static String)> {
    x
}

/// ...nor the other way...
fn generalize_error<'a>(x: &'a Try<fn(&'static String)>) -> &'a Try<for<'s> fn(&'s String)> {
    x
}

/// ...nor can a borrowed `E` lengthen...
fn lengthen_error<'a>(x: &'a Try<&'a str>) -> &'a Try<&'static str> {
    x
}

/// ...or shorten.
fn shorten_error<'a>(x: &'a Try<&'static str>) -> &'a Try<&'a str> {
    x
}

fn main() {
    let _ = (
        specialize_error,
        generalize_error,
        lengthen_error,
        shorten_error,
    );
}
