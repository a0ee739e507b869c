//! The `lark_budgets` table. Mirrors the migration; behaviour lives in `notify::budget`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lark_budgets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub integration_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    pub used: i64,
    pub emergency_used: i64,
    pub alerted: i16,
    pub blocked_since: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
