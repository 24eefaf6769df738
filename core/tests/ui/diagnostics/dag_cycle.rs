//! A `dag!` node takes a node declared after it (here the two form a cycle): each input must be
//! the parameter or an earlier node.

async fn inc(n: &u32) -> u32 {
    n + 1
}

fn main() {
    let _dag = dagfut::dag! {
        async |p: &u32| -> (b) {
            a(b) = inc(b);
            b(a) = inc(a);
        }
    };
}
