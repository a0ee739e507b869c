//! On-call schedules (their rotations kept as JSON) and overrides, and who is on call.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use desk_core::oncall::{NewOverride, NewSchedule, OnCall, OnCallSource, Override, Rotation, on_call_at};
use desk_core::{DomainError, Person, PersonId};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::{oncall_override, oncall_schedule};
use super::notices::active_staff;
use crate::pagination::{Page, PageRequest, oldest_first};
use crate::{Store, StoreError, people};

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its rotations, layered.
    pub rotations: Vec<Rotation>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A stored override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRecord {
    /// Its id.
    pub id: Uuid,
    /// The schedule.
    pub schedule_id: Uuid,
    /// Who covers.
    pub person_id: PersonId,
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until.
    pub ends_at: DateTime<Utc>,
    /// Why.
    pub note: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Who is on call on a schedule at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCallNow {
    /// The schedule.
    pub schedule_id: Uuid,
    /// Its name.
    pub schedule_name: String,
    /// The instant asked about.
    pub at: DateTime<Utc>,
    /// The person, if anyone is on call then.
    pub person: Option<Person>,
    /// Why them, when someone is.
    pub on_call: Option<OnCall>,
}

/// A rotation as JSON.
#[derive(Debug, Serialize, Deserialize)]
struct RotationRow {
    people: Vec<Uuid>,
    shift_hours: u32,
    handoff: String,
    start_date: String,
    #[serde(default)]
    end_date: Option<String>,
    time_zone: String,
}

fn rotations_json(rotations: &[Rotation]) -> Result<String, StoreError> {
    let rows: Vec<RotationRow> = rotations
        .iter()
        .map(|r| RotationRow {
            people: r.people.iter().map(|p| p.as_uuid()).collect(),
            shift_hours: r.shift_hours,
            handoff: r.handoff.format("%H:%M").to_string(),
            start_date: r.start_date.format("%Y-%m-%d").to_string(),
            end_date: r.end_date.map(|d| d.format("%Y-%m-%d").to_string()),
            time_zone: r.time_zone.name().to_owned(),
        })
        .collect();
    serde_json::to_string(&rows).map_err(|e| StoreError::corrupt("oncall_schedules", e))
}

fn rotations_of(m: &oncall_schedule::Model) -> Result<Vec<Rotation>, StoreError> {
    let corrupt = |e: String| StoreError::corrupt("oncall_schedules", format!("{}: {e}", m.id));
    let rows: Vec<RotationRow> = serde_json::from_str(&m.rotations).map_err(|e| corrupt(e.to_string()))?;
    rows.into_iter()
        .map(|r| {
            Ok(Rotation {
                people: r.people.into_iter().map(PersonId::from_uuid).collect(),
                shift_hours: r.shift_hours,
                handoff: NaiveTime::parse_from_str(&r.handoff, "%H:%M").map_err(|e| corrupt(e.to_string()))?,
                start_date: r.start_date.parse::<NaiveDate>().map_err(|e| corrupt(e.to_string()))?,
                end_date: r.end_date.map(|d| d.parse::<NaiveDate>()).transpose().map_err(|e| corrupt(e.to_string()))?,
                time_zone: desk_core::parse_time_zone(&r.time_zone).map_err(|e| corrupt(e.to_string()))?,
            })
        })
        .collect()
}

fn schedule_record(m: oncall_schedule::Model) -> Result<ScheduleRecord, StoreError> {
    Ok(ScheduleRecord {
        id: m.id,
        rotations: rotations_of(&m)?,
        name: m.name,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn override_record(m: oncall_override::Model) -> OverrideRecord {
    OverrideRecord {
        id: m.id,
        schedule_id: m.schedule_id,
        person_id: PersonId::from_uuid(m.person_id),
        starts_at: m.starts_at,
        ends_at: m.ends_at,
        note: m.note,
        created_at: m.created_at,
    }
}

fn name_taken(e: sea_orm::DbErr) -> StoreError {
    StoreError::on_unique(e, "schedule_name_taken", "another on-call schedule already has this name")
}

/// Checks that everyone in the rotations is active staff.
async fn check_people<C: ConnectionTrait>(db: &C, rotations: &[Rotation]) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = rotations.iter().flat_map(|r| r.people.iter().map(|p| p.as_uuid())).collect();
    let staff = active_staff(db, &ids).await?;
    for (i, r) in rotations.iter().enumerate() {
        for (j, p) in r.people.iter().enumerate() {
            if !staff.iter().any(|s| s.id == p.as_uuid()) {
                return Err(DomainError::invalid(
                    format!("rotations[{i}].people[{j}]"),
                    format!("person {p} is not an active staff member"),
                )
                .into());
            }
        }
    }
    Ok(())
}

/// A schedule's rotations and the overrides that end after `from`.
pub(crate) async fn schedule_parts<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
    from: DateTime<Utc>,
) -> Result<Vec<(oncall_schedule::Model, Vec<Rotation>, Vec<Override>)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let schedules =
        oncall_schedule::Entity::find().filter(oncall_schedule::Column::Id.is_in(ids.to_vec())).all(db).await?;
    let overrides = oncall_override::Entity::find()
        .filter(oncall_override::Column::ScheduleId.is_in(ids.to_vec()))
        .filter(oncall_override::Column::EndsAt.gt(from))
        .all(db)
        .await?;
    schedules
        .into_iter()
        .map(|s| {
            let rotations = rotations_of(&s)?;
            let o = overrides
                .iter()
                .filter(|o| o.schedule_id == s.id)
                .map(|o| Override {
                    id: o.id,
                    person_id: PersonId::from_uuid(o.person_id),
                    starts_at: o.starts_at,
                    ends_at: o.ends_at,
                })
                .collect();
            Ok((s, rotations, o))
        })
        .collect()
}

/// Who is on call on schedule `id` at `at`.
pub(crate) async fn on_call<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<OnCall>, StoreError> {
    Ok(schedule_parts(db, &[id], at)
        .await?
        .pop()
        .and_then(|(_, rotations, overrides)| on_call_at(&rotations, &overrides, at)))
}

impl Store {
    /// The cursor scope of the schedule list.
    pub const SCHEDULES_SCOPE: &'static str = "oncall_schedules";

    /// Stores a new schedule.
    pub async fn create_schedule(&self, new: NewSchedule, now: DateTime<Utc>) -> Result<ScheduleRecord, StoreError> {
        let tx = self.write().await?;
        check_people(&*tx, &new.rotations).await?;
        let model = oncall_schedule::Entity::insert(oncall_schedule::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(new.name),
            rotations: Set(rotations_json(&new.rotations)?),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_with_returning(&*tx)
        .await
        .map_err(name_taken)?;
        tx.commit().await?;
        schedule_record(model)
    }

    /// One schedule.
    pub async fn schedule(&self, id: Uuid) -> Result<ScheduleRecord, StoreError> {
        oncall_schedule::Entity::find_by_id(id)
            .one(self.conn())
            .await?
            .ok_or_else(|| StoreError::not_found("schedule", id))
            .and_then(schedule_record)
    }

    /// Schedules, oldest first.
    pub async fn schedules(&self, page: &PageRequest) -> Result<Page<ScheduleRecord>, StoreError> {
        let rows =
            oldest_first(oncall_schedule::Entity::find(), oncall_schedule::Column::Id, page).all(self.conn()).await?;
        Page::by_id(rows, page, Self::SCHEDULES_SCOPE, |m| m.id, schedule_record)
    }

    /// Replaces a schedule's name and rotations (its overrides stay).
    pub async fn replace_schedule(
        &self,
        id: Uuid,
        new: NewSchedule,
        now: DateTime<Utc>,
    ) -> Result<ScheduleRecord, StoreError> {
        let tx = self.write().await?;
        let current = oncall_schedule::Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("schedule", id))?;
        check_people(&*tx, &new.rotations).await?;
        let mut m = current.into_active_model();
        m.name = Set(new.name);
        m.rotations = Set(rotations_json(&new.rotations)?);
        m.updated_at = Set(now);
        let model = m.update(&*tx).await.map_err(name_taken)?;
        tx.commit().await?;
        schedule_record(model)
    }

    /// Deletes a schedule no policy names, with its overrides.
    pub async fn delete_schedule(&self, id: Uuid) -> Result<(), StoreError> {
        let tx = self.write().await?;
        if oncall_schedule::Entity::find_by_id(id).one(&*tx).await?.is_none() {
            return Err(StoreError::not_found("schedule", id));
        }
        if let Some(scope) = super::policies::referenced(&*tx, id).await? {
            return Err(StoreError::Conflict {
                code: "schedule_in_use",
                detail: format!("the escalation policy of {scope} pages or tells this schedule; change it first"),
            });
        }
        oncall_override::Entity::delete_many().filter(oncall_override::Column::ScheduleId.eq(id)).exec(&*tx).await?;
        oncall_schedule::Entity::delete_by_id(id).exec(&*tx).await?;
        tx.commit().await
    }

    /// Adds an override to a schedule.
    pub async fn add_override(
        &self,
        schedule: Uuid,
        new: NewOverride,
        now: DateTime<Utc>,
    ) -> Result<OverrideRecord, StoreError> {
        let tx = self.write().await?;
        if oncall_schedule::Entity::find_by_id(schedule).one(&*tx).await?.is_none() {
            return Err(StoreError::not_found("schedule", schedule));
        }
        if active_staff(&*tx, &[new.person_id.as_uuid()]).await?.is_empty() {
            return Err(DomainError::invalid("person_id", "must be an active staff member").into());
        }
        let model = oncall_override::Entity::insert(oncall_override::ActiveModel {
            id: Set(Uuid::now_v7()),
            schedule_id: Set(schedule),
            person_id: Set(new.person_id.as_uuid()),
            starts_at: Set(new.starts_at),
            ends_at: Set(new.ends_at),
            note: Set(new.note),
            created_at: Set(now),
        })
        .exec_with_returning(&*tx)
        .await?;
        tx.commit().await?;
        Ok(override_record(model))
    }

    /// A schedule's overrides that end after `from`, earliest first.
    pub async fn overrides(&self, schedule: Uuid, from: DateTime<Utc>) -> Result<Vec<OverrideRecord>, StoreError> {
        if oncall_schedule::Entity::find_by_id(schedule).one(self.conn()).await?.is_none() {
            return Err(StoreError::not_found("schedule", schedule));
        }
        let rows = oncall_override::Entity::find()
            .filter(oncall_override::Column::ScheduleId.eq(schedule))
            .filter(oncall_override::Column::EndsAt.gt(from))
            .order_by_asc(oncall_override::Column::StartsAt)
            .order_by_asc(oncall_override::Column::Id)
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(override_record).collect())
    }

    /// Removes an override.
    pub async fn delete_override(&self, schedule: Uuid, id: Uuid) -> Result<(), StoreError> {
        let tx = self.write().await?;
        let deleted = oncall_override::Entity::delete_many()
            .filter(oncall_override::Column::Id.eq(id))
            .filter(oncall_override::Column::ScheduleId.eq(schedule))
            .exec(&*tx)
            .await?
            .rows_affected;
        if deleted == 0 {
            return Err(StoreError::not_found("override", id));
        }
        tx.commit().await
    }

    /// Who is on call on `schedule` at `at`.
    pub async fn on_call(&self, schedule: Uuid, at: DateTime<Utc>) -> Result<OnCallNow, StoreError> {
        let Some((s, rotations, overrides)) = schedule_parts(self.conn(), &[schedule], at).await?.pop() else {
            return Err(StoreError::not_found("schedule", schedule));
        };
        self.on_call_answer(s, &rotations, &overrides, at).await
    }

    /// Who is on call on every schedule at `at`, by schedule name.
    pub async fn on_call_everywhere(&self, at: DateTime<Utc>) -> Result<Vec<OnCallNow>, StoreError> {
        let ids: Vec<Uuid> = oncall_schedule::Entity::find()
            .select_only()
            .column(oncall_schedule::Column::Id)
            .into_tuple::<Uuid>()
            .all(self.conn())
            .await?;
        let mut out = Vec::new();
        for (s, rotations, overrides) in schedule_parts(self.conn(), &ids, at).await? {
            out.push(self.on_call_answer(s, &rotations, &overrides, at).await?);
        }
        out.sort_by(|a, b| a.schedule_name.cmp(&b.schedule_name));
        Ok(out)
    }

    async fn on_call_answer(
        &self,
        s: oncall_schedule::Model,
        rotations: &[Rotation],
        overrides: &[Override],
        at: DateTime<Utc>,
    ) -> Result<OnCallNow, StoreError> {
        let on_call = on_call_at(rotations, overrides, at);
        let person = match on_call {
            Some(c) => people::find(self.conn(), c.person_id).await?,
            None => None,
        };
        Ok(OnCallNow { schedule_id: s.id, schedule_name: s.name, at, person, on_call })
    }
}

/// The name of a source, for answers.
pub fn source_name(source: OnCallSource) -> &'static str {
    match source {
        OnCallSource::Rotation(_) => "rotation",
        OnCallSource::Override(_) => "override",
    }
}
