//! Building and running the application. `main`, the tests and the benchmark all go
//! through [`Application::build`].

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use desk_store::{Clock, ConnectSettings, Store, SystemClock};
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::metrics::{self, Metrics};
use crate::routes;
use crate::state::AppState;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
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
        let listener =
            TcpListener::bind(&settings.listen).with_context(|| format!("binding DESK_LISTEN={}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let state = AppState {
            store,
            clock,
            settings: Arc::new(settings),
            metrics: Metrics::new().context("registering metrics")?,
        };
        let data = web::Data::new(state.clone());
        // The body extractor reads through actix's payload limit; keep both at the setting.
        let payload = web::PayloadConfig::new(state.settings.max_body_bytes);
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(metrics::track))
                .wrap(TracingLogger::default())
                .app_data(data.clone())
                .app_data(payload.clone())
                .configure(routes::configure)
        })
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        Ok(Self { port, server, state })
    }

    /// The bound port (useful with `DESK_LISTEN=127.0.0.1:0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests reach the store through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
