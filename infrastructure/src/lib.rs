//! Nishan's infrastructure: SeaORM repositories implementing the domain ports on SQLite and
//! PostgreSQL, password hashing, session tokens, secrets at rest, the event bus, the job
//! workers, the model providers' HTTP clients, and the address guard of outbound requests.

pub mod crypto;
pub mod db;
mod entity;
pub mod events;
pub mod jobs;
pub mod llm;
pub mod net;
pub mod password;
pub(crate) mod repo;
pub mod tokens;
pub mod webhooks;

pub use repo::{AttemptRecord, ClaimedDelivery, Store};
