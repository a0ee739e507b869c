//! Background workers of `desk serve`: the notification dispatcher, the group manager and
//! the Lark inbox (with the long connections), looping until shutdown. A failed pass is logged and
//! retried after a rest; the queues keep the work.

use std::future::Future;
use std::time::Duration;

use lark_notify::dispatch::{Dispatcher, Lanes};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::lark::{Connections, Inbound};
use crate::metrics::Metrics;
use crate::state::AppState;

/// Rest between passes that found nothing to do.
const IDLE: Duration = Duration::from_millis(500);
/// Rest after a failed pass (the database may be restarting).
const AFTER_ERROR: Duration = Duration::from_secs(2);

/// Loops `pass` until `shutdown` is cancelled: straight on after a pass that did
/// something, a rest after an idle one (`Ok(true)`), a longer rest after a failed one
/// (logged once here, with `what` naming the pass).
async fn run_until_shutdown<F, Fut, E>(what: &'static str, shutdown: &CancellationToken, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, E>>,
    E: std::fmt::Display,
{
    loop {
        let rest = match pass().await {
            Ok(true) => IDLE,
            Ok(false) => Duration::ZERO,
            Err(e) => {
                tracing::error!(error = %e, "{what} pass failed");
                AFTER_ERROR
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(rest) => {}
        }
    }
}

/// Writes the Lark calls still buffered to the ledger, as a worker stops.
async fn flush_last_calls(lanes: &Lanes) {
    if let Err(e) = lanes.flush_ledger().await {
        tracing::warn!(error = %e, "could not write the last Lark calls to the ledger");
    }
}

/// Starts the dispatcher loop; it ends when `shutdown` is cancelled.
pub fn spawn_dispatcher(dispatcher: Dispatcher, metrics: Metrics, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        run_until_shutdown("notification dispatch", &shutdown, || async {
            let report = dispatcher.run_once().await?;
            metrics.record_dispatch(&report);
            Ok::<_, lark_notify::dispatch::DispatchError>(report.is_idle())
        })
        .await;
        flush_last_calls(dispatcher.lanes()).await;
    })
}

/// Starts the group manager's loop (groups to make in Lark, work on live groups); it ends
/// when `shutdown` is cancelled.
pub fn spawn_groups(groups: group_manager::GroupManager, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        run_until_shutdown("group manager", &shutdown, || async { groups.run_once().await.map(|r| r.is_idle()) }).await;
        flush_last_calls(groups.lanes()).await;
    })
}

/// One pass of the escalation worker (warnings, breaches, pages due at the clock's now),
/// counted in the metrics: what the background loop runs, and what tests drive.
pub async fn run_escalation_once(state: &AppState) -> Result<escalation::TimerReport, desk_store::StoreError> {
    let report = state.escalation.run_once().await?;
    state.metrics.record_escalation(&report);
    Ok(report)
}

/// Starts the escalation worker's loop; it ends when `shutdown` is cancelled.
pub fn spawn_escalation(state: AppState, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        run_until_shutdown("escalation timer", &shutdown, || async {
            run_escalation_once(&state).await.map(|r| r.is_idle())
        })
        .await;
    })
}

/// How often long connections are brought in step with the integrations table.
const RECONCILE_EVERY: Duration = Duration::from_secs(5);
/// How often handled events past the retention are forgotten.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Starts the inbox loop: handles accepted Lark events as they arrive (woken by each new
/// one), keeps the long connections in step, and purges old event ids. On shutdown the
/// connections are closed.
pub fn spawn_inbox(inbound: Inbound, connections: Connections, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reconciled: Option<tokio::time::Instant> = None;
        let mut purged: Option<tokio::time::Instant> = None;
        loop {
            let due = |last: Option<tokio::time::Instant>, every| last.is_none_or(|t| t.elapsed() >= every);
            if due(reconciled, RECONCILE_EVERY) {
                if let Err(e) = connections.reconcile().await {
                    tracing::error!(error = %e, "could not bring the Lark long connections in step");
                }
                reconciled = Some(tokio::time::Instant::now());
            }
            if due(purged, PURGE_EVERY) {
                match inbound.purge().await {
                    Ok(n) if n > 0 => tracing::info!(forgotten = n, "Lark event ids past the retention forgotten"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "could not purge old Lark events"),
                }
                purged = Some(tokio::time::Instant::now());
            }
            let rest = match inbound.run_once().await {
                Ok(_) => IDLE,
                Err(e) => {
                    tracing::error!(error = %e, "Lark inbox pass failed");
                    AFTER_ERROR
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = inbound.woken() => {}
                () = tokio::time::sleep(rest) => {}
            }
        }
        connections.shutdown().await;
    })
}
