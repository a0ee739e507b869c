//! People: staff and customer members.

use chrono::{DateTime, Utc};
use desk_core::{DomainError, NewPerson, OrgId, Person, PersonId, PersonKind, PersonPatch, QuietHours, Role};
use sea_orm::sea_query::{Condition, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
};
use uuid::Uuid;

use crate::entity::person;
use crate::orgs::{contains_pattern, lower};
use crate::pagination::{Page, PageRequest, oldest_first};
use crate::{Store, StoreError};

/// Filters for listing people.
#[derive(Debug, Clone, Default)]
pub struct PersonFilter {
    /// Members of this organisation.
    pub org_id: Option<OrgId>,
    /// Staff or customers.
    pub kind: Option<PersonKind>,
    /// Staff with this role.
    pub role: Option<Role>,
    /// Text in the name or e-mail (case-insensitive).
    pub q: Option<String>,
}

pub(crate) fn to_domain(m: person::Model) -> Result<Person, StoreError> {
    let corrupt = |e: DomainError| StoreError::corrupt("people", e);
    let quiet_hours = match (m.quiet_start.as_deref(), m.quiet_end.as_deref()) {
        (Some(start), Some(end)) => Some(QuietHours::parse(start, end).map_err(corrupt)?),
        (None, None) => None,
        _ => return Err(StoreError::corrupt("people", "quiet_start and quiet_end must be both set or both null")),
    };
    Ok(Person {
        id: PersonId::from_uuid(m.id),
        kind: m.kind.parse().map_err(corrupt)?,
        role: m.role.as_deref().map(str::parse).transpose().map_err(corrupt)?,
        org_id: m.org_id.map(OrgId::from_uuid),
        name: m.name,
        email: m.email,
        mobile: m.mobile,
        lark_open_id: m.lark_open_id,
        lark_union_id: m.lark_union_id,
        active: m.active,
        locale: m.locale.parse().map_err(corrupt)?,
        // Not checked against the tz database: a name a later release drops must not make
        // the person unreadable, and the quiet-hours policy reads an unknown zone as UTC.
        time_zone: m.time_zone,
        quiet_hours,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub(crate) async fn find<C: ConnectionTrait>(db: &C, id: PersonId) -> Result<Option<Person>, StoreError> {
    person::Entity::find_by_id(id.as_uuid()).one(db).await?.map(to_domain).transpose()
}

fn unique_open_id(e: DbErr) -> StoreError {
    StoreError::on_unique(e, "lark_open_id_taken", "another person is already bound to this Lark open_id")
}

impl Store {
    /// Creates a person.
    pub async fn create_person(&self, new: NewPerson, now: DateTime<Utc>) -> Result<Person, StoreError> {
        if let Some(org) = new.org_id {
            self.check_org_ref(org).await?;
        }
        let tx = self.write().await?;
        let model = person::ActiveModel {
            id: Set(Uuid::now_v7()),
            kind: Set(new.kind.as_str().to_owned()),
            role: Set(new.role.map(|r| r.as_str().to_owned())),
            org_id: Set(new.org_id.map(|o| o.as_uuid())),
            name: Set(new.name),
            email: Set(new.email),
            mobile: Set(new.mobile),
            lark_open_id: Set(new.lark_open_id),
            lark_union_id: Set(new.lark_union_id),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            locale: Set(new.locale.as_str().to_owned()),
            time_zone: Set(new.time_zone),
            quiet_start: Set(new.quiet_hours.map(|q| q.start_str())),
            quiet_end: Set(new.quiet_hours.map(|q| q.end_str())),
        }
        .insert(&*tx)
        .await
        .map_err(unique_open_id)?;
        tx.commit().await?;
        to_domain(model)
    }

    /// Reads one person.
    pub async fn person(&self, id: PersonId) -> Result<Person, StoreError> {
        find(self.conn(), id).await?.ok_or_else(|| StoreError::not_found("person", id))
    }

    /// Changes a person.
    pub async fn update_person(
        &self,
        id: PersonId,
        patch: PersonPatch,
        now: DateTime<Utc>,
    ) -> Result<Person, StoreError> {
        let tx = self.write().await?;
        let current = person::Entity::find_by_id(id.as_uuid())
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("person", id))?;
        if patch.role.is_some() && current.kind != PersonKind::Staff.as_str() {
            return Err(DomainError::invalid("role", "only staff have a role").into());
        }
        let mut model = current.into_active_model();
        if let Some(name) = patch.name {
            model.name = Set(name);
        }
        if let Some(role) = patch.role {
            model.role = Set(Some(role.as_str().to_owned()));
        }
        if let Some(email) = patch.email {
            model.email = Set(email);
        }
        if let Some(mobile) = patch.mobile {
            model.mobile = Set(mobile);
        }
        if let Some(open_id) = patch.lark_open_id {
            model.lark_open_id = Set(open_id);
        }
        if let Some(union_id) = patch.lark_union_id {
            model.lark_union_id = Set(union_id);
        }
        if let Some(active) = patch.active {
            model.active = Set(active);
        }
        if let Some(locale) = patch.locale {
            model.locale = Set(locale.as_str().to_owned());
        }
        if let Some(time_zone) = patch.time_zone {
            model.time_zone = Set(time_zone);
        }
        if let Some(quiet_hours) = patch.quiet_hours {
            model.quiet_start = Set(quiet_hours.map(|q| q.start_str()));
            model.quiet_end = Set(quiet_hours.map(|q| q.end_str()));
        }
        model.updated_at = Set(now);
        let model = model.update(&*tx).await.map_err(unique_open_id)?;
        tx.commit().await?;
        to_domain(model)
    }

    /// Lists people in creation order.
    pub async fn list_people(&self, filter: &PersonFilter, page: &PageRequest) -> Result<Page<Person>, StoreError> {
        const SCOPE: &str = "people";
        let mut query = person::Entity::find();
        if let Some(org) = filter.org_id {
            query = query.filter(person::Column::OrgId.eq(org.as_uuid()));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(person::Column::Kind.eq(kind.as_str()));
        }
        if let Some(role) = filter.role {
            query = query.filter(person::Column::Role.eq(role.as_str()));
        }
        if let Some(q) = filter.q.as_deref() {
            let pattern = contains_pattern(q);
            query = query.filter(
                Condition::any()
                    .add(lower((person::Entity, person::Column::Name)).like(pattern.clone()))
                    .add(lower((person::Entity, person::Column::Email)).like(pattern)),
            );
        }
        let rows = oldest_first(query, person::Column::Id, page).all(self.conn()).await?;
        Page::by_id(rows, page, SCOPE, |m| m.id, to_domain)
    }
}
