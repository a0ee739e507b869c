use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lark_sim::{Click, ClientConfig, Say, SimConfig, Subscription};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

use crate::support::{TestSim, card, users};
use crate::wsclient::{Frame, WsClient, discover, discover_with};

const CONFIG: ClientConfig =
    ClientConfig { ping_interval: 1, reconnect_count: 0, reconnect_interval: 1, reconnect_nonce: 0 };

fn config() -> SimConfig {
    SimConfig {
        users: users(),
        client_config: CONFIG,
        redelivery: vec![Duration::from_millis(100), Duration::from_millis(200), Duration::from_millis(400)],
        push_timeout: Duration::from_millis(800),
        ..SimConfig::default()
    }
}

async fn start(config: SimConfig) -> TestSim {
    let t = TestSim::with(config).await;
    t.sim.subscribe(Subscription::LongConnection { verification_token: "vtok".into() });
    t
}

fn say(from: &str, text: &str) -> Say {
    Say { from_open_id: from.to_owned(), chat_id: None, text: text.to_owned(), mention_bot: false }
}

#[tokio::test]
async fn discovery_hands_out_a_one_time_url_and_the_client_config() {
    let t = start(config()).await;
    let (status, wrong) = discover_with(&t.sim, &t.sim.app_id, "not-the-secret").await;
    assert_eq!(status, 200, "a client error must not look like a busy server");
    assert_eq!(wrong["code"], 10014);
    assert_eq!(discover_with(&t.sim, "", "").await.1["code"], 10003);

    let (status, ok) = discover_with(&t.sim, &t.sim.app_id, &t.sim.app_secret).await;
    assert_eq!((status, ok["code"].as_i64(), ok["msg"].as_str()), (200, Some(0), Some("ok")));
    assert_eq!(
        ok["data"]["ClientConfig"],
        json!({"PingInterval": 1, "ReconnectCount": 0, "ReconnectInterval": 1, "ReconnectNonce": 0})
    );
    let url = ok["data"]["URL"].as_str().unwrap();
    assert!(url.starts_with("ws://127.0.0.1:") && url.contains("/ws/v2?"), "{url}");
    for param in ["device_id=", "service_id=", "ticket="] {
        assert!(url.contains(param), "{url} lacks {param}");
    }
    let client = WsClient::dial(url).await.unwrap();
    assert_eq!(t.sim.ws_connections(), 1);
    let Err(tungstenite::Error::Http(refused)) = WsClient::dial(url).await else {
        panic!("a used ticket must be refused")
    };
    assert_eq!(refused.headers()["handshake-status"], "514");
    assert!(refused.headers().get("handshake-autherrcode").is_none(), "retryable, not fatal");
    let tampered = discover(&t.sim).await.replace("service_id=", "service_id=1");
    assert!(WsClient::dial(&tampered).await.is_err());
    client.close().await;
}

#[tokio::test]
async fn a_ping_is_answered_with_a_pong_that_carries_the_client_config() {
    let t = start(config()).await;
    let mut client = WsClient::connect(&t.sim).await;
    let pong = client.ping().await;
    assert_eq!((pong.method, pong.header("type"), pong.service), (0, "pong", client.service_id));
    assert_eq!(pong.payload_json(), serde_json::to_value(CONFIG).unwrap());
}

#[tokio::test]
async fn an_event_arrives_as_a_data_frame_and_the_ack_settles_it() {
    let t = start(config()).await;
    let mut client = WsClient::connect(&t.sim).await;
    let alice = t.user("Alice");
    let (pushed, (frames, payload)) = tokio::join!(t.sim.user_says(say(&alice.open_id, "wifi down")), async {
        let event = client.next_event().await;
        client.ack(event.0.last().unwrap(), json!({"code": 200})).await;
        event
    });
    let pushed = pushed.unwrap();
    assert_eq!(pushed.first_status, Some(200));
    let frame: &Frame = &frames[0];
    assert_eq!((frame.method, frame.service), (1, client.service_id));
    assert_eq!((frame.header("sum"), frame.header("seq")), ("1", "0"));
    assert!(!frame.header("message_id").is_empty() && !frame.header("trace_id").is_empty());
    assert_eq!(payload["header"]["event_id"], pushed.event_id.as_str());
    assert_eq!(payload["header"]["token"], "vtok");
    assert_eq!(payload["event"]["message"]["chat_id"], pushed.chat_id.as_str());
    let record = &t.sim.events()[0];
    assert_eq!((record.delivered, record.attempts, record.last_status), (true, 1, Some(200)));
}

#[tokio::test]
async fn a_500_ack_is_retried() {
    let t = start(config()).await;
    let mut client = WsClient::connect(&t.sim).await;
    let (pushed, first) = tokio::join!(t.sim.user_says(say(&t.user("Bob").open_id, "x")), async {
        let (frames, payload) = client.next_event().await;
        client.ack(frames.last().unwrap(), json!({"code": 500})).await;
        payload
    });
    assert_eq!(pushed.unwrap().first_status, Some(500));
    let second = client.take_event().await;
    assert_eq!(first, second);
    assert!(t.sim.wait_delivered(Duration::from_secs(5)).await);
    assert_eq!(t.sim.events()[0].attempts, 2);
}

#[tokio::test]
async fn a_card_callback_answer_travels_base64_in_the_ack() {
    let t = start(config()).await;
    let alice = t.user("Alice");
    let sent = t.send("open_id", &alice.open_id, "interactive", &card("claim me")).await;
    let message_id = sent.ok()["message_id"].as_str().unwrap().to_owned();
    let mut client = WsClient::connect(&t.sim).await;
    let click = Click {
        operator_open_id: alice.open_id.clone(),
        message_id,
        value: json!({"action": "claim"}),
        form_value: None,
    };
    let toast = json!({"toast": {"type": "success", "content": "Claimed T-1001"}});
    let (answer, payload) = tokio::join!(t.sim.click(click), async {
        let (frames, payload) = client.next_event().await;
        let data = STANDARD.encode(toast.to_string());
        client.ack(frames.last().unwrap(), json!({"code": 200, "data": data})).await;
        payload
    });
    let answer = answer.unwrap();
    assert_eq!((answer.status, &answer.body), (200, &toast));
    assert_eq!(payload["header"]["event_type"], "card.action.trigger");
    assert_eq!(payload["header"]["create_time"].as_str().unwrap().len(), 16);
}

#[tokio::test]
async fn long_events_come_in_fragments_out_of_order() {
    let t = start(SimConfig { ws_fragment_bytes: Some(64), ..config() }).await;
    let mut client = WsClient::connect(&t.sim).await;
    let (pushed, (frames, payload)) =
        tokio::join!(t.sim.user_says(say(&t.user("Alice").open_id, "a long story")), async {
            let event = client.next_event().await;
            client.ack(event.0.last().unwrap(), json!({"code": 200})).await;
            event
        });
    let sum: usize = frames[0].header("sum").parse().unwrap();
    assert!(sum > 2, "{sum} fragments");
    assert_eq!(frames[0].header("seq"), (sum - 1).to_string(), "the last fragment first");
    assert!(frames.iter().all(|f| f.payload.as_ref().unwrap().len() <= 64));
    assert_eq!(payload["header"]["event_id"], pushed.unwrap().event_id.as_str());
    assert!(t.sim.wait_delivered(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn a_cut_connection_leaves_the_event_pending_until_the_client_is_back() {
    let t = start(config()).await;
    let mut client = WsClient::connect(&t.sim).await;
    t.sim.drop_connections_after(1);
    let (pushed, cut) = tokio::join!(t.sim.user_says(say(&t.user("Alice").open_id, "lost?")), async {
        client.next_frame().await.expect("the frame goes out before the cut");
        client.next_frame().await
    });
    assert!(cut.is_none(), "the server cut the connection");
    assert_eq!(pushed.unwrap().first_status, None);
    let record = &t.sim.events()[0];
    assert!(!record.delivered && record.retry_pending, "{record:?}");

    let mut back = WsClient::connect(&t.sim).await;
    let payload = back.take_event().await;
    assert_eq!(payload["event"]["message"]["content"], json!({"text": "lost?"}).to_string());
    assert!(t.sim.wait_delivered(Duration::from_secs(5)).await);

    // Events pushed while nobody is connected wait for the schedule as well.
    assert_eq!(t.sim.drop_connections(), 1);
    assert!(back.next_frame().await.is_none(), "closed by the server");
    assert_eq!(t.sim.ws_connections(), 0);
    let pushed = t.sim.user_says(say(&t.user("Bob").open_id, "anyone?")).await.unwrap();
    assert_eq!(pushed.first_status, None);
    let mut again = WsClient::connect(&t.sim).await;
    assert_eq!(again.take_event().await["header"]["event_id"], pushed.event_id.as_str());
    assert!(t.sim.wait_delivered(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn the_51st_connection_is_refused_as_too_many() {
    // Discovery is a Lark API like any other: 52 calls in a second would hit the 50/s limit.
    let t = start(SimConfig { app_rate_per_sec: 0, app_rate_per_min: 0, ..config() }).await;
    let mut clients = Vec::new();
    for _ in 0..50 {
        clients.push(WsClient::connect(&t.sim).await);
    }
    assert_eq!(t.sim.ws_connections(), 50);
    let url = discover(&t.sim).await;
    let Err(tungstenite::Error::Http(refused)) = WsClient::dial(&url).await else { panic!("the 51st must be refused") };
    assert_eq!(refused.headers()["handshake-status"], "514");
    assert_eq!(refused.headers()["handshake-autherrcode"], "1000040350");

    // Each event goes to exactly one of them.
    let (pushed, _) = tokio::join!(t.sim.user_says(say(&t.user("Alice").open_id, "one of you")), async {
        loop {
            for client in &mut clients {
                if let Ok(Some(frame)) = tokio::time::timeout(Duration::from_millis(5), client.next_frame()).await {
                    client.ack(&frame, json!({"code": 200})).await;
                    return;
                }
            }
        }
    });
    assert_eq!(pushed.unwrap().first_status, Some(200));

    assert_eq!(t.sim.drop_connections(), 50);
    let mut admitted = None;
    for _ in 0..100 {
        if let Ok(client) = WsClient::dial(&discover(&t.sim).await).await {
            admitted = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(admitted.is_some(), "slots come back once connections close");
}

#[tokio::test]
async fn without_any_connection_a_click_fails() {
    let t = start(config()).await;
    let alice = t.user("Alice");
    let sent = t.send("open_id", &alice.open_id, "interactive", &card("x")).await;
    let message_id = sent.ok()["message_id"].as_str().unwrap().to_owned();
    let click = Click { operator_open_id: alice.open_id, message_id, value: Value::Null, form_value: None };
    assert!(t.sim.click(click).await.is_err());
}

#[tokio::test]
async fn side_routes_let_the_binary_drive_pushes() {
    let t = TestSim::with(config()).await;
    t.side("/_sim/subscription", json!({"mode": "long_connection", "verification_token": "from-http"})).await;
    let mut client = WsClient::connect(&t.sim).await;
    let alice = t.user("Alice");
    let (pushed, payload) = tokio::join!(
        t.side("/_sim/say", json!({"from_open_id": alice.open_id, "text": "over http"})),
        client.take_event()
    );
    assert_eq!(pushed["first_status"], 200);
    assert_eq!(payload["header"]["token"], "from-http");
    let events = t.raw(reqwest::Method::GET, "/_sim/events", None, None).await.body;
    assert_eq!(events[0]["event_id"], pushed["event_id"]);
    assert_eq!(events[0]["delivered"], true);
    let unknown =
        t.raw(reqwest::Method::POST, "/_sim/say", None, Some(json!({"from_open_id": "ou_x", "text": "?"}))).await;
    assert_eq!(unknown.status, 400);
}
