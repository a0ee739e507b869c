//! Groups made in Lark: the group manager's bookkeeping on `lark_chats` (attempts, the
//! last error, when to try again, the lease of the worker that holds a row, the ticket
//! card's message id, whether the group mixes two Lark tenants), and the durable queue of
//! work on live groups (people to add, the card to refresh), claimed under a lease.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LarkChats {
    Table,
    Id,
    State,
    NextAttemptAt,
    Attempts,
    LastError,
    ErrorCode,
    LeaseUntil,
    CardMessageId,
    External,
}

/// Work on a live group, written in the same transaction as the change that calls for it.
#[derive(DeriveIden)]
enum LarkChatTasks {
    Table,
    Id,
    ChatRowId,
    Kind,
    People,
    State,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
}

/// The new columns of `lark_chats`. SQLite takes one change per `ALTER TABLE`, so each
/// is its own statement; the NOT NULL ones carry a default for the rows that exist.
fn columns() -> [(LarkChats, ColumnDef); 7] {
    [
        (LarkChats::Attempts, integer(LarkChats::Attempts).default(0).to_owned()),
        (LarkChats::LastError, text_null(LarkChats::LastError)),
        (LarkChats::ErrorCode, string_null(LarkChats::ErrorCode)),
        (LarkChats::NextAttemptAt, timestamp_with_time_zone_null(LarkChats::NextAttemptAt)),
        (LarkChats::LeaseUntil, timestamp_with_time_zone_null(LarkChats::LeaseUntil)),
        (LarkChats::CardMessageId, string_null(LarkChats::CardMessageId)),
        (LarkChats::External, boolean(LarkChats::External).default(false).to_owned()),
    ]
}

#[async_trait::async_trait]
#[expect(
    elided_lifetimes_in_paths,
    reason = "sea-orm-migration's async_trait signature elides SchemaManager's lifetime; naming it breaks the match"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (_, column) in columns() {
            manager.alter_table(Table::alter().table(LarkChats::Table).add_column(column).to_owned()).await?;
        }
        // The worker's scan for groups to make.
        manager
            .create_index(
                Index::create()
                    .name("idx_lark_chats_due")
                    .table(LarkChats::Table)
                    .col(LarkChats::State)
                    .col(LarkChats::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LarkChatTasks::Table)
                    .col(uuid(LarkChatTasks::Id).primary_key())
                    .col(uuid(LarkChatTasks::ChatRowId))
                    .col(string(LarkChatTasks::Kind))
                    .col(text(LarkChatTasks::People))
                    .col(string(LarkChatTasks::State))
                    .col(integer(LarkChatTasks::Attempts))
                    .col(timestamp_with_time_zone(LarkChatTasks::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(LarkChatTasks::LeaseUntil))
                    .col(text_null(LarkChatTasks::LastError))
                    .col(timestamp_with_time_zone(LarkChatTasks::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lark_chat_tasks_chat")
                            .from(LarkChatTasks::Table, LarkChatTasks::ChatRowId)
                            .to(LarkChats::Table, LarkChats::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lark_chat_tasks_due")
                    .table(LarkChatTasks::Table)
                    .col(LarkChatTasks::State)
                    .col(LarkChatTasks::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lark_chat_tasks_chat")
                    .table(LarkChatTasks::Table)
                    .col(LarkChatTasks::ChatRowId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LarkChatTasks::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_lark_chats_due").table(LarkChats::Table).to_owned()).await?;
        // SQLite has DROP COLUMN since 3.35 (the bundled one is newer).
        for (name, _) in columns().into_iter().rev() {
            manager.alter_table(Table::alter().table(LarkChats::Table).drop_column(name).to_owned()).await?;
        }
        Ok(())
    }
}
