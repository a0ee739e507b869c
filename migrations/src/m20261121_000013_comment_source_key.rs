//! A comment's source key: the id of what said it elsewhere (a Lark message), so that
//! handling the same message twice keeps one comment.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Comments {
    Table,
    SourceKey,
}

#[async_trait::async_trait]
#[expect(
    elided_lifetimes_in_paths,
    reason = "sea-orm-migration's async_trait signature elides SchemaManager's lifetime; naming it breaks the match"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Comments::Table).add_column(string_null(Comments::SourceKey)).to_owned())
            .await?;
        // NULLs never collide on either database: only keyed comments are unique.
        manager
            .create_index(
                Index::create()
                    .name("ux_comments_source_key")
                    .table(Comments::Table)
                    .col(Comments::SourceKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ux_comments_source_key").table(Comments::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Comments::Table).drop_column(Comments::SourceKey).to_owned()).await
    }
}
