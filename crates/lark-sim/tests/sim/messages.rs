use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::{CHATS, MESSAGES, TestSim, card};

#[tokio::test]
async fn text_to_an_open_id_returns_the_message_object_and_opens_a_p2p_chat() {
    let t = TestSim::start().await;
    let alice = t.user("Alice");
    let content = json!({"text": "hello"}).to_string();
    let resp = t.send("open_id", &alice.open_id, "text", &content).await;
    let msg = resp.ok();
    assert!(msg["message_id"].as_str().unwrap().starts_with("om_"));
    assert!(msg["chat_id"].as_str().unwrap().starts_with("oc_"));
    assert!(msg["create_time"].as_str().unwrap().parse::<i64>().is_ok(), "create_time is a string of ms");
    assert_eq!(msg["msg_type"], "text");
    assert_eq!(msg["body"]["content"], content.as_str());
    assert_eq!(
        msg["sender"],
        json!({"id": t.sim.app_id, "id_type": "app_id", "sender_type": "app", "tenant_key": t.sim.tenant_key})
    );

    let again = t.send_text("email", "alice@example.com", "again").await;
    assert_eq!(again.ok()["chat_id"], msg["chat_id"], "the same p2p chat is reused");
    let state = t.state().await;
    let chats = state["chats"].as_array().unwrap();
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0]["p2p"], true);
    assert_eq!(chats[0]["members"], json!([alice.open_id]));
    assert_eq!(state["messages"].as_array().unwrap().len(), 2);
    assert_eq!(state["messages"][0]["content"], content.as_str());
}

#[tokio::test]
async fn interactive_card_is_sent_to_a_chat() {
    let t = TestSim::start().await;
    let chat = t.create_chat("T-1001", &[&t.user("Bob").open_id]).await;
    let resp = t.send("chat_id", &chat, "interactive", &card("**Priority:** high")).await;
    let msg = resp.ok();
    assert_eq!(msg["chat_id"], chat.as_str());
    assert_eq!(msg["msg_type"], "interactive");
    let cardkit = json!({"type": "card", "data": {"card_id": "7355372766134157313"}}).to_string();
    t.send("chat_id", &chat, "interactive", &cardkit).await.ok();
}

#[tokio::test]
async fn same_uuid_within_an_hour_returns_the_first_message_and_creates_nothing() {
    let t = TestSim::start().await;
    let alice = t.user("Alice").open_id;
    let body = |text: &str| json!({"receive_id": alice, "msg_type": "text", "content": json!({"text": text}).to_string(), "uuid": "ticket-42-opened"});
    let path = format!("{MESSAGES}?receive_id_type=open_id");
    let first = t.post(&path, body("one")).await;
    let second = t.post(&path, body("two")).await;
    assert_eq!(first.ok()["message_id"], second.ok()["message_id"]);
    assert_eq!(t.state().await["messages"].as_array().unwrap().len(), 1);

    t.sim.advance_clock(Duration::from_secs(3601));
    let third = t.post(&path, body("three")).await;
    assert_ne!(third.ok()["message_id"], first.ok()["message_id"], "after an hour the uuid is free again");
    assert_eq!(t.state().await["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn content_that_is_not_a_string_or_does_not_fit_msg_type_is_230001() {
    let t = TestSim::start().await;
    let alice = t.user("Alice").open_id;
    let path = format!("{MESSAGES}?receive_id_type=open_id");
    let as_object = json!({"receive_id": alice, "msg_type": "text", "content": {"text": "hi"}});
    t.post(&path, as_object).await.assert_err(400, 230_001);
    t.send("open_id", &alice, "text", r#"{"body":"hi"}"#).await.assert_err(400, 230_001);
    t.send("open_id", &alice, "text", "not json").await.assert_err(400, 230_001);
    t.send("open_id", &alice, "carrier_pigeon", r#"{"text":"hi"}"#).await.assert_err(400, 230_001);
    let no_type = json!({"receive_id": alice, "msg_type": "text", "content": "{\"text\":\"hi\"}"});
    t.post(MESSAGES, no_type).await.assert_err(400, 230_001);
    let long_uuid =
        json!({"receive_id": alice, "msg_type": "text", "content": "{\"text\":\"hi\"}", "uuid": "u".repeat(51)});
    t.post(&path, long_uuid).await.assert_err(400, 230_001);
    assert_eq!(t.state().await["messages"], json!([]));
}

#[tokio::test]
async fn a_card_that_is_not_a_card_is_230099() {
    let t = TestSim::start().await;
    let alice = t.user("Alice").open_id;
    t.send("open_id", &alice, "interactive", r#"{"text":"hi"}"#).await.assert_err(400, 230_099);
    t.send("open_id", &alice, "interactive", "{broken").await.assert_err(400, 230_099);
}

#[tokio::test]
async fn oversize_card_and_text_are_230025() {
    let t = TestSim::start().await;
    let alice = t.user("Alice").open_id;
    let big_card = card(&"x".repeat(31 * 1024));
    t.send("open_id", &alice, "interactive", &big_card).await.assert_err(400, 230_025);
    let big_text = json!({"text": "x".repeat(151 * 1024)}).to_string();
    t.send("open_id", &alice, "text", &big_text).await.assert_err(400, 230_025);
    let fine_text = json!({"text": "x".repeat(100 * 1024)}).to_string();
    t.send("open_id", &alice, "text", &fine_text).await.ok();
}

#[tokio::test]
async fn chat_without_the_bot_is_230002() {
    let t = TestSim::start().await;
    let bob = t.user("Bob").open_id;
    let chat =
        t.post(CHATS, json!({"name": "leaving", "owner_id": bob})).await.ok()["chat_id"].as_str().unwrap().to_owned();
    let leave = json!({"id_list": [t.sim.app_id]});
    let resp = t.call(Method::DELETE, &format!("{CHATS}/{chat}/members?member_id_type=app_id"), Some(leave)).await;
    assert_eq!(resp.ok()["invalid_id_list"], json!([]));
    t.send_text("chat_id", &chat, "hello?").await.assert_err(400, 230_002);

    let human_chat = t.side("/_sim/chats", json!({"name": "humans", "open_ids": [bob]})).await;
    t.send_text("chat_id", human_chat["chat_id"].as_str().unwrap(), "hi").await.assert_err(400, 230_002);
}

#[tokio::test]
async fn unknown_receiver_is_230034() {
    let t = TestSim::start().await;
    t.send_text("open_id", "ou_00000000000000000000000000000000", "hi").await.assert_err(400, 230_034);
    t.send_text("email", "nobody@example.com", "hi").await.assert_err(400, 230_034);
    t.send_text("chat_id", "oc_00000000000000000000000000000000", "hi").await.assert_err(400, 230_034);
    t.send_text("department_id", "od_1", "hi").await.assert_err(400, 230_001);
}

#[tokio::test]
async fn disbanded_chat_is_232009() {
    let t = TestSim::start().await;
    let chat = t.create_chat("short-lived", &[]).await;
    t.call(Method::DELETE, &format!("{CHATS}/{chat}"), None).await.ok();
    t.send_text("chat_id", &chat, "anyone?").await.assert_err(400, 232_009);
}

#[tokio::test]
async fn replies_carry_root_and_parent_and_threads_get_a_thread_id() {
    let t = TestSim::start().await;
    let chat = t.create_chat("T-7", &[]).await;
    let root = t.send_text("chat_id", &chat, "root").await.ok()["message_id"].as_str().unwrap().to_owned();
    let content = json!({"text": "first reply"}).to_string();
    let reply = t.post(&format!("{MESSAGES}/{root}/reply"), json!({"msg_type": "text", "content": content})).await;
    let reply = reply.ok().clone();
    assert_eq!((reply["root_id"].as_str(), reply["parent_id"].as_str()), (Some(root.as_str()), Some(root.as_str())));
    assert_eq!(reply["chat_id"], chat.as_str());
    let reply_id = reply["message_id"].as_str().unwrap();

    let body = json!({"msg_type": "text", "content": content, "reply_in_thread": true});
    let nested = t.post(&format!("{MESSAGES}/{reply_id}/reply"), body).await;
    let nested = nested.ok();
    assert_eq!(nested["root_id"], root.as_str());
    assert_eq!(nested["parent_id"], reply_id);
    assert!(nested["thread_id"].as_str().unwrap().starts_with("omt_"));

    let state = t.state().await;
    assert_eq!(state["messages"][1]["receive_id_type"], "message_id");
    assert_eq!(state["messages"][2]["parent_id"], reply_id);
    let unknown =
        t.post(&format!("{MESSAGES}/om_missing/reply"), json!({"msg_type": "text", "content": content})).await;
    unknown.assert_err(400, 230_001);
}

#[tokio::test]
async fn mentions_in_text_become_user_keys() {
    let t = TestSim::start().await;
    let alice = t.user("Alice").open_id;
    let chat = t.create_chat("T-9", &[&alice]).await;
    let text = format!(r#"<at user_id="{alice}">Alice</at> please look"#);
    let msg = t.send_text("chat_id", &chat, &text).await;
    let msg = msg.ok();
    assert_eq!(msg["body"]["content"], json!({"text": "@_user_1 please look"}).to_string());
    assert_eq!(msg["mentions"][0]["key"], "@_user_1");
    assert_eq!(msg["mentions"][0]["id"], alice.as_str());
    assert_eq!(msg["mentions"][0]["name"], "Alice");
}

async fn sent_card(t: &TestSim, content: &str) -> String {
    let chat = t.create_chat("cards", &[]).await;
    let resp = t.send("chat_id", &chat, "interactive", content).await;
    resp.ok()["message_id"].as_str().unwrap().to_owned()
}

async fn patch(t: &TestSim, message_id: &str, content: &str) -> crate::support::Resp {
    t.call(Method::PATCH, &format!("{MESSAGES}/{message_id}"), Some(json!({"content": content}))).await
}

#[tokio::test]
async fn patch_updates_a_shared_card() {
    let t = TestSim::start().await;
    let id = sent_card(&t, &card("open")).await;
    let resp = patch(&t, &id, &card("claimed")).await;
    assert_eq!(resp.ok(), &json!({}));
    assert_eq!(resp.body["msg"], "ok");
    let state = t.state().await;
    assert_eq!(state["messages"][0]["update_count"], 1);
    assert_eq!(state["messages"][0]["content"], card("claimed").as_str());
    assert_eq!(state["messages"][0]["updates"], json!([card("claimed")]));
}

#[tokio::test]
async fn patch_refuses_unshared_cards_text_messages_and_bad_content() {
    let t = TestSim::start().await;
    let unshared = json!({"config": {"update_multi": false}, "elements": [{"tag": "hr"}]}).to_string();
    let id = sent_card(&t, &unshared).await;
    patch(&t, &id, &card("x")).await.assert_err(400, 230_001);

    let chat = t.create_chat("texts", &[]).await;
    let text_id = t.send_text("chat_id", &chat, "plain").await.ok()["message_id"].as_str().unwrap().to_owned();
    patch(&t, &text_id, &card("x")).await.assert_err(400, 230_001);

    let shared = sent_card(&t, &card("open")).await;
    let resp =
        t.call(Method::PATCH, &format!("{MESSAGES}/{shared}"), Some(json!({"content": {"schema": "2.0"}}))).await;
    resp.assert_err(400, 230_001);
    patch(&t, &shared, &card(&"x".repeat(31 * 1024))).await.assert_err(400, 230_025);
    patch(&t, &shared, "{broken").await.assert_err(400, 230_099);
    patch(&t, "om_missing", &card("x")).await.assert_err(400, 230_001);
    assert!(t.state().await["messages"].as_array().unwrap().iter().all(|m| m["update_count"] == 0));
}

#[tokio::test]
async fn patch_after_14_days_is_230031() {
    let t = TestSim::start().await;
    let id = sent_card(&t, &card("open")).await;
    t.sim.advance_clock(Duration::from_secs(13 * 24 * 3600));
    t.refresh_token().await;
    patch(&t, &id, &card("day 13")).await.ok();
    t.sim.advance_clock(Duration::from_secs(24 * 3600 + 1));
    t.refresh_token().await;
    patch(&t, &id, &card("late")).await.assert_err(400, 230_031);
}
