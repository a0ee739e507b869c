//! One open WebSocket: dialling it, then a single loop that owns the socket, so every
//! write (pings and acks alike) goes through one writer and no lock is needed.
//!
//! Handlers run in their own tasks; the loop only reads, pings and forwards their acks. At
//! most [`MAX_IN_FLIGHT`] handlers run at once: when all are busy the loop stops reading
//! (the socket buffers, Lark's own flow control takes over) but keeps pinging, so a slow
//! handler can neither starve the keep-alive nor pile up unbounded work.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::endpoint::{Endpoint, ServerConfig, Settings};
use super::error::ConnError;
use super::fragments::{Complete, Outcome, Reassembly};
use super::frame::{AckBody, Frame, METHOD_CONTROL, METHOD_DATA, frame_type};
use super::supervisor::{Shared, Wish};
use super::{Ack, EventHandler};

/// Handlers running at once, across connections (a handler outlives a lost connection).
pub(crate) const MAX_IN_FLIGHT: usize = 16;

/// How long `shutdown` waits for running handlers so their acks still go out. Lark's ack
/// window is 3 s; past that it re-delivers anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the WebSocket. The handshake runs under the request timeout: a server that accepts
/// TCP and never answers must not hang the reconnect loop.
pub(crate) async fn dial(endpoint: &Endpoint, timeout: Duration) -> Result<WsStream, ConnError> {
    // Boxed: the TLS handshake's state machine is ~20 KB, which would otherwise sit inline
    // in every future up to the task's.
    let connect = Box::pin(tokio_tungstenite::connect_async(endpoint.url.as_str()));
    match tokio::time::timeout(timeout, connect).await {
        Err(_) => Err(ConnError::Timeout("websocket handshake")),
        Ok(Err(e)) => Err(ConnError::from_dial(e)),
        Ok(Ok((ws, _response))) => Ok(ws),
    }
}

/// What every connection shares with the supervisor.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) handler: Arc<dyn EventHandler>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) shared: Arc<Shared>,
    /// Bounds the close handshake.
    pub(crate) close_timeout: Duration,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("permits", &self.permits).finish_non_exhaustive()
    }
}

/// How a session ended.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    /// `reconnect()`, `disconnect()` or `shutdown()` asked for it; the socket was closed.
    Requested,
    /// The server closed the connection or it broke.
    Lost(ConnError),
}

/// Runs one open connection until it is lost or a new wish arrives. `settings` is updated
/// in place from pongs, so the reconnect loop uses what the server said last.
#[tracing::instrument(name = "lark.ws.session", skip_all)]
pub(crate) async fn run(
    mut ws: WsStream,
    service: i32,
    settings: &mut Settings,
    wishes: &mut watch::Receiver<Wish>,
    ctx: &Context,
) -> SessionEnd {
    let (ack_tx, mut ack_rx) = mpsc::channel::<Frame>(MAX_IN_FLIGHT);
    let mut reassembly = Reassembly::default();
    // A permit reserved for the next complete message; reading waits until there is one.
    let mut permit: Option<OwnedSemaphorePermit> = None;

    // The SDKs ping right away: the first pong brings the server's settings.
    if let Err(e) = send(&mut ws, &Frame::ping(service)).await {
        return SessionEnd::Lost(ConnError::Lost(e));
    }
    let mut last_ping = Instant::now();
    let next_ping = tokio::time::sleep_until((last_ping + settings.ping_interval).into());
    tokio::pin!(next_ping);

    loop {
        tokio::select! {
            changed = wishes.changed() => {
                let stopping = changed.is_err() || *wishes.borrow() == Wish::Stop;
                // The reserved permit would make the drain wait for itself.
                drop(permit.take());
                if stopping {
                    drain(&mut ws, &mut ack_rx, ctx).await;
                }
                close(&mut ws, ctx.close_timeout).await;
                return SessionEnd::Requested;
            }
            () = &mut next_ping => {
                if let Err(e) = send(&mut ws, &Frame::ping(service)).await {
                    return SessionEnd::Lost(ConnError::Lost(e));
                }
                last_ping = Instant::now();
                next_ping.as_mut().reset((last_ping + settings.ping_interval).into());
            }
            Some(ack) = ack_rx.recv() => {
                if let Err(e) = send(&mut ws, &ack).await {
                    return SessionEnd::Lost(ConnError::Lost(e));
                }
            }
            acquired = ctx.permits.clone().acquire_owned(), if permit.is_none() => {
                // The semaphore is never closed, so this is always a permit.
                permit = acquired.ok();
            }
            message = ws.next(), if permit.is_some() => match message {
                None => return SessionEnd::Lost(ConnError::Closed),
                Some(Err(e)) => return SessionEnd::Lost(ConnError::Lost(e)),
                Some(Ok(Message::Close(_))) => {
                    // tungstenite has queued the close reply; flush it, then reconnect.
                    close(&mut ws, ctx.close_timeout).await;
                    return SessionEnd::Lost(ConnError::Closed);
                }
                Some(Ok(Message::Binary(bytes))) => match Frame::from_bytes(&bytes) {
                    Ok(frame) if frame.method == METHOD_CONTROL => {
                        if let Some(interval) = on_control(&frame, settings) {
                            // A new interval counts from the last ping, not the next one, so
                            // a shorter interval takes effect at once.
                            next_ping.as_mut().reset((last_ping + interval).into());
                        }
                    }
                    Ok(frame) if frame.method == METHOD_DATA => {
                        // The read arm only runs holding a permit, so `take` always has one.
                        if let Some(complete) = on_data(frame, &mut reassembly)
                            && let Some(permit) = permit.take()
                        {
                            dispatch(complete, permit, ack_tx.clone(), ctx);
                        }
                    }
                    Ok(frame) => tracing::debug!(ws.method = frame.method, "ignoring a frame of unknown method"),
                    Err(e) => tracing::warn!(error = %e, bytes = bytes.len(), "ignoring a frame that does not decode"),
                },
                // Text is not part of the protocol (the Go SDK drops it too); WebSocket-level
                // pings are answered by tungstenite itself.
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn send(ws: &mut WsStream, frame: &Frame) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    ws.send(Message::binary(frame.to_bytes())).await
}

/// Sends a close frame, bounded: a dead peer must not hold up a reconnect.
async fn close(ws: &mut WsStream, timeout: Duration) {
    if let Ok(Err(e)) = tokio::time::timeout(timeout, ws.close(None)).await {
        tracing::debug!(error = %e, "closing the websocket failed");
    }
}

/// On `shutdown()`: stop reading, let running handlers finish and send their acks (within
/// [`SHUTDOWN_GRACE`]), so Lark does not re-deliver what was already handled.
async fn drain(ws: &mut WsStream, acks: &mut mpsc::Receiver<Frame>, ctx: &Context) {
    let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
    let idle = ctx.permits.acquire_many(all);
    tokio::pin!(idle);
    let deadline = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            Some(ack) = acks.recv() => {
                if send(ws, &ack).await.is_err() {
                    return;
                }
            }
            _ = &mut idle => {
                // Every handler is done; any ack they queued is in the channel already.
                while let Ok(ack) = acks.try_recv() {
                    if send(ws, &ack).await.is_err() {
                        return;
                    }
                }
                return;
            }
            () = &mut deadline => {
                tracing::warn!("shutting down with event handlers still running; Lark will re-deliver their events");
                return;
            }
        }
    }
}

/// A control frame: pongs may carry new settings. Returns the new ping interval if it
/// changed. Server pings need no answer.
fn on_control(frame: &Frame, settings: &mut Settings) -> Option<Duration> {
    if frame.frame_type() != frame_type::PONG || frame.payload().is_empty() {
        return None;
    }
    match serde_json::from_slice::<ServerConfig>(frame.payload()) {
        Ok(config) => {
            let before = settings.ping_interval;
            settings.apply(&config);
            tracing::debug!(?settings, "applied the server's settings from a pong");
            (settings.ping_interval != before).then_some(settings.ping_interval)
        }
        Err(e) => {
            tracing::warn!(error = %e, "ignoring a pong whose settings do not parse");
            None
        }
    }
}

/// A data frame: events are reassembled; `card` frames are dropped without an ack, as all
/// the SDKs do (card callbacks arrive as `event`).
fn on_data(frame: Frame, reassembly: &mut Reassembly) -> Option<Complete> {
    match frame.frame_type() {
        frame_type::EVENT => {}
        frame_type::CARD => {
            tracing::debug!(ws.seq_id = frame.seq_id, "ignoring a legacy card frame");
            return None;
        }
        other => {
            tracing::debug!(ws.seq_id = frame.seq_id, ws.frame_type = other, "ignoring a data frame of unknown type");
            return None;
        }
    }
    let seq_id = frame.seq_id;
    match reassembly.accept(frame, Instant::now()) {
        Outcome::Complete(complete) => Some(complete),
        Outcome::Pending => None,
        Outcome::Invalid(why) => {
            tracing::warn!(ws.seq_id = seq_id, reason = why, "dropping a data frame with bad fragment headers");
            None
        }
    }
}

/// Hands a complete message to the handler in its own task, then queues its one ack.
fn dispatch(complete: Complete, permit: OwnedSemaphorePermit, acks: mpsc::Sender<Frame>, ctx: &Context) {
    ctx.shared.update(|s| {
        s.events += 1;
        s.last_event_at = Some(SystemTime::now());
    });
    let handler = Arc::clone(&ctx.handler);
    tokio::spawn(async move {
        let _permit = permit;
        let Complete { payload, last } = complete;
        let started = Instant::now();
        // A panicking handler must not kill the task silently: Lark gets a 500 and
        // re-delivers, which is what a failed handler means.
        let ack = AssertUnwindSafe(async { handler.handle(payload).await }).catch_unwind().await.unwrap_or_else(|_| {
            tracing::error!(ws.seq_id = last.seq_id, "event handler panicked");
            Ack::Failed
        });
        let body = match ack {
            Ack::Done => AckBody::ok(),
            Ack::Answer(json) => AckBody::answer(&json),
            Ack::Failed => AckBody::failed(),
        };
        // `Instant` is monotonic: unlike Node's start−end, this is never negative.
        let biz_rt = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let seq_id = last.seq_id;
        if acks.send(last.into_ack(biz_rt, &body)).await.is_err() {
            tracing::info!(ws.seq_id = seq_id, "connection gone before the ack; Lark will re-deliver the event");
        }
    });
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    /// `wss://` goes through rustls, whose crypto provider is picked from crate features
    /// at run time: a graph with none (or two) would panic here, not fail to build.
    #[tokio::test]
    async fn wss_dials_through_rustls_without_panicking() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Accept and hang up mid-handshake.
            let (stream, _) = listener.accept().await.unwrap();
            drop(stream);
        });
        let endpoint =
            Endpoint::new(format!("wss://{addr}/ws/v2?device_id=d&ticket=T"), ServerConfig::default()).unwrap();
        let error = dial(&endpoint, Duration::from_secs(5)).await.err().unwrap();
        assert!(matches!(error, ConnError::Dial(_)), "{error:?}");
        assert!(!error.chain().contains("ticket"), "{}", error.chain());
    }
}
