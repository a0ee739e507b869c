//! Notification preferences on people: language, time zone and optional quiet hours.
//! Quiet hours are two `HH:MM` texts, both set or both null; the store checks the pair.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum People {
    Table,
    Locale,
    TimeZone,
    QuietStart,
    QuietEnd,
}

/// The new columns, each with what `up` adds. SQLite takes one change per `ALTER TABLE`,
/// so each column is its own statement; a NOT NULL column needs a default there to be
/// added to a table that has rows.
fn columns() -> [(People, ColumnDef); 4] {
    [
        (People::Locale, string(People::Locale).default("en").to_owned()),
        (People::TimeZone, string(People::TimeZone).default("UTC").to_owned()),
        (People::QuietStart, string_null(People::QuietStart)),
        (People::QuietEnd, string_null(People::QuietEnd)),
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
            manager.alter_table(Table::alter().table(People::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite has DROP COLUMN since 3.35 (the bundled one is newer).
        for (name, _) in columns().into_iter().rev() {
            manager.alter_table(Table::alter().table(People::Table).drop_column(name).to_owned()).await?;
        }
        Ok(())
    }
}
