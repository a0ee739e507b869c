use std::time::Duration;

use lark_sim::{Say, SimHandle, Subscription};
use reqwest::Method;
use serde_json::{Value, json};

use crate::receiver::{Receiver, assert_same_shape, fixture};
use crate::support::{CHATS, MESSAGES, TestSim};

fn subscribe(sim: &SimHandle, rx: &Receiver) {
    sim.subscribe(Subscription::Webhook {
        events_url: rx.url("/events"),
        cards_url: rx.url("/cards"),
        verification_token: "tok".into(),
        encrypt_key: None,
    });
}

/// What the receiver got, by event type, in arrival order.
fn bodies_of(rx: &Receiver, event_type: &str) -> Vec<Value> {
    rx.received().iter().map(|r| r.open(None)).filter(|b| b["header"]["event_type"] == event_type).collect()
}

#[tokio::test]
async fn a_p2p_message_and_the_bots_answers_share_one_chat() {
    let t = TestSim::start().await;
    let rx = Receiver::start();
    subscribe(&t.sim, &rx);
    let alice = t.user("Alice");
    let said =
        Say { from_open_id: alice.open_id.clone(), chat_id: None, text: "printer jam".into(), mention_bot: false };
    let pushed = t.sim.user_says(said).await.unwrap();

    let dm = t.send_text("open_id", &alice.open_id, "on it").await;
    assert_eq!(dm.ok()["chat_id"], pushed.chat_id.as_str());
    let reply = t
        .post(
            &format!("{MESSAGES}/{}/reply", pushed.message_id),
            json!({"msg_type": "text", "content": "{\"text\":\"fixed\"}"}),
        )
        .await;
    assert_eq!(reply.ok()["chat_id"], pushed.chat_id.as_str());
    assert_eq!(reply.ok()["parent_id"], pushed.message_id.as_str());

    let state = t.state().await;
    assert_eq!(state["chats"].as_array().unwrap().len(), 1, "one p2p chat");
    let messages = state["messages"].as_array().unwrap();
    assert_eq!(
        (messages[0]["sender_type"].as_str(), messages[0]["sender_id"].as_str()),
        (Some("user"), Some(alice.open_id.as_str()))
    );
    assert_eq!(messages[0]["content"], json!({"text": "printer jam"}).to_string());
    assert_eq!(
        (messages[1]["sender_type"].as_str(), messages[1]["sender_id"].as_str()),
        (Some("app"), Some(t.sim.app_id.as_str()))
    );

    // The other way round: the bot writes first, the user answers in that chat.
    let bob = t.user("Bob");
    let first = t.send_text("open_id", &bob.open_id, "your ticket").await;
    let said = Say { from_open_id: bob.open_id.clone(), chat_id: None, text: "thanks".into(), mention_bot: false };
    assert_eq!(t.sim.user_says(said).await.unwrap().chat_id, first.ok()["chat_id"].as_str().unwrap());
}

#[tokio::test]
async fn group_messages_reach_the_bot_only_when_it_is_mentioned() {
    let t = TestSim::start().await;
    let rx = Receiver::start();
    subscribe(&t.sim, &rx);
    let (alice, bob) = (t.user("Alice"), t.user("Bob"));
    let chat = t.create_chat("T-1001", &[&alice.open_id, &bob.open_id]).await;

    let chatter = Say {
        from_open_id: alice.open_id.clone(),
        chat_id: Some(chat.clone()),
        text: "lunch?".into(),
        mention_bot: false,
    };
    let pushed = t.sim.user_says(chatter).await.unwrap();
    assert_eq!((pushed.event_id.as_str(), pushed.first_status), ("", None));
    assert_eq!(pushed.chat_id, chat);

    let text = format!("please loop in <at user_id=\"{}\">Bob</at> on this", bob.open_id);
    let asked = Say { from_open_id: alice.open_id.clone(), chat_id: Some(chat.clone()), text, mention_bot: true };
    let pushed = t.sim.user_says(asked).await.unwrap();
    assert_eq!(pushed.first_status, Some(200));
    let events = bodies_of(&rx, "im.message.receive_v1");
    assert_eq!(events.len(), 1);
    assert_same_shape(&events[0], &fixture("im.message.receive_v1.group_mentions"), &["root_id", "parent_id"]);
    let message = &events[0]["event"]["message"];
    assert_eq!(message["chat_type"], "group");
    assert_eq!(message["content"], json!({"text": "@_user_1 please loop in @_user_2 on this"}).to_string());
    let mentions = message["mentions"].as_array().unwrap();
    assert_eq!(mentions[0]["key"], "@_user_1");
    assert_eq!(mentions[0]["id"]["open_id"], t.sim.bot_open_id().as_str());
    assert_eq!(mentions[1]["id"], json!({"union_id": bob.union_id, "user_id": bob.user_id, "open_id": bob.open_id}));
    assert_eq!(mentions[1]["name"], "Bob");
    assert_eq!(t.state().await["messages"].as_array().unwrap().len(), 2, "both messages are stored");

    let outsider = Say {
        from_open_id: t.user("Carol").open_id,
        chat_id: Some(chat.clone()),
        text: "hi".into(),
        mention_bot: true,
    };
    assert!(t.sim.user_says(outsider).await.is_err(), "Carol is not in the chat");

    let without_bot = t.side("/_sim/chats", json!({"name": "water cooler", "open_ids": [alice.open_id]})).await;
    let elsewhere = Say {
        from_open_id: alice.open_id.clone(),
        chat_id: Some(without_bot["chat_id"].as_str().unwrap().to_owned()),
        text: "hello".into(),
        mention_bot: true,
    };
    assert_eq!(t.sim.user_says(elsewhere).await.unwrap().event_id, "", "the bot is not in that chat");
}

#[tokio::test]
async fn membership_changes_and_disbanding_push_chat_events() {
    let t = TestSim::start().await;
    let rx = Receiver::start();
    subscribe(&t.sim, &rx);
    let (alice, bob, carol) = (t.user("Alice"), t.user("Bob"), t.user("Carol"));
    let chat = t.create_chat("T-1001 laptop will not boot", &[&alice.open_id]).await;
    let members = format!("{CHATS}/{chat}/members");
    t.post(&members, json!({"id_list": [bob.open_id]})).await.ok();
    t.call(Method::DELETE, &members, Some(json!({"id_list": [bob.open_id]}))).await.ok();
    assert!(t.sim.join_chat(&chat, &[&carol.open_id]));
    assert!(t.sim.leave(&chat, &carol.open_id));
    assert!(!t.sim.leave(&chat, &carol.open_id), "no longer a member");
    assert!(t.sim.disband(&chat, &alice.open_id));
    assert!(t.sim.wait_delivered(Duration::from_secs(5)).await);

    let ids = |u: &lark_sim::SimUserInfo| json!({"union_id": u.union_id, "user_id": u.user_id, "open_id": u.open_id});
    let added = bodies_of(&rx, "im.chat.member.user.added_v1");
    let deleted = bodies_of(&rx, "im.chat.member.user.deleted_v1");
    assert_eq!((added.len(), deleted.len()), (2, 2));
    for body in added.iter().chain(&deleted) {
        assert_same_shape(body, &fixture("im.chat.member.user.added_v1"), &[]);
        assert_eq!(body["event"]["chat_id"], chat.as_str());
        assert_eq!(body["event"]["name"], "T-1001 laptop will not boot");
        assert_eq!(body["event"]["i18n_names"]["en_us"], "T-1001 laptop will not boot");
    }
    let by_operator = |bodies: &[Value], open_id: &str| -> Value {
        bodies.iter().find(|b| b["event"]["operator_id"]["open_id"] == open_id).unwrap()["event"].clone()
    };
    let bot = t.sim.bot_open_id();
    let by_bot = by_operator(&added, &bot);
    assert!(by_bot["operator_id"]["union_id"].as_str().unwrap().starts_with("on_"), "the bot has a union_id");
    assert_eq!(by_bot["operator_id"]["user_id"], "", "but no tenant user_id");
    assert_eq!(by_bot["users"], json!([{"name": "Bob", "tenant_key": t.sim.tenant_key, "user_id": ids(&bob)}]));
    assert_eq!(by_operator(&deleted, &bot)["users"][0]["user_id"], ids(&bob));
    assert_eq!(by_operator(&added, &carol.open_id)["users"][0]["user_id"], ids(&carol));
    assert_eq!(by_operator(&added, &carol.open_id)["operator_id"], ids(&carol));
    assert_eq!(by_operator(&deleted, &carol.open_id)["users"][0]["user_id"], ids(&carol));

    let disbanded = bodies_of(&rx, "im.chat.disbanded_v1");
    assert_eq!(disbanded.len(), 1);
    assert_same_shape(&disbanded[0], &fixture("im.chat.disbanded_v1"), &[]);
    assert_eq!(disbanded[0]["event"]["operator_id"], ids(&alice));

    let other = t.create_chat("short-lived", &[&alice.open_id]).await;
    t.call(Method::DELETE, &format!("{CHATS}/{other}"), None).await.ok();
    assert!(t.sim.wait_delivered(Duration::from_secs(5)).await);
    let disbanded = bodies_of(&rx, "im.chat.disbanded_v1");
    assert_eq!(disbanded[1]["event"]["chat_id"], other.as_str());
    assert_eq!(disbanded[1]["event"]["operator_id"]["open_id"], t.sim.bot_open_id().as_str());
}

#[tokio::test]
async fn chats_without_the_bot_and_apps_without_a_subscription_get_nothing() {
    let t = TestSim::start().await;
    let alice = t.user("Alice");
    let with_bot = t.create_chat("unsubscribed", &[]).await;
    assert!(t.sim.join_chat(&with_bot, &[&alice.open_id]));
    assert!(t.sim.events().is_empty(), "no subscription, no events");

    let rx = Receiver::start();
    subscribe(&t.sim, &rx);
    let without_bot = t.side("/_sim/chats", json!({"name": "no bot", "open_ids": [alice.open_id]})).await;
    let chat = without_bot["chat_id"].as_str().unwrap();
    t.side(&format!("/_sim/chats/{chat}/members"), json!({"open_ids": [t.user("Bob").open_id]})).await;
    assert!(t.sim.disband(chat, &alice.open_id));
    assert!(t.sim.events().is_empty(), "the bot is not in that chat");

    t.side(&format!("/_sim/chats/{with_bot}/members"), json!({"open_ids": [t.user("Bob").open_id]})).await;
    assert!(t.sim.wait_delivered(Duration::from_secs(5)).await);
    assert_eq!(bodies_of(&rx, "im.chat.member.user.added_v1").len(), 1, "the side route pushes too");
}
