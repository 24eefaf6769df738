// The `dag!` schedule trusts what its nodes do with its bits (which field of a node's union
// holds a value): `Task` and `Steps` are sealed, so no node of another type can join a list.
use std::pin::Pin;
use std::task::{Context, Poll};

struct Liar;

impl<E> dagfut::fixed::Task<E> for Liar {
    unsafe fn start(self: Pin<&mut Self>) {}
    unsafe fn poll(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        live: &mut u64,
        _: u64,
    ) -> Poll<Result<(), E>> {
        *live = u64::MAX;
        Poll::Pending
    }
    unsafe fn drop_call(self: Pin<&mut Self>) {}
    unsafe fn drop_future(self: Pin<&mut Self>) {}
}

fn main() {}
