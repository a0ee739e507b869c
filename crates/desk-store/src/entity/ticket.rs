//! The `tickets` table. Mirrors the migration; behaviour lives in the repository modules.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub number: i64,
    pub org_id: Uuid,
    pub requester_id: Option<Uuid>,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub severity: String,
    pub status: String,
    pub assignee_id: Option<Uuid>,
    pub escalation_level: i32,
    pub emergency: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub escalated_at: Option<DateTimeUtc>,
    pub emergency_kind: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub emergency_text: Option<String>,
    pub emergency_declared_at: Option<DateTimeUtc>,
    pub emergency_declared_by: Option<Uuid>,
    pub emergency_declared_by_name: Option<String>,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_by_name: Option<String>,
    pub acknowledged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
