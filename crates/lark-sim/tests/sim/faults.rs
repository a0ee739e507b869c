use std::time::Duration;

use lark_sim::{FaultKind, FaultSpec};
use serde_json::json;

use crate::support::{MESSAGES, TestSim};

async fn messages_sent(t: &TestSim) -> usize {
    t.state().await["messages"].as_array().unwrap().len()
}

#[tokio::test]
async fn http_500_fault_answers_a_non_json_500_and_does_nothing() {
    let t = TestSim::start().await;
    t.side("/_sim/faults", json!({"path_prefix": MESSAGES, "kind": "http_500", "count": 1})).await;
    let alice = t.user("Alice").open_id;
    let resp = t.send_text("open_id", &alice, "lost").await;
    assert_eq!(resp.status, 500);
    assert!(serde_json::from_str::<serde_json::Value>(&resp.text).is_err(), "body is not JSON: {}", resp.text);
    assert_eq!(messages_sent(&t).await, 0);
    t.send_text("open_id", &alice, "delivered").await.ok();
    let calls = &t.state().await["calls"];
    assert_eq!(
        (calls["by_route"]["POST /open-apis/im/v1/messages"].as_u64(), calls["billed"].as_u64()),
        (Some(2), Some(1))
    );
}

#[tokio::test]
async fn http_500_fault_can_carry_a_json_body() {
    let t = TestSim::start().await;
    t.side("/_sim/faults", json!({"path_prefix": MESSAGES, "kind": "http_500", "body": "json"})).await;
    let resp = t.send_text("open_id", &t.user("Alice").open_id, "lost").await;
    assert_eq!(resp.status, 500);
    assert_ne!(resp.code(), 0);
}

#[tokio::test]
async fn rate_limit_fault_answers_429_with_the_chosen_reset() {
    let t = TestSim::start().await;
    let fault = json!({"method": "POST", "path_prefix": MESSAGES, "kind": "rate_limit", "retry_after_s": 7});
    t.side("/_sim/faults", fault).await;
    let resp = t.send_text("open_id", &t.user("Alice").open_id, "limited").await;
    resp.assert_err(429, 99_991_400);
    assert_eq!(resp.header("x-ogw-ratelimit-reset"), Some("7"));
    assert!(resp.header("x-ogw-ratelimit-limit").is_some());
    assert_eq!(messages_sent(&t).await, 0);
}

#[tokio::test]
async fn token_expired_fault_answers_99991663_once_while_the_token_stays_valid() {
    let t = TestSim::start().await;
    t.sim.inject_fault(FaultSpec::new(FaultKind::TokenExpired, "/open-apis/bot", 1));
    t.get("/open-apis/bot/v3/info").await.assert_err(400, 99_991_663);
    t.get("/open-apis/bot/v3/info").await.ok_bot();
}

#[tokio::test]
async fn quota_exceeded_fault_answers_429_99991403() {
    let t = TestSim::start().await;
    t.side("/_sim/faults", json!({"path_prefix": "/open-apis/im/v1/chats", "kind": "quota_exceeded"})).await;
    t.post("/open-apis/im/v1/chats", json!({"name": "x"})).await.assert_err(429, 99_991_403);
    assert_eq!(t.state().await["chats"], json!([]));
}

#[tokio::test]
async fn faults_match_method_and_last_count_requests() {
    let t = TestSim::start().await;
    let fault = json!({"method": "GET", "path_prefix": "/open-apis/im/v1/chats", "kind": "http_500", "count": 2});
    t.side("/_sim/faults", fault).await;
    let chat = t.create_chat("post is not faulted", &[]).await;
    let path = format!("/open-apis/im/v1/chats/{chat}");
    assert_eq!(t.get(&path).await.status, 500);
    assert_eq!(t.get(&path).await.status, 500);
    t.get(&path).await.ok();
}

#[tokio::test]
async fn delay_before_still_serves_the_request() {
    let t = TestSim::start().await;
    t.side("/_sim/faults", json!({"path_prefix": MESSAGES, "kind": "delay", "delay_ms": 50, "apply": "before"})).await;
    t.send_text("open_id", &t.user("Alice").open_id, "slow").await.ok();
    assert_eq!(messages_sent(&t).await, 1);
}

#[tokio::test]
async fn delay_after_sends_although_the_client_timed_out_and_uuid_retry_returns_that_message() {
    let t = TestSim::start().await;
    let fault = json!({"path_prefix": MESSAGES, "kind": "delay", "delay_ms": 10_000, "apply": "after"});
    t.side("/_sim/faults", fault).await;
    let body = json!({
        "receive_id": t.user("Alice").open_id,
        "msg_type": "text",
        "content": json!({"text": "once"}).to_string(),
        "uuid": "escalation-17-level-2",
    });
    let url = t.url(&format!("{MESSAGES}?receive_id_type=open_id"));
    let impatient =
        t.http.post(&url).bearer_auth(t.token()).json(&body).timeout(Duration::from_millis(300)).send().await;
    assert!(impatient.is_err_and(|e| e.is_timeout()), "the client gives up before the answer");

    let state = t.state().await;
    assert_eq!(state["messages"].as_array().unwrap().len(), 1, "the message went out anyway");
    let retry = t.post(&format!("{MESSAGES}?receive_id_type=open_id"), body).await;
    assert_eq!(retry.ok()["message_id"], state["messages"][0]["message_id"]);
    assert_eq!(messages_sent(&t).await, 1);
}
