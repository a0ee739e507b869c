//! Lark inbound: the webhook routes, the long connections, and what events do.
//!
//! Both ways in end in [`Inbound::ingest`]: an event is checked against the integration it
//! was sent to, dropped if its own `create_time` is older than the de-duplication
//! retention, and stored in the durable inbox (unique per event id and per message id)
//! before Lark gets its answer. The inbox worker then does the work. Card callbacks are
//! the exception: Lark shows their answer to the person who clicked, so they are stored
//! claimed and handled at once, inside Lark's 3-second limit.

mod actions;
mod chat;
mod connections;
mod handle;
mod inbound;
mod text;
pub mod webhook;

pub use connections::Connections;
pub use inbound::{BotIdentity, Inbound, InboundSettings, Ingested};
pub use webhook::{cards, events};
