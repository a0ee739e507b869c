//! Logging: JSON lines (or pretty text) through `tracing`, filtered by `RUST_LOG`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Whether a request to `route` carries a secret in its path or query, so its log line
/// must show the route pattern only: invite tokens (`/api/v1/invites/{token}`,
/// `/invite/{token}`) and the Lark login code Lark hands back (`/invite/callback?code=…`).
fn secret_in_target(route: &str) -> bool {
    route.contains("{token}") || route.starts_with("/invite/")
}

/// Path prefixes under which a path segment may be an invite token.
const SECRET_PREFIXES: [&str; 2] = ["/invite/", "/api/v1/invites/"];

/// `path` as it may appear in a log line or an error message: a path that matched no
/// route but lies where invite tokens live (`/invite/ldi_…/extra`) keeps only its prefix.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match SECRET_PREFIXES.iter().find(|p| path.starts_with(**p)) {
        Some(prefix) => format!("{prefix}…").into(),
        None => path.into(),
    }
}

/// The request span of every request: tracing-actix-web's fields, except that `http.target`
/// is the route pattern (no query) where the path or query holds a secret. A field cannot
/// be taken back once recorded (the text formatter appends), so the raw target is never
/// put on these spans at all.
#[derive(Debug)]
pub struct RedactingRootSpan;

impl RootSpanBuilder for RedactingRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern();
        let target = match &route {
            Some(route) if secret_in_target(route) => route.clone(),
            Some(_) => request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default(),
            None => match loggable_path(request.path()) {
                std::borrow::Cow::Borrowed(_) => {
                    request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default()
                }
                std::borrow::Cow::Owned(redacted) => redacted,
            },
        };
        let route = route.unwrap_or_else(|| "default".to_owned());
        let method = request.method().as_str().to_owned();
        let user_agent = request.headers().get("user-agent").and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
        let request_id = request.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default();
        let connection = request.connection_info();
        // The target tracing-actix-web's own builder uses, so `RUST_LOG` filters keep working.
        tracing::info_span!(
            target: "tracing_actix_web::root_span_builder",
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = ?request.version(),
            http.scheme = %connection.scheme(),
            http.host = %connection.host(),
            http.client_ip = %connection.realip_remote_addr().unwrap_or(""),
            http.user_agent = %user_agent,
            http.target = %target,
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Installs the global subscriber; call once in `main`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // A closed stderr (a log pipe that went away) must not take the server down: by
    // default the subscriber reports write failures with `eprintln!`, which panics then.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        // One line when each request's span closes: the access log, with the request
        // id, route, status and time taken.
        .with_span_events(FmtSpan::CLOSE);
    // `try_init` so that a second call (tests) is harmless.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
