//! Ticketing systems in and webhooks out.
//!
//! - [`signature`]: Standard Webhooks and GitHub-style HMAC-SHA256 signatures.
//! - [`payload`]: the documented JSON (the native delivery, the subscriber's message).
//! - [`intake`]: `POST /api/v1/hooks/ticketing/{source}` checked and applied.
//! - [`sender`]: the background sender of webhooks out ([`spawn`] loops it).

pub mod intake;
pub mod payload;
pub mod sender;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use desk_store::{Clock, SecretBox, Store};
use prometheus::{IntCounterVec, Opts};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use intake::{Applied, HookIntake};
pub use sender::{SendReport, SenderSettings, WebhookSender};

use crate::metrics::Metrics;

/// How long applied delivery ids, and delivered or given-up webhook deliveries, are kept.
/// Sources stop retrying long before (Standard Webhooks senders after about a day), and a
/// replay is refused by its timestamp anyway.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// A subscription's previous secret keeps signing this long after a rotation.
pub const ROTATION_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The intake and the sender, built once.
#[derive(Debug, Clone)]
pub struct Hooks {
    /// Receives ticketing deliveries.
    pub intake: HookIntake,
    /// Sends webhooks out.
    pub sender: WebhookSender,
}

impl Hooks {
    /// Builds both, registering their counters with `metrics`.
    pub fn new(
        store: &Store,
        clock: &Arc<dyn Clock>,
        secret_box: Option<&SecretBox>,
        settings: SenderSettings,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let inbound = IntCounterVec::new(
            Opts::new(
                "desk_ticketing_hooks_total",
                "Ticketing deliveries by source and outcome: created, updated, commented, unchanged, stale, duplicate, refused",
            ),
            &["source", "outcome"],
        )?;
        let outbound = IntCounterVec::new(
            Opts::new(
                "desk_webhook_attempts_total",
                "Webhook delivery attempts by outcome: delivered, retrying, failed",
            ),
            &["outcome"],
        )?;
        metrics.registry().register(Box::new(inbound.clone()))?;
        metrics.registry().register(Box::new(outbound.clone()))?;
        Ok(Self {
            intake: HookIntake::new(store.clone(), clock.clone(), secret_box.cloned(), inbound),
            sender: WebhookSender::new(store.clone(), clock.clone(), secret_box.cloned(), settings, outbound)?,
        })
    }
}

/// Rest between passes that found nothing to do.
const IDLE: Duration = Duration::from_millis(500);
/// Rest after a failed pass (the database may be restarting).
const AFTER_ERROR: Duration = Duration::from_secs(2);
/// How often old receipts and deliveries are forgotten.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Starts the sender's loop (and the hourly purge of old receipts and deliveries); it
/// ends when `shutdown` is cancelled, letting deliveries under way finish.
pub fn spawn(hooks: Hooks, store: Store, clock: Arc<dyn Clock>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut purged: Option<tokio::time::Instant> = None;
        loop {
            if purged.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                let before = clock.now() - chrono::Duration::from_std(RETENTION).unwrap_or(chrono::Duration::MAX);
                match (store.purge_hook_receipts(before).await, hooks.sender.purge(before).await) {
                    (Ok(r), Ok(d)) if r + d > 0 => {
                        tracing::info!(receipts = r, deliveries = d, "old webhook records forgotten")
                    }
                    (Ok(_), Ok(_)) => {}
                    (Err(e), _) | (_, Err(e)) => tracing::error!(error = %e, "could not purge old webhook records"),
                }
                purged = Some(tokio::time::Instant::now());
            }
            let rest = match hooks.sender.run_once().await {
                Ok(r) if r.is_idle() => IDLE,
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::error!(error = %e, "webhook pass failed");
                    AFTER_ERROR
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(rest) => {}
            }
        }
        hooks.sender.wait_in_flight().await;
    })
}
