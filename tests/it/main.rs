//! The integration tests: one binary (linking the server once), one module per capability.
//! Each test starts a real server on 127.0.0.1:0 over a fresh database (`common`).

#[macro_use]
mod common;

mod accounts;
mod audit;
mod documents;
mod entities;
mod exchange;
mod http_protocol;
mod job_fences;
mod jobs;
mod learning;
mod llm_clients;
mod llm_jobs;
mod operations;
mod projects;
mod queries;
mod rate_limits;
mod server;
mod statistics;
mod usage;
mod websocket;
