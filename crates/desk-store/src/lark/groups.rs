//! Groups as the group manager makes them in Lark: which rows wait to become chats (claimed
//! under a lease, `FOR UPDATE SKIP LOCKED`, like deliveries), how an attempt ended, and the
//! durable queue of work on live groups (people to add, the ticket card to refresh), written
//! in the same transaction as the ticket change that calls for it.
//!
//! A ticket's group is asked for in the ticket's own transaction (see `tickets::create`),
//! so a ticket never exists without its request and a crash never loses one.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::{Org, OrgId, Person, PersonId, PersonKind, Ticket, TicketId, TicketStatus};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::chats::{ChatKind, ChatState};
use crate::entity::{lark_chat, lark_chat_member, lark_chat_task, org, person, ticket};
use crate::notify::Routes;
use crate::pagination::{Page, PageRequest, oldest_first};
use crate::queue::{self, Leased};
use crate::{Store, StoreError, orgs, people};

/// The group-manager columns of a new `lark_chats` row, at their starting values.
pub(crate) fn fresh_row() -> lark_chat::ActiveModel {
    lark_chat::ActiveModel {
        attempts: Set(0),
        last_error: Set(None),
        error_code: Set(None),
        next_attempt_at: Set(None),
        lease_until: Set(None),
        card_message_id: Set(None),
        external: Set(false),
        ..Default::default()
    }
}

/// A group as the REST API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its id.
    pub id: Uuid,
    /// Main or ticket group.
    pub kind: ChatKind,
    /// Requested, active, gone or failed.
    pub state: ChatState,
    /// The organisation it serves.
    pub org_id: OrgId,
    /// The ticket, for a ticket group.
    pub ticket_id: Option<TicketId>,
    /// The ticket's number, for a ticket group.
    pub ticket_number: Option<i64>,
    /// The integration (Lark app) it lives in.
    pub integration_id: Option<String>,
    /// Lark's `oc_…`, once it exists.
    pub chat_id: Option<String>,
    /// Its name.
    pub name: String,
    /// Whether it holds people of two Lark tenants.
    pub external: bool,
    /// People in it, as far as the desk knows.
    pub members: u64,
    /// Attempts at making it in Lark so far.
    pub attempts: u32,
    /// Why the last attempt (or the last piece of work on it) did not succeed.
    pub last_error: Option<String>,
    /// A stable code for `last_error` when it needs someone to act (`lark_external_chat_disabled`, …).
    pub error_code: Option<String>,
    /// When the next attempt is due, while it waits for one.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The message id of the card the bot posted in it.
    pub card_message_id: Option<String>,
    /// Work queued on it (people to add, the card to refresh).
    pub pending_work: u64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Which groups to list.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    /// Of this organisation.
    pub org_id: Option<OrgId>,
    /// Of this kind.
    pub kind: Option<ChatKind>,
    /// In this state.
    pub state: Option<ChatState>,
}

/// A group the worker claimed, to make in Lark.
#[derive(Debug, Clone)]
pub struct GroupRequest {
    /// The row: Lark's `uuid` for the create call, so a retry never makes a second chat.
    pub id: Uuid,
    /// Main or ticket group.
    pub kind: ChatKind,
    /// The organisation.
    pub org_id: OrgId,
    /// The ticket, for a ticket group.
    pub ticket_id: Option<TicketId>,
    /// The integration whose app makes it.
    pub integration_id: String,
    /// The name it was asked for with.
    pub name: String,
    /// This attempt's number (1 = first).
    pub attempt: u32,
}

/// Everyone who belongs in a group, with what deciding about them needs.
#[derive(Debug, Clone)]
pub struct GroupAudience {
    /// The organisation the group serves.
    pub org: Org,
    /// The integration's own organisation, when the app is an organisation's (else it is
    /// the vendor's `default` app).
    pub app_org: Option<OrgId>,
    /// The ticket, for a ticket group.
    pub ticket: Option<Ticket>,
    /// Its assignee's name, for the ticket card.
    pub assignee_name: Option<String>,
    /// The people who belong in it (active; bound or not), without repeats.
    pub people: Vec<Person>,
}

/// What a queued piece of group work does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupTaskKind {
    /// Bring people into the chat.
    AddMembers,
    /// Make the card in the chat show the ticket (or organisation) as it is now: post it
    /// once, then update that message.
    Card,
    /// Give the chat the group's current name (the ticket's title changed).
    Rename,
    /// Read who is in the chat from Lark (a bound chat's members were never announced).
    SyncMembers,
}

impl GroupTaskKind {
    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AddMembers => "add_members",
            Self::Card => "card",
            Self::Rename => "rename",
            Self::SyncMembers => "sync_members",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::AddMembers, Self::Card, Self::Rename, Self::SyncMembers].into_iter().find(|k| k.as_str() == s)
    }
}

/// A claimed piece of group work.
#[derive(Debug, Clone)]
pub struct GroupTask {
    /// Its id.
    pub id: Uuid,
    /// What it does.
    pub kind: GroupTaskKind,
    /// The group it is for.
    pub group: Group,
    /// For `add_members`: who.
    pub people: Vec<PersonId>,
    /// This attempt's number (1 = first).
    pub attempt: u32,
}

/// Stable error code of a group Lark refused because the app may not make external groups.
pub const EXTERNAL_CHAT_DISABLED: &str = "lark_external_chat_disabled";

const TASK_PENDING: &str = "pending";
const TASK_PARKED: &str = "parked";

fn to_u32(v: i32) -> u32 {
    u32::try_from(std::cmp::max(v, 0)).unwrap_or(0)
}

fn group_of(
    m: lark_chat::Model,
    members: u64,
    pending_work: u64,
    ticket_number: Option<i64>,
) -> Result<Group, StoreError> {
    Ok(Group {
        id: m.id,
        kind: ChatKind::parse(&m.kind).ok_or_else(|| StoreError::corrupt("lark_chats", format!("kind {}", m.kind)))?,
        state: ChatState::parse(&m.state)
            .ok_or_else(|| StoreError::corrupt("lark_chats", format!("state {}", m.state)))?,
        org_id: OrgId::from_uuid(m.org_id),
        ticket_id: m.ticket_id.map(TicketId::from_uuid),
        ticket_number,
        integration_id: m.integration_id,
        chat_id: m.chat_id,
        name: m.name,
        external: m.external,
        members,
        attempts: to_u32(m.attempts),
        last_error: m.last_error,
        error_code: m.error_code,
        next_attempt_at: m.next_attempt_at,
        card_message_id: m.card_message_id,
        pending_work,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

#[derive(Debug, FromQueryResult)]
struct CountRow {
    chat_row_id: Uuid,
    n: i64,
}

/// Builds the REST view of `rows`: member counts, queued work and ticket numbers in three queries.
async fn groups_of<C: ConnectionTrait>(db: &C, rows: Vec<lark_chat::Model>) -> Result<Vec<Group>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let count = |rows: Vec<CountRow>| -> HashMap<Uuid, u64> {
        rows.into_iter().map(|r| (r.chat_row_id, u64::try_from(r.n).unwrap_or(0))).collect()
    };
    let members = count(
        lark_chat_member::Entity::find()
            .select_only()
            .column(lark_chat_member::Column::ChatRowId)
            .column_as(Expr::expr(Func::count(Expr::col(lark_chat_member::Column::OpenId))), "n")
            .filter(lark_chat_member::Column::ChatRowId.is_in(ids.clone()))
            .group_by(lark_chat_member::Column::ChatRowId)
            .into_model::<CountRow>()
            .all(db)
            .await?,
    );
    let work = count(
        lark_chat_task::Entity::find()
            .select_only()
            .column(lark_chat_task::Column::ChatRowId)
            .column_as(Expr::expr(Func::count(Expr::col(lark_chat_task::Column::Id))), "n")
            .filter(lark_chat_task::Column::ChatRowId.is_in(ids))
            .filter(lark_chat_task::Column::State.eq(TASK_PENDING))
            .group_by(lark_chat_task::Column::ChatRowId)
            .into_model::<CountRow>()
            .all(db)
            .await?,
    );
    let ticket_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.ticket_id).collect();
    let numbers: HashMap<Uuid, i64> = if ticket_ids.is_empty() {
        HashMap::new()
    } else {
        ticket::Entity::find()
            .select_only()
            .column(ticket::Column::Id)
            .column(ticket::Column::Number)
            .filter(ticket::Column::Id.is_in(ticket_ids))
            .into_tuple::<(Uuid, i64)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    rows.into_iter()
        .map(|m| {
            let (id, ticket) = (m.id, m.ticket_id);
            group_of(
                m,
                members.get(&id).copied().unwrap_or(0),
                work.get(&id).copied().unwrap_or(0),
                ticket.and_then(|t| numbers.get(&t).copied()),
            )
        })
        .collect()
}

/// One new task row.
fn task_row(
    chat: Uuid,
    kind: GroupTaskKind,
    people: &[PersonId],
    now: DateTime<Utc>,
) -> Result<lark_chat_task::ActiveModel, StoreError> {
    let people: Vec<Uuid> = people.iter().map(|p| p.as_uuid()).collect();
    Ok(lark_chat_task::ActiveModel {
        id: Set(Uuid::now_v7()),
        chat_row_id: Set(chat),
        kind: Set(kind.as_str().to_owned()),
        people: Set(serde_json::to_string(&people).map_err(|e| StoreError::corrupt("lark_chat_tasks", e))?),
        state: Set(TASK_PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    })
}

/// Queues `kind` on `chat` unless one is waiting already: a card refresh renders the ticket
/// and a rename takes the group's name as they are when it runs, so one is enough.
async fn queue_once<C: ConnectionTrait>(
    db: &C,
    chat: Uuid,
    kind: GroupTaskKind,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let waiting = lark_chat_task::Entity::find()
        .filter(lark_chat_task::Column::ChatRowId.eq(chat))
        .filter(lark_chat_task::Column::Kind.eq(kind.as_str()))
        .filter(lark_chat_task::Column::State.eq(TASK_PENDING))
        .filter(lark_chat_task::Column::Attempts.eq(0))
        .count(db)
        .await?;
    if waiting == 0 {
        lark_chat_task::Entity::insert(task_row(chat, kind, &[], now)?).exec_without_returning(db).await?;
    }
    Ok(())
}

/// The live (requested or active) group of a ticket, if it has one.
async fn live_ticket_group<C: ConnectionTrait>(db: &C, ticket: TicketId) -> Result<Option<Uuid>, StoreError> {
    Ok(lark_chat::Entity::find()
        .select_only()
        .column(lark_chat::Column::Id)
        .filter(lark_chat::Column::TicketId.eq(ticket.as_uuid()))
        .filter(lark_chat::Column::State.is_in([ChatState::Requested.as_str(), ChatState::Active.as_str()]))
        .into_tuple::<Uuid>()
        .one(db)
        .await?)
}

/// Asks for the ticket groups of freshly written tickets whose organisation has a way to
/// Lark (its own integration, else `default`), in the tickets' transaction. Each item is
/// (ticket, organisation, group name, when).
pub(crate) async fn request_ticket_groups<C: ConnectionTrait>(
    db: &C,
    tickets: &[(Uuid, Uuid, String, DateTime<Utc>)],
) -> Result<(), StoreError> {
    if tickets.is_empty() {
        return Ok(());
    }
    let routes = Routes::load(db).await?;
    let rows: Vec<lark_chat::ActiveModel> = tickets
        .iter()
        .filter_map(|(ticket, org, name, now)| {
            let integration = routes.for_org(*org)?;
            Some(lark_chat::ActiveModel {
                id: Set(Uuid::now_v7()),
                integration_id: Set(Some(integration)),
                chat_id: Set(None),
                org_id: Set(*org),
                ticket_id: Set(Some(*ticket)),
                kind: Set(ChatKind::Ticket.as_str().to_owned()),
                state: Set(ChatState::Requested.as_str().to_owned()),
                name: Set(name.clone()),
                created_at: Set(*now),
                updated_at: Set(*now),
                gone_at: Set(None),
                ..fresh_row()
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    lark_chat::Entity::insert_many(rows)
        .on_conflict(OnConflict::column(lark_chat::Column::TicketId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A ticket was (re)assigned: its group is to bring the new assignee in. Written in the
/// assignment's transaction; a group still being made takes the assignee at creation, and
/// the task then finds them there already.
pub(crate) async fn on_assigned<C: ConnectionTrait>(
    db: &C,
    ticket: TicketId,
    to: Option<PersonId>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (Some(to), Some(chat)) = (to, live_ticket_group(db, ticket).await?) else { return Ok(()) };
    lark_chat_task::Entity::insert(task_row(chat, GroupTaskKind::AddMembers, &[to], now)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A ticket's status moved: when it closes, resolves or reopens, the card in its group is
/// to show it. Other moves leave the card alone (a card update is a billed call, and the
/// group hears of every move from the notifications anyway).
pub(crate) async fn on_status_changed<C: ConnectionTrait>(
    db: &C,
    ticket: TicketId,
    from: TicketStatus,
    to: TicketStatus,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let settled = |s: TicketStatus| matches!(s, TicketStatus::Resolved | TicketStatus::Closed);
    if !(settled(from) || settled(to)) {
        return Ok(());
    }
    match live_ticket_group(db, ticket).await? {
        Some(chat) => queue_once(db, chat, GroupTaskKind::Card, now).await,
        None => Ok(()),
    }
}

/// A ticket's title changed: its group takes the new name (`#N title`) — at creation if it
/// is still being made, by a rename and a card refresh if it is live. Written in the
/// change's transaction.
pub(crate) async fn on_retitled<C: ConnectionTrait>(
    db: &C,
    ticket: TicketId,
    number: i64,
    title: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(chat) = live_ticket_group(db, ticket).await? else { return Ok(()) };
    lark_chat::Entity::update_many()
        .col_expr(lark_chat::Column::Name, Expr::value(format!("#{number} {title}")))
        .filter(lark_chat::Column::Id.eq(chat))
        .exec(db)
        .await?;
    let live = lark_chat::Entity::find_by_id(chat)
        .filter(lark_chat::Column::State.eq(ChatState::Active.as_str()))
        .count(db)
        .await?;
    if live > 0 {
        queue_once(db, chat, GroupTaskKind::Rename, now).await?;
        queue_once(db, chat, GroupTaskKind::Card, now).await?;
    }
    Ok(())
}

impl Leased for lark_chat::Entity {
    const ID: lark_chat::Column = lark_chat::Column::Id;
    const LEASE_UNTIL: lark_chat::Column = lark_chat::Column::LeaseUntil;
    const ATTEMPTS: lark_chat::Column = lark_chat::Column::Attempts;
    const TOUCHED_AT: Option<lark_chat::Column> = Some(lark_chat::Column::UpdatedAt);
}

impl Leased for lark_chat_task::Entity {
    const ID: lark_chat_task::Column = lark_chat_task::Column::Id;
    const LEASE_UNTIL: lark_chat_task::Column = lark_chat_task::Column::LeaseUntil;
    const ATTEMPTS: lark_chat_task::Column = lark_chat_task::Column::Attempts;
}

impl Store {
    /// The integration that carries `org`'s Lark traffic: its own app, else `default`.
    pub async fn lark_route(&self, org: OrgId) -> Result<Option<String>, StoreError> {
        Ok(Routes::load(self.conn()).await?.for_org(org.as_uuid()))
    }

    /// Claims up to `limit` groups of `integrations` waiting to be made in Lark, leasing
    /// them for `lease`. On PostgreSQL concurrent workers take disjoint rows.
    pub async fn claim_group_requests(
        &self,
        integrations: &[String],
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<GroupRequest>, StoreError> {
        self.claim_requests(integrations, None, now, lease, limit).await
    }

    /// Claims group `id` if it is waiting to be made by one of `integrations` and nobody
    /// holds it: for making it at once rather than on the worker's next pass.
    pub async fn claim_group_request(
        &self,
        id: Uuid,
        integrations: &[String],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<GroupRequest>, StoreError> {
        Ok(self.claim_requests(integrations, Some(id), now, lease, 1).await?.pop())
    }

    async fn claim_requests(
        &self,
        integrations: &[String],
        only: Option<Uuid>,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<GroupRequest>, StoreError> {
        if integrations.is_empty() {
            return Ok(Vec::new());
        }
        let due = || {
            let mut q = lark_chat::Entity::find();
            if let Some(id) = only {
                q = q.filter(lark_chat::Column::Id.eq(id));
            }
            q.filter(lark_chat::Column::State.eq(ChatState::Requested.as_str()))
                .filter(lark_chat::Column::IntegrationId.is_in(integrations.iter().cloned()))
                .filter(lark_chat::Column::NextAttemptAt.is_null().or(lark_chat::Column::NextAttemptAt.lte(now)))
                .filter(lark_chat::Column::LeaseUntil.is_null().or(lark_chat::Column::LeaseUntil.lte(now)))
        };
        // A look before the write transaction: an idle pass never takes SQLite's one writer.
        if due().one(self.conn()).await?.is_none() {
            return Ok(Vec::new());
        }
        let tx = self.write().await?;
        let rows = queue::claim(&*tx, due().order_by_asc(lark_chat::Column::Id).limit(limit), now, lease).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        tx.commit().await?;
        rows.into_iter()
            .map(|m| {
                Ok(GroupRequest {
                    id: m.id,
                    kind: ChatKind::parse(&m.kind)
                        .ok_or_else(|| StoreError::corrupt("lark_chats", format!("kind {}", m.kind)))?,
                    org_id: OrgId::from_uuid(m.org_id),
                    ticket_id: m.ticket_id.map(TicketId::from_uuid),
                    integration_id: m.integration_id.unwrap_or_default(),
                    name: m.name,
                    attempt: to_u32(m.attempts).saturating_add(1),
                })
            })
            .collect()
    }

    /// Everyone who belongs in group `id`: for a ticket group its requester, assignee and
    /// the organisation's TAM; for a main group the organisation's customer members, its
    /// TAM and every staff member. Only active people, each once.
    pub async fn group_audience(&self, id: Uuid) -> Result<GroupAudience, StoreError> {
        let db = self.conn();
        let row = lark_chat::Entity::find_by_id(id).one(db).await?.ok_or_else(|| StoreError::not_found("group", id))?;
        let org_model = orgs::require_org(db, OrgId::from_uuid(row.org_id)).await?;
        let org = orgs::to_domain(org_model)?;
        let app_org = match &row.integration_id {
            Some(i) => crate::entity::integration::Entity::find_by_id(i.clone())
                .one(db)
                .await?
                .and_then(|i| i.org_id)
                .map(OrgId::from_uuid),
            None => None,
        };
        let mut ids: Vec<PersonId> = Vec::new();
        let mut ticket = None;
        let mut assignee_name = None;
        let mut people: Vec<Person> = Vec::new();
        match row.ticket_id {
            Some(t) => {
                let t = self.ticket(TicketId::from_uuid(t)).await?;
                ids.extend(t.requester_id);
                ids.extend(t.assignee_id);
                ids.extend(org.tam_id);
                if let Some(a) = t.assignee_id {
                    assignee_name = people::find(db, a).await?.map(|p| p.name);
                }
                ticket = Some(t);
            }
            None => {
                let rows = person::Entity::find()
                    .filter(person::Column::Active.eq(true))
                    .filter(
                        person::Column::OrgId
                            .eq(org.id.as_uuid())
                            .and(person::Column::Kind.eq(PersonKind::Customer.as_str()))
                            .or(person::Column::Kind.eq(PersonKind::Staff.as_str())),
                    )
                    .order_by_asc(person::Column::Id)
                    .all(db)
                    .await?;
                for p in rows {
                    people.push(people::to_domain(p)?);
                }
                ids.extend(org.tam_id);
            }
        }
        let mut seen: HashSet<PersonId> = people.iter().map(|p| p.id).collect();
        for id in ids {
            if seen.insert(id)
                && let Some(p) = people::find(db, id).await?
            {
                people.push(p);
            }
        }
        people.retain(|p| p.active);
        Ok(GroupAudience { org, app_org, ticket, assignee_name, people })
    }

    /// Group `id` now exists in Lark as `chat_id`: it becomes active (a main group becomes
    /// its organisation's `main_chat_id`), its card is queued for posting, and `later` (people
    /// who could not go into the create call) are queued to be added. Repeating it for the
    /// same chat changes nothing.
    pub async fn group_made(
        &self,
        id: Uuid,
        chat_id: &str,
        external: bool,
        later: &[PersonId],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write().await?;
        let changed = lark_chat::Entity::update_many()
            .col_expr(lark_chat::Column::ChatId, Expr::value(chat_id))
            .col_expr(lark_chat::Column::State, Expr::value(ChatState::Active.as_str()))
            .col_expr(lark_chat::Column::External, Expr::value(external))
            .col_expr(lark_chat::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(lark_chat::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(lark_chat::Column::LastError, Expr::value(Option::<String>::None))
            .col_expr(lark_chat::Column::ErrorCode, Expr::value(Option::<String>::None))
            .col_expr(lark_chat::Column::UpdatedAt, Expr::value(now))
            .filter(lark_chat::Column::Id.eq(id))
            .filter(lark_chat::Column::State.eq(ChatState::Requested.as_str()))
            .exec(&*tx)
            .await
            .map_err(|e| {
                StoreError::on_unique(e, "chat_taken", format!("chat {chat_id} already serves another group"))
            })?
            .rows_affected;
        let row =
            lark_chat::Entity::find_by_id(id).one(&*tx).await?.ok_or_else(|| StoreError::not_found("group", id))?;
        if changed == 0 {
            // Another worker whose lease ran out made it first (with the same uuid, so the
            // same chat): nothing more to do.
            return if row.chat_id.as_deref() == Some(chat_id) {
                Ok(())
            } else {
                Err(StoreError::Conflict {
                    code: "not_requested",
                    detail: format!("group {id} is {} and not waiting for a chat", row.state),
                })
            };
        }
        if row.kind == ChatKind::Main.as_str() {
            org::Entity::update_many()
                .col_expr(org::Column::MainChatId, Expr::value(chat_id))
                .col_expr(org::Column::UpdatedAt, Expr::value(now))
                .filter(org::Column::Id.eq(row.org_id))
                .exec(&*tx)
                .await?;
        }
        let mut tasks = vec![task_row(id, GroupTaskKind::Card, &[], now)?];
        if !later.is_empty() {
            tasks.push(task_row(id, GroupTaskKind::AddMembers, later, now)?);
        }
        lark_chat_task::Entity::insert_many(tasks).exec_without_returning(&*tx).await?;
        tx.commit().await
    }

    /// The attempt failed in a way a retry can fix; try again at `retry_at`.
    pub async fn group_retry_at(
        &self,
        id: Uuid,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.group_after_attempt(id, ChatState::Requested, None, error, Some(retry_at), 0, now).await
    }

    /// The group was claimed but not tried (the budget said not yet): the attempt does not count.
    pub async fn group_defer(
        &self,
        id: Uuid,
        reason: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.group_after_attempt(id, ChatState::Requested, None, reason, Some(until), -1, now).await
    }

    /// Lark refused in a way retrying cannot fix: the group is `failed`, with `code` and
    /// words for whoever has to act, until someone retries it.
    pub async fn group_failed(&self, id: Uuid, code: &str, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.group_after_attempt(id, ChatState::Failed, Some(code), error, None, 0, now).await
    }

    #[expect(clippy::too_many_arguments, reason = "one private setter behind three named public ones")]
    async fn group_after_attempt(
        &self,
        id: Uuid,
        state: ChatState,
        code: Option<&str>,
        error: &str,
        next: Option<DateTime<Utc>>,
        attempts_delta: i32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write().await?;
        lark_chat::Entity::update_many()
            .col_expr(lark_chat::Column::State, Expr::value(state.as_str()))
            .col_expr(lark_chat::Column::ErrorCode, Expr::value(code.map(str::to_owned)))
            .col_expr(lark_chat::Column::LastError, Expr::value(error))
            .col_expr(lark_chat::Column::NextAttemptAt, Expr::value(next))
            .col_expr(lark_chat::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(lark_chat::Column::Attempts, Expr::col(lark_chat::Column::Attempts).add(attempts_delta))
            .col_expr(lark_chat::Column::UpdatedAt, Expr::value(now))
            .filter(lark_chat::Column::Id.eq(id))
            .filter(lark_chat::Column::State.eq(ChatState::Requested.as_str()))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// Tries a failed group again (after whatever stopped it was fixed): it is requested
    /// again, from attempt one. Lark's `uuid` is still the row id, so if Lark did make the
    /// chat after all, the same chat comes back.
    pub async fn retry_group(&self, id: Uuid, now: DateTime<Utc>) -> Result<Group, StoreError> {
        let tx = self.write().await?;
        let row = lark_chat::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("group", id))?;
        if row.state != ChatState::Failed.as_str() {
            return Err(StoreError::Conflict {
                code: "not_failed",
                detail: format!("group {id} is {}; only a failed group can be retried", row.state),
            });
        }
        lark_chat::Entity::update_many()
            .col_expr(lark_chat::Column::State, Expr::value(ChatState::Requested.as_str()))
            .col_expr(lark_chat::Column::Attempts, Expr::value(0))
            .col_expr(lark_chat::Column::ErrorCode, Expr::value(Option::<String>::None))
            .col_expr(lark_chat::Column::NextAttemptAt, Expr::value(now))
            .col_expr(lark_chat::Column::UpdatedAt, Expr::value(now))
            .filter(lark_chat::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        let row =
            lark_chat::Entity::find_by_id(id).one(&*tx).await?.ok_or_else(|| StoreError::not_found("group", id))?;
        let group = groups_of(&*tx, vec![row]).await?.pop().ok_or_else(|| StoreError::not_found("group", id))?;
        tx.commit().await?;
        Ok(group)
    }

    /// Asks for `org`'s main service group, to be made in Lark by the group manager. Asking
    /// again while it is being made returns the same request; a failed one is asked for
    /// again. Refused when the organisation has a main group already or no way to Lark.
    pub async fn request_main_group(&self, org: OrgId, now: DateTime<Utc>) -> Result<Group, StoreError> {
        let tx = self.write().await?;
        let o = org::Entity::find_by_id(org.as_uuid())
            .lock_exclusive()
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("org", org))?;
        if let Some(chat) = &o.main_chat_id {
            return Err(main_exists(&o.name, chat));
        }
        let Some(integration) = Routes::load(&*tx).await?.for_org(o.id) else {
            return Err(StoreError::Conflict {
                code: "no_lark_integration",
                detail: format!(
                    "{} has no Lark integration (neither its own nor `default`): register one before creating its main group",
                    o.name
                ),
            });
        };
        let existing = main_row(&*tx, o.id).await?;
        let id = match existing {
            Some(m) if m.state == ChatState::Requested.as_str() => m.id,
            Some(m) if m.state == ChatState::Failed.as_str() => {
                lark_chat::Entity::update_many()
                    .col_expr(lark_chat::Column::State, Expr::value(ChatState::Requested.as_str()))
                    .col_expr(lark_chat::Column::IntegrationId, Expr::value(integration))
                    .col_expr(lark_chat::Column::Attempts, Expr::value(0))
                    .col_expr(lark_chat::Column::ErrorCode, Expr::value(Option::<String>::None))
                    .col_expr(lark_chat::Column::NextAttemptAt, Expr::value(now))
                    .col_expr(lark_chat::Column::UpdatedAt, Expr::value(now))
                    .filter(lark_chat::Column::Id.eq(m.id))
                    .exec(&*tx)
                    .await?;
                m.id
            }
            // An active row whose chat is no longer the organisation's main chat (it was
            // unbound) does not stand in the way of a new one.
            _ => {
                let id = Uuid::now_v7();
                lark_chat::Entity::insert(lark_chat::ActiveModel {
                    id: Set(id),
                    integration_id: Set(Some(integration)),
                    chat_id: Set(None),
                    org_id: Set(o.id),
                    ticket_id: Set(None),
                    kind: Set(ChatKind::Main.as_str().to_owned()),
                    state: Set(ChatState::Requested.as_str().to_owned()),
                    name: Set(o.name.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                    gone_at: Set(None),
                    ..fresh_row()
                })
                .exec_without_returning(&*tx)
                .await?;
                id
            }
        };
        let row =
            lark_chat::Entity::find_by_id(id).one(&*tx).await?.ok_or_else(|| StoreError::not_found("group", id))?;
        let group = groups_of(&*tx, vec![row]).await?.pop().ok_or_else(|| StoreError::not_found("group", id))?;
        tx.commit().await?;
        Ok(group)
    }

    /// Binds an existing Lark chat as `org`'s main service group: it becomes the
    /// organisation's `main_chat_id` and the main-group card is queued for posting there.
    /// Binding the same chat again changes nothing.
    pub async fn bind_main_group(&self, org: OrgId, chat_id: &str, now: DateTime<Utc>) -> Result<Group, StoreError> {
        let tx = self.write().await?;
        let o = org::Entity::find_by_id(org.as_uuid())
            .lock_exclusive()
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("org", org))?;
        if let Some(current) = o.main_chat_id.as_deref().filter(|c| *c != chat_id) {
            return Err(main_exists(&o.name, current));
        }
        let integration = Routes::load(&*tx).await?.for_org(o.id);
        let taken = |e| StoreError::on_unique(e, "chat_taken", format!("chat {chat_id} already serves another group"));
        let existing = match main_row(&*tx, o.id).await? {
            Some(m) if m.chat_id.as_deref() == Some(chat_id) => Some(m),
            Some(m) if m.state == ChatState::Requested.as_str() => {
                return Err(StoreError::Conflict {
                    code: "main_group_pending",
                    detail: format!("{}'s main group is being created in Lark; wait for it or let it fail", o.name),
                });
            }
            // A failed earlier attempt is replaced by the bound chat.
            Some(m) if m.state == ChatState::Failed.as_str() => {
                lark_chat::Entity::update_many()
                    .col_expr(lark_chat::Column::ChatId, Expr::value(chat_id))
                    .col_expr(lark_chat::Column::State, Expr::value(ChatState::Active.as_str()))
                    .col_expr(lark_chat::Column::IntegrationId, Expr::value(integration.clone()))
                    .col_expr(lark_chat::Column::ErrorCode, Expr::value(Option::<String>::None))
                    .col_expr(lark_chat::Column::LastError, Expr::value(Option::<String>::None))
                    .col_expr(lark_chat::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
                    .col_expr(lark_chat::Column::GoneAt, Expr::value(Option::<DateTime<Utc>>::None))
                    .col_expr(lark_chat::Column::UpdatedAt, Expr::value(now))
                    .filter(lark_chat::Column::Id.eq(m.id))
                    .exec(&*tx)
                    .await
                    .map_err(taken)?;
                None
            }
            // None, or an active row whose chat was unbound from the organisation.
            _ => {
                if let Some(other) =
                    lark_chat::Entity::find().filter(lark_chat::Column::ChatId.eq(chat_id)).one(&*tx).await?
                {
                    return Err(StoreError::Conflict {
                        code: "chat_taken",
                        detail: format!("chat {chat_id} already serves another group ({})", other.name),
                    });
                }
                lark_chat::Entity::insert(lark_chat::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    integration_id: Set(integration),
                    chat_id: Set(Some(chat_id.to_owned())),
                    org_id: Set(o.id),
                    ticket_id: Set(None),
                    kind: Set(ChatKind::Main.as_str().to_owned()),
                    state: Set(ChatState::Active.as_str().to_owned()),
                    name: Set(o.name.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                    gone_at: Set(None),
                    ..fresh_row()
                })
                .exec_without_returning(&*tx)
                .await
                .map_err(taken)?;
                None
            }
        };
        let row = lark_chat::Entity::find()
            .filter(lark_chat::Column::ChatId.eq(chat_id))
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("group", chat_id))?;
        if o.main_chat_id.is_none() {
            org::Entity::update_many()
                .col_expr(org::Column::MainChatId, Expr::value(chat_id))
                .col_expr(org::Column::UpdatedAt, Expr::value(now))
                .filter(org::Column::Id.eq(o.id))
                .exec(&*tx)
                .await?;
        }
        // The card goes up once: not again for a repeated bind.
        if existing.is_none() || row.card_message_id.is_none() {
            queue_once(&*tx, row.id, GroupTaskKind::Card, now).await?;
        }
        // The people already in a bound chat joined before the desk listened: ask Lark once.
        if existing.is_none() {
            queue_once(&*tx, row.id, GroupTaskKind::SyncMembers, now).await?;
        }
        let group = groups_of(&*tx, vec![row]).await?.pop().ok_or_else(|| StoreError::not_found("group", chat_id))?;
        tx.commit().await?;
        Ok(group)
    }

    /// One group.
    pub async fn group(&self, id: Uuid) -> Result<Group, StoreError> {
        let row = lark_chat::Entity::find_by_id(id)
            .one(self.conn())
            .await?
            .ok_or_else(|| StoreError::not_found("group", id))?;
        groups_of(self.conn(), vec![row]).await?.pop().ok_or_else(|| StoreError::not_found("group", id))
    }

    /// The cursor scope of the group list.
    pub const GROUPS_SCOPE: &'static str = "groups";

    /// Lists groups, oldest first.
    pub async fn list_groups(&self, filter: &GroupFilter, page: &PageRequest) -> Result<Page<Group>, StoreError> {
        let mut q = lark_chat::Entity::find();
        if let Some(org) = filter.org_id {
            q = q.filter(lark_chat::Column::OrgId.eq(org.as_uuid()));
        }
        if let Some(kind) = filter.kind {
            q = q.filter(lark_chat::Column::Kind.eq(kind.as_str()));
        }
        if let Some(state) = filter.state {
            q = q.filter(lark_chat::Column::State.eq(state.as_str()));
        }
        let rows = oldest_first(q, lark_chat::Column::Id, page).all(self.conn()).await?;
        let page = Page::by_id(rows, page, Self::GROUPS_SCOPE, |m| m.id, Ok::<_, StoreError>)?;
        let items = groups_of(self.conn(), page.items).await?;
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    /// Claims up to `limit` due pieces of work on active groups of `integrations`, leasing
    /// them for `lease`. Work on a group still being made waits for it.
    pub async fn claim_group_tasks(
        &self,
        integrations: &[String],
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<GroupTask>, StoreError> {
        if integrations.is_empty() {
            return Ok(Vec::new());
        }
        let live = Query::select()
            .column(lark_chat::Column::Id)
            .from(lark_chat::Entity)
            .and_where(Expr::col(lark_chat::Column::State).eq(ChatState::Active.as_str()))
            .and_where(Expr::col(lark_chat::Column::IntegrationId).is_in(integrations.iter().cloned()))
            .to_owned();
        let due = || {
            lark_chat_task::Entity::find()
                .filter(lark_chat_task::Column::State.eq(TASK_PENDING))
                .filter(lark_chat_task::Column::NextAttemptAt.lte(now))
                .filter(lark_chat_task::Column::LeaseUntil.is_null().or(lark_chat_task::Column::LeaseUntil.lte(now)))
                .filter(lark_chat_task::Column::ChatRowId.in_subquery(live.clone()))
        };
        if due().one(self.conn()).await?.is_none() {
            return Ok(Vec::new());
        }
        let tx = self.write().await?;
        let rows = queue::claim(&*tx, due().order_by_asc(lark_chat_task::Column::Id).limit(limit), now, lease).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let chats = lark_chat::Entity::find()
            .filter(lark_chat::Column::Id.is_in(rows.iter().map(|r| r.chat_row_id).collect::<HashSet<_>>()))
            .all(&*tx)
            .await?;
        let groups: HashMap<Uuid, Group> = groups_of(&*tx, chats).await?.into_iter().map(|g| (g.id, g)).collect();
        tx.commit().await?;
        rows.into_iter()
            .map(|r| {
                let kind = GroupTaskKind::parse(&r.kind)
                    .ok_or_else(|| StoreError::corrupt("lark_chat_tasks", format!("kind {}", r.kind)))?;
                let people: Vec<Uuid> =
                    serde_json::from_str(&r.people).map_err(|e| StoreError::corrupt("lark_chat_tasks", e))?;
                let group = groups
                    .get(&r.chat_row_id)
                    .cloned()
                    .ok_or_else(|| StoreError::corrupt("lark_chat_tasks", "the group vanished"))?;
                Ok(GroupTask {
                    id: r.id,
                    kind,
                    group,
                    people: people.into_iter().map(PersonId::from_uuid).collect(),
                    attempt: to_u32(r.attempts).saturating_add(1),
                })
            })
            .collect()
    }

    /// The work is done.
    pub async fn group_task_done(&self, id: Uuid) -> Result<(), StoreError> {
        let tx = self.write().await?;
        lark_chat_task::Entity::delete_by_id(id).exec(&*tx).await?;
        tx.commit().await
    }

    /// The work failed in a way a retry can fix; try again at `retry_at`. The group shows the error.
    pub async fn group_task_retry_at(
        &self,
        task: &GroupTask,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.task_after_attempt(task, TASK_PENDING, error, retry_at, 0, now).await
    }

    /// The work was claimed but not tried (the budget said not yet): the attempt does not count.
    pub async fn group_task_defer(
        &self,
        task: &GroupTask,
        reason: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.task_after_attempt(task, TASK_PENDING, reason, until, -1, now).await
    }

    /// Gives up on the work; the group shows why.
    pub async fn group_task_parked(&self, task: &GroupTask, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.task_after_attempt(task, TASK_PARKED, error, now, 0, now).await
    }

    async fn task_after_attempt(
        &self,
        task: &GroupTask,
        state: &str,
        error: &str,
        next: DateTime<Utc>,
        attempts_delta: i32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write().await?;
        lark_chat_task::Entity::update_many()
            .col_expr(lark_chat_task::Column::State, Expr::value(state))
            .col_expr(lark_chat_task::Column::LastError, Expr::value(error))
            .col_expr(lark_chat_task::Column::NextAttemptAt, Expr::value(next))
            .col_expr(lark_chat_task::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(lark_chat_task::Column::Attempts, Expr::col(lark_chat_task::Column::Attempts).add(attempts_delta))
            .filter(lark_chat_task::Column::Id.eq(task.id))
            .exec(&*tx)
            .await?;
        // The group's own record says what its last piece of work ran into.
        lark_chat::Entity::update_many()
            .col_expr(lark_chat::Column::LastError, Expr::value(format!("{}: {error}", task.kind.as_str())))
            .col_expr(lark_chat::Column::UpdatedAt, Expr::value(now))
            .filter(lark_chat::Column::Id.eq(task.group.id))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// The card in group `id` is message `message_id`.
    pub async fn set_group_card(&self, id: Uuid, message_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.write().await?;
        lark_chat::Entity::update_many()
            .col_expr(lark_chat::Column::CardMessageId, Expr::value(message_id))
            .col_expr(lark_chat::Column::UpdatedAt, Expr::value(now))
            .filter(lark_chat::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// What the desk knows of `integration`'s groups and external groups: whether any of
    /// them holds people of two Lark tenants (or was refused for it), and the latest
    /// refusal for want of the external capability, as (group, message).
    pub async fn external_groups_of(&self, integration: &str) -> Result<(bool, Option<(Uuid, String)>), StoreError> {
        let db = self.conn();
        let refused = lark_chat::Entity::find()
            .filter(lark_chat::Column::IntegrationId.eq(integration))
            .filter(lark_chat::Column::ErrorCode.eq(EXTERNAL_CHAT_DISABLED))
            .order_by_desc(lark_chat::Column::UpdatedAt)
            .one(db)
            .await?;
        let external = lark_chat::Entity::find()
            .filter(lark_chat::Column::IntegrationId.eq(integration))
            .filter(lark_chat::Column::External.eq(true))
            .count(db)
            .await?;
        Ok((external > 0 || refused.is_some(), refused.map(|r| (r.id, r.last_error.unwrap_or_default()))))
    }
}

fn main_exists(org: &str, chat: &str) -> StoreError {
    StoreError::Conflict {
        code: "main_group_exists",
        detail: format!("{org} already has a main group (chat {chat}); unbind it with PATCH /orgs/{{id}} first"),
    }
}

/// The organisation's main-group row that is not gone, if any (the newest).
async fn main_row<C: ConnectionTrait>(db: &C, org: Uuid) -> Result<Option<lark_chat::Model>, StoreError> {
    Ok(lark_chat::Entity::find()
        .filter(lark_chat::Column::OrgId.eq(org))
        .filter(lark_chat::Column::Kind.eq(ChatKind::Main.as_str()))
        .filter(lark_chat::Column::State.ne(ChatState::Gone.as_str()))
        .order_by_desc(lark_chat::Column::Id)
        .one(db)
        .await?)
}
