//! The Lark client against lark-sim over HTTP: tokens, idempotency, error classes, chats,
//! contacts and the call ledger hook.
#![expect(clippy::unwrap_used, reason = "test helpers are not #[test] functions; a panic is the failure report")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lark_notify::wire::{Content, CreateChat, LinkValidity, ReceiveId, UpdateChat};
use lark_notify::{CallObserver, CallRecord, ClientConfig, LarkClient, LarkError};
use lark_sim::{FaultApply, FaultKind, FaultSpec, LimitsUpdate, SimConfig, SimHandle, SimUser};
use secrecy::SecretString;
use serde_json::json;

#[derive(Debug, Default)]
struct Ledger(Mutex<Vec<CallRecord>>);

impl CallObserver for Ledger {
    fn on_call(&self, record: &CallRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

fn users() -> Vec<SimUser> {
    (0..20).map(|i| SimUser::with_email(format!("User {i}"), format!("user{i}@acme.example"))).collect()
}

async fn sim() -> SimHandle {
    lark_sim::spawn(SimConfig { users: users(), ..SimConfig::default() }).await.unwrap()
}

fn client(sim: &SimHandle, timeout: Duration) -> (LarkClient, Arc<Ledger>) {
    let mut config = ClientConfig::new(&sim.base_url, &sim.app_id, SecretString::from(sim.app_secret.clone()));
    config.request_timeout = timeout;
    let ledger = Arc::new(Ledger::default());
    (LarkClient::new(config, Some(ledger.clone())).unwrap(), ledger)
}

fn text(s: &str) -> Content {
    Content::Text(s.to_owned())
}

#[tokio::test]
async fn one_token_serves_a_burst_and_an_expiry_mid_burst_costs_one_refresh_and_no_send() {
    let sim = sim().await;
    let (client, _) = client(&sim, Duration::from_secs(5));
    let people: Vec<String> = sim.users().into_iter().map(|u| u.open_id).collect();
    // Twenty people, one message each per round: this is about tokens, not about Lark's
    // 5-per-second limit per recipient.
    let burst = |round: usize| {
        let client = &client;
        let people = &people;
        futures_util::future::join_all((0..20).map(move |i| async move {
            let to = ReceiveId::open_id(&people[i % people.len()]);
            client.send_message(&to, &text(&format!("round {round} #{i}")), &format!("r{round}-{i}")).await
        }))
    };
    assert!(burst(1).await.iter().all(Result::is_ok));
    assert_eq!(sim.snapshot().tokens_issued, 1, "concurrent callers share one token fetch");

    sim.expire_tokens();
    let results = burst(2).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let snap = sim.snapshot();
    assert_eq!(snap.tokens_issued, 2, "exactly one refresh for the whole burst");
    assert_eq!(snap.messages.len(), 40, "no send lost, none doubled");
}

#[tokio::test]
async fn the_same_uuid_never_shows_twice_even_after_a_timeout() {
    let sim = sim().await;
    let (client, _) = client(&sim, Duration::from_millis(300));
    let to = ReceiveId::open_id(sim.users()[0].open_id.clone());
    let first = client.send_message(&to, &text("hello"), "outbox-1").await.unwrap();
    let again = client.send_message(&to, &text("hello"), "outbox-1").await.unwrap();
    assert_eq!(first.message_id, again.message_id);

    // Lark sends the message, but the answer comes too late: the retry must not duplicate.
    let mut slow = FaultSpec::new(FaultKind::Delay, "/open-apis/im/v1/messages", 1);
    slow.delay_ms = 1_500;
    slow.apply = FaultApply::After;
    sim.inject_fault(slow);
    let err = client.send_message(&to, &text("page"), "outbox-2").await.unwrap_err();
    assert!(matches!(err, LarkError::Timeout) && err.is_retryable(), "{err:?}");
    client.send_message(&to, &text("page"), "outbox-2").await.unwrap();
    let pages: Vec<_> = sim.snapshot().messages.into_iter().filter(|m| m.uuid.as_deref() == Some("outbox-2")).collect();
    assert_eq!(pages.len(), 1);
}

#[tokio::test]
async fn failures_are_classified_for_the_retry_decision() {
    let sim = sim().await;
    let (client, ledger) = client(&sim, Duration::from_secs(5));
    let to = ReceiveId::open_id(sim.users()[0].open_id.clone());
    let path = "/open-apis/im/v1/messages";

    sim.inject_fault(FaultSpec::new(FaultKind::Http500, path, 1));
    let e = client.send_message(&to, &text("a"), "u-a").await.unwrap_err();
    assert!(matches!(e, LarkError::Http { status: 500 }) && e.is_retryable(), "{e:?}");

    let mut limited = FaultSpec::new(FaultKind::RateLimit, path, 1);
    limited.retry_after_s = 7;
    sim.inject_fault(limited);
    let e = client.send_message(&to, &text("b"), "u-b").await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert_eq!((e.code(), e.retry_after()), (Some(99991400), Some(Duration::from_secs(7))));

    sim.inject_fault(FaultSpec::new(FaultKind::QuotaExceeded, path, 1));
    let e = client.send_message(&to, &text("c"), "u-c").await.unwrap_err();
    assert!(matches!(e, LarkError::QuotaExhausted { .. }) && !e.is_retryable(), "{e:?}");

    // A chat the bot is not in: a request error, not worth retrying; Lark's code is kept.
    let e = client.send_message(&ReceiveId::chat("oc_nowhere"), &text("d"), "u-d").await.unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert!(matches!(e, LarkError::Api { code: 230002, .. } | LarkError::Api { code: 230034, .. }), "{e:?}");
    if let LarkError::Api { log_id, .. } = &e {
        assert!(log_id.is_some(), "Lark's log id is kept for support");
    }

    // Nothing failed was billed; the token fetch was never billed.
    let records = ledger.0.lock().unwrap().clone();
    assert!(records.iter().all(|r| !r.billed));
    assert!(records.iter().any(|r| r.route == "auth.tenant_access_token" && r.ok));
}

#[tokio::test]
async fn the_monthly_quota_stops_billable_calls_and_the_ledger_counts_what_lark_bills() {
    let sim = sim().await;
    sim.update_limits(&LimitsUpdate { monthly_quota: Some(2), ..LimitsUpdate::default() });
    let (client, ledger) = client(&sim, Duration::from_secs(5));
    let to = ReceiveId::open_id(sim.users()[1].open_id.clone());
    client.send_message(&to, &text("1"), "q-1").await.unwrap();
    client.send_message(&to, &text("2"), "q-2").await.unwrap();
    let e = client.send_message(&to, &text("3"), "q-3").await.unwrap_err();
    assert!(matches!(e, LarkError::QuotaExhausted { .. }), "{e:?}");
    // Contact look-ups are free on Lark's plan and still work.
    let found = client.batch_get_ids(&["user1@acme.example".to_owned()], &[]).await.unwrap();
    assert_eq!(found[0].user_id.as_deref(), Some(to.id.as_str()));
    let billed = ledger.0.lock().unwrap().iter().filter(|r| r.billed).count();
    assert_eq!(billed as u64, sim.snapshot().calls.billed);
    assert_eq!(billed, 2);
}

#[tokio::test]
async fn chats_members_links_and_contacts() {
    let sim = sim().await;
    let (client, _) = client(&sim, Duration::from_secs(5));
    let people = sim.users();
    let chat = CreateChat {
        name: Some("#42 Gateway drops data".into()),
        user_id_list: vec![people[0].open_id.clone(), people[1].open_id.clone()],
        ..CreateChat::default()
    };
    let created = client.create_chat(&chat, "ticket-42-group", true).await.unwrap();
    let again = client.create_chat(&chat, "ticket-42-group", true).await.unwrap();
    assert_eq!(created.chat_id, again.chat_id, "a retried create makes no second chat");
    let chat_id = created.chat_id.unwrap();
    assert_eq!(sim.snapshot().chats.len(), 1);

    let added = client.add_members(&chat_id, &[people[2].open_id.clone(), "ou_nobody".to_owned()]).await.unwrap();
    let refused: Vec<_> = added.invalid_id_list.iter().chain(&added.not_existed_id_list).collect();
    assert_eq!(refused, [&"ou_nobody".to_owned()]);
    let page = client.list_members(&chat_id, None, 100).await.unwrap();
    let mut ids: Vec<_> = page.items.iter().map(|m| m.member_id.clone()).collect();
    ids.sort();
    let mut expected: Vec<_> = people[..3].iter().map(|p| p.open_id.clone()).collect();
    expected.sort();
    assert_eq!(ids, expected);
    client.remove_members(&chat_id, &[people[2].open_id.clone()]).await.unwrap();
    assert_eq!(client.list_members(&chat_id, None, 100).await.unwrap().items.len(), 2);

    let card = json!({"schema":"2.0","config":{"update_multi":true},"header":{"title":{"tag":"plain_text","content":"#42"}},"body":{"elements":[{"tag":"markdown","content":"**open**"}]}});
    let sent = client.send_message(&ReceiveId::chat(&chat_id), &Content::Card(card.clone()), "card-42").await.unwrap();
    let mut closed = card.clone();
    closed["body"]["elements"][0]["content"] = json!("**closed**");
    client.update_card(&sent.message_id, &closed).await.unwrap();
    let stored = sim.snapshot().messages.into_iter().find(|m| m.message_id == sent.message_id).unwrap();
    assert_eq!(stored.update_count, 1);
    assert!(stored.updates.last().unwrap().contains("closed"));

    let link = client.chat_link(&chat_id, LinkValidity::Week).await.unwrap();
    assert!(link.share_link.starts_with("https://") && !link.is_permanent);
    client
        .update_chat(&chat_id, &UpdateChat { name: Some("#42 [closed]".into()), ..UpdateChat::default() })
        .await
        .unwrap();
    assert_eq!(client.get_chat(&chat_id).await.unwrap().name.as_deref(), Some("#42 [closed]"));

    let user = client.get_user(&people[0].open_id).await.unwrap();
    assert_eq!(user.name.as_deref(), Some("User 0"));
    let matches = client
        .batch_get_ids(&["user3@acme.example".to_owned(), "stranger@elsewhere.example".to_owned()], &[])
        .await
        .unwrap();
    assert_eq!(matches.len(), 2);
    assert_eq!(matches.iter().filter(|m| m.user_id.is_some()).count(), 1);

    client.disband_chat(&chat_id).await.unwrap();
    let e = client.get_chat(&chat_id).await.unwrap_err();
    assert_eq!(e.code(), Some(232009), "{e:?}");
}

#[tokio::test]
async fn wrong_credentials_say_so() {
    let sim = sim().await;
    let config = ClientConfig::new(&sim.base_url, &sim.app_id, SecretString::from("not-the-secret"));
    let client = LarkClient::new(config, None).unwrap();
    let e = client.check_credentials().await.unwrap_err();
    assert_eq!(e.code(), Some(10014), "{e:?}");
    assert!(!e.is_retryable());
}
