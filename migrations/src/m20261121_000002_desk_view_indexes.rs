//! Indexes for the Service Desk view: counts by status and the most urgent active tickets
//! of one organisation (the index holds the whole sort key, so no row is read to sort),
//! and the staff assigned to its tickets.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    OrgId,
    Status,
    Severity,
    Id,
    AssigneeId,
}

#[async_trait::async_trait]
#[expect(
    elided_lifetimes_in_paths,
    reason = "sea-orm-migration's async_trait signature elides SchemaManager's lifetime; naming it breaks the match"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_tickets_org_status_severity")
                    .table(Tickets::Table)
                    .col(Tickets::OrgId)
                    .col(Tickets::Status)
                    .col(Tickets::Severity)
                    .col(Tickets::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_tickets_org_assignee")
                    .table(Tickets::Table)
                    .col(Tickets::OrgId)
                    .col(Tickets::AssigneeId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_tickets_org_assignee", "ix_tickets_org_status_severity"] {
            manager.drop_index(Index::drop().name(name).table(Tickets::Table).to_owned()).await?;
        }
        Ok(())
    }
}
