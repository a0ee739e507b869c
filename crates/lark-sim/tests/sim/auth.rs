use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::TestSim;

const TENANT: &str = "/open-apis/auth/v3/tenant_access_token/internal";
const BOT_INFO: &str = "/open-apis/bot/v3/info";

async fn token_call(t: &TestSim) -> crate::support::Resp {
    let body = json!({"app_id": t.sim.app_id, "app_secret": t.sim.app_secret});
    t.raw(Method::POST, TENANT, None, Some(body)).await
}

#[tokio::test]
async fn tenant_token_is_top_level_with_two_hour_expiry() {
    let t = TestSim::start().await;
    let resp = token_call(&t).await;
    assert_eq!((resp.status, resp.code()), (200, 0));
    assert_eq!(resp.body["msg"], "ok");
    assert!(resp.body.get("data").is_none(), "token fields are top level: {}", resp.text);
    assert!(resp.body["tenant_access_token"].as_str().unwrap().starts_with("t-"));
    let expire = resp.body["expire"].as_i64().unwrap();
    assert!((7190..=7200).contains(&expire), "expire counts down from 7200: {expire}");
}

#[tokio::test]
async fn token_is_reused_until_under_30_minutes_left_then_renewed_and_old_one_lives_on() {
    let t = TestSim::start().await;
    let first = t.token();

    t.sim.advance_clock(Duration::from_secs(5000));
    let resp = token_call(&t).await;
    assert_eq!(resp.body["tenant_access_token"], first.as_str(), "2200 s left: same token");
    assert!(resp.body["expire"].as_i64().unwrap() <= 2200);

    t.sim.advance_clock(Duration::from_secs(500));
    let resp = token_call(&t).await;
    let second = resp.body["tenant_access_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first, "under 1800 s left: a new token");
    assert!(resp.body["expire"].as_i64().unwrap() > 7000);
    t.raw(Method::GET, BOT_INFO, Some(&first), None).await.ok_bot();
    t.raw(Method::GET, BOT_INFO, Some(&second), None).await.ok_bot();

    t.sim.advance_clock(Duration::from_secs(1800));
    t.raw(Method::GET, BOT_INFO, Some(&first), None).await.assert_err(400, 99_991_663);
    t.raw(Method::GET, BOT_INFO, Some(&second), None).await.ok_bot();
    assert_eq!(t.state().await["tokens_issued"], 2);
}

#[tokio::test]
async fn app_access_token_is_top_level_too() {
    let t = TestSim::start().await;
    let body = json!({"app_id": t.sim.app_id, "app_secret": t.sim.app_secret});
    let resp = t.raw(Method::POST, "/open-apis/auth/v3/app_access_token/internal", None, Some(body)).await;
    assert_eq!(resp.code(), 0);
    assert!(resp.body["app_access_token"].as_str().unwrap().starts_with("t-"));
    assert!(resp.body["expire"].as_i64().unwrap() > 7000);
    let app_token = resp.body["app_access_token"].as_str().unwrap().to_owned();
    let resp = t.raw(Method::GET, BOT_INFO, Some(&app_token), None).await;
    resp.assert_err(400, 99_991_663);
}

#[tokio::test]
async fn bad_credentials_answer_10014_spec_unsure() {
    let t = TestSim::start().await;
    let body = json!({"app_id": t.sim.app_id, "app_secret": "wrong"});
    t.raw(Method::POST, TENANT, None, Some(body)).await.assert_err(400, 10014);
    let body = json!({"app_id": "cli_0000000000000000", "app_secret": t.sim.app_secret});
    t.raw(Method::POST, TENANT, None, Some(body)).await.assert_err(400, 10014);
    t.raw(Method::POST, TENANT, None, Some(json!({}))).await.assert_err(400, 10003);
}

#[tokio::test]
async fn missing_token_is_99991661_and_unknown_token_is_99991663() {
    let t = TestSim::start().await;
    let resp = t.raw(Method::GET, BOT_INFO, None, None).await;
    resp.assert_err(400, 99_991_661);
    let resp = t.raw(Method::GET, BOT_INFO, Some("t-not-issued-here"), None).await;
    resp.assert_err(400, 99_991_663);
    assert!(resp.body["msg"].as_str().unwrap().starts_with("Invalid access token"));
    assert!(resp.body["error"]["log_id"].is_string());
}

#[tokio::test]
async fn tokens_expire_route_invalidates_all_and_a_new_token_is_issued() {
    let t = TestSim::start().await;
    t.side("/_sim/tokens/expire", json!({})).await;
    t.get(BOT_INFO).await.assert_err(400, 99_991_663);
    let fresh = t.fetch_token().await;
    assert_ne!(fresh, t.token());
    t.raw(Method::GET, BOT_INFO, Some(&fresh), None).await.ok_bot();
}

#[tokio::test]
async fn every_response_carries_x_tt_logid() {
    let t = TestSim::start().await;
    let answers = [
        t.get(BOT_INFO).await,
        t.raw(Method::GET, BOT_INFO, None, None).await,
        t.raw(Method::GET, "/_sim/state", None, None).await,
        t.raw(Method::GET, "/open-apis/nothing/here", None, None).await,
    ];
    for resp in answers {
        assert!(resp.header("x-tt-logid").is_some_and(|v| !v.is_empty()), "no log id on {}", resp.status);
    }
}

impl crate::support::Resp {
    /// `bot/v3/info` answered with its top-level `bot` object.
    #[track_caller]
    pub fn ok_bot(&self) {
        assert_eq!((self.status, self.code()), (200, 0), "{}", self.text);
        assert!(self.body["bot"]["open_id"].as_str().unwrap().starts_with("ou_"));
    }
}
