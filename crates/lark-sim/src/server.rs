//! Starting the simulator: in the background for tests ([`spawn`]) or in the foreground for the binary ([`serve`]).

use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context as _, anyhow};
use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{LimitsUpdate, SimConfig, SimUser, SimUserInfo};
use crate::dispatch::{self, LOG_ID_HEADER};
use crate::events::{CardAnswer, Click, EventRecord, Pushed, Say, Subscription};
use crate::faults::FaultSpec;
use crate::push::{self, Pusher};
use crate::snapshot::Snapshot;
use crate::state::{Sim, State};
use crate::{ids, people, side, ws};

/// How often [`SimHandle::wait_delivered`] looks.
const DELIVERY_POLL: Duration = Duration::from_millis(10);

/// Large enough that the simulator, not actix, judges oversize messages (Lark's own limits are 150 KB / 30 KB).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A running simulator. Dropping the handle leaves the server running until the runtime ends;
/// call [`SimHandle::stop`] to stop it earlier.
pub struct SimHandle {
    /// `http://127.0.0.1:PORT`, to use in place of `https://open.larksuite.com`.
    pub base_url: String,
    /// The app id the simulator accepts.
    pub app_id: String,
    /// The app secret the simulator accepts.
    pub app_secret: String,
    /// The tenant key found in messages and chats.
    pub tenant_key: String,
    sim: web::Data<Sim>,
    server: ServerHandle,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// Binds `127.0.0.1:0` and serves in the background on the current tokio runtime.
pub async fn spawn(config: SimConfig) -> anyhow::Result<SimHandle> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    let port = listener.local_addr().context("reading the bound address")?.port();
    let (app_id, app_secret, tenant_key) =
        (config.app_id.clone(), config.app_secret.clone(), config.tenant_key.clone());
    let (server, sim) = build(config, listener, false)?;
    let handle = server.handle();
    tokio::spawn(server);
    Ok(SimHandle { base_url: format!("http://127.0.0.1:{port}"), app_id, app_secret, tenant_key, sim, server: handle })
}

/// Serves on `listener` until the process receives SIGINT/SIGTERM.
pub async fn serve(config: SimConfig, listener: TcpListener) -> anyhow::Result<()> {
    let (server, _sim) = build(config, listener, true)?;
    server.await.context("serving")
}

fn build(config: SimConfig, listener: TcpListener, signals: bool) -> anyhow::Result<(Server, web::Data<Sim>)> {
    // Built once, outside the per-worker factory: every worker must see the same chats, limits and quota.
    let push = Pusher::new(&config)?;
    let sim = Arc::new(Sim::new(State::new(config), push));
    start_long_connections(&sim, &listener)?;
    let sim = web::Data::from(sim);
    let data = sim.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(log_id_header))
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES))
            .configure(dispatch::configure)
            .configure(side::configure)
            .default_service(web::to(not_found))
    })
    .workers(1)
    .listen(listener)
    .context("listening")?;
    let server = if signals { server } else { server.disable_signals() };
    Ok((server.run(), sim))
}

/// The WebSocket server gets a listener of its own next to the HTTP one (same address, any port);
/// discovery hands out its URL.
fn start_long_connections(sim: &Arc<Sim>, http: &TcpListener) -> anyhow::Result<()> {
    let http_addr = http.local_addr().context("reading the bound address")?;
    let ws = TcpListener::bind((http_addr.ip(), 0)).context("binding the long-connection listener")?;
    ws.set_nonblocking(true).context("configuring the long-connection listener")?;
    let mut ws_addr = ws.local_addr().context("reading the long-connection address")?;
    let ws = tokio::net::TcpListener::from_std(ws).context("registering the long-connection listener")?;
    if ws_addr.ip().is_unspecified() {
        ws_addr.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    sim.lock().ws.url = format!("ws://{ws_addr}/ws/v2");
    sim.push.spawn(ws::serve(Arc::clone(sim), ws));
    Ok(())
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("404 page not found")
}

/// Lark answers every request with a log id, including ones no API handled.
async fn log_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let name = HeaderName::from_static("x-tt-logid");
    if !res.headers().contains_key(LOG_ID_HEADER)
        && let Ok(value) = HeaderValue::from_str(&ids::log_id())
    {
        res.headers_mut().insert(name, value);
    }
    Ok(res)
}

impl SimHandle {
    /// The directory with assigned ids.
    pub fn users(&self) -> Vec<SimUserInfo> {
        self.sim.lock().users.clone()
    }

    /// The directory user with this email.
    pub fn user_by_email(&self, email: &str) -> Option<SimUserInfo> {
        self.sim.lock().find_user("email", email).cloned()
    }

    /// Adds directory users and returns them with their ids.
    pub fn add_users(&self, users: Vec<SimUser>) -> Vec<SimUserInfo> {
        let mut st = self.sim.lock();
        users.into_iter().map(|u| st.add_user(u)).collect()
    }

    /// A login code for `open_id`, as if that person had just finished Lark's login inside the
    /// Lark client (lark-spec.md §9.3: no `redirect_uri`, so the exchange must not send one).
    /// Valid 5 minutes on the sim clock, single use. (For an open_id not in the directory the
    /// code still exchanges, but `user_info` then answers 99991668: nobody holds that token.)
    pub fn login_code(&self, open_id: &str) -> String {
        let mut st = self.sim.lock();
        let now = st.now_ms();
        st.logins.issue(open_id, None, "", None, now)
    }

    /// Turns the app's external-sharing capability on or off: without it, creating a chat with
    /// `external: true` answers 232033.
    pub fn set_external_chats(&self, on: bool) {
        self.sim.lock().external_chats = on;
    }

    /// The bot's own open_id (as `bot/v3/info` reports it).
    pub fn bot_open_id(&self) -> String {
        self.sim.lock().bot_open_id.clone()
    }

    /// Everything `GET /_sim/state` shows.
    pub fn snapshot(&self) -> Snapshot {
        self.sim.lock().snapshot()
    }

    /// Moves the sim clock forward (token expiry, uuid windows, the 14-day PATCH rule, the quota month).
    pub fn advance_clock(&self, by: Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        self.sim.lock().advance_clock(by);
    }

    /// Invalidates every token issued so far.
    pub fn expire_tokens(&self) {
        self.sim.lock().tokens.iter_mut().for_each(|t| t.revoked = true);
    }

    /// Queues a fault for the next matching requests.
    pub fn inject_fault(&self, fault: FaultSpec) {
        self.sim.lock().faults.add(fault);
    }

    /// Changes limits at run time.
    pub fn update_limits(&self, update: &LimitsUpdate) {
        self.sim.lock().update_limits(update);
    }

    /// Adds people to a chat as if they joined by themselves; false if the chat or a user is unknown.
    /// Each newcomer causes an `im.chat.member.user.added_v1` (operator: that person) if the bot is
    /// in the chat.
    pub fn join_chat(&self, chat_id: &str, open_ids: &[&str]) -> bool {
        {
            let mut st = self.sim.lock();
            let Some(index) = st.chat_index(chat_id) else { return false };
            if open_ids.iter().any(|id| st.user_by_open_id(id).is_none()) {
                return false;
            }
            let open_ids: Vec<String> = open_ids.iter().map(|id| (*id).to_owned()).collect();
            people::join(&mut st, index, &open_ids);
        }
        push::start_queued(&self.arc());
        true
    }

    /// Sets how the app receives events and card callbacks (the console's subscription settings).
    /// Events are generated only while a subscription exists; a change applies to the next attempt,
    /// retries of earlier events included.
    pub fn subscribe(&self, sub: Subscription) {
        self.sim.lock().subscription = Some(sub);
    }

    /// A directory user writes a text message. `chat_id: None` is the user's p2p chat with the bot
    /// (the chat the bot's messages to that user land in; opened if needed). The message is stored
    /// (snapshots show it with `sender_type: "user"`) and, if the bot may receive it — p2p, or a
    /// group the bot is in where it is @-mentioned — `im.message.receive_v1` is pushed.
    ///
    /// `mention_bot` puts `@_user_1` for the bot in front; further people are mentioned in `text`
    /// as `<at user_id="ou_…">Name</at>` (an `at` of the bot's open_id counts as mentioning it).
    /// Returns once the first delivery attempt has finished; retries follow in the background.
    /// Fails for an unknown user or chat, a disbanded chat, or a group the user is not in.
    pub async fn user_says(&self, say: Say) -> anyhow::Result<Pushed> {
        people::user_says(&self.arc(), &say).await
    }

    /// A user clicks a callback button on a card message the bot sent: pushes `card.action.trigger`
    /// (schema 2.0, `create_time` in microseconds, a fresh `c-…` token) to `cards_url` or as a
    /// `type=event` frame, and returns the app's synchronous answer. A `card` in the answer replaces
    /// the card. Callbacks are never retried. Fails when there is no subscription, the user cannot
    /// see the card, or nothing answered (no connection, timeout).
    pub async fn click(&self, click: Click) -> anyhow::Result<CardAnswer> {
        people::click(&self.arc(), &click).await
    }

    /// Delivers an already-pushed event again, the same JSON as before (a Lark duplicate; webhook
    /// pushes get a fresh IV, nonce and signature). Returns the HTTP status or ack code; fails for
    /// an unknown event or when nothing answered. It counts as an attempt.
    pub async fn redeliver(&self, event_id: &str) -> anyhow::Result<u16> {
        if self.sim.lock().pushes.get(event_id).is_none() {
            return Err(anyhow!("no event {event_id} was pushed"));
        }
        let outcome = push::attempt(&self.sim, event_id).await;
        outcome.status.ok_or_else(|| anyhow!("the redelivery was not answered: {:?}", outcome.error))
    }

    /// Every pushed event and card callback, oldest first.
    pub fn events(&self) -> Vec<EventRecord> {
        self.sim.lock().pushes.public()
    }

    /// Waits until every pushed event has been acknowledged (card callbacks, which are never
    /// retried, do not count); false if that did not happen within `timeout`.
    pub async fn wait_delivered(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.sim.lock().pushes.all_delivered() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(DELIVERY_POLL).await;
        }
    }

    /// Long connections currently open.
    pub fn ws_connections(&self) -> usize {
        self.sim.push.hub.count()
    }

    /// The server closes every long connection now (with a Close frame); deliveries waiting for an
    /// ack on them fail and follow the redelivery schedule. Returns how many were open.
    pub fn drop_connections(&self) -> usize {
        self.sim.push.hub.drop_all()
    }

    /// Fault: the connection that sends the `data_frames`-th next data frame (fragments count one
    /// each) is cut right after it, before the ack can arrive. `0` drops every connection now.
    pub fn drop_connections_after(&self, data_frames: usize) {
        self.sim.push.hub.drop_after(data_frames);
    }

    /// Puts the sim clock at `at` (backwards too). Everything that reads the sim clock follows:
    /// event `create_time`, webhook timestamps, frame `timestamp` headers, token expiry, quotas.
    pub fn set_now(&self, at: DateTime<Utc>) {
        self.sim.lock().set_now(at);
    }

    /// A member disbands a group chat: `im.chat.disbanded_v1` (operator: that person) if the bot
    /// was in it. False when nothing happened (unknown, p2p or already disbanded chat, or a
    /// non-member); ownership is not checked.
    pub fn disband(&self, chat_id: &str, operator_open_id: &str) -> bool {
        let done = people::disband(&mut self.sim.lock(), chat_id, operator_open_id);
        push::start_queued(&self.arc());
        done
    }

    /// A member leaves a group chat: `im.chat.member.user.deleted_v1` (operator: that person) if the
    /// bot is in it. False when nothing happened (unknown, p2p or disbanded chat, a non-member, or
    /// the owner, who has to hand the chat over first).
    pub fn leave(&self, chat_id: &str, open_id: &str) -> bool {
        let done = people::leave(&mut self.sim.lock(), chat_id, open_id);
        push::start_queued(&self.arc());
        done
    }

    fn arc(&self) -> Arc<Sim> {
        self.sim.clone().into_inner()
    }

    /// Forgets chats, messages, counters, faults and pushed events; keeps users, credentials,
    /// tokens, the clock and the subscription.
    pub fn reset(&self) {
        self.sim.lock().reset();
    }

    /// Stops the server and waits for in-flight requests; long connections close and scheduled
    /// redeliveries are dropped.
    pub async fn stop(self) {
        self.sim.push.shutdown.cancel();
        self.server.stop(true).await;
    }
}
