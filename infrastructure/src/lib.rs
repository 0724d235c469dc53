//! Nishan's infrastructure: SeaORM repositories implementing the domain ports on SQLite and
//! PostgreSQL, password hashing, session tokens, secrets at rest, the event bus, the job
//! workers, and the model providers' HTTP clients.

pub mod crypto;
pub mod db;
mod entity;
pub mod events;
pub mod jobs;
pub mod llm;
pub mod password;
mod repo;
pub mod tokens;

pub use repo::Store;
