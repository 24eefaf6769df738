// A list whose elements are not what the function takes.
async fn total(values: &[&u64]) -> u64 {
    values.iter().copied().sum()
}

async fn one(_: &()) -> u32 {
    1
}

fn main() {
    let b = dagfut::DagBuilder::<()>::new();
    let parts = vec![b.add_node(one, b.param()), b.add_node(one, b.param())];
    b.add_node(total, parts);
}
