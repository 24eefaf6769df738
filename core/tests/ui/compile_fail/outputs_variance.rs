//! `Outputs<'a, P, K>` is invariant in `P` (covariant in `'a`: see
//! `ui/pass/covariant_lifetimes.rs`).

use dagfut::Outputs;

/// `P` cannot lengthen...
fn lengthen_param<'a>(x: Outputs<'a, &'a str>) -> Outputs<'a, &'static str> {
    x
}

/// ...nor shorten...
fn shorten_param<'a>(x: Outputs<'a, &'static str>) -> Outputs<'a, &'a str> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_param<'a>(
    x: Outputs<'a, for<'s> fn(&'s String)>,
) -> Outputs<'a, fn(&'static String)> {
    x
}

/// ...or the other way.
fn generalize_param<'a>(
    x: Outputs<'a, fn(&'static String)>,
) -> Outputs<'a, for<'s> fn(&'s String)> {
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
