//! A tokio service that fans out to three "HTTP" calls through a shared, stateful client, then
//! builds a product page from them: 100 concurrent runs, each in its own `tokio::spawn`ed task,
//! each returning its outputs.
//!
//! ```text
//! cargo run -p dagfut-tokio --example fanout
//! ```
//!
//! The nodes get the client as their first argument (`add_node_with`), so the DAG is
//! `Sendable` and a run can move between the runtime's worker threads; `run_owned` holds an
//! `Arc` of the DAG and owns the parameter, so the spawned task is `'static` and can return the
//! outputs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dagfut::DagBuilder;

/// A client with state: where it calls, how often it would retry, how many calls it made.
struct Client {
    base_url: String,
    retries: u32,
    calls: AtomicUsize,
}

impl Client {
    /// A stand-in for an HTTP GET: waits `latency`, then answers with the URL it called.
    async fn get(&self, path: &str, id: u64, latency: Duration) -> String {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(latency).await;
        format!("{}/{path}/{id} (retries {})", self.base_url, self.retries)
    }
}

async fn price(client: &Arc<Client>, id: &u64) -> String {
    client.get("price", *id, Duration::from_millis(20)).await
}

async fn stock(client: &Arc<Client>, id: &u64) -> String {
    client.get("stock", *id, Duration::from_millis(30)).await
}

async fn reviews(client: &Arc<Client>, id: &u64) -> String {
    client.get("reviews", *id, Duration::from_millis(50)).await
}

/// The page: the product's id, then every part (a list beside a plain input).
async fn page(id: &u64, parts: &[&String]) -> String {
    let mut page = format!("product {id}");
    for part in parts {
        page.push_str(" | ");
        page.push_str(part);
    }
    page
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let client = Arc::new(Client {
        base_url: "https://shop.example".into(),
        retries: 2,
        calls: AtomicUsize::new(0),
    });
    let b = DagBuilder::<u64>::new();
    let id = b.param();
    let parts = vec![
        b.named("price").add_node_with(client.clone(), price, id),
        b.named("stock").add_node_with(client.clone(), stock, id),
        b.named("reviews")
            .add_node_with(client.clone(), reviews, id),
    ];
    let page = b.named("page").add_node(page, (id, parts));
    let dag = Arc::new(b.build());

    let started = Instant::now();
    let tasks: Vec<_> = (0..100u64)
        .map(|product| tokio::spawn(dag.run_owned(product)))
        .collect();
    let mut pages = Vec::with_capacity(tasks.len());
    for task in tasks {
        let mut outputs = task.await.expect("the run's task");
        // The outputs came back from the spawned task; move the page out of them.
        pages.push(outputs.take(page).expect("the page"));
    }
    let elapsed = started.elapsed();

    assert_eq!(pages.len(), 100);
    assert!(pages[7].starts_with("product 7 | https://shop.example/price/7"));
    println!("{}", pages[7]);
    println!(
        "runs: {}, calls: {}",
        pages.len(),
        client.calls.load(Ordering::Relaxed)
    );
    // Each run's calls overlap (the page waits for the slowest, 50 ms), and so do the runs.
    println!(
        "wall time for 100 concurrent runs: {} ms (each run's longest call: 50 ms)",
        elapsed.as_millis()
    );
}
