//! A desk wired to lark-sim over HTTP, with a manual clock and the dispatcher driven by
//! the test: the harness of the notification tests and the notification benchmark.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use desk_store::ManualClock;
use lark_notify::dispatch::DispatchReport;
use lark_sim::{ClientConfig, MessageSnapshot, SimConfig, SimHandle, SimUser, SimUserInfo, Subscription};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{Db, TestApp, settings_for};

/// Where the manual clock starts: mid-month, so the month's pace is judged on 20 days.
pub const START: &str = "2026-11-21T09:00:00Z";

/// A fresh 32-byte `DESK_SECRET_KEY`.
pub fn secret_key() -> SecretString {
    // Two v4 uuids are 32 random bytes (less the version bits): plenty for a test key.
    let key = [*uuid::Uuid::new_v4().as_bytes(), *uuid::Uuid::new_v4().as_bytes()].concat();
    SecretString::from(base64::engine::general_purpose::STANDARD.encode(key))
}

/// A desk on SQLite with no default integration (Lark apps are registered over REST), a
/// secret key, a manual clock and no background workers.
pub async fn bare_desk() -> TestApp {
    let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
    let mut settings = settings_for(Db::Sqlite);
    settings.secret_key = Some(secret_key());
    TestApp::spawn_manual(settings, clock).await
}

/// A lark-sim app whose directory holds one person, `{who}@vendor.test`.
pub async fn sim_with(app_id: &str, who: &str) -> SimHandle {
    let users = vec![SimUser::with_email(who, format!("{who}@vendor.test"))];
    lark_sim::spawn(SimConfig { app_id: app_id.to_owned(), users, ..SimConfig::default() })
        .await
        .expect("lark-sim starts")
}

/// The directory of `people` users, `p{i}@acme.test`.
fn directory(people: usize) -> Vec<SimUser> {
    (0..people).map(|i| SimUser::with_email(format!("Person {i}"), format!("p{i}@acme.test"))).collect()
}

/// How a desk under test hears from Lark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ear {
    /// `POST /lark/default/{events,cards}`, encrypted and signed.
    Webhook,
    /// The long connection.
    LongConnection,
}

/// The default integration's verification token and encrypt key in [`LarkDesk::listening`].
pub const VERIFICATION_TOKEN: &str = "v-token-for-tests";
pub const ENCRYPT_KEY: &str = "encrypt-key-for-tests";

/// A desk whose default integration is a lark-sim app.
pub struct LarkDesk {
    pub app: TestApp,
    pub sim: SimHandle,
    pub clock: Arc<ManualClock>,
    /// The server's settings (a second instance on the same database uses them).
    pub settings: desk_api::Settings,
}

impl LarkDesk {
    /// Starts lark-sim with `people` directory users and a desk (no background workers)
    /// whose `DESK_LARK_*` settings point at it, with the given monthly budget.
    pub async fn spawn(db: Db, people: usize, budget: u32) -> Self {
        Self::spawn_tuned(db, people, budget, |_| {}).await
    }

    /// As [`LarkDesk::spawn`], with a chance to change the settings first.
    pub async fn spawn_tuned(db: Db, people: usize, budget: u32, tune: impl FnOnce(&mut desk_api::Settings)) -> Self {
        Self::build(db, SimConfig { users: directory(people), ..SimConfig::default() }, budget, tune).await
    }

    async fn build(db: Db, sim: SimConfig, budget: u32, tune: impl FnOnce(&mut desk_api::Settings)) -> Self {
        let sim = lark_sim::spawn(sim).await.expect("lark-sim starts");
        let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
        // Events carry the sim's time; keep it with the desk's, whatever this machine's date.
        sim.set_now(START.parse().unwrap());
        let mut settings = settings_for(db);
        settings.secret_key = Some(secret_key());
        settings.lark_mode = desk_core::LarkMode::Webhook;
        settings.lark_base_url = sim.base_url.clone();
        settings.lark_app_id = Some(sim.app_id.clone());
        settings.lark_app_secret = Some(SecretString::from(sim.app_secret.clone()));
        settings.lark_monthly_budget = budget;
        tune(&mut settings);
        let app = TestApp::spawn_manual(settings.clone(), clock.clone()).await;
        Self { app, sim, clock, settings }
    }

    /// A desk that Lark (the sim) talks to: its webhook routes, with an encrypt key, or
    /// its long connection. Redeliveries and reconnects are quick, for tests.
    pub async fn listening(db: Db, people: usize, ear: Ear) -> Self {
        let sim = SimConfig {
            users: directory(people),
            redelivery: [200, 400, 800, 1600].map(Duration::from_millis).to_vec(),
            client_config: ClientConfig {
                ping_interval: 30,
                reconnect_count: -1,
                reconnect_interval: 1,
                reconnect_nonce: 0,
            },
            ..SimConfig::default()
        };
        let desk = Self::build(db, sim, 10_000, |s| {
            s.lark_verification_token = Some(SecretString::from(VERIFICATION_TOKEN));
            s.lark_encrypt_key = Some(SecretString::from(ENCRYPT_KEY));
            if ear == Ear::LongConnection {
                s.lark_mode = desk_core::LarkMode::LongConnection;
            }
        })
        .await;
        match ear {
            Ear::Webhook => desk.sim.subscribe(Subscription::Webhook {
                events_url: format!("{}/lark/default/events", desk.app.base),
                cards_url: format!("{}/lark/default/cards", desk.app.base),
                verification_token: VERIFICATION_TOKEN.to_owned(),
                encrypt_key: Some(ENCRYPT_KEY.to_owned()),
            }),
            Ear::LongConnection => {
                desk.sim.subscribe(Subscription::LongConnection { verification_token: VERIFICATION_TOKEN.to_owned() });
                desk.app.state.connections.reconcile().await.expect("connections open");
                desk.until_connected().await;
            }
        }
        desk
    }

    /// Waits (a few seconds at most) until the long connection is up.
    pub async fn until_connected(&self) {
        let mut up = false;
        for _ in 0..200 {
            let status = self.app.state.connections.status("default").await;
            up = self.sim.ws_connections() == 1
                && status.is_some_and(|s| s.state == lark_notify::longconn::ConnState::Connected);
            if up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(up, "the long connection did not come up");
    }

    /// Handles everything Lark sent, then delivers what the desk has to say.
    pub async fn work(&self) -> DispatchReport {
        while self.app.state.inbound.run_once().await.expect("inbox pass") > 0 {}
        self.dispatch_until_idle().await
    }

    /// One dispatcher pass.
    pub async fn dispatch(&self) -> DispatchReport {
        self.app.state.dispatcher.run_once().await.expect("dispatch pass")
    }

    /// Passes until one does nothing (retries wait for the clock, so this ends).
    pub async fn dispatch_until_idle(&self) -> DispatchReport {
        let mut total = DispatchReport::default();
        loop {
            let r = self.dispatch().await;
            if r.is_idle() {
                return total;
            }
            total += r;
        }
    }

    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    pub fn now(&self) -> DateTime<Utc> {
        desk_store::Clock::now(&*self.clock)
    }

    /// The directory user number `i`.
    pub fn user(&self, i: usize) -> SimUserInfo {
        self.sim.user_by_email(&format!("p{i}@acme.test")).expect("directory user")
    }

    /// A staff member bound to directory user `i`.
    pub async fn staff(&self, i: usize, role: &str) -> Value {
        let u = self.user(i);
        self.app
            .post(
                "/api/v1/people",
                &self.app.admin,
                json!({ "kind": "staff", "role": role, "name": u.name, "email": u.email, "lark_open_id": u.open_id }),
            )
            .await
            .expect(201)
    }

    /// A customer of `org` bound to directory user `i`.
    pub async fn customer(&self, org: &Value, i: usize) -> Value {
        let u = self.user(i);
        self.app
            .post(
                "/api/v1/people",
                &self.app.admin,
                json!({ "kind": "customer", "org_id": org["id"], "name": u.name, "lark_open_id": u.open_id }),
            )
            .await
            .expect(201)
    }

    /// A chat in the sim with these directory users and the bot.
    pub async fn chat(&self, name: &str, members: &[usize]) -> String {
        let open_ids: Vec<String> = members.iter().map(|i| self.user(*i).open_id).collect();
        let body: Value = reqwest::Client::new()
            .post(format!("{}/_sim/chats", self.sim.base_url))
            .json(&json!({ "name": name, "open_ids": open_ids, "bot_member": true }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["chat_id"].as_str().unwrap().to_owned()
    }

    /// Interactive messages the sim received, in order.
    pub fn cards(&self) -> Vec<MessageSnapshot> {
        self.sim.snapshot().messages.into_iter().filter(|m| m.msg_type == "interactive").collect()
    }

    /// Cards sent to directory user `i` by DM.
    pub fn cards_to(&self, i: usize) -> Vec<MessageSnapshot> {
        let open_id = self.user(i).open_id;
        self.cards().into_iter().filter(|m| m.receive_id_type == "open_id" && m.receive_id == open_id).collect()
    }

    /// Every notification over REST.
    pub async fn notifications(&self) -> Vec<Value> {
        self.app.walk("/api/v1/notifications?limit=200").await
    }

    pub async fn budget(&self, integration: &str) -> Value {
        self.app.get(&format!("/api/v1/integrations/{integration}/budget"), &self.app.admin).await.expect(200)
    }
}
