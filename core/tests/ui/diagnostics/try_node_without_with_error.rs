// A fallible node on a builder whose error type was never set: the message names `with_error`.
async fn parse(text: &String) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

fn main() {
    let b = dagfut::DagBuilder::<String>::new();
    b.add_try_node(parse, b.param());
}
