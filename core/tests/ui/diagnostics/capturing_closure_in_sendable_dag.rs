// A closure that captures state, in a `DagBuilder`: the message names `add_node_with` and
// `LocalDagBuilder`.
use std::sync::Arc;

struct Client;

impl Client {
    async fn get(&self, id: u64) -> u64 {
        id
    }
}

fn main() {
    let client = Arc::new(Client);
    let b = dagfut::DagBuilder::<u64>::new();
    b.add_node(async move |id: &u64| client.get(*id).await, b.param());
}
