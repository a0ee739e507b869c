//! The `people` table. Mirrors the migration; behaviour lives in the repository modules.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub role: Option<String>,
    pub org_id: Option<Uuid>,
    pub name: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub lark_open_id: Option<String>,
    pub lark_union_id: Option<String>,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub locale: String,
    pub time_zone: String,
    pub quiet_start: Option<String>,
    pub quiet_end: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
