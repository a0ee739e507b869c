//! Starting the simulator: in the background for tests ([`spawn`]) or in the foreground for the binary ([`serve`]).

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use chrono::TimeDelta;

use crate::config::{LimitsUpdate, SimConfig, SimUser, SimUserInfo};
use crate::dispatch::{self, LOG_ID_HEADER};
use crate::faults::FaultSpec;
use crate::ids;
use crate::side;
use crate::snapshot::Snapshot;
use crate::state::{Sim, State};

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
    let sim = web::Data::new(Sim::new(State::new(config)));
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

    /// The bot's own open_id (as `bot/v3/info` reports it).
    pub fn bot_open_id(&self) -> String {
        self.sim.lock().bot_open_id.clone()
    }

    /// Everything `GET /_sim/state` shows.
    pub fn snapshot(&self) -> Snapshot {
        self.sim.lock().snapshot()
    }

    /// Moves the sim clock forward (token expiry, uuid windows, the 14-day PATCH rule, the quota month).
    pub fn advance_clock(&self, by: std::time::Duration) {
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
    pub fn join_chat(&self, chat_id: &str, open_ids: &[&str]) -> bool {
        let mut st = self.sim.lock();
        let Some(index) = st.chat_index(chat_id) else { return false };
        if open_ids.iter().any(|id| st.user_by_open_id(id).is_none()) {
            return false;
        }
        let chat = &mut st.chats[index];
        for id in open_ids {
            if !chat.members.iter().any(|m| m == id) {
                chat.members.push((*id).to_owned());
            }
        }
        true
    }

    /// Forgets chats, messages, counters and faults; keeps users, credentials and tokens.
    pub fn reset(&self) {
        self.sim.lock().reset();
    }

    /// Stops the server and waits for in-flight requests.
    pub async fn stop(self) {
        self.server.stop(true).await;
    }
}
