//! Escalation storage: policy layers (per support plan and per organisation), business
//! calendars, on-call schedules and overrides, the durable timers of response targets
//! and emergency paging, the escalation view of a ticket, and what the dry run reads.
//!
//! Which module to use when:
//! - `policies`: the layers and the effective policy of an organisation;
//! - `calendars`, `schedules`: the resources the policies name;
//! - `timers`: the hook that keeps timers in step with ticket changes, and the claim and
//!   fire of due timers (the escalation worker drives these);
//! - `notices`: notifications the escalation writes itself, in its own transactions;
//! - `view`, `simulate`: reads for the API.

mod calendars;
pub(crate) mod entity;
pub(crate) mod notices;
pub(crate) mod policies;
mod schedules;
mod simulate;
pub(crate) mod timers;
mod view;

pub use calendars::CalendarRecord;
pub use policies::{PolicyRecord, PolicyScope};
pub use schedules::{OnCallNow, OverrideRecord, ScheduleRecord, source_name};
pub use simulate::{SimBudget, SimulationData};
pub use timers::{ClaimedTimer, FireSettings, Fired, TimerKind};
pub use view::{PagingView, TargetView, TicketEscalation};

/// Who is on call on schedule `id` at `at`, if anyone.
pub(crate) async fn schedules_on_call<C: sea_orm::ConnectionTrait>(
    db: &C,
    id: uuid::Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Option<desk_core::PersonId>, crate::StoreError> {
    Ok(schedules::on_call(db, id, at).await?.map(|c| c.person_id))
}
