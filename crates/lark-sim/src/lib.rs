#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod call;
mod config;
mod dispatch;
mod envelope;
mod events;
mod faults;
mod ids;
mod limits;
mod mentions;
mod people;
mod push;
mod routes;
mod server;
mod side;
mod snapshot;
mod state;
mod ws;

pub use config::{ClientConfig, LimitsUpdate, SimConfig, SimUser, SimUserInfo};
pub use events::{CardAnswer, Click, EventRecord, Pushed, Say, Subscription};
pub use faults::{FaultApply, FaultBody, FaultKind, FaultSpec};
pub use server::{SimHandle, serve, spawn};
pub use snapshot::{CallStats, ChatSnapshot, MessageSnapshot, Snapshot};
