//! Nishan's infrastructure: SeaORM repositories implementing the domain ports on SQLite and
//! PostgreSQL, password hashing, session tokens, and the model providers' HTTP clients.

pub mod db;
mod entity;
pub mod llm;
pub mod password;
mod repo;
pub mod tokens;

pub use repo::Store;
