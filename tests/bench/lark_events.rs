//! Lark webhook ingestion: `im.message.receive_v1` pushes, encrypted and signed as Lark
//! sends them, posted to `POST /lark/default/events` by concurrent clients. Reports the
//! events accepted per second and the acknowledgement latency, then the same for a
//! redelivery of every event (acknowledged as a duplicate, stored once).
//!
//! The desk runs without its workers: what is measured is acceptance into the durable
//! inbox (decrypt, verify, de-duplicate, insert), not handling, and no Lark call is made.
//! Every body is encrypted and signed before the clock starts: that is the sender's cost.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use chrono::Utc;
use desk_api::{Application, Settings};
use futures_util::StreamExt as _;
use lark_notify::events::{NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, encrypt, signature};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{Args, report};

/// The integration the `DESK_LARK_*` settings create, and so the path pushes go to.
const INTEGRATION: &str = "default";
const APP_ID: &str = "cli_bench00000001";
/// Distinct people (and their p2p chats) the messages come from.
const SENDERS: usize = 100;

/// One push, ready to send: the raw body and its `X-Lark-*` headers.
#[derive(Debug, Clone)]
struct Push {
    body: String,
    timestamp: String,
    nonce: String,
    signature: String,
}

/// A pass over every push: its wall time and each request's latency.
#[derive(Debug)]
struct Pass {
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Pass {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }

    /// Prints the pass's throughput, then its latency percentiles under `route_note`.
    fn report(self, verb: &str, what: &str, unit: &str, route_note: &str) {
        println!(
            "{verb} {} {what} in {:.2} s: {:.0} {unit}/s",
            self.latencies.len(),
            self.wall.as_secs_f64(),
            self.per_second()
        );
        report(&format!("POST /lark/default/events ({route_note})"), self.latencies);
    }
}

pub(crate) async fn run(args: &Args, mut settings: Settings, backend: &str) -> anyhow::Result<()> {
    ensure!(args.events > 0 && args.concurrency > 0, "--events and --concurrency must be at least 1");
    let key = [*uuid::Uuid::new_v4().as_bytes(), *uuid::Uuid::new_v4().as_bytes()].concat();
    let verification_token = uuid::Uuid::new_v4().simple().to_string();
    let encrypt_key = uuid::Uuid::new_v4().simple().to_string();
    settings.secret_key = Some(SecretString::from(base64::engine::general_purpose::STANDARD.encode(key)));
    settings.lark_mode = desk_core::LarkMode::Webhook;
    // Nothing listens there; without workers the desk has no reason to call Lark anyway.
    settings.lark_base_url = "http://127.0.0.1:9".into();
    settings.lark_app_id = Some(APP_ID.into());
    settings.lark_app_secret = Some(SecretString::from("bench-app-secret"));
    settings.lark_verification_token = Some(SecretString::from(verification_token.clone()));
    settings.lark_encrypt_key = Some(SecretString::from(encrypt_key.clone()));
    let app = Application::build(settings).await.context("starting the server")?.without_workers();
    let base = format!("http://127.0.0.1:{}", app.port());
    let store = app.state().store.clone();
    tokio::spawn(app.run_until_stopped());
    let url = format!("{base}/lark/{INTEGRATION}/events");
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build()?;

    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let events: Vec<String> =
        (0..args.events).map(|i| message_event(&run_id, i, &verification_token).to_string()).collect();
    let first: Vec<Push> = events.iter().map(|plaintext| seal(&encrypt_key, plaintext)).collect();
    // Lark signs each delivery afresh: a redelivery is the same event under a new IV,
    // timestamp, nonce and signature.
    let again: Vec<Push> = events.iter().map(|plaintext| seal(&encrypt_key, plaintext)).collect();
    let expected = u64::try_from(args.events)?;

    println!(
        "desk-bench lark-events on {backend}: {} encrypted, signed im.message.receive_v1 pushes, {} concurrent clients",
        args.events, args.concurrency
    );
    warm_up(&client, &base, args.concurrency).await?;

    let accepted = pass(&client, &url, first, args.concurrency).await.context("first delivery")?;
    check_inbox(&store, expected, "after the first delivery").await?;
    accepted.report("accepted", "events", "events", "new event");

    let duplicates = pass(&client, &url, again, args.concurrency).await.context("redelivery")?;
    check_inbox(&store, expected, "after every event was redelivered").await?;
    duplicates.report("acknowledged", "redeliveries", "duplicates", "redelivery");
    println!("inbox: {expected} events pending, each stored once");
    Ok(())
}

/// The v2 envelope of a text message `help` sent to the bot in a p2p chat.
fn message_event(run_id: &str, i: usize, verification_token: &str) -> Value {
    let sender = i % SENDERS;
    json!({
        "schema": "2.0",
        "header": {
            "event_id": format!("{run_id}{i:08}"),
            "token": verification_token,
            "create_time": Utc::now().timestamp_millis().to_string(),
            "event_type": "im.message.receive_v1",
            "tenant_key": "t",
            "app_id": APP_ID,
        },
        "event": {
            "sender": { "sender_id": { "open_id": format!("ou_bench{sender:04}") }, "sender_type": "user" },
            "message": {
                "message_id": format!("om_{run_id}{i:08}"),
                "chat_id": format!("oc_bench{sender:04}"),
                "chat_type": "p2p",
                "message_type": "text",
                "content": json!({ "text": "help" }).to_string(),
            },
        },
    })
}

/// Encrypts and signs `plaintext` as Lark does, with a random IV and nonce.
fn seal(encrypt_key: &str, plaintext: &str) -> Push {
    let body =
        json!({ "encrypt": encrypt(encrypt_key, uuid::Uuid::new_v4().into_bytes(), plaintext.as_bytes()) }).to_string();
    let timestamp = Utc::now().timestamp().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let signature = signature(&timestamp, &nonce, encrypt_key, body.as_bytes());
    Push { body, timestamp, nonce, signature }
}

/// Opens the clients' connections and fills the desk's database pool before the clock
/// starts (`/readyz` pings the database), so that the passes measure requests, not TCP
/// handshakes and PostgreSQL logins: without this the first requests on PostgreSQL wait
/// ~120 ms for the pool to grow.
async fn warm_up(client: &reqwest::Client, base: &str, concurrency: usize) -> anyhow::Result<()> {
    let url = format!("{base}/readyz");
    let answers: Vec<reqwest::Result<reqwest::Response>> = futures_util::stream::iter(0..concurrency * 4)
        .map(|_| client.get(&url).send())
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for answer in answers {
        answer?.error_for_status()?;
    }
    Ok(())
}

/// Sends every push, `concurrency` at a time, and fails unless each was acknowledged.
async fn pass(client: &reqwest::Client, url: &str, pushes: Vec<Push>, concurrency: usize) -> anyhow::Result<Pass> {
    let total = pushes.len();
    let started = Instant::now();
    let outcomes: Vec<anyhow::Result<Duration>> = futures_util::stream::iter(pushes)
        .map(|push| send(client, url, push))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
    let mut latencies = Vec::with_capacity(total);
    let mut failures = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(latency) => latencies.push(latency),
            Err(e) => failures.push(e),
        }
    }
    if let Some(first) = failures.first() {
        bail!(
            "{} of {total} pushes were not acknowledged with 200 {{\"msg\":\"success\"}}; the first: {first:#}",
            failures.len()
        );
    }
    Ok(Pass { wall, latencies })
}

/// One push; its latency runs until the whole acknowledgement has been read.
async fn send(client: &reqwest::Client, url: &str, push: Push) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let res = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(TIMESTAMP_HEADER, push.timestamp)
        .header(NONCE_HEADER, push.nonce)
        .header(SIGNATURE_HEADER, push.signature)
        .body(push.body)
        .send()
        .await?;
    let status = res.status();
    let body = res.text().await?;
    let latency = started.elapsed();
    let acknowledged = serde_json::from_str::<Value>(&body).is_ok_and(|b| b == json!({ "msg": "success" }));
    if status != reqwest::StatusCode::OK || !acknowledged {
        bail!("{status} {body}");
    }
    Ok(latency)
}

/// Fails unless the inbox holds exactly `expected` events, all waiting to be handled.
async fn check_inbox(store: &desk_store::Store, expected: u64, when: &str) -> anyhow::Result<()> {
    let inbox = store.inbox_summary(INTEGRATION).await?;
    if inbox.pending != expected || inbox.failed != 0 || inbox.done != 0 {
        bail!(
            "{when}: the inbox holds {} pending, {} failed, {} done events; expected {expected} pending and nothing else",
            inbox.pending,
            inbox.failed,
            inbox.done
        );
    }
    Ok(())
}
