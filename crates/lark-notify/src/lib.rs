#![doc = include_str!("../README.md")]

mod client;
mod error;
mod token;
pub mod wire;

pub use client::{Brand, CallObserver, CallRecord, ClientConfig, LarkClient};
pub use error::LarkError;
