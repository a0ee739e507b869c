//! Organisations, people, tickets, comments, the timeline, API tokens and counters.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Counters {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Orgs {
    Table,
    Id,
    Name,
    LarkTenantKey,
    SupportPlan,
    MainChatId,
    TamId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
    Kind,
    Role,
    OrgId,
    Name,
    Email,
    Mobile,
    LarkOpenId,
    LarkUnionId,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    Number,
    OrgId,
    RequesterId,
    Title,
    Description,
    Severity,
    Status,
    AssigneeId,
    EscalationLevel,
    Emergency,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum TicketExternalRefs {
    Table,
    TicketId,
    System,
    ExternalId,
    Url,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    TicketId,
    AuthorId,
    AuthorName,
    Body,
    Visibility,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TimelineEntries {
    Table,
    Id,
    TicketId,
    At,
    ActorKind,
    ActorId,
    ActorName,
    Kind,
    Data,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Role,
    PersonId,
    TokenHash,
    CreatedAt,
    RevokedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Restrict).to_owned()
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for col in cols {
        idx.col(Alias::new(*col));
    }
    idx.to_owned()
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
                    .table(Counters::Table)
                    .col(string(Counters::Name).primary_key())
                    .col(big_integer(Counters::Value))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Counters::Table)
                    .columns([Counters::Name, Counters::Value])
                    .values_panic(["ticket_number".into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(People::Table)
                    .col(pk_uuid(People::Id))
                    .col(string(People::Kind))
                    .col(string_null(People::Role))
                    .col(uuid_null(People::OrgId))
                    .col(string(People::Name))
                    .col(string_null(People::Email))
                    .col(string_null(People::Mobile))
                    .col(string_null(People::LarkOpenId))
                    .col(string_null(People::LarkUnionId))
                    .col(boolean(People::Active))
                    .col(timestamp_with_time_zone(People::CreatedAt))
                    .col(timestamp_with_time_zone(People::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Orgs::Table)
                    .col(pk_uuid(Orgs::Id))
                    .col(string(Orgs::Name))
                    .col(string_null(Orgs::LarkTenantKey))
                    .col(string(Orgs::SupportPlan))
                    .col(string_null(Orgs::MainChatId))
                    .col(uuid_null(Orgs::TamId))
                    .col(timestamp_with_time_zone(Orgs::CreatedAt))
                    .col(timestamp_with_time_zone(Orgs::UpdatedAt))
                    .foreign_key(&mut fk("fk_orgs_tam", (Orgs::Table, Orgs::TamId), (People::Table, People::Id)))
                    .to_owned(),
            )
            .await?;
        // People reference orgs and orgs reference people (their TAM); SQLite cannot add a
        // foreign key to an existing table, so people.org_id is checked by the store instead.
        manager
            .create_index(index("ux_orgs_lark_tenant_key", Orgs::Table, &["lark_tenant_key"]).unique().to_owned())
            .await?;
        manager
            .create_index(index("ux_people_lark_open_id", People::Table, &["lark_open_id"]).unique().to_owned())
            .await?;
        manager.create_index(index("ix_people_org", People::Table, &["org_id", "id"])).await?;
        manager.create_index(index("ix_people_email", People::Table, &["email"])).await?;
        manager.create_index(index("ix_people_mobile", People::Table, &["mobile"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(Tickets::Table)
                    .col(pk_uuid(Tickets::Id))
                    .col(big_integer_uniq(Tickets::Number))
                    .col(uuid(Tickets::OrgId))
                    .col(uuid_null(Tickets::RequesterId))
                    .col(string(Tickets::Title))
                    .col(text(Tickets::Description))
                    .col(string(Tickets::Severity))
                    .col(string(Tickets::Status))
                    .col(uuid_null(Tickets::AssigneeId))
                    .col(integer(Tickets::EscalationLevel))
                    .col(boolean(Tickets::Emergency))
                    .col(timestamp_with_time_zone(Tickets::CreatedAt))
                    .col(timestamp_with_time_zone(Tickets::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Tickets::ResolvedAt))
                    .col(timestamp_with_time_zone_null(Tickets::ClosedAt))
                    .foreign_key(&mut fk("fk_tickets_org", (Tickets::Table, Tickets::OrgId), (Orgs::Table, Orgs::Id)))
                    .foreign_key(&mut fk(
                        "fk_tickets_requester",
                        (Tickets::Table, Tickets::RequesterId),
                        (People::Table, People::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_tickets_assignee",
                        (Tickets::Table, Tickets::AssigneeId),
                        (People::Table, People::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Keyset pagination walks (filter column, id); each common filter gets an index.
        manager.create_index(index("ix_tickets_org", Tickets::Table, &["org_id", "id"])).await?;
        manager.create_index(index("ix_tickets_status", Tickets::Table, &["status", "id"])).await?;
        manager.create_index(index("ix_tickets_assignee", Tickets::Table, &["assignee_id", "id"])).await?;
        manager.create_index(index("ix_tickets_severity", Tickets::Table, &["severity", "id"])).await?;
        manager.create_index(index("ix_tickets_updated", Tickets::Table, &["updated_at", "id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(TicketExternalRefs::Table)
                    .col(uuid(TicketExternalRefs::TicketId))
                    .col(string(TicketExternalRefs::System))
                    .col(string(TicketExternalRefs::ExternalId))
                    .col(string_null(TicketExternalRefs::Url))
                    .primary_key(Index::create().col(TicketExternalRefs::TicketId).col(TicketExternalRefs::System))
                    .foreign_key(&mut fk(
                        "fk_external_refs_ticket",
                        (TicketExternalRefs::Table, TicketExternalRefs::TicketId),
                        (Tickets::Table, Tickets::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_external_refs_system_id", TicketExternalRefs::Table, &["system", "external_id"])
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .col(pk_uuid(Comments::Id))
                    .col(uuid(Comments::TicketId))
                    .col(uuid_null(Comments::AuthorId))
                    .col(string(Comments::AuthorName))
                    .col(text(Comments::Body))
                    .col(string(Comments::Visibility))
                    .col(timestamp_with_time_zone(Comments::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_comments_ticket",
                        (Comments::Table, Comments::TicketId),
                        (Tickets::Table, Tickets::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_comments_ticket", Comments::Table, &["ticket_id", "id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(TimelineEntries::Table)
                    .col(pk_uuid(TimelineEntries::Id))
                    .col(uuid(TimelineEntries::TicketId))
                    .col(timestamp_with_time_zone(TimelineEntries::At))
                    .col(string(TimelineEntries::ActorKind))
                    .col(uuid_null(TimelineEntries::ActorId))
                    .col(string(TimelineEntries::ActorName))
                    .col(string(TimelineEntries::Kind))
                    .col(text(TimelineEntries::Data))
                    .foreign_key(&mut fk(
                        "fk_timeline_ticket",
                        (TimelineEntries::Table, TimelineEntries::TicketId),
                        (Tickets::Table, Tickets::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_timeline_ticket", TimelineEntries::Table, &["ticket_id", "id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(pk_uuid(ApiTokens::Id))
                    .col(string(ApiTokens::Name))
                    .col(string(ApiTokens::Role))
                    .col(uuid_null(ApiTokens::PersonId))
                    .col(string_uniq(ApiTokens::TokenHash))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .foreign_key(&mut fk(
                        "fk_tokens_person",
                        (ApiTokens::Table, ApiTokens::PersonId),
                        (People::Table, People::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ApiTokens::Table.into_iden(),
            TimelineEntries::Table.into_iden(),
            Comments::Table.into_iden(),
            TicketExternalRefs::Table.into_iden(),
            Tickets::Table.into_iden(),
            Orgs::Table.into_iden(),
            People::Table.into_iden(),
            Counters::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
