#![doc = include_str!("../README.md")]

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod hooks;
pub mod integrations;
pub mod lark;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod workers;

pub use config::Settings;
pub use startup::Application;
