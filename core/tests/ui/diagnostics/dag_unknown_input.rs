//! A `dag!` node names an input that is not a node: a typo.

async fn inc(n: &u32) -> u32 {
    n + 1
}

fn main() {
    let _dag = dagfut::dag! {
        async |p: &u32| -> (b) {
            a(p) = inc(p);
            b(aa) = inc(aa);
        }
    };
}
