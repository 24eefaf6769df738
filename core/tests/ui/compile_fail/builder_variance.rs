//! `DagBuilder<P, K, E>` is invariant in `P` and in `E`.

use dagfut::{DagBuilder, Node, Sendable};

/// The audit's exploit: a builder of `&'a str` parameters seen as one of `&'static str`
/// hands out a `Node<&'static str>` for its parameter, so a node's output could keep the
/// parameter past the run.
fn static_param_handle<'a>(b: &DagBuilder<&'a str>) -> Node<&'static str> {
    (b as &DagBuilder<&'static str>).param()
}

/// `P` cannot lengthen...
fn lengthen_param<'a>(x: &'a DagBuilder<&'a str>) -> &'a DagBuilder<&'static str> {
    x
}

/// ...nor shorten...
fn shorten_param<'a>(x: &'a DagBuilder<&'static str>) -> &'a DagBuilder<&'a str> {
    x
}

/// ...nor, for a `'static` type (node inputs are `'static`), go from an instance to the
/// higher-ranked type: the parameter's handle would lend an `fn(&'static String)` to nodes
/// as one that takes any `&String`...
fn generalize_param<'a>(
    x: &'a DagBuilder<fn(&'static String)>,
) -> &'a DagBuilder<for<'s> fn(&'s String)> {
    x
}

/// ...or the other way.
fn specialize_param<'a>(
    x: &'a DagBuilder<for<'s> fn(&'s String)>,
) -> &'a DagBuilder<fn(&'static String)> {
    x
}

/// The audit's exploit for `E`: a builder whose nodes may fail with an error valid for any
/// lifetime, seen as one that takes nodes failing with `fn(&'static String)`; its run would
/// hand such an error back under the higher-ranked type.
fn specialize_error<'a>(
    x: &'a DagBuilder<(), Sendable, for<'s> fn(&'s String)>,
) -> &'a DagBuilder<(), Sendable, fn(&'static String)> {
    x
}

/// ...nor the other way...
fn generalize_error<'a>(
    x: &'a DagBuilder<(), Sendable, fn(&'static String)>,
) -> &'a DagBuilder<(), Sendable, for<'s> fn(&'s String)> {
    x
}

/// ...nor can a borrowed `E` lengthen (rustc's note names the type's first invariant
/// argument, `P = ()`, but only `E` differs)...
fn lengthen_error<'a>(
    x: &'a DagBuilder<(), Sendable, &'a str>,
) -> &'a DagBuilder<(), Sendable, &'static str> {
    x
}

/// ...or shorten.
fn shorten_error<'a>(
    x: &'a DagBuilder<(), Sendable, &'static str>,
) -> &'a DagBuilder<(), Sendable, &'a str> {
    x
}

fn main() {
    let _ = (
        static_param_handle,
        lengthen_param,
        shorten_param,
        generalize_param,
        specialize_param,
        specialize_error,
        generalize_error,
        lengthen_error,
        shorten_error,
    );
}
