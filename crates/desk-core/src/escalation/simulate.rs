//! The dry run of escalation: from a ticket (or a severity, an organisation and a time),
//! who would be told or paged, when, and how many Lark API calls that would cost, worked
//! out from the real policy, calendar, schedules and people. Pure: the caller gathers
//! the world, nothing here reads a clock or writes anything.
//!
//! The cost is an upper bound: each notification to a person or a chat is one message
//! call; the notification window may merge some of them into fewer cards.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::paging::{PageReason, PageState, PageStep, after_page, next_page};
use super::policy::{EscalationPolicy, Responder};
use crate::calendar::{BusinessCalendar, Hours};
use crate::oncall::{Override, Rotation, on_call_at};
use crate::targets::{TargetClock, TargetKind, scaled};
use crate::{PersonId, QuietHours, Severity};

/// Most pages a simulation lists.
pub const SIM_PAGES_MAX: usize = 200;

/// A person as the simulation needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPerson {
    /// Their name.
    pub name: String,
    /// Their clock, for quiet hours.
    pub time_zone: String,
    /// When notifications (not pages) wait.
    pub quiet_hours: Option<QuietHours>,
    /// Whether they have a Lark identity a card can reach.
    pub lark_bound: bool,
    /// Whether they may still be told anything.
    pub active: bool,
}

/// An on-call schedule as the simulation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSchedule {
    /// Its name.
    pub name: String,
    /// Its rotations, layered.
    pub rotations: Vec<Rotation>,
    /// Its overrides.
    pub overrides: Vec<Override>,
}

/// Everything the dry run reads.
#[derive(Debug, Clone)]
pub struct SimWorld<'a> {
    /// The organisation's effective policy.
    pub policy: &'a EscalationPolicy,
    /// Its business calendar.
    pub calendar: &'a BusinessCalendar,
    /// People by id (staff the policy and the ticket name).
    pub people: &'a HashMap<PersonId, SimPerson>,
    /// Schedules by id.
    pub schedules: &'a HashMap<Uuid, SimSchedule>,
    /// The ticket's assignee.
    pub assignee: Option<PersonId>,
    /// The organisation's TAM.
    pub tam: Option<PersonId>,
    /// The ticket's own Lark group.
    pub ticket_chat: Option<String>,
    /// The organisation's main group.
    pub main_chat: Option<String>,
    /// `DESK_PAGE_INTERVAL`.
    pub page_interval: TimeDelta,
}

/// Who would receive something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimAddress {
    /// A person.
    Person(PersonId),
    /// A group chat.
    Chat(String),
}

/// One recipient of one simulated notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRecipient {
    /// Who.
    pub target: SimAddress,
    /// Their name (a chat: which group).
    pub name: String,
    /// When it would reach them: later than the event when their quiet hours hold it.
    pub delivered_at: DateTime<Utc>,
    /// Whether it could reach them at all (a person without a Lark identity cannot be).
    pub deliverable: bool,
}

/// What would happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimKind {
    /// An escalation to `level` tells its people.
    Escalation {
        /// The level reached.
        level: i32,
    },
    /// The emergency card goes to the groups.
    EmergencyCard,
    /// A page.
    Page {
        /// The chain step, 1-based.
        step: u32,
        /// The page within the step, 1-based.
        page: u32,
        /// Why.
        reason: PageReason,
    },
    /// A target's warning.
    Warning(TargetKind),
    /// A target's breach.
    Breach(TargetKind),
}

/// One thing that would happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub kind: SimKind,
    /// Who would get it.
    pub recipients: Vec<SimRecipient>,
    /// Lark message calls it would cost (one per deliverable recipient).
    pub lark_calls: u32,
    /// Whether the calls come out of the emergency reserve.
    pub emergency: bool,
}

/// A response target of the simulated ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimDeadline {
    /// Which.
    pub kind: TargetKind,
    /// When its warning goes out.
    pub warn_at: Option<DateTime<Utc>>,
    /// When it runs out.
    pub due_at: Option<DateTime<Utc>>,
    /// Counted on every hour.
    pub around_the_clock: bool,
}

/// The targets a new ticket of `severity` at `level` opened at `at` would get, the
/// update cadence counted from `at` as if the first response came at once.
pub fn plan_targets(
    policy: &EscalationPolicy,
    calendar: &BusinessCalendar,
    severity: Severity,
    level: i32,
    emergency: bool,
    at: DateTime<Utc>,
) -> Vec<SimDeadline> {
    let set = policy.targets_for(if emergency { Severity::P1 } else { severity });
    let around = set.around_the_clock || emergency;
    let hours = if around { Hours::Always } else { Hours::Business(calendar) };
    TargetKind::ALL
        .into_iter()
        .map(|kind| {
            let clock = TargetClock::start(scaled(set.of(kind), policy.percent_at(level)), at);
            SimDeadline {
                kind,
                warn_at: clock.warn_at(hours, policy.warn_at_percent),
                due_at: clock.due_at(hours),
                around_the_clock: around,
            }
        })
        .collect()
}

impl SimWorld<'_> {
    /// Who `responder` means at `at` (nobody, when the role is empty or nobody is on call).
    pub fn resolve(&self, responder: Responder, at: DateTime<Utc>) -> Option<PersonId> {
        let person = match responder {
            Responder::Assignee => self.assignee,
            Responder::Tam => self.tam,
            Responder::Person(p) => Some(p),
            Responder::Schedule(s) => {
                let s = self.schedules.get(&s)?;
                on_call_at(&s.rotations, &s.overrides, at).map(|c| c.person_id)
            }
        }?;
        self.people.get(&person).is_some_and(|p| p.active).then_some(person)
    }

    fn person(&self, id: PersonId, at: DateTime<Utc>, emergency: bool) -> SimRecipient {
        let p = self.people.get(&id);
        // Quiet hours hold everything but emergencies.
        let held = p.filter(|_| !emergency).and_then(|p| p.quiet_hours.and_then(|q| q.hold_until(&p.time_zone, at)));
        SimRecipient {
            target: SimAddress::Person(id),
            name: p.map_or_else(|| id.to_string(), |p| p.name.clone()),
            delivered_at: held.unwrap_or(at),
            deliverable: p.is_some_and(|p| p.lark_bound && p.active),
        }
    }

    fn event(
        &self,
        at: DateTime<Utc>,
        kind: SimKind,
        people: &[PersonId],
        chats: &[String],
        emergency: bool,
    ) -> SimEvent {
        let mut seen = Vec::new();
        let mut recipients: Vec<SimRecipient> = people
            .iter()
            .filter(|p| {
                let new = !seen.contains(*p);
                seen.push(**p);
                new
            })
            .map(|p| self.person(*p, at, emergency))
            .collect();
        for c in chats {
            recipients.push(SimRecipient {
                target: SimAddress::Chat(c.clone()),
                name: c.clone(),
                delivered_at: at,
                deliverable: true,
            });
        }
        let lark_calls = u32::try_from(recipients.iter().filter(|r| r.deliverable).count()).unwrap_or(u32::MAX);
        SimEvent { at, kind, recipients, lark_calls, emergency }
    }

    /// Who an escalation to `level` at `at` tells: the assignee and the TAM (the
    /// notification rules) and the level's own people.
    pub fn escalation(&self, level: i32, at: DateTime<Utc>) -> Option<SimEvent> {
        let l = self.policy.levels.get(usize::try_from(level).ok()?)?;
        let mut people: Vec<PersonId> = [self.assignee, self.tam].into_iter().flatten().collect();
        people.extend(l.notify.iter().filter_map(|r| self.resolve(*r, at)));
        Some(self.event(at, SimKind::Escalation { level }, &people, &[], false))
    }

    /// The groups the emergency card goes to: the ticket's own group and the main group
    /// (once, when they are the same), else the main group; nobody when neither exists.
    pub fn emergency_chats(&self) -> Vec<String> {
        let mut chats: Vec<String> = [self.ticket_chat.clone(), self.main_chat.clone()].into_iter().flatten().collect();
        chats.dedup();
        chats
    }

    /// The emergency card in the groups at `at`, and the rules' emergency notices to the
    /// assignee and the TAM.
    pub fn emergency_card(&self, at: DateTime<Utc>) -> SimEvent {
        let people: Vec<PersonId> = [self.assignee, self.tam].into_iter().flatten().collect();
        self.event(at, SimKind::EmergencyCard, &people, &self.emergency_chats(), true)
    }

    /// Pages from `start` (continuing `state`) until `until`, with nobody acknowledging.
    pub fn pages(
        &self,
        chain: &[Responder],
        state: PageState,
        start: DateTime<Utc>,
        until: DateTime<Utc>,
        reason: PageReason,
    ) -> Vec<SimEvent> {
        let chain_len = u32::try_from(chain.len()).unwrap_or(u32::MAX);
        let per_step = self.policy.paging.pages_per_step;
        let interval = self.page_interval.max(TimeDelta::seconds(1));
        let mut out = Vec::new();
        let mut state = state;
        let mut now = start;
        while now <= until && out.len() < SIM_PAGES_MAX && chain_len > 0 {
            let (step, page) = match next_page(state, chain_len, per_step, interval, now) {
                PageStep::Wait { until } => {
                    now = until;
                    continue;
                }
                PageStep::Page { step, page } => (step, page),
            };
            // A step with nobody to page is passed over at once.
            let found = (step..chain_len).find_map(|s| {
                let who = self.resolve(chain[usize::try_from(s).ok()?], now)?;
                Some((s, who))
            });
            match found {
                Some((s, who)) => {
                    let page = if s == step { page } else { 1 };
                    out.push(self.event(now, SimKind::Page { step: s + 1, page, reason }, &[who], &[], true));
                    state = after_page(s, page, now);
                }
                // Nobody anywhere up the chain: the next try is an interval later.
                None => state = PageState { last_at: Some(now), ..state },
            }
            now += interval;
        }
        out
    }

    /// The warnings and breaches of `targets`, in time order: a warning to the assignee
    /// (the TAM when nobody is assigned), a breach to both.
    pub fn target_events(&self, targets: &[SimDeadline], until: DateTime<Utc>) -> Vec<SimEvent> {
        let mut out = Vec::new();
        for t in targets {
            if let Some(warn) = t.warn_at.filter(|w| *w <= until && t.due_at.is_none_or(|d| *w < d)) {
                let people: Vec<PersonId> = self.assignee.or(self.tam).into_iter().collect();
                out.push(self.event(warn, SimKind::Warning(t.kind), &people, &[], false));
            }
            if let Some(due) = t.due_at.filter(|d| *d <= until) {
                let people: Vec<PersonId> = [self.assignee, self.tam].into_iter().flatten().collect();
                out.push(self.event(due, SimKind::Breach(t.kind), &people, &[], false));
            }
        }
        out.sort_by_key(|e| e.at);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SupportPlan;
    use chrono::NaiveTime;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn person(n: u128) -> PersonId {
        PersonId::from_uuid(Uuid::from_u128(n))
    }

    fn staff(name: &str, quiet: Option<(&str, &str)>, bound: bool) -> SimPerson {
        SimPerson {
            name: name.into(),
            time_zone: "UTC".into(),
            quiet_hours: quiet.map(|(s, e)| QuietHours::parse(s, e).unwrap()),
            lark_bound: bound,
            active: true,
        }
    }

    /// A world where person 1 is the assignee and person 2 the TAM, with no chats.
    fn assigned_to_1_with_tam_2<'a>(
        policy: &'a EscalationPolicy,
        calendar: &'a BusinessCalendar,
        people: &'a HashMap<PersonId, SimPerson>,
        schedules: &'a HashMap<Uuid, SimSchedule>,
    ) -> SimWorld<'a> {
        SimWorld {
            policy,
            calendar,
            people,
            schedules,
            assignee: Some(person(1)),
            tam: Some(person(2)),
            ticket_chat: None,
            main_chat: None,
            page_interval: TimeDelta::minutes(5),
        }
    }

    #[test]
    fn pages_follow_the_schedule_and_climb_the_chain() {
        let mut policy = EscalationPolicy::defaults(SupportPlan::Premium);
        let schedule = Uuid::from_u128(50);
        policy.paging.chain = vec![Responder::Schedule(schedule), Responder::Tam];
        let calendar = BusinessCalendar::standard(chrono_tz::Tz::UTC);
        let people: HashMap<PersonId, SimPerson> = [
            (person(1), staff("Ann", Some(("22:00", "07:00")), true)),
            (person(2), staff("Bo", None, true)),
            (person(9), staff("Tia", None, false)),
        ]
        .into();
        // Ann until 09:10, then Bo (a 24 h rotation handing off at 09:10).
        let rotation = Rotation {
            people: vec![person(1), person(2)],
            shift_hours: 24,
            handoff: NaiveTime::from_hms_opt(9, 10, 0).unwrap(),
            start_date: "2026-11-20".parse().unwrap(),
            end_date: None,
            time_zone: chrono_tz::Tz::UTC,
        };
        let schedules: HashMap<Uuid, SimSchedule> =
            [(schedule, SimSchedule { name: "primary".into(), rotations: vec![rotation], overrides: vec![] })].into();
        let world = SimWorld {
            policy: &policy,
            calendar: &calendar,
            people: &people,
            schedules: &schedules,
            assignee: None,
            tam: Some(person(9)),
            ticket_chat: Some("oc_ticket".into()),
            main_chat: Some("oc_main".into()),
            page_interval: TimeDelta::minutes(5),
        };
        let t0 = at("2026-11-21T09:00:00Z");
        let pages = world.pages(
            &policy.paging.chain,
            PageState::default(),
            t0,
            t0 + TimeDelta::minutes(20),
            PageReason::Unacknowledged,
        );
        let seen: Vec<(i64, u32, u32, &str, bool)> = pages
            .iter()
            .map(|e| {
                let SimKind::Page { step, page, .. } = e.kind else { panic!() };
                ((e.at - t0).num_minutes(), step, page, e.recipients[0].name.as_str(), e.recipients[0].deliverable)
            })
            .collect();
        assert_eq!(
            seen,
            [
                (0, 1, 1, "Ann", true),
                (5, 1, 2, "Ann", true),
                (10, 1, 3, "Bo", true),
                (15, 2, 1, "Tia", false),
                (20, 2, 2, "Tia", false)
            ],
            "the on-call person at each page's time; the TAM has no Lark identity"
        );
        assert!(pages.iter().all(|p| p.emergency));
        assert_eq!(pages.iter().map(|p| p.lark_calls).sum::<u32>(), 3, "undeliverable pages cost nothing");

        let card = world.emergency_card(t0);
        assert_eq!(card.recipients.len(), 3, "the TAM and two groups");
        assert_eq!(card.lark_calls, 2);
    }

    #[test]
    fn warnings_wait_for_quiet_hours_and_pages_do_not() {
        let policy = EscalationPolicy::defaults(SupportPlan::Premium);
        let calendar = BusinessCalendar::standard(chrono_tz::Tz::UTC);
        let people: HashMap<PersonId, SimPerson> =
            [(person(1), staff("Ann", Some(("22:00", "07:00")), true)), (person(2), staff("Tam", None, true))].into();
        let schedules = HashMap::new();
        let world = assigned_to_1_with_tam_2(&policy, &calendar, &people, &schedules);
        // A P1 on Premium at 23:00: around the clock, 30 min to the first response.
        let t0 = at("2026-11-20T23:00:00Z");
        let targets = plan_targets(&policy, &calendar, Severity::P1, 0, false, t0);
        assert_eq!(targets[0].due_at, Some(at("2026-11-20T23:30:00Z")));
        let events = world.target_events(&targets[..1], t0 + TimeDelta::hours(1));
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].kind, SimKind::Warning(TargetKind::FirstResponse));
        assert_eq!(events[0].at, at("2026-11-20T23:24:00Z"));
        assert_eq!(events[0].recipients[0].delivered_at, at("2026-11-21T07:00:00Z"), "held till morning");
        let pages = world.pages(&[Responder::Assignee], PageState::default(), t0, t0, PageReason::Unacknowledged);
        assert_eq!(pages[0].recipients[0].delivered_at, t0, "a page ignores quiet hours");
        // A P3 on Friday evening counts business hours: due Monday.
        let p3 = plan_targets(&policy, &calendar, Severity::P3, 0, false, at("2026-11-20T17:00:00Z"));
        assert_eq!(p3[0].due_at, Some(at("2026-11-23T12:00:00Z")));
        // At level 1 (50 %) the P3's first response halves.
        let p3 = plan_targets(&policy, &calendar, Severity::P3, 1, false, at("2026-11-20T17:00:00Z"));
        assert_eq!(p3[0].due_at, Some(at("2026-11-23T10:00:00Z")));
    }

    #[test]
    fn an_escalation_tells_the_rules_and_the_level() {
        let mut policy = EscalationPolicy::defaults(SupportPlan::Standard);
        policy.levels[2].notify.push(Responder::Person(person(3)));
        let calendar = BusinessCalendar::standard(chrono_tz::Tz::UTC);
        let people: HashMap<PersonId, SimPerson> = [
            (person(1), staff("Ann", None, true)),
            (person(2), staff("Tam", None, true)),
            (person(3), staff("Lead", None, true)),
        ]
        .into();
        let schedules = HashMap::new();
        let world = assigned_to_1_with_tam_2(&policy, &calendar, &people, &schedules);
        let t0 = at("2026-11-20T10:00:00Z");
        let names = |e: SimEvent| e.recipients.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(world.escalation(1, t0).unwrap()), ["Ann", "Tam"], "the TAM once, though named twice");
        assert_eq!(names(world.escalation(2, t0).unwrap()), ["Ann", "Tam", "Lead"]);
        assert!(world.escalation(3, t0).is_none(), "no level above the top");
    }
}
