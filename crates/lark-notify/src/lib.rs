#![doc = include_str!("../README.md")]

pub mod cards;
mod client;
mod error;
mod token;
pub mod wire;

pub use client::{Brand, CallObserver, CallRecord, ClientConfig, LarkClient};
pub use error::LarkError;
