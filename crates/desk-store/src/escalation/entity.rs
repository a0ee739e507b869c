//! The escalation tables, one module each, mirroring migration `m20261121_000011`. They
//! live beside the escalation queries rather than in `crate::entity`, so this feature's
//! schema reads in one place; like every entity, they stop at this module's boundary.

/// `escalation_policies`: one policy layer per scope (`plan:<plan>`, `org:<uuid>`).
pub mod escalation_policy {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "escalation_policies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `business_calendars`.
pub mod business_calendar {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "business_calendars")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub time_zone: String,
        #[sea_orm(column_type = "Text")]
        pub hours: String,
        #[sea_orm(column_type = "Text")]
        pub holidays: String,
        #[sea_orm(column_type = "Text")]
        pub workdays: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `oncall_schedules`.
pub mod oncall_schedule {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oncall_schedules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        #[sea_orm(column_type = "Text")]
        pub rotations: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `oncall_overrides`.
pub mod oncall_override {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oncall_overrides")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub schedule_id: Uuid,
        pub person_id: Uuid,
        pub starts_at: DateTimeUtc,
        pub ends_at: DateTimeUtc,
        pub note: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `escalation_timers`: one response target (or the paging) of one ticket.
pub mod escalation_timer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "escalation_timers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub ticket_id: Uuid,
        pub kind: String,
        pub state: String,
        pub business_hours: bool,
        pub budget_secs: i64,
        pub consumed_secs: i64,
        pub running_since: Option<DateTimeUtc>,
        pub started_at: DateTimeUtc,
        pub warn_at: Option<DateTimeUtc>,
        pub due_at: Option<DateTimeUtc>,
        pub warned_at: Option<DateTimeUtc>,
        pub breached_at: Option<DateTimeUtc>,
        pub met_at: Option<DateTimeUtc>,
        pub run_at: Option<DateTimeUtc>,
        pub lease_until: Option<DateTimeUtc>,
        pub attempts: i32,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        pub step: i32,
        pub sent_in_step: i32,
        pub pages: i32,
        pub last_page_at: Option<DateTimeUtc>,
        pub page_reason: Option<String>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
