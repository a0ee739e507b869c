//! The `lark_chat_members` table. Mirrors the migration; behaviour lives in `lark`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lark_chat_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub chat_row_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub open_id: String,
    pub person_id: Option<Uuid>,
    pub name: String,
    pub tenant_key: Option<String>,
    pub joined_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
