//! Ticketing systems: registered sources and their secrets, the receipts that make a
//! delivery id count once, each linked ticket's last applied version, the comments that
//! came from a source; webhook subscriptions, the event outbox they are fed from (written
//! in the change's transaction) and their deliveries; organisations' reminder rules.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orgs {
    Table,
    Id,
}

/// A ticketing system allowed to post to `/api/v1/hooks/ticketing/{name}`.
#[derive(DeriveIden)]
enum HookSources {
    Table,
    Name,
    DisplayName,
    Style,
    DefaultOrgId,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

/// A source's signing secrets (one, or two while rotating), sealed.
#[derive(DeriveIden)]
enum HookSourceSecrets {
    Table,
    Id,
    Source,
    Sealed,
    Hint,
    CreatedAt,
}

/// Every verified delivery id of a source, kept for the retention.
#[derive(DeriveIden)]
enum HookReceipts {
    Table,
    Id,
    Source,
    DeliveryId,
    EventType,
    ExternalId,
    State,
    Outcome,
    TicketId,
    LeaseUntil,
    ReceivedAt,
    FinishedAt,
}

/// A source's ticket: the version last applied, and a lease that serialises deliveries
/// for it across instances.
#[derive(DeriveIden)]
enum HookTickets {
    Table,
    Source,
    ExternalId,
    TicketId,
    Version,
    SourceUpdatedAt,
    LeaseUntil,
    UpdatedAt,
}

/// Comments that came from a source, by their id there.
#[derive(DeriveIden)]
enum HookComments {
    Table,
    Source,
    ExternalId,
    CommentId,
    TicketId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookSubscriptions {
    Table,
    Id,
    Url,
    Description,
    EventTypes,
    OrgId,
    SkipSource,
    SecretSealed,
    SecretHint,
    PreviousSecretSealed,
    PreviousSecretUntil,
    Enabled,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

/// Timeline entries not yet fanned out to subscriptions (the webhook outbox).
#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    TicketId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    SubscriptionId,
    EventId,
    EventType,
    TicketId,
    Payload,
    State,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastStatus,
    LastError,
    LastAttemptAt,
    DeliveredAt,
    WindowStart,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ReminderRules {
    Table,
    Id,
    OrgId,
    Name,
    Trigger,
    Severities,
    Audience,
    PersonId,
    Class,
    Enabled,
    CreatedAt,
    UpdatedAt,
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
                    .table(HookSources::Table)
                    .col(string(HookSources::Name).primary_key())
                    .col(string(HookSources::DisplayName))
                    .col(string(HookSources::Style))
                    .col(uuid_null(HookSources::DefaultOrgId))
                    .col(boolean(HookSources::Enabled))
                    .col(timestamp_with_time_zone(HookSources::CreatedAt))
                    .col(timestamp_with_time_zone(HookSources::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_hook_sources_org")
                            .from(HookSources::Table, HookSources::DefaultOrgId)
                            .to(Orgs::Table, Orgs::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HookSourceSecrets::Table)
                    .col(uuid(HookSourceSecrets::Id).primary_key())
                    .col(string(HookSourceSecrets::Source))
                    .col(text(HookSourceSecrets::Sealed))
                    .col(string(HookSourceSecrets::Hint))
                    .col(timestamp_with_time_zone(HookSourceSecrets::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_hook_source_secrets_source")
                            .from(HookSourceSecrets::Table, HookSourceSecrets::Source)
                            .to(HookSources::Table, HookSources::Name)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_hook_source_secrets_source")
                    .table(HookSourceSecrets::Table)
                    .col(HookSourceSecrets::Source)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(HookReceipts::Table)
                    .col(uuid(HookReceipts::Id))
                    .col(string(HookReceipts::Source))
                    .col(string(HookReceipts::DeliveryId))
                    .col(string(HookReceipts::EventType))
                    .col(string(HookReceipts::ExternalId))
                    .col(string(HookReceipts::State))
                    .col(string_null(HookReceipts::Outcome))
                    .col(uuid_null(HookReceipts::TicketId))
                    .col(timestamp_with_time_zone_null(HookReceipts::LeaseUntil))
                    .col(timestamp_with_time_zone(HookReceipts::ReceivedAt))
                    .col(timestamp_with_time_zone_null(HookReceipts::FinishedAt))
                    .primary_key(Index::create().col(HookReceipts::Source).col(HookReceipts::DeliveryId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_hook_receipts_list")
                    .table(HookReceipts::Table)
                    .col(HookReceipts::Source)
                    .col(HookReceipts::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_hook_receipts_received")
                    .table(HookReceipts::Table)
                    .col(HookReceipts::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HookTickets::Table)
                    .col(string(HookTickets::Source))
                    .col(string(HookTickets::ExternalId))
                    .col(uuid_null(HookTickets::TicketId))
                    .col(big_integer_null(HookTickets::Version))
                    .col(timestamp_with_time_zone_null(HookTickets::SourceUpdatedAt))
                    .col(timestamp_with_time_zone_null(HookTickets::LeaseUntil))
                    .col(timestamp_with_time_zone(HookTickets::UpdatedAt))
                    .primary_key(Index::create().col(HookTickets::Source).col(HookTickets::ExternalId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HookComments::Table)
                    .col(string(HookComments::Source))
                    .col(string(HookComments::ExternalId))
                    .col(uuid(HookComments::CommentId))
                    .col(uuid(HookComments::TicketId))
                    .col(timestamp_with_time_zone(HookComments::CreatedAt))
                    .primary_key(Index::create().col(HookComments::Source).col(HookComments::ExternalId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_hook_comments_comment")
                    .table(HookComments::Table)
                    .col(HookComments::CommentId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookSubscriptions::Table)
                    .col(uuid(WebhookSubscriptions::Id).primary_key())
                    .col(text(WebhookSubscriptions::Url))
                    .col(string(WebhookSubscriptions::Description))
                    .col(text(WebhookSubscriptions::EventTypes))
                    .col(uuid_null(WebhookSubscriptions::OrgId))
                    .col(string_null(WebhookSubscriptions::SkipSource))
                    .col(text(WebhookSubscriptions::SecretSealed))
                    .col(string(WebhookSubscriptions::SecretHint))
                    .col(text_null(WebhookSubscriptions::PreviousSecretSealed))
                    .col(timestamp_with_time_zone_null(WebhookSubscriptions::PreviousSecretUntil))
                    .col(boolean(WebhookSubscriptions::Enabled))
                    .col(text_null(WebhookSubscriptions::DisabledReason))
                    .col(timestamp_with_time_zone(WebhookSubscriptions::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookSubscriptions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_subscriptions_org")
                            .from(WebhookSubscriptions::Table, WebhookSubscriptions::OrgId)
                            .to(Orgs::Table, Orgs::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(uuid(WebhookEvents::Id).primary_key())
                    .col(uuid(WebhookEvents::TicketId))
                    .col(timestamp_with_time_zone(WebhookEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(uuid(WebhookDeliveries::Id).primary_key())
                    .col(uuid(WebhookDeliveries::SubscriptionId))
                    .col(uuid(WebhookDeliveries::EventId))
                    .col(string(WebhookDeliveries::EventType))
                    .col(uuid_null(WebhookDeliveries::TicketId))
                    .col(text(WebhookDeliveries::Payload))
                    .col(string(WebhookDeliveries::State))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LeaseUntil))
                    .col(integer_null(WebhookDeliveries::LastStatus))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LastAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::DeliveredAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::WindowStart))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_subscription")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::SubscriptionId)
                            .to(WebhookSubscriptions::Table, WebhookSubscriptions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One delivery per event per subscriber, whatever fan-out retries happen.
        manager
            .create_index(
                Index::create()
                    .name("ux_webhook_deliveries_event")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::SubscriptionId)
                    .col(WebhookDeliveries::EventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The sender's scan, and the per-ticket order check.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::State)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_order")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::SubscriptionId)
                    .col(WebhookDeliveries::TicketId)
                    .col(WebhookDeliveries::State)
                    .col(WebhookDeliveries::EventId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReminderRules::Table)
                    .col(uuid(ReminderRules::Id).primary_key())
                    .col(uuid(ReminderRules::OrgId))
                    .col(string(ReminderRules::Name))
                    .col(string(ReminderRules::Trigger))
                    .col(string(ReminderRules::Severities))
                    .col(string(ReminderRules::Audience))
                    .col(uuid_null(ReminderRules::PersonId))
                    .col(string(ReminderRules::Class))
                    .col(boolean(ReminderRules::Enabled))
                    .col(timestamp_with_time_zone(ReminderRules::CreatedAt))
                    .col(timestamp_with_time_zone(ReminderRules::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reminder_rules_org")
                            .from(ReminderRules::Table, ReminderRules::OrgId)
                            .to(Orgs::Table, Orgs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reminder_rules_org")
                    .table(ReminderRules::Table)
                    .col(ReminderRules::OrgId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReminderRules::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WebhookEvents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WebhookSubscriptions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(HookComments::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(HookTickets::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(HookReceipts::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(HookSourceSecrets::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(HookSources::Table).to_owned()).await?;
        Ok(())
    }
}
