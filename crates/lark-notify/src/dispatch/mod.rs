//! The dispatcher: plans outbox events into notifications, composes what each
//! recipient may receive into one card when their window opens, and sends the cards
//! through each integration's client under the monthly budget.
//!
//! [`Dispatcher::run_once`] is one pass with time from the injected clock: tests drive it
//! with a manual clock, and `desk serve` loops over it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::notify::{self, Recipient};
use desk_core::{Integration, LarkMode};
use desk_store::{Clock, Outgoing, Store, StoreError};
use futures_util::StreamExt as _;
use rand::Rng as _;

use crate::wire::{Content, ReceiveId};
use crate::{LarkClient, LarkError, with_purpose};

mod lanes;
mod render;

pub use lanes::{LaneError, Lanes};

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The database refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An integration's client could not be had.
    #[error(transparent)]
    Lane(#[from] LaneError),
    /// The test switch [`Dispatcher::crash_after_send`] fired.
    #[error("stopped between a Lark call and its bookkeeping (test switch)")]
    Crashed,
}

/// How the dispatcher works.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    /// At most one notification per recipient per this long (`DESK_NOTIFY_WINDOW`).
    pub window: Duration,
    /// How long a claimed delivery is reserved for its sender before another may retry it.
    pub lease: Duration,
    /// Most rows taken per query.
    pub batch: u64,
    /// Lark calls in flight at once per integration (the limiters pace them).
    pub concurrency: usize,
    /// How people reach the desk (card links).
    pub public_url: String,
}

impl DispatcherSettings {
    /// Defaults around a window.
    pub fn new(window: Duration, public_url: impl Into<String>) -> Self {
        Self { window, lease: Duration::from_secs(60), batch: 200, concurrency: 8, public_url: public_url.into() }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Outbox events planned.
    pub events: usize,
    /// Notifications planned from them.
    pub planned: usize,
    /// Deliveries composed.
    pub composed: usize,
    /// Deliveries Lark accepted.
    pub sent: usize,
    /// Attempts that failed and will be retried.
    pub retried: usize,
    /// Deliveries given up on.
    pub parked: usize,
    /// Deliveries held back by the budget.
    pub deferred: usize,
}

impl std::ops::AddAssign for DispatchReport {
    fn add_assign(&mut self, o: Self) {
        self.events += o.events;
        self.planned += o.planned;
        self.composed += o.composed;
        self.sent += o.sent;
        self.retried += o.retried;
        self.parked += o.parked;
        self.deferred += o.deferred;
    }
}

impl DispatchReport {
    /// Whether the pass did anything.
    pub fn is_idle(&self) -> bool {
        *self == Self::default()
    }

    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Sent => self.sent += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::Parked => self.parked += 1,
            Outcome::Deferred => self.deferred += 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Sent,
    Retried,
    Parked,
    Deferred,
}

/// How long a delivery the budget refused waits before asking again (an admin may raise
/// the budget, and the month may turn).
const BUDGET_RECHECK: Duration = Duration::from_secs(300);

/// Delivers notifications. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    store: Store,
    clock: Arc<dyn Clock>,
    lanes: Lanes,
    settings: DispatcherSettings,
    crash_after_send: Arc<AtomicBool>,
    /// The integrations seen by the last pass (id and version): when they change,
    /// notifications planned without a way out are given one.
    seen: Arc<tokio::sync::Mutex<Vec<IntegrationVersion>>>,
}

/// An integration's id and when it last changed.
type IntegrationVersion = (String, DateTime<Utc>);

impl Dispatcher {
    /// A dispatcher over `store`, sending through `lanes`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, lanes: Lanes, settings: DispatcherSettings) -> Self {
        Self { store, clock, lanes, settings, crash_after_send: Arc::default(), seen: Arc::default() }
    }

    /// The clients it sends through.
    pub fn lanes(&self) -> &Lanes {
        &self.lanes
    }

    /// Test switch: the next successful Lark call ends the pass with
    /// [`DispatchError::Crashed`] before the delivery is marked sent, as if the process
    /// died there. The lease then has to run out before anyone retries.
    #[doc(hidden)]
    pub fn crash_after_send(&self, on: bool) {
        self.crash_after_send.store(on, Ordering::SeqCst);
    }

    /// One pass: plan, then per integration compose and send.
    pub async fn run_once(&self) -> Result<DispatchReport, DispatchError> {
        let mut report = DispatchReport::default();
        let now = self.clock.now();
        loop {
            let planned = self.store.plan_notifications(self.settings.batch, now).await?;
            report.events += planned.events;
            report.planned += planned.notifications;
            if planned.events < usize::try_from(self.settings.batch).unwrap_or(usize::MAX) {
                break;
            }
        }
        let result = self.deliver_all(&mut report).await;
        // Whatever happened, the calls that were made go to the ledger.
        self.lanes.flush_ledger().await?;
        result.map(|()| report)
    }

    async fn deliver_all(&self, report: &mut DispatchReport) -> Result<(), DispatchError> {
        let integrations = self.store.list_integrations().await?;
        let current: Vec<IntegrationVersion> = integrations.iter().map(|i| (i.id.clone(), i.updated_at)).collect();
        {
            let mut seen = self.seen.lock().await;
            if *seen != current {
                let adopted = self.store.adopt_unrouted().await?;
                if adopted > 0 {
                    tracing::info!(adopted, "notifications waiting for a Lark integration now have one");
                }
                *seen = current;
            }
        }
        for integration in integrations {
            // `off` keeps everything in the outbox: nothing is composed, nothing sent.
            if integration.mode == LarkMode::Off {
                continue;
            }
            self.deliver_integration(&integration, report).await?;
        }
        Ok(())
    }

    async fn deliver_integration(
        &self,
        integration: &Integration,
        report: &mut DispatchReport,
    ) -> Result<(), DispatchError> {
        let now = self.clock.now();
        let used = self.store.budget_used(&integration.id, now).await?;
        let status = notify::budget_status(used, integration.monthly_budget, now);
        let window = notify::effective_window(self.settings.window, status.level);
        let recipients =
            self.store.due_recipients(&integration.id, now, window, status.level, self.settings.batch).await?;
        for recipient in &recipients {
            let public_url = self.settings.public_url.as_str();
            let composed = self
                .store
                .compose(&integration.id, recipient, now, window, status.level, |input| {
                    render::render(input, public_url)
                })
                .await?;
            report.composed += usize::from(composed.is_some());
        }
        loop {
            let now = self.clock.now();
            let batch =
                self.store.claim_deliveries(&integration.id, now, self.settings.lease, self.settings.batch).await?;
            if batch.is_empty() {
                return Ok(());
            }
            let full = batch.len() == usize::try_from(self.settings.batch).unwrap_or(usize::MAX);
            let client = self.lanes.client(integration).await?;
            let mut outcomes = futures_util::stream::iter(batch)
                .map(|d| self.send(integration, &client, d))
                .buffer_unordered(self.settings.concurrency.max(1));
            while let Some(outcome) = outcomes.next().await {
                report.add(outcome?);
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// One delivery: check the budget, call Lark, record the outcome.
    async fn send(
        &self,
        integration: &Integration,
        client: &LarkClient,
        d: Outgoing,
    ) -> Result<Outcome, DispatchError> {
        let now = self.clock.now();
        let to = match &d.recipient {
            Recipient::Chat(chat) => ReceiveId::chat(chat.clone()),
            Recipient::Person(p) => match &d.open_id {
                Some(open_id) => ReceiveId::open_id(open_id.clone()),
                None => {
                    let reason = format!("person {p} has no Lark open_id: bind them, then retry");
                    self.store.mark_parked(d.id, &reason, now).await?;
                    return Ok(Outcome::Parked);
                }
            },
        };
        let budget = integration.monthly_budget;
        let Some(used) = self.store.reserve_call(&integration.id, budget, d.class, now).await? else {
            tracing::warn!(
                integration.id = %integration.id,
                notification.class = %d.class,
                "Lark API budget for the month is spent; notification queued until it resets or is raised"
            );
            let until = now + chrono::Duration::from_std(BUDGET_RECHECK).unwrap_or(chrono::Duration::zero());
            self.store.defer_delivery(d.id, "waiting for the monthly Lark API budget", until, now).await?;
            return Ok(Outcome::Deferred);
        };
        self.alert_if_due(integration, used, now).await?;
        let card: serde_json::Value = serde_json::from_str(&d.card)
            .map_err(|e| StoreError::Corrupt { table: "deliveries", detail: e.to_string() })?;
        let uuid = d.id.to_string();
        let result = with_purpose(d.class.as_str(), client.send_message(&to, &Content::Card(card), &uuid)).await;
        let now = self.clock.now();
        match result {
            Ok(message) => {
                if self.crash_after_send.swap(false, Ordering::SeqCst) {
                    return Err(DispatchError::Crashed);
                }
                self.store.mark_sent(d.id, &message.message_id, now).await?;
                Ok(Outcome::Sent)
            }
            Err(e) => {
                if e.is_refusal() {
                    // Lark refused: a refused call is not billed, so the slot goes back.
                    self.store.release_call(&integration.id, d.class, now, now).await?;
                }
                self.after_failure(integration, &d, &e, now).await
            }
        }
    }

    async fn after_failure(
        &self,
        integration: &Integration,
        d: &Outgoing,
        e: &LarkError,
        now: DateTime<Utc>,
    ) -> Result<Outcome, DispatchError> {
        let error = e.to_string();
        if let LarkError::QuotaExhausted { .. } = e {
            // Lark's own count says the month is over (other apps of the tenant share
            // it): wait for the month to turn rather than burn attempts.
            tracing::error!(integration.id = %integration.id, "Lark says this month's API quota is exhausted");
            let (_, next_month) = notify::month_bounds(now);
            self.store.defer_delivery(d.id, &error, next_month, now).await?;
            return Ok(Outcome::Deferred);
        }
        let attempts = i32::try_from(d.attempt).unwrap_or(i32::MAX);
        if e.is_retryable() && attempts < notify::MAX_ATTEMPTS {
            let wait = e.retry_after().unwrap_or_else(|| notify::retry_backoff(attempts));
            // Jitter spreads the retries of a burst that failed together.
            let jitter = Duration::from_millis(rand::rng().random_range(0..=wait.as_millis().min(5_000) as u64 / 4));
            let at = now + chrono::Duration::from_std(wait + jitter).unwrap_or(chrono::Duration::zero());
            tracing::info!(
                notification.id = %d.id, integration.id = %integration.id, attempt = d.attempt, error = %error,
                "Lark call failed; will retry"
            );
            self.store.mark_retry(d.id, &error, at, now).await?;
            Ok(Outcome::Retried)
        } else {
            tracing::warn!(
                notification.id = %d.id, integration.id = %integration.id, attempt = d.attempt, error = %error,
                "notification parked"
            );
            self.store.mark_parked(d.id, &error, now).await?;
            Ok(Outcome::Parked)
        }
    }

    /// Tells the TAM when the month crosses 50, 80, 95 and 100 % of the budget.
    async fn alert_if_due(
        &self,
        integration: &Integration,
        used: u32,
        now: DateTime<Utc>,
    ) -> Result<(), DispatchError> {
        let budget = integration.monthly_budget;
        // The counter moved past a threshold iff this call reached it: checking only on
        // the reserving call keeps the check free of an extra read.
        let Some(percent) = notify::alert_due(used, budget, 0)
            .filter(|p| notify::alert_due(used.saturating_sub(1), budget, 0) != Some(*p))
        else {
            return Ok(());
        };
        let level = notify::budget_status(used, budget, now).level;
        if self.store.raise_budget_alert(&integration.id, percent, used, budget, level, now).await? {
            tracing::warn!(
                integration.id = %integration.id, percent, used, budget, level = level.as_str(),
                "Lark API budget threshold crossed; the TAM is told"
            );
        }
        Ok(())
    }
}
