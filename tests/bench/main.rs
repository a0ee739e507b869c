//! `desk-bench`: tickets created per second and p50/p99 latency of create and list, at
//! 100k tickets, against the real server over HTTP, on SQLite or PostgreSQL.
//!
//! A measurement, not a test: run it in release mode and read the numbers. Each run gets a
//! fresh SQLite file, or with `--database-url postgres://…` a fresh PostgreSQL schema.
//!
//! ```text
//! cargo run --release -p desk-tests --bin desk-bench -- [--database-url URL] [MODE] [OPTIONS]
//! ```
//!
//! - no mode: tickets (`--tickets`, `--concurrency`, `--list-samples`);
//! - `--notifications`: the notification pipeline against lark-sim (`--events`, `--people`,
//!   `--minutes`); see `notify.rs`;
//! - `--lark-events`: Lark webhook ingestion. Encrypted, signed `im.message.receive_v1`
//!   pushes to `POST /lark/default/events`, `--events` of them (5,000 by default) from
//!   `--concurrency` clients (16): events accepted per second and the acknowledgement
//!   latency p50/p99/max, then the same for a redelivery of every event (duplicates per
//!   second), checking that every push got 200 and the inbox holds each event exactly once.
//!   It measures acceptance into the inbox, not handling (the desk runs without workers);
//!   see `lark_events.rs`. On both databases:
//!
//! ```text
//! cargo run --release -p desk-tests --bin desk-bench -- --lark-events
//! cargo run --release -p desk-tests --bin desk-bench -- --lark-events \
//!     --database-url postgres://postgres@127.0.0.1:5432/test
//! ```

#![expect(clippy::print_stdout, reason = "printing the figures is this binary's job")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use desk_api::{Application, Settings};
use desk_store::{Clock as _, NewToken, SystemClock};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(about = "Benchmark the desk server over HTTP")]
struct Args {
    /// Tickets to create.
    #[arg(long, default_value_t = 100_000)]
    tickets: usize,
    /// Concurrent clients while creating tickets or pushing Lark events.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Requests per list scenario.
    #[arg(long, default_value_t = 500)]
    list_samples: usize,
    /// Database; a fresh SQLite file by default. For PostgreSQL a fresh schema is used.
    #[arg(long)]
    database_url: Option<String>,
    /// Measure notifications instead: the whole pipeline against lark-sim.
    #[arg(long)]
    notifications: bool,
    /// Measure Lark webhook ingestion instead: encrypted, signed event pushes accepted per
    /// second and their acknowledgement latency, then the same for redeliveries.
    #[arg(long, conflicts_with = "notifications")]
    lark_events: bool,
    /// Notifications: ticket events to generate. Lark events: pushes to send (5,000 unless given).
    #[arg(long, default_value_t = 10_000, default_value_if("lark_events", "true", "5000"))]
    events: usize,
    /// Notifications: people they touch.
    #[arg(long, default_value_t = 200)]
    people: usize,
    /// Notifications: simulated minutes the events are spread over.
    #[arg(long, default_value_t = 120)]
    minutes: usize,
}

mod lark_events;
mod notify;

struct Bench {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Bench {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let res = self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(body).send().await?;
        let status = res.status();
        let body: Value = res.json().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let res = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await?;
        let status = res.status();
        let body: Value = res.json().await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<44} n={:<7} p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        samples.len(),
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 99.0)),
        ms(samples.last().copied().unwrap_or_default())
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut settings = Settings::defaults()?;
    settings.listen = "127.0.0.1:0".into();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let backend = match &args.database_url {
        Some(url) if url.starts_with("postgres") => {
            settings.database_url = url.clone();
            settings.database_schema = Some(format!("bench_{run_id}"));
            "PostgreSQL"
        }
        Some(url) => {
            settings.database_url = url.clone();
            "SQLite"
        }
        None => {
            let dir = std::env::temp_dir().join("larkdesk-bench");
            std::fs::create_dir_all(&dir)?;
            settings.database_url = format!("sqlite://{}/{run_id}.db?mode=rwc", dir.display());
            "SQLite"
        }
    };
    if args.notifications {
        return Box::pin(notify::run(&args, settings, backend)).await;
    }
    if args.lark_events {
        return Box::pin(lark_events::run(&args, settings, backend)).await;
    }
    let app = Application::build(settings).await.context("starting the server")?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let store = app.state().store.clone();
    let token = store
        .create_token(
            NewToken { name: "bench".into(), role: Some(desk_core::Role::Admin), person_id: None },
            SystemClock.now(),
        )
        .await?
        .secret;
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build()?;
    let bench = Arc::new(Bench { base, token, client });

    println!("desk-bench on {backend}: {} tickets, {} concurrent clients", args.tickets, args.concurrency);
    let mut orgs = Vec::new();
    for i in 0..10 {
        orgs.push(bench.post("/api/v1/orgs", &json!({ "name": format!("Bench org {i}") })).await?["id"].clone());
    }
    let engineer =
        bench.post("/api/v1/people", &json!({ "kind": "staff", "role": "engineer", "name": "Bench Engineer" })).await?;

    // Create.
    let severities = ["P1", "P2", "P3", "P4"];
    let started = Instant::now();
    let orgs = Arc::new(orgs);
    let latencies: Vec<anyhow::Result<Duration>> = futures_util::stream::iter(0..args.tickets)
        .map(|i| {
            let bench = bench.clone();
            let orgs = orgs.clone();
            let assignee = if i % 3 == 0 { engineer["id"].clone() } else { Value::Null };
            async move {
                let body = json!({
                    "org_id": orgs[i % orgs.len()],
                    "title": format!("Gateway {i} drops telemetry after firmware upgrade"),
                    "description": "Readings stop every hour; logs attached in the customer's portal.",
                    "severity": severities[i % severities.len()],
                    "assignee_id": assignee,
                });
                let t = Instant::now();
                bench.post("/api/v1/tickets", &body).await?;
                Ok(t.elapsed())
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let create: Vec<Duration> = latencies.into_iter().collect::<anyhow::Result<_>>()?;
    println!(
        "created {} tickets in {:.1} s: {:.0} tickets/s",
        create.len(),
        elapsed.as_secs_f64(),
        create.len() as f64 / elapsed.as_secs_f64()
    );
    report("POST /tickets", create);

    // PostgreSQL's autovacuum would analyse the grown table on its own (this machine runs
    // with it off); SQLite never does. Either way the planner needs fresh statistics.
    let stats = Instant::now();
    store.refresh_statistics().await?;
    println!("refreshed planner statistics (ANALYZE) in {:.1} s", stats.elapsed().as_secs_f64());

    // List, one request at a time, at the full table.
    let org = orgs[0].as_str().unwrap_or_default().to_owned();
    let deep_cursor = {
        let mut path = "/api/v1/tickets?limit=200".to_owned();
        for _ in 0..50 {
            let page = bench.get(&path).await?;
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/tickets?limit=200&cursor={c}"),
                None => break,
            }
        }
        path
    };
    let scenarios = [
        ("GET /tickets (first page, 50)", "/api/v1/tickets".to_owned()),
        ("GET /tickets?org_id (50)", format!("/api/v1/tickets?org_id={org}")),
        ("GET /tickets?status=open&severity=P1 (50)", "/api/v1/tickets?status=open&severity=P1".to_owned()),
        ("GET /tickets?assignee=none (50)", "/api/v1/tickets?assignee=none".to_owned()),
        ("GET /tickets?limit=200, page ~50 deep", deep_cursor),
        ("GET /tickets?order=updated (50)", "/api/v1/tickets?order=updated".to_owned()),
        ("GET /tickets?q=gateway 4242 (title search)", "/api/v1/tickets?q=gateway%204242".to_owned()),
        ("GET /orgs/{id}/desk", format!("/api/v1/orgs/{org}/desk")),
    ];
    for (name, path) in scenarios {
        let mut samples = Vec::with_capacity(args.list_samples);
        for _ in 0..args.list_samples {
            let t = Instant::now();
            bench.get(&path).await?;
            samples.push(t.elapsed());
        }
        report(name, samples);
    }
    Ok(())
}
