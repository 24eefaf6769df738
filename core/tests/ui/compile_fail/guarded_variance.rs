//! `Guarded<'b, P, K, E, Tm, Fb>` (a builder about to add a node with a policy) is invariant in
//! `P` and `E`, as the builder it borrows; `Optional<T>` (an optional input) in `T`, as
//! `Node<T>`.

use dagfut::marker::NoFallback;
use dagfut::{Guarded, NoTimer, Optional, Sendable};
use std::convert::Infallible;

/// `P` cannot lengthen...
fn lengthen_param<'a>(
    x: Guarded<'a, &'a str, Sendable, Infallible, NoTimer, NoFallback>,
) -> Guarded<'a, &'static str, Sendable, Infallible, NoTimer, NoFallback> {
    x
}

/// ...nor `E`...
fn lengthen_error<'a>(
    x: Guarded<'a, (), Sendable, &'a str, NoTimer, NoFallback>,
) -> Guarded<'a, (), Sendable, &'static str, NoTimer, NoFallback> {
    x
}

/// ...nor an optional input's value type.
fn lengthen_optional<'a>(x: Optional<&'a str>) -> Optional<&'static str> {
    x
}

fn main() {}
