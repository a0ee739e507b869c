//! Ticketing systems and webhooks: what the store keeps for them.
//!
//! - `sources`: the registered ticketing systems and their sealed secrets.
//! - `intake`: the pieces an inbound delivery is applied with: a receipt per delivery id
//!   (a repeated id is acknowledged, not applied again, also after a restart), a lease
//!   and the last applied version per source ticket (so deliveries for one ticket apply
//!   one at a time and never move it backwards), comments by their source id. The ticket
//!   changes themselves go through the same `Store` methods the REST API uses.
//! - `outbox`, `fanout`, `deliveries`: webhooks out. Every timeline entry is also written
//!   to `webhook_events` in the change's own transaction (when any subscription is on);
//!   the fan-out turns each into one delivery per interested subscription, in one
//!   transaction; the sender claims due deliveries under a lease, at most one in flight per
//!   subscriber and ticket, oldest first, so each subscriber sees a ticket's events in order.
//! - `subscriptions`: the subscriber URLs, their event filters and sealed signing secrets.
//! - `reminders`: organisations' reminder rules, applied when outbox events are planned.

mod deliveries;
mod entity;
mod fanout;
mod intake;
pub(crate) mod outbox;
pub(crate) mod reminders;
mod sources;
mod subscriptions;

pub use deliveries::{AttemptOutcome, ClaimedDelivery, DeliveryFilter, SubscriptionCounts};
pub use intake::{DeliveryClaim, HookReceipt, HookTicketState};
pub use sources::SourceKeys;
pub use subscriptions::SigningKeys;
