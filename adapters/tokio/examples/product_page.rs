//! A product page that degrades gracefully: the product must load, the price is retried, the
//! recommendations time out and fall back to none, and the reviews are optional.
//!
//! `cargo run -p dagfut-tokio --example product_page`

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dagfut::{Backoff, DagBuilder};
use dagfut_tokio::TokioTimer;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn product(id: &u64) -> Result<String, String> {
    tokio::time::sleep(ms(20)).await;
    Ok(format!("Product {id}"))
}

/// The price service fails its first call, as a busy one does.
async fn price(_id: &u64) -> Result<u32, String> {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    tokio::time::sleep(ms(10)).await;
    match CALLS.fetch_add(1, Ordering::Relaxed) {
        0 => Err("503 from the price service".to_string()),
        _ => Ok(1999),
    }
}

/// The recommender hangs.
async fn recommendations(_id: &u64) -> Result<Vec<String>, String> {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(vec!["a lamp".to_string()])
}

/// The reviews service is down.
async fn reviews(_id: &u64) -> Result<Vec<String>, String> {
    Err("connection refused".to_string())
}

// A node receives `&T` for an input of type `T`: `&Vec<String>`, not a slice.
#[allow(clippy::ptr_arg)]
async fn render(
    product: &String,
    cents: &u32,
    recs: &Vec<String>,
    reviews: Option<&Vec<String>>,
) -> String {
    let reviews = reviews.map_or("reviews unavailable".to_string(), |reviews| {
        format!("{} reviews", reviews.len())
    });
    format!(
        "{product}: {}.{:02} EUR, {} recommendations, {reviews}",
        cents / 100,
        cents % 100,
        recs.len()
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let b = DagBuilder::<u64>::new()
        .with_error::<String>()
        .with_timer(TokioTimer);
    let product = b
        .named("product")
        .timeout(ms(200))
        .add_try_node(product, b.param());
    let price = b
        .named("price")
        .timeout(ms(100))
        .retry(2, Backoff::exponential(ms(10)).max(ms(50)))
        .add_try_node(price, b.param());
    let recs = b
        .named("recs")
        .timeout(ms(50))
        .or_value(Vec::new())
        .add_try_node(recommendations, b.param());
    let reviews = b.named("reviews").add_try_node(reviews, b.param());
    let page = b
        .named("page")
        .add_node(render, (product, price, recs, reviews.optional()));
    let dag = b.build();

    let settled = dag.run_settled(&42).await;
    println!("{}", settled.outputs[page]);
    for error in &settled.errors {
        println!("recorded: {error}");
    }
}
