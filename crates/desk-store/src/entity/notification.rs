//! The `notifications` table. Mirrors the migration; behaviour lives in `notify`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Option<Uuid>,
    pub ticket_id: Option<Uuid>,
    pub org_id: Option<Uuid>,
    pub integration_id: Option<String>,
    pub recipient: String,
    pub person_id: Option<Uuid>,
    pub chat_id: Option<String>,
    pub class: i16,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub state: String,
    pub not_before: DateTimeUtc,
    pub delivery_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
