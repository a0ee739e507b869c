//! Test-only routes under `/_sim/`: inspect and steer the simulator. Not part of Lark; no auth,
//! not counted as calls.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use chrono::TimeDelta;
use serde::Deserialize;
use serde_json::json;

use crate::config::{LimitsUpdate, SimUser};
use crate::events::{Click, Say, Subscription};
use crate::faults::FaultSpec;
use crate::ids;
use crate::people;
use crate::push;
use crate::state::{Chat, Owner, Sim, default_chat_settings};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_sim")
            .route("/state", web::get().to(state))
            .route("/faults", web::post().to(faults))
            .route("/clock/advance", web::post().to(advance_clock))
            .route("/tokens/expire", web::post().to(expire_tokens))
            .route("/config", web::post().to(config))
            .route("/users", web::post().to(add_users))
            .route("/chats", web::post().to(create_chat))
            .route("/chats/{chat_id}/members", web::post().to(join_chat))
            .route("/reset", web::post().to(reset))
            .route("/subscription", web::post().to(subscribe))
            .route("/say", web::post().to(say))
            .route("/click", web::post().to(click))
            .route("/events", web::get().to(events)),
    );
}

fn bad_request(msg: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": msg.to_string()}))
}

async fn state(sim: web::Data<Sim>) -> HttpResponse {
    HttpResponse::Ok().json(sim.lock().snapshot())
}

/// One rule or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(FaultSpec),
    Many(Vec<FaultSpec>),
}

async fn faults(sim: web::Data<Sim>, body: web::Json<OneOrMany>) -> HttpResponse {
    let specs = match body.into_inner() {
        OneOrMany::One(spec) => vec![spec],
        OneOrMany::Many(specs) => specs,
    };
    let added = specs.len();
    let mut st = sim.lock();
    for spec in specs {
        st.faults.add(spec);
    }
    HttpResponse::Ok().json(json!({"added": added}))
}

#[derive(Debug, Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance_clock(sim: web::Data<Sim>, body: web::Json<Advance>) -> HttpResponse {
    if body.seconds < 0 {
        return bad_request("the sim clock only moves forward");
    }
    let mut st = sim.lock();
    st.advance_clock(TimeDelta::seconds(body.seconds));
    HttpResponse::Ok().json(json!({"now_ms": st.now_ms()}))
}

async fn expire_tokens(sim: web::Data<Sim>) -> HttpResponse {
    let mut st = sim.lock();
    st.tokens.iter_mut().for_each(|t| t.revoked = true);
    HttpResponse::Ok().json(json!({"expired": st.tokens.len()}))
}

async fn config(sim: web::Data<Sim>, body: web::Json<LimitsUpdate>) -> HttpResponse {
    let mut st = sim.lock();
    st.update_limits(&body);
    let limits = st.limits;
    HttpResponse::Ok().json(json!({
        "monthly_quota": limits.monthly_quota,
        "app_rate_per_sec": limits.per_sec,
        "app_rate_per_min": limits.per_min,
        "per_target_qps": limits.per_target_qps,
    }))
}

async fn add_users(sim: web::Data<Sim>, body: web::Json<Vec<SimUser>>) -> HttpResponse {
    let mut st = sim.lock();
    let added: Vec<_> = body.into_inner().into_iter().map(|u| st.add_user(u)).collect();
    HttpResponse::Ok().json(added)
}

#[derive(Debug, Deserialize)]
struct NewChat {
    name: String,
    open_ids: Vec<String>,
    #[serde(default)]
    bot_member: bool,
}

/// A chat people made themselves (owner = first open_id); the bot is in it only if asked.
async fn create_chat(sim: web::Data<Sim>, body: web::Json<NewChat>) -> HttpResponse {
    let body = body.into_inner();
    let mut st = sim.lock();
    if let Some(unknown) = body.open_ids.iter().find(|id| st.user_by_open_id(id).is_none()) {
        return bad_request(format!("unknown open_id {unknown}"));
    }
    let Some(owner) = body.open_ids.first().cloned() else {
        return bad_request("open_ids must name at least the owner");
    };
    let mut members = Vec::new();
    for id in body.open_ids {
        if !members.contains(&id) {
            members.push(id);
        }
    }
    let chat_id = ids::chat_id();
    st.insert_chat(Chat {
        chat_id: chat_id.clone(),
        name: body.name,
        description: String::new(),
        owner: Owner::User(owner),
        disbanded: false,
        members,
        bot_member: body.bot_member,
        bot_manager: false,
        p2p: false,
        created_by_bot: false,
        uuid: None,
        settings: default_chat_settings(),
    });
    HttpResponse::Ok().json(json!({"chat_id": chat_id}))
}

#[derive(Debug, Deserialize)]
struct Join {
    open_ids: Vec<String>,
}

/// People join by themselves: `im.chat.member.user.added_v1` goes to the bot if it is in the chat.
async fn join_chat(sim: web::Data<Sim>, path: web::Path<String>, body: web::Json<Join>) -> HttpResponse {
    let members = {
        let mut st = sim.lock();
        let Some(index) = st.chat_index(&path) else {
            return HttpResponse::NotFound().json(json!({"error": format!("unknown chat {path}")}));
        };
        if let Some(unknown) = body.open_ids.iter().find(|id| st.user_by_open_id(id).is_none()) {
            return bad_request(format!("unknown open_id {unknown}"));
        }
        people::join(&mut st, index, &body.open_ids);
        st.chats[index].members.clone()
    };
    push::start_queued(&sim.into_inner());
    HttpResponse::Ok().json(json!({"members": members}))
}

async fn subscribe(sim: web::Data<Sim>, body: web::Json<Subscription>) -> HttpResponse {
    sim.lock().subscription = Some(body.into_inner());
    HttpResponse::Ok().json(json!({"subscribed": true}))
}

/// [`crate::SimHandle::user_says`]: answers the [`crate::Pushed`] once the first attempt finished.
async fn say(sim: web::Data<Sim>, body: web::Json<Say>) -> HttpResponse {
    let sim = sim.into_inner();
    let work = {
        let sim = Arc::clone(&sim);
        async move { people::user_says(&sim, &body).await }
    };
    match sim.push.run(work).await {
        Some(Ok(pushed)) => HttpResponse::Ok().json(pushed),
        Some(Err(e)) => bad_request(format!("{e:#}")),
        None => HttpResponse::ServiceUnavailable().json(json!({"error": "the simulator is stopping"})),
    }
}

/// [`crate::SimHandle::click`]: answers the [`crate::CardAnswer`] (`elapsed` in milliseconds).
async fn click(sim: web::Data<Sim>, body: web::Json<Click>) -> HttpResponse {
    let sim = sim.into_inner();
    let work = {
        let sim = Arc::clone(&sim);
        async move { people::click(&sim, &body).await }
    };
    match sim.push.run(work).await {
        Some(Ok(answer)) => HttpResponse::Ok().json(answer),
        Some(Err(e)) => bad_request(format!("{e:#}")),
        None => HttpResponse::ServiceUnavailable().json(json!({"error": "the simulator is stopping"})),
    }
}

async fn events(sim: web::Data<Sim>) -> HttpResponse {
    HttpResponse::Ok().json(sim.lock().pushes.public())
}

async fn reset(sim: web::Data<Sim>) -> HttpResponse {
    sim.lock().reset();
    HttpResponse::Ok().json(json!({"reset": true}))
}
