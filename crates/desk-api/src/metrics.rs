//! Prometheus metrics: request counts and latencies by route pattern and status, served
//! as text on `/metrics`. One registry per application, so tests that start several
//! servers in one process see only their own numbers.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use lark_notify::dispatch::DispatchReport;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use tracing_actix_web::RequestId;

use crate::state::AppState;

/// The registry and the HTTP instruments.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    dispatch: IntCounterVec,
    lark_events: IntCounterVec,
    escalation: EscalationMetrics,
}

/// The escalation worker's instruments.
#[derive(Debug, Clone)]
struct EscalationMetrics {
    breaches: IntCounterVec,
    warnings: IntCounterVec,
    pages: IntCounterVec,
}

impl Metrics {
    /// Creates the registry and registers the instruments.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new("desk_http_requests_total", "HTTP requests answered, by route pattern and status"),
            &labels,
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "desk_http_request_duration_seconds",
                "HTTP request latency, by route pattern and status",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &labels,
        )?;
        let dispatch = IntCounterVec::new(
            Opts::new(
                "desk_notifications_total",
                "Notification work done: planned, composed, sent, retried, parked, and deferred (queued at the Lark budget)",
            ),
            &["outcome"],
        )?;
        let lark_events = IntCounterVec::new(
            Opts::new(
                "desk_lark_events_total",
                "Lark events and card callbacks: accepted, duplicate, stale, handled, failed; unknown types as type=\"other\"",
            ),
            &["type", "outcome"],
        )?;
        registry.register(Box::new(lark_events.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(dispatch.clone()))?;
        let escalation = EscalationMetrics {
            breaches: IntCounterVec::new(
                Opts::new(
                    "desk_response_target_breaches_total",
                    "Response targets missed (each recorded once, on the ticket's timeline too), by target and severity",
                ),
                &["target", "severity"],
            )?,
            warnings: IntCounterVec::new(
                Opts::new(
                    "desk_response_target_warnings_total",
                    "Warnings that a response target is close, by target and severity",
                ),
                &["target", "severity"],
            )?,
            pages: IntCounterVec::new(
                Opts::new(
                    "desk_emergency_pages_total",
                    "Emergency pages sent, by why (unacknowledged, no_update) and chain step",
                ),
                &["reason", "step"],
            )?,
        };
        registry.register(Box::new(escalation.breaches.clone()))?;
        registry.register(Box::new(escalation.warnings.clone()))?;
        registry.register(Box::new(escalation.pages.clone()))?;
        Ok(Self { registry, requests, latency, dispatch, lark_events, escalation })
    }

    /// The registry, for instruments registered by the parts that own them.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of everything registered.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Counts what a dispatcher pass did.
    pub fn record_dispatch(&self, r: &DispatchReport) {
        for (outcome, n) in [
            ("planned", r.planned),
            ("composed", r.composed),
            ("sent", r.sent),
            ("retried", r.retried),
            ("parked", r.parked),
            ("deferred", r.deferred),
        ] {
            self.dispatch.with_label_values(&[outcome]).inc_by(u64::try_from(n).unwrap_or(0));
        }
    }

    /// Counts what an escalation worker pass did: warnings, breaches, pages.
    pub fn record_escalation(&self, r: &escalation::TimerReport) {
        for (target, severity) in &r.warnings {
            self.escalation.warnings.with_label_values(&[target.as_str(), severity.as_str()]).inc();
        }
        for (target, severity) in &r.breaches {
            self.escalation.breaches.with_label_values(&[target.as_str(), severity.as_str()]).inc();
        }
        for (reason, step) in &r.pages {
            // Chains are short (at most a few steps), so the step is a bounded label.
            self.escalation.pages.with_label_values(&[reason.as_str(), &step.to_string()]).inc();
        }
    }

    /// Counts one Lark event by type and outcome. Only the types the desk knows get their
    /// own label, so a flood of new types cannot grow the series without bound.
    pub fn record_lark_event(&self, event_type: &str, outcome: &str) {
        const KNOWN: &[&str] = &[
            "im.message.receive_v1",
            "im.chat.member.user.added_v1",
            "im.chat.member.user.deleted_v1",
            "im.chat.disbanded_v1",
            "card.action.trigger",
        ];
        let kind = if KNOWN.contains(&event_type) { event_type } else { "other" };
        self.lark_events.with_label_values(&[kind, outcome]).inc();
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }
}

/// Middleware: records each request and echoes the request id as `x-request-id`.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    // The route pattern (`/api/v1/tickets/{id}`), never the raw path: ids in label values
    // would grow the series without bound.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
    let mut res = next.call(req).await?;
    if let Some(state) = state {
        state.metrics.observe(&method, &route, res.status().as_u16(), started.elapsed().as_secs_f64());
    }
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
    }
    Ok(res)
}
