//! Business calendars, kept as their parts: the zone, the hours by weekday, holidays and
//! make-up working days (JSON lists of `HH:MM` pairs and `YYYY-MM-DD` dates).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use desk_core::calendar::{BusinessCalendar, CalendarInput, NewCalendar, WEEKDAYS};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};
use uuid::Uuid;

use super::entity::business_calendar;
use crate::pagination::{Page, PageRequest, oldest_first};
use crate::{Store, StoreError};

/// A stored calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRecord {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The calendar.
    pub calendar: BusinessCalendar,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

type Hours = BTreeMap<String, Vec<(String, String)>>;

fn hours_of(c: &BusinessCalendar) -> Hours {
    WEEKDAYS
        .iter()
        .zip(&c.week)
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(day, spans)| ((*day).to_owned(), spans.iter().map(|s| (s.start_str(), s.end_str())).collect()))
        .collect()
}

fn dates(d: &std::collections::BTreeSet<chrono::NaiveDate>) -> Vec<String> {
    d.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect()
}

fn json(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::corrupt("business_calendars", e))
}

/// Reads a stored calendar back through the same checks a client's goes through.
pub(crate) fn calendar_of(m: &business_calendar::Model) -> Result<BusinessCalendar, StoreError> {
    let corrupt = |e: String| StoreError::corrupt("business_calendars", format!("{}: {e}", m.id));
    let hours: Hours = serde_json::from_str(&m.hours).map_err(|e| corrupt(e.to_string()))?;
    let holidays: Vec<String> = serde_json::from_str(&m.holidays).map_err(|e| corrupt(e.to_string()))?;
    let workdays: Vec<String> = serde_json::from_str(&m.workdays).map_err(|e| corrupt(e.to_string()))?;
    let input = CalendarInput { name: &m.name, time_zone: &m.time_zone, hours, holidays, workdays };
    NewCalendar::parse(&input).map(|c| c.calendar).map_err(|e| corrupt(e.to_string()))
}

fn record(m: business_calendar::Model) -> Result<CalendarRecord, StoreError> {
    Ok(CalendarRecord {
        id: m.id,
        calendar: calendar_of(&m)?,
        name: m.name,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn name_taken(e: sea_orm::DbErr) -> StoreError {
    StoreError::on_unique(e, "calendar_name_taken", "another calendar already has this name")
}

impl Store {
    /// The cursor scope of the calendar list.
    pub const CALENDARS_SCOPE: &'static str = "calendars";

    /// Stores a new calendar.
    pub async fn create_calendar(&self, new: NewCalendar, now: DateTime<Utc>) -> Result<CalendarRecord, StoreError> {
        let tx = self.write().await?;
        let c = &new.calendar;
        let model = business_calendar::Entity::insert(business_calendar::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(new.name.clone()),
            time_zone: Set(c.time_zone.name().to_owned()),
            hours: Set(json(&hours_of(c))?),
            holidays: Set(json(&dates(&c.holidays))?),
            workdays: Set(json(&dates(&c.workdays))?),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_with_returning(&*tx)
        .await
        .map_err(name_taken)?;
        tx.commit().await?;
        record(model)
    }

    /// One calendar.
    pub async fn calendar(&self, id: Uuid) -> Result<CalendarRecord, StoreError> {
        business_calendar::Entity::find_by_id(id)
            .one(self.conn())
            .await?
            .ok_or_else(|| StoreError::not_found("calendar", id))
            .and_then(record)
    }

    /// Calendars, oldest first.
    pub async fn calendars(&self, page: &PageRequest) -> Result<Page<CalendarRecord>, StoreError> {
        let rows = oldest_first(business_calendar::Entity::find(), business_calendar::Column::Id, page)
            .all(self.conn())
            .await?;
        Page::by_id(rows, page, Self::CALENDARS_SCOPE, |m| m.id, record)
    }

    /// Replaces a calendar's name and contents. Running response targets pick the new
    /// hours up when they next fire.
    pub async fn replace_calendar(
        &self,
        id: Uuid,
        new: NewCalendar,
        now: DateTime<Utc>,
    ) -> Result<CalendarRecord, StoreError> {
        let tx = self.write().await?;
        let current = business_calendar::Entity::find_by_id(id)
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("calendar", id))?;
        let c = &new.calendar;
        let mut m = current.into_active_model();
        m.name = Set(new.name.clone());
        m.time_zone = Set(c.time_zone.name().to_owned());
        m.hours = Set(json(&hours_of(c))?);
        m.holidays = Set(json(&dates(&c.holidays))?);
        m.workdays = Set(json(&dates(&c.workdays))?);
        m.updated_at = Set(now);
        let model = m.update(&*tx).await.map_err(name_taken)?;
        tx.commit().await?;
        record(model)
    }

    /// Deletes a calendar no policy uses.
    pub async fn delete_calendar(&self, id: Uuid) -> Result<(), StoreError> {
        let tx = self.write().await?;
        if business_calendar::Entity::find_by_id(id).one(&*tx).await?.is_none() {
            return Err(StoreError::not_found("calendar", id));
        }
        if let Some(scope) = super::policies::referenced(&*tx, id).await? {
            return Err(StoreError::Conflict {
                code: "calendar_in_use",
                detail: format!("the escalation policy of {scope} uses this calendar; point it elsewhere first"),
            });
        }
        business_calendar::Entity::delete_by_id(id).exec(&*tx).await?;
        tx.commit().await
    }
}
