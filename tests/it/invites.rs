//! 24-hour invite links, end to end: created by staff (or the card's *Add members*
//! button), opened without a token, redeemed as the Lark user lark-sim's web-app login
//! names, which adds that person to the group's chat in lark-sim.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lark_notify::cards::{self, Lang};
use lark_notify::wire::{Content, ReceiveId};
use lark_sim::Click;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::on_both_databases;
use crate::support::lark::{Ear, LarkDesk};
use crate::support::{Db, TestApp, desk_bin, settings_for};

/// Directory users: 0 the TAM, 1 an engineer, 2 a customer of Acme, 3 and 4 colleagues of
/// theirs whom the desk does not know yet.
struct Acme {
    desk: LarkDesk,
    org: Value,
}

/// A ticket with its group, made in lark-sim and activated as the group manager would.
struct TicketGroup {
    ticket: Value,
    group_id: Uuid,
    chat_id: String,
}

async fn acme(desk: LarkDesk) -> Acme {
    let tam = desk.staff(0, "tam").await;
    desk.staff(1, "engineer").await;
    let org = desk
        .app
        .post("/api/v1/orgs", &desk.app.admin, json!({ "name": "Acme", "tam_id": tam["id"] }))
        .await
        .expect(201);
    desk.customer(&org, 2).await;
    Acme { desk, org }
}

impl Acme {
    async fn new(db: Db) -> Self {
        acme(LarkDesk::spawn(db, 5, 10_000).await).await
    }

    fn app(&self) -> &TestApp {
        &self.desk.app
    }

    /// A ticket whose group exists in lark-sim with the TAM and the customer in it.
    async fn ticket_group(&self, title: &str) -> TicketGroup {
        let ticket = self.app().ticket(&self.app().admin, &self.org, title).await;
        let id: desk_core::TicketId = ticket["id"].as_str().unwrap().parse().unwrap();
        let store = &self.app().state.store;
        let name = format!("#{} {title}", ticket["number"]);
        let org: desk_core::OrgId = self.org["id"].as_str().unwrap().parse().unwrap();
        let group = store.request_ticket_group(id, org, Some("default"), &name, self.desk.now()).await.unwrap();
        let chat_id = match group.chat_id {
            Some(chat_id) => chat_id,
            None => {
                let chat_id = self.desk.chat(&name, &[0, 2]).await;
                store.activate_chat(group.row_id, &chat_id, self.desk.now()).await.unwrap();
                chat_id
            }
        };
        TicketGroup { ticket, group_id: group.row_id, chat_id }
    }

    /// A new link to `group` as the admin.
    async fn invite(&self, group: Uuid, body: Value) -> Value {
        self.app().post(&format!("/api/v1/groups/{group}/invites"), &self.app().admin, body).await.expect(201)
    }

    /// Redeems `token` as directory user `i`, who has just logged in to Lark.
    async fn redeem(&self, token: &str, i: usize) -> crate::support::Reply {
        let code = self.desk.sim.login_code(&self.desk.user(i).open_id);
        self.app()
            .call(Method::POST, &format!("/api/v1/invites/{token}/redeem"), None, Some(json!({ "code": code })))
            .await
    }

    /// Who is in `chat` in Lark.
    fn members_in_lark(&self, chat: &str) -> Vec<String> {
        self.desk.sim.snapshot().chats.into_iter().find(|c| c.chat_id == chat).expect("the chat exists").members
    }

    async fn timeline_kinds(&self, ticket: &Value) -> Vec<Value> {
        let id = ticket["id"].as_str().unwrap();
        let page = self.app().get(&format!("/api/v1/tickets/{id}/timeline"), &self.app().admin).await.expect(200);
        page["items"].as_array().unwrap().clone()
    }
}

fn token_of(created: &Value) -> String {
    created["token"].as_str().unwrap().to_owned()
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// The rule: a link redeemed at 23h59m works; at 24h00m it is refused with 410
/// and nobody is added.
async fn a_link_lives_exactly_24_hours(db: Db) {
    let acme = Acme::new(db).await;
    let tg = acme.ticket_group("VPN drops every hour").await;
    let created_at = acme.desk.now();
    let first = acme.invite(tg.group_id, json!({})).await;
    let second = acme.invite(tg.group_id, json!({ "max_uses": 5 })).await;

    // Under DESK_PUBLIC_URL, valid exactly 24 hours, the token shown once.
    let public = acme.desk.settings.public_url.trim_end_matches('/').to_owned();
    let token = token_of(&first);
    assert!(token.starts_with("ldi_") && token.len() == 47, "{token}");
    assert_eq!(first["url"], format!("{public}/invite/{token}"));
    assert_eq!(at(&first["expires_at"]), created_at + TimeDelta::hours(24));
    assert_eq!(first["state"], "live");
    assert_eq!(first["max_uses"], Value::Null);
    assert_eq!(second["max_uses"], 5);

    // Anyone holding it sees what it is for, without a token.
    let view = acme.app().call(Method::GET, &format!("/api/v1/invites/{token}"), None, None).await.expect(200);
    assert_eq!(view["org_name"], "Acme");
    assert_eq!(view["group"]["kind"], "ticket");
    assert_eq!(view["ticket"]["number"], tg.ticket["number"]);
    assert_eq!(view["ticket"]["title"], "VPN drops every hour");
    assert_eq!(at(&view["expires_at"]), created_at + TimeDelta::hours(24));
    let login = &view["login"];
    assert!(login["authorize_url"].as_str().unwrap().contains("/open-apis/authen/v1/authorize?client_id="), "{login}");
    assert_eq!(login["redirect_uri"], format!("{public}/invite/callback"));
    assert!(!view.to_string().contains(&token), "the view does not repeat the token");
    let page = acme.app().client.get(format!("{}/invite/{token}", acme.app().base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.text().await.unwrap().contains("VPN drops every hour"));

    // Staff list the live links, never their tokens.
    let list = acme.app().get(&format!("/api/v1/groups/{}/invites", tg.group_id), &acme.app().admin).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains("ldi_"), "{list}");

    // 23h59m: works.
    acme.desk.advance(TimeDelta::hours(23) + TimeDelta::minutes(59));
    let joiner = acme.desk.user(3).open_id;
    let joined = acme.redeem(&token, 3).await.expect(200);
    assert_eq!(
        joined,
        json!({
            "joined": true, "already_member": false, "pending_approval": false,
            "chat_id": tg.chat_id, "name": acme.desk.user(3).name,
        })
    );
    assert!(acme.members_in_lark(&tg.chat_id).contains(&joiner));
    let store = &acme.app().state.store;
    let known: Vec<String> = store.chat_members(tg.group_id).await.unwrap().into_iter().map(|m| m.open_id).collect();
    assert!(known.contains(&joiner), "the desk records the member: {known:?}");
    let timeline = acme.timeline_kinds(&tg.ticket).await;
    let entry = timeline.iter().find(|e| e["kind"] == "member_invited").expect("the join is on the timeline");
    assert_eq!(entry["data"]["name"], acme.desk.user(3).name);
    assert_eq!(entry["data"]["via"], "invite");
    assert_eq!(entry["data"]["invite_id"], first["id"]);
    assert_eq!(entry["actor"]["kind"], "customer");
    assert_eq!(entry["actor"]["name"], acme.desk.user(3).name);

    // 24h00m: refused, and nobody is added (nor a use taken).
    acme.desk.advance(TimeDelta::minutes(1));
    let late = acme.desk.user(4).open_id;
    acme.redeem(&token_of(&second), 4).await.expect_problem(410, "invite_expired");
    assert!(!acme.members_in_lark(&tg.chat_id).contains(&late));
    acme.app()
        .call(Method::GET, &format!("/api/v1/invites/{}", token_of(&second)), None, None)
        .await
        .expect_problem(410, "invite_expired");
    let list = acme.app().get(&format!("/api/v1/groups/{}/invites", tg.group_id), &acme.app().admin).await.expect(200);
    assert_eq!(list["items"], json!([]), "expired links are not live");
    let page = acme.app().client.get(format!("{}/invite/{}", acme.app().base, token_of(&second))).send().await.unwrap();
    assert_eq!(page.status(), 410);
}

/// Revoked → 410; used up → 410; already a member → 200 saying so, without taking a use.
async fn revoked_used_up_and_already_member(db: Db) {
    let acme = Acme::new(db).await;
    let tg = acme.ticket_group("Printer on fire").await;

    let revoked = acme.invite(tg.group_id, json!({})).await;
    let id = revoked["id"].as_str().unwrap();
    let answer =
        acme.app().post(&format!("/api/v1/invites/{id}/revoke"), &acme.app().admin, json!({})).await.expect(200);
    assert_eq!(answer["state"], "revoked");
    assert_eq!(answer["revoked_reason"], "revoked");
    acme.redeem(&token_of(&revoked), 3).await.expect_problem(410, "invite_revoked");
    assert!(!acme.members_in_lark(&tg.chat_id).contains(&acme.desk.user(3).open_id));

    let once = acme.invite(tg.group_id, json!({ "max_uses": 1 })).await;
    acme.redeem(&token_of(&once), 3).await.expect(200);
    acme.redeem(&token_of(&once), 4).await.expect_problem(410, "invite_used_up");
    assert!(!acme.members_in_lark(&tg.chat_id).contains(&acme.desk.user(4).open_id));

    // In the group already (the customer was there from the start; user 3 joined above).
    let again = acme.invite(tg.group_id, json!({ "max_uses": 1 })).await;
    let answer = acme.redeem(&token_of(&again), 3).await.expect(200);
    assert_eq!(answer["already_member"], true);
    assert_eq!(answer["joined"], false);
    assert_eq!(answer["chat_id"], tg.chat_id.as_str());
    // No use was taken: the one use is still there for someone new.
    acme.redeem(&token_of(&again), 4).await.expect(200);

    // Bad input names the field; an unknown link is a 404 whatever the body.
    acme.app()
        .call(Method::POST, &format!("/api/v1/invites/{}/redeem", token_of(&again)), None, Some(json!({ "code": " " })))
        .await
        .expect_problem(422, "validation_failed");
    acme.app()
        .call(Method::POST, "/api/v1/invites/ldi_nope/redeem", None, Some(json!({ "colour": 1 })))
        .await
        .expect_problem(404, "invite_not_found");
    // A login code Lark does not know: 422, and the use is not taken.
    let fresh = acme.invite(tg.group_id, json!({ "max_uses": 1 })).await;
    acme.app()
        .call(
            Method::POST,
            &format!("/api/v1/invites/{}/redeem", token_of(&fresh)),
            None,
            Some(json!({ "code": "not-a-real-code" })),
        )
        .await
        .expect_problem(422, "login_code_invalid");
    let list = acme.app().get(&format!("/api/v1/groups/{}/invites", tg.group_id), &acme.app().admin).await.expect(200);
    let listed = list["items"].as_array().unwrap().iter().find(|i| i["id"] == fresh["id"]).unwrap().clone();
    assert_eq!(listed["uses"], 0);
    // Validation of the use limit, and the group must exist.
    acme.app()
        .post(&format!("/api/v1/groups/{}/invites", tg.group_id), &acme.app().admin, json!({ "max_uses": 0 }))
        .await
        .expect_problem(422, "validation_failed");
    acme.app()
        .post(&format!("/api/v1/groups/{}/invites", Uuid::nil()), &acme.app().admin, json!({}))
        .await
        .expect_problem(404, "group_not_found");
}

/// The token names its group and nothing else: redeeming a link for group A puts the
/// person into A's chat, never B's.
async fn a_link_for_group_a_cannot_join_group_b(db: Db) {
    let acme = Acme::new(db).await;
    let a = acme.ticket_group("Ticket A").await;
    let b = acme.ticket_group("Ticket B").await;
    let link_a = acme.invite(a.group_id, json!({})).await;
    let link_b = acme.invite(b.group_id, json!({})).await;
    assert_ne!(link_a["token"], link_b["token"]);
    assert_eq!(link_a["group_id"], a.group_id.to_string());

    let b_before = acme.members_in_lark(&b.chat_id);
    let joined = acme.redeem(&token_of(&link_a), 3).await.expect(200);
    assert_eq!(joined["chat_id"], a.chat_id.as_str());
    let joiner = acme.desk.user(3).open_id;
    assert!(acme.members_in_lark(&a.chat_id).contains(&joiner));
    assert_eq!(acme.members_in_lark(&b.chat_id), b_before, "group B is untouched");
    assert!(!acme.timeline_kinds(&b.ticket).await.iter().any(|e| e["kind"] == "member_invited"));

    // The view of A's link talks about A only.
    let view =
        acme.app().call(Method::GET, &format!("/api/v1/invites/{}", token_of(&link_a)), None, None).await.expect(200);
    assert_eq!(view["ticket"]["title"], "Ticket A");
    // Revoking B's link leaves A's alone.
    let id_b = link_b["id"].as_str().unwrap();
    acme.app().post(&format!("/api/v1/invites/{id_b}/revoke"), &acme.app().admin, json!({})).await.expect(200);
    acme.redeem(&token_of(&link_a), 4).await.expect(200);
}

/// Closing a ticket revokes its group's live links, in the same transaction.
async fn closing_the_ticket_revokes_its_links(db: Db) {
    let acme = Acme::new(db).await;
    let tg = acme.ticket_group("Disk full").await;
    let one = acme.invite(tg.group_id, json!({})).await;
    let two = acme.invite(tg.group_id, json!({ "max_uses": 3 })).await;
    let id = tg.ticket["id"].as_str().unwrap();
    for to in ["in_progress", "resolved", "closed"] {
        acme.app()
            .post(&format!("/api/v1/tickets/{id}/transition"), &acme.app().admin, json!({ "to": to }))
            .await
            .expect(200);
    }
    let list = acme.app().get(&format!("/api/v1/groups/{}/invites", tg.group_id), &acme.app().admin).await.expect(200);
    assert_eq!(list["items"], json!([]));
    for link in [&one, &two] {
        let refused = acme.redeem(&token_of(link), 3).await.expect_problem(410, "invite_revoked");
        assert!(refused["detail"].as_str().unwrap().contains("closed"), "{refused}");
    }
    acme.app()
        .post(&format!("/api/v1/groups/{}/invites", tg.group_id), &acme.app().admin, json!({}))
        .await
        .expect_problem(409, "ticket_closed");
    // Reopened, it can have links again; the old ones stay revoked.
    acme.app()
        .post(&format!("/api/v1/tickets/{id}/transition"), &acme.app().admin, json!({ "to": "open" }))
        .await
        .expect(200);
    let fresh = acme.invite(tg.group_id, json!({})).await;
    acme.redeem(&token_of(&fresh), 3).await.expect(200);
    acme.redeem(&token_of(&one), 4).await.expect_problem(410, "invite_revoked");
}

on_both_databases!(
    a_link_lives_exactly_24_hours,
    revoked_used_up_and_already_member,
    a_link_for_group_a_cannot_join_group_b,
    closing_the_ticket_revokes_its_links,
);

/// 1,000 random tokens, well-formed or not, all 404: nothing to enumerate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_random_tokens_all_404() {
    use base64::Engine as _;
    let acme = Acme::new(Db::Sqlite).await;
    let tg = acme.ticket_group("Real link").await;
    let real = acme.invite(tg.group_id, json!({})).await;
    let real = token_of(&real);
    for i in 0..1_000 {
        let bytes = [*Uuid::new_v4().as_bytes(), *Uuid::new_v4().as_bytes()].concat();
        let random = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let token = match i % 4 {
            // Well-formed, as an attacker guessing would send them.
            0 | 1 => format!("ldi_{random}"),
            // The real token with one character changed.
            2 => {
                let mut t = real.clone().into_bytes();
                let at = 4 + i % 43;
                t[at] = if t[at] == b'A' { b'B' } else { b'A' };
                String::from_utf8(t).unwrap()
            }
            _ => random,
        };
        if token == real {
            continue;
        }
        let reply = if i % 10 == 0 {
            acme.app()
                .call(Method::POST, &format!("/api/v1/invites/{token}/redeem"), None, Some(json!({ "code": "x" })))
                .await
        } else {
            acme.app().call(Method::GET, &format!("/api/v1/invites/{token}"), None, None).await
        };
        reply.expect_problem(404, "invite_not_found");
    }
    assert!(acme.members_in_lark(&tg.chat_id).len() == 2, "nobody joined");
}

/// The card's *Add members* button answers with a new 24-hour link on the ticket's card,
/// and that link works; people the desk does not know, or tickets without a group, get a
/// clear refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_add_members_button_returns_a_working_link() {
    let acme = acme(Box::pin(LarkDesk::listening(Db::Sqlite, 5, Ear::Webhook)).await).await;
    let tg = acme.ticket_group("Add my colleague").await;
    let ticket_id = tg.ticket["id"].as_str().unwrap().to_owned();
    // Someone the desk does not know is in the group too (Lark lets them click).
    assert!(acme.desk.sim.join_chat(&tg.chat_id, &[&acme.desk.user(4).open_id]));

    // The ticket card in the ticket's group, as the dispatcher posts it.
    let state = &acme.app().state;
    let integration = state.store.integration("default").await.unwrap();
    let client = state.lanes.client(&integration).await.unwrap();
    let card = cards::ticket_card(
        &cards::TicketCard {
            ticket_id: &ticket_id,
            number: tg.ticket["number"].as_i64().unwrap(),
            title: "Add my colleague",
            severity: "P3",
            status: "open",
            assignee: None,
            desk_url: "http://desk.test",
            news: &[],
        },
        Lang::En,
    )
    .unwrap();
    let to = ReceiveId::chat(tg.chat_id.clone());
    let message_id =
        client.send_message(&to, &Content::Card(card), &Uuid::now_v7().to_string()).await.unwrap().message_id;

    let click = |i: usize| Click {
        operator_open_id: acme.desk.user(i).open_id,
        message_id: message_id.clone(),
        value: json!({ "action": "add_members", "ticket_id": ticket_id }),
        form_value: None,
    };
    let answer = acme.desk.sim.click(click(2)).await.unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.elapsed < Duration::from_secs(3));
    assert_eq!(answer.body["toast"]["type"], "success", "{}", answer.body);
    let shown = answer.body["card"].to_string();
    let public = acme.desk.settings.public_url.trim_end_matches('/').to_owned();
    let start = shown.find(&format!("{public}/invite/ldi_")).expect("the card carries the link") + public.len() + 8;
    let token: String =
        shown[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    assert_eq!(token.len(), 47, "{token}");
    assert!(shown.contains("add_members"), "the ticket card keeps its buttons");
    // Created by the customer who clicked, valid 24 hours.
    let list = acme.app().get(&format!("/api/v1/groups/{}/invites", tg.group_id), &acme.app().admin).await.expect(200);
    let link = &list["items"][0];
    assert_eq!(link["created_by_name"], acme.desk.user(2).name);
    assert_eq!(at(&link["expires_at"]), acme.desk.now() + TimeDelta::hours(24));

    let joined = acme.redeem(&token, 3).await.expect(200);
    assert_eq!(joined["chat_id"], tg.chat_id.as_str());
    assert!(acme.members_in_lark(&tg.chat_id).contains(&acme.desk.user(3).open_id));

    // Someone the desk does not know may not make links.
    let answer = acme.desk.sim.click(click(4)).await.unwrap();
    assert_eq!(answer.body["toast"]["type"], "error", "{}", answer.body);
    // A ticket without a group yet: a clear error.
    let bare = acme.app().ticket(&acme.app().admin, &acme.org, "No group yet").await;
    let bare_click = Click { value: json!({ "action": "add_members", "ticket_id": bare["id"] }), ..click(2) };
    let answer = acme.desk.sim.click(bare_click).await.unwrap();
    assert_eq!(answer.body["toast"]["type"], "error", "{}", answer.body);
    let words = answer.body["toast"]["content"].as_str().unwrap();
    assert!(words.contains("no Lark group yet"), "{words}");
}

/// Tokens never reach the logs: the real `desk serve`, its JSON log lines captured from
/// stderr, while the invite routes are called with a token in the path and a Lark login
/// code in the query. The lines name the route pattern instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_tokens_and_login_codes_never_reach_the_logs() {
    let settings = settings_for(Db::Sqlite);
    let url = settings.database_url.clone();
    let app = TestApp::spawn_with(settings, std::sync::Arc::new(desk_store::SystemClock)).await;
    let org = app.org("Logged Co").await;
    let ticket = app.ticket(&app.admin, &org, "Quiet logs").await;
    let store = &app.state.store;
    let now = Utc::now();
    let group = store
        .request_ticket_group(
            ticket["id"].as_str().unwrap().parse().unwrap(),
            org["id"].as_str().unwrap().parse().unwrap(),
            None,
            "#1 Quiet logs",
            now,
        )
        .await
        .unwrap();
    let created =
        app.post(&format!("/api/v1/groups/{}/invites", group.row_id), &app.admin, json!({})).await.expect(201);
    let token = token_of(&created);

    let mut child = Command::new(desk_bin())
        .arg("serve")
        .env("DESK_DATABASE_URL", &url)
        .env("DESK_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "debug,sqlx=warn,sea_orm=warn,hyper=warn,h2=warn,reqwest=warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["message"] == "serving"
            {
                let _ = port_tx.send(event["port"].as_u64().unwrap());
            }
            lines.push(line);
        }
        lines
    });
    let port = tokio::task::spawn_blocking(move || port_rx.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("desk serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let code = "lark-login-code-that-must-not-be-logged";
    assert_eq!(http.get(format!("{base}/api/v1/invites/{token}")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{base}/invite/{token}")).send().await.unwrap().status(), 200);
    let cb = http.get(format!("{base}/invite/callback?code={code}&state=s")).send().await.unwrap();
    assert_eq!(cb.status(), 200);
    let redeem =
        http.post(format!("{base}/api/v1/invites/{token}/redeem")).json(&json!({ "code": code })).send().await.unwrap();
    assert_eq!(redeem.status(), 409, "the group is not in Lark yet");
    // Near misses: a matched pattern, and paths that match no route at all.
    let miss = http.get(format!("{base}/api/v1/invites/{token}x")).send().await.unwrap();
    assert_eq!(miss.status(), 404);
    let unrouted = http.get(format!("{base}/invite/{token}/extra")).send().await.unwrap();
    assert_eq!(unrouted.status(), 404);
    let unrouted = http.get(format!("{base}/api/v1/invites/{token}/redeem/again")).send().await.unwrap();
    assert_eq!(unrouted.status(), 404);
    let wrong_method = http.delete(format!("{base}/api/v1/invites/{token}/redeem")).send().await.unwrap();
    assert!(matches!(wrong_method.status().as_u16(), 404 | 405), "{}", wrong_method.status());
    // Let the last request spans close and be written before stopping.
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let lines = reader.join().unwrap();
    let log = lines.join("\n");
    assert!(log.contains("/api/v1/invites/{token}"), "the request lines name the route: {log}");
    assert!(log.contains("/invite/{token}") && log.contains("/invite/callback"), "{log}");
    let secret_part = &token["ldi_".len()..];
    assert!(!log.contains(secret_part), "an invite token reached the log");
    assert!(!log.contains(code), "a Lark login code reached the log");
}
