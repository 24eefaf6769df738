//! A `dag!` node whose input names itself, while a variable of that name exists outside the
//! `dag!` (so the name resolves): still refused, at compile time, as a cycle.

use dagfut::fixed::OutputCell;

async fn inc(n: &u32) -> u32 {
    n + 1
}

fn main() {
    let a = OutputCell::<u32>::new();
    let _dag = dagfut::dag! {
        async |p: &u32| -> (a) {
            a(a) = inc(a);
        }
    };
}
