//! The shared application state, built once before the HTTP server starts (the
//! `HttpServer::new` closure runs once per worker thread).

use std::sync::Arc;

use desk_store::{Clock, SecretBox, Store};
use lark_notify::dispatch::{Dispatcher, Lanes};

use crate::config::Settings;
use crate::lark::{Connections, Inbound};
use crate::metrics::Metrics;

/// Everything handlers need, behind one `web::Data`.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Loaded settings.
    pub settings: Arc<Settings>,
    /// Seals and opens integration secrets (`DESK_SECRET_KEY`); `None` when unset.
    pub secret_box: Option<SecretBox>,
    /// Prometheus registry and instruments.
    pub metrics: Metrics,
    /// One Lark client per integration, shared by everything that calls Lark.
    pub lanes: Lanes,
    /// Delivers notifications (the background worker runs it; tests drive it).
    pub dispatcher: Dispatcher,
    /// Makes main and ticket groups in Lark and tends them (the background worker runs
    /// it; tests drive it).
    pub groups: group_manager::GroupManager,
    /// Fires response-target warnings and breaches and emergency pages (the background
    /// worker runs it; tests drive it through `workers::run_escalation_once`).
    pub escalation: escalation::TimerWorker,
    /// Ticketing deliveries in and webhooks out (the background worker runs the sender;
    /// tests drive it).
    pub hooks: crate::hooks::Hooks,
    /// Where Lark events enter (webhook and long connection) and are worked.
    pub inbound: Inbound,
    /// The long connections of integrations in that mode.
    pub connections: Connections,
}
