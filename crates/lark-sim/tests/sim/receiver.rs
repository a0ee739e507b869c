//! A tiny app-side webhook receiver: records every request, answers with scripted statuses, and
//! checks Lark's signature and decrypts with its own few lines of crypto.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut as _, KeyIvInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// Checks `X-Lark-Signature` against `key` and returns the plaintext event JSON.
    pub fn open(&self, key: Option<&str>) -> Value {
        let mut hasher = Sha256::new();
        hasher.update(self.header("x-lark-request-timestamp"));
        hasher.update(self.header("x-lark-request-nonce"));
        hasher.update(key.unwrap_or_default());
        hasher.update(&self.body);
        let expected: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(self.header("x-lark-signature"), expected, "signature over the raw body");
        let body: Value = serde_json::from_slice(&self.body).unwrap();
        let Some(key) = key else { return body };
        let wire = STANDARD.decode(body["encrypt"].as_str().expect("an {\"encrypt\"} body")).unwrap();
        let (iv, ciphertext) = wire.split_at(16);
        let key: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let iv: [u8; 16] = iv.try_into().unwrap();
        let plain = cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
            .expect("PKCS#7 padding");
        serde_json::from_slice(&plain).unwrap()
    }
}

#[derive(Debug, Default)]
struct Shared {
    requests: Mutex<Vec<Received>>,
    statuses: Mutex<VecDeque<u16>>,
    card_answer: Mutex<Option<Value>>,
    delay: Mutex<Duration>,
}

pub struct Receiver {
    pub base_url: String,
    shared: Arc<Shared>,
    server: ServerHandle,
}

impl Receiver {
    pub fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(Arc::clone(&shared));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { base_url: format!("http://127.0.0.1:{port}"), shared, server: handle }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The next answers' statuses (then 200 again).
    pub fn script(&self, statuses: &[u16]) {
        self.shared.statuses.lock().unwrap().extend(statuses);
    }

    pub fn answer_cards_with(&self, answer: Value) {
        *self.shared.card_answer.lock().unwrap() = Some(answer);
    }

    pub fn delay(&self, by: Duration) {
        *self.shared.delay.lock().unwrap() = by;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let headers =
        req.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    shared.requests.lock().unwrap().push(Received { path: req.path().to_owned(), headers, body: body.to_vec() });
    let delay = *shared.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let status = shared.statuses.lock().unwrap().pop_front().unwrap_or(200);
    let answer = if req.path() == "/cards" {
        shared.card_answer.lock().unwrap().clone().unwrap_or_else(|| json!({}))
    } else {
        json!({"msg": "success"})
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(answer)
}

/// The example bodies of the spec (`fixtures.bodies` in lark-vectors.json).
pub fn fixture(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../lark-notify/tests/vectors/lark-vectors.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all["fixtures"]["bodies"][name].clone()
}

/// Same keys at every level and the same JSON kinds, apart from keys in `optional` that the
/// fixture has and the simulator may leave out.
#[track_caller]
pub fn assert_same_shape(actual: &Value, fixture: &Value, optional: &[&str]) {
    fn walk(path: &str, a: &Value, f: &Value, optional: &[&str]) {
        match (a, f) {
            (Value::Object(a), Value::Object(f)) => {
                for key in a.keys() {
                    assert!(f.contains_key(key), "{path}.{key} is not in the fixture");
                }
                for (key, fv) in f {
                    match a.get(key) {
                        Some(av) => walk(&format!("{path}.{key}"), av, fv, optional),
                        None => assert!(optional.contains(&key.as_str()), "{path}.{key} is missing"),
                    }
                }
            }
            (Value::Array(a), Value::Array(f)) => {
                if let Some(first) = f.first() {
                    for item in a {
                        walk(&format!("{path}[]"), item, first, optional);
                    }
                }
            }
            _ => assert_eq!(std::mem::discriminant(a), std::mem::discriminant(f), "{path}: {a} vs {f}"),
        }
    }
    walk("$", actual, fixture, optional);
}
