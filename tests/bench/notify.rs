//! The notification pipeline against lark-sim: ticket events spread over simulated
//! minutes (a manual clock), dispatched as `desk serve` would, with Lark's documented
//! frequency limits in force. Reports notifications through the pipeline per second and
//! the Lark calls spent per 1,000 ticket events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use chrono::TimeDelta;
use desk_api::{Application, Settings};
use desk_store::{Clock as _, ManualClock, NewToken};
use futures_util::StreamExt as _;
use lark_notify::dispatch::DispatchReport;
use lark_sim::{SimConfig, SimUser};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{Args, Bench};

pub(crate) async fn run(args: &Args, mut settings: Settings, backend: &str) -> anyhow::Result<()> {
    let users =
        (0..args.people).map(|i| SimUser::with_email(format!("Person {i}"), format!("p{i}@bench.test"))).collect();
    let sim = lark_sim::spawn(SimConfig { users, monthly_quota: 1_000_000, ..SimConfig::default() }).await?;
    let key = [*uuid::Uuid::new_v4().as_bytes(), *uuid::Uuid::new_v4().as_bytes()].concat();
    settings.secret_key = Some(SecretString::from(base64::engine::general_purpose::STANDARD.encode(key)));
    settings.lark_mode = desk_core::LarkMode::Webhook;
    settings.lark_base_url = sim.base_url.clone();
    settings.lark_app_id = Some(sim.app_id.clone());
    settings.lark_app_secret = Some(SecretString::from(sim.app_secret.clone()));
    settings.lark_monthly_budget = 1_000_000;
    let clock = Arc::new(ManualClock::new("2026-11-02T08:00:00Z".parse()?));
    let app =
        Application::build_with_clock(settings, clock.clone()).await.context("starting the server")?.without_workers();
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let token = state
        .store
        .create_token(
            NewToken { name: "bench".into(), role: Some(desk_core::Role::Admin), person_id: None },
            clock.now(),
        )
        .await?
        .secret;
    tokio::spawn(app.run_until_stopped());
    let bench = Arc::new(Bench { base, token, client: reqwest::Client::new() });

    println!(
        "desk-bench notifications on {backend}: {} ticket events touching {} people over {} simulated minutes",
        args.events, args.people, args.minutes
    );
    let org = bench.post("/api/v1/orgs", &json!({ "name": "Bench org" })).await?["id"].clone();
    let mut people = Vec::new();
    for i in 0..args.people {
        let open_id = sim.user_by_email(&format!("p{i}@bench.test")).context("sim user")?.open_id;
        let body =
            json!({ "kind": "staff", "role": "engineer", "name": format!("Person {i}"), "lark_open_id": open_id });
        people.push(bench.post("/api/v1/people", &body).await?["id"].clone());
    }
    let tickets_n = args.people;
    let mut tickets = Vec::new();
    for i in 0..tickets_n {
        let body = json!({ "org_id": org, "title": format!("Bench ticket {i}") });
        tickets.push(bench.post("/api/v1/tickets", &body).await?["id"].as_str().unwrap_or_default().to_owned());
    }
    state.dispatcher.run_once().await?;

    let per_minute = args.events.div_ceil(args.minutes.max(1));
    let people = Arc::new(people);
    let tickets = Arc::new(tickets);
    let mut dispatch_time = Duration::ZERO;
    let mut total = DispatchReport::default();
    let mut event = 0usize;
    while event < args.events {
        let batch: Vec<usize> = (event..(event + per_minute).min(args.events)).collect();
        event += batch.len();
        // Each event moves a ticket to the next person: every assignment notifies one person.
        let results: Vec<anyhow::Result<Value>> = futures_util::stream::iter(batch)
            .map(|e| {
                let (bench, people, tickets) = (bench.clone(), people.clone(), tickets.clone());
                async move {
                    let t = e % tickets.len();
                    let round = e / tickets.len();
                    let to = &people[(t + round + 1) % people.len()];
                    bench.post(&format!("/api/v1/tickets/{}/assign", tickets[t]), &json!({ "assignee_id": to })).await
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
        let t = Instant::now();
        total += state.dispatcher.run_once().await?;
        dispatch_time += t.elapsed();
        clock.advance(TimeDelta::minutes(1));
    }
    // Let every window open once more so that nothing is left waiting.
    for _ in 0..2 {
        clock.advance(TimeDelta::minutes(10));
        let t = Instant::now();
        total += state.dispatcher.run_once().await?;
        dispatch_time += t.elapsed();
    }
    let snapshot = sim.snapshot();
    let billed = snapshot.calls.billed as f64;
    let secs = dispatch_time.as_secs_f64();
    println!(
        "planned {} notifications into {} cards; Lark accepted {} cards ({} calls in all, {} billed)",
        total.planned, total.composed, total.sent, snapshot.calls.total, snapshot.calls.billed
    );
    println!(
        "pipeline: {:.1} s dispatching: {:.0} notifications/s, {:.1} cards/s (Lark allows 50 calls/s per app)",
        secs,
        total.planned as f64 / secs,
        total.sent as f64 / secs
    );
    println!(
        "Lark calls per 1,000 ticket events: {:.0} billed (one card per event would be 1,000)",
        billed * 1000.0 / args.events as f64
    );
    Ok(())
}
