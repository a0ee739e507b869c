//! Lark's long connection (WebSocket mode, lark-spec.md §7): the client side, behaving as
//! the official SDKs do, for desks that cannot expose a public webhook.
//!
//! Which type to use when:
//! - [`LongConnection::spawn`] starts a background task that discovers the endpoint, dials
//!   it, keeps it alive with pings, hands every event to your [`EventHandler`], sends the
//!   ack Lark expects, and reconnects on the server's schedule. The handle is cheap to clone
//!   and controls the task ([`reconnect`](LongConnection::reconnect),
//!   [`disconnect`](LongConnection::disconnect), [`shutdown`](LongConnection::shutdown)) and
//!   reports on it ([`status`](LongConnection::status)).
//! - [`EventHandler`] gets each complete event: the same plaintext v2 JSON a webhook would
//!   get (parse it with [`crate::events`]), and answers with an [`Ack`]. Lark re-delivers
//!   anything not acked with 200 within 3 s, so handlers must be idempotent and quick.
//! - [`Frame`] and [`AckBody`] are the wire format, public for tests and fakes.
//!
//! What is deliberately the same as the SDKs: endpoint discovery before every attempt
//! (its URL carries a single-use ticket), client errors (bad credentials, 403, too many
//! connections) stop the task instead of hammering Lark, one ack per message built from the
//! fragment that completed it, `type=card` frames ignored. What is deliberately different:
//! `biz_rt` is never negative (Node's is), and card answers are base64 strings (the Rust
//! community SDK's are byte arrays, which Lark does not read).
//!
//! Secrets: the app secret goes only into the discovery body, and the endpoint URL's query
//! (`ticket`, `access_key`) only to the dialler. Logs carry the host and path, the app id
//! and the `device_id`.

mod endpoint;
mod error;
mod fragments;
pub mod frame;
mod session;
mod supervisor;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

pub use frame::{AckBody, Frame, Header};

use supervisor::{Shared, Supervisor, Wish};

/// How to reach Lark's long-connection endpoint for one app.
#[derive(Clone)]
pub struct LongConnConfig {
    /// `https://open.larksuite.com`, `https://open.feishu.cn`, or a fake's URL. Discovery
    /// posts to `{base_url}/callback/ws/endpoint`.
    pub base_url: String,
    /// `cli_…`.
    pub app_id: String,
    /// The app secret: discovery authenticates with it (no tenant token on this path).
    pub app_secret: SecretString,
    /// Bounds the discovery request, the WebSocket handshake and the close handshake, so a
    /// silent server cannot stall the reconnect loop.
    pub request_timeout: Duration,
}

impl LongConnConfig {
    /// A config with a 10-second request timeout, as the Open API client uses.
    pub fn new(base_url: impl Into<String>, app_id: impl Into<String>, app_secret: SecretString) -> Self {
        Self { base_url: base_url.into(), app_id: app_id.into(), app_secret, request_timeout: Duration::from_secs(10) }
    }
}

impl fmt::Debug for LongConnConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongConnConfig")
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// What the handler tells the server about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// Handled: ack `{"code":200}`.
    Done,
    /// Handled, with a response JSON for Lark to act on (a card callback's toast or new
    /// card): ack `{"code":200,"data":"<base64 of it>"}`.
    Answer(Vec<u8>),
    /// Not handled: ack `{"code":500}`, and Lark re-delivers on its retry schedule.
    Failed,
}

/// Receives every complete event (or callback) from the long connection.
///
/// Handlers run concurrently (up to 16 at once) in their own tasks; a slow one holds up
/// neither the keep-alive nor other events. A panic counts as [`Ack::Failed`].
pub trait EventHandler: Send + Sync + 'static {
    /// Handles one payload: the plaintext v2 event JSON, exactly as a webhook body.
    fn handle(&self, payload: Vec<u8>) -> Pin<Box<dyn Future<Output = Ack> + Send + '_>>;
}

/// Any `Fn(Vec<u8>) -> impl Future<Output = Ack>` is a handler, so a closure will do.
impl<F, Fut> EventHandler for F
where
    F: Fn(Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Ack> + Send + 'static,
{
    fn handle(&self, payload: Vec<u8>) -> Pin<Box<dyn Future<Output = Ack> + Send + '_>> {
        Box::pin(self(payload))
    }
}

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Discovering, dialling, or waiting to retry.
    Connecting,
    /// Open: events flow.
    Connected,
    /// Closed on request ([`LongConnection::disconnect`] or `shutdown`); stays so until
    /// [`LongConnection::reconnect`].
    Disconnected,
    /// Stopped by a client error (bad credentials, forbidden, too many connections) or after
    /// `ReconnectCount` failed attempts; `last_error` says which. Retrying on its own could
    /// not help; [`LongConnection::reconnect`] tries again.
    Stopped,
}

/// A snapshot of the connection, for health checks and the admin UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnStatus {
    /// Where the connection stands.
    pub state: ConnState,
    /// The open connection's `device_id`, as Lark names it in its logs.
    pub connection_id: Option<String>,
    /// When the open connection was made.
    pub connected_since: Option<SystemTime>,
    /// Successful connections after the first.
    pub reconnects: u64,
    /// The most recent failure, with its causes. Kept after a later success: it says why
    /// the last reconnect happened.
    pub last_error: Option<String>,
    /// Complete events handed to the handler.
    pub events: u64,
    /// When the last one was.
    pub last_event_at: Option<SystemTime>,
}

/// A handle to the background task that keeps one app's long connection. Clones share the
/// task. When the last handle is dropped the task closes the connection and exits; call
/// [`shutdown`](Self::shutdown) to also wait for that.
#[derive(Clone)]
pub struct LongConnection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    app_id: String,
    shared: Arc<Shared>,
    wishes: watch::Sender<Wish>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for LongConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongConnection")
            .field("app_id", &self.inner.app_id)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl LongConnection {
    /// Spawns the connection task; it starts connecting at once.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as `tokio::spawn` does.
    pub fn spawn(config: LongConnConfig, handler: Arc<dyn EventHandler>) -> Self {
        let shared = Arc::new(Shared::new());
        let (wishes, wish_rx) = watch::channel(Wish::Run);
        let app_id = config.app_id.clone();
        let span = tracing::info_span!("lark.longconn", lark.app_id = %app_id);
        let supervisor = Supervisor::new(config, handler, Arc::clone(&shared));
        let task = tokio::spawn(supervisor.run(wish_rx).instrument(span));
        Self { inner: Arc::new(Inner { app_id, shared, wishes, task: tokio::sync::Mutex::new(Some(task)) }) }
    }

    /// A snapshot of the status; takes a short lock, never waits on the network.
    pub fn status(&self) -> ConnStatus {
        self.inner.shared.snapshot()
    }

    /// Drops the current connection, if any, and connects again now (fresh discovery, no
    /// jitter). Also resumes after [`disconnect`](Self::disconnect) or a fatal stop. Calls in
    /// quick succession make one reconnect. No effect after [`shutdown`](Self::shutdown).
    pub fn reconnect(&self) {
        self.wish(Wish::Run);
    }

    /// Closes the connection and stays down until [`reconnect`](Self::reconnect). Events
    /// being handled finish, but their acks are lost with the connection, so Lark
    /// re-delivers them.
    pub fn disconnect(&self) {
        self.wish(Wish::Pause);
    }

    /// Stops for good: stops reading, lets running handlers finish and ack (for up to 5 s),
    /// closes the connection and waits for the task to exit. Every clone is stopped.
    pub async fn shutdown(&self) {
        self.inner.wishes.send_replace(Wish::Stop);
        // Concurrent callers queue on the lock; the first one awaits the task, the others
        // then find it gone, which also means it has exited.
        let mut task = self.inner.task.lock().await;
        if let Some(handle) = task.take()
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, lark.app_id = %self.inner.app_id, "long connection task failed");
        }
    }

    /// Sends a wish unless the task is stopping. Always notifies, even if the wish is the
    /// same as before: a repeated `Run` is how `reconnect()` interrupts a live connection.
    fn wish(&self, wish: Wish) {
        self.inner.wishes.send_if_modified(|current| {
            if *current == Wish::Stop {
                return false;
            }
            *current = wish;
            true
        });
    }
}
