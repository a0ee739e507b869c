use std::time::Duration;

use lark_sim::SimUser;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{CHATS, TestSim};

fn chat_in<'s>(state: &'s Value, chat_id: &str) -> &'s Value {
    state["chats"].as_array().unwrap().iter().find(|c| c["chat_id"] == chat_id).expect("chat in state")
}

#[tokio::test]
async fn create_answers_the_chat_and_the_bot_is_a_member() {
    let t = TestSim::start().await;
    let (alice, bob) = (t.user("Alice"), t.user("Bob"));
    let body = json!({"name": "T-1001 laptop", "description": "ticket", "owner_id": alice.open_id, "user_id_list": [bob.open_id]});
    let resp = t.post(&format!("{CHATS}?user_id_type=open_id&set_bot_manager=true"), body).await;
    let data = resp.ok();
    let chat_id = data["chat_id"].as_str().unwrap();
    assert!(chat_id.starts_with("oc_"));
    assert_eq!(data["name"], "T-1001 laptop");
    assert_eq!(data["owner_id"], alice.open_id.as_str());
    assert_eq!(data["owner_id_type"], "open_id");
    assert_eq!(data["chat_type"], "private");
    assert_eq!(data["external"], false);
    assert_eq!(data["tenant_key"], t.sim.tenant_key.as_str());

    let state = t.state().await;
    let chat = chat_in(&state, chat_id);
    assert_eq!(chat["members"], json!([alice.open_id, bob.open_id]));
    assert_eq!(chat["bot_member"], true);
    assert_eq!(chat["disbanded"], false);

    let got = t.get(&format!("{CHATS}/{chat_id}")).await;
    let got = got.ok();
    assert_eq!((got["user_count"].as_str(), got["bot_count"].as_str()), (Some("2"), Some("1")));
    assert_eq!(got["chat_status"], "normal");
    assert_eq!(got["bot_manager_id_list"], json!([t.sim.app_id]));
    let is_in = t.get(&format!("{CHATS}/{chat_id}/members/is_in_chat")).await;
    assert_eq!(is_in.ok()["is_in_chat"], true);
}

#[tokio::test]
async fn same_uuid_and_owner_create_one_chat_for_ten_hours() {
    let t = TestSim::start().await;
    let alice = t.user("Alice").open_id;
    async fn create(t: &TestSim, owner: &str) -> Value {
        let body = json!({"name": "dedupe", "owner_id": owner});
        t.post(&format!("{CHATS}?uuid=ticket-9-group"), body).await.ok()["chat_id"].clone()
    }
    let first = create(&t, &alice).await;
    let second = create(&t, &alice).await;
    assert_eq!(first, second);
    let other_owner = create(&t, &t.user("Bob").open_id).await;
    assert_ne!(other_owner, first, "the key is (uuid, owner_id)");
    assert_eq!(t.state().await["chats"].as_array().unwrap().len(), 2);

    t.sim.advance_clock(Duration::from_secs(10 * 3600 + 1));
    t.refresh_token().await;
    let later = create(&t, &alice).await;
    assert_ne!(later, first);
}

#[tokio::test]
async fn create_validates_like_lark() {
    let t = TestSim::start().await;
    let too_many: Vec<String> = (0..51).map(|i| format!("ou_{i}")).collect();
    t.post(CHATS, json!({"user_id_list": too_many})).await.assert_err(400, 232_001);
    t.post(CHATS, json!({"user_id_list": ["ou_unknown"]})).await.assert_err(400, 232_043);
    t.post(CHATS, json!({"bot_id_list": ["cli_ffffffffffffffff"]})).await.assert_err(400, 232_021);
    t.post(CHATS, json!({"chat_type": "public", "name": "x"})).await.assert_err(400, 232_020);
    t.post(CHATS, json!({"external": true})).await.assert_err(400, 232_033);
    assert_eq!(t.state().await["chats"], json!([]));
    let unnamed = t.post(CHATS, json!({})).await;
    assert!(!unnamed.ok()["name"].as_str().unwrap().is_empty(), "private chats get a default name");
}

/// The spec (§3.1) says only that creating an external chat fails with 232033; the sim reads
/// that as "the app lacks external sharing" and lets an app that has it create one.
#[tokio::test]
async fn external_chats_need_the_apps_external_sharing_spec_unsure_when_on() {
    let t = TestSim::start().await;
    let alice = t.user("Alice").open_id;
    let body = json!({"name": "Acme × Vendor", "user_id_list": [alice], "external": true});
    t.post(CHATS, body.clone()).await.assert_err(400, 232_033);
    assert_eq!(t.state().await["chats"], json!([]));

    t.sim.set_external_chats(true);
    let chat = t.post(CHATS, body).await;
    let chat_id = chat.ok()["chat_id"].as_str().unwrap().to_owned();
    assert_eq!(chat.ok()["external"], true);
    assert_eq!(t.get(&format!("{CHATS}/{chat_id}")).await.ok()["external"], true);
    assert_eq!(chat_in(&t.state().await, &chat_id)["external"], true);
    let internal = t.post(CHATS, json!({"name": "inside"})).await;
    assert_eq!(internal.ok()["external"], false);
}

#[tokio::test]
async fn update_renames_and_transfers_ownership() {
    let t = TestSim::start().await;
    let (alice, bob) = (t.user("Alice").open_id, t.user("Bob").open_id);
    let chat = t.create_chat("old", &[&alice, &bob]).await;
    let body = json!({"name": "new", "description": "d", "owner_id": bob, "membership_approval": "approval_required"});
    t.call(Method::PUT, &format!("{CHATS}/{chat}"), Some(body)).await.ok();
    let got = t.get(&format!("{CHATS}/{chat}")).await;
    let got = got.ok();
    assert_eq!((got["name"].as_str(), got["owner_id"].as_str()), (Some("new"), Some(bob.as_str())));
    assert_eq!(got["membership_approval"], "approval_required");
    let carol = t.user("Carol").open_id;
    let outsider = json!({"owner_id": carol});
    t.call(Method::PUT, &format!("{CHATS}/{chat}"), Some(outsider)).await.assert_err(400, 232_043);
}

#[tokio::test]
async fn after_disband_every_chat_call_is_232009() {
    let t = TestSim::start().await;
    let chat = t.create_chat("gone", &[&t.user("Alice").open_id]).await;
    t.call(Method::DELETE, &format!("{CHATS}/{chat}"), None).await.ok();
    assert_eq!(chat_in(&t.state().await, &chat)["disbanded"], true);
    let members = format!("{CHATS}/{chat}/members");
    let answers = [
        t.get(&format!("{CHATS}/{chat}")).await,
        t.call(Method::DELETE, &format!("{CHATS}/{chat}"), None).await,
        t.post(&members, json!({"id_list": [t.user("Bob").open_id]})).await,
        t.get(&members).await,
        t.post(&format!("{CHATS}/{chat}/link"), json!({})).await,
    ];
    for resp in answers {
        resp.assert_err(400, 232_009);
    }
    t.get(&format!("{CHATS}/oc_unknown")).await.assert_err(400, 232_006);
}

#[tokio::test]
async fn add_members_succeed_type_1_reports_unknown_in_not_existed_id_list_spec_unsure() {
    let t = TestSim::start().await;
    let chat = t.create_chat("grow", &[]).await;
    let alice = t.user("Alice").open_id;
    let body = json!({"id_list": [alice, "ou_nobody"]});
    let resp = t.post(&format!("{CHATS}/{chat}/members?member_id_type=open_id&succeed_type=1"), body).await;
    let data = resp.ok();
    assert_eq!(data["not_existed_id_list"], json!(["ou_nobody"]));
    assert_eq!(data["invalid_id_list"], json!([]));
    assert_eq!(data["pending_approval_id_list"], json!([]));
    assert_eq!(chat_in(&t.state().await, &chat)["members"], json!([alice]));
}

#[tokio::test]
async fn add_members_succeed_type_0_and_2_fail_whole_call_on_unknown_ids() {
    let t = TestSim::start().await;
    let chat = t.create_chat("strict", &[]).await;
    let body = json!({"id_list": [t.user("Alice").open_id, "ou_nobody"]});
    t.post(&format!("{CHATS}/{chat}/members"), body.clone()).await.assert_err(400, 99_992_351);
    let resp = t.post(&format!("{CHATS}/{chat}/members?succeed_type=2"), body).await;
    resp.assert_err(400, 232_043);
    assert_eq!(resp.data()["not_existed_id_list"], json!(["ou_nobody"]));
    let by_email = json!({"id_list": [t.user("Bob").user_id]});
    t.post(&format!("{CHATS}/{chat}/members?member_id_type=user_id"), by_email).await.ok();
    assert_eq!(chat_in(&t.state().await, &chat)["members"], json!([t.user("Bob").open_id]));
}

#[tokio::test]
async fn remove_members_reports_ids_that_were_not_members() {
    let t = TestSim::start().await;
    let (alice, bob, carol) = (t.user("Alice").open_id, t.user("Bob").open_id, t.user("Carol").open_id);
    let chat = t.create_chat("shrink", &[&alice, &bob]).await;
    let body = json!({"id_list": [alice, carol, "ou_nobody"]});
    let resp = t.call(Method::DELETE, &format!("{CHATS}/{chat}/members"), Some(body)).await;
    assert_eq!(resp.ok()["invalid_id_list"], json!([carol, "ou_nobody"]));
    assert_eq!(chat_in(&t.state().await, &chat)["members"], json!([bob]));
}

#[tokio::test]
async fn list_members_pages_users_only_spec_unsure() {
    let t = TestSim::start().await;
    let people: Vec<SimUser> =
        (0..25).map(|i| SimUser::with_email(format!("p{i}"), format!("p{i}@example.com"))).collect();
    let added = t.sim.add_users(people);
    let ids: Vec<&str> = added.iter().map(|u| u.open_id.as_str()).collect();
    let chat = t.create_chat("big", &ids).await;

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let query = if token.is_empty() { String::new() } else { format!("&page_token={token}") };
        let resp = t.get(&format!("{CHATS}/{chat}/members?page_size=10&member_id_type=open_id{query}")).await;
        let data = resp.ok();
        assert_eq!(data["member_total"], 25);
        for item in data["items"].as_array().unwrap() {
            assert_eq!(item["member_id_type"], "open_id");
            seen.push(item["member_id"].as_str().unwrap().to_owned());
        }
        if data["has_more"] == false {
            break;
        }
        token = data["page_token"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen, ids, "every user once, in order, and not the bot");

    let default_page = t.get(&format!("{CHATS}/{chat}/members")).await;
    assert_eq!(default_page.ok()["items"].as_array().unwrap().len(), 20);
    t.get(&format!("{CHATS}/{chat}/members?page_size=101")).await.assert_err(400, 232_001);
}

#[tokio::test]
async fn share_link_has_the_applink_shape() {
    let t = TestSim::start().await;
    let chat = t.create_chat("share", &[]).await;
    let now_s = t.state().await["now_ms"].as_i64().unwrap() / 1000;
    let week = t.post(&format!("{CHATS}/{chat}/link"), json!({"validity_period": "week"})).await;
    let week = week.ok();
    let link = week["share_link"].as_str().unwrap();
    assert!(link.starts_with("https://applink.larksuite.com/client/chat/chatter/add_by_link?link_token="));
    let expires: i64 = week["expire_time"].as_str().unwrap().parse().unwrap();
    assert!((expires - now_s - 7 * 24 * 3600).abs() < 60, "a week from now");
    assert_eq!(week["is_permanent"], false);

    let forever = t.post(&format!("{CHATS}/{chat}/link"), json!({"validity_period": "permanently"})).await;
    assert_eq!(forever.ok()["is_permanent"], true);
    t.post(&format!("{CHATS}/{chat}/link"), json!({"validity_period": "month"})).await.assert_err(400, 232_001);
}

#[tokio::test]
async fn sim_join_adds_members_without_a_lark_call() {
    let t = TestSim::start().await;
    let chat = t.create_chat("self-join", &[]).await;
    let before = t.state().await["calls"]["total"].as_u64().unwrap();
    let carol = t.user("Carol").open_id;
    t.side(&format!("/_sim/chats/{chat}/members"), json!({"open_ids": [carol]})).await;
    let state = t.state().await;
    assert_eq!(chat_in(&state, &chat)["members"], json!([carol]));
    assert_eq!(state["calls"]["total"].as_u64().unwrap(), before);
}
