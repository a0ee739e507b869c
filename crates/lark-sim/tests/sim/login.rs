//! Web-app login (lark-spec.md §9.2): authorize → code → v2 token → user_info.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Resp, TestSim};

const AUTHORIZE: &str = "/open-apis/authen/v1/authorize";
const TOKEN: &str = "/open-apis/authen/v2/oauth/token";
const USER_INFO: &str = "/open-apis/authen/v1/user_info";

/// Follows nothing: the authorize page's answer is a redirect to read.
async fn authorize(t: &TestSim, query: &str) -> (u16, String) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = http.get(format!("{}{AUTHORIZE}?{query}", t.sim.base_url)).send().await.unwrap();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (resp.status().as_u16(), location)
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

async fn exchange(t: &TestSim, body: Value) -> Resp {
    t.raw(Method::POST, TOKEN, None, Some(body)).await
}

fn grant(t: &TestSim, code: &str) -> Value {
    json!({
        "grant_type": "authorization_code",
        "client_id": t.sim.app_id,
        "client_secret": t.sim.app_secret,
        "code": code,
    })
}

#[tokio::test]
async fn the_browser_flow_gives_a_code_that_becomes_the_users_identity() {
    let t = TestSim::start().await;
    let bob = t.user("Bob");
    let redirect = "https://desk.example/invite/callback";
    let (status, location) = authorize(
        &t,
        &format!(
            "client_id={}&redirect_uri=https%3A%2F%2Fdesk.example%2Finvite%2Fcallback&state=xyz&scope=contact%3Auser.email%3Areadonly&sim_user={}",
            t.sim.app_id, bob.open_id
        ),
    )
    .await;
    assert_eq!(status, 302);
    assert!(location.starts_with(&format!("{redirect}?code=")), "{location}");
    assert_eq!(query_value(&location, "state").as_deref(), Some("xyz"));
    let code = query_value(&location, "code").unwrap();
    assert!(code.len() >= 64 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{code}");

    // The redirect_uri of the exchange must be the authorize request's.
    let mut body = grant(&t, &code);
    body["redirect_uri"] = json!("https://elsewhere.example/cb");
    let refused = exchange(&t, body.clone()).await;
    refused.assert_err(400, 20071);
    assert_eq!(refused.body["error"], "invalid_grant", "{}", refused.text);
    assert!(refused.body["error_description"].as_str().is_some_and(|d| !d.is_empty()));

    body["redirect_uri"] = json!(redirect);
    let answer = exchange(&t, body.clone()).await;
    assert_eq!((answer.status, answer.code()), (200, 0), "{}", answer.text);
    assert!(answer.body.get("data").is_none(), "the token fields are top level: {}", answer.text);
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["expires_in"], 7200);
    assert!(answer.body.get("refresh_token").is_none(), "no offline_access, no refresh token");
    let user_token = answer.body["access_token"].as_str().unwrap().to_owned();
    assert!(user_token.starts_with("u-"), "{user_token}");

    // Single use.
    exchange(&t, body).await.assert_err(400, 20065);

    let me = t.raw(Method::GET, USER_INFO, Some(&user_token), None).await;
    let data = me.ok();
    assert_eq!(data["open_id"], bob.open_id.as_str());
    assert_eq!(data["name"], "Bob");
    assert_eq!(data["email"], "bob@example.com", "with the e-mail scope");
    assert!(data.get("mobile").is_none(), "no phone scope, no mobile: {data}");
    assert_eq!(data["tenant_key"], t.sim.tenant_key.as_str());
}

#[tokio::test]
async fn codes_expire_after_five_minutes_and_unknown_ones_are_not_found() {
    let t = TestSim::start().await;
    let alice = t.user("Alice");
    let code = t.sim.login_code(&alice.open_id);
    t.sim.advance_clock(Duration::from_secs(299));
    let late = t.sim.login_code(&alice.open_id);
    t.sim.advance_clock(Duration::from_secs(1));
    exchange(&t, grant(&t, &code)).await.assert_err(400, 20004);
    let answer = exchange(&t, grant(&t, &late)).await;
    assert_eq!(answer.code(), 0, "{}", answer.text);
    exchange(&t, grant(&t, "no-such-code")).await.assert_err(400, 20003);
}

#[tokio::test]
async fn bad_client_credentials_and_missing_fields_are_refused() {
    let t = TestSim::start().await;
    let code = t.sim.login_code(&t.user("Alice").open_id);
    let mut wrong = grant(&t, &code);
    wrong["client_secret"] = json!("not-the-secret");
    exchange(&t, wrong).await.assert_err(400, 20002);
    exchange(&t, json!({"grant_type": "authorization_code"})).await.assert_err(400, 20001);
    // The refused attempts did not use the code up.
    assert_eq!(exchange(&t, grant(&t, &code)).await.code(), 0);
}

#[tokio::test]
async fn pkce_s256_is_checked() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let t = TestSim::start().await;
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let (_, location) = authorize(
        &t,
        &format!(
            "client_id={}&redirect_uri=https%3A%2F%2Fd.example%2Fcb&state=s&code_challenge={challenge}&code_challenge_method=S256",
            t.sim.app_id
        ),
    )
    .await;
    let code = query_value(&location, "code").unwrap();
    let mut body = grant(&t, &code);
    body["redirect_uri"] = json!("https://d.example/cb");
    body["code_verifier"] = json!("wrong");
    exchange(&t, body.clone()).await.assert_err(400, 20049);
    body["code_verifier"] = json!(verifier);
    assert_eq!(exchange(&t, body).await.code(), 0);
}

#[tokio::test]
async fn a_refusing_person_is_sent_back_with_access_denied() {
    let t = TestSim::start().await;
    let (status, location) = authorize(
        &t,
        &format!("client_id={}&redirect_uri=https%3A%2F%2Fd.example%2Fcb&state=s1&sim_deny=1", t.sim.app_id),
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(location, "https://d.example/cb?error=access_denied&state=s1");
    let (status, _) = authorize(&t, "client_id=cli_nobody&redirect_uri=x").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn user_info_wants_a_live_user_token() {
    let t = TestSim::start().await;
    t.raw(Method::GET, USER_INFO, None, None).await.assert_err(400, 99_991_661);
    t.raw(Method::GET, USER_INFO, Some("u-forged"), None).await.assert_err(400, 99_991_668);
    t.raw(Method::GET, USER_INFO, Some(&t.token()), None).await.assert_err(400, 99_991_663);

    let code = t.sim.login_code(&t.user("Carol").open_id);
    let token = exchange(&t, grant(&t, &code)).await.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(t.raw(Method::GET, USER_INFO, Some(&token), None).await.ok()["name"], "Carol");
    t.sim.advance_clock(Duration::from_secs(7200));
    t.raw(Method::GET, USER_INFO, Some(&token), None).await.assert_err(400, 99_991_677);
}
