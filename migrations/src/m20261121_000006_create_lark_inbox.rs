//! Lark inbound: the durable inbox of events (every event id and message id is kept for
//! the de-duplication retention, so a redelivery after a restart is still recognised),
//! and the chats the desk knows with their members.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One row per accepted Lark event or card callback.
#[derive(DeriveIden)]
enum LarkEvents {
    Table,
    Id,
    IntegrationId,
    EventId,
    EventType,
    MessageId,
    LarkCreatedAt,
    Via,
    Body,
    State,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    Outcome,
    ReceivedAt,
    ProcessedAt,
}

/// Lark chats the desk serves: main service groups and ticket groups.
#[derive(DeriveIden)]
enum LarkChats {
    Table,
    Id,
    IntegrationId,
    ChatId,
    OrgId,
    TicketId,
    Kind,
    State,
    Name,
    CreatedAt,
    UpdatedAt,
    GoneAt,
}

/// Who is in each chat, as Lark's membership events say.
#[derive(DeriveIden)]
enum LarkChatMembers {
    Table,
    ChatRowId,
    OpenId,
    PersonId,
    Name,
    TenantKey,
    JoinedAt,
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
                    .table(LarkEvents::Table)
                    .col(uuid(LarkEvents::Id).primary_key())
                    .col(string(LarkEvents::IntegrationId))
                    .col(string(LarkEvents::EventId))
                    .col(string(LarkEvents::EventType))
                    .col(string_null(LarkEvents::MessageId))
                    .col(timestamp_with_time_zone_null(LarkEvents::LarkCreatedAt))
                    .col(string(LarkEvents::Via))
                    .col(text(LarkEvents::Body))
                    .col(string(LarkEvents::State))
                    .col(integer(LarkEvents::Attempts))
                    .col(timestamp_with_time_zone(LarkEvents::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(LarkEvents::LeaseUntil))
                    .col(text_null(LarkEvents::LastError))
                    .col(text_null(LarkEvents::Outcome))
                    .col(timestamp_with_time_zone(LarkEvents::ReceivedAt))
                    .col(timestamp_with_time_zone_null(LarkEvents::ProcessedAt))
                    .to_owned(),
            )
            .await?;
        // De-duplication: an event id, or a message id (Lark's advice for messages), seen
        // once per integration. NULL message ids never collide on either database.
        manager
            .create_index(
                Index::create()
                    .name("ux_lark_events_event")
                    .table(LarkEvents::Table)
                    .col(LarkEvents::IntegrationId)
                    .col(LarkEvents::EventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_lark_events_message")
                    .table(LarkEvents::Table)
                    .col(LarkEvents::IntegrationId)
                    .col(LarkEvents::MessageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The worker's scan, and the retention purge.
        manager
            .create_index(
                Index::create()
                    .name("idx_lark_events_due")
                    .table(LarkEvents::Table)
                    .col(LarkEvents::State)
                    .col(LarkEvents::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lark_events_received")
                    .table(LarkEvents::Table)
                    .col(LarkEvents::IntegrationId)
                    .col(LarkEvents::ReceivedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LarkChats::Table)
                    .col(uuid(LarkChats::Id).primary_key())
                    .col(string_null(LarkChats::IntegrationId))
                    .col(string_null(LarkChats::ChatId))
                    .col(uuid(LarkChats::OrgId))
                    .col(uuid_null(LarkChats::TicketId))
                    .col(string(LarkChats::Kind))
                    .col(string(LarkChats::State))
                    .col(string(LarkChats::Name))
                    .col(timestamp_with_time_zone(LarkChats::CreatedAt))
                    .col(timestamp_with_time_zone(LarkChats::UpdatedAt))
                    .col(timestamp_with_time_zone_null(LarkChats::GoneAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_lark_chats_chat")
                    .table(LarkChats::Table)
                    .col(LarkChats::ChatId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // One ticket group per ticket, whatever retries happen.
        manager
            .create_index(
                Index::create()
                    .name("ux_lark_chats_ticket")
                    .table(LarkChats::Table)
                    .col(LarkChats::TicketId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lark_chats_org")
                    .table(LarkChats::Table)
                    .col(LarkChats::OrgId)
                    .col(LarkChats::Kind)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LarkChatMembers::Table)
                    .col(uuid(LarkChatMembers::ChatRowId))
                    .col(string(LarkChatMembers::OpenId))
                    .col(uuid_null(LarkChatMembers::PersonId))
                    .col(string(LarkChatMembers::Name))
                    .col(string_null(LarkChatMembers::TenantKey))
                    .col(timestamp_with_time_zone(LarkChatMembers::JoinedAt))
                    .primary_key(Index::create().col(LarkChatMembers::ChatRowId).col(LarkChatMembers::OpenId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lark_chat_members_chat")
                            .from(LarkChatMembers::Table, LarkChatMembers::ChatRowId)
                            .to(LarkChats::Table, LarkChats::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LarkChatMembers::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(LarkChats::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(LarkEvents::Table).to_owned()).await
    }
}
