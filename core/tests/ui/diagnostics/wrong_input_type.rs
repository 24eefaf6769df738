// An input of the wrong type: the message shows the inputs and the function.
async fn len(text: &String) -> usize {
    text.len()
}

fn main() {
    let b = dagfut::DagBuilder::<u32>::new();
    b.add_node(len, b.param());
}
