#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod call;
mod config;
mod dispatch;
mod envelope;
mod faults;
mod ids;
mod limits;
mod routes;
mod server;
mod side;
mod snapshot;
mod state;

pub use config::{LimitsUpdate, SimConfig, SimUser, SimUserInfo};
pub use faults::{FaultApply, FaultBody, FaultKind, FaultSpec};
pub use server::{SimHandle, serve, spawn};
pub use snapshot::{CallStats, ChatSnapshot, MessageSnapshot, Snapshot};
