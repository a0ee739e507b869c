//! Lark inbound, end to end: lark-sim pushes what people do in Lark (messages, clicks,
//! membership changes) to the real desk over its webhook or its long connection, and the
//! desk acts and answers through Lark.

use std::time::Duration;

use lark_notify::cards::{self, Lang};
use lark_notify::wire::{Content, ReceiveId};
use lark_sim::{Click, Say};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::Db;
use crate::support::lark::{Ear, LarkDesk};

/// Directory users: 0 is the TAM, 1 an engineer, 2 and 3 customers of Acme, 4 someone in
/// Acme's group whom the desk does not know.
struct Acme {
    desk: LarkDesk,
    org: Value,
    main_chat: String,
    engineer: Value,
}

async fn acme(db: Db, ear: Ear) -> Acme {
    let desk = Box::pin(LarkDesk::listening(db, 5, ear)).await;
    let tam = desk.staff(0, "tam").await;
    let engineer = desk.staff(1, "engineer").await;
    let main_chat = desk.chat("Acme support", &[0, 1, 2, 3, 4]).await;
    let org = desk
        .app
        .post(
            "/api/v1/orgs",
            &desk.app.admin,
            json!({ "name": "Acme", "tam_id": tam["id"], "main_chat_id": main_chat }),
        )
        .await
        .expect(201);
    desk.customer(&org, 2).await;
    desk.customer(&org, 3).await;
    Acme { desk, org, main_chat, engineer }
}

impl Acme {
    /// Directory user `i` writes `text` in their chat with the bot.
    async fn dm(&self, i: usize, text: &str) -> lark_sim::Pushed {
        let say = Say { from_open_id: self.desk.user(i).open_id, chat_id: None, text: text.into(), mention_bot: false };
        self.desk.sim.user_says(say).await.expect("the sim pushes the message")
    }

    /// Waits until Lark (the sim) has pushed everything it queued, then works it.
    async fn settle(&self) {
        assert!(self.desk.sim.wait_delivered(Duration::from_secs(10)).await, "the sim's pushes were acknowledged");
        self.desk.work().await;
    }

    /// Every ticket, oldest first.
    async fn tickets(&self) -> Vec<Value> {
        let mut all = self.desk.app.walk("/api/v1/tickets?limit=200").await;
        all.reverse();
        all
    }

    /// The bot's cards in `chat`, as text, in order.
    fn said_in(&self, chat: &str) -> Vec<String> {
        self.desk.cards().into_iter().filter(|m| m.chat_id == chat).map(|m| m.content).collect()
    }

    /// Directory user `i` clicks a button with `value` on card message `message_id`.
    async fn click(&self, i: usize, message_id: &str, value: Value, form: Option<Value>) -> Value {
        let click = Click {
            operator_open_id: self.desk.user(i).open_id,
            message_id: message_id.into(),
            value,
            form_value: form,
        };
        let answer = self.desk.sim.click(click).await.expect("the sim delivers the click");
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.elapsed < Duration::from_secs(3), "answered inside Lark's limit: {answer:?}");
        answer.body
    }

    /// Sends the main group's card into the main chat, as the group manager does, and
    /// returns its message id.
    async fn main_card(&self) -> String {
        let state = &self.desk.app.state;
        let integration = state.store.integration("default").await.unwrap();
        let client = state.lanes.client(&integration).await.unwrap();
        let org_id = self.org["id"].as_str().unwrap();
        let card = cards::main_group_card("Acme", org_id, "http://desk.test", Lang::En).unwrap();
        let to = ReceiveId::chat(self.main_chat.clone());
        client.send_message(&to, &Content::Card(card), &uuid::Uuid::now_v7().to_string()).await.unwrap().message_id
    }
}

/// The story of the issue: a customer writes `new printer on fire` to the bot; the ticket
/// exists, its group is requested, and the bot answers in the same chat.
async fn a_chat_command_opens_a_ticket(db: Db) {
    let acme = acme(db, Ear::Webhook).await;
    let pushed = acme.dm(2, "new printer on fire").await;
    assert_eq!(pushed.first_status, Some(200), "acknowledged at once");
    acme.desk.work().await;

    let tickets = acme.tickets().await;
    assert_eq!(tickets.len(), 1);
    let ticket = &tickets[0];
    assert_eq!(ticket["title"], "printer on fire");
    assert_eq!(ticket["org_id"], acme.org["id"]);
    assert_eq!(
        ticket["requester_id"],
        acme.desk.app.get("/api/v1/people?q=Person%202", &acme.desk.app.admin).await.expect(200)["items"][0]["id"]
    );
    let id: desk_core::TicketId = ticket["id"].as_str().unwrap().parse().unwrap();
    let group = acme.desk.app.state.store.ticket_chat(id).await.unwrap().expect("a ticket group is requested");
    assert_eq!(group.state, desk_store::ChatState::Requested);

    let answers = acme.said_in(&pushed.chat_id);
    assert_eq!(answers.len(), 1, "one answer, in the chat it was asked in: {answers:?}");
    assert!(answers[0].contains("printer on fire") && answers[0].contains("#1"), "{}", answers[0]);

    // Chinese keywords, answered in the reader's language.
    let zh = acme.desk.app.get("/api/v1/people?q=Person%203", &acme.desk.app.admin).await.expect(200)["items"][0]["id"]
        .clone();
    acme.desk
        .app
        .patch(&format!("/api/v1/people/{}", zh.as_str().unwrap()), &acme.desk.app.admin, json!({ "locale": "zh" }))
        .await
        .expect(200);
    let asked = acme.dm(3, "状态").await;
    acme.desk.work().await;
    let answers = acme.said_in(&asked.chat_id);
    assert_eq!(answers.len(), 1);
    assert!(answers[0].contains("您没有未关闭的工单"), "{}", answers[0]);

    // The timeline says who did it: the customer, through Lark.
    let timeline = acme.desk.app.get(&format!("/api/v1/tickets/{id}/timeline"), &acme.desk.app.admin).await.expect(200);
    assert_eq!(timeline["items"][0]["actor"]["kind"], "customer");
}

/// The same event delivered three times (Lark's at-least-once), and once more after a
/// restart, is handled once.
async fn the_same_event_three_times_is_handled_once(db: Db) {
    let acme = acme(db, Ear::Webhook).await;
    let pushed = acme.dm(3, "ticket VPN drops every hour").await;
    for _ in 0..2 {
        assert_eq!(acme.desk.sim.redeliver(&pushed.event_id).await.unwrap(), 200);
    }
    acme.desk.work().await;
    assert_eq!(acme.tickets().await.len(), 1);
    assert_eq!(acme.said_in(&pushed.chat_id).len(), 1, "answered once");

    // A second server on the same database (a restart) still knows the event.
    let again =
        Box::pin(crate::support::TestApp::spawn_manual(acme.desk.settings.clone(), acme.desk.clock.clone())).await;
    acme.desk.sim.subscribe(lark_sim::Subscription::Webhook {
        events_url: format!("{}/lark/default/events", again.base),
        cards_url: format!("{}/lark/default/cards", again.base),
        verification_token: crate::support::lark::VERIFICATION_TOKEN.to_owned(),
        encrypt_key: Some(crate::support::lark::ENCRYPT_KEY.to_owned()),
    });
    assert_eq!(acme.desk.sim.redeliver(&pushed.event_id).await.unwrap(), 200);
    assert_eq!(again.state.inbound.run_once().await.unwrap(), 0, "nothing new to handle");
    assert_eq!(acme.tickets().await.len(), 1);
}

/// Someone the desk does not know is told how to get linked, but once an hour, not once a
/// message: every answer is a billed Lark call.
async fn a_stranger_is_answered_once_an_hour(db: Db) {
    let acme = acme(db, Ear::Webhook).await;
    let first = acme.dm(4, "hello?").await;
    acme.dm(4, "new my laptop").await;
    acme.dm(4, "anyone there").await;
    acme.desk.work().await;
    let answers = acme.said_in(&first.chat_id);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(answers[0].contains("not linked"), "{}", answers[0]);
    assert!(acme.tickets().await.is_empty(), "a stranger opens nothing");

    acme.desk.advance(chrono::TimeDelta::minutes(61));
    acme.dm(4, "hello again").await;
    acme.desk.work().await;
    assert_eq!(acme.said_in(&first.chat_id).len(), 2);
}

/// A group message handled a second time (the worker died after writing the comment,
/// before marking the event done) still makes one comment and one timeline entry.
async fn a_comment_from_lark_is_kept_once(db: Db) {
    let acme = acme(db, Ear::Webhook).await;
    let ticket = acme.desk.app.ticket(&acme.desk.app.admin, &acme.org, "Badge reader beeps").await;
    let id: desk_core::TicketId = ticket["id"].as_str().unwrap().parse().unwrap();
    let actor = desk_core::Actor { kind: desk_core::ActorKind::Customer, person_id: None, name: "Lark user".into() };
    let said = desk_core::NewComment::parse("it beeps twice now", None).unwrap().in_group().keyed("lark:ev-1");
    let store = &acme.desk.app.state.store;
    let first = store.add_comment(id, said.clone(), &actor, acme.desk.now()).await.unwrap();
    let again = store.add_comment(id, said, &actor, acme.desk.now()).await.unwrap();
    assert_eq!(first.id, again.id);
    let comments = acme.desk.app.get(&format!("/api/v1/tickets/{id}/comments"), &acme.desk.app.admin).await.expect(200);
    assert_eq!(comments["items"].as_array().unwrap().len(), 1);
    let timeline = acme.desk.app.get(&format!("/api/v1/tickets/{id}/timeline"), &acme.desk.app.admin).await.expect(200);
    let commented = timeline["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "commented").count();
    assert_eq!(commented, 1);
}

/// Lark has its acknowledgement, then the server dies before handling the event: the
/// next server on the same database handles it, once.
async fn an_acknowledged_event_survives_a_crash(db: Db) {
    let acme = acme(db, Ear::Webhook).await;
    let pushed = acme.dm(2, "new Projector flickers").await;
    assert_eq!(pushed.first_status, Some(200));
    // No work done here: this server is gone; another starts on the same database.
    let next =
        Box::pin(crate::support::TestApp::spawn_manual(acme.desk.settings.clone(), acme.desk.clock.clone())).await;
    assert_eq!(next.state.inbound.run_once().await.unwrap(), 1);
    assert_eq!(next.state.inbound.run_once().await.unwrap(), 0);
    let tickets = acme.tickets().await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["title"], "Projector flickers");
}

/// The card story: Create Ticket on the main group's card opens a ticket (and asks for
/// its group); Escalate and Emergency on the ticket's card change the ticket and the card.
async fn card_buttons_open_escalate_and_declare(db: Db) {
    let acme = acme(db, Ear::Webhook).await;
    let main_card = acme.main_card().await;
    let org_id = acme.org["id"].as_str().unwrap();

    let answer = acme
        .click(
            2,
            &main_card,
            json!({ "action": "create_ticket", "org_id": org_id }),
            Some(json!({ "title": "Scanner jams" })),
        )
        .await;
    assert_eq!(answer["toast"]["type"], "success", "{answer}");
    assert_eq!(answer["toast"]["content"], "Ticket #1 created: Scanner jams");
    assert_eq!(answer["toast"]["i18n"]["zh_cn"], "工单 #1 已创建：Scanner jams");
    let tickets = acme.tickets().await;
    assert_eq!(tickets.len(), 1);
    let ticket_id = tickets[0]["id"].as_str().unwrap().to_owned();
    let id: desk_core::TicketId = ticket_id.parse().unwrap();
    assert!(acme.desk.app.state.store.ticket_chat(id).await.unwrap().is_some(), "ticket group requested");

    // The ticket's card, as the bot shows it when asked.
    let pushed = acme.dm(2, "status #1").await;
    acme.desk.work().await;
    let card_message = acme.desk.cards().into_iter().rfind(|m| m.chat_id == pushed.chat_id).unwrap();
    assert!(card_message.content.contains("Escalate"), "{}", card_message.content);

    let answer =
        acme.click(2, &card_message.message_id, json!({ "action": "escalate", "ticket_id": ticket_id }), None).await;
    assert_eq!(answer["toast"]["type"], "success", "{answer}");
    assert!(answer["card"]["data"].to_string().contains("senior engineer"), "the card says so: {answer}");
    let ticket = acme.desk.app.get(&format!("/api/v1/tickets/{ticket_id}"), &acme.desk.app.admin).await.expect(200);
    assert_eq!(ticket["escalation"]["level"], 1);

    // Emergency asks what broke, then declares.
    let answer =
        acme.click(2, &card_message.message_id, json!({ "action": "emergency", "ticket_id": ticket_id }), None).await;
    let choice = answer["card"]["data"].to_string();
    assert!(choice.contains("data_loss") && choice.contains("service_unavailable"), "{answer}");
    let before = acme.desk.app.get(&format!("/api/v1/tickets/{ticket_id}"), &acme.desk.app.admin).await.expect(200);
    assert!(before["emergency"].is_null(), "asking changed nothing");
    let value = json!({ "action": "emergency", "ticket_id": ticket_id, "kind": "service_unavailable", "text": "" });
    let answer = acme.click(2, &card_message.message_id, value, None).await;
    assert_eq!(answer["toast"]["type"], "success", "{answer}");
    let card = answer["card"]["data"].to_string();
    assert!(card.contains("Emergency declared") && card.contains("Acknowledge"), "{card}");
    let ticket = acme.desk.app.get(&format!("/api/v1/tickets/{ticket_id}"), &acme.desk.app.admin).await.expect(200);
    assert_eq!(ticket["severity"], "P1");
    assert_eq!(ticket["emergency"]["kind"], "service_unavailable");

    // A customer may not acknowledge; the engineer may.
    let ack = json!({ "action": "acknowledge", "ticket_id": ticket_id });
    // (on a card both can see: the main group's)
    let answer = acme.click(3, &main_card, ack.clone(), None).await;
    assert_eq!(answer["toast"]["type"], "error", "{answer}");
    let answer = acme.click(1, &main_card, ack, None).await;
    assert_eq!(answer["toast"]["type"], "success", "{answer}");
    assert!(answer["card"]["data"].to_string().contains(acme.engineer["name"].as_str().unwrap()), "{answer}");

    // Someone the desk does not know is refused, and nothing changes.
    let stranger = Click {
        operator_open_id: acme.desk.user(4).open_id,
        message_id: main_card.clone(),
        value: json!({ "action": "create_ticket", "org_id": org_id }),
        form_value: None,
    };
    let answer = acme.desk.sim.click(stranger).await.unwrap();
    assert_eq!(answer.body["toast"]["type"], "error", "{answer:?}");
    assert_eq!(acme.tickets().await.len(), 1);
}

/// A message in a ticket group becomes the ticket's timeline and tells the assignee;
/// membership changes and a disbanded group are kept in step.
async fn ticket_group_messages_and_membership(db: Db) {
    let acme = acme(db, Ear::Webhook).await;
    acme.dm(2, "new Laptop will not boot").await;
    acme.desk.work().await;
    let ticket = acme.tickets().await.remove(0);
    let ticket_id = ticket["id"].as_str().unwrap();
    acme.desk
        .app
        .post(
            &format!("/api/v1/tickets/{ticket_id}/assign"),
            &acme.desk.app.admin,
            json!({ "assignee_id": acme.engineer["id"] }),
        )
        .await
        .expect(200);
    // The group exists in Lark (the group manager's part): bind it to the request.
    let group_chat = acme.desk.chat("#1 Laptop will not boot", &[1, 2]).await;
    let store = &acme.desk.app.state.store;
    let group = store.ticket_chat(ticket_id.parse().unwrap()).await.unwrap().unwrap();
    store.activate_chat(group.row_id, &group_chat, acme.desk.now()).await.unwrap();
    acme.desk.work().await;
    // Past the engineer's notification window, so the next card may go at once.
    acme.desk.advance(chrono::TimeDelta::minutes(11));
    let cards_before = acme.desk.cards_to(1).len();

    let say = Say {
        from_open_id: acme.desk.user(2).open_id,
        chat_id: Some(group_chat.clone()),
        text: "it shows a blinking cursor now".into(),
        mention_bot: true,
    };
    acme.desk.sim.user_says(say).await.unwrap();
    acme.desk.work().await;
    let comments =
        acme.desk.app.get(&format!("/api/v1/tickets/{ticket_id}/comments"), &acme.desk.app.admin).await.expect(200);
    assert_eq!(comments["items"][0]["body"], "it shows a blinking cursor now");
    let told = acme.desk.cards_to(1);
    assert_eq!(told.len(), cards_before + 1, "the assignee hears of the customer's reply");
    assert!(told.last().unwrap().content.contains("blinking cursor"));
    assert!(acme.said_in(&group_chat).is_empty(), "the group is not told what it just read");

    // What staff say over REST goes to the ticket's own group, not the main one.
    let engineer_token = acme.desk.app.token_for(&acme.engineer).await;
    acme.desk
        .app
        .post(
            &format!("/api/v1/tickets/{ticket_id}/comments"),
            &engineer_token,
            json!({ "body": "Hold the power button for 10 s" }),
        )
        .await
        .expect(201);
    acme.desk.work().await;
    let in_group = acme.said_in(&group_chat);
    assert_eq!(in_group.len(), 1, "{in_group:?}");
    assert!(in_group[0].contains("Hold the power button"));
    assert!(acme.said_in(&acme.main_chat).iter().all(|c| !c.contains("Hold the power button")));

    // Someone joins the group in Lark, then leaves; then the group is disbanded.
    let joiner = acme.desk.user(3).open_id;
    assert!(acme.desk.sim.join_chat(&group_chat, &[&joiner]));
    acme.settle().await;
    let members: Vec<String> = store.chat_members(group.row_id).await.unwrap().into_iter().map(|m| m.open_id).collect();
    assert!(members.contains(&joiner), "{members:?}");
    assert!(acme.desk.sim.leave(&group_chat, &joiner));
    acme.settle().await;
    let members: Vec<String> = store.chat_members(group.row_id).await.unwrap().into_iter().map(|m| m.open_id).collect();
    assert!(!members.contains(&joiner), "{members:?}");

    let tam_cards = acme.desk.cards_to(0).len();
    assert!(acme.desk.sim.disband(&group_chat, &acme.desk.user(2).open_id));
    acme.desk.advance(chrono::TimeDelta::minutes(11));
    acme.settle().await;
    let group = store.ticket_chat(ticket_id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(group.state, desk_store::ChatState::Gone);
    let told = acme.desk.cards_to(0);
    assert_eq!(told.len(), tam_cards + 1, "the TAM hears the group is gone");
    assert!(told.last().unwrap().content.contains("disbanded"));
}

/// Over the long connection: events are handled, and when lark-sim drops the connection
/// mid-stream, the desk reconnects and nothing is lost or handled twice.
async fn the_long_connection_survives_a_drop(db: Db) {
    let acme = acme(db, Ear::LongConnection).await;
    let pushed = acme.dm(2, "new first over the long connection").await;
    assert_eq!(pushed.first_status, Some(200));
    acme.desk.work().await;
    assert_eq!(acme.said_in(&pushed.chat_id).len(), 1, "the bot answered");

    acme.desk.sim.drop_connections_after(3);
    for n in 0..8 {
        acme.dm(3, &format!("new burst {n}")).await;
    }
    assert!(acme.desk.sim.wait_delivered(Duration::from_secs(20)).await, "every event acknowledged in the end");
    acme.desk.work().await;
    let titles: Vec<String> = acme.tickets().await.iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect();
    assert_eq!(titles.len(), 9, "{titles:?}");
    for n in 0..8 {
        assert_eq!(titles.iter().filter(|t| **t == format!("burst {n}")).count(), 1, "{titles:?}");
    }
    let status = acme.desk.app.get("/api/v1/integrations/default/status", &acme.desk.app.admin).await.expect(200);
    assert!(status["connection"]["reconnects"].as_u64().unwrap() >= 1, "{status}");
    assert_eq!(status["connection"]["connected"], true, "{status}");
    assert_eq!(status["bot"]["open_id"], acme.desk.sim.bot_open_id(), "{status}");

    // An admin can take the connection down and bring it back.
    let down = acme
        .desk
        .app
        .post("/api/v1/integrations/default/connection/disconnect", &acme.desk.app.admin, json!({}))
        .await
        .expect(202);
    assert_eq!(down["connected"], false, "{down}");
    acme.desk
        .app
        .post("/api/v1/integrations/default/connection/reconnect", &acme.desk.app.admin, json!({}))
        .await
        .expect(202);
    acme.desk.until_connected().await;
}

on_both_databases!(
    a_chat_command_opens_a_ticket,
    an_acknowledged_event_survives_a_crash,
    a_stranger_is_answered_once_an_hour,
    a_comment_from_lark_is_kept_once,
    the_same_event_three_times_is_handled_once,
    card_buttons_open_escalate_and_declare,
    ticket_group_messages_and_membership,
    the_long_connection_survives_a_drop,
);
