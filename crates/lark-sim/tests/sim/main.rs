//! Black-box tests of lark-sim over real HTTP: each test spawns its own simulator on port 0.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers are not #[test] functions, but a panic is still how they report failure"
)]

mod auth;
mod binary;
mod chats;
mod contacts;
mod faults;
mod limits;
mod login;
mod long_connection;
mod messages;
mod people;
mod receiver;
mod support;
mod webhook;
mod wsclient;
