//! Customer organisations and their Service Desk view.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use desk_core::{DomainError, NewOrg, Org, OrgId, OrgPatch, Person, PersonId, SupportPlan, Ticket, TicketStatus};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IntoActiveModel,
    Order, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entity::{org, person, ticket};
use crate::pagination::{Page, PageRequest, oldest_first};
use crate::{Store, StoreError, people, tickets};

/// Filters for listing organisations.
#[derive(Debug, Clone, Default)]
pub struct OrgFilter {
    /// Text in the name (case-insensitive).
    pub q: Option<String>,
}

/// How many of an organisation's tickets are in each status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// Open.
    pub open: u64,
    /// In progress.
    pub in_progress: u64,
    /// Waiting on customer.
    pub waiting_on_customer: u64,
    /// Resolved.
    pub resolved: u64,
    /// Closed.
    pub closed: u64,
}

/// The Service Desk: an organisation, its tickets that need work, and everyone involved.
#[derive(Debug, Clone)]
pub struct DeskView {
    /// The organisation.
    pub org: Org,
    /// Ticket counts by status.
    pub counts: StatusCounts,
    /// Active tickets (not resolved or closed), most urgent first, at most 100.
    pub active_tickets: Vec<Ticket>,
    /// The customer's own people.
    pub colleagues: Vec<Person>,
    /// Staff serving the organisation: its TAM and everyone assigned to its tickets.
    pub service_team: Vec<Person>,
}

/// Most active tickets the desk view carries; the ticket list pages the rest.
const DESK_TICKETS_MAX: u64 = 100;

pub(crate) fn to_domain(m: org::Model) -> Result<Org, StoreError> {
    Ok(Org {
        id: OrgId::from_uuid(m.id),
        name: m.name,
        lark_tenant_key: m.lark_tenant_key,
        support_plan: m.support_plan.parse::<SupportPlan>().map_err(|e| StoreError::corrupt("orgs", e))?,
        main_chat_id: m.main_chat_id,
        tam_id: m.tam_id.map(PersonId::from_uuid),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// `LIKE` pattern matching `q` anywhere, case-insensitively, with wildcards escaped.
pub(crate) fn contains_pattern(q: &str) -> LikeExpr {
    let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

pub(crate) fn lower(col: impl sea_orm::sea_query::IntoColumnRef) -> Expr {
    Expr::expr(Func::lower(Expr::col(col)))
}

pub(crate) async fn require_org<C: ConnectionTrait>(db: &C, id: OrgId) -> Result<org::Model, StoreError> {
    org::Entity::find_by_id(id.as_uuid()).one(db).await?.ok_or_else(|| StoreError::not_found("org", id))
}

async fn check_tam<C: ConnectionTrait>(db: &C, tam: Option<PersonId>) -> Result<(), StoreError> {
    let Some(tam) = tam else { return Ok(()) };
    let person = people::find(db, tam).await?;
    match person {
        Some(p) if p.is_staff() && p.active => Ok(()),
        Some(_) => Err(DomainError::invalid("tam_id", "must be an active staff member").into()),
        None => Err(DomainError::invalid("tam_id", format!("no person {tam}")).into()),
    }
}

fn unique_tenant(e: sea_orm::DbErr) -> StoreError {
    StoreError::on_unique(e, "lark_tenant_key_taken", "another organisation already has this Lark tenant key")
}

/// Most organisation ids remembered as existing; past it the set starts over.
const KNOWN_ORGS_MAX: usize = 100_000;

impl Store {
    /// Whether an organisation exists (remembered once seen: organisations are never deleted).
    pub(crate) async fn org_exists(&self, id: OrgId) -> Result<bool, StoreError> {
        let read = |set: &std::collections::HashSet<Uuid>| set.contains(&id.as_uuid());
        if self.known_orgs.read().map(|s| read(&s)).unwrap_or(false) {
            return Ok(true);
        }
        let found = org::Entity::find_by_id(id.as_uuid())
            .select_only()
            .column(org::Column::Id)
            .into_tuple::<Uuid>()
            .one(self.conn())
            .await?
            .is_some();
        if found && let Ok(mut set) = self.known_orgs.write() {
            if set.len() >= KNOWN_ORGS_MAX {
                set.clear();
            }
            set.insert(id.as_uuid());
        }
        Ok(found)
    }

    /// Refuses an `org_id` field that names no organisation (a 422 naming the field, not a
    /// 404: the request is wrong, not the URL).
    pub(crate) async fn check_org_ref(&self, org: OrgId) -> Result<(), StoreError> {
        if self.org_exists(org).await? {
            Ok(())
        } else {
            Err(DomainError::invalid("org_id", format!("no organisation {org}")).into())
        }
    }

    /// Creates an organisation.
    pub async fn create_org(&self, new: NewOrg, now: DateTime<Utc>) -> Result<Org, StoreError> {
        let tx = self.write().await?;
        check_tam(&*tx, new.tam_id).await?;
        let model = org::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(new.name),
            lark_tenant_key: Set(new.lark_tenant_key),
            support_plan: Set(new.support_plan.as_str().to_owned()),
            main_chat_id: Set(new.main_chat_id),
            tam_id: Set(new.tam_id.map(|t| t.as_uuid())),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*tx)
        .await
        .map_err(unique_tenant)?;
        tx.commit().await?;
        to_domain(model)
    }

    /// Reads one organisation.
    pub async fn org(&self, id: OrgId) -> Result<Org, StoreError> {
        to_domain(require_org(self.conn(), id).await?)
    }

    /// Changes an organisation.
    pub async fn update_org(&self, id: OrgId, patch: OrgPatch, now: DateTime<Utc>) -> Result<Org, StoreError> {
        let tx = self.write().await?;
        let mut model = require_org(&*tx, id).await?.into_active_model();
        if let Some(name) = patch.name {
            model.name = Set(name);
        }
        if let Some(key) = patch.lark_tenant_key {
            model.lark_tenant_key = Set(key);
        }
        if let Some(plan) = patch.support_plan {
            model.support_plan = Set(plan.as_str().to_owned());
        }
        if let Some(chat) = patch.main_chat_id {
            model.main_chat_id = Set(chat);
        }
        if let Some(tam) = patch.tam_id {
            check_tam(&*tx, tam).await?;
            model.tam_id = Set(tam.map(|t| t.as_uuid()));
        }
        model.updated_at = Set(now);
        let model = model.update(&*tx).await.map_err(unique_tenant)?;
        tx.commit().await?;
        to_domain(model)
    }

    /// Lists organisations, oldest first.
    pub async fn list_orgs(&self, filter: &OrgFilter, page: &PageRequest) -> Result<Page<Org>, StoreError> {
        const SCOPE: &str = "orgs";
        let mut query = org::Entity::find();
        if let Some(q) = filter.q.as_deref() {
            query = query.filter(lower((org::Entity, org::Column::Name)).like(contains_pattern(q)));
        }
        let rows = oldest_first(query, org::Column::Id, page).all(self.conn()).await?;
        Page::by_id(rows, page, SCOPE, |m| m.id, to_domain)
    }

    /// The Service Desk view of one organisation.
    pub async fn desk_view(&self, id: OrgId) -> Result<DeskView, StoreError> {
        let db = self.conn();
        let org = to_domain(require_org(db, id).await?)?;

        #[derive(Debug, FromQueryResult)]
        struct StatusCount {
            status: String,
            n: i64,
        }
        let rows = ticket::Entity::find()
            .select_only()
            .column(ticket::Column::Status)
            .column_as(Expr::col(ticket::Column::Id).count(), "n")
            .filter(ticket::Column::OrgId.eq(id.as_uuid()))
            .group_by(ticket::Column::Status)
            .into_model::<StatusCount>()
            .all(db)
            .await?;
        let mut counts = StatusCounts::default();
        for row in rows {
            let n = u64::try_from(row.n).unwrap_or(0);
            match row.status.parse::<TicketStatus>().map_err(|e| StoreError::corrupt("tickets", e))? {
                TicketStatus::Open => counts.open = n,
                TicketStatus::InProgress => counts.in_progress = n,
                TicketStatus::WaitingOnCustomer => counts.waiting_on_customer = n,
                TicketStatus::Resolved => counts.resolved = n,
                TicketStatus::Closed => counts.closed = n,
            }
        }

        let active = ticket::Entity::find()
            .filter(ticket::Column::OrgId.eq(id.as_uuid()))
            .filter(
                ticket::Column::Status.is_in(TicketStatus::ALL.iter().filter(|s| s.is_active()).map(|s| s.as_str())),
            )
            .order_by(ticket::Column::Severity, Order::Asc)
            .order_by(ticket::Column::Id, Order::Desc)
            .limit(DESK_TICKETS_MAX)
            .all(db)
            .await?;
        let active_tickets = tickets::with_refs(db, active).await?;

        let colleagues = person::Entity::find()
            .filter(person::Column::OrgId.eq(id.as_uuid()))
            .order_by(person::Column::Name, Order::Asc)
            .all(db)
            .await?
            .into_iter()
            .map(people::to_domain)
            .collect::<Result<Vec<_>, _>>()?;

        let assignees: Vec<Uuid> = ticket::Entity::find()
            .select_only()
            .column(ticket::Column::AssigneeId)
            .distinct()
            .filter(ticket::Column::OrgId.eq(id.as_uuid()))
            .filter(ticket::Column::AssigneeId.is_not_null())
            .into_tuple::<Option<Uuid>>()
            .all(db)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let team_ids: BTreeSet<Uuid> = assignees.into_iter().chain(org.tam_id.map(|t| t.as_uuid())).collect();
        let service_team = person::Entity::find()
            .filter(person::Column::Id.is_in(team_ids))
            .order_by(person::Column::Name, Order::Asc)
            .all(db)
            .await?
            .into_iter()
            .map(people::to_domain)
            .collect::<Result<Vec<_>, _>>()?;

        Ok(DeskView { org, counts, active_tickets, colleagues, service_team })
    }
}
