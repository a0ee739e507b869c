//! The durable timers: one row per response target of a ticket (`first_response`,
//! `update`, `resolution`) and one for an emergency's paging (`page`).
//!
//! **Kept in step with the ticket.** Every ticket change writes its timeline entries
//! through `TimelineRows::insert`, which hands the relevant ones to [`on_changes`] in the
//! same transaction: a new ticket starts its first-response and resolution clocks; a
//! public staff comment (or a staff status move to in progress, waiting or resolved)
//! meets the first response and starts a new update cycle; waiting on the customer
//! pauses the clocks and answering resumes them; a severity change re-targets them; an
//! escalation shrinks what is left; an emergency switches to the P1 targets around the
//! clock and arms the paging; an acknowledgement meets its first response, starts its
//! update cadence and stops the paging.
//!
//! **Fired exactly once.** A worker claims due rows under a lease (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL), then fires each in its own transaction that first locks the
//! ticket row (every change to a ticket's timers holds that lock), re-reads the timer and
//! decides again from what it finds: a warning or breach already recorded, a clock
//! paused meanwhile, a page sent less than an interval ago, all mean nothing happens.
//! What a firing does (timeline entry, notifications, the timer's new state) commits
//! together, or not at all.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use desk_core::calendar::Hours;
use desk_core::escalation::paging::{PageReason, PageState, PageStep, next_page};
use desk_core::escalation::policy::Responder;
use desk_core::notify::{Happening, NotifyClass};
use desk_core::targets::{TargetClock, TargetKind, TargetStep, decide_target, scaled};
use desk_core::{Actor, ActorKind, CommentVisibility, EmergencyKind, PersonId, Severity, TicketStatus, TimelineEvent};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::entity::escalation_timer;
use super::notices::TicketNotices;
use super::policies::{OrgPolicy, load_policies, load_policy};
use crate::entity::{notification, org, ticket};
use crate::notify::NotificationState;
use crate::queue::{self, Leased};
use crate::{Store, StoreError};

/// What a timer row times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// A response target.
    Target(TargetKind),
    /// An emergency's paging.
    Page,
}

impl TimerKind {
    /// Stable name, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Target(t) => t.as_str(),
            Self::Page => "page",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "page" { Some(Self::Page) } else { s.parse().ok().map(Self::Target) }
    }
}

/// Where a timer stands.
pub(crate) mod state {
    /// Counting (targets) or paging.
    pub(crate) const RUNNING: &str = "running";
    /// Stopped while the ticket waits on the customer.
    pub(crate) const PAUSED: &str = "paused";
    /// The target was met.
    pub(crate) const MET: &str = "met";
    /// No longer counting (closed, resolved, acknowledged).
    pub(crate) const STOPPED: &str = "stopped";
}

/// How the workers fire timers.
#[derive(Debug, Clone, Copy)]
pub struct FireSettings {
    /// `DESK_PAGE_INTERVAL`: pages repeat this often, never faster.
    pub page_interval: TimeDelta,
}

/// A claimed timer, for the worker to fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedTimer {
    /// The row.
    pub id: Uuid,
    /// Its ticket.
    pub ticket_id: Uuid,
    /// What it times.
    pub kind: TimerKind,
}

/// What firing a timer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// Nothing was due any more (handled elsewhere, paused, met); it waits for its next time.
    Nothing,
    /// A warning went out.
    Warned {
        /// Which target.
        target: TargetKind,
        /// The ticket's severity.
        severity: Severity,
    },
    /// A breach was recorded.
    Breached {
        /// Which target.
        target: TargetKind,
        /// The ticket's severity.
        severity: Severity,
    },
    /// A page went out.
    Paged {
        /// Why.
        reason: PageReason,
        /// The chain step, 1-based.
        step: u32,
        /// The page within the step, 1-based.
        page: u32,
        /// Who was paged.
        to: Vec<String>,
    },
}

/// Larkdesk itself, on the timeline.
pub(crate) fn system_actor() -> Actor {
    Actor { kind: ActorKind::System, person_id: None, name: "Larkdesk".to_owned() }
}

// ---- the hook: ticket changes move the timers -----------------------------------------

/// One ticket change the timers care about.
#[derive(Debug, Clone)]
struct Change {
    ticket: Uuid,
    actor: ActorKind,
    event: TimelineEvent,
    at: DateTime<Utc>,
}

/// The changes of one transaction that move timers, gathered as its timeline rows are built.
#[derive(Debug, Default)]
pub(crate) struct Changes(Vec<Change>);

/// Timeline kinds that move timers.
const RELEVANT: &[&str] = &[
    "created",
    "status_changed",
    "commented",
    "severity_changed",
    "escalated",
    "emergency_declared",
    "emergency_acknowledged",
];

impl Changes {
    /// Notes a timeline entry about to be written, if it is a change that moves timers.
    pub(crate) fn add(&mut self, ticket: Uuid, actor: ActorKind, event: &TimelineEvent, at: DateTime<Utc>) {
        if RELEVANT.contains(&event.kind()) {
            self.0.push(Change { ticket, actor, event: event.clone(), at });
        }
    }

    /// Takes in the changes of `other`, after these.
    pub(crate) fn extend(&mut self, other: Self) {
        self.0.extend(other.0);
    }
}

fn is_staff(actor: ActorKind) -> bool {
    matches!(actor, ActorKind::Staff | ActorKind::Token)
}

/// Moves the timers of the tickets `changes` concern. Runs inside the transaction that
/// wrote the changes (which holds the ticket rows).
pub(crate) async fn on_changes<C: ConnectionTrait>(db: &C, changes: Changes) -> Result<(), StoreError> {
    if changes.0.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<Uuid> = changes.0.iter().map(|c| c.ticket).collect();
    ids.sort();
    ids.dedup();
    let tickets: HashMap<Uuid, ticket::Model> = ticket::Entity::find()
        .filter(ticket::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut org_ids: Vec<Uuid> = tickets.values().map(|t| t.org_id).collect();
    org_ids.sort();
    org_ids.dedup();
    let orgs = org::Entity::find().filter(org::Column::Id.is_in(org_ids)).all(db).await?;
    let policies = load_policies(db, &orgs.iter().collect::<Vec<_>>()).await?;
    let mut rows: HashMap<Uuid, Vec<escalation_timer::Model>> = HashMap::new();
    // New tickets have no timers yet: a batch of openings needs no look.
    if changes.0.iter().any(|c| !matches!(c.event, TimelineEvent::Created { .. })) {
        for r in escalation_timer::Entity::find()
            .filter(escalation_timer::Column::TicketId.is_in(ids.clone()))
            .all(db)
            .await?
        {
            rows.entry(r.ticket_id).or_default().push(r);
        }
    }
    let mut inserts = Vec::new();
    for id in ids {
        let (Some(t), Some(policy)) = (tickets.get(&id), tickets.get(&id).and_then(|t| policies.get(&t.org_id))) else {
            continue;
        };
        let mut set = TimerSet::new(t, policy, rows.remove(&id).unwrap_or_default())?;
        for change in changes.0.iter().filter(|c| c.ticket == id) {
            set.apply(change);
        }
        set.save(db, &mut inserts).await?;
    }
    if !inserts.is_empty() {
        escalation_timer::Entity::insert_many(inserts).exec_without_returning(db).await?;
    }
    Ok(())
}

/// One timer row being changed.
struct Row {
    m: escalation_timer::Model,
    new: bool,
    dirty: bool,
}

/// A ticket's timers, changed in memory and then saved.
struct TimerSet<'a> {
    ticket: &'a ticket::Model,
    status: TicketStatus,
    severity: Severity,
    policy: &'a OrgPolicy,
    rows: Vec<Row>,
}

impl<'a> TimerSet<'a> {
    fn new(
        ticket: &'a ticket::Model,
        policy: &'a OrgPolicy,
        rows: Vec<escalation_timer::Model>,
    ) -> Result<Self, StoreError> {
        let corrupt = |e| StoreError::corrupt("tickets", e);
        Ok(Self {
            ticket,
            status: ticket.status.parse().map_err(corrupt)?,
            severity: ticket.severity.parse().map_err(corrupt)?,
            policy,
            rows: rows.into_iter().map(|m| Row { m, new: false, dirty: false }).collect(),
        })
    }

    fn emergency(&self) -> bool {
        self.ticket.emergency
    }

    /// The allowance of `kind` for the ticket as it is, and whether it counts business hours.
    fn base(&self, kind: TargetKind) -> (TimeDelta, bool) {
        let emergency = self.emergency();
        let set = self.policy.policy.targets_for(if emergency { Severity::P1 } else { self.severity });
        let budget = scaled(set.of(kind), self.policy.policy.percent_at(self.ticket.escalation_level));
        (budget, !(set.around_the_clock || emergency))
    }

    fn row(&mut self, kind: TimerKind) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.m.kind == kind.as_str())
    }

    fn target_rows(&mut self) -> impl Iterator<Item = &mut Row> {
        self.rows.iter_mut().filter(|r| r.m.kind != TimerKind::Page.as_str())
    }

    fn apply(&mut self, c: &Change) {
        let now = c.at;
        match &c.event {
            TimelineEvent::Created { .. } => {
                self.start(TargetKind::FirstResponse, now);
                self.start(TargetKind::Resolution, now);
            }
            TimelineEvent::Commented { visibility: CommentVisibility::Public, .. } if is_staff(c.actor) => {
                self.responded(now);
            }
            TimelineEvent::StatusChanged { from, to, .. } => {
                if is_staff(c.actor)
                    && matches!(to, TicketStatus::InProgress | TicketStatus::WaitingOnCustomer | TicketStatus::Resolved)
                {
                    self.responded(now);
                }
                match to {
                    TicketStatus::WaitingOnCustomer => self.pause(now),
                    TicketStatus::InProgress if *from == TicketStatus::WaitingOnCustomer => self.resume(now),
                    TicketStatus::InProgress => {}
                    TicketStatus::Resolved => {
                        self.meet(TargetKind::Resolution, now);
                        self.meet(TargetKind::FirstResponse, now);
                        self.stop(TimerKind::Target(TargetKind::Update), now);
                        self.stop(TimerKind::Page, now);
                    }
                    TicketStatus::Closed => {
                        for kind in TargetKind::ALL {
                            self.stop(TimerKind::Target(kind), now);
                        }
                        self.stop(TimerKind::Page, now);
                    }
                    TicketStatus::Open => self.reopened(now),
                }
            }
            TimelineEvent::SeverityChanged { .. } if !self.emergency() => self.retarget(now),
            TimelineEvent::Escalated { from, to, merged: false, .. } => self.rescale(*from, *to, now),
            TimelineEvent::EmergencyDeclared { .. } => {
                // The emergency's first response is its acknowledgement, on the P1 targets
                // around the clock; its updates start once someone acknowledged.
                self.retarget(now);
                self.start(TargetKind::FirstResponse, now);
                self.stop(TimerKind::Target(TargetKind::Update), now);
                self.arm_page(PageReason::Unacknowledged, now);
            }
            TimelineEvent::EmergencyAcknowledged => {
                self.meet(TargetKind::FirstResponse, now);
                self.start(TargetKind::Update, now);
                self.stop(TimerKind::Page, now);
            }
            _ => {}
        }
    }

    /// Staff told the customer something: the first response is met and a new update
    /// cycle begins; a paging for want of an update stops.
    fn responded(&mut self, now: DateTime<Utc>) {
        if self.emergency() && self.ticket.acknowledged_at.is_none() {
            // Until someone acknowledges, the paging runs and updates have no cadence yet.
            return;
        }
        self.meet(TargetKind::FirstResponse, now);
        self.start(TargetKind::Update, now);
        if let Some(r) = self.row(TimerKind::Page)
            && r.m.page_reason.as_deref() == Some(PageReason::NoUpdate.as_str())
        {
            self.stop(TimerKind::Page, now);
        }
    }

    fn reopened(&mut self, now: DateTime<Utc>) {
        let kind = TimerKind::Target(TargetKind::Resolution);
        if let Some(r) = self.row(kind)
            && (r.m.state == state::MET || r.m.state == state::STOPPED)
        {
            // The resolution clock goes on from what it had used.
            r.m.state = state::RUNNING.to_owned();
            r.m.running_since = Some(now);
            r.m.met_at = None;
            r.dirty = true;
        }
        self.refresh(kind);
        if !(self.emergency() && self.ticket.acknowledged_at.is_none()) {
            self.start(TargetKind::Update, now);
        }
    }

    /// A new cycle of `kind` from `now` (paused when the ticket waits on the customer).
    fn start(&mut self, kind: TargetKind, now: DateTime<Utc>) {
        let (budget, business) = self.base(kind);
        let waiting = self.status == TicketStatus::WaitingOnCustomer;
        let ticket_id = self.ticket.id;
        let m = escalation_timer::Model {
            id: Uuid::now_v7(),
            ticket_id,
            kind: kind.as_str().to_owned(),
            state: if waiting { state::PAUSED } else { state::RUNNING }.to_owned(),
            business_hours: business,
            budget_secs: budget.num_seconds(),
            consumed_secs: 0,
            running_since: (!waiting).then_some(now),
            started_at: now,
            warn_at: None,
            due_at: None,
            warned_at: None,
            breached_at: None,
            met_at: None,
            run_at: None,
            lease_until: None,
            attempts: 0,
            last_error: None,
            step: 0,
            sent_in_step: 0,
            pages: 0,
            last_page_at: None,
            page_reason: None,
            updated_at: now,
        };
        match self.row(TimerKind::Target(kind)) {
            Some(r) => {
                // The row keeps its id (the unique key is the ticket and the kind).
                r.m = escalation_timer::Model { id: r.m.id, lease_until: r.m.lease_until, ..m };
                r.dirty = true;
            }
            None => self.rows.push(Row { m, new: true, dirty: true }),
        }
        self.refresh(TimerKind::Target(kind));
    }

    fn meet(&mut self, kind: TargetKind, now: DateTime<Utc>) {
        self.end(TimerKind::Target(kind), state::MET, now);
    }

    fn stop(&mut self, kind: TimerKind, now: DateTime<Utc>) {
        self.end(kind, state::STOPPED, now);
    }

    /// Ends a running or paused timer as `to`, keeping what its clock used (a reopened
    /// ticket's resolution clock runs on from there).
    fn end(&mut self, kind: TimerKind, to: &str, now: DateTime<Utc>) {
        let policy = self.policy;
        if let Some(r) = self.row(kind)
            && (r.m.state == state::RUNNING || r.m.state == state::PAUSED)
        {
            if kind != TimerKind::Page && r.m.running_since.is_some() {
                let hours = if r.m.business_hours { Hours::Business(&policy.calendar) } else { Hours::Always };
                let mut clock = clock_of(&r.m);
                clock.pause(hours, now);
                set_clock(&mut r.m, clock);
            }
            r.m.state = to.to_owned();
            if to == state::MET {
                r.m.met_at = Some(now);
            }
            r.m.run_at = None;
            r.dirty = true;
        }
    }

    fn pause(&mut self, now: DateTime<Utc>) {
        let policy = self.policy;
        for r in self.target_rows() {
            if r.m.state == state::RUNNING {
                let hours = if r.m.business_hours { Hours::Business(&policy.calendar) } else { Hours::Always };
                let mut clock = clock_of(&r.m);
                clock.pause(hours, now);
                set_clock(&mut r.m, clock);
                r.m.state = state::PAUSED.to_owned();
                r.dirty = true;
            }
        }
        self.refresh_all();
    }

    fn resume(&mut self, now: DateTime<Utc>) {
        for r in self.target_rows() {
            if r.m.state == state::PAUSED {
                let mut clock = clock_of(&r.m);
                clock.resume(now);
                set_clock(&mut r.m, clock);
                r.m.state = state::RUNNING.to_owned();
                r.dirty = true;
            }
        }
        self.refresh_all();
    }

    /// New allowances for the ticket's severity (or emergency) and level; what was used
    /// stays used.
    fn retarget(&mut self, now: DateTime<Utc>) {
        let bases: Vec<(TargetKind, (TimeDelta, bool))> = TargetKind::ALL.iter().map(|k| (*k, self.base(*k))).collect();
        let policy = self.policy;
        for r in self.target_rows() {
            let Some((_, (budget, business))) = bases.iter().find(|(k, _)| k.as_str() == r.m.kind) else { continue };
            let hours = if r.m.business_hours { Hours::Business(&policy.calendar) } else { Hours::Always };
            let mut clock = clock_of(&r.m);
            if clock.running_since.is_some() {
                clock.pause(hours, now);
                clock.resume(now);
            }
            clock.budget_secs = budget.num_seconds();
            set_clock(&mut r.m, clock);
            r.m.business_hours = *business;
            r.dirty = true;
        }
        self.refresh_all();
    }

    /// An escalation from level `from` to `to`: what is left of each target shrinks.
    fn rescale(&mut self, from: i32, to: i32, now: DateTime<Utc>) {
        let (a, b) = (self.policy.policy.percent_at(from), self.policy.policy.percent_at(to));
        let policy = self.policy;
        for r in self.target_rows() {
            if r.m.state == state::RUNNING || r.m.state == state::PAUSED {
                let hours = if r.m.business_hours { Hours::Business(&policy.calendar) } else { Hours::Always };
                let mut clock = clock_of(&r.m);
                clock.rescale(hours, now, a, b);
                set_clock(&mut r.m, clock);
                r.dirty = true;
            }
        }
        self.refresh_all();
    }

    fn arm_page(&mut self, reason: PageReason, now: DateTime<Utc>) {
        arm_page_rows(&mut self.rows, self.ticket.id, reason, now);
    }

    fn refresh_all(&mut self) {
        for kind in TargetKind::ALL {
            self.refresh(TimerKind::Target(kind));
        }
    }

    /// Recomputes a target row's warning, due and next run from its clock.
    fn refresh(&mut self, kind: TimerKind) {
        let policy = self.policy;
        if let Some(r) = self.row(kind) {
            refresh_target(&mut r.m, policy);
            r.dirty = true;
        }
    }

    async fn save<C: ConnectionTrait>(
        self,
        db: &C,
        inserts: &mut Vec<escalation_timer::ActiveModel>,
    ) -> Result<(), StoreError> {
        for r in self.rows.into_iter().filter(|r| r.dirty) {
            let model = escalation_timer::ActiveModel::from(r.m);
            if r.new {
                inserts.push(model);
            } else {
                model.reset_all().update(db).await?;
            }
        }
        Ok(())
    }
}

fn clock_of(m: &escalation_timer::Model) -> TargetClock {
    TargetClock { budget_secs: m.budget_secs, consumed_secs: m.consumed_secs, running_since: m.running_since }
}

fn set_clock(m: &mut escalation_timer::Model, c: TargetClock) {
    m.budget_secs = c.budget_secs;
    m.consumed_secs = c.consumed_secs;
    m.running_since = c.running_since;
}

/// A target row's warning, due and next run, from its clock and state.
fn refresh_target(m: &mut escalation_timer::Model, policy: &OrgPolicy) {
    if m.kind == TimerKind::Page.as_str() {
        return;
    }
    let hours = if m.business_hours { Hours::Business(&policy.calendar) } else { Hours::Always };
    if m.state == state::RUNNING {
        let clock = clock_of(m);
        m.due_at = clock.due_at(hours);
        m.warn_at = clock.warn_at(hours, policy.policy.warn_at_percent);
        m.run_at = if m.breached_at.is_some() {
            None
        } else if m.warned_at.is_none() {
            match (m.warn_at, m.due_at) {
                (Some(w), Some(d)) => Some(Ord::min(w, d)),
                (w, d) => w.or(d),
            }
        } else {
            m.due_at
        };
    } else {
        if m.state == state::PAUSED {
            m.due_at = None;
            m.warn_at = None;
        }
        m.run_at = None;
    }
}

/// Arms (or re-arms) the paging row among `rows` for `reason`, due at once. The last
/// page's time is kept, so a re-armed paging still waits out the interval.
fn arm_page_rows(rows: &mut Vec<Row>, ticket: Uuid, reason: PageReason, now: DateTime<Utc>) {
    let kind = TimerKind::Page.as_str();
    match rows.iter_mut().find(|r| r.m.kind == kind) {
        Some(r) => {
            r.m.state = state::RUNNING.to_owned();
            r.m.page_reason = Some(reason.as_str().to_owned());
            r.m.step = 0;
            r.m.sent_in_step = 0;
            r.m.started_at = now;
            r.m.run_at = Some(now);
            r.dirty = true;
        }
        None => rows.push(Row {
            m: escalation_timer::Model {
                id: Uuid::now_v7(),
                ticket_id: ticket,
                kind: kind.to_owned(),
                state: state::RUNNING.to_owned(),
                business_hours: false,
                budget_secs: 0,
                consumed_secs: 0,
                running_since: Some(now),
                started_at: now,
                warn_at: None,
                due_at: None,
                warned_at: None,
                breached_at: None,
                met_at: None,
                run_at: Some(now),
                lease_until: None,
                attempts: 0,
                last_error: None,
                step: 0,
                sent_in_step: 0,
                pages: 0,
                last_page_at: None,
                page_reason: Some(reason.as_str().to_owned()),
                updated_at: now,
            },
            new: true,
            dirty: true,
        }),
    }
}

/// Drops page notifications of `ticket` not yet composed into a card: an acknowledgement
/// stops the pages at once, including one queued a moment ago.
pub(crate) async fn drop_queued_pages<C: ConnectionTrait>(db: &C, ticket: Uuid) -> Result<u64, StoreError> {
    let waiting = notification::Entity::find()
        .filter(notification::Column::TicketId.eq(ticket))
        .filter(notification::Column::State.eq(NotificationState::Waiting.as_str()))
        .filter(notification::Column::Class.eq(NotifyClass::Emergency.rank()))
        .all(db)
        .await?;
    let pages: Vec<Uuid> = waiting
        .into_iter()
        .filter(|n| {
            serde_json::from_str::<desk_core::notify::NotificationBody>(&n.body)
                .is_ok_and(|b| matches!(b.happening, Happening::Paged { .. }))
        })
        .map(|n| n.id)
        .collect();
    if pages.is_empty() {
        return Ok(0);
    }
    Ok(notification::Entity::delete_many().filter(notification::Column::Id.is_in(pages)).exec(db).await?.rows_affected)
}

// ---- the workers: claim and fire -------------------------------------------------------

impl Leased for escalation_timer::Entity {
    const ID: escalation_timer::Column = escalation_timer::Column::Id;
    const LEASE_UNTIL: escalation_timer::Column = escalation_timer::Column::LeaseUntil;
    const ATTEMPTS: escalation_timer::Column = escalation_timer::Column::Attempts;
}

/// Who a chain step means at `now` (an active person), if anyone.
async fn resolve<C: ConnectionTrait>(
    db: &C,
    t: &ticket::Model,
    o: &org::Model,
    responder: Responder,
    now: DateTime<Utc>,
) -> Result<Option<PersonId>, StoreError> {
    let id = match responder {
        Responder::Assignee => t.assignee_id,
        Responder::Tam => o.tam_id,
        Responder::Person(p) => Some(p.as_uuid()),
        Responder::Schedule(s) => super::schedules::on_call(db, s, now).await?.map(|c| c.person_id.as_uuid()),
    };
    let Some(id) = id else { return Ok(None) };
    Ok(crate::entity::person::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|p| p.active)
        .map(|p| PersonId::from_uuid(p.id)))
}

impl Store {
    /// Claims up to `limit` due timers, leasing them for `lease`. On PostgreSQL concurrent
    /// workers take disjoint rows.
    pub async fn claim_escalation_timers(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<ClaimedTimer>, StoreError> {
        let due = || {
            escalation_timer::Entity::find().filter(escalation_timer::Column::RunAt.lte(now)).filter(
                escalation_timer::Column::LeaseUntil.is_null().or(escalation_timer::Column::LeaseUntil.lte(now)),
            )
        };
        // A look before the write transaction: an idle pass never takes SQLite's single
        // writer's turn from a request.
        if due().one(self.conn()).await?.is_none() {
            return Ok(Vec::new());
        }
        let tx = self.write().await?;
        let soonest =
            due().order_by_asc(escalation_timer::Column::RunAt).order_by_asc(escalation_timer::Column::Id).limit(limit);
        let rows = queue::claim(&*tx, soonest, now, lease).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some(ClaimedTimer { id: r.id, ticket_id: r.ticket_id, kind: TimerKind::parse(&r.kind)? }))
            .collect())
    }

    /// A firing failed: keep the lease until `retry_at` and say why.
    pub async fn release_escalation_timer(
        &self,
        id: Uuid,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write().await?;
        escalation_timer::Entity::update_many()
            .col_expr(escalation_timer::Column::LeaseUntil, Expr::value(retry_at))
            .col_expr(escalation_timer::Column::LastError, Expr::value(error.to_owned()))
            .filter(escalation_timer::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// Fires a claimed timer: decides again from the rows as they are, and writes what it
    /// does (timeline, notifications, the timer's next time) in one transaction.
    pub async fn fire_escalation_timer(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        settings: FireSettings,
    ) -> Result<Fired, StoreError> {
        let tx = self.write().await?;
        let Some(peek) = escalation_timer::Entity::find_by_id(id).one(&*tx).await? else { return Ok(Fired::Nothing) };
        // The ticket first: every change to a ticket's timers holds its row.
        let Some(t) = ticket::Entity::find_by_id(peek.ticket_id).lock_exclusive().one(&*tx).await? else {
            return Ok(Fired::Nothing);
        };
        let Some(mut m) = escalation_timer::Entity::find_by_id(id).lock_exclusive().one(&*tx).await? else {
            return Ok(Fired::Nothing);
        };
        let o = crate::orgs::require_org(&*tx, desk_core::OrgId::from_uuid(t.org_id)).await?;
        let policy = load_policy(&*tx, &o).await?;
        let fired = if m.run_at.is_none_or(|r| r > now) {
            Fired::Nothing
        } else {
            match TimerKind::parse(&m.kind) {
                Some(TimerKind::Target(kind)) => fire_target(&*tx, &t, &o, &policy, &mut m, kind, now).await?,
                Some(TimerKind::Page) => fire_page(&*tx, &t, &o, &policy, &mut m, settings, now).await?,
                None => {
                    m.run_at = None;
                    Fired::Nothing
                }
            }
        };
        m.lease_until = None;
        m.attempts = 0;
        m.last_error = None;
        m.updated_at = now;
        escalation_timer::ActiveModel::from(m).reset_all().update(&*tx).await?;
        tx.commit().await?;
        Ok(fired)
    }
}

async fn fire_target<C: ConnectionTrait>(
    db: &C,
    t: &ticket::Model,
    o: &org::Model,
    policy: &OrgPolicy,
    m: &mut escalation_timer::Model,
    kind: TargetKind,
    now: DateTime<Utc>,
) -> Result<Fired, StoreError> {
    if m.state != state::RUNNING {
        m.run_at = None;
        return Ok(Fired::Nothing);
    }
    // The calendar may have changed since the row was timed: decide on today's.
    let hours = if m.business_hours { Hours::Business(&policy.calendar) } else { Hours::Always };
    let step = decide_target(
        &clock_of(m),
        m.warned_at.is_some(),
        m.breached_at.is_some(),
        hours,
        policy.policy.warn_at_percent,
        now,
    );
    let severity: Severity = t.severity.parse().map_err(|e| StoreError::corrupt("tickets", e))?;
    let (event, due, breach) = match step {
        TargetStep::Wait { .. } => {
            refresh_target(m, policy);
            return Ok(Fired::Nothing);
        }
        TargetStep::Warn { due } => (TimelineEvent::ResponseWarning { target: kind, due_at: due }, due, false),
        TargetStep::Breach { due } => (TimelineEvent::ResponseBreached { target: kind, due_at: due }, due, true),
    };
    let actor = system_actor();
    crate::tickets::timeline_rows(t.id, &actor, &[event], now)?.insert(db).await?;
    let notices = TicketNotices::load(db, t.clone(), o.clone()).await?;
    let assignee = t.assignee_id.map(PersonId::from_uuid);
    let tam = o.tam_id.map(PersonId::from_uuid);
    let (people, class): (Vec<PersonId>, NotifyClass) = if breach {
        ([assignee, tam].into_iter().flatten().collect(), NotifyClass::Action)
    } else {
        (assignee.or(tam).into_iter().collect(), NotifyClass::ResponseWarning)
    };
    notices
        .to_people(db, &people, class, &actor.name, now, |p| {
            let due = desk_core::calendar::local_time(due, &p.time_zone, now);
            if breach {
                Happening::ResponseBreached { target: kind, due }
            } else {
                Happening::ResponseWarning { target: kind, due }
            }
        })
        .await?;
    if breach {
        m.breached_at = Some(now);
        m.warned_at = m.warned_at.or(Some(now));
        m.due_at = Some(due);
        m.run_at = None;
        tracing::info!(ticket.id = %t.id, target = kind.as_str(), "response target missed");
        // An acknowledged emergency gone quiet past its update cadence pages again.
        if kind == TargetKind::Update && t.emergency && t.acknowledged_at.is_some() && is_active(t) {
            let rows = escalation_timer::Entity::find()
                .filter(escalation_timer::Column::TicketId.eq(t.id))
                .filter(escalation_timer::Column::Kind.eq(TimerKind::Page.as_str()))
                .all(db)
                .await?;
            let mut rows: Vec<Row> = rows.into_iter().map(|m| Row { m, new: false, dirty: false }).collect();
            arm_page_rows(&mut rows, t.id, PageReason::NoUpdate, now);
            for r in rows {
                let model = escalation_timer::ActiveModel::from(r.m);
                if r.new {
                    model.insert(db).await?;
                } else {
                    model.reset_all().update(db).await?;
                }
            }
        }
        Ok(Fired::Breached { target: kind, severity })
    } else {
        m.warned_at = Some(now);
        refresh_target(m, policy);
        Ok(Fired::Warned { target: kind, severity })
    }
}

fn is_active(t: &ticket::Model) -> bool {
    t.status.parse::<TicketStatus>().is_ok_and(TicketStatus::is_active)
}

async fn fire_page<C: ConnectionTrait>(
    db: &C,
    t: &ticket::Model,
    o: &org::Model,
    policy: &OrgPolicy,
    m: &mut escalation_timer::Model,
    settings: FireSettings,
    now: DateTime<Utc>,
) -> Result<Fired, StoreError> {
    let reason: PageReason = m
        .page_reason
        .as_deref()
        .unwrap_or("unacknowledged")
        .parse()
        .map_err(|e| StoreError::corrupt("escalation_timers", e))?;
    let wanted = match reason {
        PageReason::Unacknowledged => t.acknowledged_at.is_none(),
        PageReason::NoUpdate => t.acknowledged_at.is_some(),
    };
    if m.state != state::RUNNING || !t.emergency || !is_active(t) || !wanted {
        m.state = state::STOPPED.to_owned();
        m.run_at = None;
        return Ok(Fired::Nothing);
    }
    let mut chain = policy.policy.paging.chain.clone();
    if reason == PageReason::NoUpdate
        && let Some(by) = t.acknowledged_by
    {
        // Whoever took it on promised the updates: they hear first.
        chain.insert(0, Responder::Person(PersonId::from_uuid(by)));
    }
    let chain_len = u32::try_from(chain.len()).unwrap_or(u32::MAX);
    let interval = settings.page_interval.max(TimeDelta::seconds(1));
    let state = PageState {
        step: u32::try_from(m.step).unwrap_or(0),
        sent_in_step: u32::try_from(m.sent_in_step).unwrap_or(0),
        last_at: m.last_page_at,
    };
    let (step, page) = match next_page(state, chain_len, policy.policy.paging.pages_per_step, interval, now) {
        PageStep::Wait { until } => {
            m.run_at = Some(until);
            return Ok(Fired::Nothing);
        }
        PageStep::Page { step, page } => (step, page),
    };
    // A step with nobody to page (an empty rotation, no TAM) is passed over at once.
    let mut found = None;
    for s in step..chain_len {
        if let Some(who) = resolve(db, t, o, chain[usize::try_from(s).unwrap_or(0)], now).await? {
            found = Some((s, if s == step { page } else { 1 }, who));
            break;
        }
    }
    let Some((step, page, who)) = found else {
        tracing::warn!(ticket.id = %t.id, "an emergency has nobody to page on its on-call chain");
        m.run_at = Some(now + interval);
        return Ok(Fired::Nothing);
    };
    let (kind, text) = match (t.emergency_kind.as_deref(), &t.emergency_text) {
        (Some(k), text) => (
            k.parse::<EmergencyKind>().map_err(|e| StoreError::corrupt("tickets", e))?,
            desk_core::notify::excerpt(text.as_deref().unwrap_or_default()),
        ),
        (None, _) => {
            return Err(StoreError::corrupt("tickets", format!("ticket {} in emergency without a kind", t.id)));
        }
    };
    let actor = system_actor();
    let notices = TicketNotices::load(db, t.clone(), o.clone()).await?;
    let happening = Happening::Paged { emergency_kind: kind, text, step: step + 1, page, reason };
    let told = notices.to_people(db, &[who], NotifyClass::Emergency, &actor.name, now, |_| happening.clone()).await?;
    let to: Vec<String> = told.iter().map(|p| p.name.clone()).collect();
    let event = TimelineEvent::Paged {
        to: to.clone(),
        person_ids: told.iter().map(|p| PersonId::from_uuid(p.id)).collect(),
        step: step + 1,
        page,
        reason,
    };
    crate::tickets::timeline_rows(t.id, &actor, &[event], now)?.insert(db).await?;
    m.step = i32::try_from(step).unwrap_or(i32::MAX);
    m.sent_in_step = i32::try_from(page).unwrap_or(i32::MAX);
    m.pages += 1;
    m.last_page_at = Some(now);
    m.run_at = Some(now + interval);
    tracing::info!(ticket.id = %t.id, page.step = step + 1, page.number = page, page.reason = reason.as_str(), "paged");
    Ok(Fired::Paged { reason, step: step + 1, page, to })
}
