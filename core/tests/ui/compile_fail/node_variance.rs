//! `Node<T>` is invariant in `T`: a handle names a place that holds exactly a `T`.

use dagfut::Node;

/// `T` cannot lengthen...
fn lengthen_value<'a>(x: Node<&'a str>) -> Node<&'static str> {
    x
}

/// ...nor shorten...
fn shorten_value<'a>(x: Node<&'static str>) -> Node<&'a str> {
    x
}

/// ...nor, for a `'static` type, go from a higher-ranked type to one of its instances...
fn specialize_value(x: Node<for<'s> fn(&'s String)>) -> Node<fn(&'static String)> {
    x
}

/// ...or the other way.
fn generalize_value(x: Node<fn(&'static String)>) -> Node<for<'s> fn(&'s String)> {
    x
}

fn main() {
    let _ = (
        lengthen_value,
        shorten_value,
        specialize_value,
        generalize_value,
    );
}
