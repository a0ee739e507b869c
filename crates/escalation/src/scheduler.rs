//! The escalation worker: claims due timers and fires them.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use desk_core::Severity;
use desk_core::escalation::paging::PageReason;
use desk_core::targets::TargetKind;
use desk_store::{Clock, FireSettings, Fired, Store, StoreError};

/// How the worker works.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// `DESK_PAGE_INTERVAL`: how often an unacknowledged emergency is paged again.
    pub page_interval: Duration,
    /// How long a claimed timer is reserved for this worker before another may fire it.
    pub lease: Duration,
    /// Most timers claimed per query.
    pub batch: u64,
}

impl WorkerSettings {
    /// Defaults around a page interval.
    pub fn new(page_interval: Duration) -> Self {
        Self { page_interval, lease: Duration::from_secs(60), batch: 100 }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimerReport {
    /// Timers claimed.
    pub claimed: usize,
    /// Warnings sent, by target and the ticket's severity.
    pub warnings: Vec<(TargetKind, Severity)>,
    /// Breaches recorded, by target and the ticket's severity.
    pub breaches: Vec<(TargetKind, Severity)>,
    /// Pages sent, by why and the chain step.
    pub pages: Vec<(PageReason, u32)>,
    /// Firings that failed (they are retried after a rest).
    pub failed: usize,
}

impl TimerReport {
    /// Whether the pass found nothing due.
    pub fn is_idle(&self) -> bool {
        self.claimed == 0
    }
}

/// Fires response-target and paging timers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TimerWorker {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: WorkerSettings,
}

/// How long a timer whose firing failed rests before it is tried again.
const RETRY_AFTER: TimeDelta = TimeDelta::seconds(30);

impl TimerWorker {
    /// A worker over `store`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: WorkerSettings) -> Self {
        Self { store, clock, settings }
    }

    /// The page interval it pages at.
    pub fn page_interval(&self) -> Duration {
        self.settings.page_interval
    }

    /// One pass: claim what is due at the clock's now, fire each. A firing that fails is
    /// logged here, once, and rests; the others go on.
    pub async fn run_once(&self) -> Result<TimerReport, StoreError> {
        let now = self.clock.now();
        let claimed = self.store.claim_escalation_timers(now, self.settings.lease, self.settings.batch).await?;
        let mut report = TimerReport { claimed: claimed.len(), ..TimerReport::default() };
        let fire = FireSettings {
            page_interval: TimeDelta::from_std(self.settings.page_interval).unwrap_or(TimeDelta::minutes(5)),
        };
        for timer in claimed {
            match self.store.fire_escalation_timer(timer.id, now, fire).await {
                Ok(Fired::Nothing) => {}
                Ok(Fired::Warned { target, severity }) => report.warnings.push((target, severity)),
                Ok(Fired::Breached { target, severity }) => report.breaches.push((target, severity)),
                Ok(Fired::Paged { reason, step, .. }) => report.pages.push((reason, step)),
                Err(e) => {
                    report.failed += 1;
                    tracing::error!(
                        error = %e, timer.id = %timer.id, ticket.id = %timer.ticket_id, timer.kind = timer.kind.as_str(),
                        "escalation timer failed to fire; it will be tried again"
                    );
                    if let Err(e) =
                        self.store.release_escalation_timer(timer.id, &e.to_string(), now + RETRY_AFTER).await
                    {
                        tracing::warn!(error = %e, timer.id = %timer.id, "could not note the failure; the lease will run out");
                    }
                }
            }
        }
        Ok(report)
    }

    /// Passes until one finds nothing due (tests; and a worker catching up after a pause).
    pub async fn run_until_idle(&self) -> Result<TimerReport, StoreError> {
        let mut total = TimerReport::default();
        loop {
            let r = self.run_once().await?;
            if r.is_idle() {
                return Ok(total);
            }
            total.claimed += r.claimed;
            total.warnings.extend(r.warnings);
            total.breaches.extend(r.breaches);
            total.pages.extend(r.pages);
            total.failed += r.failed;
            if r.failed > 0 {
                // Failed timers rest; do not spin on them.
                return Ok(total);
            }
        }
    }
}
