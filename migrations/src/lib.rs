//! Larkdesk's schema, as sea-orm migrations that run unchanged on SQLite and PostgreSQL.
//!
//! Rules: never edit a migration once it has landed; add a new one. Every migration has a
//! `down`. Migrations do not import entities (entities change; old migrations must not).

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_core;
mod m20261121_000002_desk_view_indexes;
mod m20261121_000003_create_integrations;
mod m20261121_000004_person_preferences;
mod m20261121_000005_create_notifications;
mod m20261121_000006_create_lark_inbox;
mod m20261121_000007_ticket_escalation;
mod m20261121_000008_invites;
mod m20261121_000009_groups;
mod m20261121_000011_escalation;
mod m20261121_000012_ticketing_hooks;
mod m20261121_000013_comment_source_key;

/// The ordered list of migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_core::Migration),
            Box::new(m20261121_000002_desk_view_indexes::Migration),
            Box::new(m20261121_000003_create_integrations::Migration),
            Box::new(m20261121_000004_person_preferences::Migration),
            Box::new(m20261121_000005_create_notifications::Migration),
            Box::new(m20261121_000006_create_lark_inbox::Migration),
            Box::new(m20261121_000007_ticket_escalation::Migration),
            Box::new(m20261121_000008_invites::Migration),
            Box::new(m20261121_000009_groups::Migration),
            Box::new(m20261121_000011_escalation::Migration),
            Box::new(m20261121_000012_ticketing_hooks::Migration),
            Box::new(m20261121_000013_comment_source_key::Migration),
        ]
    }
}
