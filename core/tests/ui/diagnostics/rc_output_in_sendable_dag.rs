// A node whose output is an `Rc`, in a `DagBuilder`: the message says why and names
// `LocalDagBuilder`.
use std::rc::Rc;

async fn shared(n: &u32) -> Rc<u32> {
    Rc::new(*n)
}

fn main() {
    let b = dagfut::DagBuilder::<u32>::new();
    b.add_node(shared, b.param());
}
