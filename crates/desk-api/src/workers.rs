//! Background workers of `desk serve`: the notification dispatcher, looping until
//! shutdown. A failed pass is logged and retried after a rest; the queue keeps the work.

use std::time::Duration;

use lark_notify::dispatch::Dispatcher;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Rest between passes that found nothing to do.
const IDLE: Duration = Duration::from_millis(500);
/// Rest after a failed pass (the database may be restarting).
const AFTER_ERROR: Duration = Duration::from_secs(2);

/// Starts the dispatcher loop; it ends when `shutdown` is cancelled.
pub fn spawn_dispatcher(dispatcher: Dispatcher, metrics: Metrics, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let rest = match dispatcher.run_once().await {
                Ok(report) => {
                    metrics.record_dispatch(&report);
                    if report.is_idle() { IDLE } else { Duration::ZERO }
                }
                Err(e) => {
                    tracing::error!(error = %e, "notification dispatch pass failed");
                    AFTER_ERROR
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(rest) => {}
            }
        }
        if let Err(e) = dispatcher.lanes().flush_ledger().await {
            tracing::warn!(error = %e, "could not write the last Lark calls to the ledger");
        }
    })
}
