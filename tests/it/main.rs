//! End-to-end tests: the real `desk` server over HTTP on a random port, on SQLite and on
//! PostgreSQL. One test binary, as the house style asks.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers are not #[test] functions, but a panic is still how they report failure"
)]

mod support;

mod cli;
mod escalation;
mod groups;
mod hooks;
mod inbound;
mod input;
mod integrations;
mod invites;
mod lark_in;
mod members;
mod notify;
mod oncall;
mod openapi;
mod ops;
mod pagination;
mod paging;
mod preferences;
mod response;
mod rules;
mod story;
