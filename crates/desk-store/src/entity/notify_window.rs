//! The `notify_windows` table. Mirrors the migration; behaviour lives in `notify`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notify_windows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub recipient: String,
    pub last_sent_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
