//! Escalation: policies (per support plan and per organisation, as JSON documents),
//! business calendars, on-call schedules with their overrides, and the durable timers of
//! response targets and emergency paging.
//!
//! A timer row is one target (or the paging) of one ticket; `run_at` is when a worker
//! must next look at it, claimed under a lease (`lease_until`). Whatever a firing does is
//! written in the same transaction that marks it fired, so it happens exactly once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One policy layer: `plan:<plan>` or `org:<uuid>`.
#[derive(DeriveIden)]
enum EscalationPolicies {
    Table,
    Scope,
    Body,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BusinessCalendars {
    Table,
    Id,
    Name,
    TimeZone,
    Hours,
    Holidays,
    Workdays,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OncallSchedules {
    Table,
    Id,
    Name,
    Rotations,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OncallOverrides {
    Table,
    Id,
    ScheduleId,
    PersonId,
    StartsAt,
    EndsAt,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EscalationTimers {
    Table,
    Id,
    TicketId,
    Kind,
    State,
    BusinessHours,
    BudgetSecs,
    ConsumedSecs,
    RunningSince,
    StartedAt,
    WarnAt,
    DueAt,
    WarnedAt,
    BreachedAt,
    MetAt,
    RunAt,
    LeaseUntil,
    Attempts,
    LastError,
    Step,
    SentInStep,
    Pages,
    LastPageAt,
    PageReason,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[async_trait::async_trait]
#[expect(
    elided_lifetimes_in_paths,
    reason = "sea-orm-migration's async_trait signature elides SchemaManager's lifetime; naming it breaks the match"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EscalationPolicies::Table)
                    .col(string(EscalationPolicies::Scope).primary_key())
                    .col(text(EscalationPolicies::Body))
                    .col(timestamp_with_time_zone(EscalationPolicies::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BusinessCalendars::Table)
                    .col(uuid(BusinessCalendars::Id).primary_key())
                    .col(string(BusinessCalendars::Name))
                    .col(string(BusinessCalendars::TimeZone))
                    .col(text(BusinessCalendars::Hours))
                    .col(text(BusinessCalendars::Holidays))
                    .col(text(BusinessCalendars::Workdays))
                    .col(timestamp_with_time_zone(BusinessCalendars::CreatedAt))
                    .col(timestamp_with_time_zone(BusinessCalendars::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_business_calendars_name")
                    .table(BusinessCalendars::Table)
                    .col(BusinessCalendars::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OncallSchedules::Table)
                    .col(uuid(OncallSchedules::Id).primary_key())
                    .col(string(OncallSchedules::Name))
                    .col(text(OncallSchedules::Rotations))
                    .col(timestamp_with_time_zone(OncallSchedules::CreatedAt))
                    .col(timestamp_with_time_zone(OncallSchedules::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_oncall_schedules_name")
                    .table(OncallSchedules::Table)
                    .col(OncallSchedules::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OncallOverrides::Table)
                    .col(uuid(OncallOverrides::Id).primary_key())
                    .col(uuid(OncallOverrides::ScheduleId))
                    .col(uuid(OncallOverrides::PersonId))
                    .col(timestamp_with_time_zone(OncallOverrides::StartsAt))
                    .col(timestamp_with_time_zone(OncallOverrides::EndsAt))
                    .col(string_null(OncallOverrides::Note))
                    .col(timestamp_with_time_zone(OncallOverrides::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oncall_overrides_schedule")
                            .from(OncallOverrides::Table, OncallOverrides::ScheduleId)
                            .to(OncallSchedules::Table, OncallSchedules::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oncall_overrides_person")
                            .from(OncallOverrides::Table, OncallOverrides::PersonId)
                            .to(People::Table, People::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_oncall_overrides_schedule")
                    .table(OncallOverrides::Table)
                    .col(OncallOverrides::ScheduleId)
                    .col(OncallOverrides::EndsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EscalationTimers::Table)
                    .col(uuid(EscalationTimers::Id).primary_key())
                    .col(uuid(EscalationTimers::TicketId))
                    .col(string(EscalationTimers::Kind))
                    .col(string(EscalationTimers::State))
                    .col(boolean(EscalationTimers::BusinessHours))
                    .col(big_integer(EscalationTimers::BudgetSecs))
                    .col(big_integer(EscalationTimers::ConsumedSecs))
                    .col(timestamp_with_time_zone_null(EscalationTimers::RunningSince))
                    .col(timestamp_with_time_zone(EscalationTimers::StartedAt))
                    .col(timestamp_with_time_zone_null(EscalationTimers::WarnAt))
                    .col(timestamp_with_time_zone_null(EscalationTimers::DueAt))
                    .col(timestamp_with_time_zone_null(EscalationTimers::WarnedAt))
                    .col(timestamp_with_time_zone_null(EscalationTimers::BreachedAt))
                    .col(timestamp_with_time_zone_null(EscalationTimers::MetAt))
                    .col(timestamp_with_time_zone_null(EscalationTimers::RunAt))
                    .col(timestamp_with_time_zone_null(EscalationTimers::LeaseUntil))
                    .col(integer(EscalationTimers::Attempts).default(0))
                    .col(text_null(EscalationTimers::LastError))
                    .col(integer(EscalationTimers::Step).default(0))
                    .col(integer(EscalationTimers::SentInStep).default(0))
                    .col(integer(EscalationTimers::Pages).default(0))
                    .col(timestamp_with_time_zone_null(EscalationTimers::LastPageAt))
                    .col(string_null(EscalationTimers::PageReason))
                    .col(timestamp_with_time_zone(EscalationTimers::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_escalation_timers_ticket")
                            .from(EscalationTimers::Table, EscalationTimers::TicketId)
                            .to(Tickets::Table, Tickets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One timer of each kind per ticket.
        manager
            .create_index(
                Index::create()
                    .name("ux_escalation_timers_ticket_kind")
                    .table(EscalationTimers::Table)
                    .col(EscalationTimers::TicketId)
                    .col(EscalationTimers::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The workers' scan for what is due.
        manager
            .create_index(
                Index::create()
                    .name("idx_escalation_timers_run_at")
                    .table(EscalationTimers::Table)
                    .col(EscalationTimers::RunAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(EscalationTimers::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OncallOverrides::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OncallSchedules::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(BusinessCalendars::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(EscalationPolicies::Table).to_owned()).await?;
        Ok(())
    }
}
