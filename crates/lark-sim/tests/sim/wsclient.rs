//! A minimal long-connection client: discovery, then tokio-tungstenite with frames decoded by
//! prost (a codec independent of the simulator's hand-written one).

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use lark_sim::SimHandle;
use prost::Message as _;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[derive(Clone, PartialEq, prost::Message)]
pub struct Header {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, required, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    #[prost(uint64, required, tag = "1")]
    pub seq_id: u64,
    #[prost(uint64, required, tag = "2")]
    pub log_id: u64,
    #[prost(int32, required, tag = "3")]
    pub service: i32,
    #[prost(int32, required, tag = "4")]
    pub method: i32,
    #[prost(message, repeated, tag = "5")]
    pub headers: Vec<Header>,
    #[prost(string, optional, tag = "6")]
    pub payload_encoding: Option<String>,
    #[prost(string, optional, tag = "7")]
    pub payload_type: Option<String>,
    #[prost(bytes = "vec", optional, tag = "8")]
    pub payload: Option<Vec<u8>>,
    #[prost(string, optional, tag = "9")]
    pub log_id_new: Option<String>,
}

impl Frame {
    pub fn header(&self, key: &str) -> &str {
        self.headers.iter().find(|h| h.key == key).map_or("", |h| h.value.as_str())
    }

    pub fn payload_json(&self) -> Value {
        serde_json::from_slice(self.payload.as_deref().unwrap_or_default()).unwrap()
    }
}

const WAIT: Duration = Duration::from_secs(5);

/// `POST /callback/ws/endpoint` with these credentials; the whole answer.
pub async fn discover_with(sim: &SimHandle, app_id: &str, app_secret: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/callback/ws/endpoint", sim.base_url))
        .json(&json!({"AppID": app_id, "AppSecret": app_secret}))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// A fresh URL from discovery.
pub async fn discover(sim: &SimHandle) -> String {
    let (_, body) = discover_with(sim, &sim.app_id, &sim.app_secret).await;
    assert_eq!(body["code"], 0, "{body}");
    body["data"]["URL"].as_str().unwrap().to_owned()
}

pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub service_id: i32,
}

impl WsClient {
    /// Discovery, then the upgrade.
    pub async fn connect(sim: &SimHandle) -> Self {
        Self::dial(&discover(sim).await).await.expect("the upgrade is accepted")
    }

    pub async fn dial(url: &str) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        let service_id = url.split("service_id=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
        Ok(Self { ws, service_id })
    }

    pub async fn send(&mut self, frame: &Frame) {
        self.ws.send(Message::Binary(frame.encode_to_vec().into())).await.unwrap();
    }

    /// The next binary frame; `None` once the server closed or cut the connection.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame in time") {
                Some(Ok(Message::Binary(bytes))) => return Some(Frame::decode(bytes.as_ref()).unwrap()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    pub async fn ping(&mut self) -> Frame {
        let ping = Frame {
            service: self.service_id,
            headers: vec![Header { key: "type".into(), value: "ping".into() }],
            ..Frame::default()
        };
        self.send(&ping).await;
        self.next_frame().await.expect("a pong")
    }

    /// All fragments of the next event (as they arrived) and the reassembled payload.
    pub async fn next_event(&mut self) -> (Vec<Frame>, Value) {
        let mut frames: Vec<Frame> = Vec::new();
        loop {
            let frame = self.next_frame().await.expect("an event frame");
            assert_eq!((frame.method, frame.header("type")), (1, "event"));
            if let Some(first) = frames.first() {
                assert_eq!(frame.header("message_id"), first.header("message_id"), "fragments of one message");
            }
            let sum: usize = frame.header("sum").parse().unwrap();
            frames.push(frame);
            if frames.len() == sum {
                break;
            }
        }
        let mut parts: Vec<&Frame> = frames.iter().collect();
        parts.sort_by_key(|f| f.header("seq").parse::<usize>().unwrap());
        let payload: Vec<u8> = parts.iter().flat_map(|f| f.payload.clone().unwrap_or_default()).collect();
        (frames, serde_json::from_slice(&payload).unwrap())
    }

    /// Answers a data frame the way the SDKs do: the same frame, `biz_rt` added, payload replaced.
    pub async fn ack(&mut self, frame: &Frame, payload: Value) {
        let mut ack = frame.clone();
        ack.headers.push(Header { key: "biz_rt".into(), value: "1".into() });
        ack.payload = Some(payload.to_string().into_bytes());
        self.send(&ack).await;
    }

    /// Next event, acknowledged with `{"code":200}`.
    pub async fn take_event(&mut self) -> Value {
        let (frames, payload) = self.next_event().await;
        self.ack(frames.last().unwrap(), json!({"code": 200})).await;
        payload
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
