//! The long connection end to end against a fake Lark on loopback: a discovery endpoint
//! (actix-web) and a WebSocket server (tokio-tungstenite), both scripted per test. Every
//! wait is bounded: a channel receive or a status poll under a timeout, never a sleep that
//! hopes things happened.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers are not #[test] functions; a panic is the failure report"
)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use lark_notify::longconn::{
    Ack, ConnState, ConnStatus, EventHandler, Frame, Header, LongConnConfig, LongConnection, frame,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

const APP_ID: &str = "cli_longconn_test";
const APP_SECRET: &str = "s3cret-app-secret";
const SERVICE_ID: i32 = 33554678;
/// Generous: a loaded CI machine, not the protocol, sets this.
const WAIT: Duration = Duration::from_secs(10);

/// What the fake's discovery endpoint answers next.
#[derive(Debug, Clone)]
enum Discovery {
    /// code 0 with a fresh URL and this `ClientConfig`.
    Ok(Value),
    /// HTTP 200 with this Lark code.
    Code(i64),
    /// A bare HTTP status (a proxy's 502).
    Http(u16),
}

#[derive(Debug, Default)]
struct Script {
    /// Answers for the next discoveries; when empty, `Ok(default_config)`.
    discoveries: VecDeque<Discovery>,
    /// Header sets for the next handshakes to refuse; when empty, accept.
    refusals: VecDeque<Vec<(&'static str, &'static str)>>,
}

/// A fake Lark: discovery over HTTP, frames over WebSocket.
struct FakeLark {
    base_url: String,
    discoveries: Arc<AtomicUsize>,
    script: Arc<Mutex<Script>>,
    connections: mpsc::UnboundedReceiver<ServerConn>,
}

/// Fast reconnects, and pings far apart unless a test asks otherwise.
fn quick_config() -> Value {
    json!({ "ReconnectCount": -1, "ReconnectInterval": 0, "ReconnectNonce": 0, "PingInterval": 120 })
}

impl FakeLark {
    async fn start(default_config: Value) -> Self {
        let ws_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_addr = ws_listener.local_addr().unwrap();
        let discoveries = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(Mutex::new(Script::default()));
        let (conn_tx, connections) = mpsc::unbounded_channel();
        tokio::spawn(accept_loop(ws_listener, Arc::clone(&script), conn_tx));

        let state = web::Data::new(DiscoveryState {
            ws_addr,
            default_config,
            count: Arc::clone(&discoveries),
            script: Arc::clone(&script),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let http_addr = listener.local_addr().unwrap();
        let server = HttpServer::new(move || {
            App::new().app_data(state.clone()).route("/callback/ws/endpoint", web::post().to(discover))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self { base_url: format!("http://{http_addr}"), discoveries, script, connections }
    }

    fn script(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.script.lock().unwrap());
    }

    fn discoveries(&self) -> usize {
        self.discoveries.load(Ordering::SeqCst)
    }

    /// The next accepted WebSocket connection.
    async fn next_connection(&mut self) -> ServerConn {
        tokio::time::timeout(WAIT, self.connections.recv()).await.expect("no connection in time").unwrap()
    }

    fn config(&self) -> LongConnConfig {
        LongConnConfig {
            base_url: self.base_url.clone(),
            app_id: APP_ID.to_owned(),
            app_secret: SecretString::from(APP_SECRET),
            request_timeout: Duration::from_secs(5),
        }
    }

    /// Spawns a client against this fake and takes its first connection.
    async fn connect(&mut self, handler: Arc<dyn EventHandler>) -> (LongConnection, ServerConn) {
        let client = LongConnection::spawn(self.config(), handler);
        let conn = self.next_connection().await;
        (client, conn)
    }
}

struct DiscoveryState {
    ws_addr: SocketAddr,
    default_config: Value,
    count: Arc<AtomicUsize>,
    script: Arc<Mutex<Script>>,
}

async fn discover(state: web::Data<DiscoveryState>, body: web::Json<Value>) -> HttpResponse {
    // Exactly the SDKs' body: PascalCase keys, the secret in the clear (TLS protects it).
    assert_eq!(body.0, json!({ "AppID": APP_ID, "AppSecret": APP_SECRET }));
    let n = state.count.fetch_add(1, Ordering::SeqCst) + 1;
    let next = state.script.lock().unwrap().discoveries.pop_front();
    match next.unwrap_or_else(|| Discovery::Ok(state.default_config.clone())) {
        Discovery::Ok(config) => HttpResponse::Ok().json(json!({
            "code": 0,
            "msg": "ok",
            "data": {
                "URL": format!(
                    "ws://{}/ws/v2?fpid=493&aid=552564&device_id=dev-{n}&access_key=AK-{n}&service_id={SERVICE_ID}&ticket=TK-{n}",
                    state.ws_addr
                ),
                "ClientConfig": config,
            }
        })),
        Discovery::Code(code) => HttpResponse::Ok().json(json!({ "code": code, "msg": "scripted failure" })),
        Discovery::Http(status) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body("bad gateway")
        }
    }
}

async fn accept_loop(listener: TcpListener, script: Arc<Mutex<Script>>, conns: mpsc::UnboundedSender<ServerConn>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let script = Arc::clone(&script);
        let conns = conns.clone();
        tokio::spawn(async move {
            let mut query = String::new();
            #[expect(clippy::result_large_err, reason = "the signature is tungstenite's `Callback`")]
            let callback = |req: &Request, response: Response| -> Result<Response, ErrorResponse> {
                query = req.uri().query().unwrap_or_default().to_owned();
                let refusal = script.lock().unwrap().refusals.pop_front();
                match refusal {
                    None => Ok(response),
                    Some(headers) => {
                        let mut refused = ErrorResponse::new(Some("refused".to_owned()));
                        *refused.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::FORBIDDEN;
                        for (k, v) in headers {
                            refused.headers_mut().insert(k, v.parse().unwrap());
                        }
                        Err(refused)
                    }
                }
            };
            if let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await {
                let _ = conns.send(ServerConn { ws, query });
            }
        });
    }
}

/// The server's side of one connection.
struct ServerConn {
    ws: WebSocketStream<TcpStream>,
    /// The dialled URL's query, to tell connections (and tickets) apart.
    query: String,
}

impl ServerConn {
    /// The next frame the client sent.
    async fn recv(&mut self) -> Frame {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next()).await.expect("no frame in time");
            match message {
                Some(Ok(Message::Binary(bytes))) => return Frame::from_bytes(&bytes).unwrap(),
                Some(Ok(Message::Close(_))) | None => panic!("the client closed the connection"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("websocket error: {e}"),
            }
        }
    }

    /// The next frame that is not a ping.
    async fn recv_data(&mut self) -> Frame {
        loop {
            let frame = self.recv().await;
            if frame.frame_type() != frame::frame_type::PING {
                return frame;
            }
        }
    }

    /// The next ping.
    async fn recv_ping(&mut self) -> Frame {
        let frame = self.recv().await;
        assert_eq!(frame.frame_type(), frame::frame_type::PING, "expected a ping, got {frame:?}");
        frame
    }

    async fn send(&mut self, frame: &Frame) {
        self.ws.send(Message::binary(frame.to_bytes())).await.unwrap();
    }

    /// Waits until the client has closed the connection, ignoring its last pings.
    async fn closed_by_client(&mut self) {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("the client did not close in time") {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(Message::Binary(bytes))) => {
                    let frame = Frame::from_bytes(&bytes).unwrap();
                    assert_eq!(frame.frame_type(), frame::frame_type::PING, "unexpected {frame:?} while closing");
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

fn event_json(event_type: &str, event_id: &str) -> Vec<u8> {
    json!({
        "schema": "2.0",
        "header": { "event_id": event_id, "event_type": event_type, "app_id": APP_ID },
        "event": {},
    })
    .to_string()
    .into_bytes()
}

/// A data frame as Lark sends it; `(sum, seq)` for fragments.
fn data_frame(seq_id: u64, message_id: &str, kind: &str, payload: &[u8], (sum, seq): (usize, usize)) -> Frame {
    Frame {
        seq_id,
        log_id: 1000 + seq_id,
        service: SERVICE_ID,
        method: frame::METHOD_DATA,
        headers: vec![
            Header::new("type", kind),
            Header::new("message_id", message_id),
            Header::new("sum", sum.to_string()),
            Header::new("seq", seq.to_string()),
            Header::new("trace_id", format!("trace-{message_id}")),
        ],
        payload: Some(payload.to_vec()),
        ..Frame::default()
    }
}

fn event_frame(seq_id: u64, event_type: &str) -> Frame {
    let id = format!("m-{seq_id}");
    data_frame(seq_id, &id, "event", &event_json(event_type, &format!("e-{seq_id}")), (1, 0))
}

fn pong(config: Option<Value>) -> Frame {
    Frame {
        service: SERVICE_ID,
        method: frame::METHOD_CONTROL,
        headers: vec![Header::new("type", "pong")],
        payload: config.map(|c| c.to_string().into_bytes()),
        ..Frame::default()
    }
}

/// Checks that `ack` answers `delivery`: every field kept, `biz_rt` appended, and returns
/// the ack's JSON payload.
fn assert_ack_of(ack: &Frame, delivery: &Frame) -> Value {
    assert_eq!(
        (ack.seq_id, ack.log_id, ack.service, ack.method),
        (delivery.seq_id, delivery.log_id, delivery.service, delivery.method)
    );
    let (last, kept) = ack.headers.split_last().unwrap();
    assert_eq!(kept, delivery.headers.as_slice());
    assert_eq!(last.key, "biz_rt");
    last.value.parse::<u64>().expect("biz_rt is a non-negative number of ms");
    serde_json::from_slice(ack.payload()).unwrap()
}

/// The test handler: reports every payload and answers by event type.
struct Recorder {
    seen: mpsc::UnboundedSender<Value>,
    /// `test.slow` events wait for this.
    release: Arc<Notify>,
}

const TOAST: &str = r#"{"toast":{"type":"success","content":"Claimed T-1001"}}"#;

impl EventHandler for Recorder {
    fn handle(&self, payload: Vec<u8>) -> std::pin::Pin<Box<dyn Future<Output = Ack> + Send + '_>> {
        Box::pin(async move {
            let event: Value = serde_json::from_slice(&payload).unwrap();
            let kind = event["header"]["event_type"].as_str().unwrap_or_default().to_owned();
            let _ = self.seen.send(event);
            match kind.as_str() {
                "card.action.trigger" => Ack::Answer(TOAST.as_bytes().to_vec()),
                "test.fail" => Ack::Failed,
                "test.panic" => panic!("handler bug"),
                "test.slow" => {
                    self.release.notified().await;
                    Ack::Done
                }
                _ => Ack::Done,
            }
        })
    }
}

fn recorder() -> (Arc<Recorder>, mpsc::UnboundedReceiver<Value>, Arc<Notify>) {
    let (seen, rx) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    (Arc::new(Recorder { seen, release: Arc::clone(&release) }), rx, release)
}

/// A fake Lark, a client with a [`Recorder`], and its first connection, past the first ping.
struct Connected {
    lark: FakeLark,
    client: LongConnection,
    conn: ServerConn,
    seen: mpsc::UnboundedReceiver<Value>,
    release: Arc<Notify>,
}

impl Connected {
    async fn start(default_config: Value) -> Self {
        let mut lark = FakeLark::start(default_config).await;
        let (handler, seen, release) = recorder();
        let (client, mut conn) = lark.connect(handler).await;
        conn.recv_ping().await;
        Self { lark, client, conn, seen, release }
    }
}

async fn next_seen(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("the handler saw nothing in time").unwrap()
}

/// Polls the status until `pred` holds.
async fn wait_status(client: &LongConnection, what: &str, pred: impl Fn(&ConnStatus) -> bool) -> ConnStatus {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = client.status();
        if pred(&status) {
            return status;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}; last status {status:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn pings_at_once_and_applies_the_config_in_a_pong() {
    let mut lark = FakeLark::start(quick_config()).await;
    let (handler, _seen, _) = recorder();
    let (client, mut conn) = lark.connect(handler).await;

    let ping = conn.recv_ping().await;
    assert_eq!(ping, Frame::ping(SERVICE_ID), "SeqID 0, LogID 0, the URL's service_id, type=ping");
    assert!(conn.query.contains("ticket=TK-1"), "the URL is dialled with its query untouched");
    let status = wait_status(&client, "connected", |s| s.state == ConnState::Connected).await;
    assert_eq!(status.connection_id.as_deref(), Some("dev-1"));
    assert!(status.connected_since.is_some());
    assert_eq!(status.reconnects, 0);

    // Discovery said 120 s; the pong says 1 s, so the next ping comes within the wait.
    conn.send(&pong(Some(json!({ "PingInterval": 1 })))).await;
    conn.recv_ping().await;
    conn.recv_ping().await;
    // A server ping and a text message are ignored, and the connection stays up.
    conn.send(&Frame::ping(SERVICE_ID)).await;
    conn.ws.send(Message::text("hello")).await.unwrap();
    conn.recv_ping().await;
    assert_eq!(client.status().state, ConnState::Connected);
    client.shutdown().await;
}

#[tokio::test]
async fn an_event_is_handled_and_acked_with_200() {
    let Connected { lark: _lark, client, mut conn, mut seen, release: _release } =
        Connected::start(quick_config()).await;

    let delivery = event_frame(7, "im.message.receive_v1");
    conn.send(&delivery).await;
    let event = next_seen(&mut seen).await;
    assert_eq!(event["header"]["event_id"], "e-7", "the handler gets the plaintext v2 JSON");
    let ack = conn.recv_data().await;
    assert_eq!(assert_ack_of(&ack, &delivery), json!({ "code": 200 }));
    assert_eq!(ack.payload(), br#"{"code":200}"#);

    let status = wait_status(&client, "one event", |s| s.events == 1).await;
    assert!(status.last_event_at.is_some());
    client.shutdown().await;
}

#[tokio::test]
async fn a_card_answer_goes_back_base64_and_card_frames_get_no_ack() {
    let Connected { lark: _lark, client, mut conn, mut seen, release: _release } =
        Connected::start(quick_config()).await;

    // Legacy `type=card` frames are ignored: no handler call, no ack.
    conn.send(&data_frame(1, "m-card", "card", &event_json("card.action.trigger", "legacy"), (1, 0))).await;
    let delivery = event_frame(2, "card.action.trigger");
    conn.send(&delivery).await;

    let ack = conn.recv_data().await;
    let body = assert_ack_of(&ack, &delivery);
    assert_eq!(body["code"], 200);
    let data = base64::engine::general_purpose::STANDARD.decode(body["data"].as_str().unwrap()).unwrap();
    assert_eq!(data, TOAST.as_bytes());
    assert_eq!(next_seen(&mut seen).await["header"]["event_id"], "e-2");
    assert!(seen.try_recv().is_err(), "the card frame never reached the handler");
    client.shutdown().await;
}

#[tokio::test]
async fn failing_and_panicking_handlers_ack_500() {
    let Connected { lark: _lark, client, mut conn, seen: _seen, release: _release } =
        Connected::start(quick_config()).await;

    for (seq_id, kind) in [(1, "test.fail"), (2, "test.panic")] {
        let delivery = event_frame(seq_id, kind);
        conn.send(&delivery).await;
        let ack = conn.recv_data().await;
        assert_eq!(assert_ack_of(&ack, &delivery), json!({ "code": 500 }), "{kind}");
    }
    // The connection survived the panic.
    let delivery = event_frame(3, "im.message.receive_v1");
    conn.send(&delivery).await;
    assert_eq!(assert_ack_of(&conn.recv_data().await, &delivery), json!({ "code": 200 }));
    client.shutdown().await;
}

/// lark-spec.md's `ws_fragment_scenario`: sum=3 delivered seq 2, 0, 1 → reassembled in seq
/// order, handled once, ONE ack carrying seq 1's SeqID and headers.
#[tokio::test]
async fn a_fragmented_event_is_reassembled_handled_once_and_acked_once() {
    let Connected { lark: _lark, client, mut conn, mut seen, release: _release } =
        Connected::start(quick_config()).await;

    let whole = event_json("im.message.receive_v1", "fragmented");
    let third = whole.len() / 3;
    let parts = [&whole[..third], &whole[third..2 * third], &whole[2 * third..]];
    let frames: Vec<Frame> =
        (0..3).map(|seq| data_frame(10 + seq as u64, "m-frag", "event", parts[seq], (3, seq))).collect();
    for seq in [2, 0, 1] {
        conn.send(&frames[seq]).await;
    }

    assert_eq!(next_seen(&mut seen).await["header"]["event_id"], "fragmented");
    let ack = conn.recv_data().await;
    assert_eq!(assert_ack_of(&ack, &frames[1]), json!({ "code": 200 }));
    assert_eq!(ack.seq_id, 11);

    // The next thing on the wire is the next event's ack: there was no second ack.
    let next = event_frame(20, "im.message.receive_v1");
    conn.send(&next).await;
    assert_eq!(conn.recv_data().await.seq_id, 20);
    assert_eq!(next_seen(&mut seen).await["header"]["event_id"], "e-20");
    assert!(seen.try_recv().is_err(), "dispatched once");
    client.shutdown().await;
}

#[tokio::test]
async fn a_slow_handler_holds_up_neither_pings_nor_other_events() {
    let Connected { lark: _lark, client, mut conn, mut seen, release } =
        Connected::start(json!({ "ReconnectNonce": 0, "ReconnectInterval": 0, "PingInterval": 1 })).await;

    let slow = event_frame(1, "test.slow");
    conn.send(&slow).await;
    next_seen(&mut seen).await;
    let fast = event_frame(2, "im.message.receive_v1");
    conn.send(&fast).await;
    assert_ack_of(&conn.recv_data().await, &fast);
    // The slow handler is still running and the keep-alive goes on.
    conn.recv_ping().await;

    release.notify_one();
    assert_eq!(assert_ack_of(&conn.recv_data().await, &slow), json!({ "code": 200 }));
    client.shutdown().await;
}

#[tokio::test]
async fn a_lost_connection_reconnects_with_fresh_discovery_through_failures() {
    let Connected { mut lark, client, mut conn, mut seen, release: _release } = Connected::start(quick_config()).await;
    assert_eq!(lark.discoveries(), 1);

    // Lark is busy, then a proxy fails, then a handshake is refused with a retryable code:
    // every attempt starts with a new discovery.
    lark.script(|s| {
        s.discoveries.extend([Discovery::Code(1), Discovery::Http(502), Discovery::Code(1000040343)]);
        s.refusals.push_back(vec![("Handshake-Status", "514"), ("Handshake-Autherrcode", "1000040351")]);
    });
    conn.ws.close(None).await.unwrap();

    let mut conn = lark.next_connection().await;
    // Busy, 502, internal error, refused handshake (after discovery #5), then #6 works.
    assert!(conn.query.contains("device_id=dev-6") && conn.query.contains("ticket=TK-6"), "{}", conn.query);
    assert_eq!(lark.discoveries(), 6);
    let status = wait_status(&client, "reconnected", |s| s.state == ConnState::Connected).await;
    assert_eq!(status.connection_id.as_deref(), Some("dev-6"));
    assert_eq!(status.reconnects, 1);
    assert!(status.last_error.is_some());

    conn.recv_ping().await;
    let delivery = event_frame(3, "im.message.receive_v1");
    conn.send(&delivery).await;
    assert_eq!(assert_ack_of(&conn.recv_data().await, &delivery), json!({ "code": 200 }));
    assert_eq!(next_seen(&mut seen).await["header"]["event_id"], "e-3");
    client.shutdown().await;
}

#[tokio::test]
async fn too_many_connections_stops_until_reconnect() {
    let mut lark = FakeLark::start(quick_config()).await;
    lark.script(|s| {
        s.refusals.push_back(vec![
            ("Handshake-Status", "514"),
            ("Handshake-Msg", "too many connections"),
            ("Handshake-Autherrcode", "1000040350"),
        ]);
    });
    let (handler, _seen, _) = recorder();
    let client = LongConnection::spawn(lark.config(), handler);

    let status = wait_status(&client, "stopped", |s| s.state == ConnState::Stopped).await;
    let error = status.last_error.unwrap();
    assert!(error.contains("too many connections") && error.contains("1000040350"), "{error}");
    assert!(!error.contains("TK-") && !error.contains("AK-"), "no credentials in errors: {error}");
    assert_eq!(lark.discoveries(), 1, "a client error is not retried");

    client.reconnect();
    let mut conn = lark.next_connection().await;
    conn.recv_ping().await;
    wait_status(&client, "connected", |s| s.state == ConnState::Connected).await;
    assert_eq!(lark.discoveries(), 2);
    client.shutdown().await;
}

#[tokio::test]
async fn forbidden_handshake_and_rejected_credentials_stop() {
    let lark = FakeLark::start(quick_config()).await;
    lark.script(|s| s.refusals.push_back(vec![("Handshake-Status", "403")]));
    let (handler, _seen, _) = recorder();
    let client = LongConnection::spawn(lark.config(), handler);
    let status = wait_status(&client, "stopped", |s| s.state == ConnState::Stopped).await;
    assert!(status.last_error.unwrap().contains("403"));
    client.shutdown().await;

    lark.script(|s| s.discoveries.push_back(Discovery::Code(10014)));
    // A closure is a handler too.
    let client = LongConnection::spawn(lark.config(), Arc::new(|_payload: Vec<u8>| async { Ack::Done }));
    let status = wait_status(&client, "stopped", |s| s.state == ConnState::Stopped).await;
    let error = status.last_error.unwrap();
    assert!(error.contains("10014"), "{error}");
    assert!(!error.contains(APP_SECRET), "{error}");
    assert_eq!(lark.discoveries(), 2, "one discovery per client, no retries");
    client.shutdown().await;
}

#[tokio::test]
async fn reconnect_count_bounds_the_attempts() {
    let Connected { lark, client, mut conn, seen: _seen, release: _release } = Connected::start(
        json!({ "ReconnectCount": 2, "ReconnectInterval": 0, "ReconnectNonce": 0, "PingInterval": 120 }),
    )
    .await;

    lark.script(|s| s.discoveries.extend([Discovery::Http(502), Discovery::Http(503)]));
    conn.ws.close(None).await.unwrap();
    let status = wait_status(&client, "gave up", |s| s.state == ConnState::Stopped).await;
    let error = status.last_error.unwrap();
    assert!(error.contains("gave up after 2") && error.contains("HTTP 503"), "{error}");
    assert_eq!(lark.discoveries(), 3);
    client.shutdown().await;
}

#[tokio::test]
async fn disconnect_stays_down_and_reconnect_comes_back() {
    let Connected { mut lark, client, mut conn, mut seen, release: _release } = Connected::start(quick_config()).await;
    wait_status(&client, "connected", |s| s.state == ConnState::Connected).await;

    client.disconnect();
    conn.closed_by_client().await;
    let status = wait_status(&client, "disconnected", |s| s.state == ConnState::Disconnected).await;
    assert_eq!(status.connection_id, None);
    assert_eq!(lark.discoveries(), 1, "down means down: no reconnect attempts");

    client.reconnect();
    let mut conn = lark.next_connection().await;
    conn.recv_ping().await;
    let status = wait_status(&client, "connected again", |s| s.state == ConnState::Connected).await;
    assert_eq!(status.connection_id.as_deref(), Some("dev-2"));
    assert_eq!(status.reconnects, 1);
    assert_eq!(lark.discoveries(), 2);

    // reconnect() on a live connection replaces it.
    client.reconnect();
    conn.closed_by_client().await;
    let mut conn = lark.next_connection().await;
    conn.recv_ping().await;
    let delivery = event_frame(1, "im.message.receive_v1");
    conn.send(&delivery).await;
    assert_ack_of(&conn.recv_data().await, &delivery);
    next_seen(&mut seen).await;
    assert_eq!(
        wait_status(&client, "third connection", |s| s.reconnects == 2).await.connection_id.as_deref(),
        Some("dev-3")
    );
    client.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_a_running_handler_ack_then_closes() {
    let Connected { lark: _lark, client, mut conn, mut seen, release } = Connected::start(quick_config()).await;

    let slow = event_frame(1, "test.slow");
    conn.send(&slow).await;
    next_seen(&mut seen).await;
    let stopping = tokio::spawn({
        let client = client.clone();
        async move { client.shutdown().await }
    });
    release.notify_one();
    assert_eq!(assert_ack_of(&conn.recv_data().await, &slow), json!({ "code": 200 }));
    conn.closed_by_client().await;
    tokio::time::timeout(WAIT, stopping).await.unwrap().unwrap();
    assert_eq!(client.status().state, ConnState::Disconnected);

    client.reconnect();
    assert_eq!(client.status().state, ConnState::Disconnected, "nothing restarts after shutdown");
}
