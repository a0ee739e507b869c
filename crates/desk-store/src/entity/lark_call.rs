//! The `lark_calls` table (the ledger). Mirrors the migration; behaviour lives in `notify::budget`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lark_calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub integration_id: String,
    pub at: DateTimeUtc,
    pub api: String,
    pub class: Option<String>,
    pub billed: bool,
    pub ok: bool,
    pub code: Option<i64>,
    pub status: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
