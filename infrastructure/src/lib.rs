//! Nishan's infrastructure: SeaORM repositories implementing the domain ports on SQLite and
//! PostgreSQL, password hashing, and session tokens.

pub mod crypto;
pub mod db;
mod entity;
pub mod events;
pub mod jobs;
pub mod password;
mod repo;
pub mod tokens;

pub use repo::Store;
