use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use lark_sim::{Click, Say, SimConfig, Subscription};
use serde_json::{Value, json};

use crate::receiver::{Receiver, assert_same_shape, fixture};
use crate::support::{TestSim, card, users};

const KEY: &str = "kX9mQ2vT7pL4wR8zN3cF6hJ1dS5gB0aY";
const TOKEN: &str = "vTokenFixture0000000000000000000";

fn webhook(rx: &Receiver, encrypt_key: Option<&str>) -> Subscription {
    Subscription::Webhook {
        events_url: rx.url("/events"),
        cards_url: rx.url("/cards"),
        verification_token: TOKEN.into(),
        encrypt_key: encrypt_key.map(str::to_owned),
    }
}

fn say(from: &str, text: &str) -> Say {
    Say { from_open_id: from.to_owned(), chat_id: None, text: text.to_owned(), mention_bot: false }
}

fn fast_retries() -> SimConfig {
    SimConfig {
        users: users(),
        redelivery: vec![Duration::from_millis(30), Duration::from_millis(30)],
        push_timeout: Duration::from_millis(500),
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn encrypted_push_is_signed_and_decrypts_to_the_v2_message_event() {
    let t = TestSim::start().await;
    let rx = Receiver::start();
    t.sim.subscribe(webhook(&rx, Some(KEY)));
    let alice = t.user("Alice");
    let pushed = t.sim.user_says(say(&alice.open_id, "VPN keeps dropping")).await.unwrap();
    assert_eq!(pushed.first_status, Some(200));

    let got = rx.received();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.path, "/events");
    assert_eq!(req.header("content-type"), "application/json; charset=utf-8");
    let now_s = t.state().await["now_ms"].as_i64().unwrap() / 1000;
    let ts: i64 = req.header("x-lark-request-timestamp").parse().unwrap();
    assert!((now_s - ts).abs() <= 5, "timestamp in seconds of the sim clock");
    assert!(!req.header("x-lark-request-nonce").is_empty());
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "only {{\"encrypt\"}} travels");

    let event = req.open(Some(KEY));
    assert_same_shape(&event, &fixture("im.message.receive_v1.p2p"), &[]);
    let header = &event["header"];
    assert_eq!((header["event_id"].as_str(), header["token"].as_str()), (Some(pushed.event_id.as_str()), Some(TOKEN)));
    assert_eq!(header["event_type"], "im.message.receive_v1");
    assert_eq!(
        (header["app_id"].as_str(), header["tenant_key"].as_str()),
        (Some(t.sim.app_id.as_str()), Some(t.sim.tenant_key.as_str()))
    );
    assert_eq!(header["create_time"].as_str().unwrap().len(), 13, "milliseconds");
    let sender = &event["event"]["sender"];
    assert_eq!(
        sender["sender_id"],
        json!({"union_id": alice.union_id, "user_id": alice.user_id, "open_id": alice.open_id})
    );
    assert_eq!(sender["sender_type"], "user");
    let message = &event["event"]["message"];
    assert_eq!(
        (message["message_id"].as_str(), message["chat_id"].as_str()),
        (Some(pushed.message_id.as_str()), Some(pushed.chat_id.as_str()))
    );
    assert_eq!((message["chat_type"].as_str(), message["message_type"].as_str()), (Some("p2p"), Some("text")));
    assert_eq!(message["content"], json!({"text": "VPN keeps dropping"}).to_string());

    let records = t.sim.events();
    assert_eq!(records.len(), 1);
    assert!(records[0].delivered && !records[0].retry_pending);
    assert_eq!((records[0].attempts, records[0].last_status), (1, Some(200)));
    assert_eq!(records[0].body, event);
}

#[tokio::test]
async fn without_an_encrypt_key_the_body_is_plain_json_and_still_signed() {
    let t = TestSim::start().await;
    let rx = Receiver::start();
    t.sim.subscribe(webhook(&rx, None));
    let pushed = t.sim.user_says(say(&t.user("Bob").open_id, "hi")).await.unwrap();
    let event = rx.received()[0].open(None);
    assert_eq!(event["header"]["event_id"], pushed.event_id.as_str());
    assert_eq!(event["schema"], "2.0");
}

#[tokio::test]
async fn a_500_is_retried_on_the_schedule_with_the_same_event() {
    let t = TestSim::with(fast_retries()).await;
    let rx = Receiver::start();
    t.sim.subscribe(webhook(&rx, Some(KEY)));
    rx.script(&[500]);
    let pushed = t.sim.user_says(say(&t.user("Alice").open_id, "help")).await.unwrap();
    assert_eq!(pushed.first_status, Some(500));
    let record = &t.sim.events()[0];
    assert!(!record.delivered && record.retry_pending);
    assert!(record.last_error.as_deref().unwrap().contains("500"));

    assert!(t.sim.wait_delivered(Duration::from_secs(5)).await);
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].open(Some(KEY)), got[1].open(Some(KEY)), "the retry sends the same event");
    assert_ne!(got[0].body, got[1].body, "with a fresh IV");
    let record = &t.sim.events()[0];
    assert_eq!((record.attempts, record.delivered, record.last_error.clone()), (2, true, None));
}

#[tokio::test]
async fn after_the_last_retry_the_event_stays_undelivered() {
    let t = TestSim::with(fast_retries()).await;
    let rx = Receiver::start();
    t.sim.subscribe(webhook(&rx, None));
    rx.script(&[503, 503, 503]);
    t.sim.user_says(say(&t.user("Alice").open_id, "anyone?")).await.unwrap();
    assert!(!t.sim.wait_delivered(Duration::from_millis(400)).await);
    let record = &t.sim.events()[0];
    assert_eq!((record.attempts, record.delivered, record.retry_pending), (3, false, false));
    assert_eq!(record.last_status, Some(503));
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_a_failure() {
    let t = TestSim::with(SimConfig { redelivery: Vec::new(), ..fast_retries() }).await;
    let rx = Receiver::start();
    t.sim.subscribe(webhook(&rx, None));
    rx.delay(Duration::from_millis(1500));
    let pushed = t.sim.user_says(say(&t.user("Alice").open_id, "slow")).await.unwrap();
    assert_eq!(pushed.first_status, None);
    let record = &t.sim.events()[0];
    assert!(!record.delivered);
    assert!(record.last_error.is_some());
    rx.stop().await;
}

#[tokio::test]
async fn redeliver_sends_a_duplicate_of_a_delivered_event() {
    let t = TestSim::start().await;
    let rx = Receiver::start();
    t.sim.subscribe(webhook(&rx, Some(KEY)));
    let pushed = t.sim.user_says(say(&t.user("Alice").open_id, "twice")).await.unwrap();
    assert_eq!(t.sim.redeliver(&pushed.event_id).await.unwrap(), 200);
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].open(Some(KEY)), got[1].open(Some(KEY)));
    assert_eq!(t.sim.events()[0].attempts, 2);
    assert!(t.sim.redeliver("nope").await.is_err());
}

#[tokio::test]
async fn event_time_and_request_timestamp_follow_the_sim_clock() {
    let t = TestSim::start().await;
    let rx = Receiver::start();
    t.sim.subscribe(webhook(&rx, None));
    t.sim.set_now(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
    t.sim.user_says(say(&t.user("Alice").open_id, "new year")).await.unwrap();
    let req = &rx.received()[0];
    let ts: i64 = req.header("x-lark-request-timestamp").parse().unwrap();
    assert!((1_735_689_600..1_735_689_610).contains(&ts), "{ts}");
    let created: i64 = req.open(None)["header"]["create_time"].as_str().unwrap().parse().unwrap();
    assert!((1_735_689_600_000..1_735_689_610_000).contains(&created), "{created}");
}

#[tokio::test]
async fn a_card_click_calls_back_and_the_answer_replaces_the_card() {
    let t = TestSim::start().await;
    let rx = Receiver::start();
    let alice = t.user("Alice");
    let chat = t.create_chat("T-1001", &[&alice.open_id]).await;
    let sent = t.send("chat_id", &chat, "interactive", &card("**Status:** open")).await;
    let message_id = sent.ok()["message_id"].as_str().unwrap().to_owned();
    t.sim.subscribe(webhook(&rx, Some(KEY)));
    let new_card = json!({"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": "Claimed"}]}});
    let toast = json!({"type": "success", "content": "Claimed T-1001"});
    rx.answer_cards_with(json!({"toast": toast, "card": {"type": "raw", "data": new_card}}));

    let value = json!({"action": "claim", "ticket_id": "T-1001"});
    let click = Click {
        operator_open_id: alice.open_id.clone(),
        message_id: message_id.clone(),
        value: value.clone(),
        form_value: None,
    };
    let answer = t.sim.click(click).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["toast"], toast);
    assert!(answer.elapsed < Duration::from_secs(3));

    let req = &rx.received()[0];
    assert_eq!(req.path, "/cards");
    let callback = req.open(Some(KEY));
    assert_same_shape(&callback, &fixture("card.action.trigger"), &[]);
    assert_eq!(callback["header"]["event_type"], "card.action.trigger");
    assert_eq!(callback["header"]["create_time"].as_str().unwrap().len(), 16, "microseconds");
    let event = &callback["event"];
    assert!(event["token"].as_str().unwrap().starts_with("c-"));
    assert_eq!(event["action"], json!({"value": value, "tag": "button"}));
    assert_eq!(event["context"], json!({"open_message_id": message_id, "open_chat_id": chat}));
    assert_eq!(event["operator"]["open_id"], alice.open_id.as_str());
    assert_eq!(event["host"], "im_message");

    let state = t.state().await;
    let message =
        state["messages"].as_array().unwrap().iter().find(|m| m["message_id"] == message_id.as_str()).unwrap();
    assert_eq!(message["content"], new_card.to_string());
    assert_eq!(message["update_count"], 1);
    assert!(t.sim.wait_delivered(Duration::ZERO).await, "callbacks are not owed again");
}

#[tokio::test]
async fn a_form_submit_carries_form_value_and_a_failed_callback_is_not_retried() {
    let t = TestSim::with(fast_retries()).await;
    let rx = Receiver::start();
    let bob = t.user("Bob");
    let sent = t.send("open_id", &bob.open_id, "interactive", &card("form")).await;
    let message_id = sent.ok()["message_id"].as_str().unwrap().to_owned();
    t.sim.subscribe(webhook(&rx, None));
    rx.script(&[500]);
    let form = json!({"reason": "duplicate"});
    let click = Click {
        operator_open_id: bob.open_id.clone(),
        message_id,
        value: json!({"action": "close"}),
        form_value: Some(form.clone()),
    };
    let answer = t.sim.click(click.clone()).await.unwrap();
    assert_eq!(answer.status, 500);
    assert_eq!(rx.received()[0].open(None)["event"]["action"]["form_value"], form);
    let record = &t.sim.events()[0];
    assert_eq!(
        (record.delivered, record.retry_pending, record.attempts),
        (false, false, 1),
        "callbacks are not retried"
    );

    let stranger = Click { operator_open_id: t.user("Carol").open_id, ..click };
    assert!(t.sim.click(stranger).await.is_err(), "Carol is not in Bob's p2p chat");
}
