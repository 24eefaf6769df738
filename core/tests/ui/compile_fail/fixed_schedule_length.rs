// A `dag!` schedule's node bits and its edge tables are indexed by a node's position: a list
// of other than N nodes (here one node for N = 2) must not compile, or a node could be read as
// holding what it does not.
use std::convert::Infallible;

use dagfut::fixed::{Block, Cons, Control, Edges, Graph, Mode, Nil, OutputCell, Schedule, Step, Sure, Wakers};

struct Two;

impl Edges<2> for Two {
    const GRAPH: &'static Graph<2> = &Graph::new(["a", "b"], [&[], &[]]);
    fn wakers() -> &'static Wakers<2> {
        static BLOCK: Block<2> = Block::new();
        BLOCK.get()
    }
}

fn main() {
    let cell = OutputCell::new();
    let one = Cons::new(Step::<_, _, _, Sure>::new(&cell, || std::future::ready(1u32)), Nil);
    let control = Control { mode: Mode::FailFast, observer: None };
    let _ = Schedule::<_, Two, Infallible, 2>::new(one, control);
}
