//! Groups become real Lark chats: every ticket gets exactly one group with its requester,
//! assignee and TAM and the ticket card in it (also when Lark times out, and when two
//! workers race), assignments and closes reach the group, and organisations get their main
//! service group, created or bound. An external group without the app's capability fails
//! with what to enable, not a raw Lark code. All against lark-sim over HTTP.

use std::time::Duration;

use chrono::TimeDelta;
use group_manager::GroupReport;
use lark_sim::{ChatSnapshot, FaultApply, FaultKind, FaultSpec, MessageSnapshot};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::Db;
use crate::support::lark::{LarkDesk, bare_desk};

const CHATS: &str = "/open-apis/im/v1/chats";

/// Directory users: 0 the TAM, 1 an engineer, 2 a customer of Acme, 3 another engineer,
/// 4 another customer.
struct Acme {
    desk: LarkDesk,
    org: Value,
    engineer: Value,
    customer: Value,
}

async fn acme(db: Db, tenant_key: Option<&str>) -> Acme {
    acme_tuned(db, tenant_key, |_| {}).await
}

async fn acme_tuned(db: Db, tenant_key: Option<&str>, tune: impl FnOnce(&mut desk_api::Settings)) -> Acme {
    let desk = Box::pin(LarkDesk::spawn_tuned(db, 5, 10_000, tune)).await;
    let tam = desk.staff(0, "tam").await;
    let engineer = desk.staff(1, "engineer").await;
    let org = desk
        .app
        .post(
            "/api/v1/orgs",
            &desk.app.admin,
            json!({ "name": "Acme", "tam_id": tam["id"], "lark_tenant_key": tenant_key }),
        )
        .await
        .expect(201);
    let customer = desk.customer(&org, 2).await;
    Acme { desk, org, engineer, customer }
}

impl Acme {
    /// A ticket asked by the customer, assigned to the engineer.
    async fn ticket(&self, title: &str) -> Value {
        let body = json!({ "org_id": self.org["id"], "title": title, "requester_id": self.customer["id"],
                           "assignee_id": self.engineer["id"] });
        self.desk.app.post("/api/v1/tickets", &self.desk.app.admin, body).await.expect(201)
    }

    /// One group-manager pass.
    async fn groups_pass(&self) -> GroupReport {
        self.desk.app.state.groups.run_once().await.expect("group pass")
    }

    /// Passes until one does nothing (retries wait for the clock, so this ends).
    async fn groups_until_idle(&self) -> GroupReport {
        let mut total = GroupReport::default();
        loop {
            let r = self.groups_pass().await;
            if r.is_idle() {
                return total;
            }
            total += r;
        }
    }

    /// The group of a ticket, over REST.
    async fn group_of(&self, ticket: &Value) -> Value {
        let groups = self.groups(&format!("org_id={}&kind=ticket", self.org["id"].as_str().unwrap())).await;
        let mine: Vec<Value> = groups.into_iter().filter(|g| g["ticket_id"] == ticket["id"]).collect();
        assert_eq!(mine.len(), 1, "one group per ticket: {mine:#?}");
        mine.into_iter().next().unwrap()
    }

    async fn groups(&self, query: &str) -> Vec<Value> {
        self.desk.app.walk(&format!("/api/v1/groups?{query}")).await
    }

    async fn group(&self, id: &Value) -> Value {
        self.desk.app.get(&format!("/api/v1/groups/{}", id.as_str().unwrap()), &self.desk.app.admin).await.expect(200)
    }

    /// The sim's chats made for a group (by its id as Lark's `uuid`).
    fn chats_for(&self, group: &Value) -> Vec<ChatSnapshot> {
        let id = group["id"].as_str().unwrap();
        self.desk.sim.snapshot().chats.into_iter().filter(|c| c.uuid.as_deref() == Some(id)).collect()
    }

    /// Cards the bot posted in a chat.
    fn cards_in(&self, chat_id: &str) -> Vec<MessageSnapshot> {
        self.desk.cards().into_iter().filter(|m| m.chat_id == chat_id && m.receive_id_type == "chat_id").collect()
    }

    fn open_id(&self, i: usize) -> String {
        self.desk.user(i).open_id
    }

    fn chat_create_calls(&self) -> u64 {
        self.desk.sim.snapshot().calls.by_route.get(&format!("POST {CHATS}")).copied().unwrap_or(0)
    }
}

on_both_databases!(
    a_ticket_gets_exactly_one_group_with_its_people_and_the_ticket_card,
    a_timed_out_create_is_retried_with_the_same_uuid_and_makes_one_chat,
    a_new_assignee_is_brought_into_the_group_and_closing_updates_the_card,
    main_groups_are_created_through_lark_or_bound,
    an_external_group_without_the_capability_says_what_to_enable,
);

async fn a_ticket_gets_exactly_one_group_with_its_people_and_the_ticket_card(db: Db) {
    let t = acme(db, None).await;
    let ticket = t.ticket("VPN down at the plant").await;

    // Asked for in the ticket's own transaction, before anything talks to Lark.
    let group = t.group_of(&ticket).await;
    assert_eq!((group["state"].as_str(), group["kind"].as_str()), (Some("requested"), Some("ticket")));
    assert_eq!(group["ticket_number"], ticket["number"]);
    assert_eq!(group["integration_id"], "default");
    assert_eq!(group["chat_id"], Value::Null);

    let report = t.groups_until_idle().await;
    assert_eq!((report.created, report.work_done, report.failed), (1, 1, 0), "{report:?}");

    let chats = t.chats_for(&group);
    assert_eq!(chats.len(), 1, "exactly one chat");
    let chat = &chats[0];
    assert_eq!(chat.name, format!("#{} VPN down at the plant", ticket["number"]));
    let mut members = chat.members.clone();
    members.sort();
    let mut expected = vec![t.open_id(0), t.open_id(1), t.open_id(2)];
    expected.sort();
    assert_eq!(members, expected, "requester, assignee and TAM");
    assert!(chat.bot_member && !chat.external);
    assert_eq!(chat.owner_id, t.desk.sim.app_id, "the bot owns it, so the uuid key never changes");

    let group = t.group(&group["id"]).await;
    assert_eq!(group["state"], "active");
    assert_eq!(group["chat_id"], chat.chat_id.as_str());
    assert_eq!(group["members"], 3);
    assert_eq!(group["pending_work"], 0);
    let cards = t.cards_in(&chat.chat_id);
    assert_eq!(cards.len(), 1, "the ticket card, once");
    assert_eq!(group["card_message_id"], cards[0].message_id.as_str());
    assert!(cards[0].content.contains("VPN down at the plant") && cards[0].content.contains("escalate"));

    // Nothing more happens, however often the worker runs; other orgs' lists stay empty.
    assert!(t.groups_pass().await.is_idle());
    assert_eq!(t.chats_for(&group).len(), 1);
    assert_eq!(t.chat_create_calls(), 1);
    assert_eq!(t.groups("kind=main").await.len(), 0);

    // Staff of every role read groups; an unknown one is a 404 problem.
    let engineer_token = t.desk.app.token_for(&t.engineer).await;
    t.desk.app.get("/api/v1/groups", &engineer_token).await.expect(200);
    let nil = uuid::Uuid::nil();
    t.desk.app.get(&format!("/api/v1/groups/{nil}"), &t.desk.app.admin).await.expect_problem(404, "group_not_found");
    t.desk.app.get("/api/v1/groups?kind=side", &t.desk.app.admin).await.expect_problem(400, "invalid_query");
}

/// A desk without any Lark integration opens tickets without asking for groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_without_lark_asks_for_no_group() {
    let app = bare_desk().await;
    let org = app.org("Offline Inc").await;
    app.ticket(&app.admin, &org, "No Lark here").await;
    let groups = app.get("/api/v1/groups", &app.admin).await.expect(200);
    assert_eq!(groups["items"], json!([]));
    assert!(app.state.groups.run_once().await.unwrap().is_idle());
}

async fn a_timed_out_create_is_retried_with_the_same_uuid_and_makes_one_chat(db: Db) {
    let t = acme_tuned(db, None, |s| s.lark_request_timeout = Duration::from_millis(400)).await;
    // Lark makes the chat but answers too late: the desk cannot know it worked.
    t.desk.sim.inject_fault(FaultSpec {
        method: Some("POST".into()),
        delay_ms: 1_500,
        apply: FaultApply::After,
        ..FaultSpec::new(FaultKind::Delay, CHATS, 1)
    });
    let ticket = t.ticket("Printer on fire").await;
    let group = t.group_of(&ticket).await;

    let first = t.groups_pass().await;
    assert_eq!((first.created, first.retried), (0, 1), "{first:?}");
    let waiting = t.group(&group["id"]).await;
    assert_eq!((waiting["state"].as_str(), waiting["attempts"].as_u64()), (Some("requested"), Some(1)));
    assert!(waiting["last_error"].as_str().unwrap().contains("in time"), "{waiting:#}");
    assert!(waiting["next_attempt_at"].is_string());
    assert_eq!(t.chats_for(&group).len(), 1, "Lark did make it");
    assert!(t.groups_pass().await.is_idle(), "the retry waits for its time");

    // A 500 on the retry changes nothing either; the third attempt gets the same chat back.
    t.desk.sim.inject_fault(FaultSpec { method: Some("POST".into()), ..FaultSpec::new(FaultKind::Http500, CHATS, 1) });
    t.desk.advance(TimeDelta::minutes(1));
    assert_eq!(t.groups_pass().await.retried, 1);
    t.desk.advance(TimeDelta::minutes(1));
    let report = t.groups_until_idle().await;
    assert_eq!((report.created, report.work_done), (1, 1), "{report:?}");

    let chats = t.chats_for(&group);
    assert_eq!(chats.len(), 1, "one chat, whatever the retries");
    let group = t.group(&group["id"]).await;
    assert_eq!(group["state"], "active");
    assert_eq!(group["chat_id"], chats[0].chat_id.as_str());
    assert_eq!(group["last_error"], Value::Null);
    assert_eq!(t.cards_in(&chats[0].chat_id).len(), 1);
    assert_eq!(t.chat_create_calls(), 3, "three calls, one chat");
}

async fn a_new_assignee_is_brought_into_the_group_and_closing_updates_the_card(db: Db) {
    let t = acme(db, None).await;
    let second = t.desk.staff(3, "engineer").await;
    let ticket = t.ticket("Disk full").await;
    let id = ticket["id"].as_str().unwrap();
    t.groups_until_idle().await;
    let group = t.group_of(&ticket).await;
    let chat_id = group["chat_id"].as_str().unwrap().to_owned();

    t.desk
        .app
        .post(&format!("/api/v1/tickets/{id}/assign"), &t.desk.app.admin, json!({ "assignee_id": second["id"] }))
        .await
        .expect(200);
    assert_eq!(t.group(&group["id"]).await["pending_work"], 1, "the addition waits in the database");
    let report = t.groups_until_idle().await;
    assert_eq!(report.work_done, 1, "{report:?}");
    let chat = t.chats_for(&group).remove(0);
    assert!(chat.members.contains(&t.open_id(3)), "the new assignee is in the chat");
    assert!(chat.members.contains(&t.open_id(1)), "the previous one stays (history)");
    assert_eq!(t.group(&group["id"]).await["members"], 4);
    // Everyone the desk put in is on the ticket's timeline, once.
    let timeline = t.desk.app.walk(&format!("/api/v1/tickets/{id}/timeline")).await;
    let added: Vec<&str> =
        timeline.iter().filter(|e| e["kind"] == "member_added").filter_map(|e| e["data"]["open_id"].as_str()).collect();
    assert_eq!(added.len(), 4, "{timeline:#?}");
    assert_eq!(added.iter().filter(|o| **o == t.open_id(3)).count(), 1);

    // Work, resolve, close: one card update shows it closed (the refreshes merge while waiting).
    for to in ["in_progress", "resolved", "closed"] {
        t.desk
            .app
            .post(&format!("/api/v1/tickets/{id}/transition"), &t.desk.app.admin, json!({ "to": to }))
            .await
            .expect(200);
    }
    let report = t.groups_until_idle().await;
    assert_eq!(report.work_done, 1, "{report:?}");
    let cards = t.cards_in(&chat_id);
    assert_eq!(cards.len(), 1, "the card is updated, not posted again");
    assert_eq!(cards[0].update_count, 1);
    assert!(cards[0].content.contains("Closed"), "{}", cards[0].content);
    assert!(!cards[0].content.contains("\"callback\""), "a closed ticket's card offers no actions");
    let group = t.group(&group["id"]).await;
    assert_eq!(group["state"], "active", "the group stays");
    assert!(!t.chats_for(&group)[0].disbanded);

    // A new title renames the chat and shows on its card.
    t.desk
        .app
        .patch(&format!("/api/v1/tickets/{id}"), &t.desk.app.admin, json!({ "title": "Disk full on db-2" }))
        .await
        .expect(200);
    let report = t.groups_until_idle().await;
    assert_eq!(report.work_done, 2, "a rename and a card refresh: {report:?}");
    let chat = t.chats_for(&group).remove(0);
    assert!(chat.name.ends_with("Disk full on db-2"), "{}", chat.name);
    assert!(t.cards_in(&chat_id)[0].content.contains("Disk full on db-2"));
}

async fn main_groups_are_created_through_lark_or_bound(db: Db) {
    let t = acme(db, None).await;
    let unbound = t.desk.app.customer(&t.org, "Not in Lark").await;
    t.desk.customer(&t.org, 4).await;
    let org_id = t.org["id"].as_str().unwrap();
    let path = format!("/api/v1/orgs/{org_id}/main-group");

    // Engineers may not; a chat id must look like one.
    let engineer_token = t.desk.app.token_for(&t.engineer).await;
    t.desk.app.post(&path, &engineer_token, json!({})).await.expect_problem(403, "forbidden");
    t.desk
        .app
        .post(&path, &t.desk.app.admin, json!({ "chat_id": "nope" }))
        .await
        .expect_problem(422, "validation_failed");

    let group = t.desk.app.post(&path, &t.desk.app.admin, json!({})).await.expect(201);
    assert_eq!((group["kind"].as_str(), group["state"].as_str()), (Some("main"), Some("active")));
    let chat_id = group["chat_id"].as_str().unwrap().to_owned();
    let chat = t.chats_for(&group).remove(0);
    let mut members = chat.members.clone();
    members.sort();
    let mut expected: Vec<String> = (0..5).map(|i| t.open_id(i)).filter(|o| *o != t.open_id(3)).collect();
    expected.sort();
    assert_eq!(members, expected, "customers and staff bound to Lark, the TAM; not {}", unbound["name"]);
    let org = t.desk.app.get(&format!("/api/v1/orgs/{org_id}"), &t.desk.app.admin).await.expect(200);
    assert_eq!(org["main_chat_id"], chat_id.as_str());

    t.groups_until_idle().await;
    let cards = t.cards_in(&chat_id);
    assert_eq!(cards.len(), 1);
    assert!(cards[0].content.contains("create_ticket") && cards[0].content.contains("Service Desk"));
    t.desk.app.post(&path, &t.desk.app.admin, json!({})).await.expect_problem(409, "main_group_exists");
    assert_eq!(t.groups(&format!("org_id={org_id}&kind=main")).await.len(), 1);

    // Another organisation binds a chat its people made themselves.
    let globex = t.desk.app.org("Globex").await;
    let globex_path = format!("/api/v1/orgs/{}/main-group", globex["id"].as_str().unwrap());
    let existing = t.desk.chat("Globex support", &[0, 4]).await;
    let bound = t.desk.app.post(&globex_path, &t.desk.app.admin, json!({ "chat_id": existing })).await.expect(200);
    assert_eq!((bound["state"].as_str(), bound["chat_id"].as_str()), (Some("active"), Some(existing.as_str())));
    assert_eq!(bound["pending_work"], 2, "its card and a read of who is in it are on the way");
    t.groups_until_idle().await;
    assert_eq!(t.cards_in(&existing).len(), 1, "the main-group card is posted in the bound chat");
    // The people who were in the chat before it was bound are known now (read from Lark).
    let members = t
        .desk
        .app
        .get(&format!("/api/v1/groups/{}/members", bound["id"].as_str().unwrap()), &t.desk.app.admin)
        .await
        .expect(200);
    let everyone: Vec<&str> = ["colleagues", "service_team", "unknown"]
        .iter()
        .flat_map(|part| members[part].as_array().unwrap().iter().filter_map(|m| m["open_id"].as_str()))
        .collect();
    for i in [0, 4] {
        assert!(everyone.contains(&t.open_id(i).as_str()), "{members:#}");
    }
    // Binding it again changes nothing; another chat, or one that serves a group already, is refused.
    let again = t.desk.app.post(&globex_path, &t.desk.app.admin, json!({ "chat_id": existing })).await.expect(200);
    assert_eq!(again["id"], bound["id"]);
    t.groups_until_idle().await;
    assert_eq!(t.cards_in(&existing).len(), 1);
    let other = t.desk.chat("Globex other", &[0]).await;
    t.desk
        .app
        .post(&globex_path, &t.desk.app.admin, json!({ "chat_id": other }))
        .await
        .expect_problem(409, "main_group_exists");
    let initech = t.desk.app.org("Initech").await;
    let initech_path = format!("/api/v1/orgs/{}/main-group", initech["id"].as_str().unwrap());
    t.desk
        .app
        .post(&initech_path, &t.desk.app.admin, json!({ "chat_id": chat_id }))
        .await
        .expect_problem(409, "chat_taken");
    let globex = t.desk.app.get(&format!("/api/v1/orgs/{}", globex["id"].as_str().unwrap()), &t.desk.app.admin).await;
    assert_eq!(globex.expect(200)["main_chat_id"], existing.as_str());
}

async fn an_external_group_without_the_capability_says_what_to_enable(db: Db) {
    // Acme's people are in their own Lark tenant; the app is the vendor's (`default`).
    let t = acme(db, Some("t-acme-tenant")).await;
    let ticket = t.ticket("Line 3 stopped").await;
    let report = t.groups_until_idle().await;
    assert_eq!((report.created, report.failed), (0, 1), "{report:?}");

    let group = t.group_of(&ticket).await;
    assert_eq!(group["state"], "failed");
    assert_eq!(group["error_code"], "lark_external_chat_disabled");
    let why = group["last_error"].as_str().unwrap();
    assert!(why.contains("two Lark tenants") && why.contains("external sharing"), "{why}");
    assert!(why.contains(&t.desk.sim.app_id), "names the app: {why}");
    assert!(!why.contains("232033"), "no raw Lark code: {why}");
    assert!(t.chats_for(&group).is_empty());
    assert!(t.groups_pass().await.is_idle(), "a refused group is not retried on its own");

    // The integration check says so too.
    let check = t.desk.app.post("/api/v1/integrations/default/check", &t.desk.app.admin, json!({})).await.expect(200);
    assert_eq!(check["ok"], false);
    assert_eq!(check["credentials"]["ok"], true);
    assert_eq!(check["external_groups"]["ok"], false);
    assert_eq!(check["external_groups"]["needed"], true);
    assert!(check["external_groups"]["problem"].as_str().unwrap().contains("external sharing"));
    assert_eq!(check["external_groups"]["group_id"], group["id"]);

    // Creating the main group answers the same, at once.
    let path = format!("/api/v1/orgs/{}/main-group", t.org["id"].as_str().unwrap());
    let refused = t.desk.app.post(&path, &t.desk.app.admin, json!({})).await;
    let problem = refused.expect_problem(409, "lark_external_chat_disabled");
    assert!(problem["detail"].as_str().unwrap().contains("external sharing"), "{problem:#}");

    // Once the app has the capability, a retry makes an external group.
    t.desk.sim.set_external_chats(true);
    let id = group["id"].as_str().unwrap();
    t.desk.app.post(&format!("/api/v1/groups/{id}/retry"), &t.desk.app.admin, json!({})).await.expect(200);
    t.desk
        .app
        .post(&format!("/api/v1/groups/{id}/retry"), &t.desk.app.admin, json!({}))
        .await
        .expect_problem(409, "not_failed");
    let report = t.groups_until_idle().await;
    assert_eq!(report.created, 1, "{report:?}");
    let group = t.group(&group["id"]).await;
    assert_eq!((group["state"].as_str(), group["external"].as_bool()), (Some("active"), Some(true)));
    assert_eq!(group["error_code"], Value::Null);
    assert!(t.chats_for(&group)[0].external);
    let main = t.desk.app.post(&path, &t.desk.app.admin, json!({})).await.expect(201);
    assert_eq!(main["external"], true);
    let check = t.desk.app.post("/api/v1/integrations/default/check", &t.desk.app.admin, json!({})).await.expect(200);
    assert_eq!(check["external_groups"]["ok"], true, "{check:#}");
}

/// Two `desk` instances making groups from one PostgreSQL database, racing in small
/// batches: every ticket gets one chat, made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_group_workers_on_postgres_make_one_chat_per_ticket() {
    use desk_store::SecretBox;
    use group_manager::{GroupManager, GroupSettings};
    use lark_notify::dispatch::Lanes;

    let t = acme(Db::Postgres, None).await;
    let mut tickets = Vec::new();
    for i in 0..12 {
        tickets.push(t.ticket(&format!("Ticket {i}")).await);
    }
    let instance = || async {
        let store = desk_api::startup::connect(&t.desk.settings).await.unwrap();
        let seal = SecretBox::from_base64(t.desk.settings.secret_key.as_ref().unwrap()).unwrap();
        let lanes = Lanes::new(store.clone(), Some(seal), t.desk.clock.clone(), Duration::from_secs(10));
        let settings = GroupSettings { batch: 2, ..GroupSettings::new("http://desk.test") };
        GroupManager::new(store, t.desk.clock.clone(), lanes, settings)
    };
    let (one, two) = (instance().await, instance().await);
    let (mut made_one, mut made_two) = (GroupReport::default(), GroupReport::default());
    for _ in 0..30 {
        let (a, b) = tokio::join!(one.run_once(), two.run_once());
        let (a, b) = (a.unwrap(), b.unwrap());
        if a.is_idle() && b.is_idle() {
            break;
        }
        made_one += a;
        made_two += b;
    }
    assert_eq!(made_one.created + made_two.created, 12, "{made_one:?} {made_two:?}");
    assert_eq!(made_one.work_done + made_two.work_done, 12, "one card each");
    assert_eq!(made_one.retried + made_two.retried, 0);
    let chats = t.desk.sim.snapshot().chats;
    assert_eq!(chats.len(), 12, "one chat per ticket");
    for ticket in &tickets {
        let group = t.group_of(ticket).await;
        assert_eq!(group["state"], "active");
        assert_eq!(t.chats_for(&group).len(), 1);
        assert_eq!(t.cards_in(group["chat_id"].as_str().unwrap()).len(), 1);
    }
    assert_eq!(t.chat_create_calls(), 12, "no group was made twice");
}
