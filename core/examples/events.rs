//! The seed library's second example: fetch two events, insert the allowed one, publish the
//! results and log everything — the same DAG invoked twice with different parameters, with an
//! observer that prints when each node starts and ends, by name.
//!
//! ```text
//! cargo run --example events
//! ```

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dagfut::{Dag, DagBuilder, NodeEvent, Observer};
use smol::Timer;

#[derive(Debug, Clone)]
struct Event {
    timestamp: u128,
    location: String,
}

struct DatabaseClient;

impl DatabaseClient {
    async fn insert(&self, _event: &Event) -> bool {
        Timer::after(Duration::from_millis(500)).await; // simulated database access
        true
    }
}

struct HttpClient;

impl HttpClient {
    async fn fetch(&self, url: &str) -> Event {
        Timer::after(Duration::from_millis(500)).await; // simulated HTTP request
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_micros());
        Event {
            timestamp,
            location: url.to_owned(),
        }
    }

    async fn publish_logs(&self, _results: &[bool]) {
        Timer::after(Duration::from_millis(500)).await;
    }
}

struct Parameters {
    http_client: HttpClient,
    db_client: DatabaseClient,
    allowed_location: &'static str,
}

// Nodes get the run's parameters like any other input: by reference.
async fn fetch_event(url: &&'static str, params: &Parameters) -> Event {
    params.http_client.fetch(url).await
}

async fn insert_to_db(event: &Event, params: &Parameters) -> bool {
    if event.location != params.allowed_location {
        return false;
    }
    params.db_client.insert(event).await
}

async fn publish_results(result_1: &bool, result_2: &bool, params: &Parameters) {
    params
        .http_client
        .publish_logs(&[*result_1, *result_2])
        .await;
}

// A node can take any earlier nodes, not only the last "batch".
async fn logger(event_1: &Event, result_1: &bool, event_2: &Event, result_2: &bool) {
    println!("{event_1:?} {result_1} {event_2:?} {result_2}");
}

/// Prints each node's start and end, by name, and the run's end.
struct Timeline<'d> {
    dag: &'d Dag<Parameters>,
    started: Instant,
}

impl Observer for Timeline<'_> {
    fn on_event(&mut self, task: usize, event: NodeEvent) {
        let what = match event {
            NodeEvent::Started => "started",
            NodeEvent::Completed => "completed",
            NodeEvent::Failed => "failed",
            _ => return,
        };
        let name = self.dag.task_name(task).unwrap_or("?");
        let at = self.started.elapsed().as_secs_f64();
        println!("  {at:.2} s  {name} {what}");
    }

    fn on_poll_end(&mut self, ready: bool) {
        if ready {
            let at = self.started.elapsed().as_secs_f64();
            println!("  {at:.2} s  the run ended");
        }
    }
}

fn main() {
    let b = DagBuilder::<Parameters>::new();
    let params = b.param();
    let moon_event = b
        .named("fetch moon")
        .add_node(fetch_event, (b.add_constant("moon"), params));
    let moon_insert = b
        .named("insert moon")
        .add_node(insert_to_db, (moon_event, params));
    let sun_event = b
        .named("fetch sun")
        .add_node(fetch_event, (b.add_constant("sun"), params));
    let sun_insert = b
        .named("insert sun")
        .add_node(insert_to_db, (sun_event, params));
    b.named("publish")
        .add_node(publish_results, (moon_insert, sun_insert, params));
    b.named("log")
        .add_node(logger, (moon_event, moon_insert, sun_event, sun_insert));
    let dag = b.build();

    smol::block_on(async {
        for allowed_location in ["moon", "sun"] {
            let parameters = Parameters {
                http_client: HttpClient,
                db_client: DatabaseClient,
                allowed_location,
            };
            let started = Instant::now();
            // The same DAG, a new parameter: no rebuilding.
            let timeline = Timeline { dag: &dag, started };
            let result = dag.run(&parameters).with_observer(timeline).await;
            println!("{:?}", result[moon_event]);
            println!("moon inserted: {}", result[moon_insert]);
            println!("sun inserted: {}", result[sun_insert]);
            println!("run took {:.2} s", started.elapsed().as_secs_f64());
            println!();
            assert_eq!(result[moon_event].location, "moon");
            assert!(result[moon_event].timestamp > 0);
        }
    });
}
