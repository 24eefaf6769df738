// Inputs given in the wrong order.
async fn repeat(text: &String, times: &usize) -> String {
    text.repeat(*times)
}

fn main() {
    let b = dagfut::DagBuilder::<()>::new();
    let text = b.add_constant(String::from("ab"));
    let times = b.add_constant(3usize);
    b.add_node(repeat, (times, text));
}
