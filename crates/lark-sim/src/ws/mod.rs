//! The long connection (spec §7): discovery tickets, the WebSocket server at `/ws/v2` on a listener
//! of its own, and delivery of events as `pbbp2.Frame`s to one randomly chosen connection.
//!
//! Which type to use when: [`Endpoint`] lives in the state and hands out URLs (`POST
//! /callback/ws/endpoint`); [`Hub`] lives in the pusher and knows the open connections; [`serve`]
//! accepts them.

mod frame;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::web::Query;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt as _, StreamExt as _};
use rand::seq::IndexedRandom as _;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_util::sync::CancellationToken;

use self::frame::{CONTROL, DATA, Frame};
use crate::config::ClientConfig;
use crate::ids;
use crate::push::Outcome;
use crate::state::Sim;

/// Lark allows 50 connections per app (spec §7.1).
pub(crate) const MAX_CONNECTIONS: usize = 50;
/// `Handshake-Autherrcode` for "too many connections", which the SDKs treat as fatal (spec §7.3).
const TOO_MANY_CONNECTIONS: &str = "1000040350";
/// How long a discovery URL stays usable; the spec does not say (L), SDKs dial within seconds.
const TICKET_LIFETIME_MS: i64 = 10 * 60 * 1000;
/// Pause after a failed `accept` (out of file descriptors, say) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// One URL handed out by discovery. Every query parameter must come back as issued.
#[derive(Debug, Clone)]
struct Ticket {
    device_id: String,
    access_key: String,
    service_id: i32,
    expires_ms: i64,
}

/// Long-connection discovery: where the WebSocket server listens and which tickets are valid.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// `ws://127.0.0.1:PORT/ws/v2`, set once the listener is bound.
    pub(crate) url: String,
    /// Handed out by discovery and by every pong.
    pub(crate) client_config: ClientConfig,
    tickets: HashMap<String, Ticket>,
}

impl Endpoint {
    pub(crate) fn new(client_config: ClientConfig) -> Self {
        Self { url: String::new(), client_config, tickets: HashMap::new() }
    }

    /// A fresh URL. Its ticket admits one connection: the SDKs run discovery before every dial
    /// (spec §7.7), so a client that re-dials an old URL is the one that is wrong.
    pub(crate) fn issue(&mut self, now_ms: i64) -> String {
        self.tickets.retain(|_, t| t.expires_ms > now_ms);
        let ticket = ids::opaque();
        let issued = Ticket {
            device_id: ids::opaque(),
            access_key: ids::opaque(),
            service_id: rand::random_range(1..=i32::MAX),
            expires_ms: now_ms + TICKET_LIFETIME_MS,
        };
        let url = format!(
            "{}?device_id={}&access_key={}&service_id={}&ticket={ticket}",
            self.url, issued.device_id, issued.access_key, issued.service_id
        );
        self.tickets.insert(ticket, issued);
        url
    }

    /// The service id of a valid ticket whose parameters all came back unchanged.
    fn check(&self, query: &HashMap<String, String>, now_ms: i64) -> Result<i32, &'static str> {
        let param = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
        let ticket = self.tickets.get(param("ticket")).ok_or("unknown or used ticket")?;
        if ticket.expires_ms <= now_ms {
            return Err("the ticket expired");
        }
        let same = param("device_id") == ticket.device_id
            && param("access_key") == ticket.access_key
            && param("service_id") == ticket.service_id.to_string();
        if same { Ok(ticket.service_id) } else { Err("the URL's parameters were changed") }
    }
}

/// The app's answer to one data frame: `{"code":200}`, `{"code":500}` or `{"code":200,"data":…}`.
#[derive(Debug)]
struct Ack {
    code: Option<i64>,
    data: Option<String>,
}

impl Ack {
    fn parse(payload: Option<&[u8]>) -> Self {
        let value: Value = payload.and_then(|p| serde_json::from_slice(p).ok()).unwrap_or(Value::Null);
        Self { code: value["code"].as_i64(), data: value["data"].as_str().map(str::to_owned) }
    }

    fn outcome(self) -> Outcome {
        let Some(code) = self.code else { return Outcome::failed("the ack payload has no code") };
        let Ok(status) = u16::try_from(code) else { return Outcome::failed(format!("ack code {code}")) };
        let answer = match self.data {
            None => json!({}),
            Some(b64) => match STANDARD.decode(b64).ok().and_then(|raw| serde_json::from_slice(&raw).ok()) {
                Some(answer) => answer,
                None => {
                    let mut outcome = Outcome::answered(status, None);
                    outcome.error = Some("the ack's data is not base64 of JSON".to_owned());
                    return outcome;
                }
            },
        };
        Outcome::answered(status, Some(answer))
    }
}

/// One open WebSocket.
#[derive(Debug)]
struct Conn {
    id: u64,
    service_id: i32,
    /// Encoded data frames for the connection's task to write.
    out: mpsc::UnboundedSender<Vec<u8>>,
    /// Deliveries waiting for their ack, by frame `message_id`; `None` once the connection is gone.
    pending: Mutex<Option<HashMap<String, oneshot::Sender<Ack>>>>,
    /// Cancelled to close the connection with a Close frame.
    close: CancellationToken,
    next_seq: AtomicU64,
}

impl Conn {
    fn pending(&self) -> MutexGuard<'_, Option<HashMap<String, oneshot::Sender<Ack>>>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn expect_ack(&self, message_id: &str) -> Option<oneshot::Receiver<Ack>> {
        let (tx, rx) = oneshot::channel();
        self.pending().as_mut()?.insert(message_id.to_owned(), tx);
        Some(rx)
    }

    fn settle(&self, message_id: &str, ack: Ack) {
        let waiting = self.pending().as_mut().and_then(|p| p.remove(message_id));
        if let Some(tx) = waiting {
            let _ = tx.send(ack);
        }
    }

    fn forget_ack(&self, message_id: &str) {
        self.pending().as_mut().map(|p| p.remove(message_id));
    }

    /// Every waiting delivery learns the connection is gone.
    fn fail_pending(&self) {
        self.pending().take();
    }

    /// `method=1` frames with the headers of spec §7.6, fragmented to `fragment_bytes`. Fragments go
    /// out last-first (`seq` 2,0,1 for three, as the spec saw Lark do), so a client that assumes
    /// order is caught.
    fn data_frames(&self, message_id: &str, body: &[u8], fragment_bytes: Option<usize>, now_ms: i64) -> Vec<Frame> {
        let parts: Vec<&[u8]> = match fragment_bytes {
            Some(n) if body.len() > n => body.chunks(n).collect(),
            _ => vec![body],
        };
        let sum = parts.len().to_string();
        let trace_id = ids::opaque();
        let mut frames: Vec<Frame> = parts
            .iter()
            .enumerate()
            .map(|(seq, part)| Frame {
                seq_id: self.next_seq.fetch_add(1, Ordering::Relaxed),
                log_id: u64::from(rand::random::<u32>()),
                service: self.service_id,
                method: DATA,
                headers: vec![
                    ("type".to_owned(), "event".to_owned()),
                    ("message_id".to_owned(), message_id.to_owned()),
                    ("sum".to_owned(), sum.clone()),
                    ("seq".to_owned(), seq.to_string()),
                    ("trace_id".to_owned(), trace_id.clone()),
                    ("timestamp".to_owned(), now_ms.to_string()),
                ],
                payload: Some(part.to_vec()),
                ..Frame::default()
            })
            .collect();
        frames.rotate_right(1);
        frames
    }
}

#[derive(Debug, Default)]
struct HubInner {
    /// Connections admitted and not yet finished (open ones plus handshakes under way).
    slots: usize,
    conns: Vec<Arc<Conn>>,
    /// Fault: close the connection after this many more data frames.
    drop_after: Option<usize>,
}

/// The open long connections.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    inner: Mutex<HubInner>,
    next_id: AtomicU64,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HubInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections currently open.
    pub(crate) fn count(&self) -> usize {
        self.lock().conns.len()
    }

    /// Closes every connection now; their unacknowledged deliveries fail at once.
    pub(crate) fn drop_all(&self) -> usize {
        let conns = std::mem::take(&mut self.lock().conns);
        for conn in &conns {
            conn.close.cancel();
            conn.fail_pending();
        }
        conns.len()
    }

    /// Fault: the connection that sends the `frames`-th next data frame closes right after it,
    /// before any ack can arrive. `0` closes every connection now.
    pub(crate) fn drop_after(&self, frames: usize) {
        if frames == 0 {
            self.drop_all();
        } else {
            self.lock().drop_after = Some(frames);
        }
    }

    fn reserve(&self) -> bool {
        let mut inner = self.lock();
        if inner.slots >= MAX_CONNECTIONS {
            return false;
        }
        inner.slots += 1;
        true
    }

    fn release(&self) {
        let mut inner = self.lock();
        inner.slots = inner.slots.saturating_sub(1);
    }

    fn register(&self, conn: Arc<Conn>) {
        self.lock().conns.push(conn);
    }

    fn unregister(&self, id: u64) {
        self.lock().conns.retain(|c| c.id != id);
    }

    /// Cluster delivery: one connection chosen at random (spec §7.1).
    fn pick(&self) -> Option<Arc<Conn>> {
        self.lock().conns.choose(&mut rand::rng()).cloned()
    }

    /// Counts a data frame written; true when the fault says to close the connection now.
    fn data_frame_sent(&self) -> bool {
        let mut inner = self.lock();
        match inner.drop_after {
            Some(n) if n <= 1 => {
                inner.drop_after = None;
                true
            }
            Some(n) => {
                inner.drop_after = Some(n - 1);
                false
            }
            None => false,
        }
    }

    /// Sends `body` to one connection and waits for its ack.
    pub(crate) async fn deliver(
        &self,
        body: &[u8],
        now_ms: i64,
        fragment_bytes: Option<usize>,
        timeout: Duration,
    ) -> Outcome {
        let Some(conn) = self.pick() else { return Outcome::failed("no long connection is open") };
        let message_id = ids::opaque();
        let Some(ack) = conn.expect_ack(&message_id) else {
            return Outcome::failed("the long connection closed");
        };
        for frame in conn.data_frames(&message_id, body, fragment_bytes, now_ms) {
            if conn.out.send(frame.encode()).is_err() {
                return Outcome::failed("the long connection closed");
            }
        }
        match tokio::time::timeout(timeout, ack).await {
            Ok(Ok(ack)) => ack.outcome(),
            Ok(Err(_)) => Outcome::failed("the long connection closed before the ack"),
            Err(_) => {
                conn.forget_ack(&message_id);
                Outcome::failed(format!("no ack within {} ms", timeout.as_millis()))
            }
        }
    }
}

/// A connection slot, given back when the connection (or its failed handshake) ends.
#[derive(Debug)]
struct Slot(Arc<Sim>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.push.hub.release();
    }
}

/// What the handshake established: a connection already in the hub, so an event pushed the moment
/// the client sees the 101 finds it (frames wait in the channel until the socket is served).
#[derive(Debug)]
struct Admission {
    conn: Arc<Conn>,
    outgoing: mpsc::UnboundedReceiver<Vec<u8>>,
    /// Held for as long as the connection lives.
    _slot: Slot,
}

/// Accepts WebSocket connections until the simulator stops.
pub(crate) async fn serve(sim: Arc<Sim>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let conn_sim = Arc::clone(&sim);
                sim.push.spawn(async move { accept(conn_sim, stream).await });
            }
            Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
        }
    }
}

#[expect(clippy::result_large_err, reason = "tungstenite's handshake callback returns its own response type")]
async fn accept(sim: Arc<Sim>, stream: TcpStream) {
    let mut admitted = None;
    let handshake = tokio_tungstenite::accept_hdr_async(stream, |req: &Request, response: Response| {
        admitted = Some(admit(&sim, req).map_err(Refusal::into_response)?);
        Ok(response)
    })
    .await;
    match (handshake, admitted) {
        (Ok(ws), Some(admission)) => run(&sim, ws, admission).await,
        (Err(_), Some(admission)) => {
            sim.push.hub.unregister(admission.conn.id);
            admission.conn.fail_pending();
        }
        (_, None) => {}
    }
}

/// The upgrade is allowed for a valid ticket while fewer than 50 connections are open.
fn admit(sim: &Arc<Sim>, req: &Request) -> Result<Admission, Refusal> {
    if req.uri().path() != "/ws/v2" {
        return Err(Refusal { status: StatusCode::NOT_FOUND, handshake: None, msg: "404 page not found" });
    }
    let query = Query::<HashMap<String, String>>::from_query(req.uri().query().unwrap_or_default())
        .map(Query::into_inner)
        .unwrap_or_default();
    let mut st = sim.lock();
    let now_ms = st.now_ms();
    // 514 without an auth code is "auth failed, try again" to the SDKs: they run discovery again.
    let service_id = st.ws.check(&query, now_ms).map_err(|msg| Refusal {
        status: StatusCode::FORBIDDEN,
        handshake: Some(("514", None)),
        msg,
    })?;
    if !sim.push.hub.reserve() {
        return Err(Refusal {
            status: StatusCode::FORBIDDEN,
            handshake: Some(("514", Some(TOO_MANY_CONNECTIONS))),
            msg: "too many connections for this app",
        });
    }
    let slot = Slot(Arc::clone(sim));
    if let Some(ticket) = query.get("ticket") {
        st.ws.tickets.remove(ticket);
    }
    let hub = &sim.push.hub;
    let (out, outgoing) = mpsc::unbounded_channel();
    let conn = Arc::new(Conn {
        id: hub.next_id.fetch_add(1, Ordering::Relaxed),
        service_id,
        out,
        pending: Mutex::new(Some(HashMap::new())),
        close: sim.push.shutdown.child_token(),
        next_seq: AtomicU64::new(1),
    });
    hub.register(Arc::clone(&conn));
    Ok(Admission { conn, outgoing, _slot: slot })
}

/// A refused upgrade. The SDKs read only the `Handshake-Status` / `-Msg` / `-Autherrcode` headers
/// (spec §7.3); the HTTP status itself is not documented, so it is a plain 403 (404 for a wrong path).
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    /// `Handshake-Status` and, if any, `Handshake-Autherrcode`.
    handshake: Option<(&'static str, Option<&'static str>)>,
    msg: &'static str,
}

impl Refusal {
    fn into_response(self) -> ErrorResponse {
        let mut response = ErrorResponse::new(Some(self.msg.to_owned()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if let Some((status, auth_code)) = self.handshake {
            headers.insert("handshake-status", HeaderValue::from_static(status));
            headers.insert("handshake-msg", HeaderValue::from_static(self.msg));
            if let Some(code) = auth_code {
                headers.insert("handshake-autherrcode", HeaderValue::from_static(code));
            }
        }
        response
    }
}

/// Serves one connection: writes queued data frames, answers pings, routes acks, until either
/// side closes it.
async fn run(sim: &Arc<Sim>, ws: WebSocketStream<TcpStream>, admission: Admission) {
    let hub = &sim.push.hub;
    let Admission { conn, outgoing: mut rx, _slot } = admission;
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            () = conn.close.cancelled() => {
                let _ = sink.send(Message::Close(None)).await;
                break;
            }
            outgoing = rx.recv() => {
                let Some(bytes) = outgoing else { break };
                // The drop fault cuts the connection without a Close frame, as a network failure would.
                if sink.send(Message::Binary(bytes.into())).await.is_err() || hub.data_frame_sent() {
                    break;
                }
            }
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Binary(bytes))) => {
                    if let Some(reply) = on_frame(sim, &conn, &bytes)
                        && sink.send(Message::Binary(reply.into())).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    }
    hub.unregister(conn.id);
    conn.fail_pending();
}

/// Pong for a ping (carrying the ClientConfig), nothing for an ack (it settles its delivery).
/// Frames that do not parse are ignored, as the SDKs ignore what they cannot read.
fn on_frame(sim: &Sim, conn: &Conn, bytes: &[u8]) -> Option<Vec<u8>> {
    let frame = Frame::decode(bytes).ok()?;
    match (frame.method, frame.header("type")) {
        (CONTROL, Some("ping")) => {
            let config = sim.lock().ws.client_config;
            let pong = Frame {
                seq_id: frame.seq_id,
                log_id: frame.log_id,
                service: conn.service_id,
                method: CONTROL,
                headers: vec![("type".to_owned(), "pong".to_owned())],
                payload: serde_json::to_vec(&config).ok(),
                ..Frame::default()
            };
            Some(pong.encode())
        }
        (DATA, _) => {
            if let Some(message_id) = frame.header("message_id") {
                conn.settle(message_id, Ack::parse(frame.payload.as_deref()));
            }
            None
        }
        _ => None,
    }
}
