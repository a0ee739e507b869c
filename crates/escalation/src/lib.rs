#![doc = include_str!("../README.md")]

mod scheduler;
pub mod simulate;

pub use scheduler::{TimerReport, TimerWorker, WorkerSettings};
pub use simulate::{HORIZON_DEFAULT, HORIZON_MAX, SimulationError, SimulationReport, SimulationRequest, simulate};
