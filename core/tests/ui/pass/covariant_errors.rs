//! `DagError<E>` and the `E` of `Settled` only hold errors, as a `Vec<E>` would: they stay
//! covariant in `E`, so a failure's error can be handed on with a shorter lifetime.

use dagfut::{DagError, Sendable, Settled};

fn shorten_error<'a>(x: DagError<&'static str>) -> DagError<&'a str> {
    x
}

fn specialize_error(x: DagError<for<'s> fn(&'s String)>) -> DagError<fn(&'static String)> {
    x
}

fn shorten_settled_error<'a>(
    x: Settled<'a, u32, Sendable, &'static str>,
) -> Settled<'a, u32, Sendable, &'a str> {
    x
}

fn specialize_settled_error<'a>(
    x: Settled<'a, u32, Sendable, for<'s> fn(&'s String)>,
) -> Settled<'a, u32, Sendable, fn(&'static String)> {
    x
}

/// What `try_run` resolves to, with the error's lifetime shortened.
fn shorten_result<'a>(x: Result<u32, DagError<&'static str>>) -> Result<u32, DagError<&'a str>> {
    x
}

fn main() {
    let _ = (
        shorten_error,
        specialize_error,
        shorten_settled_error,
        specialize_settled_error,
        shorten_result,
    );
}
