//! The `comments` table. Mirrors the migration; behaviour lives in the repository modules.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub author_id: Option<Uuid>,
    pub author_name: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub visibility: String,
    pub created_at: DateTimeUtc,
    /// What said it elsewhere (`lark:<event id>`), unique when set.
    pub source_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
