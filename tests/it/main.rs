//! The integration tests: one binary (linking the server once), one module per capability.
//! Each test starts a real server on 127.0.0.1:0 over a fresh database (`common`).

#[macro_use]
mod common;

mod accounts;
mod agreement;
mod anonymous;
mod audit;
mod chat;
mod commands;
mod curation;
mod documents;
mod embeddings;
mod entities;
mod events;
mod exchange;
mod exchange_readers;
mod http_protocol;
mod inputs;
mod job_fences;
mod jobs;
mod knowledge;
mod layers;
mod learning;
mod llm_clients;
mod llm_jobs;
mod operations;
mod oracles;
mod projects;
mod proxies;
mod queries;
mod rate_limits;
mod readme;
mod round;
mod rounds;
mod scripts;
mod search;
mod server;
mod settings;
mod sources;
mod statistics;
mod throttles;
mod uploads;
mod usage;
mod usernames;
mod webhooks;
mod websocket;
