//! The dry run: what escalation would do for a ticket, or for a new ticket of a severity
//! in an organisation at a time, against the real policy, calendar, schedules, people
//! and budget. Nothing is written.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use desk_core::escalation::level_name;
use desk_core::escalation::paging::{PageReason, PageState};
use desk_core::escalation::policy::Responder;
use desk_core::escalation::simulate::{SimDeadline, SimEvent, SimKind, SimWorld, plan_targets};
use desk_core::notify::{NotifyClass, budget_limit};
use desk_core::targets::TargetKind;
use desk_core::{DomainError, OrgId, Severity, TicketId};
use desk_store::{SimBudget, SimulationData, Store, StoreError};

/// The longest stretch a dry run looks ahead.
pub const HORIZON_MAX: TimeDelta = TimeDelta::days(30);
/// How far a dry run looks ahead unless asked otherwise.
pub const HORIZON_DEFAULT: TimeDelta = TimeDelta::hours(24);

/// What to simulate: a ticket as it is, or a new ticket of `severity` in `org_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationRequest {
    /// A real ticket (its organisation, severity, level, timers and emergency).
    pub ticket_id: Option<TicketId>,
    /// The organisation of a hypothetical ticket.
    pub org_id: Option<OrgId>,
    /// Its severity (a real ticket's own when absent).
    pub severity: Option<Severity>,
    /// From when (now when absent).
    pub at: Option<DateTime<Utc>>,
    /// Declare an emergency at `at` (a real ticket already in one pages as it is).
    pub emergency: bool,
    /// How far ahead to look.
    pub horizon: TimeDelta,
}

/// Why a dry run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    /// The request does not make sense.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// Storage refused (a ticket or organisation that does not exist, …).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A dry run's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationReport {
    /// The organisation.
    pub org_id: OrgId,
    /// The ticket, when a real one was simulated.
    pub ticket_id: Option<TicketId>,
    /// The severity simulated.
    pub severity: Severity,
    /// The escalation level.
    pub level: i32,
    /// Its name on the organisation's ladder.
    pub level_name: String,
    /// From.
    pub at: DateTime<Utc>,
    /// Until.
    pub until: DateTime<Utc>,
    /// The calendar's clock.
    pub time_zone: String,
    /// The response targets and when they warn and run out.
    pub targets: Vec<SimDeadline>,
    /// What would happen, in time order.
    pub events: Vec<SimEvent>,
    /// Lark message calls in all (an upper bound: the window may merge some).
    pub lark_calls: u32,
    /// Of which emergencies, which may spend the reserve.
    pub emergency_calls: u32,
    /// The month's budget of the integration that would carry them.
    pub budget: Option<SimBudget>,
    /// Calls the month still allows: (ordinary notifications, emergencies with the reserve).
    pub budget_left: Option<(u32, u32)>,
    /// What would not work as hoped (nobody on call, people Lark cannot reach, …).
    pub warnings: Vec<String>,
}

/// Runs the dry run; `now` is the request's clock, `page_interval` the desk's setting.
pub async fn simulate(
    store: &Store,
    req: SimulationRequest,
    now: DateTime<Utc>,
    page_interval: Duration,
) -> Result<SimulationReport, SimulationError> {
    if req.horizon <= TimeDelta::zero() || req.horizon > HORIZON_MAX {
        return Err(DomainError::invalid("horizon", "must be between 1s and 30d").into());
    }
    let org = match (req.ticket_id, req.org_id) {
        (Some(t), org) => {
            let ticket = store.ticket(t).await?;
            if org.is_some_and(|o| o != ticket.org_id) {
                return Err(DomainError::invalid("org_id", "is not the ticket's organisation").into());
            }
            ticket.org_id
        }
        (None, Some(o)) => o,
        (None, None) => {
            return Err(DomainError::invalid("ticket_id", "name a ticket, or an org_id and a severity").into());
        }
    };
    let at = req.at.unwrap_or(now);
    let data = store.simulation_data(org, req.ticket_id, at, now).await?;
    let severity = match (req.severity, &data.ticket) {
        (Some(s), _) => s,
        (None, Some(t)) => t.severity,
        (None, None) => return Err(DomainError::invalid("severity", "is required without a ticket_id").into()),
    };
    let interval = TimeDelta::from_std(page_interval).unwrap_or(TimeDelta::minutes(5));
    Ok(run(&data, &req, severity, at, at + req.horizon, interval))
}

/// The dry run proper, on what was read.
fn run(
    data: &SimulationData,
    req: &SimulationRequest,
    severity: Severity,
    at: DateTime<Utc>,
    until: DateTime<Utc>,
    interval: TimeDelta,
) -> SimulationReport {
    let world = SimWorld {
        policy: &data.policy,
        calendar: &data.calendar,
        people: &data.people,
        schedules: &data.schedules,
        assignee: data.assignee,
        tam: data.tam,
        ticket_chat: data.ticket_chat.clone(),
        main_chat: data.main_chat.clone(),
        page_interval: interval,
    };
    let ticket = data.ticket.as_ref();
    let level = ticket.map_or(0, |t| t.escalation_level);
    let active = ticket.is_none_or(|t| t.status.is_active());
    let real_emergency = ticket.and_then(|t| t.emergency.as_ref()).filter(|_| active);
    let hypothetical = ticket.is_none() || req.severity.is_some_and(|s| Some(s) != ticket.map(|t| t.severity));
    let declare = req.emergency && real_emergency.is_none();
    let mut events = Vec::new();
    let mut warnings = Vec::new();

    // Response targets: the ticket's own running clocks, or a new ticket's.
    let targets: Vec<SimDeadline> = if hypothetical || declare {
        plan_targets(&data.policy, &data.calendar, severity, level, declare || real_emergency.is_some(), at)
    } else {
        data.targets
            .iter()
            .filter(|t| t.state == "running" && t.breached_at.is_none())
            .map(|t| SimDeadline {
                kind: t.target,
                warn_at: t.warn_at.filter(|_| t.warned_at.is_none()),
                due_at: t.due_at,
                around_the_clock: t.around_the_clock,
            })
            .collect()
    };
    if active {
        // A new ticket's update cadence starts at its first response; only a real
        // ticket's running update clock is simulated.
        let timed: Vec<SimDeadline> =
            targets.iter().filter(|t| !(hypothetical || declare) || t.kind != TargetKind::Update).copied().collect();
        events.extend(world.target_events(&timed, until).into_iter().filter(|e| e.at >= at));
        if let Some(e) = world.escalation(level + 1, at) {
            events.push(e);
        }
    }

    // The emergency: the card and the pages of a declaration, or the paging as it stands.
    let chain = data.policy.paging.chain.clone();
    match real_emergency {
        _ if declare => {
            let card = world.emergency_card(at);
            if world.emergency_chats().is_empty() {
                warnings.push(
                    "the organisation has no main group and the ticket no group of its own: the emergency card reaches no group"
                        .to_owned(),
                );
            }
            events.push(card);
            events.extend(world.pages(&chain, PageState::default(), at, until, PageReason::Unacknowledged));
        }
        Some(e) if e.acknowledged.is_none() => {
            let state = data.paging.as_ref().map_or_else(PageState::default, |p| PageState {
                step: p.step.saturating_sub(1),
                sent_in_step: p.pages_in_step,
                last_at: p.last_page_at,
            });
            let start = data.paging.as_ref().and_then(|p| p.next_page_at).map_or(at, |n| n.max(at));
            events.extend(world.pages(&chain, state, start, until, PageReason::Unacknowledged));
        }
        Some(_) => {
            // Acknowledged: if no update comes by the cadence, paging resumes, the one who
            // took it on first.
            if let Some(due) = targets.iter().find(|t| t.kind == TargetKind::Update).and_then(|t| t.due_at) {
                let mut quiet_chain = chain.clone();
                if let Some(by) = data.acknowledged_by {
                    quiet_chain.insert(0, Responder::Person(by));
                }
                let last_at = data.paging.as_ref().and_then(|p| p.last_page_at);
                let state = PageState { last_at, ..PageState::default() };
                events.extend(world.pages(&quiet_chain, state, due.max(at), until, PageReason::NoUpdate));
            }
        }
        None => {}
    }
    if declare || real_emergency.is_some() {
        for (i, step) in chain.iter().enumerate() {
            if world.resolve(*step, at).is_none() {
                warnings.push(format!("paging step {} ({}) has nobody to page at {at}", i + 1, describe(data, *step)));
            }
        }
    }

    events.sort_by_key(|e| e.at);
    let lark_calls = events.iter().map(|e| e.lark_calls).sum();
    let emergency_calls = events.iter().filter(|e| e.emergency).map(|e| e.lark_calls).sum();
    let mut unreachable: Vec<String> = events
        .iter()
        .flat_map(|e| e.recipients.iter())
        .filter(|r| !r.deliverable)
        .map(|r| format!("{} has no Lark identity (lark_open_id): what is meant for them cannot be delivered", r.name))
        .collect();
    unreachable.sort();
    unreachable.dedup();
    warnings.extend(unreachable);
    let budget_left = data.budget.as_ref().map(|b| {
        let ordinary = budget_limit(b.budget, NotifyClass::Action).saturating_sub(b.used);
        let with_reserve = budget_limit(b.budget, NotifyClass::Emergency).saturating_sub(b.used);
        (ordinary, with_reserve)
    });
    match budget_left {
        None => warnings.push("the organisation has no Lark integration: nothing would reach Lark".to_owned()),
        Some((ordinary, with_reserve)) => {
            let plain = lark_calls - emergency_calls;
            if plain > ordinary || lark_calls > with_reserve {
                warnings.push(format!(
                    "this month's Lark budget allows {ordinary} more ordinary calls ({with_reserve} with the emergency reserve); this would need {lark_calls}"
                ));
            }
        }
    }
    SimulationReport {
        org_id: data.org.id,
        ticket_id: ticket.map(|t| t.id),
        severity,
        level,
        level_name: level_name(&data.policy.level_names(), level),
        at,
        until,
        time_zone: data.calendar.time_zone.name().to_owned(),
        targets,
        events,
        lark_calls,
        emergency_calls,
        budget: data.budget.clone(),
        budget_left,
        warnings,
    }
}

fn describe(data: &SimulationData, r: Responder) -> String {
    match r {
        Responder::Schedule(s) => match data.schedules.get(&s) {
            Some(schedule) => format!("whoever is on call on {}", schedule.name),
            None => format!("schedule {s}, which no longer exists"),
        },
        Responder::Person(p) => data.people.get(&p).map_or_else(|| format!("person {p}"), |p| p.name.clone()),
        other => other.to_string(),
    }
}

/// Whether an event is a page (for callers that count them).
pub fn is_page(e: &SimEvent) -> bool {
    matches!(e.kind, SimKind::Page { .. })
}
