//! The background task behind a [`LongConnection`](super::LongConnection): connect, keep the
//! connection, reconnect as the SDKs do (lark-spec.md §7.7), and obey the handle's wishes.
//!
//! The handle talks to the task through a `watch` channel holding the latest [`Wish`]:
//! a watch coalesces (ten `reconnect()` calls in a row are one reconnect) and every wait in
//! here — backoff sleeps, discovery, dialling, the open session — also waits on it, so a
//! wish takes effect at once wherever the task is.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use rand::Rng as _;
use tokio::sync::{Semaphore, watch};
use tracing::Instrument as _;

use super::endpoint::{self, Settings};
use super::error::ConnError;
use super::session::{self, Context, MAX_IN_FLIGHT, SessionEnd};
use super::{ConnState, ConnStatus, EventHandler, LongConnConfig};

/// What the handle wants the task to do. The latest wish wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wish {
    /// Be connected; a fresh `Run` means "reconnect now".
    Run,
    /// Stay disconnected until the next `Run`.
    Pause,
    /// Exit for good.
    Stop,
}

/// The status, shared by the task, the handler tasks and the handles.
#[derive(Debug)]
pub(crate) struct Shared {
    status: Mutex<ConnStatus>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            status: Mutex::new(ConnStatus {
                state: ConnState::Connecting,
                connection_id: None,
                connected_since: None,
                reconnects: 0,
                last_error: None,
                events: 0,
                last_event_at: None,
            }),
        }
    }

    /// A copy of the status.
    pub(crate) fn snapshot(&self) -> ConnStatus {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Changes the status under the lock. The status is plain data, so a panic elsewhere
    /// while it was held cannot have left it half-written in a way that matters: poisoning
    /// is ignored.
    pub(crate) fn update(&self, f: impl FnOnce(&mut ConnStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn set_down(&self, state: ConnState) {
        self.update(|s| {
            s.state = state;
            s.connection_id = None;
            s.connected_since = None;
        });
    }

    fn record_error(&self, error: &ConnError) {
        let text = error.chain();
        self.update(|s| s.last_error = Some(text));
    }
}

/// How one connect attempt went.
#[derive(Debug)]
enum Attempt {
    /// A new wish interrupted it.
    Interrupted,
    /// No connection was made.
    Failed(ConnError),
    /// A connection was made and later lost.
    Ended(ConnError),
}

/// How a connection cycle (connect, keep, reconnect…) ended.
#[derive(Debug)]
enum CycleEnd {
    /// A new wish arrived.
    Interrupted,
    /// A client error, or `ReconnectCount` used up: stop until `reconnect()`.
    Fatal(ConnError),
}

/// The task's state.
pub(crate) struct Supervisor {
    config: LongConnConfig,
    ctx: Context,
    settings: Settings,
    http: Option<reqwest::Client>,
    connected_before: bool,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("config", &self.config)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    pub(crate) fn new(config: LongConnConfig, handler: Arc<dyn EventHandler>, shared: Arc<Shared>) -> Self {
        let close_timeout = config.request_timeout;
        Self {
            config,
            ctx: Context { handler, permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)), shared, close_timeout },
            settings: Settings::default(),
            http: None,
            connected_before: false,
        }
    }

    fn shared(&self) -> &Shared {
        &self.ctx.shared
    }

    /// The task: runs until `Wish::Stop` or until every handle is gone.
    pub(crate) async fn run(mut self, mut wishes: watch::Receiver<Wish>) {
        loop {
            if wishes.has_changed().is_err() {
                break;
            }
            let wish = *wishes.borrow_and_update();
            match wish {
                Wish::Stop => break,
                Wish::Pause => {
                    self.shared().set_down(ConnState::Disconnected);
                    tracing::info!("long connection paused until reconnect()");
                    if wishes.changed().await.is_err() {
                        break;
                    }
                    continue;
                }
                Wish::Run => {}
            }
            match self.cycle(&mut wishes).await {
                // Re-read the wish: `reconnect()` comes back here and connects at once.
                CycleEnd::Interrupted => {}
                CycleEnd::Fatal(error) => {
                    tracing::error!(error = %error.chain(), "long connection stopped; call reconnect() to try again");
                    self.shared().record_error(&error);
                    self.shared().set_down(ConnState::Stopped);
                    if wishes.changed().await.is_err() {
                        break;
                    }
                }
            }
        }
        self.shared().set_down(ConnState::Disconnected);
        tracing::info!("long connection shut down");
    }

    /// Connects at once, stays connected, and reconnects on every loss, until a wish
    /// interrupts or a fatal error stops it. The first attempt (at start or on
    /// `reconnect()`) is not one of the `ReconnectCount` attempts, as in the SDKs.
    async fn cycle(&mut self, wishes: &mut watch::Receiver<Wish>) -> CycleEnd {
        match self.attempt(wishes).await {
            Attempt::Interrupted => return CycleEnd::Interrupted,
            Attempt::Failed(e) if e.is_fatal() => return CycleEnd::Fatal(e),
            Attempt::Failed(e) | Attempt::Ended(e) => self.note_retryable(&e),
        }
        loop {
            // A fleet dropped at once must not come back at once: a random wait before the
            // first attempt only, as the SDKs do.
            let jitter = jitter(self.settings.reconnect_nonce);
            if or_wish(wishes, tokio::time::sleep(jitter)).await.is_none() {
                return CycleEnd::Interrupted;
            }
            let mut attempts = 0_u64;
            let mut last = None;
            loop {
                if self.settings.reconnect_count.is_some_and(|max| attempts >= max) {
                    return CycleEnd::Fatal(ConnError::GaveUp { attempts, last: last.map(Box::new) });
                }
                attempts += 1;
                match self.attempt(wishes).await {
                    Attempt::Interrupted => return CycleEnd::Interrupted,
                    Attempt::Failed(e) if e.is_fatal() => return CycleEnd::Fatal(e),
                    Attempt::Failed(e) => {
                        self.note_retryable(&e);
                        last = Some(e);
                    }
                    // It connected: a later loss starts a fresh schedule, jitter included.
                    Attempt::Ended(e) => {
                        self.note_retryable(&e);
                        break;
                    }
                }
                if self.settings.reconnect_count.is_some_and(|max| attempts >= max) {
                    return CycleEnd::Fatal(ConnError::GaveUp { attempts, last: last.map(Box::new) });
                }
                if or_wish(wishes, tokio::time::sleep(self.settings.reconnect_interval)).await.is_none() {
                    return CycleEnd::Interrupted;
                }
            }
        }
    }

    fn note_retryable(&self, error: &ConnError) {
        tracing::warn!(
            error = %error.chain(),
            retry_in_ms = u64::try_from(self.settings.reconnect_interval.as_millis()).unwrap_or(u64::MAX),
            "long connection failed, will reconnect"
        );
        self.shared().record_error(error);
        self.shared().set_down(ConnState::Connecting);
    }

    /// Discovery (fresh every time: the URL's ticket is single-use), dial, then the session.
    async fn attempt(&mut self, wishes: &mut watch::Receiver<Wish>) -> Attempt {
        self.shared().set_down(ConnState::Connecting);
        let http = match self.http() {
            Ok(http) => http,
            Err(e) => return Attempt::Failed(e),
        };
        let endpoint = match or_wish(wishes, endpoint::discover(&http, &self.config)).await {
            None => return Attempt::Interrupted,
            Some(Err(e)) => return Attempt::Failed(e),
            Some(Ok(endpoint)) => endpoint,
        };
        self.settings.apply(&endpoint.config);
        let span = tracing::info_span!(
            "lark.ws.connection",
            lark.connection_id = endpoint.device_id.as_deref().unwrap_or_default(),
            ws.endpoint = %endpoint.redacted(),
        );
        self.connect(&endpoint, wishes).instrument(span).await
    }

    /// Dials the discovered endpoint and runs the session on it.
    async fn connect(&mut self, endpoint: &endpoint::Endpoint, wishes: &mut watch::Receiver<Wish>) -> Attempt {
        let ws = match or_wish(wishes, session::dial(endpoint, self.config.request_timeout)).await {
            None => return Attempt::Interrupted,
            Some(Err(e)) => return Attempt::Failed(e),
            Some(Ok(ws)) => ws,
        };

        let reconnect = self.connected_before;
        self.connected_before = true;
        self.shared().update(|s| {
            s.state = ConnState::Connected;
            s.connection_id.clone_from(&endpoint.device_id);
            s.connected_since = Some(SystemTime::now());
            s.reconnects += u64::from(reconnect);
        });
        tracing::info!(reconnect, "long connection open");

        match session::run(ws, endpoint.service_id, &mut self.settings, wishes, &self.ctx).await {
            SessionEnd::Requested => {
                tracing::info!("long connection closed on request");
                Attempt::Interrupted
            }
            SessionEnd::Lost(e) => Attempt::Ended(e),
        }
    }

    /// The discovery client, built on first use. A failure (TLS setup) is fatal but not
    /// permanent: `reconnect()` tries again.
    fn http(&mut self) -> Result<reqwest::Client, ConnError> {
        if let Some(http) = &self.http {
            return Ok(http.clone());
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("larkdesk-lark-notify/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.config.request_timeout)
            .build()
            .map_err(ConnError::Setup)?;
        self.http = Some(http.clone());
        Ok(http)
    }
}

/// Runs `fut` unless the wish changes (or every handle is dropped) first: then `None`.
async fn or_wish<F: Future>(wishes: &mut watch::Receiver<Wish>, fut: F) -> Option<F::Output> {
    tokio::select! {
        _ = wishes.changed() => None,
        out = fut => Some(out),
    }
}

/// A random wait in `0..=max`, to the millisecond.
fn jitter(max: Duration) -> Duration {
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..=max_ms))
}
