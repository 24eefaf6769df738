//! `DagFuture<'a, P, K, O>` is invariant in `P`.

use dagfut::DagFuture;

/// `P` cannot lengthen...
fn lengthen_param<'a>(x: DagFuture<'a, &'a str>) -> DagFuture<'a, &'static str> {
    x
}

/// ...nor shorten...
fn shorten_param<'a>(x: DagFuture<'a, &'static str>) -> DagFuture<'a, &'a str> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_param<'a>(
    x: DagFuture<'a, for<'s> fn(&'s String)>,
) -> DagFuture<'a, fn(&'static String)> {
    x
}

/// ...or the other way.
fn generalize_param<'a>(
    x: DagFuture<'a, fn(&'static String)>,
) -> DagFuture<'a, for<'s> fn(&'s String)> {
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
