//! A builder is filled through `&self` (a `RefCell`), so it is not `Sync`, whatever its
//! flavour: two threads cannot add nodes to it at once.

use dagfut::{DagBuilder, LocalDagBuilder};

fn is_sync<T: Sync>() {}

fn main() {
    is_sync::<DagBuilder<u32>>();
    is_sync::<LocalDagBuilder<u32>>();
}
