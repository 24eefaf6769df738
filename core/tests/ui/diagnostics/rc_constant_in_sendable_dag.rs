// An `Rc` held by a `DagBuilder`: the message names `LocalDagBuilder`.
use std::rc::Rc;

fn main() {
    let b = dagfut::DagBuilder::<()>::new();
    b.add_constant(Rc::new(1u32));
}
