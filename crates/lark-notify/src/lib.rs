#![doc = include_str!("../README.md")]

pub mod cards;
mod client;
#[cfg(feature = "dispatcher")]
pub mod dispatch;
mod error;
pub mod event_bodies;
pub mod events;
pub mod longconn;
mod token;
pub mod wire;

pub use client::{Brand, CallObserver, CallRecord, ClientConfig, LarkClient, with_purpose};
pub use client::{
    LOGIN_CODE_REJECTED, LOGIN_NO_ACCESS, LOGIN_PKCE_FAILED, LOGIN_REDIRECT_MISMATCH, LoginCode, LoginUser,
    UserAccessToken, authorize_url,
};
pub use error::LarkError;
