//! Invite links to groups, and who joined through them. A link's token is stored only as
//! its SHA-256 (hex); a copy of the database does not let anyone in. A use is counted by
//! one conditional UPDATE (not expired, not revoked, uses below the limit), so two people
//! racing for the last use cannot both win.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One row per link.
#[derive(DeriveIden)]
enum Invites {
    Table,
    Id,
    ChatRowId,
    OrgId,
    TokenHash,
    MaxUses,
    Uses,
    CreatedAt,
    ExpiresAt,
    CreatedBy,
    CreatedByName,
    RevokedAt,
    RevokedReason,
}

/// One row per person who joined through a link.
#[derive(DeriveIden)]
enum InviteRedemptions {
    Table,
    Id,
    InviteId,
    OpenId,
    Name,
    PersonId,
    RedeemedAt,
}

/// The groups of migration 000006.
#[derive(DeriveIden)]
enum LarkChats {
    Table,
    Id,
}

/// The organisations of migration 000001.
#[derive(DeriveIden)]
enum Orgs {
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
                    .table(Invites::Table)
                    .col(uuid(Invites::Id).primary_key())
                    .col(uuid(Invites::ChatRowId))
                    .col(uuid(Invites::OrgId))
                    .col(string(Invites::TokenHash))
                    .col(integer_null(Invites::MaxUses))
                    .col(integer(Invites::Uses).default(0))
                    .col(timestamp_with_time_zone(Invites::CreatedAt))
                    .col(timestamp_with_time_zone(Invites::ExpiresAt))
                    .col(uuid_null(Invites::CreatedBy))
                    .col(string(Invites::CreatedByName))
                    .col(timestamp_with_time_zone_null(Invites::RevokedAt))
                    .col(string_null(Invites::RevokedReason))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invites_chat")
                            .from(Invites::Table, Invites::ChatRowId)
                            .to(LarkChats::Table, LarkChats::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invites_org")
                            .from(Invites::Table, Invites::OrgId)
                            .to(Orgs::Table, Orgs::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // Redeeming looks a link up by the hash of the token it was given.
        manager
            .create_index(
                Index::create()
                    .name("ux_invites_token_hash")
                    .table(Invites::Table)
                    .col(Invites::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A group's live links (listing; revoking them when its ticket closes).
        manager
            .create_index(
                Index::create()
                    .name("idx_invites_chat")
                    .table(Invites::Table)
                    .col(Invites::ChatRowId)
                    .col(Invites::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InviteRedemptions::Table)
                    .col(uuid(InviteRedemptions::Id).primary_key())
                    .col(uuid(InviteRedemptions::InviteId))
                    .col(string(InviteRedemptions::OpenId))
                    .col(string(InviteRedemptions::Name))
                    .col(uuid_null(InviteRedemptions::PersonId))
                    .col(timestamp_with_time_zone(InviteRedemptions::RedeemedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invite_redemptions_invite")
                            .from(InviteRedemptions::Table, InviteRedemptions::InviteId)
                            .to(Invites::Table, Invites::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invite_redemptions_invite")
                    .table(InviteRedemptions::Table)
                    .col(InviteRedemptions::InviteId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(InviteRedemptions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Invites::Table).to_owned()).await
    }
}
