//! `ConnError`: why a long connection could not be opened or was lost, classified as the
//! SDKs do into client errors (stop: retrying cannot help) and server errors (retry).

use tokio_tungstenite::tungstenite;

/// The discovery code for "too many connections" when it comes back in a refused
/// handshake's `Handshake-Autherrcode` (lark-spec.md §7.3).
const TOO_MANY_CONNECTIONS: &str = "1000040350";

/// A failure to open or keep a long connection. Only its display (with the source chain)
/// leaves this module, as `ConnStatus::last_error`; none of the variants carries the
/// endpoint URL, whose query holds the connection's credentials.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnError {
    /// The discovery POST did not get an answer.
    #[error("endpoint discovery: cannot reach lark")]
    Discovery(#[source] reqwest::Error),
    /// The discovery POST answered a non-200 status.
    #[error("endpoint discovery answered HTTP {status}")]
    DiscoveryHttp { status: u16 },
    /// Discovery answered a code that means "later" (1, 1000040343).
    #[error("endpoint discovery: lark is busy (code {code}: {msg})")]
    DiscoveryBusy { code: i64, msg: String },
    /// Discovery refused the app (bad credentials, long connection not enabled, …).
    #[error("endpoint discovery refused the app (code {code}: {msg})")]
    DiscoveryRejected { code: i64, msg: String },
    /// Discovery answered something other than the documented body.
    #[error("endpoint discovery: unexpected answer: {0}")]
    DiscoveryDecode(&'static str),
    /// No answer within the request timeout.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The server refused the WebSocket upgrade.
    #[error("websocket handshake refused: HTTP {http}, Handshake-Status {status}, code {code}: {msg}{hint}", hint = handshake_hint(.status, .code))]
    HandshakeRefused { http: u16, status: String, code: String, msg: String },
    /// Dialling or the upgrade failed below HTTP (DNS, TCP, TLS, protocol).
    #[error("cannot open the websocket")]
    Dial(#[source] tungstenite::Error),
    /// The endpoint URL is not a usable WebSocket URL. Only a fixed reason is kept:
    /// tungstenite's URL errors can quote the whole URL.
    #[error("cannot open the websocket: bad endpoint URL ({0})")]
    BadUrl(&'static str),
    /// An open connection failed while reading or writing.
    #[error("connection lost")]
    Lost(#[source] tungstenite::Error),
    /// The server closed an open connection.
    #[error("connection closed by the server")]
    Closed,
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    /// `ReconnectCount` attempts failed in a row.
    #[error("gave up after {attempts} reconnect attempts")]
    GaveUp {
        attempts: u64,
        #[source]
        last: Option<Box<ConnError>>,
    },
}

impl ConnError {
    /// A client error: reconnecting cannot help, so the connection stops until someone
    /// calls `reconnect()` (after fixing the credentials or closing other clients).
    pub(crate) fn is_fatal(&self) -> bool {
        match self {
            Self::DiscoveryRejected { .. } | Self::Setup(_) | Self::GaveUp { .. } | Self::BadUrl(_) => true,
            Self::HandshakeRefused { status, code, .. } => {
                status == "403" || (status == "514" && code == TOO_MANY_CONNECTIONS)
            }
            _ => false,
        }
    }

    /// Classifies a failed dial. A refused upgrade carries Lark's verdict in headers.
    pub(crate) fn from_dial(error: tungstenite::Error) -> Self {
        match error {
            tungstenite::Error::Http(response) => {
                let header = |name: &str| {
                    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().trim().to_owned()
                };
                Self::HandshakeRefused {
                    http: response.status().as_u16(),
                    status: header("Handshake-Status"),
                    code: header("Handshake-Autherrcode"),
                    msg: header("Handshake-Msg"),
                }
            }
            tungstenite::Error::Url(url) => Self::BadUrl(match url {
                tungstenite::error::UrlError::TlsFeatureNotEnabled => "TLS support not compiled in",
                tungstenite::error::UrlError::UnsupportedUrlScheme => "scheme is not ws or wss",
                tungstenite::error::UrlError::NoHostName | tungstenite::error::UrlError::EmptyHostName => "no host",
                tungstenite::error::UrlError::NoPathOrQuery => "no path",
                tungstenite::error::UrlError::UnableToConnect(_) => "unable to connect",
            }),
            other => Self::Dial(other),
        }
    }

    /// The message with its source chain, for `ConnStatus::last_error`.
    pub(crate) fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(e) = source {
            text.push_str(": ");
            text.push_str(&e.to_string());
            source = e.source();
        }
        text
    }
}

/// What a refusal means, for the message: the bare codes are cryptic.
fn handshake_hint(status: &str, code: &str) -> &'static str {
    match (status, code) {
        ("514", TOO_MANY_CONNECTIONS) => " (too many connections for this app: Lark allows 50)",
        ("403", _) => " (forbidden)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::http::Response;

    use super::*;

    fn refused(status: &str, code: &str) -> ConnError {
        let response = Response::builder()
            .status(400)
            .header("Handshake-Status", status)
            .header("Handshake-Autherrcode", code)
            .header("Handshake-Msg", "nope")
            .body(None)
            .unwrap();
        ConnError::from_dial(tungstenite::Error::Http(Box::new(response)))
    }

    #[test]
    fn handshake_refusals_are_classified_as_the_sdks_do() {
        assert!(refused("514", "1000040350").is_fatal(), "too many connections");
        assert!(refused("403", "").is_fatal(), "forbidden");
        assert!(!refused("514", "1000040351").is_fatal(), "other auth failures are server errors");
        assert!(!refused("500", "").is_fatal());
        assert!(!refused("", "").is_fatal(), "no Lark headers at all");
    }

    #[test]
    fn too_many_connections_says_so() {
        let text = refused("514", "1000040350").chain();
        assert!(text.contains("too many connections"), "{text}");
        assert!(text.contains("1000040350"), "{text}");
    }

    #[test]
    fn gave_up_keeps_the_last_cause() {
        let e = ConnError::GaveUp { attempts: 3, last: Some(Box::new(ConnError::DiscoveryHttp { status: 502 })) };
        assert!(e.is_fatal());
        assert_eq!(e.chain(), "gave up after 3 reconnect attempts: endpoint discovery answered HTTP 502");
    }

    #[test]
    fn discovery_codes() {
        assert!(!ConnError::DiscoveryBusy { code: 1, msg: String::new() }.is_fatal());
        assert!(ConnError::DiscoveryRejected { code: 10003, msg: String::new() }.is_fatal());
        assert!(!ConnError::DiscoveryHttp { status: 503 }.is_fatal());
    }
}
