//! The `integrations` table. Mirrors the migration; behaviour lives in the repository modules.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: Option<Uuid>,
    pub name: String,
    pub base_url: String,
    #[sea_orm(unique)]
    pub app_id: String,
    #[sea_orm(column_type = "Text")]
    pub app_secret_sealed: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub verification_token_sealed: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub encrypt_key_sealed: Option<String>,
    pub mode: String,
    pub monthly_budget: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
