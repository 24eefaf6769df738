// `run` on a DAG whose nodes can fail: the message names `try_run` and `run_settled`.
async fn check(n: &i32) -> Result<i32, String> {
    Ok(*n)
}

fn main() {
    let b = dagfut::DagBuilder::<i32>::new().with_error::<String>();
    b.add_try_node(check, b.param());
    let dag = b.build();
    let _ = dag.run(&1);
}
