//! Escalation policies: the ladder a ticket climbs (each level's name, who it tells, and
//! how much it tightens the response targets), the response targets per severity, when
//! warnings go out, which business calendar the clock runs on, and the on-call chain an
//! unacknowledged emergency climbs.
//!
//! A policy is layered: the compiled-in defaults of a support plan, then what an admin
//! changed for the plan, then what was changed for one organisation. Each layer is a
//! [`PolicyDoc`] (its JSON form, as the API and the database hold it) in which every
//! field is optional: an absent field inherits.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ESCALATION_LEVELS;
use crate::targets::{TargetSet, default_targets, format_duration, parse_duration};
use crate::{DomainError, PersonId, Severity, SupportPlan, Validation};

/// Most levels on a ladder.
pub const LEVELS_MAX: usize = 10;
/// Most people and schedules one level tells, or steps in a chain.
pub const RESPONDERS_MAX: usize = 20;
/// Most pages to one step of the chain before it climbs.
pub const PAGES_PER_STEP_MAX: u32 = 20;
/// Pages to each step of the chain before it climbs, unless a policy says otherwise.
pub const DEFAULT_PAGES_PER_STEP: u32 = 3;
/// Warnings go out when this share of a target's time is used, unless a policy says otherwise.
pub const DEFAULT_WARN_PERCENT: u8 = 80;
/// Longest target a policy may set.
const TARGET_MAX_SECS: i64 = 365 * 86_400;

/// Someone a level tells or a chain step pages, resolved when it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Responder {
    /// Whoever the ticket is assigned to.
    Assignee,
    /// The organisation's Technical Account Manager.
    Tam,
    /// A named staff member.
    Person(PersonId),
    /// Whoever is on call on this schedule at the time.
    Schedule(Uuid),
}

impl fmt::Display for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Assignee => f.write_str("the assignee"),
            Self::Tam => f.write_str("the TAM"),
            Self::Person(p) => write!(f, "person {p}"),
            Self::Schedule(s) => write!(f, "whoever is on call on schedule {s}"),
        }
    }
}

/// One rung of the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Stable name (`senior_engineer`); cards translate the known ones.
    pub name: String,
    /// Told when a ticket reaches this level.
    pub notify: Vec<Responder>,
    /// The share of the base response targets a ticket at this level gets (100 at the
    /// bottom; an escalation to a level at 50 halves what is left of each target).
    pub target_percent: u32,
}

/// The on-call chain of an emergency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// Who is paged, step by step.
    pub chain: Vec<Responder>,
    /// Pages to each step before the next step is paged.
    pub pages_per_step: u32,
}

/// An organisation's effective policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPolicy {
    /// The ladder, lowest first.
    pub levels: Vec<Level>,
    /// Response targets by severity (P1 first).
    pub targets: [TargetSet; 4],
    /// Warn when this share of a target's time is used.
    pub warn_at_percent: u8,
    /// The business calendar the clock runs on (none: Monday to Friday, 09:00–18:00 UTC).
    pub calendar_id: Option<Uuid>,
    /// How emergencies page.
    pub paging: Paging,
}

const fn severity_index(s: Severity) -> usize {
    match s {
        Severity::P1 => 0,
        Severity::P2 => 1,
        Severity::P3 => 2,
        Severity::P4 => 3,
    }
}

/// The target share of level `i` when a policy does not say: halving per level, at
/// least a tenth.
fn default_percent(i: usize) -> u32 {
    (100u32 >> i.min(4)).max(10)
}

impl EscalationPolicy {
    /// What `plan` promises before anyone changes it: the default ladder (engineer →
    /// senior engineer → TAM lead; the senior engineer level tells the assignee and the
    /// TAM, the TAM lead level the TAM), the plan's targets, warnings at 80 %, the
    /// assignee then the TAM paged three times each.
    pub fn defaults(plan: SupportPlan) -> Self {
        let notify = |i: usize| match i {
            0 => vec![Responder::Assignee],
            1 => vec![Responder::Assignee, Responder::Tam],
            _ => vec![Responder::Tam],
        };
        Self {
            levels: ESCALATION_LEVELS
                .iter()
                .enumerate()
                .map(|(i, name)| Level {
                    name: (*name).to_owned(),
                    notify: notify(i),
                    target_percent: default_percent(i),
                })
                .collect(),
            targets: Severity::ALL.map(|s| default_targets(plan, s)),
            warn_at_percent: DEFAULT_WARN_PERCENT,
            calendar_id: None,
            paging: Paging { chain: vec![Responder::Assignee, Responder::Tam], pages_per_step: DEFAULT_PAGES_PER_STEP },
        }
    }

    /// The targets of `severity`.
    pub const fn targets_for(&self, severity: Severity) -> TargetSet {
        self.targets[severity_index(severity)]
    }

    /// The level names, lowest first.
    pub fn level_names(&self) -> Vec<&str> {
        self.levels.iter().map(|l| l.name.as_str()).collect()
    }

    /// The target share of `level` (a level past the ladder's top keeps the top's).
    pub fn percent_at(&self, level: i32) -> u32 {
        let i = usize::try_from(level.max(0)).unwrap_or(0);
        self.levels.get(i).or(self.levels.last()).map_or(100, |l| l.target_percent.max(1))
    }

    /// This policy with `layer`'s fields laid over it.
    pub fn with(mut self, layer: &PolicyOverride) -> Self {
        if let Some(levels) = &layer.levels {
            self.levels.clone_from(levels);
        }
        for (severity, set) in &layer.targets {
            self.targets[severity_index(*severity)] = *set;
        }
        if let Some(p) = layer.warn_at_percent {
            self.warn_at_percent = p;
        }
        if let Some(c) = layer.calendar_id {
            self.calendar_id = Some(c);
        }
        if let Some(chain) = &layer.paging_chain {
            self.paging.chain.clone_from(chain);
        }
        if let Some(n) = layer.pages_per_step {
            self.paging.pages_per_step = n;
        }
        self
    }

    /// The whole policy as a document.
    pub fn to_doc(&self) -> PolicyDoc {
        PolicyOverride {
            levels: Some(self.levels.clone()),
            targets: Severity::ALL.into_iter().map(|s| (s, self.targets_for(s))).collect(),
            warn_at_percent: Some(self.warn_at_percent),
            calendar_id: self.calendar_id,
            paging_chain: Some(self.paging.chain.clone()),
            pages_per_step: Some(self.paging.pages_per_step),
        }
        .to_doc()
    }

    /// Every schedule the policy refers to (levels and the chain).
    pub fn schedules(&self) -> Vec<Uuid> {
        let mut out: Vec<Uuid> = self
            .levels
            .iter()
            .flat_map(|l| l.notify.iter())
            .chain(self.paging.chain.iter())
            .filter_map(|r| match r {
                Responder::Schedule(s) => Some(*s),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// One layer of a policy: only what it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOverride {
    /// A whole new ladder.
    pub levels: Option<Vec<Level>>,
    /// New targets for these severities.
    pub targets: BTreeMap<Severity, TargetSet>,
    /// A new warning share.
    pub warn_at_percent: Option<u8>,
    /// A business calendar.
    pub calendar_id: Option<Uuid>,
    /// A new on-call chain.
    pub paging_chain: Option<Vec<Responder>>,
    /// A new number of pages per step.
    pub pages_per_step: Option<u32>,
}

/// A policy layer as JSON: what the API takes and shows, and what the database keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// The ladder, lowest level first (replaces the inherited ladder as a whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<LevelDoc>>,
    /// Targets by severity (`P1` … `P4`), each complete.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, TargetDoc>,
    /// Warn when this percentage of a target's time is used (1–99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at_percent: Option<u8>,
    /// The business calendar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<Uuid>,
    /// How emergencies page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<PagingDoc>,
}

/// One level as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelDoc {
    /// Stable name: lower-case letters, digits and `_`.
    pub name: String,
    /// Who is told when a ticket reaches the level.
    #[serde(default)]
    pub notify: Vec<ResponderDoc>,
    /// The share of the base targets at this level (1–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<u32>,
}

/// Someone, as JSON: exactly one of `role` (`assignee`, `tam`), `person_id`, `schedule_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderDoc {
    /// `assignee` or `tam`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A staff member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<Uuid>,
    /// An on-call schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<Uuid>,
}

/// The targets of one severity as JSON: durations such as `30m`, `4h`, `2d`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDoc {
    /// Until the first response.
    pub first_response: String,
    /// Between updates.
    pub update: String,
    /// Until resolution.
    pub resolution: String,
    /// Counted on every hour rather than the calendar's working hours.
    #[serde(default)]
    pub around_the_clock: bool,
}

/// The on-call chain as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingDoc {
    /// Who is paged, step by step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<ResponderDoc>>,
    /// Pages to each step before the next is paged (1–20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages_per_step: Option<u32>,
}

impl Responder {
    fn to_doc(self) -> ResponderDoc {
        match self {
            Self::Assignee => ResponderDoc { role: Some("assignee".into()), ..ResponderDoc::default() },
            Self::Tam => ResponderDoc { role: Some("tam".into()), ..ResponderDoc::default() },
            Self::Person(p) => ResponderDoc { person_id: Some(p.as_uuid()), ..ResponderDoc::default() },
            Self::Schedule(s) => ResponderDoc { schedule_id: Some(s), ..ResponderDoc::default() },
        }
    }

    fn parse(v: &mut Validation, field: &str, doc: &ResponderDoc) -> Option<Self> {
        match (doc.role.as_deref(), doc.person_id, doc.schedule_id) {
            (Some("assignee"), None, None) => Some(Self::Assignee),
            (Some("tam"), None, None) => Some(Self::Tam),
            (Some(_), None, None) => {
                v.fail(format!("{field}.role"), "must be assignee or tam");
                None
            }
            (None, Some(p), None) => Some(Self::Person(PersonId::from_uuid(p))),
            (None, None, Some(s)) => Some(Self::Schedule(s)),
            _ => {
                v.fail(field, "must name exactly one of role, person_id, schedule_id");
                None
            }
        }
    }
}

fn responders(v: &mut Validation, field: &str, docs: &[ResponderDoc]) -> Vec<Responder> {
    if docs.len() > RESPONDERS_MAX {
        v.fail(field, format!("must name at most {RESPONDERS_MAX}"));
    }
    docs.iter().enumerate().filter_map(|(i, d)| Responder::parse(v, &format!("{field}[{i}]"), d)).collect()
}

fn is_level_name(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
}

impl PolicyOverride {
    /// Checks a document, naming every field at fault (`levels[1].name`,
    /// `targets.P2.update`, `paging.chain[0]`, …).
    pub fn parse(doc: &PolicyDoc) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let levels = doc.levels.as_ref().map(|levels| {
            if levels.is_empty() || levels.len() > LEVELS_MAX {
                v.fail("levels", format!("must hold between 1 and {LEVELS_MAX} levels"));
            }
            let mut out = Vec::with_capacity(levels.len());
            for (i, l) in levels.iter().enumerate() {
                let name = l.name.trim();
                if !is_level_name(name) {
                    v.fail(
                        format!("levels[{i}].name"),
                        "must be 1–40 lower-case letters, digits or _, starting with a letter",
                    );
                } else if levels[..i].iter().any(|o| o.name.trim() == name) {
                    v.fail(format!("levels[{i}].name"), "appears twice; level names are unique");
                }
                let target_percent = l.target_percent.unwrap_or_else(|| default_percent(i));
                if !(1..=100).contains(&target_percent) {
                    v.fail(format!("levels[{i}].target_percent"), "must be between 1 and 100");
                }
                let notify = responders(&mut v, &format!("levels[{i}].notify"), &l.notify);
                out.push(Level { name: name.to_owned(), notify, target_percent });
            }
            out
        });
        let mut targets = BTreeMap::new();
        for (key, t) in &doc.targets {
            let Some(severity) = Severity::ALL.into_iter().find(|s| s.as_str() == key) else {
                v.fail(format!("targets.{key}"), "must be one of P1, P2, P3, P4");
                continue;
            };
            let mut duration = |name: &str, raw: &str| {
                let d = parse_duration(raw).filter(|d| d.num_seconds() <= TARGET_MAX_SECS);
                if d.is_none() {
                    v.fail(
                        format!("targets.{key}.{name}"),
                        "must be a duration such as 30m, 4h, 1h30m or 2d, at most 365d",
                    );
                }
                d.unwrap_or_default()
            };
            let set = TargetSet {
                first_response: duration("first_response", &t.first_response),
                update: duration("update", &t.update),
                resolution: duration("resolution", &t.resolution),
                around_the_clock: t.around_the_clock,
            };
            targets.insert(severity, set);
        }
        let warn_at_percent = doc.warn_at_percent;
        if warn_at_percent.is_some_and(|p| !(1..=99).contains(&p)) {
            v.fail("warn_at_percent", "must be between 1 and 99");
        }
        let (paging_chain, pages_per_step) = match &doc.paging {
            None => (None, None),
            Some(p) => {
                let chain = p.chain.as_ref().map(|c| {
                    if c.is_empty() {
                        v.fail("paging.chain", "must name at least one step");
                    }
                    responders(&mut v, "paging.chain", c)
                });
                if p.pages_per_step.is_some_and(|n| !(1..=PAGES_PER_STEP_MAX).contains(&n)) {
                    v.fail("paging.pages_per_step", format!("must be between 1 and {PAGES_PER_STEP_MAX}"));
                }
                (chain, p.pages_per_step)
            }
        };
        v.finish(Self { levels, targets, warn_at_percent, calendar_id: doc.calendar_id, paging_chain, pages_per_step })
    }

    /// The layer as a document.
    pub fn to_doc(&self) -> PolicyDoc {
        let responders = |rs: &[Responder]| rs.iter().map(|r| r.to_doc()).collect::<Vec<_>>();
        let paging = (self.paging_chain.is_some() || self.pages_per_step.is_some()).then(|| PagingDoc {
            chain: self.paging_chain.as_deref().map(responders),
            pages_per_step: self.pages_per_step,
        });
        PolicyDoc {
            levels: self.levels.as_ref().map(|levels| {
                levels
                    .iter()
                    .map(|l| LevelDoc {
                        name: l.name.clone(),
                        notify: responders(&l.notify),
                        target_percent: Some(l.target_percent),
                    })
                    .collect()
            }),
            targets: self
                .targets
                .iter()
                .map(|(s, t)| {
                    (
                        s.as_str().to_owned(),
                        TargetDoc {
                            first_response: format_duration(t.first_response),
                            update: format_duration(t.update),
                            resolution: format_duration(t.resolution),
                            around_the_clock: t.around_the_clock,
                        },
                    )
                })
                .collect(),
            warn_at_percent: self.warn_at_percent,
            calendar_id: self.calendar_id,
            paging,
        }
    }

    /// Every person the layer names (levels and the chain), to check they are staff.
    pub fn people(&self) -> Vec<PersonId> {
        self.responders().filter_map(|r| if let Responder::Person(p) = r { Some(*p) } else { None }).collect()
    }

    /// Every schedule the layer names.
    pub fn schedules(&self) -> Vec<Uuid> {
        self.responders().filter_map(|r| if let Responder::Schedule(s) = r { Some(*s) } else { None }).collect()
    }

    fn responders(&self) -> impl Iterator<Item = &Responder> {
        self.levels.iter().flatten().flat_map(|l| l.notify.iter()).chain(self.paging_chain.iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn doc(json: serde_json::Value) -> PolicyDoc {
        serde_json::from_value(json).unwrap()
    }

    fn fields(e: DomainError) -> Vec<String> {
        let DomainError::Invalid(errors) = e else { panic!("{e:?}") };
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn the_defaults_are_todays_ladder() {
        let p = EscalationPolicy::defaults(SupportPlan::Premium);
        assert_eq!(p.level_names(), ESCALATION_LEVELS);
        assert_eq!(p.levels.iter().map(|l| l.target_percent).collect::<Vec<_>>(), [100, 50, 25]);
        assert_eq!(p.levels[1].notify, [Responder::Assignee, Responder::Tam]);
        assert_eq!(p.targets_for(Severity::P1), default_targets(SupportPlan::Premium, Severity::P1));
        assert_eq!(p.paging.chain, [Responder::Assignee, Responder::Tam]);
        assert_eq!((p.percent_at(0), p.percent_at(2), p.percent_at(7)), (100, 25, 25));
    }

    #[test]
    fn layers_change_only_what_they_name() {
        let schedule = Uuid::from_u128(5);
        let layer = PolicyOverride::parse(&doc(serde_json::json!({
            "levels": [
                { "name": "engineer" },
                { "name": "duty_manager", "notify": [{ "schedule_id": schedule }], "target_percent": 40 }
            ],
            "targets": { "P2": { "first_response": "1h", "update": "2h", "resolution": "1d" } },
            "paging": { "pages_per_step": 2 }
        })))
        .unwrap();
        let p = EscalationPolicy::defaults(SupportPlan::Standard).with(&layer);
        assert_eq!(p.level_names(), ["engineer", "duty_manager"]);
        assert_eq!(p.levels[0].target_percent, 100, "defaults by position");
        assert_eq!(p.targets_for(Severity::P2).first_response, TimeDelta::hours(1));
        assert!(!p.targets_for(Severity::P2).around_the_clock);
        assert_eq!(p.targets_for(Severity::P1), default_targets(SupportPlan::Standard, Severity::P1), "inherited");
        assert_eq!(p.paging.pages_per_step, 2);
        assert_eq!(p.paging.chain, [Responder::Assignee, Responder::Tam], "inherited");
        assert_eq!(p.schedules(), [schedule]);
        assert_eq!(layer.schedules(), [schedule]);
    }

    #[test]
    fn documents_round_trip() {
        let full = EscalationPolicy::defaults(SupportPlan::Enterprise);
        let again =
            EscalationPolicy::defaults(SupportPlan::Standard).with(&PolicyOverride::parse(&full.to_doc()).unwrap());
        assert_eq!(again, full);
        let json = serde_json::to_value(full.to_doc()).unwrap();
        assert_eq!(json["targets"]["P1"]["first_response"], "15m");
        assert_eq!(json["levels"][1]["notify"], serde_json::json!([{ "role": "assignee" }, { "role": "tam" }]));
        assert_eq!(serde_json::to_value(PolicyDoc::default()).unwrap(), serde_json::json!({}));
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = doc(serde_json::json!({
            "levels": [
                { "name": "Engineer" },
                { "name": "lead", "target_percent": 0, "notify": [{ "role": "boss" }, { "role": "tam", "person_id": Uuid::nil() }] },
                { "name": "lead" }
            ],
            "targets": {
                "P2": { "first_response": "soon", "update": "2h", "resolution": "400d" },
                "P9": { "first_response": "1h", "update": "1h", "resolution": "1h" }
            },
            "warn_at_percent": 100,
            "paging": { "chain": [], "pages_per_step": 0 }
        }));
        assert_eq!(
            fields(PolicyOverride::parse(&bad).unwrap_err()),
            [
                "levels[0].name",
                "levels[1].target_percent",
                "levels[1].notify[0].role",
                "levels[1].notify[1]",
                "levels[2].name",
                "targets.P2.first_response",
                "targets.P2.resolution",
                "targets.P9",
                "warn_at_percent",
                "paging.chain",
                "paging.pages_per_step"
            ]
        );
        assert!(serde_json::from_value::<PolicyDoc>(serde_json::json!({ "colour": "red" })).is_err());
    }
}
