//! A ticket's escalation as staff see it: its level on its organisation's ladder, its
//! response targets (used, due, warned, missed, met) and its paging.

use chrono::{DateTime, Utc};
use desk_core::calendar::Hours;
use desk_core::escalation::level_name;
use desk_core::escalation::paging::PageReason;
use desk_core::targets::{TargetClock, TargetKind};
use desk_core::{Ticket, TicketId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entity::escalation_timer;
use super::policies::{OrgPolicy, load_policy};
use super::timers::{TimerKind, state};
use crate::{Store, StoreError};

/// One response target of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetView {
    /// Which.
    pub target: TargetKind,
    /// `running`, `paused` (waiting on the customer), `met` or `stopped`.
    pub state: String,
    /// Counted on every hour rather than business hours.
    pub around_the_clock: bool,
    /// The allowance, in counted seconds (after escalation).
    pub allowance_secs: i64,
    /// Counted seconds used by now.
    pub used_secs: i64,
    /// When the current cycle began.
    pub started_at: DateTime<Utc>,
    /// When the warning goes (or went) out.
    pub warn_at: Option<DateTime<Utc>>,
    /// When it runs out (none while paused).
    pub due_at: Option<DateTime<Utc>>,
    /// When the warning went out.
    pub warned_at: Option<DateTime<Utc>>,
    /// When it was missed.
    pub breached_at: Option<DateTime<Utc>>,
    /// When it was met.
    pub met_at: Option<DateTime<Utc>>,
}

/// An emergency's paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagingView {
    /// `running` or `stopped`.
    pub state: String,
    /// Why it pages.
    pub reason: PageReason,
    /// The chain step paged last (1-based; 0 before the first page).
    pub step: u32,
    /// Pages to that step.
    pub pages_in_step: u32,
    /// Pages in all.
    pub pages: u32,
    /// When the last page went out.
    pub last_page_at: Option<DateTime<Utc>>,
    /// When the next page is due, while it pages.
    pub next_page_at: Option<DateTime<Utc>>,
}

/// A ticket's escalation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketEscalation {
    /// The ticket.
    pub ticket: Ticket,
    /// Its level's name on its organisation's ladder.
    pub level_name: String,
    /// The ladder, lowest first.
    pub levels: Vec<String>,
    /// Its response targets.
    pub targets: Vec<TargetView>,
    /// Its paging, once it had an emergency.
    pub paging: Option<PagingView>,
    /// The time zone of its organisation's calendar (the customer's clock).
    pub time_zone: String,
}

pub(crate) fn target_view(m: &escalation_timer::Model, policy: &OrgPolicy, now: DateTime<Utc>) -> Option<TargetView> {
    let TimerKind::Target(target) = TimerKind::parse(&m.kind)? else { return None };
    let hours = if m.business_hours { Hours::Business(&policy.calendar) } else { Hours::Always };
    let clock =
        TargetClock { budget_secs: m.budget_secs, consumed_secs: m.consumed_secs, running_since: m.running_since };
    let used_secs = if m.state == state::RUNNING { clock.consumed_at(hours, now) } else { m.consumed_secs };
    Some(TargetView {
        target,
        state: m.state.clone(),
        around_the_clock: !m.business_hours,
        allowance_secs: m.budget_secs,
        used_secs,
        started_at: m.started_at,
        warn_at: m.warn_at,
        due_at: m.due_at,
        warned_at: m.warned_at,
        breached_at: m.breached_at,
        met_at: m.met_at,
    })
}

pub(crate) fn paging_view(m: &escalation_timer::Model) -> Option<PagingView> {
    if TimerKind::parse(&m.kind)? != TimerKind::Page {
        return None;
    }
    let reason = m.page_reason.as_deref().and_then(|r| r.parse().ok()).unwrap_or(PageReason::Unacknowledged);
    let count = |v: i32| u32::try_from(v).unwrap_or(0);
    Some(PagingView {
        state: m.state.clone(),
        reason,
        step: if m.pages == 0 { 0 } else { count(m.step) + 1 },
        pages_in_step: count(m.sent_in_step),
        pages: count(m.pages),
        last_page_at: m.last_page_at,
        next_page_at: m.run_at.filter(|_| m.state == state::RUNNING),
    })
}

/// A ticket's timer rows, in the order targets are met.
pub(crate) async fn timer_rows<C: ConnectionTrait>(
    db: &C,
    ticket: TicketId,
) -> Result<Vec<escalation_timer::Model>, StoreError> {
    let mut rows = escalation_timer::Entity::find()
        .filter(escalation_timer::Column::TicketId.eq(ticket.as_uuid()))
        .all(db)
        .await?;
    let rank = |k: &str| ["first_response", "update", "resolution", "page"].iter().position(|x| *x == k).unwrap_or(9);
    rows.sort_by_key(|r| rank(&r.kind));
    Ok(rows)
}

impl Store {
    /// A ticket's escalation: level, targets, paging.
    pub async fn ticket_escalation(&self, id: TicketId, now: DateTime<Utc>) -> Result<TicketEscalation, StoreError> {
        let ticket = self.ticket(id).await?;
        let db = self.conn();
        let org = crate::orgs::require_org(db, ticket.org_id).await?;
        let policy = load_policy(db, &org).await?;
        let rows = timer_rows(db, id).await?;
        let names = policy.policy.level_names();
        Ok(TicketEscalation {
            level_name: level_name(&names, ticket.escalation_level),
            levels: names.iter().map(|n| (*n).to_owned()).collect(),
            targets: rows.iter().filter_map(|r| target_view(r, &policy, now)).collect(),
            paging: rows.iter().find_map(paging_view),
            time_zone: policy.calendar.time_zone.name().to_owned(),
            ticket,
        })
    }
}
