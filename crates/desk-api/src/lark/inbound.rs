//! [`Inbound`]: where every Lark event enters, by webhook or long connection, and the
//! inbox worker's pass.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::Integration;
use desk_store::{Accepted, ClaimedEvent, Clock, InboundEvent, Store, StoreError, Via};
use lark_notify::dispatch::Lanes;
use lark_notify::event_bodies::{CARD_ACTION, MESSAGE_RECEIVE, ToastKind, card_answer};
use lark_notify::events::Envelope;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify};

use super::handle::{self, HandleError};
use super::text;
use crate::metrics::Metrics;

/// How long a worker holds an event before another may take it over.
const LEASE: Duration = Duration::from_secs(60);
/// Events claimed per pass.
const BATCH: u64 = 50;
/// Attempts before an event is parked as failed (kept for the record).
const MAX_ATTEMPTS: u32 = 8;
/// How long a card callback may work before Lark's 3-second limit forces an answer.
const CARD_DEADLINE: Duration = Duration::from_millis(2_500);

/// Settings of the inbound side.
#[derive(Debug, Clone)]
pub struct InboundSettings {
    /// How long event and message ids are remembered (and how old an event may be).
    pub retention: Duration,
    /// `DESK_PUBLIC_URL`, for links on cards.
    pub public_url: String,
}

/// What became of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// Stored; the worker will handle it.
    Accepted,
    /// Already seen (a redelivery): acknowledged, not handled again.
    Duplicate,
    /// Older than the retention (a replay): acknowledged and ignored.
    Stale,
    /// A card callback, handled: Lark shows this answer.
    Answer(Value),
}

/// Why an event was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The envelope names another Lark app.
    #[error("the event is for app {0}, not this integration's app")]
    OtherApp(String),
    /// The event has no id to de-duplicate on.
    #[error("the event has no event id")]
    NoEventId,
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who an integration's bot is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    /// Its open_id in the app.
    pub open_id: String,
    /// The app's name.
    pub name: Option<String>,
}

/// Where Lark events enter and are worked. Cheap to clone: one pointer, so the server
/// state that holds it stays small.
#[derive(Clone)]
pub struct Inbound(Arc<Parts>);

/// What [`Inbound`] shares between its clones.
#[expect(missing_debug_implementations, reason = "shown through Inbound's Debug")]
pub struct Parts {
    pub(super) store: Store,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) lanes: Lanes,
    pub(super) metrics: Metrics,
    pub(super) settings: InboundSettings,
    wake: Notify,
    /// Each integration's bot (its open_id tells an @mention of the bot), asked of Lark once.
    bots: Mutex<HashMap<String, BotIdentity>>,
}

impl std::ops::Deref for Inbound {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl std::fmt::Debug for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbound").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Inbound {
    /// The inbound side over `store`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, lanes: Lanes, metrics: Metrics, settings: InboundSettings) -> Self {
        Self(Arc::new(Parts { store, clock, lanes, metrics, settings, wake: Notify::new(), bots: Mutex::default() }))
    }

    /// Resolves when an event was accepted since the worker last looked (or at once if one was).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Checks, de-duplicates and stores an event; handles a card callback at once.
    pub async fn ingest(&self, integration: &Integration, env: Envelope, via: Via) -> Result<Ingested, IngestError> {
        if let Some(app) = env.app_id.as_deref().filter(|a| !a.is_empty())
            && app != integration.app_id
        {
            return Err(IngestError::OtherApp(app.to_owned()));
        }
        if env.event_id.is_empty() {
            return Err(IngestError::NoEventId);
        }
        let now = self.clock.now();
        let created = env.create_time_ms.and_then(DateTime::<Utc>::from_timestamp_millis);
        let retention = chrono::Duration::from_std(self.settings.retention).unwrap_or(chrono::Duration::MAX);
        if created.is_some_and(|at| at < now - retention) {
            // Past the retention its id may be forgotten, so only its age can tell a
            // replay: Lark itself never redelivers that late.
            tracing::warn!(
                integration.id = %integration.id,
                event.id = %env.event_id,
                event.r#type = %env.event_type,
                "Lark event older than the de-duplication retention ignored (a replay?)"
            );
            self.metrics.record_lark_event(&env.event_type, "stale");
            return Ok(Ingested::Stale);
        }
        let card = env.event_type == CARD_ACTION;
        let message_id = (env.event_type == MESSAGE_RECEIVE)
            .then(|| env.event["message"]["message_id"].as_str().map(str::to_owned))
            .flatten();
        let body = json!({
            "event_id": env.event_id,
            "event_type": env.event_type,
            "tenant_key": env.tenant_key,
            "create_time": env.create_time_raw,
            "event": env.event,
        })
        .to_string();
        let event = InboundEvent {
            integration_id: integration.id.clone(),
            event_id: env.event_id.clone(),
            event_type: env.event_type.clone(),
            message_id,
            lark_created_at: created,
            via,
            body,
        };
        // A card callback starts out claimed by this request: Lark is waiting for it.
        let accepted = self.store.accept_event(event, card.then_some(LEASE), now).await?;
        let Accepted::New(row) = accepted else {
            self.metrics.record_lark_event(&env.event_type, "duplicate");
            return Ok(if card { Ingested::Answer(json!({})) } else { Ingested::Duplicate });
        };
        if !card {
            self.metrics.record_lark_event(&env.event_type, "accepted");
            self.wake.notify_one();
            return Ok(Ingested::Accepted);
        }
        Ok(Ingested::Answer(self.answer_card(integration.clone(), row, env.event_id, env.event).await))
    }

    /// Handles a card callback, answering within Lark's limit. Work that takes longer
    /// goes on in the background and finishes the inbox row itself; the card then
    /// changes through the usual notifications.
    async fn answer_card(&self, integration: Integration, row: uuid::Uuid, origin: String, event: Value) -> Value {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let this = self.clone();
        tokio::spawn(async move {
            let result = handle::card_action(&this, &integration, &origin, &event).await;
            let now = this.clock.now();
            let (answer, recorded) = match result {
                Ok((answer, outcome)) => {
                    this.metrics.record_lark_event(CARD_ACTION, "handled");
                    let recorded = this.store.finish_event(row, &outcome, now).await;
                    (answer, recorded)
                }
                Err(e) => {
                    // A callback is not redelivered: the person sees the error and may click again.
                    tracing::error!(error = %e, "card action failed");
                    this.metrics.record_lark_event(CARD_ACTION, "failed");
                    let recorded = this.store.park_event(row, &e.to_string(), now).await;
                    let (en, zh) = text::pair("failed");
                    (card_answer(ToastKind::Error, en, zh, en, None), recorded)
                }
            };
            if let Err(e) = recorded {
                // The lease runs out and the worker handles it again: actions are idempotent
                // per ticket state (a second escalation within minutes is merged).
                tracing::error!(error = %e, "could not record a handled card action");
            }
            let _ = tx.send(answer);
        });
        match tokio::time::timeout(CARD_DEADLINE, rx).await {
            Ok(Ok(answer)) => answer,
            _ => {
                let (en, zh) = text::pair("working");
                card_answer(ToastKind::Info, en, zh, en, None)
            }
        }
    }

    /// One pass of the inbox worker: handles due events in arrival order. Returns how
    /// many were handled.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut handled = 0;
        loop {
            let batch = self.store.claim_events(self.clock.now(), LEASE, BATCH).await?;
            let full = batch.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
            for ev in batch {
                self.work(ev).await?;
                handled += 1;
            }
            if !full {
                return Ok(handled);
            }
        }
    }

    async fn work(&self, ev: ClaimedEvent) -> Result<(), StoreError> {
        let result = handle::event(self, &ev).await;
        let now = self.clock.now();
        match result {
            Ok(outcome) => {
                self.metrics.record_lark_event(&ev.event_type, "handled");
                self.store.finish_event(ev.id, &outcome, now).await
            }
            Err(HandleError::Malformed(why)) => {
                tracing::warn!(event.r#type = %ev.event_type, reason = %why, "Lark event cannot be handled; parked");
                self.metrics.record_lark_event(&ev.event_type, "failed");
                self.store.park_event(ev.id, &why, now).await
            }
            Err(e) if ev.attempt >= MAX_ATTEMPTS => {
                tracing::error!(error = %e, event.r#type = %ev.event_type, "Lark event failed too often; parked");
                self.metrics.record_lark_event(&ev.event_type, "failed");
                self.store.park_event(ev.id, &e.to_string(), now).await
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt = ev.attempt, "Lark event failed; will retry");
                let wait = chrono::Duration::seconds(5_i64 << ev.attempt.min(10));
                self.store.retry_event(ev.id, &e.to_string(), now + wait, now).await
            }
        }
    }

    /// Forgets handled events older than the retention.
    pub async fn purge(&self) -> Result<u64, StoreError> {
        let retention = chrono::Duration::from_std(self.settings.retention).unwrap_or(chrono::Duration::MAX);
        self.store.purge_events(self.clock.now() - retention).await
    }

    /// The bot of `integration`, if the desk has asked Lark already (costs nothing).
    pub async fn known_bot(&self, integration: &str) -> Option<BotIdentity> {
        self.bots.lock().await.get(integration).cloned()
    }

    /// The bot's own open_id in `integration`'s app, asked of Lark once per process.
    pub(super) async fn bot_open_id(&self, integration: &Integration) -> Result<String, HandleError> {
        if let Some(bot) = self.known_bot(&integration.id).await {
            return Ok(bot.open_id);
        }
        let client = self.lanes.client(integration).await.map_err(HandleError::lane)?;
        let info = lark_notify::with_purpose("bot_info", client.bot_info()).await.map_err(HandleError::lark)?;
        let open_id = info.open_id.ok_or_else(|| HandleError::Lark("bot info without an open_id".to_owned()))?;
        let bot = BotIdentity { open_id: open_id.clone(), name: info.app_name };
        self.bots.lock().await.insert(integration.id.clone(), bot);
        Ok(open_id)
    }
}
