use reqwest::Method;
use serde_json::json;

use crate::support::TestSim;

const BATCH: &str = "/open-apis/contact/v3/users/batch_get_id";

#[tokio::test]
async fn batch_get_id_resolves_known_emails_and_leaves_unknown_ones_without_user_id() {
    let t = TestSim::start().await;
    let body = json!({"emails": ["alice@example.com", "ghost@example.com"]});
    let resp = t.post(&format!("{BATCH}?user_id_type=open_id"), body).await;
    let list = resp.ok()["user_list"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["email"], "alice@example.com");
    assert_eq!(list[0]["user_id"], t.user("Alice").open_id.as_str());
    assert_eq!(list[0]["status"]["is_activated"], true);
    assert_eq!(list[1]["email"], "ghost@example.com");
    assert!(list[1].get("user_id").is_none(), "unknown email has no user_id: {}", list[1]);
}

#[tokio::test]
async fn batch_get_id_matches_mobiles_and_honours_user_id_type() {
    let t = TestSim::start().await;
    let body = json!({"mobiles": ["13800000001", "+15550000002"]});
    let resp = t.post(&format!("{BATCH}?user_id_type=union_id"), body).await;
    let list = resp.ok()["user_list"].as_array().unwrap().clone();
    assert_eq!(list[0]["user_id"], t.user("Alice").union_id.as_str(), "mainland numbers work without +86");
    assert_eq!(list[1]["user_id"], t.user("Bob").union_id.as_str());
    let too_many: Vec<String> = (0..51).map(|i| format!("u{i}@example.com")).collect();
    t.post(BATCH, json!({"emails": too_many})).await.assert_err(400, 10003);
}

#[tokio::test]
async fn get_user_returns_the_profile() {
    let t = TestSim::start().await;
    let alice = t.user("Alice");
    let resp = t.get(&format!("/open-apis/contact/v3/users/{}?user_id_type=open_id", alice.open_id)).await;
    let user = &resp.ok()["user"];
    assert_eq!(user["name"], "Alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["mobile"], "+8613800000001");
    assert_eq!((user["open_id"].as_str(), user["union_id"].as_str()), (Some(&*alice.open_id), Some(&*alice.union_id)));
    assert_eq!(user["user_id"], alice.user_id.as_str());
    assert_eq!(user["status"]["is_resigned"], false);
    let by_user_id = t.get(&format!("/open-apis/contact/v3/users/{}?user_id_type=user_id", alice.user_id)).await;
    assert_eq!(by_user_id.ok()["user"]["open_id"], alice.open_id.as_str());
}

#[tokio::test]
async fn get_unknown_user_answers_99992351_spec_unsure() {
    let t = TestSim::start().await;
    t.get("/open-apis/contact/v3/users/ou_nobody?user_id_type=open_id").await.assert_err(400, 99_992_351);
    t.get("/open-apis/contact/v3/users/unobody?user_id_type=user_id").await.assert_err(400, 99_992_360);
}

#[tokio::test]
async fn bot_info_has_a_top_level_bot_object_spec_unsure() {
    let t = TestSim::start().await;
    let resp = t.get("/open-apis/bot/v3/info").await;
    assert_eq!((resp.status, resp.code()), (200, 0));
    assert_eq!(resp.body["bot"]["open_id"], t.sim.bot_open_id().as_str());
    assert_eq!(resp.body["bot"]["activate_status"], 2);
    assert_eq!(resp.body["bot"]["ip_white_list"], json!([]));
    assert!(resp.body["bot"]["app_name"].is_string());
}

#[tokio::test]
async fn contacts_bot_info_and_tokens_are_not_billed() {
    let t = TestSim::start().await;
    t.post(BATCH, json!({"emails": ["alice@example.com"]})).await.ok();
    t.get(&format!("/open-apis/contact/v3/users/{}", t.user("Bob").open_id)).await.ok();
    t.call(Method::GET, "/open-apis/bot/v3/info", None).await.ok_bot();
    let calls = &t.state().await["calls"];
    assert_eq!(calls["billed"], 0);
    assert_eq!(calls["total"], 4, "the token call counts as a call, not as billed");
}
