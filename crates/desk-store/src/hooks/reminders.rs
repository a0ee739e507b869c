//! Organisations' reminder rules: stored per organisation, and loaded by the notification
//! planner for the organisations of the events it plans, so they apply to changes from
//! every source.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use desk_core::notify::{NotifyClass, Recipient, Trigger};
use desk_core::reminders::{self, NewReminderRule, RULES_MAX, ReminderAudience, ReminderRule};
use desk_core::{DomainError, OrgId, PersonId, Severity};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use super::entity::reminder_rule;
use crate::entity::person;
use crate::{Store, StoreError};

fn to_domain(m: reminder_rule::Model) -> Result<ReminderRule, StoreError> {
    let corrupt = |what: String| StoreError::corrupt("reminder_rules", what);
    let severities = m
        .severities
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<Severity>().map_err(|e| corrupt(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReminderRule {
        id: m.id,
        org_id: OrgId::from_uuid(m.org_id),
        trigger: reminders::parse_trigger(&m.trigger).ok_or_else(|| corrupt(format!("trigger {}", m.trigger)))?,
        audience: ReminderAudience::from_parts(&m.audience, m.person_id.map(PersonId::from_uuid))
            .ok_or_else(|| corrupt(format!("audience {}", m.audience)))?,
        class: NotifyClass::parse(&m.class).ok_or_else(|| corrupt(format!("class {}", m.class)))?,
        severities,
        name: m.name,
        enabled: m.enabled,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn severities(list: &[Severity]) -> String {
    list.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// The rules of the organisations in one planning pass, and the people they name.
#[derive(Debug, Default)]
pub(crate) struct Reminders {
    by_org: HashMap<Uuid, Vec<ReminderRule>>,
    /// Active people named by `person` audiences.
    people: Vec<person::Model>,
}

impl Reminders {
    /// Loads the enabled rules of `orgs`.
    pub(crate) async fn load<C: ConnectionTrait>(
        db: &C,
        orgs: impl IntoIterator<Item = Uuid>,
    ) -> Result<Self, StoreError> {
        let orgs: Vec<Uuid> = orgs.into_iter().collect();
        if orgs.is_empty() {
            return Ok(Self::default());
        }
        let mut by_org: HashMap<Uuid, Vec<ReminderRule>> = HashMap::new();
        for m in reminder_rule::Entity::find()
            .filter(reminder_rule::Column::OrgId.is_in(orgs))
            .filter(reminder_rule::Column::Enabled.eq(true))
            .order_by_asc(reminder_rule::Column::Id)
            .all(db)
            .await?
        {
            let rule = to_domain(m)?;
            by_org.entry(rule.org_id.as_uuid()).or_default().push(rule);
        }
        let named: Vec<Uuid> =
            by_org.values().flatten().filter_map(|r| r.audience.person_id()).map(|p| p.as_uuid()).collect();
        let people = if named.is_empty() {
            Vec::new()
        } else {
            person::Entity::find()
                .filter(person::Column::Id.is_in(named))
                .filter(person::Column::Active.eq(true))
                .all(db)
                .await?
        };
        Ok(Self { by_org, people })
    }

    /// The audiences (and classes) the rules of `org` add for `trigger` on a ticket of
    /// `severity`. A named person who is no longer active is left out.
    pub(crate) fn matching(
        &self,
        org: Uuid,
        trigger: Trigger,
        severity: &str,
    ) -> impl Iterator<Item = (ReminderAudience, NotifyClass)> + '_ {
        let severity = severity.parse::<Severity>().ok();
        let rules = self.by_org.get(&org).into_iter().flatten();
        rules.filter(move |r| severity.is_some_and(|s| r.applies(trigger, s))).filter_map(|r| match r.audience {
            ReminderAudience::Person(p) if !self.people.iter().any(|m| m.id == p.as_uuid()) => None,
            a => Some((a, r.class)),
        })
    }

    /// The people named by `person` audiences.
    pub(crate) fn people(&self) -> impl Iterator<Item = &person::Model> {
        self.people.iter()
    }
}

/// Adds `recipients` to the ones told of an event at `class`, keeping one notification per
/// recipient at the most urgent class; nobody is told of what they did themselves.
pub(crate) fn tell(
    told: &mut BTreeMap<Recipient, NotifyClass>,
    recipients: Vec<Recipient>,
    class: NotifyClass,
    actor: Option<Uuid>,
) {
    for r in recipients {
        if matches!(&r, Recipient::Person(p) if Some(p.as_uuid()) == actor) {
            continue;
        }
        let at = told.entry(r).or_insert(class);
        *at = (*at).min(class);
    }
}

async fn require<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<reminder_rule::Model, StoreError> {
    reminder_rule::Entity::find_by_id(id).one(db).await?.ok_or_else(|| StoreError::not_found("reminder_rule", id))
}

impl Store {
    /// Checks that a `person` audience names an active staff member.
    async fn check_reminder_person(&self, audience: ReminderAudience) -> Result<(), StoreError> {
        let Some(p) = audience.person_id() else { return Ok(()) };
        match crate::people::find(self.conn(), p).await? {
            Some(person) if person.is_staff() && person.active => Ok(()),
            Some(person) if !person.is_staff() => {
                Err(DomainError::invalid("person_id", "must be a staff member").into())
            }
            Some(_) => Err(DomainError::invalid("person_id", "is deactivated").into()),
            None => Err(DomainError::invalid("person_id", format!("no person {p}")).into()),
        }
    }

    /// Adds a reminder rule to an organisation.
    pub async fn create_reminder_rule(
        &self,
        org: OrgId,
        new: NewReminderRule,
        now: DateTime<Utc>,
    ) -> Result<ReminderRule, StoreError> {
        crate::orgs::require_org(self.conn(), org).await?;
        self.check_reminder_person(new.audience).await?;
        let tx = self.write().await?;
        let count =
            reminder_rule::Entity::find().filter(reminder_rule::Column::OrgId.eq(org.as_uuid())).count(&*tx).await?;
        if count >= u64::try_from(RULES_MAX).unwrap_or(u64::MAX) {
            return Err(StoreError::Conflict {
                code: "reminder_rules_full",
                detail: format!("organisation {org} already has {RULES_MAX} reminder rules"),
            });
        }
        let model = reminder_rule::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org.as_uuid()),
            name: Set(new.name),
            trigger: Set(new.trigger.as_str().to_owned()),
            severities: Set(severities(&new.severities)),
            audience: Set(new.audience.kind().to_owned()),
            person_id: Set(new.audience.person_id().map(|p| p.as_uuid())),
            class: Set(new.class.as_str().to_owned()),
            enabled: Set(new.enabled),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*tx)
        .await?;
        tx.commit().await?;
        to_domain(model)
    }

    /// An organisation's reminder rules, oldest first.
    pub async fn reminder_rules(&self, org: OrgId) -> Result<Vec<ReminderRule>, StoreError> {
        crate::orgs::require_org(self.conn(), org).await?;
        reminder_rule::Entity::find()
            .filter(reminder_rule::Column::OrgId.eq(org.as_uuid()))
            .order_by_asc(reminder_rule::Column::Id)
            .all(self.conn())
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Reads one rule.
    pub async fn reminder_rule(&self, id: Uuid) -> Result<ReminderRule, StoreError> {
        to_domain(require(self.conn(), id).await?)
    }

    /// Replaces a rule's fields (the caller merged a partial change into `rule`).
    pub async fn update_reminder_rule(
        &self,
        id: Uuid,
        rule: NewReminderRule,
        now: DateTime<Utc>,
    ) -> Result<ReminderRule, StoreError> {
        self.check_reminder_person(rule.audience).await?;
        let tx = self.write().await?;
        let mut model = require(&*tx, id).await?.into_active_model();
        model.name = Set(rule.name);
        model.trigger = Set(rule.trigger.as_str().to_owned());
        model.severities = Set(severities(&rule.severities));
        model.audience = Set(rule.audience.kind().to_owned());
        model.person_id = Set(rule.audience.person_id().map(|p| p.as_uuid()));
        model.class = Set(rule.class.as_str().to_owned());
        model.enabled = Set(rule.enabled);
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        tx.commit().await?;
        to_domain(model)
    }

    /// Removes a rule.
    pub async fn delete_reminder_rule(&self, id: Uuid) -> Result<(), StoreError> {
        let tx = self.write().await?;
        require(&*tx, id).await?;
        reminder_rule::Entity::delete_by_id(id).exec(&*tx).await?;
        tx.commit().await
    }
}
