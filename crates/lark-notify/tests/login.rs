//! Web-app login against lark-sim over HTTP: the v2 code exchange and user_info, their
//! refusals as typed errors, and that neither is billed.
#![expect(clippy::unwrap_used, reason = "test helpers are not #[test] functions; a panic is the failure report")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lark_notify::{CallObserver, CallRecord, ClientConfig, LarkClient, LarkError, LoginCode};
use lark_sim::{SimConfig, SimHandle, SimUser};
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Default)]
struct Ledger(Mutex<Vec<CallRecord>>);

impl CallObserver for Ledger {
    fn on_call(&self, record: &CallRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

async fn sim() -> SimHandle {
    let users = vec![SimUser::with_email("Dana", "dana@acme.example")];
    lark_sim::spawn(SimConfig { users, ..SimConfig::default() }).await.unwrap()
}

fn client(sim: &SimHandle, secret: &str) -> (LarkClient, Arc<Ledger>) {
    let config = ClientConfig::new(&sim.base_url, &sim.app_id, SecretString::from(secret.to_owned()));
    let ledger = Arc::new(Ledger::default());
    (LarkClient::new(config, Some(ledger.clone())).unwrap(), ledger)
}

fn code(code: &str) -> LoginCode<'_> {
    LoginCode { code, redirect_uri: None, code_verifier: None }
}

#[tokio::test]
async fn a_login_code_becomes_the_persons_identity_unbilled() {
    let sim = sim().await;
    let (client, ledger) = client(&sim, &sim.app_secret);
    let dana = sim.users().remove(0);
    let login = sim.login_code(&dana.open_id);

    let token = client.exchange_login_code(&code(&login)).await.unwrap();
    assert!(token.access_token.expose_secret().starts_with("u-"));
    assert_eq!(token.expires_in, 7200);
    assert_eq!(token.token_type, "Bearer");
    assert!(token.refresh_token.is_none());
    assert!(!format!("{token:?}").contains(token.access_token.expose_secret()), "Debug hides the token");

    let me = client.login_user_info(&token.access_token).await.unwrap();
    assert_eq!(me.open_id, dana.open_id);
    assert_eq!(me.name, "Dana");
    assert_eq!(me.tenant_key.as_deref(), Some(sim.tenant_key.as_str()));
    assert_eq!(me.email, None, "no e-mail scope was granted");

    let calls = ledger.0.lock().unwrap().clone();
    let routes: Vec<&str> = calls.iter().map(|c| c.route).collect();
    assert_eq!(routes, ["authen.oauth.token", "authen.user_info"], "no tenant token is needed");
    assert!(calls.iter().all(|c| c.ok && !c.billed), "{calls:?}");
}

#[tokio::test]
async fn refusals_carry_larks_code_and_words() {
    let sim = sim().await;
    let (client, _) = client(&sim, &sim.app_secret);
    let dana = sim.users().remove(0).open_id;

    let unknown = client.exchange_login_code(&code("no-such-code")).await.unwrap_err();
    assert!(matches!(&unknown, LarkError::Api { code: 20003, msg, .. } if msg.contains("not found")), "{unknown:?}");
    assert!(!unknown.is_retryable());

    let once = sim.login_code(&dana);
    client.exchange_login_code(&code(&once)).await.unwrap();
    let used = client.exchange_login_code(&code(&once)).await.unwrap_err();
    assert_eq!(used.code(), Some(20065));

    let late = sim.login_code(&dana);
    sim.advance_clock(Duration::from_secs(301));
    assert_eq!(client.exchange_login_code(&code(&late)).await.unwrap_err().code(), Some(20004));

    let fresh = sim.login_code(&dana);
    let with_uri =
        LoginCode { code: &fresh, redirect_uri: Some("https://desk.example/invite/callback"), code_verifier: None };
    assert_eq!(client.exchange_login_code(&with_uri).await.unwrap_err().code(), Some(20071));

    let (wrong, _) = self::client(&sim, "not-the-secret");
    assert_eq!(wrong.exchange_login_code(&code(&fresh)).await.unwrap_err().code(), Some(20002));

    let forged = SecretString::from("u-forged".to_owned());
    assert_eq!(client.login_user_info(&forged).await.unwrap_err().code(), Some(99_991_668));
}
