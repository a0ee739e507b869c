//! Building and running the application. `main`, the tests and the benchmark all go
//! through [`Application::build`].

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use desk_core::{IntegrationInput, NewIntegration};
use desk_store::{Clock, ConnectSettings, SecretBox, Store, SystemClock};
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;

use lark_notify::dispatch::{Dispatcher, DispatcherSettings, Lanes};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::lark::{Connections, Inbound, InboundSettings};
use crate::metrics::{self, Metrics};
use crate::routes;
use crate::state::AppState;
use crate::workers;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    workers: bool,
}

/// Connects to the database named by the settings.
pub async fn connect(settings: &Settings) -> anyhow::Result<Store> {
    let mut connect = ConnectSettings::new(settings.database_url.clone());
    connect.max_connections = settings.database_max_connections;
    connect.pg_schema = settings.database_schema.clone();
    Store::connect(&connect)
        .await
        .with_context(|| format!("connecting to {}", crate::config::redact_url(&settings.database_url)))
}

/// The `DESK_LARK_*` settings create or update the integration `default` at every start,
/// for single-tenant deployments.
async fn upsert_default_integration(
    store: &Store,
    settings: &Settings,
    seal: Option<&SecretBox>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let (Some(app_id), Some(secret)) = (&settings.lark_app_id, &settings.lark_app_secret) else { return Ok(()) };
    if seal.is_none() {
        anyhow::bail!("DESK_SECRET_KEY must be set when DESK_LARK_APP_SECRET is: secrets are stored sealed with it");
    }
    let token = settings.lark_verification_token.as_ref().map(|t| t.expose_secret().to_owned());
    let key = settings.lark_encrypt_key.as_ref().map(|k| k.expose_secret().to_owned());
    let new = NewIntegration::parse(IntegrationInput {
        id: Some("default"),
        name: Some("default"),
        base_url: Some(&settings.lark_base_url),
        app_id: Some(app_id),
        app_secret: Some(secret.expose_secret()),
        verification_token: token.as_deref(),
        encrypt_key: key.as_deref(),
        mode: Some(settings.lark_mode.as_str()),
        monthly_budget: Some(settings.lark_monthly_budget),
        ..IntegrationInput::default()
    })
    .map_err(|e| anyhow::anyhow!("DESK_LARK_* settings: {e}"))?;
    store.upsert_integration(new, seal, now).await.context("creating the default integration")?;
    Ok(())
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Application {
    /// Connects, migrates (unless `migrate_on_start` is off) and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], with a chosen clock (tests).
    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = connect(&settings).await?;
        if settings.migrate_on_start {
            store.migrate().await.context("applying migrations")?;
        }
        let secret_box = settings
            .secret_key
            .as_ref()
            .map(SecretBox::from_base64)
            .transpose()
            .context("DESK_SECRET_KEY must be 32 bytes, base64-encoded")?;
        upsert_default_integration(&store, &settings, secret_box.as_ref(), clock.now()).await?;
        let listener =
            TcpListener::bind(&settings.listen).with_context(|| format!("binding DESK_LISTEN={}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let lanes = Lanes::new(store.clone(), secret_box.clone(), clock.clone(), settings.lark_request_timeout);
        let dispatcher = Dispatcher::new(
            store.clone(),
            clock.clone(),
            lanes.clone(),
            DispatcherSettings::new(settings.notify_window, settings.public_url.trim_end_matches('/')),
        );
        let groups = group_manager::GroupManager::new(
            store.clone(),
            clock.clone(),
            lanes.clone(),
            group_manager::GroupSettings::new(settings.public_url.trim_end_matches('/')),
        );
        let escalation = escalation::TimerWorker::new(
            store.clone(),
            clock.clone(),
            escalation::WorkerSettings::new(settings.page_interval),
        );
        let metrics = Metrics::new().context("registering metrics")?;
        let inbound = Inbound::new(
            store.clone(),
            clock.clone(),
            lanes.clone(),
            metrics.clone(),
            InboundSettings {
                retention: settings.lark_event_retention,
                public_url: settings.public_url.trim_end_matches('/').to_owned(),
            },
        );
        let connections =
            Connections::new(store.clone(), secret_box.clone(), inbound.clone(), settings.lark_request_timeout);
        let hooks = crate::hooks::Hooks::new(
            &store,
            &clock,
            secret_box.as_ref(),
            crate::hooks::SenderSettings::new(settings.webhook_timeout, settings.webhook_concurrency),
            &metrics,
        )
        .context("building the webhook sender")?;
        let state = AppState {
            store,
            clock,
            secret_box,
            settings: Arc::new(settings),
            metrics,
            lanes,
            dispatcher,
            groups,
            escalation,
            hooks,
            inbound,
            connections,
        };
        let data = web::Data::new(state.clone());
        // The body extractor reads through actix's payload limit; keep both at the setting.
        let payload = web::PayloadConfig::new(state.settings.max_body_bytes);
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(metrics::track))
                .wrap(TracingLogger::<crate::telemetry::RedactingRootSpan>::new())
                .app_data(data.clone())
                .app_data(payload.clone())
                .configure(routes::configure)
        })
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        Ok(Self { port, server, state, workers: true })
    }

    /// The bound port (useful with `DESK_LISTEN=127.0.0.1:0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests reach the store through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Leaves the background workers off: whoever holds the state drives the
    /// dispatcher (tests do, with a manual clock).
    pub fn without_workers(mut self) -> Self {
        self.workers = false;
        self
    }

    /// Serves, and runs the background workers, until the process is told to stop
    /// (SIGINT/SIGTERM); then lets the workers finish their pass.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let shutdown = CancellationToken::new();
        let workers = self.workers.then(|| {
            [
                workers::spawn_dispatcher(self.state.dispatcher.clone(), self.state.metrics.clone(), shutdown.clone()),
                workers::spawn_groups(self.state.groups.clone(), shutdown.clone()),
                workers::spawn_escalation(self.state.clone(), shutdown.clone()),
                workers::spawn_inbox(self.state.inbound.clone(), self.state.connections.clone(), shutdown.clone()),
                crate::hooks::spawn(
                    self.state.hooks.clone(),
                    self.state.store.clone(),
                    self.state.clock.clone(),
                    shutdown.clone(),
                ),
            ]
        });
        let served = self.server.await;
        shutdown.cancel();
        for worker in workers.into_iter().flatten() {
            if let Err(e) = worker.await {
                tracing::error!(error = %e, "a background worker stopped abnormally");
            }
        }
        served
    }
}
