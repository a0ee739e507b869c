//! The `deliveries` table. Mirrors the migration; behaviour lives in `notify`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    /// Also the `uuid` idempotency key of the Lark call.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub integration_id: String,
    pub recipient: String,
    pub person_id: Option<Uuid>,
    pub chat_id: Option<String>,
    pub class: i16,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub card: String,
    pub items: i32,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub message_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
