//! Integrations: one Lark app per customer organisation. Secrets are stored sealed
//! (AES-256-GCM under DESK_SECRET_KEY), never in the clear.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Integrations {
    Table,
    Id,
    OrgId,
    Name,
    BaseUrl,
    AppId,
    AppSecretSealed,
    VerificationTokenSealed,
    EncryptKeySealed,
    Mode,
    MonthlyBudget,
    CreatedAt,
    UpdatedAt,
}

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
                    .table(Integrations::Table)
                    .col(string(Integrations::Id).primary_key())
                    .col(uuid_null(Integrations::OrgId))
                    .col(string(Integrations::Name))
                    .col(string(Integrations::BaseUrl))
                    .col(string_uniq(Integrations::AppId))
                    .col(text(Integrations::AppSecretSealed))
                    .col(text_null(Integrations::VerificationTokenSealed))
                    .col(text_null(Integrations::EncryptKeySealed))
                    .col(string(Integrations::Mode))
                    .col(big_integer(Integrations::MonthlyBudget))
                    .col(timestamp_with_time_zone(Integrations::CreatedAt))
                    .col(timestamp_with_time_zone(Integrations::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_integrations_org")
                            .from(Integrations::Table, Integrations::OrgId)
                            .to(Orgs::Table, Orgs::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Integrations::Table).to_owned()).await
    }
}
