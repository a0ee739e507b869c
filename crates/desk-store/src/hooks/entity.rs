//! The ticketing-hook and webhook tables, one module each, mirroring migration
//! `m20261121_000012`. They live beside their queries rather than in `crate::entity`, so
//! this feature's schema reads in one place; like every entity, they stop at the
//! repository boundary.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

/// `hook_sources`.
pub mod hook_source {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hook_sources")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub display_name: String,
        pub style: String,
        pub default_org_id: Option<Uuid>,
        pub enabled: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    no_relations!();
}

/// `hook_source_secrets`.
pub mod hook_source_secret {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hook_source_secrets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub source: String,
        #[sea_orm(column_type = "Text")]
        pub sealed: String,
        pub hint: String,
        pub created_at: DateTimeUtc,
    }

    no_relations!();
}

/// `hook_receipts`.
pub mod hook_receipt {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hook_receipts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub source: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub delivery_id: String,
        /// Time-ordered, for listing.
        pub id: Uuid,
        pub event_type: String,
        pub external_id: String,
        pub state: String,
        pub outcome: Option<String>,
        pub ticket_id: Option<Uuid>,
        pub lease_until: Option<DateTimeUtc>,
        pub received_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
    }

    no_relations!();
}

/// `hook_tickets`.
pub mod hook_ticket {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hook_tickets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub source: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub external_id: String,
        pub ticket_id: Option<Uuid>,
        pub version: Option<i64>,
        pub source_updated_at: Option<DateTimeUtc>,
        pub lease_until: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    no_relations!();
}

/// `hook_comments`.
pub mod hook_comment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "hook_comments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub source: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub external_id: String,
        pub comment_id: Uuid,
        pub ticket_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    no_relations!();
}

/// `webhook_subscriptions`.
pub mod webhook_subscription {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_subscriptions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(column_type = "Text")]
        pub url: String,
        pub description: String,
        #[sea_orm(column_type = "Text")]
        pub event_types: String,
        pub org_id: Option<Uuid>,
        pub skip_source: Option<String>,
        #[sea_orm(column_type = "Text")]
        pub secret_sealed: String,
        pub secret_hint: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub previous_secret_sealed: Option<String>,
        pub previous_secret_until: Option<DateTimeUtc>,
        pub enabled: bool,
        #[sea_orm(column_type = "Text", nullable)]
        pub disabled_reason: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    no_relations!();
}

/// `webhook_events`: the outbox of timeline entries not yet fanned out.
pub mod webhook_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_events")]
    pub struct Model {
        /// The timeline entry.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub ticket_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    no_relations!();
}

/// `webhook_deliveries`.
pub mod webhook_delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub subscription_id: Uuid,
        pub event_id: Uuid,
        pub event_type: String,
        pub ticket_id: Option<Uuid>,
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub state: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub lease_until: Option<DateTimeUtc>,
        pub last_status: Option<i32>,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        pub last_attempt_at: Option<DateTimeUtc>,
        pub delivered_at: Option<DateTimeUtc>,
        /// Where its day of retries starts: when it was made, or when an admin retried it.
        pub window_start: DateTimeUtc,
        pub created_at: DateTimeUtc,
    }

    no_relations!();
}

/// `reminder_rules`.
pub mod reminder_rule {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reminder_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub org_id: Uuid,
        pub name: String,
        pub trigger: String,
        pub severities: String,
        pub audience: String,
        pub person_id: Option<Uuid>,
        pub class: String,
        pub enabled: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    no_relations!();
}
