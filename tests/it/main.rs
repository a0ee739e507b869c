//! End-to-end tests: the real `desk` server over HTTP on a random port, on SQLite and on
//! PostgreSQL. One test binary, as the house style asks.

mod support;

mod input;
mod ops;
mod openapi;
mod pagination;
mod rules;
mod story;
