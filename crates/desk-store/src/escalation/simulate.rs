//! What the dry run of escalation reads: an organisation's policy and calendar, the
//! schedules and people it names, the ticket's people and groups, its real timers, and
//! the month's Lark budget. Reads only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use desk_core::calendar::BusinessCalendar;
use desk_core::escalation::policy::{EscalationPolicy, Responder};
use desk_core::escalation::simulate::{SimPerson, SimSchedule};
use desk_core::{Org, OrgId, PersonId, Ticket, TicketId};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::notices::TicketNotices;
use super::policies::load_policy;
use super::schedules::schedule_parts;
use super::view::{PagingView, TargetView, paging_view, target_view, timer_rows};
use crate::entity::{integration, person, ticket};
use crate::notify::Routes;
use crate::{Store, StoreError};

/// The month's Lark budget of the integration that would carry the notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBudget {
    /// The integration.
    pub integration_id: String,
    /// Its monthly budget.
    pub budget: u32,
    /// Billed calls used this month.
    pub used: u32,
}

/// Everything the dry run reads.
#[derive(Debug, Clone)]
pub struct SimulationData {
    /// The organisation.
    pub org: Org,
    /// The ticket, when one was named.
    pub ticket: Option<Ticket>,
    /// The effective policy.
    pub policy: EscalationPolicy,
    /// The calendar.
    pub calendar: BusinessCalendar,
    /// Everyone who could be told or paged.
    pub people: HashMap<PersonId, SimPerson>,
    /// The schedules the policy names.
    pub schedules: HashMap<Uuid, SimSchedule>,
    /// The ticket's assignee.
    pub assignee: Option<PersonId>,
    /// The TAM.
    pub tam: Option<PersonId>,
    /// The ticket's own group.
    pub ticket_chat: Option<String>,
    /// The main group.
    pub main_chat: Option<String>,
    /// The ticket's real targets.
    pub targets: Vec<TargetView>,
    /// The ticket's real paging.
    pub paging: Option<PagingView>,
    /// Who acknowledged the ticket's emergency, when a person did.
    pub acknowledged_by: Option<PersonId>,
    /// The Lark budget, when the organisation has a way to Lark.
    pub budget: Option<SimBudget>,
}

fn sim_person(p: &person::Model) -> SimPerson {
    SimPerson {
        name: p.name.clone(),
        time_zone: p.time_zone.clone(),
        quiet_hours: match (p.quiet_start.as_deref(), p.quiet_end.as_deref()) {
            (Some(s), Some(e)) => desk_core::QuietHours::parse(s, e).ok(),
            _ => None,
        },
        lark_bound: p.lark_open_id.is_some(),
        active: p.active,
    }
}

impl Store {
    /// What the dry run needs for `org` (and `ticket`, which must be the org's), with
    /// schedule overrides from `from` on.
    pub async fn simulation_data(
        &self,
        org: OrgId,
        ticket: Option<TicketId>,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<SimulationData, StoreError> {
        let db = self.conn();
        let o = crate::orgs::require_org(db, org).await?;
        let policy = load_policy(db, &o).await?;
        let (ticket, targets, paging, ticket_chat) = match ticket {
            Some(id) => {
                let t = self.ticket(id).await?;
                let model = ticket::Entity::find_by_id(id.as_uuid())
                    .one(db)
                    .await?
                    .ok_or_else(|| StoreError::not_found("ticket", id))?;
                let rows = timer_rows(db, id).await?;
                let targets = rows.iter().filter_map(|r| target_view(r, &policy, now)).collect();
                let paging = rows.iter().find_map(paging_view);
                let notices = TicketNotices::load(db, model, o.clone()).await?;
                (Some(t), targets, paging, notices.ticket_chat)
            }
            None => (None, Vec::new(), None, None),
        };
        let schedule_ids = policy.policy.schedules();
        let parts = schedule_parts(db, &schedule_ids, from).await?;
        let mut person_ids: Vec<Uuid> = Vec::new();
        person_ids.extend(o.tam_id);
        if let Some(t) = &ticket {
            person_ids.extend(t.assignee_id.map(|p| p.as_uuid()));
            person_ids.extend(
                t.emergency.as_ref().and_then(|e| e.acknowledged.as_ref()).and_then(|a| a.by).map(|p| p.as_uuid()),
            );
        }
        for r in policy.policy.levels.iter().flat_map(|l| l.notify.iter()).chain(policy.policy.paging.chain.iter()) {
            if let Responder::Person(p) = r {
                person_ids.push(p.as_uuid());
            }
        }
        for (_, rotations, overrides) in &parts {
            person_ids.extend(rotations.iter().flat_map(|r| r.people.iter().map(|p| p.as_uuid())));
            person_ids.extend(overrides.iter().map(|o| o.person_id.as_uuid()));
        }
        person_ids.sort();
        person_ids.dedup();
        let people: HashMap<PersonId, SimPerson> = person::Entity::find()
            .filter(person::Column::Id.is_in(person_ids))
            .all(db)
            .await?
            .iter()
            .map(|p| (PersonId::from_uuid(p.id), sim_person(p)))
            .collect();
        let schedules = parts
            .into_iter()
            .map(|(s, rotations, overrides)| (s.id, SimSchedule { name: s.name, rotations, overrides }))
            .collect();
        let budget = match Routes::load(db).await?.for_org(o.id) {
            Some(id) => match integration::Entity::find_by_id(id.clone()).one(db).await? {
                Some(i) => Some(SimBudget {
                    used: self.budget_used(&id, now).await?,
                    budget: u32::try_from(i.monthly_budget).unwrap_or(0),
                    integration_id: id,
                }),
                None => None,
            },
            None => None,
        };
        let acknowledged_by = ticket.as_ref().and_then(|t| t.emergency.as_ref()?.acknowledged.as_ref()?.by);
        Ok(SimulationData {
            assignee: ticket.as_ref().and_then(|t| t.assignee_id),
            tam: o.tam_id.map(PersonId::from_uuid),
            main_chat: o.main_chat_id.clone(),
            org: crate::orgs::to_domain(o)?,
            ticket,
            policy: policy.policy,
            calendar: policy.calendar,
            people,
            schedules,
            ticket_chat,
            targets,
            paging,
            acknowledged_by,
            budget,
        })
    }
}
