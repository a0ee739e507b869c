//! Delivering events and card callbacks to the app: one attempt over the subscribed transport
//! (webhook or long connection), then Lark's redelivery schedule in the background (spec §6.5).
//!
//! Attempts never hold the state lock while they wait on the network: they read the body and the
//! subscription, send, and write the outcome back. Background work runs on the runtime the
//! simulator was started on (actix handlers run on worker threads with runtimes of their own) and
//! stops when the simulator does.

mod crypto;
mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::SimConfig;
use crate::events::Subscription;
use crate::state::Sim;
use crate::ws::Hub;

/// Lark connects within 2 s and wants the whole answer within 3 s (spec §6.5).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Push settings and the long-lived pieces every delivery shares.
#[derive(Debug)]
pub(crate) struct Pusher {
    redelivery: Vec<Duration>,
    /// How long an attempt waits for HTTP 200 or the ack.
    pub(crate) timeout: Duration,
    pub(crate) fragment_bytes: Option<usize>,
    /// One client (one connection pool) for every webhook push.
    http: reqwest::Client,
    /// The open long connections.
    pub(crate) hub: Hub,
    runtime: tokio::runtime::Handle,
    /// Cancelled by [`crate::SimHandle::stop`]: retries, the WebSocket listener and its connections end.
    pub(crate) shutdown: CancellationToken,
}

impl Pusher {
    /// Must be called inside the tokio runtime that is to run the background work.
    pub(crate) fn new(config: &SimConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.push_timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(config.push_timeout))
            .user_agent("lark-sim")
            .build()
            .context("building the push HTTP client")?;
        Ok(Self {
            redelivery: config.redelivery.clone(),
            timeout: config.push_timeout,
            fragment_bytes: config.ws_fragment_bytes.filter(|n| *n > 0),
            http,
            hub: Hub::default(),
            runtime: tokio::runtime::Handle::try_current().context("lark-sim must start inside a tokio runtime")?,
            shutdown: CancellationToken::new(),
        })
    }

    /// Runs `work` on the simulator's runtime and waits for its result (`None` if the simulator
    /// stopped first). Side routes use it: actix handlers run on worker runtimes of their own, and
    /// what a push opens (HTTP connections, retry tasks) belongs with the simulator.
    pub(crate) async fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.await.ok()
    }

    /// Runs `work` in the background until it finishes or the simulator stops.
    pub(crate) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let shutdown = self.shutdown.clone();
        self.runtime.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = work => {}
            }
        });
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    /// HTTP status or ack code; `None` when nothing answered.
    pub(crate) status: Option<u16>,
    /// The answer body (webhook) or the decoded ack `data` (long connection).
    pub(crate) answer: Option<Value>,
    pub(crate) error: Option<String>,
}

impl Outcome {
    pub(crate) fn failed(why: impl Into<String>) -> Self {
        Self { status: None, answer: None, error: Some(why.into()) }
    }

    /// Anything but 200 is a failure, whatever the body says (spec §6.5).
    pub(crate) fn answered(status: u16, answer: Option<Value>) -> Self {
        let error = (status != 200).then(|| format!("the app answered {status}"));
        Self { status: Some(status), answer, error }
    }

    pub(crate) fn is_delivered(&self) -> bool {
        self.status == Some(200) && self.error.is_none()
    }
}

/// Starts delivering the events API calls and [`crate::SimHandle`] actions queued; call it once the
/// state lock is released.
pub(crate) fn start_queued(sim: &Arc<Sim>) {
    let queued = sim.lock().pushes.take_outbox();
    for event_id in queued {
        let background = Arc::clone(sim);
        sim.push.spawn(async move {
            deliver(&background, &event_id).await;
        });
    }
}

/// The first attempt now; if it fails, the redelivery schedule in the background.
pub(crate) async fn deliver(sim: &Arc<Sim>, event_id: &str) -> Outcome {
    let outcome = attempt(sim, event_id).await;
    if !outcome.is_delivered() && !sim.push.redelivery.is_empty() {
        if let Some(record) = sim.lock().pushes.get_mut(event_id) {
            record.retry_pending = true;
        }
        let (background, event_id) = (Arc::clone(sim), event_id.to_owned());
        sim.push.spawn(async move { redeliver_on_schedule(background, event_id).await });
    }
    outcome
}

async fn redeliver_on_schedule(sim: Arc<Sim>, event_id: String) {
    for delay in sim.push.redelivery.clone() {
        tokio::time::sleep(delay).await;
        // A redelivery the test asked for may have got it through meanwhile.
        let done = sim.lock().pushes.get(&event_id).is_none_or(|r| r.delivered);
        if done || attempt(&sim, &event_id).await.is_delivered() {
            break;
        }
    }
    if let Some(record) = sim.lock().pushes.get_mut(&event_id) {
        record.retry_pending = false;
    }
}

/// Sends the recorded body once over the current subscription and records the outcome.
pub(crate) async fn attempt(sim: &Sim, event_id: &str) -> Outcome {
    let prepared = {
        let mut st = sim.lock();
        let now = st.now();
        let subscription = st.subscription.clone();
        st.pushes.get_mut(event_id).map(|record| {
            record.attempts += 1;
            (record.body.clone(), record.is_callback(), subscription, now)
        })
    };
    let Some((body, is_callback, subscription, now)) = prepared else {
        return Outcome::failed(format!("unknown event {event_id}"));
    };
    let outcome = match subscription {
        None => Outcome::failed("the app has no event subscription"),
        Some(Subscription::Webhook { events_url, cards_url, encrypt_key, .. }) => {
            let url = if is_callback { &cards_url } else { &events_url };
            webhook::post(&sim.push.http, url, &body, encrypt_key.as_deref(), now.timestamp()).await
        }
        Some(Subscription::LongConnection { .. }) => {
            sim.push
                .hub
                .deliver(body.as_bytes(), now.timestamp_millis(), sim.push.fragment_bytes, sim.push.timeout)
                .await
        }
    };
    if let Some(record) = sim.lock().pushes.get_mut(event_id) {
        record.delivered |= outcome.is_delivered();
        record.last_status = outcome.status;
        record.last_error.clone_from(&outcome.error);
    }
    outcome
}
