//! `OwnedOutputs<P, K, E>` and `OwnedRun<R, P, K, E>` (the outputs and futures of runs that own
//! their DAG and parameter) are invariant in `P` and in `E`.

use dagfut::{OwnedOutputs, OwnedRun, Sendable};
use std::convert::Infallible;

/// The outputs' `P` cannot lengthen...
fn lengthen_outputs_param<'a>(
    x: &'a OwnedOutputs<&'a str, Sendable, Infallible>,
) -> &'a OwnedOutputs<&'static str, Sendable, Infallible> {
    x
}

/// ...nor shorten...
fn shorten_outputs_param<'a>(
    x: &'a OwnedOutputs<&'static str, Sendable, Infallible>,
) -> &'a OwnedOutputs<&'a str, Sendable, Infallible> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_outputs_param<'a>(
    x: &'a OwnedOutputs<for<'s> fn(&'s String), Sendable, Infallible>,
) -> &'a OwnedOutputs<fn(&'static String), Sendable, Infallible> {
    x
}

/// ...or the other way.
fn generalize_outputs_param<'a>(
    x: &'a OwnedOutputs<fn(&'static String), Sendable, Infallible>,
) -> &'a OwnedOutputs<for<'s> fn(&'s String), Sendable, Infallible> {
    x
}

/// The outputs' `E` cannot go from a higher-ranked type to one of its instances (the
/// audit's case: an error valid for any lifetime seen as an `fn(&'static String)`)...
fn specialize_outputs_error<'a>(
    x: &'a OwnedOutputs<(), Sendable, for<'s> fn(&'s String)>,
) -> &'a OwnedOutputs<(), Sendable, fn(&'static String)> {
    x
}

/// ...nor the other way...
fn generalize_outputs_error<'a>(
    x: &'a OwnedOutputs<(), Sendable, fn(&'static String)>,
) -> &'a OwnedOutputs<(), Sendable, for<'s> fn(&'s String)> {
    x
}

/// ...nor can a borrowed `E` lengthen (rustc's note names the type's first invariant
/// argument, `P = ()`, but only `E` differs)...
fn lengthen_outputs_error<'a>(
    x: &'a OwnedOutputs<(), Sendable, &'a str>,
) -> &'a OwnedOutputs<(), Sendable, &'static str> {
    x
}

/// ...or shorten.
fn shorten_outputs_error<'a>(
    x: &'a OwnedOutputs<(), Sendable, &'static str>,
) -> &'a OwnedOutputs<(), Sendable, &'a str> {
    x
}

/// A run's `P` cannot lengthen...
fn lengthen_run_param<'a>(
    x: &'a OwnedRun<(), &'a str, Sendable, Infallible>,
) -> &'a OwnedRun<(), &'static str, Sendable, Infallible> {
    x
}

/// ...nor shorten...
fn shorten_run_param<'a>(
    x: &'a OwnedRun<(), &'static str, Sendable, Infallible>,
) -> &'a OwnedRun<(), &'a str, Sendable, Infallible> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_run_param<'a>(
    x: &'a OwnedRun<(), for<'s> fn(&'s String), Sendable, Infallible>,
) -> &'a OwnedRun<(), fn(&'static String), Sendable, Infallible> {
    x
}

/// ...or the other way.
fn generalize_run_param<'a>(
    x: &'a OwnedRun<(), fn(&'static String), Sendable, Infallible>,
) -> &'a OwnedRun<(), for<'s> fn(&'s String), Sendable, Infallible> {
    x
}

/// A run's `E` cannot go from a higher-ranked type to one of its instances (the
/// audit's case: an error valid for any lifetime seen as an `fn(&'static String)`)...
fn specialize_run_error<'a>(
    x: &'a OwnedRun<(), (), Sendable, for<'s> fn(&'s String)>,
) -> &'a OwnedRun<(), (), Sendable, fn(&'static String)> {
    x
}

/// ...nor the other way...
fn generalize_run_error<'a>(
    x: &'a OwnedRun<(), (), Sendable, fn(&'static String)>,
) -> &'a OwnedRun<(), (), Sendable, for<'s> fn(&'s String)> {
    x
}

/// ...nor can a borrowed `E` lengthen (rustc's note names the type's first invariant
/// argument, `P = ()`, but only `E` differs)...
fn lengthen_run_error<'a>(
    x: &'a OwnedRun<(), (), Sendable, &'a str>,
) -> &'a OwnedRun<(), (), Sendable, &'static str> {
    x
}

/// ...or shorten.
fn shorten_run_error<'a>(
    x: &'a OwnedRun<(), (), Sendable, &'static str>,
) -> &'a OwnedRun<(), (), Sendable, &'a str> {
    x
}

fn main() {
    let _ = (
        lengthen_outputs_param,
        shorten_outputs_param,
        specialize_outputs_param,
        generalize_outputs_param,
        specialize_outputs_error,
        generalize_outputs_error,
        lengthen_outputs_error,
        shorten_outputs_error,
        lengthen_run_param,
        shorten_run_param,
        specialize_run_param,
        generalize_run_param,
        specialize_run_error,
        generalize_run_error,
        lengthen_run_error,
        shorten_run_error,
    );
}
