//! Escalation and emergency on tickets: when the level was last raised, and the declared
//! emergency (what broke, the declarer's words, who and when) with its acknowledgement.
//! People are recorded by id and by name at the time, as the timeline does; the ids carry
//! no foreign key (an API token acts without a person, and SQLite cannot add one to an
//! existing table).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    EscalatedAt,
    EmergencyKind,
    EmergencyText,
    EmergencyDeclaredAt,
    EmergencyDeclaredBy,
    EmergencyDeclaredByName,
    AcknowledgedBy,
    AcknowledgedByName,
    AcknowledgedAt,
}

/// The new columns, all nullable. SQLite takes one change per `ALTER TABLE`, so each is
/// its own statement.
fn columns() -> [(Tickets, ColumnDef); 9] {
    [
        (Tickets::EscalatedAt, timestamp_with_time_zone_null(Tickets::EscalatedAt)),
        (Tickets::EmergencyKind, string_null(Tickets::EmergencyKind)),
        (Tickets::EmergencyText, text_null(Tickets::EmergencyText)),
        (Tickets::EmergencyDeclaredAt, timestamp_with_time_zone_null(Tickets::EmergencyDeclaredAt)),
        (Tickets::EmergencyDeclaredBy, uuid_null(Tickets::EmergencyDeclaredBy)),
        (Tickets::EmergencyDeclaredByName, string_null(Tickets::EmergencyDeclaredByName)),
        (Tickets::AcknowledgedBy, uuid_null(Tickets::AcknowledgedBy)),
        (Tickets::AcknowledgedByName, string_null(Tickets::AcknowledgedByName)),
        (Tickets::AcknowledgedAt, timestamp_with_time_zone_null(Tickets::AcknowledgedAt)),
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
            manager.alter_table(Table::alter().table(Tickets::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite has DROP COLUMN since 3.35 (the bundled one is newer).
        for (name, _) in columns().into_iter().rev() {
            manager.alter_table(Table::alter().table(Tickets::Table).drop_column(name).to_owned()).await?;
        }
        Ok(())
    }
}
