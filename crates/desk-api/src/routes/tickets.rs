//! `/api/v1/tickets`: tickets, their actions, comments and timeline.
#![expect(
    unused_qualifications,
    reason = "utoipa's `params(Type)` expansion qualifies the type with the span of our tokens"
)]

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use desk_core::{
    Action, Comment, ESCALATION_LEVELS, Emergency, NewComment, NewEmergency, NewEscalation, NewTicket, NewTicketInput,
    OrgId, PersonId, Severity, Ticket, TicketId, TicketPatch, TicketStatus, TimelineEntry, level_name,
};
use desk_store::{CursorError, Store, TicketFilter, TicketOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Body, IdPath, Query, double_option, parse_list};
use crate::state::AppState;

/// A link to the same ticket in an external ticketing system.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalRefDto {
    /// The system (e.g. `zendesk`).
    pub system: String,
    /// The ticket's id there.
    pub external_id: String,
    /// A link to it there.
    pub url: Option<String>,
}

/// A ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketDto {
    /// Id.
    pub id: Uuid,
    /// Human-facing number, unique in this desk.
    pub number: i64,
    /// The customer organisation.
    pub org_id: Uuid,
    /// Who asked.
    pub requester_id: Option<Uuid>,
    /// One line.
    pub title: String,
    /// Details.
    pub description: String,
    /// `P1` (critical) to `P4` (low).
    pub severity: String,
    /// `open`, `in_progress`, `waiting_on_customer`, `resolved` or `closed`.
    pub status: String,
    /// Where the status may move next.
    pub allowed_transitions: Vec<String>,
    /// Who works it.
    pub assignee_id: Option<Uuid>,
    /// Where it is on the escalation ladder.
    pub escalation: EscalationDto,
    /// The emergency declared on it; null when none was.
    pub emergency: Option<EmergencyDto>,
    /// Links to external ticketing systems.
    pub external_refs: Vec<ExternalRefDto>,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Resolved (cleared on reopen).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Closed (cleared on reopen).
    pub closed_at: Option<DateTime<Utc>>,
}

/// A ticket's place on the escalation ladder.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationDto {
    /// 0 when never escalated; each escalation adds one.
    pub level: i32,
    /// The level's name: `engineer`, `senior_engineer`, `tam_lead`.
    pub name: String,
    /// When the level was last raised.
    pub escalated_at: Option<DateTime<Utc>>,
}

/// Someone, by id (when a person) and by name at the time.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonRefDto {
    /// The person; null for an API token not bound to a person.
    pub person_id: Option<Uuid>,
    /// Name at the time.
    pub name: String,
}

/// An emergency declared on a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmergencyDto {
    /// `data_loss`, `data_corruption` or `service_unavailable`.
    pub kind: String,
    /// What the declarer said broke.
    pub text: String,
    /// When declared.
    pub declared_at: DateTime<Utc>,
    /// Who declared it.
    pub declared_by: PersonRefDto,
    /// Who took it on; null until someone did.
    pub acknowledged_by: Option<PersonRefDto>,
    /// When.
    pub acknowledged_at: Option<DateTime<Utc>>,
}

impl From<Emergency> for EmergencyDto {
    fn from(e: Emergency) -> Self {
        let (acknowledged_by, acknowledged_at) = match e.acknowledged {
            Some(a) => (Some(PersonRefDto { person_id: a.by.map(|p| p.as_uuid()), name: a.by_name }), Some(a.at)),
            None => (None, None),
        };
        Self {
            kind: e.kind.as_str().to_owned(),
            text: e.text,
            declared_at: e.declared_at,
            declared_by: PersonRefDto { person_id: e.declared_by.map(|p| p.as_uuid()), name: e.declared_by_name },
            acknowledged_by,
            acknowledged_at,
        }
    }
}

/// The tickets as the API shows them, each level named on its organisation's own ladder.
pub(crate) async fn ticket_dtos(state: &AppState, tickets: Vec<Ticket>) -> Result<Vec<TicketDto>, ApiError> {
    let mut orgs: Vec<OrgId> = tickets.iter().map(|t| t.org_id).collect();
    orgs.sort_unstable_by_key(|o| o.as_uuid());
    orgs.dedup();
    let ladders = state.store.escalation_ladders(&orgs).await?;
    Ok(tickets
        .into_iter()
        .map(|t| {
            let ladder = ladders.get(&t.org_id).map(|l| l.iter().map(String::as_str).collect::<Vec<_>>());
            let name = ladder.map(|l| level_name(&l, t.escalation_level));
            let mut dto = TicketDto::from(t);
            if let Some(name) = name {
                dto.escalation.name = name;
            }
            dto
        })
        .collect())
}

/// One ticket as the API shows it (see [`ticket_dtos`]).
pub(crate) async fn ticket_dto(state: &AppState, ticket: Ticket) -> Result<TicketDto, ApiError> {
    let mut all = ticket_dtos(state, vec![ticket]).await?;
    all.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a ticket went missing while being shown")))
}

impl From<Ticket> for TicketDto {
    fn from(t: Ticket) -> Self {
        Self {
            id: t.id.as_uuid(),
            number: t.number,
            org_id: t.org_id.as_uuid(),
            requester_id: t.requester_id.map(|p| p.as_uuid()),
            title: t.title,
            description: t.description,
            severity: t.severity.as_str().to_owned(),
            status: t.status.as_str().to_owned(),
            allowed_transitions: t.status.allowed_next().iter().map(|s| s.as_str().to_owned()).collect(),
            assignee_id: t.assignee_id.map(|p| p.as_uuid()),
            escalation: EscalationDto {
                level: t.escalation_level,
                name: level_name(ESCALATION_LEVELS, t.escalation_level),
                escalated_at: t.escalated_at,
            },
            emergency: t.emergency.map(EmergencyDto::from),
            external_refs: t
                .external_refs
                .into_iter()
                .map(|r| ExternalRefDto { system: r.system, external_id: r.external_id, url: r.url })
                .collect(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            resolved_at: t.resolved_at,
            closed_at: t.closed_at,
        }
    }
}

/// A new ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    /// The customer organisation.
    pub org_id: Uuid,
    /// One line (1–200 characters).
    pub title: String,
    /// Details (up to 20,000 characters).
    pub description: Option<String>,
    /// `P1`–`P4`; `P3` when absent.
    pub severity: Option<String>,
    /// Who asked: a member of the organisation, or staff.
    pub requester_id: Option<Uuid>,
    /// Assign at once to this staff member.
    pub assignee_id: Option<Uuid>,
    /// Links to external ticketing systems (one per system).
    #[serde(default)]
    pub external_refs: Vec<ExternalRefDto>,
}

/// Changes to a ticket's own fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicket {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New severity.
    pub severity: Option<String>,
}

/// Who should work the ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignTicket {
    /// A staff member, or null to unassign. Engineers may only assign themselves.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>, required = true)]
    pub assignee_id: Option<Option<Uuid>>,
}

/// A status move.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionTicket {
    /// Target status. From `resolved` or `closed`, `open` reopens.
    pub to: String,
    /// Why (goes on the timeline).
    pub reason: Option<String>,
}

/// An escalation request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateTicket {
    /// Why (one line, up to 500 characters).
    pub reason: String,
}

/// An emergency declaration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareEmergency {
    /// What broke: `data_loss`, `data_corruption` or `service_unavailable`.
    pub kind: String,
    /// What happened, in the declarer's words (up to 2,000 characters).
    pub text: String,
}

/// A ticket after an escalation request.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationReply {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: TicketDto,
    /// The request came within ten minutes of the previous raise and was merged into it:
    /// the level stayed, the reason is on the timeline.
    pub merged: bool,
}

/// A ticket after an emergency declaration or acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmergencyReply {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: TicketDto,
    /// Nothing changed: the ticket was in emergency already, or (acknowledge) someone
    /// acknowledged already; `emergency.acknowledged_by` says who.
    pub already: bool,
}

/// A new comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    /// The text.
    pub body: String,
    /// `public` (default) or `internal` (staff only).
    pub visibility: Option<String>,
}

/// A comment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentDto {
    /// Id.
    pub id: Uuid,
    /// Ticket.
    pub ticket_id: Uuid,
    /// Author, when a person.
    pub author_id: Option<Uuid>,
    /// Author's name at the time.
    pub author_name: String,
    /// Text.
    pub body: String,
    /// `public` or `internal`.
    pub visibility: String,
    /// Written.
    pub created_at: DateTime<Utc>,
}

impl From<Comment> for CommentDto {
    fn from(c: Comment) -> Self {
        Self {
            id: c.id.as_uuid(),
            ticket_id: c.ticket_id.as_uuid(),
            author_id: c.author_id.map(|a| a.as_uuid()),
            author_name: c.author_name,
            body: c.body,
            visibility: c.visibility.as_str().to_owned(),
            created_at: c.created_at,
        }
    }
}

/// Who did something.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorDto {
    /// `staff`, `customer`, `token` or `system`.
    pub kind: String,
    /// The person, when a person acted.
    pub person_id: Option<Uuid>,
    /// Name at the time.
    pub name: String,
}

/// One timeline entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntryDto {
    /// Id (time-ordered).
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: ActorDto,
    /// What: `created`, `title_changed`, `description_changed`, `severity_changed`,
    /// `assigned`, `status_changed`, `commented`, `escalated`, `emergency_declared`,
    /// `emergency_acknowledged`.
    pub kind: String,
    /// The details of that kind (e.g. `from`, `to`, `reason`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<TimelineEntry> for TimelineEntryDto {
    fn from(e: TimelineEntry) -> Self {
        let kind = e.event.kind().to_owned();
        let data = match serde_json::to_value(&e.event) {
            Ok(serde_json::Value::Object(mut m)) => m.remove("data"),
            _ => None,
        }
        .unwrap_or_else(|| serde_json::json!({}));
        Self {
            id: e.id.as_uuid(),
            at: e.at,
            actor: ActorDto {
                kind: e.actor.kind.as_str().to_owned(),
                person_id: e.actor.person_id.map(|p| p.as_uuid()),
                name: e.actor.name,
            },
            kind,
            data,
        }
    }
}

/// A page of tickets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketList {
    /// The tickets.
    pub items: Vec<TicketDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A page of comments.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentList {
    /// The comments, oldest first.
    pub items: Vec<CommentDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A page of the timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineList {
    /// The entries, oldest first.
    pub items: Vec<TimelineEntryDto>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Filters for the ticket list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// Of this organisation.
    pub org_id: Option<Uuid>,
    /// Comma-separated statuses (`open,in_progress`).
    pub status: Option<String>,
    /// Comma-separated severities (`P1,P2`).
    pub severity: Option<String>,
    /// A staff member's id, or `none` for unassigned tickets.
    pub assignee: Option<String>,
    /// Asked by this person.
    pub requester_id: Option<Uuid>,
    /// Changed at or after this RFC 3339 instant.
    pub updated_since: Option<String>,
    /// Text in the title (case-insensitive).
    pub q: Option<String>,
    /// Only emergencies (`true`) or only others (`false`).
    pub emergency: Option<bool>,
    /// `newest` (default), `oldest`, or `updated` (least recently updated first, for sync).
    pub order: Option<String>,
    /// Rows per page, 1–200.
    pub limit: Option<u64>,
    /// Cursor from the previous page (only valid with the same `order`).
    pub cursor: Option<String>,
}

impl TicketQuery {
    fn parse(self) -> Result<(TicketFilter, TicketOrder, PageParams), ApiError> {
        let order = match self.order.as_deref() {
            None | Some("newest") => TicketOrder::Newest,
            Some("oldest") => TicketOrder::Oldest,
            Some("updated") => TicketOrder::Updated,
            Some(_) => return Err(ApiError::bad_query("order", "must be newest, oldest or updated")),
        };
        let assignee = match self.assignee.as_deref() {
            None => None,
            Some("none") => Some(None),
            Some(raw) => Some(Some(
                raw.parse::<PersonId>()
                    .map_err(|_| ApiError::bad_query("assignee", "must be a person id or `none`"))?,
            )),
        };
        let updated_since = self
            .updated_since
            .as_deref()
            .map(DateTime::parse_from_rfc3339)
            .transpose()
            .map_err(|_| ApiError::bad_query("updated_since", "must be an RFC 3339 time like 2026-11-21T09:00:00Z"))?
            .map(|t| t.with_timezone(&Utc));
        let filter = TicketFilter {
            org_id: self.org_id.map(OrgId::from_uuid),
            statuses: parse_list::<TicketStatus>("status", self.status.as_deref())?,
            severities: parse_list::<Severity>("severity", self.severity.as_deref())?,
            assignee,
            requester_id: self.requester_id.map(PersonId::from_uuid),
            updated_since,
            q: self.q.filter(|s| !s.trim().is_empty()),
            emergency: self.emergency,
        };
        Ok((filter, order, PageParams { limit: self.limit, cursor: self.cursor }))
    }
}

impl TryFrom<CreateTicket> for NewTicket {
    type Error = ApiError;
    fn try_from(b: CreateTicket) -> Result<Self, ApiError> {
        let refs: Vec<(&str, &str, Option<&str>)> =
            b.external_refs.iter().map(|r| (r.system.as_str(), r.external_id.as_str(), r.url.as_deref())).collect();
        let input = NewTicketInput {
            org_id: OrgId::from_uuid(b.org_id),
            requester_id: b.requester_id.map(PersonId::from_uuid),
            title: &b.title,
            description: b.description.as_deref(),
            severity: b.severity.as_deref(),
            assignee_id: b.assignee_id.map(PersonId::from_uuid),
        };
        Ok(NewTicket::parse(input, &refs)?)
    }
}

/// Open a ticket.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = CreateTicket, security(("bearer" = [])),
    responses((status = 201, body = TicketDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Body<CreateTicket>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::CreateTicket, "open tickets")?;
    let new = NewTicket::try_from(body.into_inner())?;
    if new.assignee_id.is_some() && new.assignee_id != caller.person_id() {
        caller.require(Action::AssignTicket, "assign tickets to others")?;
    }
    let ticket = state.store.create_ticket(new, caller.actor(), state.clock.now()).await?;
    Ok(HttpResponse::Created().json(ticket_dto(&state, ticket).await?))
}

/// List tickets, filtered and paged.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketQuery), security(("bearer" = [])),
    responses((status = 200, body = TicketList), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<TicketQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadTicket, "read tickets")?;
    let (filter, order, page) = query.0.parse()?;
    let page = page.to_request(Store::tickets_scope(order))?;
    if page.after.as_ref().is_some_and(|c| !order.accepts(c)) {
        return Err(ApiError::bad_query("cursor", CursorError::Malformed.to_string()));
    }
    let page = state.store.list_tickets(&filter, order, &page).await?;
    Ok(HttpResponse::Ok()
        .json(TicketList { items: ticket_dtos(&state, page.items).await?, next_cursor: page.next_cursor }))
}

/// Read a ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = Uuid, Path, description = "Ticket id")),
    security(("bearer" = [])), responses((status = 200, body = TicketDto), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, caller: Caller, id: IdPath<TicketId>) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadTicket, "read tickets")?;
    Ok(HttpResponse::Ok().json(ticket_dto(&state, state.store.ticket(id.0).await?).await?))
}

/// Change a ticket's title, description or severity.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets", request_body = UpdateTicket,
    params(("id" = Uuid, Path, description = "Ticket id")), security(("bearer" = [])),
    responses((status = 200, body = TicketDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
    body: Body<UpdateTicket>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::UpdateTicket, "change tickets")?;
    let b = body.into_inner();
    let patch = TicketPatch::parse(b.title.as_deref(), b.description.as_deref(), b.severity.as_deref())?;
    let ticket = state.store.update_ticket(id.0, patch, caller.actor(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(ticket_dto(&state, ticket).await?))
}

/// Assign a ticket (admins and TAMs: anyone; engineers: themselves).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/assign", tag = "tickets", request_body = AssignTicket,
    params(("id" = Uuid, Path, description = "Ticket id")), security(("bearer" = [])),
    responses((status = 200, body = TicketDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn assign(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
    body: Body<AssignTicket>,
) -> Result<HttpResponse, ApiError> {
    let Some(assignee) = body.into_inner().assignee_id else {
        return Err(ApiError::invalid("assignee_id", "is required (null unassigns)"));
    };
    let assignee = assignee.map(PersonId::from_uuid);
    if assignee.is_some() && assignee == caller.person_id() {
        caller.require(Action::TakeTicket, "take tickets")?;
    } else {
        caller.require(Action::AssignTicket, "assign tickets to others")?;
    }
    let ticket = state.store.assign_ticket(id.0, assignee, caller.actor(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(ticket_dto(&state, ticket).await?))
}

/// Move a ticket's status. A move the status machine does not allow is a 409 listing the
/// allowed targets.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/transition", tag = "tickets", request_body = TransitionTicket,
    params(("id" = Uuid, Path, description = "Ticket id")), security(("bearer" = [])),
    responses((status = 200, body = TicketDto), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn transition(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
    body: Body<TransitionTicket>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::TransitionTicket, "change ticket status")?;
    let b = body.into_inner();
    let to = b.to.parse::<TicketStatus>().map_err(|_| {
        ApiError::invalid("to", "must be one of open, in_progress, waiting_on_customer, resolved, closed")
    })?;
    let mut v = desk_core::Validation::new();
    let reason = v.optional_line("reason", b.reason.as_deref(), 500);
    v.finish(())?;
    let ticket = state.store.transition_ticket(id.0, to, reason, caller.actor(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(ticket_dto(&state, ticket).await?))
}

/// Raise a ticket one escalation level (engineer → senior engineer → TAM lead). A repeat
/// within ten minutes of the previous raise is merged into it (`merged: true`). A 409
/// `escalation_top_level` at the top, `ticket_closed` on a resolved or closed ticket.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/escalate", tag = "tickets", request_body = EscalateTicket,
    params(("id" = Uuid, Path, description = "Ticket id")), security(("bearer" = [])),
    responses((status = 200, body = EscalationReply), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn escalate(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
    body: Body<EscalateTicket>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::EscalateTicket, "escalate tickets")?;
    let request = NewEscalation::parse(&body.into_inner().reason)?;
    let done = state.store.escalate_ticket(id.0, request, caller.actor(), state.clock.now()).await?;
    let mut ticket = TicketDto::from(done.ticket);
    // The name on the organisation's own ladder (see `GET /tickets/{id}/escalation`).
    ticket.escalation.name = done.level_name;
    Ok(HttpResponse::Ok().json(EscalationReply { ticket, merged: done.merged }))
}

/// Declare an emergency: data loss, data corruption or service unavailable. The ticket
/// becomes P1 (a resolved one reopens). Declaring again changes nothing (`already: true`);
/// a closed ticket is a 409 `ticket_closed`.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/emergency", tag = "tickets", request_body = DeclareEmergency,
    params(("id" = Uuid, Path, description = "Ticket id")), security(("bearer" = [])),
    responses((status = 200, body = EmergencyReply), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn emergency(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
    body: Body<DeclareEmergency>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::DeclareEmergency, "declare emergencies")?;
    let b = body.into_inner();
    let declaration = NewEmergency::parse(&b.kind, &b.text)?;
    let kind = declaration.kind;
    let done = state.store.declare_emergency(id.0, declaration, caller.actor(), state.clock.now()).await?;
    if !done.already {
        tracing::info!(ticket.id = %id.0, emergency.kind = kind.as_str(), "emergency declared");
    }
    Ok(HttpResponse::Ok()
        .json(EmergencyReply { ticket: ticket_dto(&state, done.ticket).await?, already: done.already }))
}

/// Acknowledge a ticket's emergency (staff). A 409 `no_emergency` when it is not in one;
/// a second acknowledgement changes nothing (`already: true`, and the ticket says who).
/// Any request body is ignored.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/acknowledge", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id")), security(("bearer" = [])),
    responses((status = 200, body = EmergencyReply), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn acknowledge(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::AcknowledgeEmergency, "acknowledge emergencies")?;
    let done = state.store.acknowledge_emergency(id.0, caller.actor(), state.clock.now()).await?;
    Ok(HttpResponse::Ok()
        .json(EmergencyReply { ticket: ticket_dto(&state, done.ticket).await?, already: done.already }))
}

/// Comment on a ticket.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/comments", tag = "tickets", request_body = CreateComment,
    params(("id" = Uuid, Path, description = "Ticket id")), security(("bearer" = [])),
    responses((status = 201, body = CommentDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn comment(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
    body: Body<CreateComment>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::CommentTicket, "comment on tickets")?;
    let b = body.into_inner();
    let new = NewComment::parse(&b.body, b.visibility.as_deref())?;
    let comment = state.store.add_comment(id.0, new, caller.actor(), state.clock.now()).await?;
    Ok(HttpResponse::Created().json(CommentDto::from(comment)))
}

/// A ticket's comments, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/comments", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id"), PageParams), security(("bearer" = [])),
    responses((status = 200, body = CommentList), (status = 404, body = Problem)))]
pub async fn list_comments(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
    page: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadTicket, "read tickets")?;
    let page = page.0.to_request(&Store::comments_scope(id.0))?;
    let page = state.store.list_comments(id.0, &page).await?;
    Ok(HttpResponse::Ok().json(CommentList {
        items: page.items.into_iter().map(CommentDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Everything that happened to a ticket, oldest first, with who and when.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/timeline", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id"), PageParams), security(("bearer" = [])),
    responses((status = 200, body = TimelineList), (status = 404, body = Problem)))]
pub async fn timeline(
    state: web::Data<AppState>,
    caller: Caller,
    id: IdPath<TicketId>,
    page: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Action::ReadTicket, "read tickets")?;
    let page = page.0.to_request(&Store::timeline_scope(id.0))?;
    let page = state.store.timeline(id.0, &page).await?;
    Ok(HttpResponse::Ok().json(TimelineList {
        items: page.items.into_iter().map(TimelineEntryDto::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
