//! The path every Lark request takes: count, fault, authenticate, rate-limit, check the quota,
//! run the handler, bill. Handlers only see requests that passed all of that.

use std::time::Duration;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::call::Call;
use crate::envelope::{Body, Reply};
use crate::faults::{FaultApply, FaultBody, FaultKind, FaultSpec};
use crate::ids;
use crate::push;
use crate::routes::{ROUTES, Route};
use crate::state::Sim;

/// Lark's log-id header, present on every response.
pub(crate) const LOG_ID_HEADER: &str = "X-Tt-Logid";

/// Registers every entry of [`ROUTES`], one resource per path.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    let mut paths: Vec<&'static str> = Vec::new();
    for route in ROUTES {
        if !paths.contains(&route.path) {
            paths.push(route.path);
        }
    }
    for path in paths {
        let mut resource = None;
        for route in ROUTES.iter().filter(|r| r.path == path) {
            let r = resource.unwrap_or_else(|| web::resource(route.actix_path()));
            let handler =
                move |req: HttpRequest, body: web::Bytes, sim: web::Data<Sim>| dispatch(route, req, body, sim);
            resource = Some(r.route(method(route.method).to(handler)));
        }
        if let Some(resource) = resource {
            cfg.service(resource);
        }
    }
}

fn method(name: &str) -> actix_web::Route {
    match name {
        "GET" => web::get(),
        "PUT" => web::put(),
        "PATCH" => web::patch(),
        "DELETE" => web::delete(),
        _ => web::post(),
    }
}

async fn dispatch(route: &'static Route, req: HttpRequest, body: web::Bytes, sim: web::Data<Sim>) -> HttpResponse {
    let log_id = ids::log_id();
    let fault = {
        let mut st = sim.lock();
        st.calls_total += 1;
        *st.calls_by_route.entry(route.key()).or_default() += 1;
        st.faults.take(route.method, req.path())
    };
    let mut reply = match fault {
        None => serve(route, &req, &body, &sim),
        Some(f) if f.kind == FaultKind::Delay => {
            let delay = Duration::from_millis(f.delay_ms);
            match f.apply {
                FaultApply::Before => {
                    actix_web::rt::time::sleep(delay).await;
                    serve(route, &req, &body, &sim)
                }
                FaultApply::After => {
                    let reply = serve(route, &req, &body, &sim);
                    actix_web::rt::time::sleep(delay).await;
                    reply
                }
            }
        }
        Some(f) => faulted(&f, &sim),
    };
    // Events the call caused (members added, a chat disbanded) go out once the state is unlocked.
    push::start_queued(&sim.into_inner());
    reply.attach_log_id(&log_id);
    respond(reply, &log_id)
}

/// A faulted request does nothing but fail.
fn faulted(fault: &FaultSpec, sim: &Sim) -> Reply {
    match fault.kind {
        FaultKind::Http500 if fault.body == FaultBody::Json => Reply::server_error_json(),
        FaultKind::Http500 => Reply::server_error_text(),
        FaultKind::RateLimit => Reply::rate_limited(sim.lock().limits.per_sec, fault.retry_after_s),
        FaultKind::TokenExpired => Reply::invalid_token(),
        FaultKind::QuotaExceeded | FaultKind::Delay => Reply::quota_exceeded(),
    }
}

fn serve(route: &Route, req: &HttpRequest, body: &[u8], sim: &Sim) -> Reply {
    let call = Call::new(req, body);
    let mut st = sim.lock();
    if route.needs_token {
        match call.bearer() {
            None => return Reply::missing_token(),
            Some(token) if !st.is_valid_tenant_token(token) => return Reply::invalid_token(),
            Some(_) => {}
        }
    }
    let (per_sec, per_min) = (st.limits.per_sec, st.limits.per_min);
    if let Err(limited) = st.rates.admit_api(&route.key(), per_sec, per_min) {
        return Reply::rate_limited(limited.limit, limited.reset_s);
    }
    let now = st.now();
    if route.billed && st.quota.billed(now) >= st.limits.monthly_quota {
        return Reply::quota_exceeded();
    }
    let reply = (route.handler)(&mut st, &call);
    // Lark bills only calls that succeed.
    if route.billed && reply.is_success() {
        st.quota.record(now);
    }
    reply
}

fn respond(reply: Reply, log_id: &str) -> HttpResponse {
    let mut response = HttpResponse::build(reply.status);
    response.insert_header((LOG_ID_HEADER, log_id));
    for (name, value) in reply.headers {
        response.insert_header((name, value));
    }
    match reply.body {
        Body::Json(value) => response.content_type("application/json; charset=utf-8").body(value.to_string()),
        Body::Text(text) => response.insert_header((CONTENT_TYPE, "text/plain; charset=utf-8")).body(text),
    }
}
