//! The `invites` table. Mirrors the migration; behaviour lives in `invites`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invites")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub chat_row_id: Uuid,
    pub org_id: Uuid,
    pub token_hash: String,
    pub max_uses: Option<i32>,
    pub uses: i32,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub created_by: Option<Uuid>,
    pub created_by_name: String,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
