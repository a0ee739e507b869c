//! Escalation policy layers: one per support plan and one per organisation, each a
//! [`PolicyDoc`] kept as JSON. The effective policy of an organisation is its plan's
//! defaults, then the plan's layer, then its own.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use desk_core::calendar::BusinessCalendar;
use desk_core::escalation::policy::{EscalationPolicy, PolicyDoc, PolicyOverride};
use desk_core::{DomainError, OrgId, SupportPlan};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::calendars::calendar_of;
use super::entity::{business_calendar, escalation_policy, oncall_schedule};
use super::notices::active_staff;
use crate::entity::org;
use crate::{Store, StoreError};

/// Whose policy layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyScope {
    /// Every organisation on a support plan.
    Plan(SupportPlan),
    /// One organisation.
    Org(OrgId),
}

impl PolicyScope {
    fn key(self) -> String {
        match self {
            Self::Plan(p) => format!("plan:{p}"),
            Self::Org(o) => format!("org:{o}"),
        }
    }
}

impl fmt::Display for PolicyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A policy layer and what it makes effective.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    /// Whose.
    pub scope: PolicyScope,
    /// What this layer changes (empty when nothing was changed here).
    pub layer: PolicyOverride,
    /// The policy in force for the scope, every layer applied.
    pub effective: EscalationPolicy,
    /// When the layer was last changed (none: never).
    pub updated_at: Option<DateTime<Utc>>,
}

/// An organisation's effective policy with its calendar, as the timers use them.
#[derive(Debug, Clone)]
pub(crate) struct OrgPolicy {
    pub(crate) policy: EscalationPolicy,
    pub(crate) calendar: BusinessCalendar,
}

fn parse_layer(m: &escalation_policy::Model) -> Result<PolicyOverride, StoreError> {
    let corrupt = |e: String| StoreError::corrupt("escalation_policies", format!("{}: {e}", m.scope));
    let doc: PolicyDoc = serde_json::from_str(&m.body).map_err(|e| corrupt(e.to_string()))?;
    PolicyOverride::parse(&doc).map_err(|e| corrupt(e.to_string()))
}

fn plan_of(o: &org::Model) -> Result<SupportPlan, StoreError> {
    o.support_plan.parse().map_err(|e| StoreError::corrupt("orgs", e))
}

/// The layers of these scopes, by key.
async fn layers<C: ConnectionTrait>(
    db: &C,
    keys: Vec<String>,
) -> Result<HashMap<String, (PolicyOverride, DateTime<Utc>)>, StoreError> {
    escalation_policy::Entity::find()
        .filter(escalation_policy::Column::Scope.is_in(keys))
        .all(db)
        .await?
        .iter()
        .map(|m| Ok((m.scope.clone(), (parse_layer(m)?, m.updated_at))))
        .collect()
}

/// The effective policies of `orgs`, with their calendars, in three queries.
pub(crate) async fn load_policies<C: ConnectionTrait>(
    db: &C,
    orgs: &[&org::Model],
) -> Result<HashMap<Uuid, OrgPolicy>, StoreError> {
    let mut keys: Vec<String> = SupportPlan::ALL.iter().map(|p| PolicyScope::Plan(*p).key()).collect();
    keys.extend(orgs.iter().map(|o| PolicyScope::Org(OrgId::from_uuid(o.id)).key()));
    let layers = layers(db, keys).await?;
    let mut policies = HashMap::new();
    for o in orgs {
        let plan = plan_of(o)?;
        let mut policy = EscalationPolicy::defaults(plan);
        for key in [PolicyScope::Plan(plan).key(), PolicyScope::Org(OrgId::from_uuid(o.id)).key()] {
            if let Some((layer, _)) = layers.get(&key) {
                policy = policy.with(layer);
            }
        }
        policies.insert(o.id, policy);
    }
    let calendar_ids: Vec<Uuid> = policies.values().filter_map(|p| p.calendar_id).collect();
    let calendars: HashMap<Uuid, BusinessCalendar> = if calendar_ids.is_empty() {
        HashMap::new()
    } else {
        business_calendar::Entity::find()
            .filter(business_calendar::Column::Id.is_in(calendar_ids))
            .all(db)
            .await?
            .iter()
            .map(|m| Ok((m.id, calendar_of(m)?)))
            .collect::<Result<_, StoreError>>()?
    };
    Ok(policies
        .into_iter()
        .map(|(org, policy)| {
            // A calendar deleted under a policy (deletion refuses that, but rows can be
            // edited by hand) falls back to the standard office week.
            let calendar = policy
                .calendar_id
                .and_then(|c| calendars.get(&c).cloned())
                .unwrap_or_else(BusinessCalendar::default_office);
            (org, OrgPolicy { policy, calendar })
        })
        .collect())
}

impl Store {
    /// The names of each organisation's escalation levels, lowest first: what a ticket's
    /// level is called on its own organisation's ladder.
    pub async fn escalation_ladders(&self, orgs: &[OrgId]) -> Result<HashMap<OrgId, Vec<String>>, StoreError> {
        if orgs.is_empty() {
            return Ok(HashMap::new());
        }
        let models = org::Entity::find()
            .filter(org::Column::Id.is_in(orgs.iter().map(|o| o.as_uuid())))
            .all(self.conn())
            .await?;
        let refs: Vec<&org::Model> = models.iter().collect();
        Ok(load_policies(self.conn(), &refs)
            .await?
            .into_iter()
            .map(|(org, p)| (OrgId::from_uuid(org), p.policy.level_names().into_iter().map(str::to_owned).collect()))
            .collect())
    }
}

/// The effective policy of one organisation.
pub(crate) async fn load_policy<C: ConnectionTrait>(db: &C, o: &org::Model) -> Result<OrgPolicy, StoreError> {
    load_policies(db, &[o]).await?.remove(&o.id).ok_or_else(|| StoreError::corrupt("orgs", "policy vanished"))
}

impl Store {
    /// A policy layer and the policy it makes effective.
    pub async fn escalation_policy(&self, scope: PolicyScope) -> Result<PolicyRecord, StoreError> {
        let db = self.conn();
        let (plan, org_id) = match scope {
            PolicyScope::Plan(p) => (p, None),
            PolicyScope::Org(o) => (plan_of(&crate::orgs::require_org(db, o).await?)?, Some(o)),
        };
        let mut keys = vec![PolicyScope::Plan(plan).key()];
        keys.extend(org_id.map(|o| PolicyScope::Org(o).key()));
        let layers = layers(db, keys.clone()).await?;
        let mut effective = EscalationPolicy::defaults(plan);
        for key in &keys {
            if let Some((layer, _)) = layers.get(key) {
                effective = effective.with(layer);
            }
        }
        let (layer, updated_at) =
            layers.get(&scope.key()).cloned().map_or((PolicyOverride::default(), None), |(l, at)| (l, Some(at)));
        Ok(PolicyRecord { scope, layer, effective, updated_at })
    }

    /// Replaces a scope's layer. Everything it names must exist: people (active staff),
    /// schedules, the calendar.
    pub async fn set_escalation_policy(
        &self,
        scope: PolicyScope,
        layer: PolicyOverride,
        now: DateTime<Utc>,
    ) -> Result<PolicyRecord, StoreError> {
        let tx = self.write().await?;
        if let PolicyScope::Org(o) = scope {
            crate::orgs::require_org(&*tx, o).await?;
        }
        let people: Vec<Uuid> = layer.people().iter().map(|p| p.as_uuid()).collect();
        let staff = active_staff(&*tx, &people).await?;
        if let Some(missing) = people.iter().find(|p| !staff.iter().any(|s| s.id == **p)) {
            return Err(DomainError::invalid("", format!("person {missing} is not an active staff member")).into());
        }
        let schedules = layer.schedules();
        if !schedules.is_empty() {
            let found = oncall_schedule::Entity::find()
                .filter(oncall_schedule::Column::Id.is_in(schedules.clone()))
                .all(&*tx)
                .await?;
            if let Some(missing) = schedules.iter().find(|s| !found.iter().any(|f| f.id == **s)) {
                return Err(DomainError::invalid("", format!("no on-call schedule {missing}")).into());
            }
        }
        if let Some(c) = layer.calendar_id
            && business_calendar::Entity::find_by_id(c).one(&*tx).await?.is_none()
        {
            return Err(DomainError::invalid("calendar_id", format!("no calendar {c}")).into());
        }
        let body = serde_json::to_string(&layer.to_doc()).map_err(|e| StoreError::corrupt("escalation_policies", e))?;
        escalation_policy::Entity::insert(escalation_policy::ActiveModel {
            scope: Set(scope.key()),
            body: Set(body),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(escalation_policy::Column::Scope)
                .update_columns([escalation_policy::Column::Body, escalation_policy::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&*tx)
        .await?;
        tx.commit().await?;
        self.escalation_policy(scope).await
    }

    /// Removes a scope's layer: it inherits everything again.
    pub async fn clear_escalation_policy(&self, scope: PolicyScope) -> Result<PolicyRecord, StoreError> {
        let tx = self.write().await?;
        if let PolicyScope::Org(o) = scope {
            crate::orgs::require_org(&*tx, o).await?;
        }
        escalation_policy::Entity::delete_by_id(scope.key()).exec(&*tx).await?;
        tx.commit().await?;
        self.escalation_policy(scope).await
    }

    /// The layers of every plan.
    pub async fn plan_policies(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        let mut out = Vec::new();
        for plan in SupportPlan::ALL {
            out.push(self.escalation_policy(PolicyScope::Plan(plan)).await?);
        }
        Ok(out)
    }
}

/// Whether any policy layer refers to `id` as its calendar or names it as a schedule.
pub(crate) async fn referenced<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<String>, StoreError> {
    for m in escalation_policy::Entity::find().all(db).await? {
        let layer = parse_layer(&m)?;
        if layer.calendar_id == Some(id) || layer.schedules().contains(&id) {
            return Ok(Some(m.scope));
        }
    }
    Ok(None)
}
