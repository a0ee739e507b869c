//! Notifications: the outbox of ticket events, the per-recipient notifications planned
//! from them, the deliveries (one Lark call each), the per-recipient windows, and the
//! monthly Lark budget with its call ledger. All of it survives restarts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Events written in the same transaction as the change; planned into notifications.
#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    TicketId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    EventId,
    TicketId,
    OrgId,
    IntegrationId,
    Recipient,
    PersonId,
    ChatId,
    Class,
    Body,
    State,
    NotBefore,
    DeliveryId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    IntegrationId,
    Recipient,
    PersonId,
    ChatId,
    Class,
    Kind,
    Card,
    Items,
    State,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    MessageId,
    CreatedAt,
    SentAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum NotifyWindows {
    Table,
    Recipient,
    LastSentAt,
}

#[derive(DeriveIden)]
enum LarkBudgets {
    Table,
    IntegrationId,
    Month,
    Used,
    EmergencyUsed,
    Alerted,
    BlockedSince,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LarkCalls {
    Table,
    Id,
    IntegrationId,
    At,
    Api,
    Class,
    Billed,
    Ok,
    Code,
    Status,
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
                    .table(OutboxEvents::Table)
                    .col(uuid(OutboxEvents::Id).primary_key())
                    .col(uuid(OutboxEvents::TicketId))
                    .col(timestamp_with_time_zone(OutboxEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(uuid(Notifications::Id).primary_key())
                    .col(uuid_null(Notifications::EventId))
                    .col(uuid_null(Notifications::TicketId))
                    .col(uuid_null(Notifications::OrgId))
                    .col(string_null(Notifications::IntegrationId))
                    .col(string(Notifications::Recipient))
                    .col(uuid_null(Notifications::PersonId))
                    .col(string_null(Notifications::ChatId))
                    .col(small_integer(Notifications::Class))
                    .col(text(Notifications::Body))
                    .col(string(Notifications::State))
                    .col(timestamp_with_time_zone(Notifications::NotBefore))
                    .col(uuid_null(Notifications::DeliveryId))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // The composer's scan: waiting notifications that are due.
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_due")
                    .table(Notifications::Table)
                    .col(Notifications::State)
                    .col(Notifications::NotBefore)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_recipient")
                    .table(Notifications::Table)
                    .col(Notifications::Recipient)
                    .col(Notifications::State)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_delivery")
                    .table(Notifications::Table)
                    .col(Notifications::DeliveryId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(uuid(Deliveries::Id).primary_key())
                    .col(string(Deliveries::IntegrationId))
                    .col(string(Deliveries::Recipient))
                    .col(uuid_null(Deliveries::PersonId))
                    .col(string_null(Deliveries::ChatId))
                    .col(small_integer(Deliveries::Class))
                    .col(string(Deliveries::Kind))
                    .col(text(Deliveries::Card))
                    .col(integer(Deliveries::Items))
                    .col(string(Deliveries::State))
                    .col(integer(Deliveries::Attempts))
                    .col(timestamp_with_time_zone(Deliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Deliveries::LeaseUntil))
                    .col(text_null(Deliveries::LastError))
                    .col(string_null(Deliveries::MessageId))
                    .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(Deliveries::SentAt))
                    .col(timestamp_with_time_zone(Deliveries::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The sender's scan: ready deliveries whose attempt is due, urgent first.
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_due")
                    .table(Deliveries::Table)
                    .col(Deliveries::State)
                    .col(Deliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_integration")
                    .table(Deliveries::Table)
                    .col(Deliveries::IntegrationId)
                    .col(Deliveries::State)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(NotifyWindows::Table)
                    .col(string(NotifyWindows::Recipient).primary_key())
                    .col(timestamp_with_time_zone(NotifyWindows::LastSentAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LarkBudgets::Table)
                    .col(string(LarkBudgets::IntegrationId))
                    .col(string(LarkBudgets::Month))
                    .col(big_integer(LarkBudgets::Used))
                    .col(big_integer(LarkBudgets::EmergencyUsed))
                    .col(small_integer(LarkBudgets::Alerted))
                    .col(timestamp_with_time_zone_null(LarkBudgets::BlockedSince))
                    .col(timestamp_with_time_zone(LarkBudgets::UpdatedAt))
                    .primary_key(Index::create().col(LarkBudgets::IntegrationId).col(LarkBudgets::Month))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LarkCalls::Table)
                    .col(uuid(LarkCalls::Id).primary_key())
                    .col(string(LarkCalls::IntegrationId))
                    .col(timestamp_with_time_zone(LarkCalls::At))
                    .col(string(LarkCalls::Api))
                    .col(string_null(LarkCalls::Class))
                    .col(boolean(LarkCalls::Billed))
                    .col(boolean(LarkCalls::Ok))
                    .col(big_integer_null(LarkCalls::Code))
                    .col(integer_null(LarkCalls::Status))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lark_calls_integration_at")
                    .table(LarkCalls::Table)
                    .col(LarkCalls::IntegrationId)
                    .col(LarkCalls::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LarkCalls::Table.into_iden(),
            LarkBudgets::Table.into_iden(),
            NotifyWindows::Table.into_iden(),
            Deliveries::Table.into_iden(),
            Notifications::Table.into_iden(),
            OutboxEvents::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
