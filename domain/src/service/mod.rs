//! Use cases: each function validates its input into domain types, checks who may do it,
//! and calls the ports. Resolvers call these and nothing below them.

pub mod accounts;
pub mod assignments;
pub mod audit;
pub mod chat;
pub mod curation;
pub mod documents;
pub mod embeddings;
pub mod entities;
pub mod entity_types;
pub mod exchange;
pub mod jobs;
pub mod knowledge;
pub mod learning;
pub mod models;
pub mod processing;
pub mod projects;
pub mod search;
pub mod settings;
pub mod sources;
pub mod statistics;
pub mod usage;
pub mod webhooks;
