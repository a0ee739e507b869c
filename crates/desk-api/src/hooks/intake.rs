//! Deliveries from ticketing systems: checked (signature, replay window, body), then
//! applied once per delivery id, in the source's order, through the same `Store` methods
//! as the REST API (so the timeline, notifications, reminders, webhooks out and the
//! ticket's Lark group follow as they do for any change).
//!
//! Nothing is written for a refused delivery: signature and timestamp are checked before
//! the body is read, and every reference (organisation, people) is resolved before the
//! first change. Deliveries for one source ticket are applied one at a time: within this
//! process by a striped lock, across instances by the link's lease in the database.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use desk_core::hooks::{
    AuthorKind, HookComment, HookSource, HookStyle, PersonRef, Staleness, TicketHook, check_timestamp, source_actor,
    status_path,
};
use desk_core::{
    Actor, ActorKind, FieldError, NewComment, NewTicket, NewTicketInput, OrgId, Person, PersonId, TicketId, TicketPatch,
};
use desk_store::hooks::{DeliveryClaim, HookTicketState};
use desk_store::{Clock, SecretBox, Store, StoreError};
use prometheus::IntCounterVec;
use tokio::sync::Mutex;

use super::payload::HookDelivery;
use super::signature::{self, GITHUB_DELIVERY, HUB_SIGNATURE, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::error::ApiError;
use crate::extract::parse_json;

/// How long a delivery (and its source ticket) is held while it is applied; a process
/// that dies holding it lets go after this.
const LEASE: Duration = Duration::from_secs(120);
/// Longest delivery id accepted.
const DELIVERY_ID_MAX: usize = 256;
/// Lock stripes for source tickets in this process.
const STRIPES: usize = 64;

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The delivery id.
    pub delivery_id: String,
    /// Whether it had been applied before (and so was not applied again).
    pub duplicate: bool,
    /// What it did: `created`, `updated`, `commented`, `unchanged`, `stale` (joined with
    /// `+` when several, like `stale+commented`).
    pub outcome: String,
    /// The desk ticket.
    pub ticket_id: Option<TicketId>,
}

/// Receives ticketing deliveries. Cheap to clone (one pointer, so `AppState` stays small).
#[derive(Debug, Clone)]
pub struct HookIntake(Arc<IntakeInner>);

impl std::ops::Deref for HookIntake {
    type Target = IntakeInner;
    fn deref(&self) -> &IntakeInner {
        &self.0
    }
}

/// What a [`HookIntake`] holds.
#[derive(Debug)]
pub struct IntakeInner {
    store: Store,
    clock: Arc<dyn Clock>,
    secret_box: Option<SecretBox>,
    stripes: Vec<Mutex<()>>,
    counter: IntCounterVec,
}

fn refused(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::SignatureRefused { code, detail: detail.into() }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

fn require_header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, ApiError> {
    header(headers, name).ok_or_else(|| refused("hook_signature_missing", format!("the {name} header is required")))
}

fn fresh(signed_at: i64, now: chrono::DateTime<chrono::Utc>) -> Result<(), ApiError> {
    check_timestamp(signed_at, now).map_err(|s| {
        let (code, how) = match s {
            Staleness::TooOld => {
                ("hook_timestamp_stale", "more than 5 minutes old: a replay, or a retry with an old signature")
            }
            Staleness::TooNew => ("hook_timestamp_stale", "more than 5 minutes ahead of this server's clock"),
        };
        refused(code, format!("the delivery's signed timestamp is {how}"))
    })
}

fn delivery_id(raw: &str) -> Result<String, ApiError> {
    let id = raw.trim();
    if id.is_empty() || id.len() > DELIVERY_ID_MAX || id.chars().any(char::is_control) {
        return Err(ApiError::BadRequest {
            code: "hook_delivery_id_invalid",
            detail: format!("a delivery id must be 1–{DELIVERY_ID_MAX} printable characters"),
            errors: Vec::new(),
        });
    }
    Ok(id.to_owned())
}

fn unprocessable(code: &'static str, errors: Vec<FieldError>) -> ApiError {
    let detail = format!(
        "the delivery cannot be applied: {}",
        errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    );
    ApiError::Validation { code, detail, errors }
}

impl HookIntake {
    /// Builds the intake; `counter` counts deliveries by source and outcome.
    pub fn new(store: Store, clock: Arc<dyn Clock>, secret_box: Option<SecretBox>, counter: IntCounterVec) -> Self {
        let stripes = (0..STRIPES).map(|_| Mutex::new(())).collect();
        Self(Arc::new(IntakeInner { store, clock, secret_box, stripes, counter }))
    }

    fn count(&self, source: &str, outcome: &str) {
        self.counter.with_label_values(&[source, outcome]).inc();
    }

    /// Checks and applies one delivery to `source`.
    pub async fn receive(&self, source: &str, headers: &HeaderMap, body: &[u8]) -> Result<Applied, ApiError> {
        let keys = match self.store.hook_source_keys(source, self.secret_box.as_ref()).await {
            Ok(k) => k,
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::NotFound {
                    code: "hook_source_not_found",
                    detail: format!("no ticketing source {source} is registered"),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let result = self.receive_from(&keys.source, &keys.secrets, headers, body).await;
        match &result {
            Ok(a) if a.duplicate => self.count(source, "duplicate"),
            Ok(a) => {
                for part in a.outcome.split('+') {
                    self.count(source, part);
                }
            }
            Err(e) => {
                // Logged once here, with the reason and never the body.
                tracing::warn!(hook.source = %source, error = %e, "ticketing delivery refused");
                self.count(source, "refused");
            }
        }
        result
    }

    async fn receive_from(
        &self,
        source: &HookSource,
        secrets: &[secrecy::SecretString],
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Applied, ApiError> {
        let now = self.clock.now();
        let (id, delivery) = match source.style {
            HookStyle::StandardWebhooks => {
                let id = require_header(headers, WEBHOOK_ID)?;
                let ts = require_header(headers, WEBHOOK_TIMESTAMP)?;
                let sig = require_header(headers, WEBHOOK_SIGNATURE)?;
                let signed_at = ts.parse::<i64>().map_err(|_| {
                    refused("hook_timestamp_invalid", format!("{WEBHOOK_TIMESTAMP} must be Unix seconds"))
                })?;
                fresh(signed_at, now)?;
                if !signature::verify_standard(secrets, id, ts, body, sig) {
                    return Err(refused(
                        "hook_signature_invalid",
                        format!("{WEBHOOK_SIGNATURE} matches none of source {}'s secrets", source.name),
                    ));
                }
                (delivery_id(id)?, parse_json::<HookDelivery>(body)?)
            }
            HookStyle::Github => {
                let sig = require_header(headers, HUB_SIGNATURE)?;
                if !signature::verify_github(secrets, body, sig) {
                    return Err(refused(
                        "hook_signature_invalid",
                        format!("{HUB_SIGNATURE} matches none of source {}'s secrets", source.name),
                    ));
                }
                let delivery = parse_json::<HookDelivery>(body)?;
                let Some(ts) = delivery.timestamp else {
                    return Err(refused(
                        "hook_timestamp_missing",
                        "GitHub-style deliveries must carry a timestamp in the body (the signed replay window)",
                    ));
                };
                fresh(ts.unix(), now)?;
                let id = match (delivery.id.as_deref(), header(headers, GITHUB_DELIVERY)) {
                    (Some(id), _) | (None, Some(id)) => delivery_id(id)?,
                    (None, None) => {
                        return Err(ApiError::BadRequest {
                            code: "hook_delivery_id_missing",
                            detail: format!("name the delivery by the body's id or the {GITHUB_DELIVERY} header"),
                            errors: Vec::new(),
                        });
                    }
                };
                (id, delivery)
            }
        };
        if !source.enabled {
            return Err(ApiError::Gone {
                code: "hook_source_disabled",
                detail: format!("ticketing source {} is turned off", source.name),
            });
        }
        let hook = TicketHook::parse(delivery.input())?;
        let claim = self
            .store
            .claim_hook_delivery(&source.name, &id, hook.kind.as_str(), &hook.external_id, LEASE, now)
            .await?;
        match claim {
            DeliveryClaim::Duplicate { outcome, ticket_id } => {
                return Ok(Applied {
                    delivery_id: id,
                    duplicate: true,
                    outcome: outcome.unwrap_or_default(),
                    ticket_id,
                });
            }
            DeliveryClaim::Busy => return Err(busy(&id)),
            DeliveryClaim::New => {}
        }
        match self.apply(source, &hook).await {
            Ok((outcome, ticket)) => {
                self.store.finish_hook_delivery(&source.name, &id, &outcome, ticket, self.clock.now()).await?;
                Ok(Applied { delivery_id: id, duplicate: false, outcome, ticket_id: ticket })
            }
            Err(e) => {
                // Refused or failed before anything stuck: the source's retry is judged afresh.
                self.store.forget_hook_delivery(&source.name, &id).await?;
                Err(e)
            }
        }
    }

    /// Applies a delivery under its source ticket's locks.
    async fn apply(&self, source: &HookSource, hook: &TicketHook) -> Result<(String, Option<TicketId>), ApiError> {
        let mut h = DefaultHasher::new();
        (&source.name, &hook.external_id).hash(&mut h);
        let stripe = usize::try_from(h.finish() % STRIPES as u64).unwrap_or(0);
        let _local = self.stripes[stripe].lock().await;
        let now = self.clock.now();
        let Some(state) = self.store.lock_hook_ticket(&source.name, &hook.external_id, LEASE, now).await? else {
            return Err(busy(&hook.external_id));
        };
        let result = self.apply_locked(source, hook, state).await;
        let applied = match &result {
            Ok((outcome, Some(ticket))) if outcome.contains("stale") => Some((*ticket, state.applied)),
            Ok((_, Some(ticket))) => Some((*ticket, hook.version.merge(&state.applied))),
            _ => None,
        };
        self.store.release_hook_ticket(&source.name, &hook.external_id, applied, self.clock.now()).await?;
        result
    }

    async fn apply_locked(
        &self,
        source: &HookSource,
        hook: &TicketHook,
        state: HookTicketState,
    ) -> Result<(String, Option<TicketId>), ApiError> {
        let actor = source_actor(&source.name);
        let linked = match state.ticket_id {
            Some(t) => Some(t),
            None => self.store.ticket_by_external_ref(&source.name, &hook.external_id).await?,
        };
        // A delivery older than what was applied changes no field, so what it names for
        // them does not matter; otherwise everything it names is resolved before the
        // first change.
        let newer = linked.is_none() || hook.version.supersedes(&state.applied);
        let assignee = match &hook.assignee {
            Some(Some(r)) if newer => Some(Some(self.staff(r, "data.ticket.assignee").await?)),
            Some(None) if newer => Some(None),
            _ => None,
        };
        let mut outcome = Vec::new();
        let ticket = match linked {
            Some(t) => {
                if newer {
                    outcome.push(self.update(t, hook, assignee, &actor).await?);
                } else {
                    outcome.push("stale");
                }
                t
            }
            None => {
                let org = self.org_for(source, hook).await?;
                let Some(org) = org.filter(|_| hook.can_create()) else {
                    return Err(self.cannot_create(source, hook));
                };
                let requester = match &hook.requester {
                    Some(r) => self.requester(r, org).await?,
                    None => None,
                };
                let t = self.create(source, hook, org, requester, assignee.flatten(), &actor).await?;
                outcome.push("created");
                t
            }
        };
        if let Some(c) = &hook.comment
            && self.store.hook_comment(&source.name, &c.external_id).await?.is_none()
        {
            let author = self.author(source, c, ticket).await?;
            // Keyed by the source's comment id: if the process died after the comment and
            // before its link row, the redelivery finds the comment instead of adding another.
            let new = NewComment::parse(&c.body, Some(c.visibility.as_str()))?
                .keyed(format!("hook:{}:{}", source.name, c.external_id));
            let comment = self.store.add_comment(ticket, new, &author, self.clock.now()).await?;
            self.store.link_hook_comment(&source.name, &c.external_id, comment.id, ticket, self.clock.now()).await?;
            outcome.retain(|o| *o != "unchanged");
            outcome.push("commented");
        }
        Ok((outcome.join("+"), Some(ticket)))
    }

    /// The 422 for a delivery about a ticket the desk does not know and cannot open.
    fn cannot_create(&self, source: &HookSource, hook: &TicketHook) -> ApiError {
        let mut errors = Vec::new();
        if hook.title.is_none() {
            errors
                .push(FieldError::new("data.ticket.title", "is required to open a ticket the desk does not know yet"));
        }
        if hook.org_id.is_none() && source.default_org_id.is_none() {
            errors.push(FieldError::new(
                "data.ticket.org_id",
                format!("is required to open a ticket: source {} has no default_org_id", source.name),
            ));
        }
        let mut e = unprocessable("hook_ticket_unknown", errors);
        if let ApiError::Validation { detail, .. } = &mut e {
            *detail = format!(
                "no ticket is linked to {} ticket {}, and the delivery does not carry enough to open one: {detail}",
                source.name, hook.external_id
            );
        }
        e
    }

    async fn org_for(&self, source: &HookSource, hook: &TicketHook) -> Result<Option<OrgId>, ApiError> {
        let Some(org) = hook.org_id.or(source.default_org_id) else { return Ok(None) };
        let field = if hook.org_id.is_some() { "data.ticket.org_id" } else { "default_org_id" };
        match self.store.org(org).await {
            Ok(_) => Ok(Some(org)),
            Err(StoreError::NotFound { .. }) => {
                Err(unprocessable("validation_failed", vec![FieldError::new(field, format!("no organisation {org}"))]))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn create(
        &self,
        source: &HookSource,
        hook: &TicketHook,
        org: OrgId,
        requester: Option<PersonId>,
        assignee: Option<PersonId>,
        actor: &Actor,
    ) -> Result<TicketId, ApiError> {
        let refs = [(source.name.as_str(), hook.external_id.as_str(), hook.url.as_deref())];
        let new = NewTicket::parse(
            NewTicketInput {
                org_id: org,
                requester_id: requester,
                title: hook.title.as_deref().unwrap_or_default(),
                description: hook.description.as_deref(),
                severity: hook.severity.map(|s| s.as_str()),
                assignee_id: assignee,
            },
            &refs,
        )?;
        let ticket = match self.store.create_ticket(new, actor, self.clock.now()).await {
            Ok(t) => t,
            // Linked meanwhile (a REST client, or an instance that lost its lease): update that one.
            Err(StoreError::Conflict { code: "external_ref_taken", .. }) => {
                let Some(t) = self.store.ticket_by_external_ref(&source.name, &hook.external_id).await? else {
                    return Err(busy(&hook.external_id));
                };
                self.update(t, hook, assignee.map(Some), actor).await?;
                return Ok(t);
            }
            Err(e) => return Err(e.into()),
        };
        self.store.attach_hook_ticket(&source.name, &hook.external_id, ticket.id).await?;
        if let Some(to) = hook.status {
            self.move_to(ticket.id, ticket.status, to, &source.name, actor).await?;
        }
        Ok(ticket.id)
    }

    /// Sets the ticket's fields to the source's values; returns `updated` or `unchanged`.
    async fn update(
        &self,
        id: TicketId,
        hook: &TicketHook,
        assignee: Option<Option<PersonId>>,
        actor: &Actor,
    ) -> Result<&'static str, ApiError> {
        let current = self.store.ticket(id).await?;
        let mut changed = false;
        let patch = TicketPatch {
            title: hook.title.clone().filter(|t| *t != current.title),
            description: hook.description.clone().filter(|d| *d != current.description),
            severity: hook.severity.filter(|s| *s != current.severity),
        };
        if patch != TicketPatch::default() {
            self.store.update_ticket(id, patch, actor, self.clock.now()).await?;
            changed = true;
        }
        if let Some(a) = assignee
            && a != current.assignee_id
        {
            self.store.assign_ticket(id, a, actor, self.clock.now()).await?;
            changed = true;
        }
        if let Some(to) = hook.status
            && to != current.status
        {
            let source = actor.name.trim_start_matches(desk_core::hooks::ACTOR_PREFIX).to_owned();
            self.move_to(id, current.status, to, &source, actor).await?;
            changed = true;
        }
        Ok(if changed { "updated" } else { "unchanged" })
    }

    /// Moves a ticket to `to` through the status machine's own steps.
    async fn move_to(
        &self,
        id: TicketId,
        from: desk_core::TicketStatus,
        to: desk_core::TicketStatus,
        source: &str,
        actor: &Actor,
    ) -> Result<(), ApiError> {
        for step in status_path(from, to) {
            let reason = Some(format!("{to} in {source}"));
            self.store.transition_ticket(id, step, reason, actor, self.clock.now()).await?;
        }
        Ok(())
    }

    /// An active staff member named by a delivery.
    async fn staff(&self, r: &PersonRef, field: &str) -> Result<PersonId, ApiError> {
        let found = self.person(r).await?.filter(|p| p.is_staff() && p.active);
        match (found, r) {
            (Some(p), _) => Ok(p.id),
            (None, PersonRef::Id(id)) => Err(unprocessable(
                "validation_failed",
                vec![FieldError::new(format!("{field}.person_id"), format!("no active staff member {id}"))],
            )),
            (None, PersonRef::Email(_)) => Err(unprocessable(
                "validation_failed",
                vec![FieldError::new(format!("{field}.email"), "no active staff member has this e-mail")],
            )),
        }
    }

    /// The requester, when the delivery names someone of the organisation (or staff).
    async fn requester(&self, r: &PersonRef, org: OrgId) -> Result<Option<PersonId>, ApiError> {
        Ok(self.person(r).await?.filter(|p| p.active && (p.is_staff() || p.org_id == Some(org))).map(|p| p.id))
    }

    async fn person(&self, r: &PersonRef) -> Result<Option<Person>, ApiError> {
        Ok(match r {
            PersonRef::Id(id) => match self.store.person(*id).await {
                Ok(p) => Some(p),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            PersonRef::Email(email) => self.store.people_by_email(email).await?.into_iter().next(),
        })
    }

    /// Who a source's comment is by: the desk person when they are one, else the name
    /// the source gave, as a customer or staff member.
    async fn author(&self, source: &HookSource, c: &HookComment, ticket: TicketId) -> Result<Actor, ApiError> {
        let kind = match c.author_kind {
            AuthorKind::Customer => ActorKind::Customer,
            AuthorKind::Staff => ActorKind::Staff,
        };
        let person = match &c.author {
            Some(r) => self.person(r).await?,
            None => None,
        };
        let org = self.store.ticket(ticket).await?.org_id;
        let person = person.filter(|p| match c.author_kind {
            AuthorKind::Customer => p.org_id == Some(org),
            AuthorKind::Staff => p.is_staff(),
        });
        let name = match (&person, &c.author_name) {
            (Some(p), _) => p.name.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => format!(
                "{} {}",
                source.display_name,
                if c.author_kind == AuthorKind::Customer { "customer" } else { "staff" }
            ),
        };
        Ok(Actor { kind, person_id: person.map(|p| p.id), name })
    }
}

fn busy(what: &str) -> ApiError {
    ApiError::Conflict {
        code: "hook_delivery_in_progress",
        detail: format!("{what} is being applied by another request right now; retry shortly"),
        allowed: None,
    }
}
