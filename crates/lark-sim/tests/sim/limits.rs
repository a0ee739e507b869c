use std::time::Duration;

use lark_sim::{LimitsUpdate, SimConfig};
use serde_json::json;

use crate::support::{TestSim, users};

const BOT_INFO: &str = "/open-apis/bot/v3/info";

#[tokio::test]
async fn per_second_app_limit_answers_429_99991400_with_ratelimit_headers() {
    let t = TestSim::start().await;
    t.side("/_sim/config", json!({"app_rate_per_sec": 3})).await;
    for _ in 0..3 {
        t.get(BOT_INFO).await.ok_bot();
    }
    let limited = t.get(BOT_INFO).await;
    limited.assert_err(429, 99_991_400);
    assert_eq!(limited.body["msg"], "request trigger frequency limit");
    assert_eq!(limited.header("x-ogw-ratelimit-limit"), Some("3"));
    let reset: u64 = limited.header("x-ogw-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset >= 1);
    t.post("/open-apis/contact/v3/users/batch_get_id", json!({"emails": []})).await.ok();
}

#[tokio::test]
async fn per_minute_app_limit_also_bounds() {
    let t = TestSim::with(SimConfig { users: users(), app_rate_per_min: 2, ..SimConfig::default() }).await;
    t.get(BOT_INFO).await.ok_bot();
    t.get(BOT_INFO).await.ok_bot();
    let limited = t.get(BOT_INFO).await;
    limited.assert_err(429, 99_991_400);
    assert_eq!(limited.header("x-ogw-ratelimit-limit"), Some("2"));
}

#[tokio::test]
async fn more_than_five_messages_a_second_to_one_target_is_230020() {
    let t = TestSim::start().await;
    let chat = t.create_chat("busy", &[]).await;
    for i in 0..5 {
        t.send_text("chat_id", &chat, &format!("m{i}")).await.ok();
    }
    t.send_text("chat_id", &chat, "one too many").await.assert_err(400, 230_020);
    t.send_text("open_id", &t.user("Alice").open_id, "other target").await.ok();
    assert_eq!(t.state().await["messages"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn quota_counts_only_successful_billable_calls_and_resets_next_month() {
    let t = TestSim::start().await;
    t.sim.update_limits(&LimitsUpdate { monthly_quota: Some(3), ..LimitsUpdate::default() });
    let alice = t.user("Alice").open_id;
    t.send_text("open_id", "ou_nobody", "fails").await.assert_err(400, 230_034);
    for i in 0..3 {
        t.send_text("open_id", &alice, &format!("billed {i}")).await.ok();
    }
    assert_eq!(t.state().await["calls"]["billed"], 3);
    let over = t.send_text("open_id", &alice, "over quota").await;
    over.assert_err(429, 99_991_403);
    assert_eq!(over.body["msg"], "This month's API call quota has been exceeded");
    t.post("/open-apis/contact/v3/users/batch_get_id", json!({"emails": ["alice@example.com"]})).await.ok();
    let state = t.state().await;
    assert_eq!(state["messages"].as_array().unwrap().len(), 3, "the refused call did nothing");
    assert_eq!(state["calls"]["billed"], 3);

    t.sim.advance_clock(Duration::from_secs(32 * 24 * 3600));
    t.refresh_token().await;
    t.send_text("open_id", &alice, "new month").await.ok();
    assert_eq!(t.state().await["calls"]["billed"], 1);
}

#[tokio::test]
async fn calls_count_every_request_by_route_including_failures() {
    let t = TestSim::start().await;
    t.send_text("open_id", "ou_nobody", "fails").await;
    t.send_text("open_id", &t.user("Alice").open_id, "works").await.ok();
    let calls = &t.state().await["calls"];
    assert_eq!(calls["by_route"]["POST /open-apis/im/v1/messages"], 2);
    assert_eq!(calls["by_route"]["POST /open-apis/auth/v3/tenant_access_token/internal"], 1);
    assert_eq!(calls["total"], 3);
    assert_eq!(calls["billed"], 1);
}

#[tokio::test]
async fn reset_forgets_chats_messages_and_counters_but_keeps_users_and_tokens() {
    let t = TestSim::start().await;
    t.send_text("open_id", &t.user("Alice").open_id, "before").await.ok();
    t.side("/_sim/reset", json!({})).await;
    let state = t.state().await;
    assert_eq!((state["chats"].clone(), state["messages"].clone()), (json!([]), json!([])));
    assert_eq!(state["calls"]["total"], 0);
    assert_eq!(state["users"].as_array().unwrap().len(), 3);
    t.get(BOT_INFO).await.ok_bot();
}

#[tokio::test]
async fn users_route_adds_people_with_ids() {
    let t = TestSim::start().await;
    let added = t.side("/_sim/users", json!([{"name": "Dan", "email": "dan@example.com", "mobile": null}])).await;
    assert!(added[0]["open_id"].as_str().unwrap().starts_with("ou_"));
    assert!(added[0]["union_id"].as_str().unwrap().starts_with("on_"));
    assert!(added[0]["user_id"].as_str().unwrap().starts_with('u'));
    let resp = t.post("/open-apis/contact/v3/users/batch_get_id", json!({"emails": ["dan@example.com"]})).await;
    assert_eq!(resp.ok()["user_list"][0]["user_id"], added[0]["open_id"]);
}
