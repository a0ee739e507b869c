//! Webhooks out: fans the outbox out into deliveries and sends them.
//!
//! A pass (`run_once`) fans out waiting events, then claims as many due deliveries as
//! there are free slots and starts each on its own task; it does not wait for them. So a
//! slow or dead subscriber holds at most its own slots (`per_subscription`), for at most
//! the request timeout, while other subscribers and the desk go on. Each attempt is
//! recorded when it ends; a process that dies mid-attempt leaves a lease that runs out,
//! and the delivery is tried again (receivers de-duplicate on `webhook-id`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use desk_core::webhooks::DeliveryState;
use desk_store::hooks::{AttemptOutcome, ClaimedDelivery};
use desk_store::{Clock, SecretBox, Store, StoreError};
use prometheus::IntCounterVec;
use rand::Rng as _;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::signature::{self, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};

/// Events fanned out per statement.
const FANOUT_BATCH: u64 = 200;
/// Fan-out statements per pass, so one pass stays short under a burst.
const FANOUT_ROUNDS: usize = 10;
/// How much of a subscriber's answer is kept as the error.
const ERROR_BODY_MAX: usize = 200;

/// How the sender behaves.
#[derive(Debug, Clone, Copy)]
pub struct SenderSettings {
    /// How long one delivery may take, connection included.
    pub timeout: Duration,
    /// Deliveries in flight at once, all subscribers together.
    pub concurrency: usize,
    /// Deliveries in flight at once to one subscriber.
    pub per_subscription: usize,
}

impl SenderSettings {
    /// From `DESK_WEBHOOK_TIMEOUT` and `DESK_WEBHOOK_CONCURRENCY`: a subscriber gets a
    /// quarter of the slots at most (one at least), so three dead ones still leave room.
    pub fn new(timeout: Duration, concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self { timeout, concurrency, per_subscription: (concurrency / 4).max(1) }
    }

    /// A claim outlives the longest attempt, so no other instance takes a delivery that is
    /// still being sent.
    fn lease(&self) -> Duration {
        self.timeout.saturating_mul(2) + Duration::from_secs(30)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    /// Outbox events fanned out.
    pub fanned_out: usize,
    /// Deliveries started.
    pub started: usize,
}

impl SendReport {
    /// Whether the pass found nothing to do.
    pub fn is_idle(&self) -> bool {
        self.fanned_out == 0 && self.started == 0
    }
}

/// What is in flight in this process.
#[derive(Debug, Default)]
struct Flight {
    per_subscription: HashMap<Uuid, usize>,
    deliveries: HashSet<Uuid>,
}

/// Takes a delivery out of `Flight` when its task ends, however it ends.
struct InFlight {
    flight: Arc<StdMutex<Flight>>,
    delivery: Uuid,
    subscription: Uuid,
    _permit: OwnedSemaphorePermit,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut f) = self.flight.lock() {
            f.deliveries.remove(&self.delivery);
            if let Some(n) = f.per_subscription.get_mut(&self.subscription) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    f.per_subscription.remove(&self.subscription);
                }
            }
        }
    }
}

/// The webhook sender. Cheap to clone (one pointer, so `AppState` stays small); clones
/// share their in-flight deliveries.
#[derive(Debug, Clone)]
pub struct WebhookSender(Arc<SenderInner>);

impl std::ops::Deref for WebhookSender {
    type Target = SenderInner;
    fn deref(&self) -> &SenderInner {
        &self.0
    }
}

/// What a [`WebhookSender`] holds.
#[derive(Debug)]
pub struct SenderInner {
    store: Store,
    clock: Arc<dyn Clock>,
    secret_box: Option<SecretBox>,
    http: reqwest::Client,
    settings: SenderSettings,
    flight: Arc<StdMutex<Flight>>,
    slots: Arc<Semaphore>,
    tasks: Mutex<JoinSet<()>>,
    counter: IntCounterVec,
}

impl WebhookSender {
    /// Builds the sender with its HTTP client (redirects are not followed: a subscriber
    /// answers where it was registered). `counter` counts attempts by outcome.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        secret_box: Option<SecretBox>,
        settings: SenderSettings,
        counter: IntCounterVec,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Larkdesk-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self(Arc::new(SenderInner {
            store,
            clock,
            secret_box,
            http,
            slots: Arc::new(Semaphore::new(settings.concurrency)),
            settings,
            flight: Arc::default(),
            tasks: Mutex::default(),
            counter,
        })))
    }

    /// One pass: fans out waiting events, then starts as many due deliveries as there are
    /// free slots. Does not wait for the deliveries it starts.
    pub async fn run_once(&self) -> Result<SendReport, StoreError> {
        let mut report = SendReport::default();
        for _ in 0..FANOUT_ROUNDS {
            let n = self.store.fan_out_webhooks(FANOUT_BATCH, self.clock.now()).await?;
            report.fanned_out += n;
            if (n as u64) < FANOUT_BATCH {
                break;
            }
        }
        {
            let mut tasks = self.tasks.lock().await;
            while let Some(done) = tasks.try_join_next() {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a webhook delivery task failed");
                }
            }
        }
        let free = self.slots.available_permits();
        let (in_flight, skip) = match self.flight.lock() {
            Ok(f) => (f.per_subscription.clone(), f.deliveries.clone()),
            Err(_) => return Ok(report),
        };
        let claimed = self
            .store
            .claim_webhook_deliveries(
                free,
                self.settings.per_subscription,
                &in_flight,
                &skip,
                self.settings.lease(),
                self.secret_box.as_ref(),
                self.clock.now(),
            )
            .await?;
        let mut tasks = self.tasks.lock().await;
        for d in claimed {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                // Cannot happen (claims never exceed free slots); the lease will lapse.
                break;
            };
            if let Ok(mut f) = self.flight.lock() {
                f.deliveries.insert(d.id);
                *f.per_subscription.entry(d.subscription_id).or_default() += 1;
            }
            let guard = InFlight {
                flight: self.flight.clone(),
                delivery: d.id,
                subscription: d.subscription_id,
                _permit: permit,
            };
            let me = self.clone();
            report.started += 1;
            tasks.spawn(async move {
                me.deliver(d).await;
                drop(guard);
            });
        }
        Ok(report)
    }

    /// Waits until every delivery started so far has been attempted and recorded.
    pub async fn wait_in_flight(&self) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().await);
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "a webhook delivery task failed");
            }
        }
    }

    /// Passes (each waiting for what it started) until one finds nothing to do. Retries
    /// wait for the clock, so this ends. For tests and tools.
    pub async fn run_until_idle(&self) -> Result<SendReport, StoreError> {
        let mut total = SendReport::default();
        loop {
            let r = self.run_once().await?;
            self.wait_in_flight().await;
            if r.is_idle() {
                return Ok(total);
            }
            total.fanned_out += r.fanned_out;
            total.started += r.started;
        }
    }

    /// Forgets delivered and given-up deliveries made before `before`.
    pub async fn purge(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError> {
        self.store.purge_webhook_deliveries(before).await
    }

    #[tracing::instrument(name = "webhook delivery", skip_all,
        fields(webhook.delivery = %d.id, webhook.subscription = %d.subscription_id, webhook.type = %d.event_type,
            webhook.attempt = d.attempt))]
    async fn deliver(&self, d: ClaimedDelivery) {
        let outcome = self.attempt(&d).await;
        let jitter = rand::rng().random::<f64>();
        match self.store.record_webhook_attempt(d.id, &outcome, jitter, self.clock.now()).await {
            Ok(state) => {
                let label = match state {
                    DeliveryState::Delivered => "delivered",
                    DeliveryState::Pending => "retrying",
                    DeliveryState::Failed => "failed",
                };
                self.counter.with_label_values(&[label]).inc();
                if state == DeliveryState::Failed {
                    tracing::warn!(error = ?outcome.error, status = ?outcome.status, "webhook delivery given up");
                } else if state == DeliveryState::Pending {
                    tracing::info!(error = ?outcome.error, status = ?outcome.status, "webhook delivery will be retried");
                }
            }
            // The lease runs out and the delivery is tried again: at least once, never lost.
            Err(e) => tracing::error!(error = %e, "could not record a webhook attempt"),
        }
    }

    async fn attempt(&self, d: &ClaimedDelivery) -> AttemptOutcome {
        let timestamp = self.clock.now().timestamp();
        let id = d.id.to_string();
        let mut keys = vec![&d.keys.current];
        keys.extend(d.keys.previous.as_ref());
        let signature = signature::sign(&keys, &id, timestamp, d.payload.as_bytes());
        let sent = self
            .http
            .post(&d.url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(WEBHOOK_ID, &id)
            .header(WEBHOOK_TIMESTAMP, timestamp.to_string())
            .header(WEBHOOK_SIGNATURE, signature)
            .body(d.payload.clone())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    format!("no answer within {}s", self.settings.timeout.as_secs())
                } else if e.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "the request failed".to_owned()
                };
                return AttemptOutcome { status: None, error: Some(why), retry_after: None };
            }
        };
        let status = response.status();
        if status.is_success() {
            return AttemptOutcome { status: Some(status.as_u16()), error: None, retry_after: None };
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().filter(|c| !c.is_control()).take(ERROR_BODY_MAX).collect();
        let error = if excerpt.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {excerpt}") };
        AttemptOutcome { status: Some(status.as_u16()), error: Some(error), retry_after }
    }
}
